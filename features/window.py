"""What the features of one batch of decisions share, each computed once, on first use.

A :class:`Window` stands for a batch of decisions (creator codes and times ``T`` sorted
by (creator, ``T``)) over a prepared market (:class:`.engine.PreparedMarket`). Its
attributes are the positions of the window edges in each event stream, the exact sums
over those windows, and the creator's and the decision's attributes. Each is computed the
first time a feature reads it and kept, so a feature of :mod:`.catalogue` is a one-liner
over them and nothing is searched or summed twice; features that are not asked for (the
peer pass asks only for what the indices need) cost nothing.

Window edges (half-open ``[T - w, T)`` on the time a fact becomes known): ``pT`` is the
first post at or after ``T`` (posts before it are known); ``p365``, ``p90``, ``p30`` the
first post of the last 365, 90, 30 days; ``e0``, ``e90``, ``e365`` the same edges for the
7-day counts (known 7 days after posting); ``pW`` and ``pW13`` the current calendar week
and the start of the last :data:`~.rules.ACTIVE_WEEKS` full weeks. Each edge is searched
between edges already found around it (T-372d < T-365d < T-98d < W-91d <= T-91d < T-90d <
T-30d, T-7d < W <= T), so most searches cover a few posts, not the creator's history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import constants as C
from . import rules as R
from .arrays import ragged_median

DAY = 86_400_000_000  # microseconds
WEEK = 7 * DAY
MONDAY0 = 4 * DAY  # 1970-01-05 00:00 UTC was a Monday: calendar weeks start there
ENGAGEMENT_DELAY = C.ENGAGEMENT_DELAY_DAYS * DAY
# Decision category codes below 0: -1 a category the market never saw (its counts are 0),
# -2 no category (category features are missing).
UNKNOWN_CAT = -1
NO_CAT = -2


class lazy:  # noqa: N801 - used like functools.cached_property
    """A computed-once attribute, like :func:`functools.cached_property` without its lock.

    Python 3.11's ``cached_property`` holds one lock per attribute for all instances, which
    would serialise the engine's threads (each works on its own :class:`Window`).
    """

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


# --------------------------------------------------------------------------- arithmetic


def week_floor(t: np.ndarray) -> np.ndarray:
    """Monday 00:00 UTC of each time's calendar week, in microseconds."""
    return (t - MONDAY0) // WEEK * WEEK + MONDAY0


def ratio(num, den):
    """num / den, NaN where den is 0 (nothing to divide by)."""
    out = np.full(len(num), np.nan)
    ok = den != 0
    out[ok] = num[ok] / den[ok]
    return out


def share(num, den):
    """num / den, 0 where den is 0 (no activity: nothing of it in the category)."""
    out = np.zeros(len(num))
    ok = den != 0
    out[ok] = num[ok] / den[ok]
    return out


def latest(stream, name: str, start, p):
    """Value of ``name`` at the last event before position ``p`` (NaN if none)."""
    out = np.full(len(p), np.nan)
    ok = p > start
    out[ok] = stream.value(name, p[ok] - 1)
    return out


def band(followers: np.ndarray) -> np.ndarray:
    """Follower band 0..len(FOLLOWER_BANDS) by exact comparisons; -1 when unknown."""
    b = np.searchsorted(np.asarray(R.FOLLOWER_BANDS, dtype=np.float64), followers, side="right")
    return np.where(np.isnan(followers), -1, b).astype(np.int64)


def match(wanted: np.ndarray, have: np.ndarray) -> np.ndarray:
    """1.0 where equal, 0.0 where not (or the creator's value is missing), NaN without ``wanted``.

    Missing is None, NaN or pd.NA; present values are compared with ``==`` on numpy object
    arrays (pandas Series comparisons cost several times more for the same answer).
    """
    w = np.asarray(wanted, dtype=object)
    h = np.asarray(have, dtype=object)
    w_na = pd.isna(w)
    both = ~w_na & ~pd.isna(h)
    out = np.zeros(len(w))
    if both.all():
        out[w == h] = 1.0
    elif both.any():
        out[both] = (w[both] == h[both]).astype(np.float64)
    out[w_na] = np.nan
    return out


def usd(cents: np.ndarray) -> np.ndarray:
    """Exact integer cents as dollars."""
    return cents / R.CENTS_PER_USD


# --------------------------------------------------------------------------- the window


class Window:
    """The shared quantities of a batch of decisions sorted by (creator, ``T``).

    Parameters
    ----------
    mk : PreparedMarket
        The prepared market (its event streams).
    code, T, cat : int64 arrays
        Creator code (``mk.n_creators`` for an unknown creator), decision time (µs) and
        category code (:data:`UNKNOWN_CAT`, :data:`NO_CAT` below 0).
    cat_name, country, budget : arrays, optional
        The decision's category and country (object, None when missing) and budget
        (float, NaN when missing); only the campaign-match features read them.
    """

    def __init__(self, mk, code, T, cat, cat_name=None, country=None, budget=None):
        self.mk, self.code, self.T, self.cat = mk, code, T, cat
        self.n = len(code)
        self.cat_name = np.full(self.n, None, dtype=object) if cat_name is None else cat_name
        self.country = np.full(self.n, None, dtype=object) if country is None else country
        self.budget = np.full(self.n, np.nan) if budget is None else budget
        self.posts, self.orders, self.invites = mk.posts, mk.orders, mk.invites

    # ---- posts: window edges
    @lazy
    def post_bounds(self):
        return self.posts.bounds(self.code)

    @lazy
    def s0(self):
        return self.post_bounds[0]

    @lazy
    def pT(self):
        return self.posts.pos(self.s0, self.post_bounds[1], self.T)

    @lazy
    def p365(self):
        return self.posts.pos(self.s0, self.pT, self.T - 365 * DAY)

    @lazy
    def p90(self):
        return self.posts.pos(self.p365, self.pT, self.T - 90 * DAY)

    @lazy
    def p30(self):
        return self.posts.pos(self.p90, self.pT, self.T - 30 * DAY)

    @lazy
    def e0(self):
        # 7-day counts are known 7 days after posting: known before T <=> posted before T - 7d
        return self.posts.pos(self.p90, self.pT, self.T - ENGAGEMENT_DELAY)

    @lazy
    def e365(self):
        return self.posts.pos(self.s0, self.p365, self.T - 365 * DAY - ENGAGEMENT_DELAY)

    @lazy
    def e90(self):
        return self.posts.pos(self.e365, self.p90, self.T - 90 * DAY - ENGAGEMENT_DELAY)

    @lazy
    def W(self):
        """Monday 00:00 UTC of the decision's calendar week."""
        return week_floor(self.T)

    @lazy
    def pW(self):
        return self.posts.pos(self.e0, self.pT, self.W)

    @lazy
    def pW13(self):
        return self.posts.pos(self.e365, self.p90, self.W - R.ACTIVE_WEEKS * WEEK)

    # ---- posts: counts and sums
    @lazy
    def posts_90d(self):
        return (self.pT - self.p90).astype(np.float64)

    @lazy
    def posts_365d(self):
        return (self.pT - self.p365).astype(np.float64)

    @lazy
    def shop90(self):
        return self.posts.isum("shop", self.p90, self.pT)

    @lazy
    def shop365(self):
        return self.posts.isum("shop", self.p365, self.pT)

    @lazy
    def views90(self):
        return self.posts.isum("v", self.e90, self.e0)

    @lazy
    def eng90(self):
        return self.posts.isum("e", self.e90, self.e0)

    @lazy
    def foll90(self):
        return self.posts.isum("f", self.e90, self.e0)

    @lazy
    def views365(self):
        return self.posts.isum("v", self.e365, self.e0)

    @lazy
    def followers(self):
        return latest(self.posts, "f", self.s0, self.pT)

    # ---- orders and refunds
    @lazy
    def order_bounds(self):
        return self.orders.bounds(self.code)

    @lazy
    def oT(self):
        return self.orders.pos(*self.order_bounds, self.T)

    @lazy
    def o365(self):
        return self.orders.pos(self.order_bounds[0], self.oT, self.T - 365 * DAY)

    @lazy
    def gmv365(self):
        return usd(self.orders.isum("g", self.o365, self.oT))

    @lazy
    def orders_seen(self):
        return (self.oT - self.order_bounds[0]).astype(np.float64)

    @lazy
    def refunds_seen(self):
        r0, r1 = self.mk.refunds.bounds(self.code)
        return (self.mk.refunds.pos(r0, r1, self.T) - r0).astype(np.float64)

    @lazy
    def gmv_per_shoppable_post(self):
        return ratio(self.gmv365, self.shop365)

    # ---- invitations: cumulative counts of every event type before T
    @lazy
    def invitations(self) -> dict:
        i0, i1 = self.invites.bounds(self.code)
        iT = self.invites.pos(i0, i1, self.T)
        return {k: self.invites.isum(k, i0, iT) for k in self.invites.ip}

    def median_365d(self, stream, column: str):
        """Exact median of a value stream's events of the last 365 days (NaN without any)."""
        a0, a1 = stream.bounds(self.code)
        aT = stream.pos(a0, a1, self.T)
        return ragged_median(stream.vals[column], stream.pos(a0, aT, self.T - 365 * DAY), aT)

    # ---- creator attributes (current, per the contract)
    @lazy
    def known(self):
        return self.code < self.mk.n_creators

    @lazy
    def creator(self):
        """Each row's creator code clipped into the creator arrays (read with :attr:`known`)."""
        return np.minimum(self.code, max(self.mk.n_creators - 1, 0))

    def attribute(self, values: np.ndarray, missing):
        """A creator attribute of each row, ``missing`` for unknown creators."""
        return np.where(self.known, values[self.creator] if self.mk.n_creators else missing, missing)

    @lazy
    def rate_card(self):
        return self.attribute(self.mk.rate_card, np.nan)

    @lazy
    def primary(self):
        """The creator's primary category name (object, None when missing)."""
        return self.attribute(self.mk.primary_name, None)

    # ---- the decision's category: (creator, category) streams
    @lazy
    def has_cat(self):
        return self.cat != NO_CAT

    @lazy
    def pair_segments(self):
        return self.mk.pair_segments(self.code, self.cat)

    @lazy
    def cat_post_edges(self):
        PC = self.mk.post_cat
        c0, c1 = PC.bounds(self.pair_segments)
        cT = PC.pos(c0, c1, self.T)
        return c0, PC.pos(c0, cT, self.T - 365 * DAY), cT

    @lazy
    def cat_posts(self):
        _, c365, cT = self.cat_post_edges
        return (cT - c365).astype(np.float64)

    @lazy
    def cat_views(self):
        PC = self.mk.post_cat
        c0, c365, cT = self.cat_post_edges
        ce0 = PC.pos(c365, cT, self.T - ENGAGEMENT_DELAY)
        return PC.isum("v", PC.pos(c0, c365, self.T - 365 * DAY - ENGAGEMENT_DELAY), ce0)

    @lazy
    def cat_order_edges(self):
        OC = self.mk.order_cat
        g0, g1 = OC.bounds(self.pair_segments)
        gT = OC.pos(g0, g1, self.T)
        return OC.pos(g0, gT, self.T - 365 * DAY), gT

    @lazy
    def cat_orders(self):
        g365, gT = self.cat_order_edges
        return gT - g365

    @lazy
    def cat_gmv(self):
        return usd(self.mk.order_cat.isum("g", *self.cat_order_edges))

    def in_category(self, values):
        """``values`` where the decision has a category, NaN where it has none."""
        return np.where(self.has_cat, values, np.nan)
