"""Exploration: reserve K places of each brief's top list for promising uncertain creators.

Per brief (``campaign_id``), of a top list of N places the best ``N - K`` creators by score are
kept (the project's rank rule: higher score first, equal scores by creator_id; see
:mod:`.ranking`), and the other K places go to a Thompson sample among the rest: one draw gives
each remaining row ``score + score_sd * z`` (z standard normal) and picks the K best. The row's
``selection_probability`` is the share of ``draws`` independent draws that picked it (kept rows:
1), so the expected number of explored rows of a brief is exactly K and later off-policy
evaluation (inverse propensity, doubly robust) can weight each logged row by it. The list
actually served is one further draw. Draws are seeded per brief from ``seed`` and the campaign
id, so one brief's list does not change when other briefs are scored beside it.

Rows whose ``score + 8 * score_sd`` is below the K-th largest ``score - 8 * score_sd`` of the
remaining rows are left out of the draws (their chance is below 1e-15) and get probability 0;
this keeps a pool of 10k creators cheap. A missing ``score_sd`` counts as 0 (no spread). With
every ``score_sd`` 0 exploration picks the next best by score, deterministically.

See docs/EXPLORATION.md.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError
from .ranking import within_campaign_rank

DEFAULT_DRAWS = 2000
DEFAULT_LIST = 10  # top-list size when the run has no --top
_BOUND_SD = 8.0  # rows this many sd below the K-th best are never drawn in practice
_CHUNK = 250  # draws per block: bounds memory to CHUNK x candidates


def brief_rng(seed: int, campaign_id: str, stream: int) -> np.random.Generator:
    """A generator for one brief: from the run's seed and the campaign id's sha256 (stable)."""
    digest = int.from_bytes(hashlib.sha256(str(campaign_id).encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed), digest, int(stream)])


def check_explore(k: int, top: int, draws: int) -> None:
    """Argument checks before any work (one line naming the option).

    Raises
    ------
    CreatorRankError
    """
    if int(k) < 0:
        raise CreatorRankError(f"--explore must be >= 0, got {k}")
    if int(k) > int(top):
        raise CreatorRankError(f"--explore {k} exceeds the top-list size {top} (--top, default {DEFAULT_LIST})")
    if int(draws) < 1:
        raise CreatorRankError(f"--explore-draws must be >= 1, got {draws}")


def explore(frame: pd.DataFrame, k: int, seed: int, draws: int = DEFAULT_DRAWS, top: int = DEFAULT_LIST,
            cut: bool = False) -> pd.DataFrame:
    """Fill K of each brief's N top-list places by Thompson sampling on ``score_sd``.

    Parameters
    ----------
    frame : DataFrame
        ``campaign_id``, ``creator_id``, ``score``, ``score_sd`` (missing: 0); other columns kept.
    k : int
        Places per brief filled by exploration (0: the list by score alone; probabilities 1/0).
    seed : int
    draws : int
        Thompson draws estimating each row's selection probability.
    top : int
        The top-list size N.
    cut : bool
        Return only the list rows (else every row: the list first, then the rest by rank).

    Returns
    -------
    DataFrame
        The rows per brief (briefs in first-seen order) in final order, with ``explored`` (bool),
        ``selection_probability`` (0-1) and ``list_position`` (1..N, missing outside the list).
    """
    check_explore(k, top, draws)
    missing = [c for c in (C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE) if c not in frame.columns]
    if missing:
        raise CreatorRankError(f"exploration needs the column '{missing[0]}'")
    if C.SCORE_SD not in frame.columns:
        raise CreatorRankError("exploration needs score_sd: the model has no bagged rankers (train it with bags)")
    parts = [_explore_one(rows, str(cid), int(k), int(seed), int(draws), int(top), cut)
             for cid, rows in frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True)]
    if not parts:
        return frame.assign(**{C.EXPLORED: pd.Series(dtype=bool), C.SELECTION_PROBABILITY: pd.Series(dtype=float),
                               C.LIST_POSITION: pd.Series(dtype="Int64")})
    return pd.concat(parts, ignore_index=True)


def _explore_one(rows: pd.DataFrame, cid: str, k: int, seed: int, draws: int, top: int, cut: bool) -> pd.DataFrame:
    """One brief: see :func:`explore`."""
    score = rows[C.SCORE].to_numpy(dtype=np.float64)
    sd = np.nan_to_num(rows[C.SCORE_SD].to_numpy(dtype=np.float64), nan=0.0)
    rank = within_campaign_rank(np.zeros(len(rows), np.int8), score, rows[C.CREATOR_ID].to_numpy(dtype=object))
    order = np.argsort(rank, kind="stable")  # rank order: the tie rule
    n = len(order)
    n_keep = min(n, max(0, top - k))
    n_explore = min(k, n - n_keep)
    prob = np.zeros(n)
    prob[order[:n_keep]] = 1.0
    chosen = np.zeros(0, dtype=np.int64)
    if n_explore > 0:
        rest = order[n_keep:]
        cand = _candidates(score[rest], sd[rest], n_explore)
        pool = rest[cand]
        counts = _draw_counts(score[pool], sd[pool], n_explore, brief_rng(seed, cid, 1), draws)
        prob[pool] = counts / draws
        served = _draw_counts(score[pool], sd[pool], n_explore, brief_rng(seed, cid, 2), 1, served=True)
        chosen = pool[served]
    listed = np.r_[order[:n_keep], chosen].astype(np.int64)
    explored = np.zeros(n, dtype=bool)
    explored[chosen] = True
    position = np.full(n, -1, dtype=np.int64)
    position[listed] = np.arange(1, len(listed) + 1)
    others = order[~np.isin(order, listed)]
    final = listed if cut else np.r_[listed, others].astype(np.int64)
    out = rows.iloc[final].reset_index(drop=True)
    out[C.EXPLORED] = explored[final]
    out[C.SELECTION_PROBABILITY] = prob[final]
    pos = position[final]
    out[C.LIST_POSITION] = pd.array(np.where(pos > 0, pos, 0), dtype="Int64")
    out.loc[pos <= 0, C.LIST_POSITION] = pd.NA
    return out


def _candidates(score: np.ndarray, sd: np.ndarray, k: int) -> np.ndarray:
    """Rows (in rank order) that can reach the K best in a draw; see the module docstring."""
    low = score - _BOUND_SD * sd
    bar = np.sort(low)[::-1][k - 1]
    return np.flatnonzero(score + _BOUND_SD * sd >= bar)


def _draw_counts(score: np.ndarray, sd: np.ndarray, k: int, rng: np.random.Generator, draws: int,
                 served: bool = False) -> np.ndarray:
    """Times each row was among the K best of ``draws`` Thompson draws (or, ``served``: the one
    draw's K picks in sampled order). Rows come in rank order, so a stable sort breaks equal
    samples by rank: the project's tie rule."""
    m = len(score)
    counts = np.zeros(m, dtype=np.int64)
    done = 0
    while done < draws:
        b = min(_CHUNK, draws - done)
        values = score[None, :] + sd[None, :] * rng.standard_normal((b, m))
        picks = np.argsort(-values, axis=1, kind="stable")[:, :k]
        if served:
            return picks[0]
        counts += np.bincount(picks.ravel(), minlength=m)
        done += b
    return counts


def manifest_entry(k: int, seed: int, draws: int, top: int) -> dict:
    """The scores manifest's ``explore`` record (what off-policy evaluation needs to redo a draw)."""
    return {"k": int(k), "seed": int(seed), "draws": int(draws), "top": int(top),
            "method": "thompson: score + score_sd * z, z ~ N(0, 1); kept = top (top - k) by score",
            "probability": "share of draws choosing the row (kept rows 1)",
            "seeding": "numpy default_rng([seed, sha256(campaign_id)[:8] little-endian, 1 (draws) / 2 (served)])"}


def brief_summary(frame: pd.DataFrame, k: int | None = None, seed: int | None = None,
                  draws: int | None = None) -> dict[str, dict]:
    """Per brief, for the manifest: rows listed, explored into the list, the expected number explored
    (the probabilities of the rows not kept) and, when given, the run's ``k``, ``seed`` and ``draws``.

    Computed on the rows of :func:`explore` before any cut to the list (the probabilities of rows
    left out of the list count towards ``expected_explored``)."""
    out = {}
    run = {key: int(v) for key, v in (("k", k), ("seed", seed), ("draws", draws)) if v is not None}
    for cid, rows in frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True):
        p = rows[C.SELECTION_PROBABILITY].to_numpy(dtype=np.float64)
        listed, explored = int(rows[C.LIST_POSITION].notna().sum()), int(rows[C.EXPLORED].sum())
        out[str(cid)] = {**run, "explored": explored, "expected_explored": float(p.sum() - (listed - explored)),
                         "listed": listed}
    return out
