"""Reading a scoring run back, here or on a Dask cluster: one entry point for both engines.

The local reading is :func:`.scored_run.read_local_run`, the cluster's
:func:`.dask_explain.read_run_dask`; this module only chooses (it sits above both, so
neither imports the other).
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ..core.errors import ConfigError
from .scored_run import ScoredRun, read_local_run

ENGINES = ("local", "dask")


def read_run(scores: pd.DataFrame, data_dir, manifest: Mapping[str, Any], top: int, engine: str = "local",
             scheduler: Any = None, n_shards: int | None = None, wave_shards: int | None = None,
             scratch=None) -> ScoredRun:
    """The briefs, full field, features and history of a scoring run, from its data folder.

    Parameters
    ----------
    scores : DataFrame
        :func:`.scored_run.read_scores` of the scores file.
    data_dir : path-like
        The data folder the scores were made from.
    manifest : mapping
        The scores' manifest.
    top : int
        The worst rank explained (``--top``, or the file's last rank for ``--all``): the
        history is read for the rows that can be explained only.
    engine : {"local", "dask"}
        ``local``: the clean tables in this process. ``dask``: the workers read their shards
        of creators from the folder, search the cut candidates, compute the features and the
        history there; this process holds the creators and campaigns tables and the gathered
        rows (:func:`creatorrank.serving.dask_explain.read_run_dask`). Same result either way.
    scheduler, n_shards, wave_shards, scratch
        Dask only: the scheduler (address, client or cluster; None: a local cluster), the
        shards of creators (default one per worker), the shards prepared at once (default one
        per worker) and the folder of the data partitioned by shard
        (:func:`creatorrank.features.sharded.open_folder`).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    if engine == "dask":
        from .dask_explain import read_run_dask

        return read_run_dask(scores, data_dir, manifest, top, scheduler=scheduler, n_shards=n_shards,
                             wave_shards=wave_shards, scratch=scratch)
    if any(v is not None for v in (scheduler, n_shards, wave_shards, scratch)):
        raise ConfigError("a scheduler, shards, waves and a scratch folder need the dask engine")
    return read_local_run(scores, data_dir, manifest, top)
