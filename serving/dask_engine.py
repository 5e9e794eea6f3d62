"""Score, features and the training matrix on a Dask cluster, sharded by creator.

:func:`score_by_creator_dask` splits every shard of candidates by creator (the hash of
:mod:`creatorrank.features.sharded`); each worker prepares only its shard of creators (reading
their rows from the data folder itself, or receiving them from the client), the month's peer
tables are a reduce over the shards, and only the model bundle is broadcast. Each piece runs
:func:`creatorrank.serving.shards.score_shard` on its shard's market with the market's peer
tables, so the results are identical to local scoring. The model alias is resolved once, on
the client: workers never read the model registry.

``creatorrank score --engine dask`` runs :class:`FolderScoring` (:func:`folder_scoring`): the
workers read their shards of the data folder once, search each brief's candidates among their
creators, then prepare and score them the same way; the client holds only the creators and
campaigns.

:func:`score_shards_dask` is the earlier route (one prepared market broadcast to every worker);
it stays for callers that already hold a prepared market.

Features (``creatorrank features --engine dask``, :func:`snapshot_dask`) and the training
matrix (:func:`training_matrix_dask`) run sharded by creator the same way.
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
    tables : dict of DataFrame or FolderMarket
        The clean contract tables (on the client; each worker receives its shards' rows), or
        a validated data folder (:func:`creatorrank.features.sharded.open_folder`: each worker
        reads its shards' rows itself; the client holds only creators and campaigns).
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

    return _on_shards(sharded_snapshot, "snapshot of %d creators", scheduler, n_shards, tables, as_of,
                      category=category, country=country)


def training_matrix_dask(tables: dict, scheduler: Any = None, n_shards: int | None = None) -> pd.DataFrame:
    """:func:`creatorrank.features.engine.training_matrix` on a Dask cluster, sharded by creator.

    The matrix is gathered on the client (LightGBM trains locally); see :func:`snapshot_dask`.
    ``tables``: the clean tables, a FolderMarket or a data folder's path (each worker reads its
    shards' rows, :func:`creatorrank.features.sharded.training_matrix_from_folder`).
    """
    from ..features.sharded import sharded_training_matrix

    return _on_shards(sharded_training_matrix, "training matrix of %d rows", scheduler, n_shards, tables)


def _on_shards(fn, what: str, scheduler: Any, n_shards: int | None, *args, **kwargs) -> pd.DataFrame:
    """``fn(*args, client=..., n_shards=..., **kwargs)`` on the cluster of ``scheduler``, logged."""
    with dask_client(scheduler) as client:
        n = _shards_for(client, n_shards)
        frame = fn(*args, client=client, n_shards=n, **kwargs)
    logger.info("dask: " + what + " from %d shards", len(frame), n)
    return frame


def score_by_creator_dask(source, bundle, shards: list[pd.DataFrame], scheduler: Any = None,
                          n_shards: int | None = None) -> list[pd.DataFrame]:
    """Score decision shards on a Dask cluster, each worker preparing only its shard of creators.

    Nothing market-wide is broadcast but the model: the candidates of every shard are split by
    creator (:func:`creatorrank.features.sharded.shard_of`, the features path's hash); each
    worker prepares its creators' market (reading their rows from the data folder itself when
    ``source`` is one), the month's peer tables are the features path's reduce over the shards,
    and each piece of candidates is scored where its creators live
    (:func:`~creatorrank.serving.shards.score_with_peers`). The pieces are put back in order.

    Parameters
    ----------
    source : dict of DataFrame, FolderMarket or path-like
        The clean tables (split on the client and sent to the workers), or a validated data
        folder (:func:`creatorrank.features.sharded.open_folder`; a path is opened so), read by
        the workers at the same path.
    bundle : RankerBundle
        The loaded model (its version already resolved); scattered once to every worker.
    shards : list of DataFrame
        Decision frames (see :func:`creatorrank.serving.shards.make_shards`).
    scheduler : str, Client, cluster or None
        See :func:`dask_client`.
    n_shards : int, optional
        Shards of creators (default: one per worker).

    Returns
    -------
    list of DataFrame
        One result per decision shard, in shard order: equal to
        ``score_shard(prepare_context(tables, as_ofs), bundle, shard)`` (the local engine).
    """
    from ..features import sharded as SH

    if not isinstance(source, (dict, SH.FolderMarket)):
        source = SH.open_folder(source)
    if isinstance(source, SH.FolderMarket):
        with folder_scoring(source, scheduler, n_shards) as session:
            return session.score(bundle, shards)
    with dask_client(scheduler) as client:
        run = SH.Runner(client)
        try:
            n = _shards_for(client, n_shards)
            market = SH.memory_shards(run, source, n, prepare_until(shards))
            if market is None:
                raise CreatorRankError("no creators to score: the creators table is empty")
            return _score_on(run, market, bundle, shards)
        finally:
            run.close()


@contextlib.contextmanager
def folder_scoring(folder, scheduler: Any = None, n_shards: int | None = None) -> Iterator["FolderScoring"]:
    """A :class:`FolderScoring` of a validated data folder on a Dask cluster, for one scoring run.

    Parameters
    ----------
    folder : FolderMarket
        :func:`creatorrank.features.sharded.open_folder` of the data folder.
    scheduler, n_shards
        As for :func:`score_by_creator_dask`.
    """
    from ..features import sharded as SH

    with dask_client(scheduler) as client:
        run = SH.Runner(client)
        try:
            yield FolderScoring(run, folder, _shards_for(client, n_shards))
        finally:
            run.close()


class FolderScoring:
    """A data folder's creator shards, read once by the workers, for candidates and then scores.

    The folder is partitioned by shard once and each worker reads its shards' files
    (:func:`creatorrank.features.sharded.read_folder`) when the object is made; the client holds
    only the folder's creators and campaigns. The candidate search runs per shard on those rows
    (:meth:`candidates`), then each shard is prepared on its worker and scored with the peer
    reduce (:meth:`score`). When every shard fits in one wave (``folder.wave_shards``, default
    one shard per worker) all of this comes from one reading kept on the workers; otherwise each
    step reads its wave of shards again from their files and lets them go after it.

    Parameters
    ----------
    run : features.sharded.Runner
        Where the tasks run.
    folder : FolderMarket
    n_shards : int
    """

    def __init__(self, run, folder, n_shards: int):
        from ..features import sharded as SH

        self.run, self.folder, self.n_shards = run, folder, int(n_shards)
        self.read = SH.read_folder(run, folder, self.n_shards)
        self.live, self.n_cat = self.read.live, self.read.n_cat
        self._scored = False

    def _per_shard(self, fn, label: str, *args) -> list:
        """``fn(settled shard, *args)`` for every live shard, wave by wave, gathered in shard order."""
        out = []
        for part, settled in self.read.each_wave(self.run, self.live):
            tasks = self.run.map(fn, [(settled[s], *args) for s in part], label)
            out += self.run.gather(tasks)
            self.run.release(tasks)
        return out

    def post_categories(self) -> list[str]:
        """The distinct categories of the clean posts (the union of every shard's), sorted."""
        return sorted(set().union(*self._per_shard(_post_categories, "post-categories")))

    def candidates(self, briefs: pd.DataFrame, times: list, rules, mode: str) -> list[tuple]:
        """Each brief's candidates and their category posts, searched shard by shard on the workers.

        Returns
        -------
        list of (ids, category_posts)
            Per brief: the candidate ids sorted (the client's creator id objects, so the
            lists of many briefs share their strings) and, aligned, their posts in the brief's
            category before its decision time: what
            :class:`creatorrank.serving.candidates.CandidateFinder` finds over the whole market.
            Empty sets are not refused here.
        """
        import numpy as np

        from .candidates import shard_candidates

        found = self._per_shard(shard_candidates, "candidates", briefs, list(times), rules, mode)
        index, out = self.folder.index, []
        for b in range(len(briefs)):
            code = index.codes(np.concatenate([f[b][0] for f in found]))
            counts = np.concatenate([np.asarray(f[b][1], dtype=np.float64) for f in found])
            if (code < 0).any():
                raise RuntimeError("a shard's candidate is not a creator of the folder")
            order = np.argsort(code, kind="stable")  # codes follow the sorted creator ids
            out.append((index.ids[code[order]], counts[order]))
        return out

    def score(self, bundle, shards: list[pd.DataFrame]) -> list[pd.DataFrame]:
        """Prepare every shard on its worker (once), reduce the peer tables and score ``shards``
        (:func:`score_by_creator_dask`); the shards' raw rows are let go once prepared."""
        from ..features import sharded as SH

        if self._scored:
            raise RuntimeError("a FolderScoring scores once: its shards' rows are gone once prepared")
        self._scored = True
        market = SH.prepare_shards(self.run, self.read, prepare_until(shards))
        return _score_on(self.run, market, bundle, shards)


def _post_categories(tables: dict) -> set:
    """Task: the distinct post categories of one shard."""
    from ..core import constants as C

    return set(tables[C.POSTS][C.CATEGORY].dropna().astype(str).unique())


def prepare_until(shards: list[pd.DataFrame]):
    """Events kept when preparing: those before the latest decision time + 1 µs (as :func:`prepare_context`)."""
    import numpy as np

    from ..core import constants as C
    from ..core.timeutil import to_micros

    times = [to_micros(d[C.AS_OF]) for d in shards if len(d)]
    return pd.Timestamp(int(np.concatenate(times).max()) + 1, unit="us", tz="UTC") if times else None


def _score_on(run, market, bundle, shards: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Score ``shards`` on prepared creator shards: the peer reduce, one task per piece, back in order."""
    import numpy as np

    from ..core import constants as C
    from ..core.timeutil import to_micros
    from ..features import sharded as SH
    from .shards import score_with_peers

    times = [to_micros(d[C.AS_OF]) for d in shards if len(d)]
    times = np.concatenate(times) if times else np.zeros(0, dtype=np.int64)
    months = SH.months_of(pd.Series(times.view("datetime64[us]")).dt.tz_localize("UTC")) if len(times) else []
    peer = market.peer_tables(months)
    (bundle_f,) = run.put([bundle], broadcast=True)
    layout = []  # (decision shard, creator shard, rows)
    for i, decisions in enumerate(shards):
        owner = market.owner(decisions[C.CREATOR_ID])
        pieces = [(s, np.flatnonzero(owner == s)) for s in market.live]
        pieces = [p for p in pieces if len(p[1])] or [(market.live[0], np.arange(len(decisions)))]
        layout += [(i, s, rows) for s, rows in pieces]
    needed = sorted({s for _, s, _ in layout})
    results = {}
    for part, markets in market.waves(needed):  # every creator shard at once, or a wave at a time
        mine = [j for j, (_, s, _) in enumerate(layout) if s in set(part)]
        tasks = run.map(score_with_peers, [(markets[layout[j][1]], bundle_f, shards[layout[j][0]].iloc[layout[j][2]],
                                            months, *peer) for j in mine], "score")
        results.update(zip(mine, run.gather(tasks)))
        run.release(tasks)
    per: list[list] = [[] for _ in shards]
    for j, (i, _, rows) in enumerate(layout):
        per[i].append((rows, results[j]))
    out = [SH.in_order([f for _, f in p], [r for r, _ in p]) for p in per]
    logger.info("dask: %d shards scored on %d shards of creators (%d tasks)", len(shards), market.n_shards,
                len(layout))
    return out


def _run_shard(decisions: pd.DataFrame, context: Any, bundle) -> pd.DataFrame:
    """Task body on a worker (decisions first: ``Client.map`` maps over the first argument)."""
    return score_shard(context, bundle, decisions)
