"""Small adversarial markets and decisions for testing the point-in-time engine.

Unlike the realistic generator (:mod:`creatorrank.data.generate`), these markets are built to
hit edge cases: every time lies on a coarse 6-hour grid (so events tie with each other and
with decision times), answers arrive exactly 7 days after invitations, deliveries exactly at
their due time, creators have no history at all or thin history (one post, one invitation),
scrape glitches (likes on posts with 0 views, 0-follower rows between real ones), categories
are missing or unknown, and decision times sit exactly on event times, one microsecond
either side, and on month starts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import coerce_table

START = pd.Timestamp("2024-01-01", tz="UTC")
GRID = pd.Timedelta(hours=6)
CATEGORIES = ("beauty", "food", "tech")
COUNTRIES = ("US", "GB")


def _grid(rng, lo: int, hi: int, size) -> np.ndarray:
    """Grid step numbers in [lo, hi)."""
    return rng.integers(lo, hi, size)


def _ts(steps) -> pd.Series:
    return pd.Series(START + np.asarray(steps, dtype=np.int64) * GRID).astype("datetime64[us, UTC]")


def random_market(seed: int, n_creators: int = 30, n_campaigns: int = 12, days: int = 540) -> dict[str, pd.DataFrame]:
    """A small valid market full of ties and boundary cases (contract types and columns).

    Parameters
    ----------
    seed : int
    n_creators, n_campaigns : int
    days : int
        Length of the simulated span.
    """
    rng = np.random.default_rng(seed)
    steps = days * 4
    day = 4  # grid steps per day

    # ---- creators (a few never do anything)
    cid = [f"c{i:03d}" for i in range(n_creators)]
    joined = _grid(rng, 0, steps // 2, n_creators)
    primary = rng.choice(np.array([*CATEGORIES, None], dtype=object), n_creators)
    rate = np.round(rng.lognormal(5, 1, n_creators), 2)
    rate[rng.random(n_creators) < 0.2] = np.nan
    rate[rng.random(n_creators) < 0.05] = 0.0
    creators = pd.DataFrame({
        C.CREATOR_ID: cid, C.COUNTRY: rng.choice(COUNTRIES, n_creators), C.PRIMARY_CATEGORY: primary,
        C.JOINED_AT: _ts(joined), C.RATE_CARD_USD: rate,
    })
    active = rng.random(n_creators) > 0.15

    # ---- posts: a follower path per creator with occasional jumps; views may be 0
    rows = []
    for i in np.flatnonzero(active):
        n = int(rng.integers(0, 45)) if rng.random() > 0.15 else int(rng.integers(1, 3))  # some thin creators
        t = np.sort(_grid(rng, max(joined[i] - 40 * day, 0), steps, n))
        if n > 3 and rng.random() < 0.5:
            t[1] = t[0]  # same-time posts
        f = np.maximum(np.round(np.cumprod(rng.lognormal(0.01, 0.05, n)) * rng.lognormal(7, 2)), 0).astype(int)
        if n > 5 and rng.random() < 0.3:
            f[n // 2:] *= 5  # a bought-followers jump
        for k in range(n):
            rows.append((i, t[k], f[k]))
    n_posts = len(rows)
    pi = np.array([r[0] for r in rows], dtype=int)
    views = rng.poisson(rng.lognormal(6, 1.5, n_posts)) * (rng.random(n_posts) > 0.05)
    posts = pd.DataFrame({
        C.POST_ID: [f"p{k:05d}" for k in range(n_posts)],
        C.CREATOR_ID: [cid[i] for i in pi],
        C.POSTED_AT: _ts([r[1] for r in rows]),
        C.CATEGORY: rng.choice(np.array([*CATEGORIES, None], dtype=object), n_posts, p=[0.4, 0.25, 0.25, 0.1]),
        C.IS_SHOPPABLE: rng.random(n_posts) < 0.5,
        C.CAMPAIGN_ID: None,
        C.FOLLOWERS_AT_POST: np.array([r[2] for r in rows], dtype=np.int64),
        C.VIEWS_7D: views.astype(np.int64),
        C.LIKES_7D: rng.binomial(views, 0.06).astype(np.int64),
        C.COMMENTS_7D: rng.binomial(views, 0.01).astype(np.int64),
        C.SHARES_7D: rng.binomial(views, 0.005).astype(np.int64),
    })
    # scrape glitches: likes on posts with 0 views, 0-follower rows between real ones
    glitch = (views == 0) & (rng.random(n_posts) < 0.6)
    posts.loc[glitch, C.LIKES_7D] = rng.integers(1, 500_000, int(glitch.sum()))
    posts.loc[rng.random(n_posts) < 0.04, C.FOLLOWERS_AT_POST] = 0

    # ---- campaigns and invitations: answers in time, exactly at 7 days, late, never
    kid = [f"k{j:03d}" for j in range(n_campaigns)]
    created = np.sort(_grid(rng, steps // 8, steps - 20 * day, n_campaigns))
    campaigns = pd.DataFrame({
        C.CAMPAIGN_ID: kid, C.BRAND_ID: [f"b{j % 3}" for j in range(n_campaigns)],
        C.CATEGORY: rng.choice(CATEGORIES, n_campaigns), C.COUNTRY: rng.choice(COUNTRIES, n_campaigns),
        C.CREATED_AT: _ts(created), C.STARTS_AT: _ts(created + 5 * day), C.ENDS_AT: _ts(created + 30 * day),
        C.BUDGET_USD: np.where(rng.random(n_campaigns) < 0.2, np.nan, np.round(rng.lognormal(8, 1, n_campaigns), -1)),
    })
    inv = []
    for j in range(n_campaigns):
        for i in rng.choice(n_creators, size=int(rng.integers(3, min(12, n_creators) + 1)), replace=False):
            a = created[j] + int(rng.integers(0, 3 * day))
            kind = rng.choice(["fast", "seven", "late", "never"], p=[0.5, 0.15, 0.15, 0.2])
            r = {"fast": a + int(rng.integers(0, 7 * day)), "seven": a + 7 * day,
                 "late": a + 7 * day + int(rng.integers(1, 10 * day)), "never": None}[kind]
            acc = None if r is None else bool(rng.random() < 0.6)
            fee = due = dlv = afp = None
            if acc:
                fee = float(np.round(rng.lognormal(5, 1), 2)) if rng.random() < 0.9 else None
                due = r + int(rng.integers(2 * day, 20 * day)) if rng.random() < 0.95 else None
                how = rng.choice(["early", "exact", "late", "missed"], p=[0.5, 0.15, 0.15, 0.2])
                base = due if due is not None else r + 10 * day
                dlv = {"early": base - int(rng.integers(1, 2 * day)), "exact": base,
                       "late": base + int(rng.integers(1, 8 * day)), "missed": None}[how]
                if dlv is not None:
                    dlv = max(dlv, r)
                    afp = bool(rng.random() < 0.7)
            inv.append((kid[j], cid[i], a, r, acc, fee, due, dlv, afp))
    invitations = pd.DataFrame({
        C.INVITATION_ID: [f"i{k:05d}" for k in range(len(inv))],
        C.CAMPAIGN_ID: [x[0] for x in inv], C.CREATOR_ID: [x[1] for x in inv],
        C.INVITED_AT: _ts([x[2] for x in inv]),
        C.RESPONDED_AT: _nullable_ts([x[3] for x in inv]),
        C.ACCEPTED: pd.array([x[4] for x in inv], dtype="boolean"),
        C.FEE_USD: [np.nan if x[5] is None else x[5] for x in inv],
        C.DUE_AT: _nullable_ts([x[6] for x in inv]),
        C.DELIVERED_AT: _nullable_ts([x[7] for x in inv]),
        C.APPROVED_FIRST_PASS: pd.array([x[8] for x in inv], dtype="boolean"),
    })

    # ---- orders: organic and campaign, some tied to posts, some refunded later
    n_orders = int(rng.integers(n_posts // 2 + 1, n_posts + 2))
    oc = rng.integers(0, n_creators, n_orders)
    ot = _grid(rng, steps // 10, steps, n_orders)
    post_of = np.full(n_orders, None, dtype=object)
    for k in range(n_orders):
        own = np.flatnonzero(pi == oc[k])
        if own.size and rng.random() < 0.7:
            post_of[k] = f"p{int(rng.choice(own)):05d}"
    camp = np.where(rng.random(n_orders) < 0.3, rng.choice(np.array(kid, dtype=object), n_orders), None)
    refunded = np.where(rng.random(n_orders) < 0.15, ot + rng.integers(0, 30 * day, n_orders), -1)
    orders = pd.DataFrame({
        C.ORDER_ID: [f"o{k:05d}" for k in range(n_orders)], C.CREATOR_ID: [cid[i] for i in oc],
        C.CAMPAIGN_ID: camp, C.POST_ID: post_of, C.ORDERED_AT: _ts(ot),
        C.GMV_USD: np.round(rng.lognormal(3, 1, n_orders), 2) * (rng.random(n_orders) > 0.05),
        C.REFUNDED_AT: _nullable_ts([None if x < 0 else x for x in refunded]),
    })
    raw = {C.CREATORS: creators, C.POSTS: posts, C.CAMPAIGNS: campaigns, C.INVITATIONS: invitations, C.ORDERS: orders}
    return {name: coerce_table(raw[name], CONTRACT[name]) for name in C.TABLES}


def _nullable_ts(steps: list) -> pd.Series:
    return pd.Series([pd.NaT if s is None else START + int(s) * GRID for s in steps]).astype("datetime64[us, UTC]")


def event_times(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every moment a fact becomes known, by the contract, with its creator.

    Columns ``creator_id`` and ``as_of``: decisions placed on these boundaries test strictness.
    """
    week = pd.Timedelta(days=7)
    inv, posts, orders = tables[C.INVITATIONS], tables[C.POSTS], tables[C.ORDERS]
    creators = tables[C.CREATORS]
    parts = [
        (posts, posts[C.POSTED_AT]), (posts, posts[C.POSTED_AT] + week), (inv, inv[C.INVITED_AT]),
        (inv, inv[C.INVITED_AT] + week), (inv, inv[C.RESPONDED_AT]), (inv, inv[C.DUE_AT]),
        (inv, inv[C.DELIVERED_AT]), (orders, orders[C.ORDERED_AT]), (orders, orders[C.REFUNDED_AT]),
        (creators, creators[C.JOINED_AT]),
    ]
    frames = [
        pd.DataFrame({C.CREATOR_ID: frame[C.CREATOR_ID].astype(object), C.AS_OF: t.astype("datetime64[us, UTC]")})
        for frame, t in parts
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[out[C.AS_OF].notna()].reset_index(drop=True)


def random_decisions(tables: dict[str, pd.DataFrame], n: int, seed: int) -> pd.DataFrame:
    """Decisions on event boundaries of their own creator (exactly, 1 µs either side), on
    month starts and at random times.

    Creators include one unknown to the market; categories include None and an unknown one.
    """
    rng = np.random.default_rng(seed)
    events = event_times(tables)
    creators = np.array(tables[C.CREATORS][C.CREATOR_ID].astype(object).tolist() + ["nobody"], dtype=object)
    us = pd.Timedelta(microseconds=1)
    who, times = [], []
    for k in rng.integers(0, 6, n):
        e = events.iloc[int(rng.integers(len(events)))]
        cid, t = e[C.CREATOR_ID], e[C.AS_OF]
        if k == 1:
            t = t + us
        elif k == 2:
            t = t - us
        elif k == 3:
            t = t.normalize().replace(day=1) + pd.DateOffset(months=int(rng.integers(0, 2)))
        elif k == 4:
            t = START + pd.Timedelta(minutes=int(rng.integers(0, 600 * 24 * 60)))
        if k >= 4:  # any creator, including one the market never saw
            cid = creators[rng.integers(len(creators))]
        who.append(cid)
        times.append(t)
    return pd.DataFrame({
        C.CREATOR_ID: pd.array(who, dtype=pd.StringDtype("pyarrow")),
        C.AS_OF: pd.Series(times).astype("datetime64[us, UTC]"),
        C.CATEGORY: pd.array(rng.choice(np.array([*CATEGORIES, None, "toys"], dtype=object), n),
                             dtype=pd.StringDtype("pyarrow")),
        C.COUNTRY: pd.array(rng.choice(np.array([*COUNTRIES, None], dtype=object), n), dtype=pd.StringDtype("pyarrow")),
        C.BUDGET_USD: np.where(rng.random(n) < 0.3, np.nan, np.round(rng.lognormal(8, 1, n), -1)),
    })
