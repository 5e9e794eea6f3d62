"""Exposure of creator groups in top-k lists against their share of merit (Singh & Joachims style).

A ranking gives attention by position: the creator at rank r of a brief's top k gets exposure
``1 / log2(1 + r)`` (rank 1: 1, rank 2: 0.63, ...), nothing below k. For each group of creators
(follower tier, new vs established, country) and each brief, the group's *exposure share* is its
creators' exposure over the list's total, and its *merit share* is the sum of its pool creators'
merit (the oracle's expected net GMV, when known) over the pool's total. Both are averaged over
briefs (each brief counts once; merit over the briefs whose pool has any). Fair exposure in the
sense of Singh & Joachims (2018) means exposure proportional to merit: ``exposure_to_merit`` near 1.
A group with no merit gets a missing ratio, never infinity.

Groups, from the scored row's point-in-time features:

- follower tier from ``followers``: nano < 10k, micro 10k-100k, mid 100k-500k, macro 500k-1M,
  mega >= 1M (missing followers: ``unknown``);
- tenure from ``days_since_joined``: ``new`` under 90 days, else ``established``;
- ``country``.

See docs/EXPLORATION.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core import constants as C

FOLLOWERS = "followers"  # feature names of the catalogue (features/catalogue)
DAYS_SINCE_JOINED = "days_since_joined"
TIERS = (("nano", 0.0), ("micro", 10_000.0), ("mid", 100_000.0), ("macro", 500_000.0), ("mega", 1_000_000.0))
NEW_DAYS = 90
UNKNOWN = "unknown"
DIMENSIONS = ("tier", "tenure", C.COUNTRY)
DEFAULT_K = 10


def follower_tier(followers) -> np.ndarray:
    """Tier name of each follower count (``unknown`` where missing)."""
    f = np.asarray(followers, dtype=np.float64)
    edges = np.array([lo for _, lo in TIERS[1:]])
    names = np.array([n for n, _ in TIERS], dtype=object)
    out = names[np.searchsorted(edges, np.nan_to_num(f, nan=0.0), side="right")]
    out[np.isnan(f)] = UNKNOWN
    return out


def tenure(days) -> np.ndarray:
    """``new`` (under 90 days on the marketplace), ``established``, or ``unknown``."""
    d = np.asarray(days, dtype=np.float64)
    out = np.where(d < NEW_DAYS, "new", "established").astype(object)
    out[np.isnan(d)] = UNKNOWN
    return out


def creator_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """``tier``, ``tenure`` and ``country`` of each row (from its features)."""
    n = len(frame)
    col = lambda name: frame[name].to_numpy(dtype=np.float64) if name in frame.columns else np.full(n, np.nan)  # noqa: E731
    country = frame[C.COUNTRY].astype(object).fillna(UNKNOWN).astype(str).to_numpy(dtype=object) \
        if C.COUNTRY in frame.columns else np.full(n, UNKNOWN, dtype=object)
    return pd.DataFrame({"tier": follower_tier(col(FOLLOWERS)), "tenure": tenure(col(DAYS_SINCE_JOINED)),
                         C.COUNTRY: country}, index=frame.index)


@dataclass
class ExposureResult:
    """Exposure and merit shares per creator group.

    Attributes
    ----------
    k : int
    table : DataFrame
        ``dimension, group, pool_share, exposure_share, merit_share, exposure_to_merit``; the
        shares of each dimension sum to 1 (merit: missing without merit).
    briefs : int
    """

    k: int
    table: pd.DataFrame = field(repr=False)
    briefs: int = 0

    def lines(self) -> list[str]:
        """One line per group, by dimension."""
        out = []
        for row in self.table.itertuples(index=False):
            merit = "merit n/a" if pd.isna(row.merit_share) else f"merit {row.merit_share:6.1%}"
            ratio = "" if pd.isna(row.exposure_to_merit) else f"  exposure/merit {row.exposure_to_merit:.2f}"
            out.append(f"{row.dimension:<8} {row.group:<12} pool {row.pool_share:6.1%}  top-{self.k} exposure "
                       f"{row.exposure_share:6.1%}  {merit}{ratio}")
        return out

    def to_dict(self) -> dict:
        """Flat JSON-ready figures (MLflow metrics: ``exposure.<dimension>.<group>`` and ``merit.``)."""
        out = {}
        for row in self.table.itertuples(index=False):
            out[f"exposure.{row.dimension}.{row.group}"] = float(row.exposure_share)
            if not pd.isna(row.merit_share):
                out[f"merit.{row.dimension}.{row.group}"] = float(row.merit_share)
        return out


def exposure(pool: pd.DataFrame, rank, k: int = DEFAULT_K, merit=None) -> ExposureResult:
    """Exposure share of each creator group in the top-k lists against its share of merit.

    Parameters
    ----------
    pool : DataFrame
        Every ranked (brief, creator) row: ``campaign_id`` and the features of :func:`creator_groups`.
    rank : array-like of int
        Rank of each row within its brief (1 = best; :func:`creatorrank.serving.ranking.within_campaign_rank`).
    k : int
        List size.
    merit : array-like of float, optional
        Merit of each row (the oracle's expected net GMV); without it merit shares are missing.

    Returns
    -------
    ExposureResult
    """
    rank = np.asarray(rank, dtype=np.float64)
    weight = np.where(rank <= k, 1.0 / np.log2(1.0 + rank), 0.0)
    groups = creator_groups(pool)
    codes, uniques = pd.factorize(pool[C.CAMPAIGN_ID].astype(str), sort=False)
    n_briefs = len(uniques)
    m = None if merit is None else np.clip(np.nan_to_num(np.asarray(merit, dtype=np.float64), nan=0.0), 0.0, None)
    tot_w = np.bincount(codes, weights=weight, minlength=n_briefs)
    tot_n = np.bincount(codes, minlength=n_briefs).astype(np.float64)
    tot_m = None if m is None else np.bincount(codes, weights=m, minlength=n_briefs)
    rows = []
    for dim in DIMENSIONS:
        values = groups[dim].to_numpy(dtype=object)
        for g in sorted(pd.unique(values), key=_group_order(dim)):
            mask = values == g
            rows.append({"dimension": dim, "group": str(g),
                         "pool_share": _mean_share(codes, mask.astype(float), tot_n, n_briefs),
                         "exposure_share": _mean_share(codes, np.where(mask, weight, 0.0), tot_w, n_briefs),
                         "merit_share": np.nan if m is None else _mean_share(codes, np.where(mask, m, 0.0), tot_m,
                                                                             n_briefs)})
    table = pd.DataFrame(rows, columns=["dimension", "group", "pool_share", "exposure_share", "merit_share"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = table["exposure_share"] / table["merit_share"].where(table["merit_share"] > 0)
    table["exposure_to_merit"] = ratio
    return ExposureResult(int(k), table, n_briefs)


def _mean_share(codes: np.ndarray, part: np.ndarray, total: np.ndarray, n: int) -> float:
    """Mean over briefs with a positive total of the group's share of that brief's total."""
    got = np.bincount(codes, weights=part, minlength=n)
    ok = total > 0
    return float(np.mean(got[ok] / total[ok])) if ok.any() else float("nan")


def _group_order(dim: str):
    tiers = [n for n, _ in TIERS] + [UNKNOWN]
    if dim == "tier":
        return lambda g: tiers.index(g) if g in tiers else len(tiers)
    return lambda g: (g == UNKNOWN, str(g))


def _short(n: float) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n / 1000:g}k"


def missing_tiers(top_list: pd.DataFrame) -> list[str]:
    """Notes on a top list that holds no creator below a follower tier boundary.

    Parameters
    ----------
    top_list : DataFrame
        The listed rows with ``followers`` (and ``campaign_id``: one note per brief, prefixed
        with its id when the frame holds several briefs).

    Returns
    -------
    list of str
        E.g. ``["no creator under 100k followers in the top 10"]``: the highest tier boundary with
        nobody below it (lower boundaries follow from it); empty when the list reaches the
        lowest tier or holds no follower count at all (unknown is not "big").
    """
    if top_list.empty or FOLLOWERS not in top_list.columns:
        return []
    by = top_list.groupby(C.CAMPAIGN_ID, sort=False, observed=True) if C.CAMPAIGN_ID in top_list.columns else [
        (None, top_list)]
    several = C.CAMPAIGN_ID in top_list.columns and top_list[C.CAMPAIGN_ID].nunique() > 1
    notes = []
    for cid, rows in by:
        f = rows[FOLLOWERS].to_numpy(dtype=np.float64)
        f = f[~np.isnan(f)]
        if len(f) == 0:
            continue
        below = [lo for _, lo in TIERS[1:] if not (f < lo).any()]
        if below:
            text = f"no creator under {_short(max(below))} followers in the top {len(rows)}"
            notes.append(f"campaign {cid}: {text}" if several else text)
    return notes
