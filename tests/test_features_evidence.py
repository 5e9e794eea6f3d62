"""Legal sparse input never crashes the engine, and no evidence is never shown as evidence.

Issue 11: empty tables and all-null nullable columns are legal; a rate or index that rests on
nothing is missing (NaN); thin evidence is shrunk toward the peers; scrape glitches (likes on
0-view posts, a 0-follower row between 1M-follower rows) keep features bounded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.generate import generate_market
from creatorrank.data.load import coerce_table, read_tables
from creatorrank.features import engine, indices, specs
import feature_oracle as reference
from random_market import random_decisions
from tiny_market import tiny_tables, write_tables

pytestmark = pytest.mark.data

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")
DECISION_COLUMNS = [C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]


def _empty(*names):
    def edit(tables):
        for name in names:
            tables[name] = tables[name].iloc[:0].copy()
    return edit


def _null_post_ids(tables):
    orders = tables[C.ORDERS]
    orders[C.POST_ID] = pd.array([None] * len(orders), dtype=orders[C.POST_ID].dtype)


def _creator_without_facts(tables):
    extra = tables[C.CREATORS].iloc[:1].copy()
    extra[C.CREATOR_ID] = "c9"
    extra[C.JOINED_AT] = pd.Timestamp("2024-01-15", tz="UTC")
    tables[C.CREATORS] = pd.concat([tables[C.CREATORS], extra], ignore_index=True)


SPARSE = {
    "orders.post_id all null": _null_post_ids,
    "no campaigns": _empty(C.CAMPAIGNS),
    "no posts": _empty(C.POSTS),
    "no orders": _empty(C.ORDERS),
    "no invitations": _empty(C.INVITATIONS),
    "no facts at all": _empty(C.POSTS, C.ORDERS, C.INVITATIONS, C.CAMPAIGNS),
    "a creator without facts": _creator_without_facts,
}


@pytest.mark.parametrize("case", list(SPARSE))
def test_sparse_market_never_crashes(tiny, case):
    SPARSE[case](tiny)
    prepared = engine.prepare(tiny)
    decisions = pd.DataFrame({C.CREATOR_ID: ["c1", "c2", "c3", "nobody"], C.AS_OF: [AS_OF] * 4,
                              C.CATEGORY: ["beauty", None, "food", "beauty"]})
    out = engine.build_features(prepared, decisions)
    assert len(out) == 4 and list(out.columns) == [*decisions.columns, *specs.feature_names()]
    snap = engine.snapshot(tiny, AS_OF, category="beauty")
    joined = tiny[C.CREATORS][C.JOINED_AT] < AS_OF
    assert snap[C.CREATOR_ID].tolist() == sorted(tiny[C.CREATORS].loc[joined, C.CREATOR_ID])
    matrix = engine.training_matrix(tiny)
    assert list(matrix.columns) == [*DECISION_COLUMNS, *specs.feature_names()]
    expected_rows = len(tiny[C.INVITATIONS]) if len(tiny[C.CAMPAIGNS]) else 0
    assert len(matrix) == expected_rows
    # every index has a value exactly where it has evidence, and no rate exists without trials
    for frame in (out, snap, matrix):
        for name in specs.INDEX_NAMES:
            evidence = frame[specs.evidence_column(name)]
            assert frame.loc[~(evidence > 0), name].isna().all(), (case, name)
            # with evidence: a percentile, or missing when it ties with every peer (no rank)
            assert frame.loc[evidence > 0, name].dropna().between(0, 100).all(), (case, name)
        for rate in specs.RATES:
            assert frame[rate].dropna().between(0, 1).all(), (case, rate)
    pd.testing.assert_frame_equal(out, reference.reference_features(tiny, decisions), rtol=1e-9, atol=1e-12)


NULLABLE = [(table.name, col.name) for table in CONTRACT.values() for col in table.columns if col.nullable]


@pytest.mark.parametrize("table, column", NULLABLE, ids=[f"{t}.{c}" for t, c in NULLABLE])
def test_any_nullable_column_all_null(tiny, table, column):
    frame = tiny[table]
    frame[column] = pd.Series([None] * len(frame), dtype=object).astype(frame[column].dtype)
    assert frame[column].isna().all()
    decisions = pd.DataFrame({C.CREATOR_ID: ["c1", "c2", "c3"], C.AS_OF: [AS_OF] * 3, C.CATEGORY: "beauty"})
    out = engine.build_features(tiny, decisions)
    pd.testing.assert_frame_equal(out, reference.reference_features(tiny, decisions), rtol=1e-9, atol=1e-12)
    assert len(engine.training_matrix(tiny)) == len(tiny[C.INVITATIONS])
    assert len(engine.snapshot(tiny, AS_OF)) == 3


def test_null_post_ids_fall_back_to_the_campaign_category(tiny):
    full = engine.snapshot(tiny, AS_OF, category="beauty").set_index(C.CREATOR_ID)
    _null_post_ids(tiny)
    null = engine.snapshot(tiny, AS_OF, category="beauty").set_index(C.CREATOR_ID)
    assert full.loc["c1", "cat_gmv_365d"] == 125.0  # o1 via its beauty post, o2 and o3 via post or campaign
    assert null.loc["c1", "cat_gmv_365d"] == 85.0  # o1 has neither a post nor a campaign now


def test_training_matrix_without_invitations_has_every_column(tiny):
    _empty(C.INVITATIONS)(tiny)
    matrix = engine.training_matrix(tiny)
    assert len(matrix) == 0 and list(matrix.columns) == [*DECISION_COLUMNS, *specs.feature_names()]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_header_only_tables_read_from_disk(tmp_path, fmt):
    """Header-only tables written and read back as a user's folder would be."""
    tables = generate_market(30, 6, seed=3).tables
    for name in (C.CAMPAIGNS, C.POSTS, C.ORDERS, C.INVITATIONS):
        tables[name] = tables[name].iloc[:0]
    tables = read_tables(write_tables(tables, tmp_path, fmt))
    assert all(len(tables[name]) == 0 for name in (C.CAMPAIGNS, C.POSTS, C.ORDERS, C.INVITATIONS))
    snap = engine.snapshot(tables, "2025-06-01", category="beauty")
    assert len(snap) and snap[list(specs.INDEX_NAMES)].isna().all().all()
    assert (snap[[specs.evidence_column(n) for n in specs.INDEX_NAMES]] == 0).all().all()
    assert len(engine.training_matrix(tables)) == 0


# --------------------------------------------------------------------------- evidence


def _ts(day: float) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day)


def evidence_market(n_good: int = 12, n_poor: int = 12, n_none: int = 5) -> dict[str, pd.DataFrame]:
    """Creators with strong and good, weak and poor, and no evidence on every index.

    Decision time: day 200 (2024-07-19); a month start (2024-07-01, day 182) is the peer
    reference. Good creators post weekly with shop links, high engagement and sales, answer
    every invitation within a day and deliver on time; poor ones posted once (few views, no
    engagement, no sales), ignored one invitation and missed the due date of another.
    """
    ids = [f"good{i:02d}" for i in range(n_good)] + [f"poor{i:02d}" for i in range(n_poor)] + \
          [f"none{i:02d}" for i in range(n_none)]
    creators = pd.DataFrame({C.CREATOR_ID: ids, C.COUNTRY: "US", C.PRIMARY_CATEGORY: "beauty",
                             C.JOINED_AT: [_ts(0)] * len(ids), C.RATE_CARD_USD: 100.0})
    posts, invitations, orders, campaigns = [], [], [], []
    for j in range(20):
        campaigns.append({C.CAMPAIGN_ID: f"k{j}", C.BRAND_ID: "b", C.CATEGORY: "beauty", C.COUNTRY: "US",
                          C.CREATED_AT: _ts(5 + 7 * j), C.STARTS_AT: _ts(6 + 7 * j), C.ENDS_AT: _ts(30 + 7 * j),
                          C.BUDGET_USD: 1000.0})
    for i, cid in enumerate(ids):
        if cid.startswith("good"):
            for w in range(24):
                day = 30 + 7 * w + i / 10
                posts.append(_post(f"{cid}_p{w}", cid, day, views=20_000 + 100 * i, likes=1_400 + 10 * i,
                                   followers=5_000 + 10 * w, shop=True))
                if w % 2 == 0:
                    orders.append(_order(f"{cid}_o{w}", cid, day + 1, f"{cid}_p{w}", gmv=80.0 + i))
            for j in range(10):
                invited = 5 + 7 * j + 0.5
                invitations.append(_invitation(f"{cid}_i{j}", f"k{j}", cid, invited, responded=invited + 1,
                                               accepted=True, due=invited + 10, delivered=invited + 8,
                                               first_pass=True))
        elif cid.startswith("poor"):
            posts.append(_post(f"{cid}_p0", cid, 150 + i / 10, views=50 + i, likes=0, followers=5_000, shop=False))
            invitations.append(_invitation(f"{cid}_i0", "k10", cid, 75.5))  # never answered
            invitations.append(_invitation(f"{cid}_i1", "k11", cid, 82.5, responded=92.5, accepted=True,
                                           due=110))  # answered late, due date passed, nothing delivered
    raw = {C.CREATORS: creators, C.POSTS: pd.DataFrame(posts), C.INVITATIONS: pd.DataFrame(invitations),
           C.ORDERS: pd.DataFrame(orders), C.CAMPAIGNS: pd.DataFrame(campaigns)}
    return {name: coerce_table(raw[name], CONTRACT[name]) for name in C.TABLES}


def _post(pid, cid, day, views, likes, followers, shop):
    return {C.POST_ID: pid, C.CREATOR_ID: cid, C.POSTED_AT: _ts(day), C.CATEGORY: "beauty", C.IS_SHOPPABLE: shop,
            C.CAMPAIGN_ID: None, C.FOLLOWERS_AT_POST: followers, C.VIEWS_7D: views, C.LIKES_7D: likes,
            C.COMMENTS_7D: likes // 20, C.SHARES_7D: likes // 50}


def _order(oid, cid, day, post, gmv):
    return {C.ORDER_ID: oid, C.CREATOR_ID: cid, C.CAMPAIGN_ID: None, C.POST_ID: post, C.ORDERED_AT: _ts(day),
            C.GMV_USD: gmv, C.REFUNDED_AT: None}


def _invitation(iid, kid, cid, invited, responded=None, accepted=None, due=None, delivered=None, first_pass=None):
    def at(day):
        return None if day is None else _ts(day)
    return {C.INVITATION_ID: iid, C.CAMPAIGN_ID: kid, C.CREATOR_ID: cid, C.INVITED_AT: at(invited),
            C.RESPONDED_AT: at(responded), C.ACCEPTED: accepted, C.FEE_USD: None, C.DUE_AT: at(due),
            C.DELIVERED_AT: at(delivered), C.APPROVED_FIRST_PASS: first_pass}


@pytest.fixture(scope="module")
def evidence_snapshot():
    tables = evidence_market()
    snap = engine.snapshot(tables, _ts(200), category="beauty")
    return tables, snap.set_index(C.CREATOR_ID)


def test_no_evidence_is_missing_and_never_ranks_above_weak_evidence(evidence_snapshot):
    _, snap = evidence_snapshot
    kind = snap.index.str[:4]
    good, poor, none = snap[kind == "good"], snap[kind == "poor"], snap[kind == "none"]
    for name in specs.INDEX_NAMES:
        evidence = specs.evidence_column(name)
        assert none[name].isna().all() and (none[evidence] == 0).all(), name
        assert poor[name].notna().all() and good[name].notna().all(), name
        assert good[name].min() > poor[name].max(), (name, good[name].min(), poor[name].max())
        # poor evidence is thin, strong evidence is not
        assert (poor[evidence] < specs.THIN_EVIDENCE[name]).all(), name
        assert (good[evidence] >= specs.THIN_EVIDENCE[name]).all(), name
    for rate in specs.RATES:
        assert none[rate].isna().all(), rate
    # the exact evidence counts of a poor creator (see evidence_market)
    row = poor.iloc[0]
    assert row["idx_cooperation_evidence"] == 2  # one ignored, one answered late
    assert row["idx_reliability_evidence"] == 1  # its due date passed
    assert row["idx_diligence_evidence"] == 1 and row["idx_content_evidence"] == 1
    assert row["idx_authenticity_evidence"] == 1 and row["idx_category_influence_evidence"] == 1
    assert row["idx_sales_evidence"] == 1  # one post, no order
    assert np.isnan(row["refund_rate"]) and np.isnan(row["first_pass_rate"])  # no order, no delivery
    assert row["invitations_seen"] == 2 and row["posts_seen"] == 1 and row["orders_seen"] == 0


def test_thin_evidence_is_shrunk_toward_the_peer_median(evidence_snapshot):
    """The same poor record with more evidence ranks lower: thin evidence stays near the middle."""
    tables, snap = evidence_snapshot
    more = {k: v.copy() for k, v in tables.items()}
    inv = more[C.INVITATIONS]
    poor = inv[inv[C.CREATOR_ID] == "poor00"]
    repeats = []
    for r in range(6):  # six more ignored invitations
        extra = poor.iloc[:1].copy()
        extra[C.INVITATION_ID] = f"poor00_x{r}"
        extra[C.INVITED_AT] = _ts(100 + r)
        repeats.append(extra)
    more[C.INVITATIONS] = pd.concat([inv, *repeats], ignore_index=True)
    again = engine.snapshot(more, _ts(200), category="beauty").set_index(C.CREATOR_ID)
    assert again.loc["poor00", "idx_cooperation_evidence"] == 8
    assert again.loc["poor00", "idx_cooperation"] < snap.loc["poor00", "idx_cooperation"]
    assert again.loc["poor00", "response_rate"] < snap.loc["poor00", "response_rate"]


def test_evidence_market_matches_reference(evidence_snapshot):
    tables, snap = evidence_snapshot
    decisions = pd.DataFrame({C.CREATOR_ID: list(snap.index), C.AS_OF: _ts(200), C.CATEGORY: "beauty"})
    pd.testing.assert_frame_equal(engine.build_features(tables, decisions),
                                  reference.reference_features(tables, decisions), rtol=1e-9, atol=1e-12)


def test_missing_components_are_left_out_not_counted_as_50():
    pcts = [np.array([80.0, np.nan, np.nan]), np.array([40.0, 20.0, np.nan]), np.array([np.nan, 30.0, np.nan])]
    got = indices.combine(pcts)
    assert got[0] == 60.0 and got[1] == 25.0 and np.isnan(got[2])
    shrunk = indices.shrink(np.array([90.0, 90.0, 90.0, 90.0]), np.array([0.0, 1.0, 4.0, np.nan]),
                            np.array([50.0] * 4), 4.0)
    assert np.isnan(shrunk[0]) and shrunk[1] == 50.0 + 40.0 / 5 and shrunk[2] == 70.0 and np.isnan(shrunk[3])


# --------------------------------------------------------------------------- rate priors


def test_prior_is_fitted_to_the_peers_by_moments():
    k = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 5.0, 0.0, 4.0, 2.0, 6.0, 9.0, 0.0])
    n = np.array([4.0, 4.0, 4.0, 4.0, 2.0, 10.0, 3.0, 8.0, 5.0, 10.0, 10.0, 0.0])
    a, b = indices.fit_prior(k, n, (1.0, 1.0))
    r = k[n > 0] / n[n > 0]
    strength = r.mean() * (1 - r.mean()) / r.var() - 1
    assert a + b == pytest.approx(np.clip(strength, *specs.PRIOR_STRENGTH))
    assert a / (a + b) == pytest.approx(r.mean())
    # too few peers with trials: the documented fallback
    assert indices.fit_prior(k[:5], n[:5], (1.0, 19.0)) == (1.0, 19.0)
    # no spread at all: the strongest prior allowed
    same = indices.fit_prior(np.full(20, 1.0), np.full(20, 4.0), (1.0, 1.0))
    assert sum(same) == pytest.approx(specs.PRIOR_STRENGTH[1]) and same[0] / sum(same) == pytest.approx(0.25)
    # a rate is missing without trials and lies between the raw rate and the prior mean with them
    rate = indices.apply_prior(np.array([0.0, 3.0, 0.0]), np.array([0.0, 3.0, 1.0]), (1.0, 3.0))
    assert np.isnan(rate[0]) and 0.25 < rate[1] < 1.0 and 0.0 < rate[2] < 0.25


def test_generated_market_uses_fitted_point_in_time_priors():
    tables = generate_market(120, 30, seed=4).tables
    prepared = engine.prepare(tables)
    month = int(engine._month_floor(np.array([engine._us(pd.Series([pd.Timestamp("2025-03-01", tz="UTC")]))[0]]))[0])
    priors = engine._peer_tables(prepared, month, specs.PEER_CAP).priors
    for rate, fallback in specs.RATES.items():
        a, b = priors[rate]
        assert priors[rate] != fallback, rate
        assert specs.PRIOR_STRENGTH[0] - 1e-9 <= a + b <= specs.PRIOR_STRENGTH[1] + 1e-9, rate
    decisions = random_decisions(tables, 120, 4)
    out = engine.build_features(prepared, decisions)
    for rate in specs.RATES:
        assert out[rate].dropna().between(0, 1).all(), rate


# --------------------------------------------------------------------------- glitches


def _glitch_market(followers, views=None, likes=None):
    """One creator 'g' with the given posts (daily, ending 30 days before AS_OF) plus a quiet peer."""
    n = len(followers)
    views = views if views is not None else [10_000] * n
    likes = likes if likes is not None else [500] * n
    tables = {
        C.CREATORS: pd.DataFrame({C.CREATOR_ID: ["g", "q"], C.COUNTRY: "US", C.PRIMARY_CATEGORY: "beauty",
                                  C.JOINED_AT: [pd.Timestamp("2024-01-01", tz="UTC")] * 2, C.RATE_CARD_USD: 10.0}),
        C.POSTS: pd.DataFrame([
            {C.POST_ID: f"p{i}", C.CREATOR_ID: "g", C.POSTED_AT: AS_OF - pd.Timedelta(days=30 + n - i),
             C.CATEGORY: "beauty", C.IS_SHOPPABLE: False, C.CAMPAIGN_ID: None, C.FOLLOWERS_AT_POST: followers[i],
             C.VIEWS_7D: views[i], C.LIKES_7D: likes[i], C.COMMENTS_7D: 0, C.SHARES_7D: 0}
            for i in range(n)
        ]),
    }
    empty = tiny_tables()
    for name in (C.CAMPAIGNS, C.INVITATIONS, C.ORDERS):
        tables[name] = empty[name].iloc[:0]
    return {name: coerce_table(tables[name], CONTRACT[name]) for name in C.TABLES}


def _features_of_g(tables):
    decisions = pd.DataFrame({C.CREATOR_ID: ["g"], C.AS_OF: [AS_OF]})
    out = engine.build_features(tables, decisions)
    pd.testing.assert_frame_equal(out, reference.reference_features(tables, decisions), rtol=1e-9, atol=1e-12)
    return out.iloc[0]


def test_a_zero_follower_row_between_million_follower_rows_is_no_jump():
    row = _features_of_g(_glitch_market([1_000_000, 1_000_000, 0, 1_000_000, 1_000_000]))
    assert row["max_follower_jump_365d"] == 1.0
    assert row["views_per_follower_90d"] == pytest.approx(10_000 / 1_000_000)  # the 0-follower post is left out


def test_real_jumps_are_measured_against_the_recent_median_and_capped():
    bought = _features_of_g(_glitch_market([10_000, 10_500, 9_500, 50_000, 51_000]))
    assert bought["max_follower_jump_365d"] == pytest.approx(50_000 / 10_000)
    dip = _features_of_g(_glitch_market([10_000, 10_000, 2_000, 10_000]))  # one low row: the median ignores it
    assert dip["max_follower_jump_365d"] == 1.0
    huge = _features_of_g(_glitch_market([10, 10_000_000]))
    assert huge["max_follower_jump_365d"] == specs.JUMP_CAP
    single = _features_of_g(_glitch_market([10_000]))
    assert np.isnan(single["max_follower_jump_365d"])  # nothing to compare with: missing, not "no jump"


def test_likes_on_a_post_without_views_keep_rates_bounded():
    clean = _features_of_g(_glitch_market([1000, 1000], views=[1000, 1000], likes=[50, 50]))
    glitch = _features_of_g(_glitch_market([1000, 1000, 1000], views=[1000, 1000, 0], likes=[50, 50, 458_000]))
    assert 0 <= glitch["engagement_rate_90d"] <= 1
    for name in ("engagement_rate_90d", "views_90d"):
        assert glitch[name] == clean[name], name  # the 0-view post adds nothing to a per-view ratio
    assert glitch["idx_authenticity_evidence"] == 2 and glitch["idx_content_evidence"] == 3
    heavy = _features_of_g(_glitch_market([1000], views=[100], likes=[5_000]))  # more likes than views
    assert heavy["engagement_rate_90d"] <= 1


def test_a_percentile_among_no_peers_is_missing_not_50():
    """Nobody joined before the month start: there is evidence but nothing to compare it with."""
    tables = _glitch_market([1000, 1100, 1200])
    tables[C.CREATORS][C.JOINED_AT] = pd.Timestamp("2024-05-10", tz="UTC")
    decisions = pd.DataFrame({C.CREATOR_ID: ["g"], C.AS_OF: [pd.Timestamp("2024-05-20", tz="UTC")],
                              C.CATEGORY: ["beauty"]})
    out = engine.build_features(tables, decisions)
    pd.testing.assert_frame_equal(out, reference.reference_features(tables, decisions), rtol=1e-9, atol=1e-12)
    row = out.iloc[0]
    assert row["idx_content_evidence"] == 3 and row["idx_category_influence_evidence"] == 3
    for name in (*specs.INDEX_NAMES, "eng_per_view_peer_pct", "eng_per_follower_peer_pct", "cat_views_peer_pct"):
        assert np.isnan(row[name]), name
    assert row["engagement_rate_90d"] == pytest.approx((1500 + 50) / (30_000 + 1000))  # the fallback prior
