"""A feature in one place: each family module declares its features' specs, computations and words.

The catalogue (specs.CATALOGUE), the engine's computations, the rates' priors and the words
reports show are all read from the family modules of ``features/catalogue/``; these tests
check that nothing is declared in one place and missing in another.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from creatorrank.features import catalogue, engine, indices, specs
from creatorrank.features.catalogue.base import Feature, FeatureText
from creatorrank.features.window import Window
from creatorrank.serving import text
from random_market import random_decisions, random_market


@pytest.fixture(scope="module")
def market():
    return random_market(11, n_creators=40, n_campaigns=14)


@pytest.fixture(scope="module")
def decisions(market):
    return random_decisions(market, 120, 4)


@pytest.mark.unit
def test_every_feature_has_one_computation_and_words():
    for feature in catalogue.FEATURES:
        ways = [feature.compute, feature.rate, feature.peers]
        assert sum(w is not None for w in ways) == 1, feature.name
        assert isinstance(feature.text, FeatureText) and feature.text.label, feature.name
        if feature.text.who:
            assert "{v}" in feature.text.who and feature.text.action, feature.name
        assert text.FEATURE_TEXT[feature.name] is feature.text  # serving shows the module's words
    with pytest.raises(ValueError, match="exactly one"):
        Feature(specs.CATALOGUE[0], FeatureText("x"))


@pytest.mark.unit
def test_catalogue_specs_families_and_rates_come_from_the_modules():
    assert specs.CATALOGUE == tuple(f.spec for m in catalogue.MODULES for f in m.FEATURES)
    assert specs.feature_names() == [f.name for f in catalogue.FEATURES]
    assert list(specs.FAMILIES) == [m.FAMILY.key for m in catalogue.MODULES]
    for module in catalogue.MODULES:
        family = module.FAMILY
        assert family.title and family.measures, family.key
        assert module.__name__.rsplit(".", 1)[1] == family.key or family.key == "execution"
        assert specs.FAMILIES[family.key] == family.title == text.family_title(family.key)
        assert text.FAMILY_MEASURES[family.key] == family.measures == text.family_measures(family.key)
    assert {s.family for s in specs.CATALOGUE} <= set(specs.FAMILIES)
    assert specs.RATES == {f.name: f.rate.prior for f in catalogue.FEATURES if f.rate is not None}
    assert set(text.INDEX_TEXT) == set(specs.INDEX_NAMES)


@pytest.mark.unit
def test_version_hashes_specs_and_rules_only():
    payload = repr((tuple(dataclasses.astuple(s) for s in specs.CATALOGUE), specs._RULES))
    assert "<function" not in payload and "lambda" not in payload and "FeatureText" not in payload
    for spec in specs.CATALOGUE:
        assert all(v is None or isinstance(v, (str, int)) for v in dataclasses.astuple(spec)), spec.name
    # Other words or another computation of the same spec leave the version as it is.
    reworded = tuple(dataclasses.replace(f, text=FeatureText("other words"), compute=None, rate=None, peers="x")
                     for f in catalogue.FEATURES)
    assert tuple(f.spec for f in reworded) == specs.CATALOGUE
    assert specs._version() == specs.FEATURE_SET_VERSION


@pytest.mark.data
def test_peer_features_are_exactly_what_the_peer_tables_make(market, decisions):
    mk = engine.prepare(market)
    code, T, cat, *_ = engine._decision_arrays(mk, decisions)
    month = int(engine._month_floor(T[:1])[0])
    rows = np.flatnonzero(engine._month_floor(T) == month)
    order = rows[np.lexsort((T[rows], code[rows]))]
    base = engine._base(mk, code[order], T[order], cat[order])
    made = engine._peer_tables(mk, month, specs.PEER_CAP).score({k: base[k] for k in indices.SCORE_INPUTS}, cat[order])
    declared = {f.name for f in catalogue.FEATURES if f.peers is not None or f.rate is not None}
    assert set(made) == declared
    assert set(indices.SCORE_INPUTS) <= set(catalogue.computations())


@pytest.mark.data
def test_every_declared_feature_is_built_by_its_module(market, decisions):
    """The engine's columns are the modules' features, and each peer-free one is its module's computation."""
    out = engine.build_features(market, decisions)
    assert list(out.columns) == [*decisions.columns, *(f.name for f in catalogue.FEATURES)]
    mk = engine.prepare(market)
    code, T, cat, cat_name, country, budget = engine._decision_arrays(mk, decisions)
    order = np.lexsort((T, code))
    window = Window(mk, code[order], T[order], cat[order], cat_name[order], country[order], budget[order])
    checked = 0
    for module in catalogue.MODULES:
        for feature in module.FEATURES:
            if feature.compute is None:
                continue
            want = np.empty(len(order), dtype=object)
            want[order] = feature.compute(window)
            got = out[feature.name].astype(object).to_numpy()
            if feature.spec.kind == specs.CATEGORICAL:
                assert [None if pd.isna(v) else v for v in got] == list(want), feature.name
            else:
                np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64), err_msg=feature.name)
            checked += 1
    assert checked == sum(f.compute is not None for f in catalogue.FEATURES) > 40
    # A rate's value rests on its declared successes and trials: NaN exactly where there are none.
    for feature in catalogue.FEATURES:
        if feature.rate is not None:
            trials = np.empty(len(order))
            trials[order] = feature.rate.trials(window)
            np.testing.assert_array_equal(out[feature.name].isna().to_numpy(), trials == 0, err_msg=feature.name)


@pytest.mark.data
def test_peer_pass_computes_only_what_the_peer_tables_read(market, decisions):
    mk = engine.prepare(market)
    code, T, cat, *_ = engine._decision_arrays(mk, decisions)
    order = np.lexsort((T, code))
    full = engine._base(mk, code[order], T[order], cat[order])
    peer = engine._base(mk, code[order], T[order], cat[order], keys=engine._PEER_KEYS)
    assert set(peer) == set(indices.SCORE_INPUTS)
    assert not any(k.startswith("median_") for k in peer)
    for key, value in peer.items():
        np.testing.assert_array_equal(value, full[key], err_msg=key)
