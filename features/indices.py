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

It is missing when there are no peers (nothing to compare with), when ``x`` ties with every
peer (no rank: a market without a single sale puts nobody at "Sales 50"), and when ``x`` is.
A peer's own percentile is computed the same way among all peers, itself included, so a
decision at exactly ``M`` gets the same value as its creator's peer row.

Rate priors
-----------
Each rate of :data:`~.specs.RATES` is ``(k + a) / (n + a + b)`` with a Beta(a, b) prior fitted
to the month's peers' raw rates ``k / n`` (peers with ``n > 0``) by the method of moments
(:func:`fit_prior`); NaN when ``n == 0``. Peers and decisions of a month share the prior.

Indices
-------
Each index has a recipe (:data:`~.specs.INDEX_RECIPES`): a few catalogue features, each with
a transform: ``+`` (more is better), ``-`` (less is better: the value is negated) or
``centre`` (a peer percentile where typical is best: ``-|x - 50|``), and an evidence count
``n`` (``idx_<name>_evidence``, :data:`~.specs.INDEX_EVIDENCE`). Then

1. each component's transformed value becomes its percentile among the transformed values
   of the peers with evidence (a missing value stays missing);
2. the raw index is the average of the component percentiles that have a value (NaN when
   none has, or when ``n == 0``);
3. the raw index is shrunk toward the median raw index ``m`` of the peers (with evidence):
   ``m + (raw - m) * n / (n + k)``, ``k`` from :data:`~.specs.INDEX_SHRINK` (``m`` is 50
   when no peer has evidence);
4. the index is the percentile of the shrunk raw index among the peers' shrunk raw indices.

So an index of 80 means "better than about 80% of the creators on the marketplace with
evidence on these criteria, as of this month"; an index is missing without evidence, and
thin evidence lands near the middle. Percentiles make the components comparable
without fitted weights or scales, and robust to outliers. The category-influence index
compares with the creators whose primary category is the campaign's category (their
components measured in that category) and is missing without a campaign category.
Authenticity components ``eng_per_view_peer_pct`` and ``eng_per_follower_peer_pct`` are
themselves percentiles among creators of the same follower band
(:data:`~.specs.FOLLOWER_BANDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from . import specs as S
from .catalogue.base import successes, trials

N_BANDS = len(S.FOLLOWER_BANDS) + 1


# What :meth:`PeerTables.score` reads of a decision's peer-free values.
_COMPONENTS = {f for recipe in S.INDEX_RECIPES.values() for f, _ in recipe}
_PRODUCED = {"eng_per_view_peer_pct", "eng_per_follower_peer_pct", *S.RATES}  # made by score()
SCORE_INPUTS = tuple(sorted(
    ({"_band", "_epv", "_epf", "cat_views_365d"} | _COMPONENTS | {S.evidence_column(i) for i in S.INDEX_NAMES}
     | {successes(r) for r in S.RATES} | {trials(r) for r in S.RATES}) - _PRODUCED
))
# What :meth:`PeerTables.score_category` reads: the category index's components and evidence.
CATEGORY_INPUTS = frozenset({"cat_views_365d", S.evidence_column(S.CATEGORY_INDEX),
                             *(f for f, _ in S.INDEX_RECIPES[S.CATEGORY_INDEX])})


def fit_prior(k: np.ndarray, n: np.ndarray, fallback: tuple[float, float]) -> tuple[float, float]:
    """Beta(a, b) fitted to the raw rates ``k / n`` of the peers with ``n > 0``.

    Method of moments: mean ``m`` and population variance ``v`` (exact sums, so any
    implementation gets the same bits), strength ``a + b = m (1 - m) / v - 1`` clipped to
    :data:`~.specs.PRIOR_STRENGTH` (the upper limit when ``v == 0``), ``a = m (a + b)``.
    ``fallback`` when fewer than :data:`~.specs.MIN_PRIOR_PEERS` peers have trials.
    """
    has = n > 0
    r = k[has] / n[has]
    if r.size < S.MIN_PRIOR_PEERS:
        return fallback
    m = math.fsum(r) / r.size
    d = r - m
    v = math.fsum(d * d) / r.size
    lo, hi = S.PRIOR_STRENGTH
    strength = hi if v <= 0.0 else min(max(m * (1.0 - m) / v - 1.0, lo), hi)
    return (m * strength, (1.0 - m) * strength)


def apply_prior(k: np.ndarray, n: np.ndarray, prior: tuple[float, float]) -> np.ndarray:
    """``(k + a) / (n + a + b)``, NaN where ``n == 0`` (no evidence)."""
    a, b = prior
    out = np.full(len(k), np.nan)
    ok = n > 0
    out[ok] = (k[ok] + a) / (n[ok] + a + b)
    return out


def combine(pcts: list[np.ndarray]) -> np.ndarray:
    """Mean of the component percentiles that have a value, left to right; NaN when none has."""
    total = np.zeros(len(pcts[0]))
    count = np.zeros(len(pcts[0]))
    for p in pcts:
        ok = ~np.isnan(p)
        total = total + np.where(ok, p, 0.0)  # adding 0.0 is exact: the sum of the present ones
        count += ok
    out = np.full(len(total), np.nan)
    has = count > 0
    out[has] = total[has] / count[has]
    return out


def shrink(raw: np.ndarray, evidence: np.ndarray, median: np.ndarray, k: float) -> np.ndarray:
    """``median + (raw - median) * n / (n + k)``; NaN without evidence (``n`` 0 or missing)."""
    n = np.where(np.isnan(evidence), 0.0, evidence)
    out = median + (raw - median) * (n / (n + k))
    return np.where(n > 0, out, np.nan)


def group_medians(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the non-NaN values of each group (NaN if none)."""
    out = np.full(n_groups, np.nan)
    keep = ~np.isnan(values) & (groups >= 0)
    v, g = values[keep], groups[keep]
    order = np.lexsort((v, g))
    v, g = v[order], g[order]
    first = np.searchsorted(g, np.arange(n_groups + 1))
    size = np.diff(first)
    has = np.flatnonzero(size > 0)
    lo = first[has] + (size[has] - 1) // 2
    hi = first[has] + size[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


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
        part, or in a group without peers, get NaN (nothing to compare with); NaN stays NaN.
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
    out = np.full(len(lt), np.nan)  # no peers: nothing to compare with
    # A value tied with every peer has no rank either: "50" would claim a position that no
    # evidence sets (a market without a single sale would put everyone at Sales 50).
    has = (n > 0) & (eq < n)
    out[has] = 100.0 * (lt[has] + 0.5 * eq[has]) / n[has]
    out[np.isnan(x)] = np.nan
    return out


def rank_within(values: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, Distribution]:
    """Percentile of every value among the values of its group, and the groups' distribution.

    Rows with a NaN value or a negative group are left out of the distribution (NaN
    percentile for a NaN value or a negative group). One sort, then run lengths: the
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
    out = np.full(len(values), np.nan)
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


@dataclass
class PeerTables:
    """Every peer distribution of one reference month."""

    n_cat: int
    priors: dict[str, tuple[float, float]]  # rate -> fitted Beta(a, b)
    eng_per_view: Distribution  # groups: follower band
    eng_per_follower: Distribution
    cat_views: Distribution  # groups: primary category
    components: dict[str, list[Distribution]]  # index -> one per recipe component
    medians: dict[str, np.ndarray]  # index -> median raw index per group
    raw: dict[str, Distribution]  # index -> peers' shrunk raw index values

    @classmethod
    def build(cls, base: dict[str, np.ndarray], cat: np.ndarray, n_cat: int) -> "PeerTables":
        """Distributions from the peers' feature values at the month start.

        Parameters
        ----------
        base : dict of arrays
            The peers' peer-free values (engine ``_base`` at ``T = M``, measured in their
            primary category), including ``_epv``, ``_epf``, ``_band`` and the rates' raw
            successes and trials.
        cat : int array
            Each peer's primary category code (-1 when missing: no category group).
        n_cat : int
            Number of category codes.
        """
        priors = {r: fit_prior(base[successes(r)], base[trials(r)], fallback) for r, fallback in S.RATES.items()}
        rates = {r: apply_prior(base[successes(r)], base[trials(r)], prior) for r, prior in priors.items()}
        band = base["_band"]
        epv_pct, epv = rank_within(base["_epv"], band, N_BANDS)
        epf_pct, epf = rank_within(base["_epf"], band, N_BANDS)
        values = dict(base, **rates, eng_per_view_peer_pct=epv_pct, eng_per_follower_peer_pct=epf_pct)
        cat_evidence = base[S.evidence_column(S.CATEGORY_INDEX)]
        _, cat_views = rank_within(base["cat_views_365d"], np.where(cat_evidence > 0, cat, -1), n_cat)
        components: dict[str, list[Distribution]] = {}
        medians: dict[str, np.ndarray] = {}
        raw: dict[str, Distribution] = {}
        for index, recipe in S.INDEX_RECIPES.items():
            groups, n_groups = (cat, n_cat) if index == S.CATEGORY_INDEX else (np.zeros(len(band), np.int64), 1)
            evidence = values[S.evidence_column(index)]
            groups = np.where(evidence > 0, groups, -1)  # peers without evidence are no one's peers
            pcts, dists = [], []
            for feature, how in recipe:
                pct, dist = rank_within(transform(values[feature], how), groups, n_groups)
                pcts.append(pct)  # NaN for peers without evidence (group -1)
                dists.append(dist)
            components[index] = dists
            average = combine(pcts)
            medians[index] = group_medians(average, groups, n_groups)
            shrunk = shrink(average, evidence, medians[index][np.maximum(groups, 0)], S.INDEX_SHRINK[index])
            raw[index] = rank_within(shrunk, groups, n_groups)[1]
        return cls(n_cat, priors, epv, epf, cat_views, components, medians, raw)

    def score(self, base: dict[str, np.ndarray], cat: np.ndarray) -> dict[str, np.ndarray]:
        """Rates, peer-percentile features and indices of decisions referring to this month.

        ``cat`` is the decision's category code: >= 0 known, -1 unknown to the market (no
        peers), -2 none (category outputs missing).
        """
        out = {r: apply_prior(base[successes(r)], base[trials(r)], prior) for r, prior in self.priors.items()}
        by_band = partition(base["_band"])
        out["eng_per_view_peer_pct"] = self.eng_per_view.percentile(base["_epv"], by_band)
        out["eng_per_follower_peer_pct"] = self.eng_per_follower.percentile(base["_epf"], by_band)
        values = dict(base, **out)
        for index in S.INDEX_RECIPES:
            if index != S.CATEGORY_INDEX:
                out[index] = self._index(index, values, None, np.full(len(cat), self.medians[index][0]))
        out.update(self.score_category(values, cat))
        return out

    def score_category(self, values: dict[str, np.ndarray], cat: np.ndarray) -> dict[str, np.ndarray]:
        """The outputs that depend on the decision's category: ``cat_views_peer_pct`` and the category index.

        Apart from :meth:`score` so a brief can be scored against a snapshot of everything else
        (:mod:`.engine` reuses the brief-independent features of an as-of).
        """
        # reads only CATEGORY_INPUTS of ``values`` (the engine caches the outputs on that basis)
        index, no_cat, by_cat = S.CATEGORY_INDEX, cat < -1, partition(cat)
        evidence = values[S.evidence_column(index)]
        out = {"cat_views_peer_pct": np.where(no_cat | ~(evidence > 0), np.nan,
                                              self.cat_views.percentile(values["cat_views_365d"], by_cat))}
        medians = self.medians[index]
        known = (cat >= 0) & (cat < len(medians))
        median = np.where(known, medians[np.clip(cat, 0, max(len(medians) - 1, 0))] if len(medians) else 0.0, np.nan)
        out[index] = np.where(no_cat, np.nan, self._index(index, values, by_cat, median))
        return out

    def _index(self, index: str, values: dict[str, np.ndarray], parts, median: np.ndarray) -> np.ndarray:
        """One index: its components' peer percentiles averaged, shrunk by evidence, ranked among peers."""
        pcts = [dist.percentile(transform(values[feature], how), parts)
                for (feature, how), dist in zip(S.INDEX_RECIPES[index], self.components[index])]
        shrunk = shrink(combine(pcts), values[S.evidence_column(index)], median, S.INDEX_SHRINK[index])
        return self.raw[index].percentile(shrunk, parts)
