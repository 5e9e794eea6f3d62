"""Score shards of candidates on a Dask cluster.

The client loads and validates the tables once, prepares them (event streams and the month's
peer tables, see :func:`creatorrank.features.engine.prepare`) and broadcasts that prepared
market, with the model bundle, to every worker: one copy per worker, not one per task. Each
shard of candidates is a task running the same :func:`creatorrank.serving.shards.score_shard`
as the local engine, so the gathered results are identical to local scoring. Workers never
read the data folder or the model registry: the alias is resolved once, on the client.

Features (``creatorrank features --engine dask``) and the training matrix run sharded by
creator instead (:mod:`creatorrank.features.sharded`): each worker prepares only its shards'
creators, and the month's peer tables are a reduce over the shards.
Dask is imported here only, when this engine is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import Any, Iterator

import pandas as pd

from ..core.errors import CreatorRankError
from .shards import score_shard

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_client(scheduler: Any = None, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``; closes only what it opened.

    Parameters
    ----------
    scheduler : str, Client, cluster or None
        ``tcp://host:8786`` connects to a running scheduler; a ``Client`` is used as it is;
        a cluster object (``LocalCluster``, ...) gets a client; None starts an in-process
        ``LocalCluster`` (threads, no dashboard) for the duration of the call.
    n_workers : int, optional
        Workers of the LocalCluster started when ``scheduler`` is None (default: the CPU
        count, at most 4).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CreatorRankError(
            "the dask engine needs dask and distributed: pip install 'creatorrank[dask]'"
        ) from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is None:
        workers = n_workers or max(1, min(4, os.cpu_count() or 1))
        # processes=False: the prepared market is shared in memory, not pickled to child processes.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    target = scheduler if not isinstance(scheduler, str) else scheduler.strip()
    try:
        client = Client(target, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise CreatorRankError(f"cannot reach Dask scheduler {scheduler} ({exc.__class__.__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        yield client
    finally:
        client.close()


def score_shards_dask(
    context: Any, bundle, shards: list[pd.DataFrame], scheduler: Any = None
) -> list[pd.DataFrame]:
    """Run :func:`~creatorrank.serving.shards.score_shard` on every shard on a Dask cluster.

    Parameters
    ----------
    context : PreparedMarket
        The prepared market (:func:`creatorrank.serving.shards.prepare_context`: event streams
        and peer tables of the validated tables); scattered once with ``broadcast=True``.
    bundle : RankerBundle
        The loaded model (its version already resolved); scattered once.
    shards : list of DataFrame
        Decision frames (see :func:`creatorrank.serving.shards.make_shards`).
    scheduler : str, Client, cluster or None
        See :func:`dask_client`.

    Returns
    -------
    list of DataFrame
        One result per shard, in shard order.
    """
    with dask_client(scheduler) as client:
        n_workers = len(client.scheduler_info().get("workers", {}))
        if n_workers == 0:
            client.wait_for_workers(1, timeout=60)
        # hash=False: tokenising a large prepared market to name it would cost more than sending it.
        context_f, bundle_f = client.scatter([context, bundle], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]  # unique task keys: runs may share a cluster
        futures = client.map(
            _run_shard,
            shards,
            context=context_f,
            bundle=bundle_f,
            key=[f"creatorrank-score-{run}-{i}" for i in range(len(shards))],
            pure=False,
        )
        try:
            results = client.gather(futures)
        finally:
            for f in futures:
                f.release()
            context_f.release()
            bundle_f.release()
    logger.info("dask: %d shards scored", len(shards))
    return list(results)


def _shards_for(client, n_shards: int | None) -> int:
    """Shards of creators: ``n_shards``, else one per worker (each keeps its shard's market)."""
    if n_shards is not None:
        return int(n_shards)
    workers = len(client.scheduler_info().get("workers", {}))
    if workers == 0:
        client.wait_for_workers(1, timeout=60)
        workers = len(client.scheduler_info().get("workers", {}))
    return max(1, workers)


def snapshot_dask(tables: dict, as_of, category: str | None = None, country: str | None = None,
                  scheduler: Any = None, n_shards: int | None = None) -> pd.DataFrame:
    """:func:`creatorrank.features.engine.snapshot` on a Dask cluster, sharded by creator.

    Parameters
    ----------
    tables : dict of DataFrame
        The clean contract tables (on the client; each worker receives its shards' rows).
    as_of, category, country
        As for :func:`~creatorrank.features.engine.snapshot`.
    scheduler : str, Client, cluster or None
        See :func:`dask_client`.
    n_shards : int, optional
        Shards of creators (default: one per worker).

    Returns
    -------
    DataFrame
        Equal to the local snapshot (same rows, order and values).
    """
    from ..features.sharded import sharded_snapshot

    with dask_client(scheduler) as client:
        n = _shards_for(client, n_shards)
        frame = sharded_snapshot(tables, as_of, category=category, country=country, client=client, n_shards=n)
    logger.info("dask: snapshot of %d creators from %d shards", len(frame), n)
    return frame


def training_matrix_dask(tables: dict, scheduler: Any = None, n_shards: int | None = None) -> pd.DataFrame:
    """:func:`creatorrank.features.engine.training_matrix` on a Dask cluster, sharded by creator.

    The matrix is gathered on the client (LightGBM trains locally); see :func:`snapshot_dask`.
    """
    from ..features.sharded import sharded_training_matrix

    with dask_client(scheduler) as client:
        n = _shards_for(client, n_shards)
        frame = sharded_training_matrix(tables, client=client, n_shards=n)
    logger.info("dask: training matrix of %d rows from %d shards", len(frame), n)
    return frame


def _run_shard(decisions: pd.DataFrame, context: Any, bundle) -> pd.DataFrame:
    """Task body on a worker (decisions first: ``Client.map`` maps over the first argument)."""
    return score_shard(context, bundle, decisions)
