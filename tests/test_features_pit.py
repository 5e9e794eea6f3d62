"""Point-in-time boundaries, checked by hand on a tiny market (Feast-style fixtures).

Decision time T is Saturday 2024-06-15 12:00 UTC. Every row sits on a boundary of the data
contract's rules: exactly at T, 1 µs either side, 7 days after posting or inviting, exactly
on a due date, refunds after T, 30 vs 31 days back, tied timestamps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import coerce_table
from creatorrank.features import engine, specs
import feature_oracle as reference

pytestmark = pytest.mark.data

T = pd.Timestamp("2024-06-15 12:00", tz="UTC")
US = pd.Timedelta(microseconds=1)
D = pd.Timedelta(days=1)


def _post(pid, creator, at, views=5000, f=1000, shop=False, cat="beauty"):
    return {C.POST_ID: pid, C.CREATOR_ID: creator, C.POSTED_AT: at, C.CATEGORY: cat, C.IS_SHOPPABLE: shop,
            C.CAMPAIGN_ID: None, C.FOLLOWERS_AT_POST: f, C.VIEWS_7D: views, C.LIKES_7D: views // 10,
            C.COMMENTS_7D: 0, C.SHARES_7D: 0}


def _inv(iid, invited, responded=None, accepted=None, fee=None, due=None, delivered=None, afp=None, creator="a"):
    return {C.INVITATION_ID: iid, C.CAMPAIGN_ID: "k1", C.CREATOR_ID: creator, C.INVITED_AT: invited,
            C.RESPONDED_AT: responded, C.ACCEPTED: accepted, C.FEE_USD: fee, C.DUE_AT: due,
            C.DELIVERED_AT: delivered, C.APPROVED_FIRST_PASS: afp}


def _order(oid, at, gmv, refunded=None, campaign=None, post="p_before"):
    return {C.ORDER_ID: oid, C.CREATOR_ID: "a", C.CAMPAIGN_ID: campaign, C.POST_ID: post, C.ORDERED_AT: at,
            C.GMV_USD: gmv, C.REFUNDED_AT: refunded}


def boundary_tables() -> dict[str, pd.DataFrame]:
    raw = {
        C.CREATORS: pd.DataFrame({
            C.CREATOR_ID: ["a", "b", "c"], C.COUNTRY: ["US", "US", "GB"],
            C.PRIMARY_CATEGORY: ["beauty", "food", None],
            C.JOINED_AT: [pd.Timestamp("2023-01-01", tz="UTC")] * 2 + [T - 10 * D],
            C.RATE_CARD_USD: [300.0, None, 50.0],
        }),
        C.CAMPAIGNS: pd.DataFrame({
            C.CAMPAIGN_ID: ["k1"], C.BRAND_ID: ["b1"], C.CATEGORY: ["beauty"], C.COUNTRY: ["US"],
            C.CREATED_AT: [pd.Timestamp("2023-02-01", tz="UTC")], C.STARTS_AT: [pd.Timestamp("2023-02-05", tz="UTC")],
            C.ENDS_AT: [pd.Timestamp("2023-03-01", tz="UTC")], C.BUDGET_USD: [1000.0],
        }),
        C.POSTS: pd.DataFrame([
            _post("p_at_T", "a", T, f=99_999),
            _post("p_after", "a", T + US, f=99_999),
            _post("p_before", "a", T - US, shop=True),
            _post("p_3d", "a", T - 3 * D, cat="food"),
            _post("p_7d_exact", "a", T - 7 * D, views=1000),  # counts known exactly at T: not yet
            _post("p_7d_before", "a", T - 7 * D - US, views=10),
            _post("p_30d_exact", "a", T - 30 * D, views=20, cat=None),
            _post("p_31d", "a", T - 31 * D, views=30, f=800, shop=True),
            # creator b: two posts at the same instant; followers break the tie
            _post("q1", "b", T - 20 * D, f=100),
            _post("q2", "b", T - 10 * D, f=600),
            _post("q3", "b", T - 10 * D, f=500),
        ]),
        C.INVITATIONS: pd.DataFrame([
            _inv("i1", T - 8 * D),  # unanswered, 8 days old: ignored
            _inv("i2", T - 7 * D),  # unanswered, exactly 7 days old at T: not yet ignored
            _inv("i3", T - 7 * D - US),  # 7 days and 1 µs: ignored
            _inv("i4", T - 20 * D, T - 10 * D, True, 100.0, due=T - US),  # late answer; due passed, nothing delivered
            _inv("i5", T - 30 * D, T - 29 * D, True, 300.0, due=T, delivered=T, afp=True),  # both exactly at T
            _inv("i6", T - 40 * D, T - 39 * D, True, 200.0, due=T - 20 * D, delivered=T - 20 * D, afp=True),
            _inv("i7", T - 50 * D, T, False),  # answered exactly at T: still ignored at T
            _inv("i8", T),  # invited at T: unknown
        ]),
        C.ORDERS: pd.DataFrame([
            _order("o1", T - US, 10.0, campaign="k1"),
            _order("o2", T, 1000.0),
            _order("o3", T - 100 * D, 20.0, refunded=T + D),
            _order("o4", T - 200 * D, 30.0, refunded=T - US),
            _order("o5", T - 366 * D, 40.0),
        ]),
    }
    return {name: coerce_table(raw[name], CONTRACT[name]) for name in C.TABLES}


@pytest.fixture(scope="module")
def features():
    tables = boundary_tables()
    decisions = pd.DataFrame({
        C.CREATOR_ID: ["a", "b", "c", "a"],
        C.AS_OF: [T, T, T, T + US],
        C.CATEGORY: ["beauty", None, "beauty", "beauty"],
    })
    out = engine.build_features(tables, decisions)
    return out.set_index([C.CREATOR_ID, C.AS_OF]), tables, decisions


def _row(frame, creator, when=T):
    return frame[0].loc[(creator, when)]


def test_posts_strictly_before_t(features):
    a = _row(features, "a")
    assert a["posts_seen"] == 6  # not the posts at T and T + 1 µs
    assert a["posts_30d"] == 5  # T - 30d exactly is inside [T - 30d, T); T - 31d is not
    assert a["posts_90d"] == 6
    assert a["followers"] == 1000  # the post at T - 1 µs, not the one at T
    assert a["days_since_last_post"] == pytest.approx(1e-6 / 86_400)
    assert a["shoppable_share_90d"] == pytest.approx((2 + 1) / (6 + 2))
    # one microsecond later the post at T is known
    assert _row(features, "a", T + US)["posts_seen"] == 7


def test_engagement_known_seven_days_after_posting(features):
    a = _row(features, "a")
    # posted at T - 3d and T - 7d exactly: counted as posts, but their views are not known
    assert a["views_90d"] == 10 + 20 + 30
    assert a["median_views_90d"] == 20
    assert a["engagement_rate_90d"] == pytest.approx((1 + 2 + 3 + 50) / (60 + 1000))


def test_weeks_growth_and_category(features):
    a = _row(features, "a")
    # Monday 2024-06-10 starts T's week; the 13 full weeks before it hold two active weeks
    assert a["active_weeks_share_13w"] == pytest.approx(2 / 13)
    assert a["follower_growth_30d"] == pytest.approx(1000 / 800 - 1)
    assert a["cat_post_share_365d"] == pytest.approx(4 / 6)
    assert a["category_match"] == 1.0


def test_tied_posts(features):
    b = _row(features, "b")
    assert b["followers"] == 600  # same instant: the larger follower count is the later one
    assert b["max_follower_jump_365d"] == pytest.approx(5.0)  # 100 -> 500 -> 600
    assert np.isnan(b["follower_growth_30d"])  # no post 30 days back


def test_invitations_answers_and_ignores(features):
    a = _row(features, "a")
    assert a["invitations_seen"] == 7  # not the one sent at T
    # decided: i1, i3, i7 (over 7 days), i4, i5, i6 (answered); answered within 7 days: i5, i6
    assert a["response_rate"] == pytest.approx((2 + 1) / (6 + 2))
    # still unanswered after 7 days: i1, i3 and i7 (its answer comes at T); i4's late answer cleared it
    assert a["ignored_share"] == pytest.approx((3 + 1) / (6 + 2))
    assert a["acceptance_rate"] == pytest.approx((3 + 1) / (3 + 2))
    assert a["median_hours_to_answer_365d"] == 24.0  # 240 h, 24 h, 24 h
    assert a["median_fee_365d"] == 200.0


def test_deliveries_known_at_due_or_delivery(features):
    a = _row(features, "a")
    # settled: i4 (due at T - 1 µs, nothing delivered) and i6 (on time); i5 is due/delivered at T
    assert a["delivery_rate"] == pytest.approx((1 + 1) / (2 + 2))
    assert a["on_time_rate"] == pytest.approx((1 + 1) / (2 + 2))
    assert a["first_pass_rate"] == pytest.approx((1 + 1) / (1 + 2))
    assert a["campaigns_completed"] == 1


def test_orders_and_refunds(features):
    a = _row(features, "a")
    assert a["orders_seen"] == 4  # o2 at T is not known
    assert a["gmv_365d"] == pytest.approx(10 + 20 + 30)  # o5 is 366 days back
    assert a["campaign_gmv_365d"] == pytest.approx(10)
    assert a["organic_gmv_365d"] == pytest.approx(50)
    assert a["refund_rate"] == pytest.approx((1 + 1) / (4 + 20))  # o3's refund comes after T
    assert a["gmv_per_shoppable_post_365d"] == pytest.approx(60 / 2)
    assert a["rate_card_to_gmv_per_post"] == pytest.approx(300 / 30)


def test_creator_without_history_gets_counts_and_no_invented_values(features):
    c = _row(features, "c")
    for name in ("posts_seen", "posts_30d", "invitations_seen", "orders_seen", "gmv_365d", "views_90d",
                 "campaigns_completed", "cat_views_365d"):
        assert c[name] == 0, name
    # no evidence: every rate, percentile and index is missing, never a prior or a 50
    for name in (*specs.RATES, "median_views_90d", "followers", "days_since_last_post", "median_fee_365d",
                 "max_follower_jump_365d", "cat_views_peer_pct", "eng_per_view_peer_pct", *specs.INDEX_NAMES):
        assert np.isnan(c[name]), name
    for name in specs.INDEX_NAMES:
        assert c[specs.evidence_column(name)] == 0, name
    assert c["days_since_joined"] == pytest.approx(10)


def test_no_category_means_missing_category_features(features):
    b = _row(features, "b")
    for name in ("cat_post_share_365d", "cat_views_peer_pct", "category_match", "idx_category_influence",
                 "idx_category_influence_evidence"):
        assert np.isnan(b[name]), name
    assert b["idx_content_evidence"] == 3  # indices that do not need the category keep their evidence


def test_hand_fixture_matches_reference(features):
    _, tables, decisions = features
    fast = engine.build_features(tables, decisions)
    slow = reference.reference_features(tables, decisions)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-9, atol=1e-12)
