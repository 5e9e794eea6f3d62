"""The engine's public API: columns, dtypes, ordering, determinism, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import ConfigError
from creatorrank.data.generate import generate_market
from creatorrank.features import engine, specs
from random_market import random_decisions, random_market

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def market():
    return generate_market(80, 20, seed=5).tables


def test_columns_dtypes_and_version(market):
    decisions = random_decisions(market, 50, 0)
    out = engine.build_features(market, decisions)
    assert list(out.columns) == [*decisions.columns, *specs.feature_names()]
    assert out.attrs["feature_set_version"] == specs.FEATURE_SET_VERSION
    for spec in specs.CATALOGUE:
        if spec.kind == specs.NUMERIC:
            assert out[spec.name].dtype == np.float64, spec.name
        else:
            assert isinstance(out[spec.name].dtype, pd.StringDtype), spec.name
    pd.testing.assert_frame_equal(out[list(decisions.columns)], decisions)


def test_row_order_follows_the_decisions(market):
    decisions = random_decisions(market, 80, 1)
    out = engine.build_features(market, decisions)
    shuffled = decisions.sample(frac=1.0, random_state=3)
    again = engine.build_features(market, shuffled)
    pd.testing.assert_frame_equal(again, out.loc[shuffled.index].reset_index(drop=True))


def test_deterministic_and_prepared_market_gives_the_same(market):
    decisions = random_decisions(market, 60, 2)
    a = engine.build_features(market, decisions)
    b = engine.build_features(market, decisions)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    prepared = engine.prepare(market)
    c = engine.build_features(prepared, decisions)
    pd.testing.assert_frame_equal(a, c, check_exact=True)
    assert set(prepared.timings) >= {"posts", "total"} or "events" in prepared.timings


def test_prepared_market_refuses_decisions_after_until(market):
    prepared = engine.prepare(market, until="2024-06-01")
    decisions = pd.DataFrame({C.CREATOR_ID: ["c000"], C.AS_OF: [pd.Timestamp("2024-07-01", tz="UTC")]})
    with pytest.raises(ConfigError, match="until"):
        engine.build_features(prepared, decisions)


def test_snapshot_lists_every_creator_joined_before(market):
    as_of = pd.Timestamp("2025-01-15", tz="UTC")
    snap = engine.snapshot(market, as_of)
    creators = market[C.CREATORS]
    expected = sorted(creators.loc[creators[C.JOINED_AT] < as_of, C.CREATOR_ID].astype(str))
    assert snap[C.CREATOR_ID].astype(str).tolist() == expected
    assert list(snap.columns[:4]) == [C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY]
    assert (snap[C.AS_OF] == as_of).all()
    # without a campaign: category and match features are missing, indices are not
    assert snap["cat_post_share_365d"].isna().all() and snap["country_match"].isna().all()
    # an index has a value exactly where it has evidence
    for name in specs.INDEX_NAMES:
        if name == specs.CATEGORY_INDEX:
            continue
        has = snap[specs.evidence_column(name)] > 0
        assert snap.loc[has, name].between(0, 100).all() and snap.loc[~has, name].isna().all(), name
    # creators without a resolved invitation are kept, with counts and no invitation rates
    quiet = snap[snap["idx_cooperation_evidence"] == 0]
    assert len(quiet) and (quiet["invitations_seen"] >= 0).all()
    assert quiet[["response_rate", "ignored_share", "acceptance_rate"]].isna().all().all()


def test_snapshot_naive_time_is_utc_and_joined_at_boundary(market):
    joined = market[C.CREATORS][C.JOINED_AT].sort_values().iloc[10]
    snap = engine.snapshot(market, joined.tz_localize(None), category="beauty", country="US")
    assert snap[C.AS_OF].iloc[0] == joined
    assert (market[C.CREATORS].set_index(C.CREATOR_ID).loc[snap[C.CREATOR_ID].astype(str), C.JOINED_AT] < joined).all()
    assert snap["cat_post_share_365d"].notna().all()


def test_training_matrix_rows_and_order(market):
    matrix = engine.training_matrix(market)
    inv = market[C.INVITATIONS]
    assert len(matrix) == len(inv)
    assert sorted(matrix[C.INVITATION_ID].astype(str)) == sorted(inv[C.INVITATION_ID].astype(str))
    keys = matrix[[C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID]].astype({C.CAMPAIGN_ID: str, C.CREATOR_ID: str})
    assert keys.equals(keys.sort_values([C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID], kind="stable"))
    created = market[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)[C.CREATED_AT]
    assert (matrix[C.AS_OF].to_numpy() == created.loc[matrix[C.CAMPAIGN_ID].astype(str)].to_numpy()).all()
    assert list(matrix.columns[:7]) == [C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY,
                                        C.COUNTRY, C.BUDGET_USD]
    # a campaign never sees its own invitations: nothing of it is known at its creation
    assert matrix["category_match"].notna().all()


def test_unknown_creators_and_empty_decisions(market):
    decisions = pd.DataFrame({C.CREATOR_ID: ["nobody"], C.AS_OF: [pd.Timestamp("2025-01-01", tz="UTC")]})
    row = engine.build_features(market, decisions).iloc[0]
    assert row["posts_seen"] == 0 and np.isnan(row["response_rate"]) and np.isnan(row["days_since_joined"])
    assert row["idx_cooperation_evidence"] == 0 and np.isnan(row["idx_cooperation"])
    empty = engine.build_features(market, decisions.iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == [C.CREATOR_ID, C.AS_OF, *specs.feature_names()]


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({C.AS_OF: [pd.Timestamp("2025-01-01", tz="UTC")]}), "creator_id"),
        (pd.DataFrame({C.CREATOR_ID: ["c000"]}), "as_of"),
        (pd.DataFrame({C.CREATOR_ID: ["c000"], C.AS_OF: [pd.NaT]}), "missing as_of"),
        (pd.DataFrame({C.CREATOR_ID: ["c000"], C.AS_OF: [pd.Timestamp("2025-01-01", tz="UTC")], "posts_30d": [1]}),
         "posts_30d"),
    ],
)
def test_bad_decisions_raise_config_error(market, frame, message):
    with pytest.raises(ConfigError, match=message):
        engine.build_features(market, frame)


def test_tables_are_not_modified():
    tables = random_market(3)
    copies = {k: v.copy() for k, v in tables.items()}
    engine.training_matrix(tables)
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], copies[name])


def test_prepared_market_pickles_with_its_peer_cache(market):
    """Serving ships a prepared market to Dask workers: it must survive pickling."""
    import pickle

    decisions = random_decisions(market, 40, 6)
    prepared = engine.prepare(market)
    first = engine.build_features(prepared, decisions)  # fills the per-month peer cache
    assert prepared._peer_cache
    clone = pickle.loads(pickle.dumps(prepared))
    assert set(clone._peer_cache) == set(prepared._peer_cache)
    pd.testing.assert_frame_equal(engine.build_features(clone, decisions), first, check_exact=True)


def test_warm_peer_tables_builds_each_decision_month_once(market, monkeypatch):
    """Serving warms the peer cache directly (no throwaway feature build): one table per month."""
    decisions = random_decisions(market, 40, 6)
    prepared = engine.prepare(market)
    engine.warm_peer_tables(prepared, list(decisions[C.AS_OF]))
    months = {int(m) for m in engine._month_floor(engine._us(decisions[C.AS_OF]))}
    assert {month for month, _ in prepared._peer_cache} == months
    built = []
    real = engine.PeerTables.build
    monkeypatch.setattr(engine.PeerTables, "build", staticmethod(lambda *a, **k: built.append(1) or real(*a, **k)))
    warm = engine.build_features(prepared, decisions)
    assert not built  # every month was ready
    pd.testing.assert_frame_equal(warm, engine.build_features(market, decisions), check_exact=True)


def test_prepare_threads_never_exceed_the_machine(monkeypatch):
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 1)
    assert engine.prepare_threads() == 1
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 64)
    assert engine.prepare_threads() == engine.PREPARE_THREADS


def test_empty_tables():
    tables = random_market(0)
    decisions = random_decisions(tables, 30, 0)
    no_events = {k: (v.iloc[:0].copy() if k in (C.POSTS, C.ORDERS, C.INVITATIONS) else v) for k, v in tables.items()}
    out = engine.build_features(no_events, decisions)
    assert len(out) == 30 and (out["posts_seen"] == 0).all() and out["idx_sales"].isna().all()
    assert (out["idx_sales_evidence"] == 0).all() and out["refund_rate"].isna().all()
    assert len(engine.training_matrix(no_events)) == 0
    nothing = {k: v.iloc[:0].copy() for k, v in tables.items()}
    assert len(engine.build_features(nothing, decisions)) == 30
    assert len(engine.snapshot(nothing, "2025-01-01")) == 0
