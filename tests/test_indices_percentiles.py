"""Peer percentiles and index arithmetic against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creatorrank.features import engine, indices, specs
from random_market import random_decisions, random_market

pytestmark = pytest.mark.data


def brute(values, x):
    values = [v for v in values if not np.isnan(v)]
    if np.isnan(x):
        return np.nan
    if not values:
        return np.nan  # no peers: nothing to compare with
    if all(v == x for v in values):
        return np.nan  # tied with every peer: no rank
    return 100.0 * (sum(v < x for v in values) + 0.5 * sum(v == x for v in values)) / len(values)


small = st.one_of(st.just(float("nan")), st.integers(-30, 30).map(lambda v: v / 10))  # ties are likely


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(small, st.integers(-1, 2)), max_size=40), st.lists(st.tuples(small, st.integers(-1, 3)), max_size=20))
def test_rank_within_and_lookup_match_brute_force(peers, queries):
    values = np.array([p[0] for p in peers], dtype=float)
    groups = np.array([p[1] for p in peers], dtype=np.int64)
    own, dist = indices.rank_within(values, groups, 3)
    for i, (v, g) in enumerate(peers):
        expect = np.nan if np.isnan(v) or g < 0 else brute(values[groups == g], v)
        assert np.isnan(own[i]) if np.isnan(expect) else own[i] == expect
    x = np.array([q[0] for q in queries], dtype=float)
    qg = np.array([q[1] for q in queries], dtype=np.int64)
    got = dist.percentile(x, indices.partition(qg))
    for i, (v, g) in enumerate(queries):
        pool = values[groups == g] if 0 <= g < 3 else np.array([])
        expect = brute(pool, v)
        assert np.isnan(got[i]) if np.isnan(expect) else got[i] == expect


def test_percentile_of_own_value_is_mid_rank():
    _, dist = indices.rank_within(np.array([1.0, 2.0, 2.0, 3.0]), np.zeros(4, np.int64), 1)
    got = dist.percentile(np.array([2.0, 0.0, 9.0, np.nan]))
    assert got[:3].tolist() == [50.0, 0.0, 100.0] and np.isnan(got[3])


def test_a_value_tied_with_every_peer_has_no_percentile():
    pct, dist = indices.rank_within(np.array([3.0, 3.0, 3.0]), np.zeros(3, dtype=np.int64), 1)
    assert np.isnan(pct).all()  # everyone equal: nobody is "50", nobody is ranked
    looked_up = dist.percentile(np.array([3.0, 2.0, 4.0]))
    assert np.isnan(looked_up[0]) and looked_up[1] == 0.0 and looked_up[2] == 100.0


def test_transforms():
    x = np.array([10.0, 50.0, 90.0, np.nan])
    assert indices.transform(x, "+")[:3].tolist() == [10.0, 50.0, 90.0]
    assert indices.transform(x, "-")[:3].tolist() == [-10.0, -50.0, -90.0]
    assert indices.transform(x, "centre")[:3].tolist() == [-40.0, 0.0, -40.0]
    with pytest.raises(ValueError):
        indices.transform(x, "?")


def test_indices_are_percentiles_and_reward_better_components():
    tables = random_market(4, n_creators=40)
    out = engine.build_features(tables, random_decisions(tables, 200, 4))
    for name in specs.INDEX_NAMES:
        values = out[name].dropna()
        assert values.between(0, 100).all(), name
    # with as much evidence, a decision at least as good on every cooperation component ranks at least as high
    comp = out[["response_rate", "acceptance_rate", "ignored_share", "idx_cooperation",
                "idx_cooperation_evidence"]].dropna().copy()
    comp["month"] = out["as_of"].dt.tz_convert(None).dt.to_period("M")
    groups = [g for _, g in comp.groupby(["month", "idx_cooperation_evidence"]) if len(g) > 1]
    assert len(groups) >= 3
    for g in groups:
        best = g.sort_values(["response_rate", "acceptance_rate"]).iloc[-1]
        dominated = g[(g.response_rate <= best.response_rate) & (g.acceptance_rate <= best.acceptance_rate)
                      & (g.ignored_share >= best.ignored_share)]
        assert (dominated.idx_cooperation <= best.idx_cooperation + 1e-12).all()
