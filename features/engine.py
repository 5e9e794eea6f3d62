"""Point-in-time feature engine: set-based, deterministic, fast.

How it works
------------
Every fact of the raw tables becomes an *event* on a per-creator time line at the moment
the data contract says it becomes known (a post at ``posted_at``; its 7-day counts at
``posted_at + 7 days``; an answer at ``responded_at``; an ignored invitation at
``invited_at + 7 days``; a missed deadline at ``due_at``; a refund at ``refunded_at``...).
The events are sorted by (creator, time) (linear-time radix passes; ids are matched with
Arrow hash lookups) and each stream keeps exact int64 prefix sums of its columns.

For a decision (creator, ``T``), "facts known strictly before ``T``" are the events of
that creator before the first event at or after ``T``: one vectorised binary search per
stream and window edge (:func:`.arrays.search_ranges`, each edge searched between edges
already found) gives that position, and a window ``[T - w, T)`` is the difference of two
prefix sums. Nothing is joined row by row, so 1M decisions over 10M posts cost a few dozen
vectorised searches, not a 100M-row range join. Medians are exact: the few values inside
each decision's window are gathered and sorted at once, in bounded chunks.

Which values are computed is not written here: every feature declares its computation in its
family's module (:mod:`creatorrank.features.catalogue`), a one-liner over a
:class:`.window.Window` that holds the batch's window edges and sums, each computed once and
only when a feature reads it. This module builds the streams and runs those declarations.

Peer percentiles, the rates' empirical-Bayes priors and the named indices compare a
decision with all creators as of the start of its month; see
:mod:`creatorrank.features.indices`. The peer-free pass (``_base``) therefore keeps each rate's
raw successes and trials and each index's evidence count; the month's peer tables turn them
into rates and indices (NaN where there is no evidence).

Performance
-----------
Two threads (:data:`PREPARE_THREADS`): the posts, orders and invitation streams are built
side by side, then two halves of the decisions and the months' peer tables; numpy's sorts
and gathers and Arrow's hash lookups release the GIL. Results do not depend on it: every
row is computed independently. The streams of 10M posts, 10M orders and 1M invitations
take about 1.3 GB; a market prepared inside :func:`build_features` is freed before the
output frame is assembled. To serve many calls, :func:`prepare` once and
pass the :class:`PreparedMarket` (it also caches each month's peer tables).

Public API
----------
:func:`prepare`, :func:`build_features`, :func:`training_matrix`, :func:`snapshot`,
:func:`materialize`.

Snapshots
---------
For decisions of one as-of only the category features and the campaign-match features read
the brief (:func:`_brief_keys` finds them); everything else is a function of (creator,
as-of). A kept :class:`PreparedMarket` therefore holds, per as-of (at most
:data:`SNAPSHOT_AS_OFS`), those brief-independent values of every creator scored so far
(:func:`materialize`), and the next brief of that as-of computes only its own columns and the
category's peer outputs. 77 columns of 8 bytes (75 numeric, two object columns of pointers to
the market's category names) and the codes: 624 bytes a creator, ~60 MB for 100k creators
at one as-of, at most :data:`SNAPSHOT_AS_OFS` times that.

The category features and the category's peer outputs depend on (creator, as-of, category)
only (:func:`_category_keys`): the market also keeps them per (as-of, category) for the
creators scored so far (:func:`_category_sources`; 8 columns and the codes, 72 bytes a
creator, at most :data:`CATEGORY_SNAPSHOTS` pairs), so a brief of a category already seen
at that as-of computes only its country and budget features and the category match. The
output frame is assembled once: the numeric features gathered from the snapshots straight
into one float64 block (:func:`_feature_frame`).
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from ..core import constants as C
from ..core.arrow import arrow_strings as _strings
from ..core.arrow import positions as _lookup
from ..core.arrow import rows_of as _rows_of
from ..core.errors import ConfigError
from ..core.timeutil import to_micros as _us
from ..core.timeutil import to_utc
from . import catalogue
from . import specs as S
from .arrays import search_ranges as _search
from .indices import CATEGORY_INPUTS, SCORE_INPUTS, PeerTables
from .window import DAY, MONDAY0, NO_CAT as _NO_CAT, UNKNOWN_CAT as _UNKNOWN_CAT, WEEK, Window

IGNORED_AFTER = C.IGNORED_AFTER_DAYS * DAY
_I64_MAX = np.iinfo(np.int64).max
_NAT = np.iinfo(np.int64).min  # NaT as int64
PREPARE_THREADS = 2  # at most: the posts, orders and invitations streams are built side by side


def prepare_threads() -> int:
    """Threads for preparing a market: :data:`PREPARE_THREADS`, fewer on a smaller machine.

    Results do not depend on it: the threads build independent streams and rows.
    """
    return max(1, min(PREPARE_THREADS, os.cpu_count() or 1))
_STRING = pd.StringDtype("pyarrow")
# Every peer-free value, declared with its feature in features/catalogue/: name -> f(window).
_COMPUTE = catalogue.computations()
_CATEGORICAL = {s.name for s in S.CATALOGUE if s.kind == S.CATEGORICAL}
_FEATURE_SET = frozenset(S.feature_names())
_RATE_INPUTS = {k for f in catalogue.FEATURES if f.rate is not None
                for k in (catalogue.successes(f.name), catalogue.trials(f.name))}
_PEER_KEYS = frozenset(SCORE_INPUTS)  # what the peer pass computes: only what the peer tables read
assert _PEER_KEYS <= set(_COMPUTE), f"peer inputs without a computation: {sorted(_PEER_KEYS - set(_COMPUTE))}"
SNAPSHOT_AS_OFS = 4  # as-of times whose creator-level values a market keeps (least recently used dropped)
_BRIEF_ATTRS = ("cat", "cat_name", "country", "budget")  # the Window's per-decision campaign attributes
# Peer outputs that read the decision's category (PeerTables.score partitions by it); every
# other output of the peer pass depends on the creator and the as-of only.
_CAT_PEER_OUTPUTS = ("cat_views_peer_pct", S.CATEGORY_INDEX)
# Brief-independent Window quantities the brief's own values read (the shares' denominators,
# the creator's price and category): kept in the snapshot under "@name" and handed to the
# brief's Window, so it searches the creators' post and order streams no more.
_WINDOW_SEEDS = ("posts_365d", "views365", "gmv365", "rate_card", "primary")
_SEED = "@"


# --------------------------------------------------------------------------- event streams


class _Stream:
    """Events sorted by (segment, time), with prefix sums.

    Parameters
    ----------
    seg : int64 array
        Segment (creator, or creator x category) of each event, ascending.
    t : int64 array
        Event time in microseconds, ascending within a segment.
    n_seg : int
        Number of segments; segment ``n_seg`` is an always-empty sentinel for unknown keys.
    ints : dict
        Integer columns, summed exactly with int64 prefix sums.
    vals : dict
        Columns kept as they are (medians, maxima, latest values).
    """

    def __init__(self, seg, t, n_seg, ints=None, vals=None):
        self.t = np.ascontiguousarray(t, dtype=np.int64)
        counts = np.bincount(np.asarray(seg, dtype=np.int64), minlength=n_seg + 2)[: n_seg + 2]
        self.starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)[: n_seg + 2]
        self.ip = {}
        for k, v in (ints or {}).items():
            prefix = np.zeros(len(v) + 1, dtype=_prefix_dtype(v))
            np.cumsum(v, dtype=prefix.dtype, out=prefix[1:])
            self.ip[k] = prefix
        self.vals = dict(vals or {})

    def bounds(self, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last event index of each row's segment."""
        return self.starts[seg], self.starts[seg + 1]

    def pos(self, lo, hi, q) -> np.ndarray:
        """Index of the first event at or after ``q`` (events before it are known at ``q``)."""
        return _search(self.t, lo, hi, q)

    def isum(self, name, a, b) -> np.ndarray:
        """Exact sum of integer column ``name`` over events ``[a, b)``."""
        p = self.ip[name]
        return (p[b] - p[a]).astype(np.float64)

    def value(self, name, i) -> np.ndarray:
        """Integer column ``name`` at events ``i`` (read back from its prefix sums)."""
        p = self.ip[name]
        return p[i + 1] - p[i]


# --------------------------------------------------------------------------- preparation


def _month_floor(t: np.ndarray) -> np.ndarray:
    """First instant (00:00 UTC) of each time's calendar month, in microseconds."""
    return t.astype("datetime64[us]").astype("datetime64[M]").astype("datetime64[us]").view(np.int64)


def _peer_hash(ids) -> np.ndarray:
    """A stable 64-bit hash of each creator id: the peer sample's order (see specs.PEER_CAP)."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8).digest(), "big") for i in ids],
        dtype=np.uint64,
    )


@dataclass
class PreparedMarket:
    """The event streams of one set of tables, ready for any number of decisions.

    Build it once with :func:`prepare` and pass it to :func:`build_features` instead of the
    tables when scoring many shards of decisions. It holds numpy arrays only (picklable).

    Attributes
    ----------
    until : int or None
        Events at or after this time (µs) were left out; decisions after it are refused.
    """

    creator_ids: pd.Index
    joined: np.ndarray
    country: np.ndarray
    primary: np.ndarray  # category code, -1 when missing
    primary_name: np.ndarray  # object array of strings / None
    rate_card: np.ndarray
    categories: list[str]
    pairs: np.ndarray  # sorted creator_code * n_cat + cat values with any post or categorised order
    posts: _Stream
    post_cat: _Stream
    orders: _Stream
    order_cat: _Stream
    refunds: _Stream
    invites: _Stream
    answers: _Stream
    fees: _Stream
    peer_order: np.ndarray  # creator codes by (hash, id)
    until: int | None = None
    timings: dict = field(default_factory=dict, repr=False)  # seconds per preparation step
    _peer_cache: dict = field(default_factory=dict, repr=False)
    # as_of (µs) -> (sorted creator codes, their brief-independent values): see :func:`materialize`
    _snapshots: dict = field(default_factory=dict, repr=False)
    # (as_of, category code) -> (sorted creator codes, their category values): see :func:`_category_sources`
    _cat_snapshots: dict = field(default_factory=dict, repr=False)
    _id_array: object = field(default=None, repr=False)  # creator_ids as Arrow strings, made on first use

    @property
    def n_creators(self) -> int:
        return len(self.creator_ids)

    def pair_segments(self, code: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Segment of each (creator, category) in the category streams (sentinel if absent)."""
        n_cat = max(len(self.categories), 1)
        key = code.astype(np.int64) * n_cat + cat
        idx = np.searchsorted(self.pairs, key)
        ok = (code < self.n_creators) & (cat >= 0) & (idx < len(self.pairs))
        ok[ok] = self.pairs[idx[ok]] == key[ok]
        return np.where(ok, idx, len(self.pairs))


def _take(values: np.ndarray, idx: np.ndarray, missing) -> np.ndarray:
    """``values[idx]``, ``missing`` where ``idx`` is negative (also when ``values`` is empty)."""
    out = np.full(len(idx), missing, dtype=np.result_type(values, np.min_scalar_type(missing)))
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def _radix_by(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``order`` stably re-sorted by non-negative integer ``keys``, 16 bits per pass.

    numpy sorts 16-bit keys with a linear-time stable radix sort; two passes cover
    4 billion creators, so sorting 10M events by creator stays linear. 32-bit working
    copies halve the memory traffic of the gathers between passes.
    """
    if len(order) == 0:
        return order
    top = int(keys.max())
    narrow = top < 2**32 and len(order) < 2**31
    k = keys[order].astype(np.uint32 if narrow else np.int64)
    work = order.astype(np.int32) if narrow else order
    shift = 0
    while True:
        step = np.argsort(((k >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        work, k = work[step], k[step]
        shift += 16
        if top >> shift == 0:
            return work.astype(np.int64)


def _event_order(seg: np.ndarray, t: np.ndarray, tie: np.ndarray | None = None):
    """Sort events by (segment, time[, tie]).

    Time first (skipped when the rows already are in time order, as exports usually
    are), then a stable radix pass by segment. Rows equal on (segment, time) are ordered by
    ``tie`` when given; rows equal on all keys are interchangeable for every feature.

    Returns
    -------
    order, seg, t, tie : arrays
        The permutation and the three inputs in sorted order (``tie`` None when not given).
    """
    n = len(t)
    order = np.arange(n) if n < 2 or bool(np.all(t[1:] >= t[:-1])) else np.argsort(t)
    order = _radix_by(seg, order)
    s, tt = seg[order], t[order]
    if tie is None:
        return order, s, tt, None
    f = tie[order]
    same = (s[1:] == s[:-1]) & (tt[1:] == tt[:-1])
    if (same & (f[1:] < f[:-1])).any():
        group = np.cumsum(np.concatenate(([True], ~same))) - 1
        pos = np.flatnonzero(np.bincount(group)[group] > 1)  # rows of tied groups only
        order[pos] = order[pos[np.lexsort((f[pos], group[pos]))]]
        f[pos] = tie[order[pos]]  # segment and time are equal within a tied group
    return order, s, tt, f


def _bool(series) -> np.ndarray:
    return pd.Series(series).astype("boolean").fillna(False).to_numpy(dtype=bool)


def _int(series) -> np.ndarray:
    return pd.Series(series).to_numpy(dtype=np.int64, na_value=0)


def _prefix_dtype(values: np.ndarray):
    """int32 prefix sums when the total fits (counts), else int64 (views, cents)."""
    total = int(values.sum(dtype=np.int64)) if len(values) else 0
    low = int(values.min()) if len(values) else 0
    return np.int32 if 0 <= low and total < 2**31 else np.int64


def _post_streams(P: pd.DataFrame, ids, categories, cutoff: int):
    """Posts by (creator, time, followers), plus what the category stream and orders need."""
    n_creators, n_cat = len(ids), max(len(categories), 1)
    post_cat = _lookup(P[C.CATEGORY], categories).astype(np.int32)  # per table row: orders use it
    seg, t = _lookup(P[C.CREATOR_ID], ids), _us(P[C.POSTED_AT])
    keep = np.flatnonzero((seg >= 0) & (t < cutoff))
    seg, t = seg[keep], t[keep]
    order, seg, t, f = _event_order(seg, t, _int(P[C.FOLLOWERS_AT_POST])[keep])
    rows = keep[order]
    del keep, order
    same = np.zeros(len(seg), dtype=bool)
    same[1:] = seg[1:] == seg[:-1]
    week = (t - MONDAY0) // WEEK
    first_in_week = ~same
    first_in_week[1:] |= week[1:] != week[:-1]
    del week
    del same
    jump = _follower_jumps(seg, f)
    v = _int(P[C.VIEWS_7D])[rows]
    e = _int(P[C.LIKES_7D]) + _int(P[C.COMMENTS_7D]) + _int(P[C.SHARES_7D])  # added in table order: one gather
    e = np.minimum(e[rows], v)  # engagement counts at most the post's views: glitches stay bounded
    with_f = f > 0
    cat = post_cat[rows]
    has_cat = np.flatnonzero(cat >= 0)
    pairs = (seg[has_cat] * n_cat + cat[has_cat], t[has_cat], v[has_cat])
    posts = _Stream(
        seg, t, n_creators,
        ints={"shop": _bool(P[C.IS_SHOPPABLE])[rows], "v": v, "e": e, "f": f, "week1": first_in_week,
              "vf": np.where(with_f, v, 0), "ef": np.where(with_f, e, 0), "hasv": v > 0},
        vals={"jump": jump},
    )
    return posts, pairs, post_cat


def _follower_jumps(seg: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Each post's follower jump, padded with one ``-inf`` for :func:`.arrays.window_max`.

    A post with followers is compared with the median followers of the creator's previous
    ``JUMP_BASELINE_POSTS`` posts with followers (fewer when there are fewer; ``-inf``, no
    jump, when there is none); posts with 0 followers are neither baselines nor jumps.
    """
    depth = S.JUMP_BASELINE_POSTS
    jump = np.full(len(f) + 1, -np.inf)
    nz = np.flatnonzero(f > 0)
    fz, sz = f[nz].astype(np.float64), seg[nz]
    run_first = np.flatnonzero(np.concatenate(([True], sz[1:] != sz[:-1]))) if len(nz) else np.zeros(0, np.int64)
    before = np.arange(len(nz)) - np.repeat(run_first, np.diff(np.append(run_first, len(nz))))
    count = np.minimum(before, depth)  # previous posts with followers of the same creator, at most depth
    prev = np.full((depth, len(nz)), np.inf)  # row j-1: the j-th previous post with followers (inf: none)
    for j in range(1, depth + 1):
        prev[j - 1, j:] = np.where(count[j:] >= j, fz[:-j], np.inf)
    for p in range(depth):  # odd-even transposition sort of the few rows: inf (none) ends last
        for r in range(p % 2, depth - 1, 2):
            lo, hi = np.minimum(prev[r], prev[r + 1]), np.maximum(prev[r], prev[r + 1])
            prev[r], prev[r + 1] = lo, hi
    has = np.flatnonzero(count > 0)
    c = count[has]
    baseline = (prev[(c - 1) // 2, has] + prev[c // 2, has]) / 2.0
    jump[nz[has]] = np.minimum(fz[has] / baseline, S.JUMP_CAP)
    return jump


def _order_streams(O, campaigns, ids, categories, cutoff: int):
    """Orders by (creator, time) in integer cents and refunds by (creator, refunded_at).

    Also returns what each sorted order's category comes from: its table row (to find its
    post, matched separately) and its campaign's category code (-1 if none); the post's
    category wins, resolved once the posts are prepared.
    """
    n_creators = len(ids)
    seg, t = _lookup(O[C.CREATOR_ID], ids), _us(O[C.ORDERED_AT])
    keep = np.flatnonzero((seg >= 0) & (t < cutoff))
    order, seg, t, _ = _event_order(seg[keep], t[keep])
    order = keep[order]
    del keep
    g = np.round(pd.Series(O[C.GMV_USD]).to_numpy(np.float64)[order] * S.CENTS_PER_USD).astype(np.int64)  # cents
    camp = pd.Series(O[C.CAMPAIGN_ID]).notna().to_numpy()[order]
    orders = _Stream(seg, t, n_creators, ints={"g": g, "gc": np.where(camp, g, 0), "go": np.where(camp, 0, g)})
    del camp
    # Ids are looked up in table order, then follow the sort: cheaper than reordering strings.
    campaign_cat = _lookup(campaigns[C.CATEGORY], categories)
    via_campaign = _lookup(O[C.CAMPAIGN_ID], _strings(campaigns[C.CAMPAIGN_ID]))[order]  # few campaigns: hash them
    by_campaign = _take(campaign_cat, via_campaign, -1).astype(np.int32)
    del via_campaign
    r = _us(O[C.REFUNDED_AT])[order]
    refunded = np.flatnonzero((r != _NAT) & (r < cutoff))
    _, rseg, rt, _ = _event_order(seg[refunded], r[refunded])
    refunds = _Stream(rseg, rt, n_creators)
    return orders, refunds, (seg, t, g, order, by_campaign)


def _order_pairs(sources, post_of_order: np.ndarray, post_cat: np.ndarray, n_cat: int):
    """(creator x category key, time, cents) of every order with a category.

    ``post_of_order`` is the post row of each order in table order (-1 when none).
    """
    seg, t, g, order, by_campaign = sources
    via_post = post_of_order[order]
    cat = _take(post_cat, via_post, -1)
    cat = np.where(cat >= 0, cat, by_campaign)  # a post without a category falls back too
    has = np.flatnonzero(cat >= 0)
    return seg[has] * n_cat + cat[has], t[has], g[has]


def _category_streams(post_pairs, order_pairs, n_keys: int):
    """Streams keyed by (creator, category): only the pairs that occur become segments.

    Both inputs are already in time order within a creator, so one stable radix pass by pair
    keeps time order within each pair.
    """
    post_key, order_key = post_pairs[0], order_pairs[0]
    if n_keys <= 50_000_000:  # a dense key table: linear time
        present = np.bincount(post_key, minlength=n_keys)[:n_keys] > 0
        present |= np.bincount(order_key, minlength=n_keys)[:n_keys] > 0
        pairs = np.flatnonzero(present)  # sorted (creator, category) keys that occur
        index = np.cumsum(present) - 1  # key -> segment, for the keys that occur
        pseg, gseg = index[post_key], index[order_key]
    else:
        pairs = np.unique(np.concatenate((post_key, order_key)))
        pseg, gseg = np.searchsorted(pairs, post_key), np.searchsorted(pairs, order_key)
    po = _radix_by(pseg, np.arange(len(pseg)))
    post_cat = _Stream(pseg[po], post_pairs[1][po], len(pairs), ints={"v": post_pairs[2][po]})
    go = _radix_by(gseg, np.arange(len(gseg)))
    order_cat = _Stream(gseg[go], order_pairs[1][go], len(pairs), ints={"g": order_pairs[2][go]})
    return pairs, post_cat, order_cat


INVITATION_COLUMNS = ("received", "resolved", "within7", "ignored", "answered", "accepted", "c_resolved",
                      "delivered", "on_time", "first_pass")


def _invitation_streams(I: pd.DataFrame, ids, cutoff: int):
    """One event per invitation fact, at the moment the contract makes it known; plus the
    answers (hours to answer) and accepted fees, by (creator, responded_at)."""
    n_creators = len(ids)
    seg = _lookup(I[C.CREATOR_ID], ids)
    ok = seg >= 0
    seg = seg[ok]
    a, r = _us(I[C.INVITED_AT])[ok], _us(I[C.RESPONDED_AT])[ok]
    d, dv = _us(I[C.DUE_AT])[ok], _us(I[C.DELIVERED_AT])[ok]
    acc, afp = _bool(I[C.ACCEPTED])[ok], _bool(I[C.APPROVED_FIRST_PASS])[ok]
    fee = pd.Series(I[C.FEE_USD]).to_numpy(np.float64, na_value=np.nan)[ok]
    has_r, has_d, has_v = r != _NAT, d != _NAT, dv != _NAT
    w = a + IGNORED_AFTER
    in7 = has_r & (r <= w)  # answered within 7 days
    in_time = has_v & (~has_d | (dv <= d))  # delivered by the due date (or without one)
    every = np.ones(len(seg), dtype=bool)
    events = [  # (which invitations, when, {column: value})
        (every, a, {"received": 1}),
        (every, np.where(in7, r, w), {"resolved": 1, "within7": in7}),  # answered in 7 days, else 7 days old
        (~in7, w, {"ignored": 1}),  # unanswered after 7 days: ignored from then on ...
        (has_r & ~in7, r, {"ignored": -1}),  # ... until a late answer comes
        (has_r, r, {"answered": 1, "accepted": acc}),
        # a commitment is settled by an on-time delivery, else when its due date passes
        (acc & (has_v | has_d), np.where(in_time, dv, d), {"c_resolved": 1}),
        (acc & has_v, dv, {"delivered": 1, "on_time": in_time, "first_pass": afp}),
    ]
    eseg, et, cols = [], [], {k: [] for k in INVITATION_COLUMNS}
    for mask, when, values in events:
        m = np.flatnonzero(mask & (when < cutoff))
        eseg.append(seg[m])
        et.append(when[m])
        for k in INVITATION_COLUMNS:
            cols[k].append(np.broadcast_to(np.asarray(values.get(k, 0), dtype=np.int8), mask.shape)[m])
    eseg, et = np.concatenate(eseg), np.concatenate(et)
    eo, eseg, et, _ = _event_order(eseg, et)
    invites = _Stream(eseg, et, n_creators, ints={k: np.concatenate(v)[eo] for k, v in cols.items()})
    m = np.flatnonzero(has_r & (r < cutoff))
    ao, aseg, at, _ = _event_order(seg[m], r[m])
    answers = _Stream(aseg, at, n_creators, vals={"h": (at - a[m][ao]) / 3.6e9})
    m = np.flatnonzero(has_r & acc & ~np.isnan(fee) & (r < cutoff))
    fo, fseg, ft, _ = _event_order(seg[m], r[m])
    fees = _Stream(fseg, ft, n_creators, vals={"fee": fee[m][fo]})
    return invites, answers, fees


def prepare(tables: dict[str, pd.DataFrame], until=None) -> PreparedMarket:
    """Build the event streams of ``tables`` (see the module docstring).

    Parameters
    ----------
    tables : dict of DataFrame
        The five clean contract tables (:func:`creatorrank.data.validate.load_market`).
    until : timestamp, optional
        Leave out events at or after ``until`` (they cannot matter to decisions at or
        before it); a speed-up for one-off snapshots.

    Returns
    -------
    PreparedMarket
        ``timings`` holds the seconds of each step.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    clock = [started]

    def lap(label):
        now = time.perf_counter()
        timings[label] = now - clock[0]
        clock[0] = now

    until_us = None if until is None else int(_us(pd.Series([pd.Timestamp(until)]))[0])
    cutoff = _I64_MAX if until_us is None else until_us
    creators = tables[C.CREATORS].sort_values(C.CREATOR_ID, kind="stable").reset_index(drop=True)
    ids = pa.array(creators[C.CREATOR_ID].astype(object).to_numpy(), type=pa.large_string())
    cats = set()
    for frame, col in ((tables[C.POSTS], C.CATEGORY), (tables[C.CAMPAIGNS], C.CATEGORY), (creators, C.PRIMARY_CATEGORY)):
        cats.update(pd.Series(frame[col]).dropna().astype(str).unique().tolist())
    categories = sorted(cats)
    lap("creators")
    # Posts, orders and invitations are independent: two threads (numpy sorts and gathers
    # and Arrow lookups release the GIL), so a 2-core machine prepares in about half the time.
    with ThreadPoolExecutor(max_workers=prepare_threads()) as pool:
        posts_job = pool.submit(_post_streams, tables[C.POSTS], ids, categories, cutoff)
        orders_job = pool.submit(_order_streams, tables[C.ORDERS], tables[C.CAMPAIGNS], ids, categories, cutoff)
        post_of_order_job = pool.submit(_rows_of, tables[C.ORDERS][C.POST_ID], tables[C.POSTS][C.POST_ID])
        invites_job = pool.submit(_invitation_streams, tables[C.INVITATIONS], ids, cutoff)
        posts, post_pairs, post_cat = posts_job.result()
        orders, refunds, order_sources = orders_job.result()
        post_of_order = post_of_order_job.result()
        invites, answers, fees = invites_job.result()
    lap("events")
    order_pairs = _order_pairs(order_sources, post_of_order, post_cat, max(len(categories), 1))
    del order_sources, post_of_order, post_cat
    pairs, post_cat_stream, order_cat_stream = _category_streams(post_pairs, order_pairs,
                                                                 len(ids) * max(len(categories), 1))
    del post_pairs, order_pairs
    lap("categories")
    h = _peer_hash(creators[C.CREATOR_ID].astype(object))
    peer_order = np.lexsort((np.arange(len(ids)), h))  # ids are sorted: the code breaks hash ties by id
    lap("peer_sample")
    return PreparedMarket(
        creator_ids=pd.Index(creators[C.CREATOR_ID].astype(object).to_numpy(), dtype=object),
        joined=_us(creators[C.JOINED_AT]),
        country=creators[C.COUNTRY].astype(object).to_numpy(),
        primary=_lookup(creators[C.PRIMARY_CATEGORY], categories),
        primary_name=creators[C.PRIMARY_CATEGORY].astype(object).where(creators[C.PRIMARY_CATEGORY].notna(), None).to_numpy(),
        rate_card=creators[C.RATE_CARD_USD].to_numpy(dtype=np.float64, na_value=np.nan),
        categories=categories,
        pairs=pairs,
        posts=posts,
        post_cat=post_cat_stream,
        orders=orders,
        order_cat=order_cat_stream,
        refunds=refunds,
        invites=invites,
        answers=answers,
        fees=fees,
        peer_order=peer_order,
        until=until_us,
        timings=dict(timings, total=time.perf_counter() - started),
    )


# --------------------------------------------------------------------------- features


def _base(mk: PreparedMarket, code: np.ndarray, T: np.ndarray, cat: np.ndarray, keys=None,
          cat_name=None, country=None, budget=None, given=None, seeds=()) -> dict:
    """Every peer-free value of the catalogue (or only ``keys``), for rows sorted by (code, T).

    Each value is computed by its family module's declaration (:func:`.catalogue.computations`)
    over one shared :class:`.window.Window`, so every window edge and sum is computed once.

    Returns a dict of arrays (float64; ``primary_category`` object): the features computed
    without peers, each rate's raw successes and trials (the rates themselves need the
    month's prior, :meth:`.indices.PeerTables.score`) and the private values the peer
    percentiles rank (``_epv``, ``_epf``, ``_band``).
    """
    w = Window(mk, code, T, cat, cat_name, country, budget)
    w.__dict__.update(given or {})  # Window quantities already known for these rows (see _reuse)
    out: dict[str, np.ndarray] = {}
    for key, compute in _COMPUTE.items():
        if keys is None or key in keys:
            value = compute(w)
            out[key] = np.asarray(value, dtype=np.float64) if key in _RATE_INPUTS else value
    out.update({_SEED + k: getattr(w, k) for k in seeds})  # Window quantities asked for as well
    return out


class _BriefRead(Exception):
    """A value read a campaign attribute of the decision (see :func:`_brief_keys`)."""


class _BriefFree(Window):
    """A window without the decisions' campaign attributes: reading one raises :class:`_BriefRead`."""

    def __setattr__(self, name, value):
        if name not in _BRIEF_ATTRS:  # Window.__init__ sets them: left to the refusing properties
            object.__setattr__(self, name, value)


def _refuse(self):
    raise _BriefRead


for _name in _BRIEF_ATTRS:
    setattr(_BriefFree, _name, property(_refuse))
_BRIEF_KEYS: frozenset | None = None


def _brief_keys(mk: PreparedMarket) -> frozenset:
    """The peer-free values that read the decision's category, country or budget.

    Found, not listed: each computation runs on a one-row window (an unknown creator) that
    refuses those attributes, so a feature added to the catalogue is classified by what it
    reads (one that fails there for any reason is computed per brief too: never wrong, only
    slower). Every other value depends on the creator and the as-of only.
    """
    global _BRIEF_KEYS
    if _BRIEF_KEYS is None:
        found = set()
        for key, compute in _COMPUTE.items():
            w = _BriefFree(mk, np.array([mk.n_creators], dtype=np.int64), np.zeros(1, dtype=np.int64), None)
            try:
                compute(w)
            except Exception:  # noqa: BLE001 - _BriefRead, or anything else: computed per brief, always right
                found.add(key)
        _BRIEF_KEYS = frozenset(found)
    return _BRIEF_KEYS


_CAMPAIGN_ATTRS = ("cat_name", "country", "budget")  # what a category-only value must not read


class _CategoryOnly(Window):
    """A window whose decisions have a category code and nothing else of the campaign."""

    def __setattr__(self, name, value):
        if name not in _CAMPAIGN_ATTRS:
            object.__setattr__(self, name, value)


for _name in _CAMPAIGN_ATTRS:
    setattr(_CategoryOnly, _name, property(_refuse))
_CATEGORY_KEYS: frozenset | None = None


def _category_keys(mk: PreparedMarket) -> frozenset:
    """The brief-dependent values that read only the decision's category code (besides the
    creator and the as-of): the same for every brief of that category at that as-of.

    Found like :func:`_brief_keys`: each brief-dependent computation runs on a one-row window
    that refuses the category's name, the country and the budget (``category_match``
    compares names, so it is computed per brief).
    """
    global _CATEGORY_KEYS
    if _CATEGORY_KEYS is None:
        found = set()
        for key in _brief_keys(mk):
            w = _CategoryOnly(mk, np.array([mk.n_creators], dtype=np.int64), np.zeros(1, dtype=np.int64),
                              np.zeros(1, dtype=np.int64))
            try:
                _COMPUTE[key](w)
            except Exception:  # noqa: BLE001 - it reads more of the campaign (or fails): per brief
                continue
            found.add(key)
        _CATEGORY_KEYS = frozenset(found)
    return _CATEGORY_KEYS


def materialize(mk: PreparedMarket, as_of: int, codes: np.ndarray) -> dict:
    """Brief-independent values of creators ``codes`` at ``as_of`` (µs), from the market's snapshot.

    The snapshot of an as-of (cached on ``mk``, at most :data:`SNAPSHOT_AS_OFS` of them)
    holds, for every creator asked for so far, each peer-free value that reads no campaign
    attribute and the peer outputs except :data:`_CAT_PEER_OUTPUTS` (and the
    :data:`_WINDOW_SEEDS`, named ``@name``); creators not in it yet are computed (exactly as
    :func:`build_features` does, without a campaign) and added.

    Returns
    -------
    dict
        name -> array aligned with ``codes``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    known, values = _fill(mk, as_of, *_missing(mk, as_of, codes)[::-1])
    idx = np.searchsorted(known, codes)
    return {k: v[idx] for k, v in values.items()}


def _fill(mk: PreparedMarket, as_of: int, entry: tuple, new: np.ndarray) -> tuple:
    """The snapshot ``entry`` of ``as_of`` with creators ``new`` (sorted, none in it) computed and added.

    Returns
    -------
    tuple
        (sorted creator codes, name -> values aligned with them), now the most recently used.
    """
    if not len(new):
        _remember(mk, as_of, entry)
        return entry
    T = np.full(len(new), as_of, dtype=np.int64)
    none = np.full(len(new), None, dtype=object)
    fresh = _values(mk, new, T, np.full(len(new), _NO_CAT, dtype=np.int64),
                    (none, none, np.full(len(new), np.nan)), seeds=_WINDOW_SEEDS)
    return _store(mk, as_of, entry, new, fresh)


def _missing(mk: PreparedMarket, as_of: int, codes: np.ndarray) -> tuple:
    """The creators of ``codes`` not in the snapshot of ``as_of`` (sorted, unique), and that snapshot."""
    entry = mk._snapshots.get(as_of, (np.zeros(0, dtype=np.int64), {}))
    known = entry[0]
    idx = np.searchsorted(known, codes)
    hit = idx < len(known)
    hit[hit] = known[idx[hit]] == codes[hit]
    return np.unique(codes[~hit]), entry


def _store(mk: PreparedMarket, as_of: int, entry: tuple, new: np.ndarray, fresh: dict) -> tuple:
    """Snapshot ``entry`` plus the creator-level part of ``fresh`` (rows aligned with ``new``, none in ``entry``).

    The snapshot is replaced, never changed in place, so calls on one market from several
    threads can only recompute, never see a half-built snapshot.

    Returns
    -------
    tuple
        The new snapshot: (sorted creator codes, name -> values aligned with them).
    """
    brief = _brief_keys(mk)
    fresh = {k: v for k, v in fresh.items() if k not in brief and k not in _CAT_PEER_OUTPUTS}
    known, values = entry
    merged = np.concatenate((known, new))
    order = np.argsort(merged, kind="stable")
    values = {k: np.concatenate((values[k], fresh[k]))[order] for k in fresh} if len(known) else fresh
    entry = (merged[order], values)
    _remember(mk, as_of, entry)
    return entry


def _remember(mk: PreparedMarket, as_of: int, entry: tuple) -> None:
    """Keep ``entry`` as the most recently used snapshot; drop the oldest beyond :data:`SNAPSHOT_AS_OFS`."""
    cache = mk._snapshots
    cache.pop(as_of, None)
    cache[as_of] = entry
    for old in list(cache)[:-SNAPSHOT_AS_OFS]:
        cache.pop(old, None)


def snapshot_bytes(mk: PreparedMarket) -> int:
    """Bytes held by ``mk``'s snapshots, per as-of and per (as-of, category) (their arrays; object
    columns count their pointers)."""
    entries = [*mk._snapshots.values(), *mk._cat_snapshots.values()]
    return sum(codes.nbytes + sum(v.nbytes for v in values.values()) for codes, values in entries)


# --------------------------------------------------------------------------- peers


def _peer_tables(mk: PreparedMarket, month: int, cap: int) -> PeerTables:
    """Peer distributions at one month start (cached on the prepared market)."""
    key = (int(month), int(cap))
    tables = mk._peer_cache.get(key)
    if tables is None:
        order = mk.peer_order
        chosen = order[mk.joined[order] < month][:cap]
        code = np.sort(chosen).astype(np.int64)
        T = np.full(len(code), month, dtype=np.int64)
        cat = np.where(mk.primary[code] >= 0, mk.primary[code], _NO_CAT) if len(code) else code
        base = _base(mk, code, T, cat, keys=_PEER_KEYS)  # no medians, no match: the peers need none
        tables = PeerTables.build(base, cat=np.where(cat >= 0, cat, -1), n_cat=len(mk.categories))
        mk._peer_cache[key] = tables
    return tables


def warm_peer_tables(mk: PreparedMarket, as_ofs) -> None:
    """Build the peer tables of every month of ``as_ofs`` now (they are cached on ``mk``).

    Scoring fills this before shipping the market to Dask workers, so no worker recomputes them.
    """
    T = _us(pd.Series(list(as_ofs), dtype="datetime64[us, UTC]")) if len(as_ofs) else np.zeros(0, dtype=np.int64)
    months = [int(m) for m in np.unique(_month_floor(T))]
    with ThreadPoolExecutor(max_workers=prepare_threads()) as pool:
        list(pool.map(lambda m: _peer_tables(mk, m, S.PEER_CAP), months))


# --------------------------------------------------------------------------- public API


def _decision_arrays(mk: PreparedMarket, decisions: pd.DataFrame):
    missing = [c for c in (C.CREATOR_ID, C.AS_OF) if c not in decisions.columns]
    if missing:
        raise ConfigError(f"decisions need column '{missing[0]}' (have: {', '.join(map(str, decisions.columns))})")
    clash = [c for c in decisions.columns if c in _FEATURE_SET]
    if clash:
        raise ConfigError(f"decisions already have feature column '{clash[0]}'")
    n = len(decisions)
    T = _micros(decisions[C.AS_OF]) if n else np.zeros(0, dtype=np.int64)
    if n and (T == np.iinfo(np.int64).min).any():
        raise ConfigError("decisions have a missing as_of")
    if mk.until is not None and n and T.max() > mk.until:
        raise ConfigError("decisions after the prepared market's 'until'")
    code = _creator_codes(mk, decisions[C.CREATOR_ID])
    code = np.where(code < 0, mk.n_creators, code).astype(np.int64)  # unknown creator: the empty sentinel

    def column(name):
        if name not in decisions.columns:
            return np.full(n, None, dtype=object)
        return decisions[name].to_numpy(dtype=object, na_value=None)  # None where missing

    cat_name, country = column(C.CATEGORY), column(C.COUNTRY)
    cat = _category_codes(mk, decisions[C.CATEGORY] if C.CATEGORY in decisions.columns else None, cat_name)
    budget = (pd.to_numeric(decisions[C.BUDGET_USD], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
              if C.BUDGET_USD in decisions.columns else np.full(n, np.nan))
    return code, T, cat, cat_name, country, budget


def _creator_codes(mk: PreparedMarket, ids: pd.Series) -> np.ndarray:
    """Each id's creator code (position in ``mk.creator_ids``), -1 when unknown or missing.

    The creator index's hash table is built once, so each call hashes only its ids (as Python
    strings); when the decisions are about as many as the creators, one Arrow hash lookup
    (which hashes the creators again) is cheaper than converting the ids to Python strings.
    """
    if isinstance(ids.dtype, pd.StringDtype) and len(ids) and mk.n_creators <= 2 * len(ids):
        if mk._id_array is None:
            mk._id_array = pa.array(np.asarray(mk.creator_ids, dtype=object), type=pa.large_string())
        return _lookup(ids, mk._id_array)
    return mk.creator_ids.get_indexer(ids.astype(object))


def _micros(column: pd.Series) -> np.ndarray:
    """:func:`~creatorrank.core.timeutil.to_micros` of a column; a tz-aware microsecond column
    (what scoring and explaining build) is read as stored: UTC instants, NaT the smallest int64."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) and column.dtype.unit == "us":
        return np.array(column.array.asi8, dtype=np.int64)  # a copy: the caller's column stays untouched
    return _us(column)


def _category_codes(mk: PreparedMarket, column, names: np.ndarray) -> np.ndarray:
    """Each decision's category code: its position in ``mk.categories``, else :data:`_UNKNOWN_CAT`,
    :data:`_NO_CAT` where missing (``names``: the column as objects, None where missing).

    A string column is looked up with one Arrow hash lookup (a brief's rows share a category,
    so the Python-object lookup's cost is all overhead); other columns compare as objects.
    """
    if column is not None and isinstance(column.dtype, pd.StringDtype) and len(column):
        code = _lookup(column, pa.array(mk.categories, type=pa.large_string()))
        none = column.isna().to_numpy(dtype=bool)  # the column's nulls: where ``names`` holds None
    else:
        code = pd.Index(mk.categories, dtype=object).get_indexer(pd.Series(names).fillna("\x00__none__"))
        none = pd.isna(names)
    return np.where(none, _NO_CAT, np.where(code < 0, _UNKNOWN_CAT, code)).astype(np.int64)


def build_features(tables, decisions: pd.DataFrame, reuse: bool = True) -> pd.DataFrame:
    """Point-in-time features of each decision.

    Parameters
    ----------
    tables : dict of DataFrame or PreparedMarket
        The clean contract tables, or :func:`prepare` of them (faster for many calls).
    decisions : DataFrame
        ``creator_id`` and ``as_of`` (UTC; naive is taken as UTC), optionally
        ``campaign_id``, ``category``, ``country``, ``budget_usd`` and any other columns.
    reuse : bool
        With a :class:`PreparedMarket` and one as-of for every decision, take each creator's
        brief-independent values from the market's snapshot of that as-of (computed on first
        use, :func:`materialize`) and compute only the category, country and budget features
        here: bit for bit the same result, at a fraction of the cost for the next brief.

    Returns
    -------
    DataFrame
        The decisions' columns (same rows, same order, a fresh RangeIndex) followed by every
        catalogue feature in catalogue order: numeric features float64, ``primary_category``
        a string column. ``attrs["feature_set_version"]`` is :data:`FEATURE_SET_VERSION`.

    Raises
    ------
    ConfigError
        ``creator_id`` or ``as_of`` is missing, an ``as_of`` is null, or a column of the
        decisions has a feature's name.
    """
    mk = tables if isinstance(tables, PreparedMarket) else None
    if mk is None:
        if len(decisions) and C.AS_OF in decisions.columns:
            until = int(_us(decisions[C.AS_OF]).max()) + 1
            mk = prepare(tables, until=pd.Timestamp(until, unit="us", tz="UTC"))
        else:
            mk = prepare(tables)
    code, T, cat, cat_name, country, budget = _decision_arrays(mk, decisions)
    n = len(code)
    attrs = (cat_name, country, budget)  # the campaign-match features read them
    if reuse and mk is tables and n and T[0] == T[-1] and bool((T == T[0]).all()):
        sources = _reuse(mk, code, T, cat, attrs)  # one as-of on a kept market: its snapshot
    else:
        sources = _sorted_values(mk, code, T, cat, attrs)
    del mk  # a market prepared here is freed before the output is assembled
    out = pd.concat([decisions.reset_index(drop=True), _feature_frame(sources, n)], axis=1)
    out.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
    return out


def _sorted_values(mk: PreparedMarket, code, T, cat, attrs) -> list:
    """:func:`_values` of the decisions, computed on rows sorted by (creator, time).

    Sorted rows make every search and window walk memory-local. Returns the sources of
    :func:`_feature_frame`: the values, and the sorted row of each decision.
    """
    order = np.lexsort((T, code))
    base = _values(mk, code[order], T[order], cat[order], tuple(a[order] for a in attrs))
    inverse = np.empty(len(code), dtype=np.int64)
    inverse[order] = np.arange(len(code))
    return [(base, inverse)]


_NUMERIC = [name for name in S.feature_names() if name not in _CATEGORICAL]


def _feature_frame(sources: list, n: int) -> pd.DataFrame:
    """Every catalogue feature of ``n`` decisions, in catalogue order, as one frame.

    ``sources`` is a list of ``(values, rows)``: a feature is read from the first ``values``
    (name -> array) holding it, at ``rows`` (each decision's row in it; None: the decisions'
    own order). The numeric features are gathered straight into one float64 block (one
    pass per column, no 2-D copy when the frame is made); ``primary_category`` is a string
    column.
    """
    def source(name):
        return next((values[name], rows) for values, rows in sources if name in values)

    block = np.empty((len(_NUMERIC), n))
    if n:
        for j, name in enumerate(_NUMERIC):
            v, rows = source(name)
            if rows is None:
                block[j] = v
            elif v.dtype == np.float64:
                np.take(v, rows, out=block[j])
            else:
                block[j] = v[rows]
    feats = pd.DataFrame(block.T, index=pd.RangeIndex(n), columns=_NUMERIC, copy=False)
    names = S.feature_names()
    for name in names:
        if name in _CATEGORICAL:  # inserted in catalogue order: each lands at its own position
            v, rows = source(name)
            feats.insert(names.index(name), name, pd.array(v if rows is None else v[rows], dtype=_STRING))
    return feats


class _Rows(dict):
    """The brief's own values, and any snapshot value gathered on first read (for the peer pass)."""

    def __init__(self, own: dict, snapshot: dict, rows: np.ndarray):
        super().__init__(own)
        self.snapshot, self.rows = snapshot, rows

    def __missing__(self, key):
        value = self[key] = self.snapshot[key][self.rows]
        return value


def _reuse(mk: PreparedMarket, code, T, cat, attrs) -> list:
    """:func:`_values` of decisions sharing one as-of: the snapshot's values plus the brief's own.

    Only the values that read the campaign's category, country or budget
    (:func:`_brief_keys`) and the category's peer outputs are computed per call, in the
    decisions' own order; the others are read from the as-of's snapshot (:func:`materialize`)
    when the output is assembled. Each row is computed independently, so the result is bit
    for bit the one of :func:`_values`.

    Returns
    -------
    list
        The sources of :func:`_feature_frame`.
    """
    as_of = int(T[0])
    new, entry = _missing(mk, as_of, code)
    if 2 * len(new) > len(code):  # mostly new creators: this call computed whole, its creator-level part kept
        order = np.argsort(code, kind="stable")  # one as-of: (creator, time) order
        c_s = code[order]
        base = _values(mk, c_s, T[order], cat[order], tuple(a[order] for a in attrs), seeds=_WINDOW_SEEDS)
        rows = np.flatnonzero(np.isin(c_s, new) & np.concatenate(([True], c_s[1:] != c_s[:-1])))  # c_s is sorted
        _store(mk, as_of, entry, c_s[rows], {k: v[rows] for k, v in base.items()})
        _seed_category(mk, as_of, c_s, cat[order], base)
        for k in _WINDOW_SEEDS:
            base.pop(_SEED + k)
        inverse = np.empty(len(code), dtype=np.int64)
        inverse[order] = np.arange(len(code))
        return [(base, inverse)]
    known, snap = _fill(mk, as_of, entry, new)
    idx = np.searchsorted(known, code)
    given = {k: snap[_SEED + k][idx] for k in _WINDOW_SEEDS}
    cached, by_category = _category_sources(mk, as_of, code, cat, (known, snap))
    own = _Rows(_base(mk, code, T, cat, _brief_keys(mk) - cached, *attrs, given=given), snap, idx)
    if not cached >= set(_CAT_PEER_OUTPUTS):
        if (cat == _NO_CAT).all():  # no category: the category's peer outputs are missing
            own.update({k: np.full(len(code), np.nan) for k in _CAT_PEER_OUTPUTS})
        else:
            own.update(_peer_tables(mk, int(_month_floor(T[:1])[0]), S.PEER_CAP).score_category(own, cat))
    return [(dict(own), None), *by_category, (snap, idx)]


CATEGORY_SNAPSHOTS = 16  # (as-of, category) pairs whose category values a market keeps (least recently used dropped)


def _category_sources(mk: PreparedMarket, as_of: int, code, cat, snapshot) -> tuple:
    """The category values of decisions at ``as_of``, from the market's (as-of, category) snapshots.

    The values of :func:`_category_keys` and, when they read nothing else, the category's
    peer outputs depend on (creator, as-of, category code) only: briefs of one category at
    one as-of share them, so each (as-of, category) keeps those of every creator scored so
    far (at most :data:`CATEGORY_SNAPSHOTS` pairs) and a brief computes only its new creators'.

    Returns
    -------
    tuple
        (the names covered, sources of :func:`_feature_frame` holding them).
    """
    names = _category_names(mk)
    if not names >= set(_CAT_PEER_OUTPUTS):  # the peer outputs read a value of the brief: all per brief
        return frozenset(), []
    cats = np.unique(cat)
    parts = []
    for c in cats:
        rows = None if len(cats) == 1 else np.flatnonzero(cat == c)
        codes = code if rows is None else code[rows]
        known, values = _category_snapshot(mk, as_of, int(c), codes, snapshot, names)
        parts.append((rows, values, np.searchsorted(known, codes)))
    if len(parts) == 1:
        return frozenset(names), [parts[0][1:]]
    merged = {k: np.empty(len(code)) for k in names}
    for rows, values, pos in parts:
        for k in names:
            merged[k][rows] = values[k][pos]
    return frozenset(names), [(merged, None)]


def _category_names(mk: PreparedMarket) -> frozenset:
    """What the (as-of, category) snapshots hold: :func:`_category_keys`, and the category's
    peer outputs when all they read is in it or in the as-of's snapshot."""
    names = set(_category_keys(mk))
    if not CATEGORY_INPUTS <= names | (set(_COMPUTE) - _brief_keys(mk)):
        return frozenset()  # nothing kept: the category's peer outputs need the whole brief
    return frozenset(names | set(_CAT_PEER_OUTPUTS))


def _keep_category(mk: PreparedMarket, key: tuple, entry: tuple) -> None:
    """Keep ``entry`` as the most recently used (as-of, category) snapshot; drop the oldest beyond the bound."""
    cache = mk._cat_snapshots
    cache.pop(key, None)
    cache[key] = entry  # replaced, never changed in place (see _store)
    for old in list(cache)[:-CATEGORY_SNAPSHOTS]:
        cache.pop(old, None)


def _seed_category(mk: PreparedMarket, as_of: int, c_s, cat_s, base: dict) -> None:
    """Start the (as-of, category) snapshot from a whole computation of one category's rows (sorted by creator)."""
    names = _category_names(mk)
    if not names or not len(cat_s) or (cat_s != cat_s[0]).any() or (as_of, int(cat_s[0])) in mk._cat_snapshots:
        return
    first = np.flatnonzero(np.concatenate(([True], c_s[1:] != c_s[:-1])))
    _keep_category(mk, (as_of, int(cat_s[0])),
                   (c_s[first], {k: np.asarray(base[k][first], dtype=np.float64) for k in names}))


def _category_snapshot(mk: PreparedMarket, as_of: int, c: int, codes, snapshot, names) -> tuple:
    """The (as-of, category ``c``) snapshot, with creators ``codes`` computed and added if missing."""
    key = (as_of, c)
    known, values = mk._cat_snapshots.get(key, (np.zeros(0, dtype=np.int64), {}))
    at = np.searchsorted(known, codes)
    hit = at < len(known)
    hit[hit] = known[at[hit]] == codes[hit]
    new = np.unique(codes[~hit])
    if len(new):
        fresh = _category_values(mk, as_of, c, new, snapshot, names)
        merged = np.concatenate((known, new))
        order = np.argsort(merged, kind="stable")
        values = {k: np.concatenate((values[k], fresh[k]))[order] for k in names} if len(known) else fresh
        known = merged[order]
    _keep_category(mk, key, (known, values))
    return known, values


def _category_values(mk: PreparedMarket, as_of: int, c: int, new, snapshot, names) -> dict:
    """``names`` of creators ``new`` (sorted, all in the as-of's ``snapshot``) at ``as_of`` for category ``c``."""
    known, snap = snapshot
    at = np.searchsorted(known, new)
    T, cat = np.full(len(new), as_of, dtype=np.int64), np.full(len(new), c, dtype=np.int64)
    given = {k: snap[_SEED + k][at] for k in _WINDOW_SEEDS}
    out = _base(mk, new, T, cat, names - set(_CAT_PEER_OUTPUTS), given=given)
    if set(_CAT_PEER_OUTPUTS) <= names:
        if c == _NO_CAT:  # no category: the category's peer outputs are missing
            out.update({k: np.full(len(new), np.nan) for k in _CAT_PEER_OUTPUTS})
        else:
            view = _Rows(out, snap, at)
            inputs = {k: view[k] for k in CATEGORY_INPUTS}  # all that score_category may read
            out.update(_peer_tables(mk, int(_month_floor(T[:1])[0]), S.PEER_CAP).score_category(inputs, cat))
    return {k: np.asarray(out[k], dtype=np.float64) for k in names}


def _values(mk: PreparedMarket, c_s, T_s, cat_s, attrs_s, seeds=()) -> dict:
    """Every feature's value (and the private inputs) of rows sorted by (creator, as-of).

    ``seeds`` names Window quantities to return too, as ``@name`` (see :func:`_reuse`).
    """
    n = len(c_s)
    months = _month_floor(T_s)
    month_list = [int(m) for m in np.unique(months)]
    with ThreadPoolExecutor(max_workers=prepare_threads()) as pool:
        # Rows are independent: halves of the rows, and the months' peer tables, run side by side.
        halves = [slice(0, n // 2), slice(n // 2, n)] if n >= 100_000 else [slice(0, n)]
        base_jobs = [pool.submit(_base, mk, c_s[h], T_s[h], cat_s[h], None, *(a[h] for a in attrs_s), seeds=seeds)
                     for h in halves]
        peer_jobs = {m: pool.submit(_peer_tables, mk, m, S.PEER_CAP) for m in month_list}
        parts = [job.result() for job in base_jobs]
        base = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if len(parts) > 1 else parts[0]
        del parts

        # Peer percentiles and indices, month by month.
        def score(month):
            rows = np.flatnonzero(months == month)
            return rows, peer_jobs[month].result().score({k: base[k][rows] for k in SCORE_INPUTS}, cat_s[rows])

        scores: dict[str, np.ndarray] = {}
        for rows, part in pool.map(score, month_list):
            for k, v in part.items():
                scores.setdefault(k, np.full(n, np.nan))[rows] = v
    base.update(scores)
    return base


def training_matrix(tables) -> pd.DataFrame:
    """Features of every invitation as of its campaign's ``created_at``.

    Parameters
    ----------
    tables : dict of DataFrame or PreparedMarket
        Clean contract tables (a PreparedMarket is not enough: the invitations and
        campaigns are read from the tables).

    Returns
    -------
    DataFrame
        ``invitation_id, campaign_id, creator_id, as_of, category, country, budget_usd``
        then every catalogue feature; sorted by (as_of, campaign_id, creator_id,
        invitation_id).
    """
    inv = tables[C.INVITATIONS][[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID]]
    camp = tables[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.CREATED_AT, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    dec = inv.merge(camp, on=C.CAMPAIGN_ID, how="inner").rename(columns={C.CREATED_AT: C.AS_OF})
    dec = dec[[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    dec = dec.sort_values([C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID, C.INVITATION_ID], kind="stable").reset_index(drop=True)
    return build_features(tables, dec)


def snapshot(tables, as_of, category: str | None = None, country: str | None = None) -> pd.DataFrame:
    """Features of every creator who joined before ``as_of``, sorted by creator_id.

    Parameters
    ----------
    tables : dict of DataFrame or PreparedMarket
    as_of : timestamp
        Decision time (naive is taken as UTC).
    category, country : str, optional
        A campaign's category and country; without them the category and match features
        are missing.

    Returns
    -------
    DataFrame
        ``creator_id, as_of, category, country`` then every catalogue feature.
    """
    ts = to_utc(as_of)
    t_us = int(_us(pd.Series([ts]))[0])
    if isinstance(tables, PreparedMarket):
        mk = tables
    else:
        mk = prepare(tables, until=pd.Timestamp(t_us + 1, unit="us", tz="UTC"))
    ids = mk.creator_ids[mk.joined < t_us]  # creator_ids are sorted
    n = len(ids)
    dec = pd.DataFrame(
        {
            C.CREATOR_ID: pd.array(np.asarray(ids, dtype=object), dtype=_STRING),
            C.AS_OF: pd.Series([ts] * n, dtype="datetime64[us, UTC]"),
            C.CATEGORY: pd.array([category] * n, dtype=_STRING),
            C.COUNTRY: pd.array([country] * n, dtype=_STRING),
        }
    )
    return build_features(mk, dec)
