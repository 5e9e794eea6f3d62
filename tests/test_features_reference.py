"""The set-based engine equals the brute-force reference, feature by feature.

Markets are adversarial (:mod:`random_market`: a 6-hour time grid, ties,
answers exactly 7 days late, deliveries exactly on the due date) and realistic
(:mod:`creatorrank.data.generate`); decisions sit on their creators' event times, 1 µs either
side, on month starts (the peer reference) and at random times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.data.generate import generate_market
from creatorrank.features import engine, specs
import feature_oracle as reference
from random_market import random_decisions, random_market

pytestmark = pytest.mark.data


def assert_same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    """Equal up to 1e-9 relative, feature by feature, naming the first differing rows."""
    assert list(fast.columns) == list(slow.columns)
    for spec in specs.CATALOGUE:
        a, b = fast[spec.name], slow[spec.name]
        if spec.kind == specs.CATEGORICAL:
            ok = (a.astype(object).fillna("<NA>") == b.astype(object).fillna("<NA>")).to_numpy()
        else:
            ok = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True)
        bad = np.flatnonzero(~ok)
        assert bad.size == 0, (
            f"{spec.name}: {bad.size} rows differ, e.g. row {bad[0]}: engine {a.iloc[bad[0]]!r} "
            f"reference {b.iloc[bad[0]]!r}\n{fast.iloc[bad[0]][[C.CREATOR_ID, C.AS_OF]].to_dict()}"
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_equals_reference_on_adversarial_markets(seed):
    tables = random_market(seed)
    decisions = random_decisions(tables, 200, seed)
    assert_same(engine.build_features(tables, decisions), reference.reference_features(tables, decisions))


def test_engine_equals_reference_on_generated_market():
    tables = generate_market(50, 12, seed=7).tables
    decisions = random_decisions(tables, 200, 7)
    assert_same(engine.build_features(tables, decisions), reference.reference_features(tables, decisions))


def test_training_matrix_equals_reference():
    tables = generate_market(40, 10, seed=11).tables
    matrix = engine.training_matrix(tables)
    decisions = matrix[[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    assert_same(matrix, reference.reference_features(tables, decisions))


def test_peer_sample_above_cap_equals_reference(monkeypatch):
    """With fewer peer slots than creators, both sides draw the same hash sample."""
    monkeypatch.setattr(specs, "PEER_CAP", 9)
    tables = random_market(5, n_creators=30)
    decisions = random_decisions(tables, 120, 5)
    assert_same(engine.build_features(tables, decisions), reference.reference_features(tables, decisions))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 23))
def test_engine_equals_reference_many_markets(seed):
    rng = np.random.default_rng(seed)
    tables = random_market(seed, n_creators=int(rng.integers(2, 45)), n_campaigns=int(rng.integers(1, 20)))
    decisions = random_decisions(tables, 250, seed)
    assert_same(engine.build_features(tables, decisions), reference.reference_features(tables, decisions))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_engine_equals_reference_generated_markets(seed):
    tables = generate_market(120, 30, seed=seed).tables
    decisions = random_decisions(tables, 300, seed)
    assert_same(engine.build_features(tables, decisions), reference.reference_features(tables, decisions))
