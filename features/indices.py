"""Peer percentiles and the seven named 0-100 indices.

Peers
-----
A decision at time ``T`` is compared with its *peers as of the reference month start*
``M`` = the first instant (00:00 UTC) of ``T``'s calendar month. The peers are every
creator who joined before ``M`` (when there are more than :data:`~.specs.PEER_CAP`, the
``PEER_CAP`` of them with the smallest 64-bit BLAKE2b hash of their ``creator_id``: a
fixed, reproducible sample). Each peer's values are computed at ``M`` with the same code
as the decision's, so they use facts known before ``M <= T`` only: peer percentiles are
point-in-time correct, and the peer tables are computed once per month and reused.

Percentile
----------
The mid-rank percentile of ``x`` among peer values ``v`` (missing values left out)::

    100 * (#{v < x} + 0.5 * #{v == x}) / #{v}

It is 50 (:data:`~.specs.NEUTRAL_PERCENTILE`) when there are no peers, and missing when
``x`` is. A peer's own percentile is computed the same way among all peers, itself included,
so a decision at exactly ``M`` gets the same value as its creator's peer row.

Indices
-------
Each index has a recipe (:data:`~.specs.INDEX_RECIPES`): a few catalogue features, each with
a transform: ``+`` (more is better), ``-`` (less is better: the value is negated) or
``centre`` (a peer percentile where typical is best: ``-|x - 50|``). Then

1. each component's transformed value becomes its percentile among the peers' transformed
   values (a missing value counts as 50);
2. the raw index is the plain average of the component percentiles;
3. the index is the percentile of the raw index among the peers' raw indices.

So an index of 80 means "better than about 80% of the creators on the marketplace on
these criteria together, as of this month". Percentiles make the components comparable
without fitted weights or scales, and robust to outliers. The category-influence index
compares with the creators whose primary category is the campaign's category (their
components measured in that category) and is missing without a campaign category.
Authenticity components ``eng_per_view_peer_pct`` and ``eng_per_follower_peer_pct`` are
themselves percentiles among creators of the same follower band
(:data:`~.specs.FOLLOWER_BANDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import specs as S

N_BANDS = len(S.FOLLOWER_BANDS) + 1
# What :meth:`PeerTables.score` reads of a decision's peer-free values.
_COMPONENTS = {f for recipe in S.INDEX_RECIPES.values() for f, _ in recipe}
SCORE_INPUTS = tuple(sorted(
    ({"_band", "_epv", "_epf", "cat_views_365d"} | _COMPONENTS) - {"eng_per_view_peer_pct", "eng_per_follower_peer_pct"}
))


@dataclass
class Distribution:
    """Peer values of each group, as sorted distinct values with their counts.

    Group ``g`` holds the distinct values ``uniq[offsets[g]:offsets[g+1]]``; ``below[k]`` is
    how many of the group's values are smaller than ``uniq[k]``, ``count[k]`` how many equal
    it, and ``size[g]`` the group's number of values. One binary search over the (often
    few) distinct values gives both counts of the percentile formula.
    """

    uniq: np.ndarray
    below: np.ndarray
    count: np.ndarray
    offsets: np.ndarray
    size: np.ndarray

    def percentile(self, x: np.ndarray, parts: list[tuple[int, np.ndarray]] | None = None) -> np.ndarray:
        """Mid-rank percentile of each ``x`` among its group's peers.

        ``parts`` lists ``(group, rows)``; None means every row is in group 0. Rows in no
        part, or in a group without peers, get 50; NaN stays NaN.
        """
        lt = np.zeros(len(x), dtype=np.int64)
        eq = np.zeros(len(x), dtype=np.int64)
        size = np.zeros(len(x), dtype=np.int64)
        for g, rows in parts if parts is not None else [(0, slice(None))]:
            if g < 0 or g >= len(self.size) or self.size[g] == 0:
                continue
            a, b = self.offsets[g], self.offsets[g + 1]
            xs = x[rows]
            i = a + np.searchsorted(self.uniq[a:b], xs, side="left")
            inside = i < b
            j = np.minimum(i, b - 1)
            lt[rows] = np.where(inside, self.below[j], self.size[g])
            eq[rows] = np.where(inside & (self.uniq[j] == xs), self.count[j], 0)
            size[rows] = self.size[g]
        return _pct(lt, eq, size, x)


def partition(groups: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(group, rows)`` for every group present (negative groups left out)."""
    order = np.argsort(groups, kind="stable")
    sg = groups[order]
    cuts = np.flatnonzero(np.diff(sg)) + 1
    return [(int(chunk_g[0]), rows) for rows, chunk_g in zip(np.split(order, cuts), np.split(sg, cuts))
            if len(rows) and chunk_g[0] >= 0]


def _pct(lt: np.ndarray, eq: np.ndarray, n: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The one percentile formula, shared by peers and decisions so ties agree bit for bit."""
    out = np.full(len(lt), S.NEUTRAL_PERCENTILE)
    has = n > 0
    out[has] = 100.0 * (lt[has] + 0.5 * eq[has]) / n[has]
    out[np.isnan(x)] = np.nan
    return out


def rank_within(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, Distribution]:
    """Percentile of every value among the values of its group, and the groups' distribution.

    Rows with a NaN value or a negative group are left out of the distribution (NaN
    percentile for a NaN value, 50 for a negative group). One sort, then run lengths: the
    same counts :meth:`Distribution.percentile` finds by binary search.
    """
    values = np.asarray(values, dtype=np.float64)
    keep = np.flatnonzero(~np.isnan(values) & (groups >= 0))
    v, g = values[keep], groups[keep].astype(np.int64)
    order = np.argsort(v) if n_groups == 1 else np.lexsort((v, g))  # equal values are interchangeable
    sv, sg = v[order], g[order]
    group_first = np.searchsorted(sg, np.arange(n_groups + 1)).astype(np.int64)
    n = len(sv)
    new = np.ones(n, dtype=bool)
    new[1:] = (sg[1:] != sg[:-1]) | (sv[1:] != sv[:-1])
    run_first = np.flatnonzero(new)  # sorted position of each distinct (group, value)
    run_len = np.diff(np.append(run_first, n))
    run_id = np.cumsum(new) - 1
    run_group = sg[run_first]
    below = run_first - group_first[run_group]
    size = np.diff(group_first)
    pct_sorted = _pct(below[run_id], run_len[run_id], size[sg], sv)
    out = np.where(np.isnan(values), np.nan, S.NEUTRAL_PERCENTILE)
    out[keep[order]] = pct_sorted
    offsets = np.searchsorted(run_group, np.arange(n_groups + 1)).astype(np.int64)
    return out, Distribution(sv[run_first], below, run_len, offsets, size)


def transform(x: np.ndarray, how: str) -> np.ndarray:
    """A component's value oriented so that larger is better."""
    if how == "+":
        return x
    if how == "-":
        return -x
    if how == "centre":
        return -np.abs(x - 50.0)
    raise ValueError(f"unknown transform {how!r}")


def _average(parts: list[np.ndarray]) -> np.ndarray:
    total = parts[0].copy()
    for p in parts[1:]:
        total = total + p
    return total / len(parts)


@dataclass
class PeerTables:
    """Every peer distribution of one reference month."""

    n_cat: int
    eng_per_view: Distribution  # groups: follower band
    eng_per_follower: Distribution
    cat_views: Distribution  # groups: primary category
    components: dict[str, list[Distribution]]  # index -> one per recipe component
    raw: dict[str, Distribution]  # index -> peers' raw index values

    @classmethod
    def build(cls, base: dict[str, np.ndarray], cat: np.ndarray, n_cat: int) -> "PeerTables":
        """Distributions from the peers' feature values at the month start.

        Parameters
        ----------
        base : dict of arrays
            The peers' values (engine ``_base`` at ``T = M``, measured in their primary
            category), including ``_epv``, ``_epf`` and ``_band``.
        cat : int array
            Each peer's primary category code (-1 when missing: no category group).
        n_cat : int
            Number of category codes.
        """
        band = base["_band"]
        epv_pct, epv = rank_within(base["_epv"], band, N_BANDS)
        epf_pct, epf = rank_within(base["_epf"], band, N_BANDS)
        values = dict(base, eng_per_view_peer_pct=epv_pct, eng_per_follower_peer_pct=epf_pct)
        _, cat_views = rank_within(base["cat_views_365d"], cat, n_cat)
        components: dict[str, list[Distribution]] = {}
        raw: dict[str, Distribution] = {}
        for index, recipe in S.INDEX_RECIPES.items():
            groups, n_groups = (cat, n_cat) if index == S.CATEGORY_INDEX else (np.zeros(len(band), np.int64), 1)
            pcts, dists = [], []
            for feature, how in recipe:
                pct, dist = rank_within(transform(values[feature], how), groups, n_groups)
                pcts.append(np.where(np.isnan(pct), S.NEUTRAL_PERCENTILE, pct))
                dists.append(dist)
            components[index] = dists
            raw[index] = rank_within(_average(pcts), groups, n_groups)[1]
        return cls(n_cat, epv, epf, cat_views, components, raw)

    def score(self, base: dict[str, np.ndarray], cat: np.ndarray) -> dict[str, np.ndarray]:
        """Peer-percentile features and indices of decisions referring to this month.

        ``cat`` is the decision's category code: >= 0 known, -1 unknown to the market (no
        peers: 50), -2 none (category outputs missing).
        """
        by_band, by_cat = partition(base["_band"]), partition(cat)
        out = {
            "eng_per_view_peer_pct": self.eng_per_view.percentile(base["_epv"], by_band),
            "eng_per_follower_peer_pct": self.eng_per_follower.percentile(base["_epf"], by_band),
        }
        no_cat = cat < -1
        out["cat_views_peer_pct"] = np.where(no_cat, np.nan, self.cat_views.percentile(base["cat_views_365d"], by_cat))
        values = dict(base, **out)
        for index, recipe in S.INDEX_RECIPES.items():
            parts = by_cat if index == S.CATEGORY_INDEX else None
            pcts = []
            for (feature, how), dist in zip(recipe, self.components[index]):
                pct = dist.percentile(transform(values[feature], how), parts)
                pcts.append(np.where(np.isnan(pct), S.NEUTRAL_PERCENTILE, pct))
            idx = self.raw[index].percentile(_average(pcts), parts)
            out[index] = np.where(no_cat, np.nan, idx) if index == S.CATEGORY_INDEX else idx
        return out
