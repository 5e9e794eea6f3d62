"""Uncertainty of a ranker's score per row: the spread across bagged rankers (docs/EXPLORATION.md).

After the main fit, ``n_bags`` more lambdarank boosters are trained with the main fit's
parameters and its best iteration count, each on a bootstrap resample of the *training
campaigns* (whole campaigns drawn with replacement: a query is the unit the ranker learns from,
so resampling rows would break queries apart). A row's ``score_sd`` is the standard deviation,
across the bagged members, of the member's score minus that member's mean score over the row's
campaign: lambdarank scores are shift-invariant within a campaign (adding a constant to every
score of a query changes no loss), so only within-campaign deviations are comparable between
members. Where the bags agree, ``score_sd`` is small; where the training data says little
(creators unlike any invitee), the members extrapolate differently and it grows.

Bags are saved beside the ranker as ``bags/bag_NN.txt`` with a ``bags/bags.json`` that records
their checksums; :func:`load_bags` checks every file before LightGBM reads it (a truncated file
raises :class:`~creatorrank.core.errors.ModelError`, it never reaches native code).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ModelError
from ..core.io import write_text
from .integrity import check_model_text, decode_text, file_digest, read_bytes, verify_digest

BAGS_DIR = "bags"
BAGS_META = "bags.json"
DEFAULT_BAGS = 5
_SEED_KEYS = ("seed", "bagging_seed", "feature_fraction_seed", "data_random_seed")


def bootstrap_campaigns(group: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and group sizes of one bootstrap resample of whole campaigns.

    Parameters
    ----------
    group : ndarray of int
        Rows per campaign, in row order (contiguous blocks, as LightGBM's ``group``).
    rng : Generator

    Returns
    -------
    rows, sizes : ndarray
        Row numbers of the resample (a campaign drawn twice appears twice, as two queries) and
        the size of each drawn campaign, in draw order.
    """
    group = np.asarray(group, dtype=np.int64)
    starts = np.r_[0, np.cumsum(group)[:-1]]
    pick = rng.integers(0, len(group), size=len(group))
    sizes = group[pick]
    rows = np.concatenate([np.arange(starts[i], starts[i] + group[i]) for i in pick]) if len(pick) else np.zeros(0, int)
    return rows.astype(np.int64), sizes


def bag_params(params: dict[str, Any], seed: int, member: int) -> dict[str, Any]:
    """The main fit's parameters with every LightGBM seed set for one member (deterministic)."""
    out = {k: v for k, v in params.items() if k not in ("early_stopping_round", "early_stopping_rounds")}
    for key in _SEED_KEYS:
        out[key] = int(seed) * 1000 + int(member) + 1
    out["verbosity"] = -1
    return out


def fit_bags(data, params: dict[str, Any], num_rounds: int, n_bags: int = DEFAULT_BAGS, seed: int = 0) -> list:
    """Train ``n_bags`` lambdarank boosters on bootstrap resamples of the training campaigns.

    Parameters
    ----------
    data : RankingData
        The main fit's data; only its ``train`` split (and its row weights, if any) is used.
    params : dict
        The main fit's LightGBM parameters (``FitResult.params``; ``num_threads`` is kept).
    num_rounds : int
        Trees per member: the main fit's best iteration (no early stopping: a resample has no
        validation set of its own).
    n_bags : int
        Members (at least 2: a spread needs two).
    seed : int
        Seed of the resamples and of each member's LightGBM seeds.

    Returns
    -------
    list of lightgbm.Booster
    """
    import lightgbm as lgb

    if int(n_bags) < 2:
        raise ValueError(f"n_bags must be >= 2 (a spread needs two members), got {n_bags}")
    if int(num_rounds) < 1:
        raise ValueError(f"num_rounds must be >= 1, got {num_rounds}")
    split = data["train"]
    X = data.X("train").to_numpy(np.float64)
    y = data.y("train")
    weight = split.weight
    rng = np.random.default_rng([int(seed), 14])
    boosters = []
    for member in range(int(n_bags)):
        rows, sizes = bootstrap_campaigns(split.group, rng)
        p = bag_params(params, seed, member)
        ds_params = {k: p[k] for k in ("max_bin", "seed", "verbosity", "num_threads", "feature_pre_filter") if k in p}
        ds = lgb.Dataset(X[rows], label=y[rows], group=sizes, weight=None if weight is None else weight[rows],
                         init_score=None if split.init_score is None else split.init_score[rows],
                         feature_name=list(data.features), categorical_feature=list(data.categorical),
                         params=ds_params, free_raw_data=True)
        boosters.append(lgb.train(p, ds, num_boost_round=int(num_rounds)))
    return boosters


def member_scores(boosters: list, X: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """Raw scores of every member, shape ``(rows, members)``."""
    X = np.asarray(X, dtype=np.float64)
    if len(X) == 0:
        return np.zeros((0, len(boosters)))
    return np.column_stack([np.asarray(b.predict(X, num_threads=num_threads), dtype=np.float64) for b in boosters])


def spread(members: np.ndarray, campaign: np.ndarray) -> np.ndarray:
    """``score_sd`` from member scores: sd across members of (score - member's campaign mean).

    Parameters
    ----------
    members : ndarray, shape (rows, members)
    campaign : ndarray
        Campaign of each row (the whole campaign must be present: the mean is over its rows).

    Returns
    -------
    ndarray of float64
        Sample standard deviation (ddof=1) per row; 0 where the members agree.
    """
    members = np.asarray(members, dtype=np.float64)
    if len(members) == 0:
        return np.zeros(0)
    codes = np.unique(np.asarray(campaign, dtype=object).astype(str), return_inverse=True)[1].ravel()
    counts = np.bincount(codes).astype(np.float64)
    centred = np.empty_like(members)
    for j in range(members.shape[1]):
        mean = np.bincount(codes, weights=members[:, j]) / counts
        centred[:, j] = members[:, j] - mean[codes]
    return centred.std(axis=1, ddof=1) if members.shape[1] > 1 else np.zeros(len(members))


def score_spread(boosters: list, X: np.ndarray, campaign: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """``score_sd`` of each row of ``X`` (all rows of each campaign): see the module docstring."""
    return spread(member_scores(boosters, X, num_threads), campaign)


# ---------------------------------------------------------------------------- files


def save_bags(boosters: list, folder: str | os.PathLike, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``folder/bags/bag_NN.txt`` and ``bags.json`` (their checksums); return ``bags.json``'s digest.

    Parameters
    ----------
    boosters : list of lightgbm.Booster
    folder : path-like
        The bundle folder (``bags/`` is created in it).
    info : dict, optional
        Recorded in ``bags.json`` (e.g. ``{"n_bags": 5, "seed": 42, "num_rounds": 120}``).

    Returns
    -------
    dict
        ``{"bags/bags.json": {"sha256", "bytes"}}``, for the bundle's ``files`` record.
    """
    sub = Path(folder) / BAGS_DIR
    sub.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, booster in enumerate(boosters):
        name = f"bag_{i:02d}.txt"
        write_text(sub / name, booster.model_to_string())
        files[name] = file_digest((sub / name).read_bytes())
    meta = {"members": len(boosters), "files": files, **(info or {})}
    write_text(sub / BAGS_META, json.dumps(meta, indent=2, sort_keys=True, default=str))
    return {f"{BAGS_DIR}/{BAGS_META}": file_digest((sub / BAGS_META).read_bytes())}


def has_bags(folder: str | os.PathLike) -> bool:
    """Does the bundle folder hold bagged rankers?"""
    return (Path(folder) / BAGS_DIR / BAGS_META).is_file()


def load_bags(folder: str | os.PathLike, digests: dict[str, Any] | None = None) -> list:
    """Read the boosters :func:`save_bags` wrote, checking every file before LightGBM sees it.

    Parameters
    ----------
    folder : path-like
        The bundle folder.
    digests : dict, optional
        The bundle's ``files`` record: ``bags/bags.json`` is verified against it when present.

    Raises
    ------
    ModelError
        A file missing, truncated, altered or unreadable (one line naming it).
    """
    import lightgbm as lgb

    sub = Path(folder) / BAGS_DIR
    meta_path = sub / BAGS_META
    if not meta_path.is_file():
        raise ModelError(f"{meta_path}: bagged rankers missing from the bundle")
    raw = read_bytes(meta_path)
    expected = (digests or {}).get(f"{BAGS_DIR}/{BAGS_META}")
    if expected is not None:
        verify_digest(meta_path, raw, expected)
    try:
        meta = json.loads(decode_text(meta_path, raw))
        files = dict(meta["files"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: damaged bag metadata ({exc})") from None
    boosters = []
    for name in sorted(files):
        path = sub / name
        if not path.is_file():
            raise ModelError(f"{path}: bagged ranker missing from the bundle")
        data = read_bytes(path)
        verify_digest(path, data, files[name])
        text = decode_text(path, data)
        check_model_text(path, text)
        try:
            boosters.append(lgb.Booster(model_str=text))
        except lgb.basic.LightGBMError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unreadable"
            raise ModelError(f"{path}: LightGBM cannot read the model ({first})") from None
    return boosters


# ---------------------------------------------------------------------------- scoring hooks

MEMBER_PREFIX = "_bag_"  # temporary member-score columns of scoring shards (dropped by add_score_sd)


def add_member_scores(out, bags: list, X: np.ndarray, num_threads: int = 1):
    """Add each bagged member's raw score to a shard's result as ``_bag_NN`` columns.

    A campaign may be split across shards, so ``score_sd`` (which centres on the whole
    campaign) is finished by :func:`add_score_sd` once every shard is scored.
    """
    members = member_scores(bags, X, num_threads)
    for j in range(members.shape[1]):
        out[f"{MEMBER_PREFIX}{j:02d}"] = members[:, j]
    return out


def add_score_sd(parts: list) -> list:
    """Replace the ``_bag_NN`` columns of scored shards by ``score_sd`` (campaigns centred over all shards).

    Parameters
    ----------
    parts : list of DataFrame
        Shard results with ``campaign_id`` and the member columns of :func:`add_member_scores`.

    Returns
    -------
    list of DataFrame
        The same shards, with ``score_sd`` instead of the member columns.
    """
    import pandas as pd

    from ..core import constants as C

    cols = sorted({c for p in parts for c in p.columns if str(c).startswith(MEMBER_PREFIX)})
    if not cols:
        return parts
    # Campaign means over rows in (campaign, creator) order: the same sums, to the bit, however
    # the candidates were sharded (local chunks or Dask partitions).
    rows = pd.concat([p[[C.CAMPAIGN_ID, C.CREATOR_ID, *cols]] for p in parts], ignore_index=True)
    rows = rows.sort_values([C.CAMPAIGN_ID, C.CREATOR_ID], kind="stable")
    means = rows.groupby(C.CAMPAIGN_ID, sort=False, observed=True)[cols].mean()
    out = []
    for p in parts:
        members = p[cols].to_numpy(dtype=np.float64)
        members -= means.reindex(p[C.CAMPAIGN_ID]).to_numpy(dtype=np.float64)
        sd = members.std(axis=1, ddof=1) if len(cols) > 1 else np.zeros(len(p))
        p = p.drop(columns=cols)
        at = p.columns.get_loc(C.SCORE) + 1 if C.SCORE in p.columns else len(p.columns)
        p.insert(at, C.SCORE_SD, sd)  # read beside the score it qualifies
        out.append(p)
    return out
