"""No feature of a decision at T moves when anything known at or after T changes.

On a generated market, every fact that becomes known at or after T is rewritten at random
(values, times, answers, deliveries, refunds, 7-day counts not yet in) and new rows are
appended at or after T; the features of every creator at T must stay bit-identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.generate import generate_market
from creatorrank.features import engine

pytestmark = pytest.mark.data

DAY = pd.Timedelta(days=1)


def _later(rng, T, n, days=60):
    """n random times in [T, T + days), a few exactly at T."""
    offsets = pd.to_timedelta(rng.integers(0, days * 86_400_000_000, n), unit="us")
    out = pd.Series(T + offsets, dtype="datetime64[us, UTC]")
    out[rng.random(n) < 0.1] = T
    return out


def mutate_after(tables: dict[str, pd.DataFrame], T: pd.Timestamp, seed: int) -> dict[str, pd.DataFrame]:
    """A copy of ``tables`` where everything known at or after T is random."""
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in tables.items()}

    posts = out[C.POSTS]
    late = (posts[C.POSTED_AT] >= T).to_numpy()
    counts_pending = ((posts[C.POSTED_AT] + 7 * DAY) >= T).to_numpy()  # 7-day counts not known at T
    for col in (C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D, C.SHARES_7D):
        posts.loc[counts_pending, col] = rng.integers(0, 10**6, counts_pending.sum())
    posts.loc[late, C.FOLLOWERS_AT_POST] = rng.integers(0, 10**7, late.sum())
    posts.loc[late, C.IS_SHOPPABLE] = rng.random(late.sum()) < 0.5
    posts.loc[late, C.POSTED_AT] = _later(rng, T, late.sum()).to_numpy()
    extra = posts.sample(n=min(200, len(posts)), random_state=seed, replace=True).copy()
    extra[C.POST_ID] = [f"new_p{i}" for i in range(len(extra))]
    extra[C.POSTED_AT] = _later(rng, T, len(extra)).to_numpy()
    out[C.POSTS] = pd.concat([posts, extra], ignore_index=True)

    inv = out[C.INVITATIONS]
    fresh = (inv[C.INVITED_AT] >= T).to_numpy()
    inv.loc[fresh, C.INVITED_AT] = _later(rng, T, fresh.sum()).to_numpy()
    unanswered = (inv[C.RESPONDED_AT].isna() | (inv[C.RESPONDED_AT] >= T)).to_numpy()
    answer = _later(rng, T, unanswered.sum())
    answer[rng.random(unanswered.sum()) < 0.3] = pd.NaT
    inv.loc[unanswered, C.RESPONDED_AT] = answer.to_numpy()
    accepted = pd.array(np.where(answer.isna(), None, rng.random(unanswered.sum()) < 0.6), dtype="boolean")
    inv.loc[unanswered, C.ACCEPTED] = accepted
    inv.loc[unanswered, C.FEE_USD] = np.where(accepted.fillna(False).to_numpy(bool), rng.lognormal(5, 1, len(answer)), np.nan)
    open_due = (inv[C.DUE_AT].isna() | (inv[C.DUE_AT] >= T)).to_numpy() & inv[C.ACCEPTED].fillna(False).to_numpy(bool)
    inv.loc[open_due, C.DUE_AT] = _later(rng, T, open_due.sum()).to_numpy()
    undelivered = (inv[C.DELIVERED_AT].isna() | (inv[C.DELIVERED_AT] >= T)).to_numpy() & inv[C.ACCEPTED].fillna(False).to_numpy(bool)
    delivered = _later(rng, T, undelivered.sum())
    delivered[rng.random(undelivered.sum()) < 0.3] = pd.NaT
    inv.loc[undelivered, C.DELIVERED_AT] = delivered.to_numpy()
    inv.loc[undelivered, C.APPROVED_FIRST_PASS] = pd.array(
        np.where(delivered.isna(), None, rng.random(undelivered.sum()) < 0.5), dtype="boolean")
    not_accepted = ~inv[C.ACCEPTED].fillna(False).to_numpy(bool)
    for col in (C.DUE_AT, C.DELIVERED_AT):
        inv.loc[not_accepted, col] = pd.NaT
    inv.loc[not_accepted, C.APPROVED_FIRST_PASS] = pd.NA

    orders = out[C.ORDERS]
    late = (orders[C.ORDERED_AT] >= T).to_numpy()
    orders.loc[late, C.GMV_USD] = rng.lognormal(3, 1, late.sum())
    orders.loc[late, C.ORDERED_AT] = _later(rng, T, late.sum()).to_numpy()
    open_refund = (orders[C.REFUNDED_AT].isna() | (orders[C.REFUNDED_AT] >= T)).to_numpy()
    refund = pd.Series(np.maximum(_later(rng, T, open_refund.sum()).to_numpy(),
                                  orders.loc[open_refund, C.ORDERED_AT].to_numpy()), dtype="datetime64[us, UTC]")
    refund[rng.random(open_refund.sum()) < 0.5] = pd.NaT
    orders.loc[open_refund, C.REFUNDED_AT] = refund.to_numpy()
    extra = orders.sample(n=min(200, len(orders)), random_state=seed, replace=True).copy()
    extra[C.ORDER_ID] = [f"new_o{i}" for i in range(len(extra))]
    extra[C.ORDERED_AT] = _later(rng, T, len(extra)).to_numpy()
    extra[C.REFUNDED_AT] = pd.NaT
    out[C.ORDERS] = pd.concat([orders, extra], ignore_index=True)

    creators = out[C.CREATORS]
    newcomers = creators.head(5).copy()
    newcomers[C.CREATOR_ID] = [f"new_c{i}" for i in range(len(newcomers))]
    newcomers[C.JOINED_AT] = _later(rng, T, len(newcomers)).to_numpy()
    out[C.CREATORS] = pd.concat([creators, newcomers], ignore_index=True)
    return {name: out[name][CONTRACT[name].column_names].reset_index(drop=True) for name in C.TABLES}


@pytest.fixture(scope="module")
def market():
    return generate_market(150, 40, seed=3).tables


@pytest.mark.parametrize("when", ["2025-03-17 10:30", "2025-02-01 00:00", "2024-09-30 23:59:59.999999"])
def test_future_changes_leave_features_unchanged(market, when):
    T = pd.Timestamp(when, tz="UTC")
    before = engine.snapshot(market, T, category="beauty", country="US")
    mutated = mutate_after(market, T, seed=int(T.value % 1000))
    assert not mutated[C.POSTS].equals(market[C.POSTS])  # the mutation did something
    after = engine.snapshot(mutated, T, category="beauty", country="US")
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_future_changes_leave_decision_features_unchanged(market):
    """Decisions at T for every creator (known or not) with mixed campaign attributes."""
    T = pd.Timestamp("2025-06-12 08:00", tz="UTC")
    ids = market[C.CREATORS][C.CREATOR_ID].astype(object).tolist() + ["nobody"]
    rng = np.random.default_rng(0)
    decisions = pd.DataFrame({
        C.CREATOR_ID: ids,
        C.AS_OF: pd.Series([T] * len(ids), dtype="datetime64[us, UTC]"),
        C.CATEGORY: rng.choice(np.array(["beauty", "food", None, "unknown"], dtype=object), len(ids)),
        C.COUNTRY: rng.choice(np.array(["US", "GB", None], dtype=object), len(ids)),
        C.BUDGET_USD: rng.lognormal(8, 1, len(ids)),
    })
    before = engine.build_features(market, decisions)
    after = engine.build_features(mutate_after(market, T, seed=1), decisions)
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_a_change_before_t_is_seen(market):
    """The converse, so the invariance test cannot pass by ignoring the data."""
    T = pd.Timestamp("2025-03-17 10:30", tz="UTC")
    before = engine.snapshot(market, T)
    changed = {k: v.copy() for k, v in market.items()}
    posts = changed[C.POSTS]
    just_before = (posts[C.POSTED_AT] < T) & (posts[C.POSTED_AT] >= T - 30 * DAY)
    changed[C.POSTS] = posts[~just_before].reset_index(drop=True)
    after = engine.snapshot(changed, T)
    assert (after["posts_30d"] < before["posts_30d"]).any()
