"""The feature catalogue: names, families, directions, version."""

from __future__ import annotations

import dataclasses
import re

import pytest

from creatorrank.core.errors import ConfigError
from creatorrank.features import specs

pytestmark = pytest.mark.unit


def test_catalogue_is_well_formed():
    names = specs.feature_names()
    assert len(names) == len(set(names))
    assert names == [s.name for s in specs.CATALOGUE]
    for spec in specs.CATALOGUE:
        assert spec.family in specs.FAMILIES, spec.name
        assert spec.direction in (-1, 0, 1)
        assert spec.kind in (specs.NUMERIC, specs.CATEGORICAL)
        assert spec.description and spec.unit
        assert spec.window_days is None or spec.window_days > 0
    assert [s.name for s in specs.CATALOGUE if s.kind == specs.CATEGORICAL] == ["primary_category"]


def test_families_the_brief_asks_for_are_present():
    families = {s.family for s in specs.CATALOGUE}
    assert families >= {"cooperation", "diligence", "category", "volume", "content", "sales", "execution",
                        "authenticity", "growth", "price", "tenure", "confidence", "match", "index"}
    indices = [s.name for s in specs.CATALOGUE if s.family == "index"]
    assert indices == list(specs.INDEX_RECIPES)
    assert len(indices) == 7


def test_index_descriptions_state_their_recipe():
    for name, recipe in specs.INDEX_RECIPES.items():
        (spec,) = specs.get_specs([name])
        for feature, _ in recipe:
            assert feature in spec.description, (name, feature)
        assert spec.unit == "percentile 0-100" and spec.direction == 1


def test_version_is_derived_from_the_specs(monkeypatch):
    assert re.fullmatch(r"fs1-[0-9a-f]{10}", specs.FEATURE_SET_VERSION)
    assert specs._version() == specs.FEATURE_SET_VERSION
    changed = (dataclasses.replace(specs.CATALOGUE[0], direction=0), *specs.CATALOGUE[1:])
    monkeypatch.setattr(specs, "CATALOGUE", changed)
    assert specs._version() != specs.FEATURE_SET_VERSION


def test_get_specs_keeps_order_and_rejects_unknown_names():
    got = specs.get_specs(["posts_30d", "response_rate"])
    assert [s.name for s in got] == ["posts_30d", "response_rate"]
    with pytest.raises(ConfigError, match=r"unknown feature 'nope' \(known: response_rate, "):
        specs.get_specs(["posts_30d", "nope"])


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        specs.CATALOGUE[0].name = "x"
    with pytest.raises(ValueError):
        specs.FeatureSpec("x", "volume", "d", "u", None, 2)


def test_evidence_rules_cover_every_index_and_enter_the_version():
    names = specs.feature_names()
    for index in specs.INDEX_NAMES:
        column = specs.evidence_column(index)
        assert column == f"{index}_evidence" and column in names
        (spec,) = specs.get_specs([column])
        assert spec.family == "confidence" and spec.direction == 0
        assert specs.INDEX_EVIDENCE[index][0] in spec.description
        assert specs.THIN_EVIDENCE[index] > 0 and specs.INDEX_SHRINK[index] > 0
    assert set(specs.RATES) <= set(names)
    lo, hi = specs.PRIOR_STRENGTH
    assert 0 < lo < hi and specs.MIN_PRIOR_PEERS >= 2 and specs.JUMP_CAP > 1
    for rule in (tuple(specs.RATES.items()), specs.PRIOR_STRENGTH, specs.MIN_PRIOR_PEERS, specs.JUMP_BASELINE_POSTS,
                 specs.JUMP_CAP, tuple(specs.INDEX_SHRINK.items()), tuple(specs.THIN_EVIDENCE.items()),
                 tuple(specs.INDEX_EVIDENCE.items())):
        assert rule in specs._RULES, rule
