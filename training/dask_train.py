"""Training through Dask: the matrix assembled from creator shards, and a distributed learner.

Two independent choices (``engine`` and ``dask.learner`` of the training config, docs/DASK.md
"Training on a cluster"):

- ``engine: dask`` builds and labels the training matrix on a Dask cluster, sharded by creator,
  each worker reading its own rows of the data folder (:func:`assemble_labelled`; the matrix
  alone: :func:`assemble_matrix`). The client holds the creators and campaigns tables and the
  gathered labelled rows, never the posts, orders or invitations. The labelled rows equal the
  local ones bit for bit, so with the default ``dask.learner: local`` the model is the very one
  ``engine: local`` trains.
- ``dask.learner: dask`` trains ``lightgbm.dask.DaskLGBMRanker`` (data-parallel LightGBM, one
  LightGBM process per worker) on the train split cut into partitions of whole campaigns
  (:func:`campaign_partitions`): a query never straddles two partitions, rows stay sorted by
  query inside each, and each partition carries its own ``group`` sizes.

``lightgbm.dask`` has no early stopping, and its validation metrics are computed by each worker on
its own part of the validation set. So the learner trains a fixed number of rounds
(``dask.num_boost_round``, default ``lightgbm.num_boost_round``), the client computes the whole
validation NDCG@primary_k curve of the gathered booster (:func:`validation_curve`, LightGBM's
definition: ties in row order, a query without a positive counts 1), and the booster is trimmed
to the iteration early stopping with ``lightgbm.early_stopping_rounds`` would have chosen on that
curve (:func:`early_stopping_choice`). The result is an ordinary :class:`.train.FitResult`, so
the bundle, scoring, explanations and the registry do not know which learner made it. The value
model and the bagged rankers are fitted by the local learner on the gathered matrix.

Dask and lightgbm.dask are imported here only, when used.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError, CreatorRankError
from .config import TrainingConfig
from .dataset import Labelled, Labeller, RankingData, check_unique
from .metrics import group_codes_from_sizes, ndcg_per_query
from .model import trim_booster
from .train import VALID_NAME, FitResult, lgb_params

logger = logging.getLogger(__name__)

ENGINES = ("local", "dask")
# lgb.train settings the distributed learner sets itself, or that have no meaning without
# validation sets on the workers (the curve is computed on the client).
_DASK_OWNED = ("num_threads", "metric", "eval_at", "seed")


def assemble_matrix(data_dir, client, n_shards: int | None = None) -> pd.DataFrame:
    """The training matrix of the data folder ``data_dir``, computed on ``client``'s cluster by creator shard.

    Each worker reads its shards' rows from the folder (:func:`.features.sharded.training_matrix_from_folder`);
    the client validates the folder in bounded memory and holds the creators and campaigns tables
    and the gathered matrix only.

    Parameters
    ----------
    data_dir : path-like or FolderMarket
        The data folder, at the same path on every worker (or one already opened).
    client : distributed.Client
    n_shards : int, optional
        Shards of creators (default: one per worker).

    Returns
    -------
    DataFrame
        Equal to :func:`creatorrank.features.engine.training_matrix` of the folder's clean tables.
    """
    from ..features.sharded import training_matrix_from_folder

    return training_matrix_from_folder(data_dir, client=client, n_shards=n_shards or n_workers(client))


def assemble_labelled(data_dir, config: TrainingConfig, train_until, client, n_shards: int | None = None
                      ) -> tuple[dict[str, pd.DataFrame], Labelled]:
    """The labelled training rows of a data folder, built and labelled on ``client``'s workers by creator shard.

    Each worker reads its shards' rows, builds their training-matrix rows and labels them with
    its own orders and invitations (:class:`.dataset.Labeller`: the cutoff and settle rules of
    :func:`.dataset.labelled_matrix`); the client gathers the labelled rows of complete campaigns.

    Returns
    -------
    tables : dict of DataFrame
        The creators and campaigns tables, all the client holds of the folder (enough for
        :func:`.dataset.build_dataset` with ``labelled``).
    labelled : Labelled
        Equal to :func:`.dataset.labelled_matrix` of the clean tables, with its cutoff.
    """
    from ..features.sharded import labelled_from_folder, open_folder

    folder = open_folder(data_dir, scratch=config.dask.scratch, wave_shards=config.dask.wave_shards)
    labels = Labeller(config.label, config.label_settle_days, train_until)
    cutoff, frame, excluded = labelled_from_folder(folder, labels, client=client,
                                                   n_shards=n_shards or n_workers(client))
    excluded = set().union(*map(set, excluded)) if excluded else set()
    labelled = Labelled(check_unique(frame), len(excluded), cutoff)
    return {C.CREATORS: folder.creators, C.CAMPAIGNS: folder.campaigns}, labelled


def n_workers(client) -> int:
    """Workers of ``client``'s cluster (waits up to a minute for the first one)."""
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        client.wait_for_workers(1, timeout=60)
        workers = client.scheduler_info().get("workers", {})
    return max(1, len(workers))


def campaign_partitions(group: np.ndarray, n_parts: int) -> list[tuple[int, int]]:
    """Cut contiguous queries into at most ``n_parts`` runs of whole queries with similar rows.

    Parameters
    ----------
    group : ndarray of int
        Rows per query, in row order (queries are contiguous row blocks).
    n_parts : int

    Returns
    -------
    list of (int, int)
        ``(first_query, end_query)`` of each partition, in order, each non-empty; together they
        cover every query once.
    """
    group = np.asarray(group, dtype=np.int64)
    if n_parts < 1:
        raise ConfigError(f"dask.n_partitions must be at least 1 (got {n_parts})")
    n = min(int(n_parts), len(group))
    if n == 0:
        return []
    ends_rows = np.cumsum(group)
    # the query boundary nearest each 1/n of the rows, never two partitions on one boundary
    targets = ends_rows[-1] * np.arange(1, n) / n
    cuts = np.searchsorted(ends_rows, targets, side="left") + 1
    bounds = np.unique(np.clip(np.r_[0, cuts, len(group)], 0, len(group)))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _dask_inputs(client, X: np.ndarray, y: np.ndarray, group: np.ndarray, weight, parts):
    """Dask arrays of X, y, group (and weight) chunked by ``parts``, each chunk placed on a worker.

    Chunk i is scattered to the i-th worker (sorted addresses, round robin), so the same cluster
    gets the same placement, and LightGBM the same partitioning, on every run.
    """
    import dask.array as da

    workers = sorted(client.scheduler_info().get("workers", {}))
    row_ends = np.r_[0, np.cumsum(group)]
    columns: dict[str, list] = {"X": [], "y": [], "group": [], "weight": []}
    for i, (q0, q1) in enumerate(parts):
        r0, r1 = int(row_ends[q0]), int(row_ends[q1])
        chunk = {"X": X[r0:r1], "y": y[r0:r1], "group": group[q0:q1]}
        if weight is not None:
            chunk["weight"] = weight[r0:r1]
        names = list(chunk)
        futures = client.scatter([chunk[k] for k in names], workers=[workers[i % len(workers)]], hash=False)
        for name, fut in zip(names, futures):
            columns[name].append(da.from_delayed(fut, shape=chunk[name].shape, dtype=chunk[name].dtype))
    stacked = {k: da.concatenate(v, axis=0) for k, v in columns.items() if v}
    return stacked["X"], stacked["y"], stacked["group"], stacked.get("weight")


class _RankedClient:
    """A ``distributed.Client`` whose ``who_has`` lists data in worker-address order.

    ``lightgbm.dask`` numbers its LightGBM machines (ranks) in the order ``who_has`` answers,
    which the scheduler gives in no fixed order; a rank decides which features' bins come from
    which machine's rows, so a random order gives a different model on every run. Sorted by the
    address of the worker holding each part (and :func:`_dask_inputs` placing partition i on the
    i-th sorted worker), partition i is always rank i. Everything else is the client's.
    """

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def who_has(self, *args, **kwargs) -> dict:
        found = {key: sorted(workers) for key, workers in dict(self._client.who_has(*args, **kwargs)).items()}
        return dict(sorted(found.items(), key=lambda item: (item[1][:1], str(item[0]))))


def dask_params(params: dict[str, Any]) -> dict[str, Any]:
    """``lgb.train`` parameters as ``DaskLGBMRanker`` keywords (seed as ``random_state``)."""
    out = {k: v for k, v in params.items() if k not in _DASK_OWNED}
    out["random_state"] = params.get("seed")
    out["tree_learner"] = "data"
    return out


def validation_curve(booster, X: np.ndarray, labels: np.ndarray, group: np.ndarray, k: int,
                     label_gain) -> np.ndarray:
    """Mean validation NDCG@k after each boosting round of ``booster`` (LightGBM's definition).

    One tree at a time is added to the raw scores, so the whole curve costs one prediction.
    Queries without a positive label count 1, as in LightGBM's ``ndcg`` metric.
    """
    codes = group_codes_from_sizes(group)
    raw = np.zeros(len(X), dtype=np.float64)
    curve = np.empty(booster.current_iteration(), dtype=np.float64)
    for i in range(len(curve)):
        raw += booster.predict(X, start_iteration=i, num_iteration=1, raw_score=True)
        curve[i] = float(np.mean(ndcg_per_query(codes, labels, raw, k, label_gain, empty=1.0)))
    return curve


def early_stopping_choice(curve: np.ndarray, patience: int) -> int:
    """The iteration (1-based) LightGBM's early stopping would keep, reading ``curve`` in order.

    It stops once ``patience`` rounds bring no strict improvement on the best so far and keeps
    the best; without a stop, the best of the whole curve (earliest on ties).
    """
    best, best_i = -np.inf, 0
    for i, value in enumerate(curve):
        if value > best:
            best, best_i = float(value), i
        elif i - best_i >= patience:
            break
    return best_i + 1


def fit_ranker_dask(data: RankingData, config: TrainingConfig, client, overrides: dict[str, Any] | None = None
                    ) -> FitResult:
    """Train ``lightgbm.dask.DaskLGBMRanker`` on campaign-aligned partitions of the train split.

    Parameters
    ----------
    data : RankingData
    config : TrainingConfig
        ``dask.n_partitions`` (default and at most one per worker) and ``dask.num_boost_round`` (default
        ``lightgbm.num_boost_round``); every other LightGBM setting as for the local learner.
    client : distributed.Client
    overrides : dict, optional
        Parameters replacing configured ones (e.g. the best Optuna trial's).

    Returns
    -------
    FitResult
        The gathered booster (``to_local()``), trimmed to the early-stopping choice on the
        client's validation curve; ``params`` are the local learner's (the bags and the value
        model reuse them with the local learner).
    """
    try:
        from lightgbm.dask import DaskLGBMRanker
    except ImportError:
        raise CreatorRankError("the dask learner needs lightgbm, dask and distributed: "
                               "pip install 'creatorrank[dask]'") from None
    if len(data["train"]) == 0 or len(data["validation"]) == 0:
        raise ConfigError("training and validation splits must both hold campaigns")
    params = lgb_params(config, data, overrides)
    rounds = config.dask.num_boost_round or config.lightgbm.num_boost_round
    train = data["train"]
    # at most one partition per worker: LightGBM joins a worker's parts into one Dataset anyway,
    # and one each keeps the rank of every partition fixed (see _RankedClient)
    workers = n_workers(client)
    parts = campaign_partitions(train.group, min(config.dask.n_partitions or workers, workers))
    X, y, group, weight = _dask_inputs(client, data.X("train").to_numpy(np.float64), data.y("train"),
                                       np.asarray(train.group, dtype=np.int64), train.weight, parts)
    logger.info("dask learner: %d rounds on %d campaign-aligned partitions of %d rows", rounds, len(parts), len(train))
    model = DaskLGBMRanker(client=_RankedClient(client), n_estimators=rounds, **dask_params(params))
    with warnings.catch_warnings():  # lightgbm.dask drops the wrapper's own n_jobs: threads come from the workers
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(X, y, group=group, sample_weight=weight, feature_name=list(data.features),
                  categorical_feature=list(data.categorical), eval_at=[config.evaluation.primary_k])
    booster = model.to_local().booster_
    metric = f"ndcg@{config.evaluation.primary_k}"
    curve = validation_curve(booster, data.X("validation").to_numpy(np.float64), data.y("validation"),
                             data["validation"].group, config.evaluation.primary_k, config.label.gains())
    best = early_stopping_choice(curve, config.lightgbm.early_stopping_rounds)
    logger.info("dask learner: %d trees (best iteration %d), validation %s %.4f", len(curve), best, metric,
                curve[best - 1])
    return FitResult(trim_booster(booster, best), best, float(curve[best - 1]), params,
                     {VALID_NAME: {metric: list(map(float, curve))}})


def learner_metadata(config: TrainingConfig, fit: FitResult, client) -> dict[str, Any]:
    """Bundle metadata saying how the dask learner trained (rounds, partitions, workers)."""
    rounds = config.dask.num_boost_round or config.lightgbm.num_boost_round
    curve = fit.evals.get(VALID_NAME, {})
    return {"learner": "dask", "dask_rounds": rounds, "dask_workers": n_workers(client),
            "dask_trained_trees": len(next(iter(curve.values()))) if curve else rounds}
