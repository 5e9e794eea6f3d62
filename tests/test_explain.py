"""Explanations: SHAP against LightGBM, the batch TreeSHAP engine, additivity within a campaign, text.

One small generated market and one LightGBM ranker fitted directly (no MLflow, one thread)
serve the module; the report and score-card tests train through the real pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def fitted():
    """(bundle, features frame of every invitation of the market)."""
    from fast_training import direct_ranker

    _, frame, bundle = direct_ranker(300, 50, 11, posts=30.0, invitees=30.0, num_leaves=15, rounds=30,
                                     learning_rate=0.1)
    return bundle, frame


def test_shap_agrees_with_lightgbm_pred_contrib(fitted):
    from creatorrank.serving.explain import shap_values, tree_contributions

    bundle, frame = fitted
    X = bundle.encode(frame).to_numpy(np.float64)
    phi, expected = shap_values(bundle.booster, X)
    contrib = tree_contributions(bundle.booster, X)
    assert np.abs(phi - contrib[:, :-1]).max() < 1e-6
    assert abs(expected - contrib[0, -1]) < 1e-6
    raw = bundle.booster.predict(X, raw_score=True)
    assert np.abs(phi.sum(axis=1) + expected - raw).max() < 1e-6  # SHAP of the raw score


def test_batch_treeshap_equals_pred_contrib(fitted):
    from creatorrank.serving.explain import BatchTreeShap, tree_contributions

    bundle, frame = fitted
    X = bundle.encode(frame).to_numpy(np.float64).copy()
    X[:5] = np.nan  # creators with nothing known
    cat = bundle.features.index("primary_category")
    X[5:10, cat] = 999.0  # a category the model never saw
    X[10:15, cat] = -1.0
    engine = BatchTreeShap(bundle.booster)
    contrib = tree_contributions(bundle.booster, X)
    assert np.abs(engine.shap_values(X) - contrib[:, :-1]).max() < 1e-9
    assert abs(engine.expected_value - contrib[0, -1]) < 1e-9


@pytest.mark.parametrize("params", [{"zero_as_missing": True}, {"use_missing": False}, {}, {"tables": False}])
def test_batch_treeshap_follows_lightgbm_missing_value_rules(params, monkeypatch):
    import lightgbm as lgb

    from creatorrank.serving.explain import BatchTreeShap

    from creatorrank.serving import explain as ex

    if not params.pop("tables", True):  # long paths: patterns weighed per batch, not tabulated per model
        monkeypatch.setattr(ex, "TABLE_MAX_FEATURES", 1)
    rng = np.random.default_rng(3)
    n = 1200
    X = rng.normal(size=(n, 6))
    X[rng.random((n, 6)) < 0.25] = np.nan
    X[:, 0] = rng.integers(0, 8, n)
    X[:, 1] = np.where(rng.random(n) < 0.3, 0.0, X[:, 1])
    y = np.clip(np.round(np.nan_to_num(X[:, 2]) + (X[:, 0] == 3) + np.nan_to_num(X[:, 1]) + rng.normal(size=n)), 0, 4)
    booster = lgb.train(dict(objective="lambdarank", num_leaves=15, min_data_in_leaf=5, num_threads=1, verbosity=-1,
                             **params), lgb.Dataset(X, y, group=[40] * (n // 40), categorical_feature=[0]), 20)
    Xt = X.copy()
    Xt[:20, 0], Xt[20:30, 0], Xt[30:40] = 99, -3, np.nan
    contrib = booster.predict(Xt, pred_contrib=True)
    assert np.abs(BatchTreeShap(booster).shap_values(Xt) - contrib[:, :-1]).max() < 1e-9


def test_relative_contributions_add_up_to_score_minus_campaign_mean(fitted):
    from creatorrank.serving.explain import CAMPAIGN_MEAN, explain, tree_contributions

    bundle, frame = fitted
    expl = explain(bundle, frame, top=3)
    score = bundle.predict(frame)
    campaign_mean = pd.Series(score).groupby(frame[C.CAMPAIGN_ID].to_numpy()).mean()
    rows = expl.rows
    # The mean is over every candidate of the campaign, not over the explained top 3.
    assert np.allclose(rows[CAMPAIGN_MEAN], campaign_mean.reindex(rows[C.CAMPAIGN_ID]).to_numpy(), atol=1e-9)
    assert (rows.groupby(C.CAMPAIGN_ID).size() <= 3).all()
    assert rows[C.RANK].max() <= 3
    expected = score[rows["position"]] - campaign_mean.reindex(rows[C.CAMPAIGN_ID]).to_numpy()
    assert np.abs(expl.contributions.sum(axis=1).to_numpy() - expected).max() < 1e-6
    assert np.abs(expl.families.sum(axis=1).to_numpy() - expected).max() < 1e-6
    # Relative to the campaign's mean SHAP value, computed independently with pred_contrib.
    X = bundle.encode(frame).to_numpy(np.float64)
    contrib = pd.DataFrame(tree_contributions(bundle.booster, X)[:, :-1], columns=bundle.features)
    means = contrib.groupby(frame[C.CAMPAIGN_ID].to_numpy()).mean()
    manual = contrib.iloc[rows["position"]].to_numpy() - means.reindex(rows[C.CAMPAIGN_ID]).to_numpy()
    assert np.abs(expl.contributions.to_numpy() - manual).max() < 1e-6
    assert max(expl.checks.values()) < 1e-6
    # The family summary is a non-negative spread per campaign.
    assert (expl.family_summary.drop(columns=C.CAMPAIGN_ID).to_numpy() >= 0).all()


def test_explain_all_creators_and_explicit_rank(fitted):
    from creatorrank.serving.explain import explain

    bundle, frame = fitted
    expl = explain(bundle, frame, all_creators=True)
    assert len(expl.rows) == len(frame)
    sums = expl.contributions.groupby(expl.rows[C.CAMPAIGN_ID].to_numpy()).sum()
    assert np.abs(sums.to_numpy()).max() < 1e-6  # relative contributions average to zero per campaign
    rank = np.arange(len(frame)) + 1  # any ranking given by the caller decides who is explained
    assert list(explain(bundle, frame, top=1, rank=rank).rows["position"]) == [0]


def test_shap_is_computed_once_per_call(fitted, monkeypatch):
    """One pass of the batch engine over every row; shap.TreeExplainer is not run again on the top rows."""
    from creatorrank.serving import explain as ex

    bundle, frame = fitted
    passes = []
    real = ex.BatchTreeShap.tree_values

    def counted(self, X):
        passes.append(len(X))
        yield from real(self, X)

    def forbidden(*args, **kwargs):
        raise AssertionError("explain() ran shap.TreeExplainer a second time")

    monkeypatch.setattr(ex.BatchTreeShap, "tree_values", counted)
    monkeypatch.setattr(ex, "shap_values", forbidden)
    expl = ex.explain(bundle, frame, top=3)
    assert passes == [len(frame)]
    assert max(expl.checks.values()) < 1e-6 and set(expl.checks) == {"shap_vs_lightgbm", "additivity",
                                                                     "relative_additivity"}


@pytest.mark.parametrize("where", ["engine", "lightgbm"])
def test_disagreement_is_refused(fitted, monkeypatch, where):
    """Values that still add up to the score but split it wrongly are refused by the pred_contrib check."""
    from creatorrank.serving import explain as ex

    bundle, frame = fitted
    if where == "engine":
        real = ex.BatchTreeShap.tree_values

        def skewed(self, X):
            for feats, values, inverse in real(self, X):
                if len(feats) >= 2:  # move mass between two features: additivity still holds
                    values = values.copy()
                    values[0] += 1e-3
                    values[1] -= 1e-3
                yield feats, values, inverse

        monkeypatch.setattr(ex.BatchTreeShap, "tree_values", skewed)
    else:
        real = ex.tree_contributions

        def skewed(booster, X, num_threads=1):
            contrib = real(booster, X, num_threads)
            contrib[:, 0] += 1e-3
            return contrib

        monkeypatch.setattr(ex, "tree_contributions", skewed)
    with pytest.raises(ex.ExplanationError, match="SHAP values vs LightGBM pred_contrib"):
        ex.explain(bundle, frame.head(200), top=2)


def test_every_family_and_feature_has_text():
    from creatorrank.features.specs import CATALOGUE, FAMILIES, INDEX_NAMES
    from creatorrank.serving.text import (FAMILY_TEXT, FEATURE_TEXT, INDEX_TEXT, advice_sentence, family_title,
                                          feature_sentence, format_value)

    missing = sorted(f for f in FAMILIES if not FAMILY_TEXT[f].measures)
    assert not missing, f"families without plain-language text in serving/text.py FAMILY_MEASURES: {missing}"
    for family, title in FAMILIES.items():  # one source of titles: the catalogue's
        assert FAMILY_TEXT[family].title == family_title(family) == title
    assert set(INDEX_NAMES) <= set(INDEX_TEXT)
    for name, text in INDEX_TEXT.items():
        assert text.family in FAMILIES and text.measures
    for spec in CATALOGUE:
        assert spec.name in FEATURE_TEXT, f"{spec.name} has no label in serving/text.py"
        value = "beauty" if spec.kind == "categorical" else 0.5
        line = feature_sentence(spec.name, value, spec, peer=value, peers="peers in beauty")
        assert line.startswith(FEATURE_TEXT[spec.name].label)
        assert format_value(value, spec.unit, FEATURE_TEXT[spec.name].fmt) in line
        assert "peers in beauty" in line
        advice = advice_sentence(spec.name, 1.0, spec)
        if FEATURE_TEXT[spec.name].action:
            assert advice and advice.endswith(".") and "{" not in advice
            assert spec.direction != 0, f"{spec.name}: advice on a feature with no better direction"


def test_value_formats():
    from creatorrank.serving.text import MISSING, format_value, history_sentence

    assert format_value(0.92, "share 0-1") == "92%"
    assert format_value(0.045, "share 0-1") == "4.5%"
    assert format_value(1234.5, "USD") == "$1,234"
    assert format_value(12.5, "USD per post") == "$12.50 per post"
    assert format_value(5.2, "hours") == "5 hours"
    assert format_value(72.0, "hours") == "3 days"
    assert format_value(72.4, "percentile 0-100") == "72/100"
    assert format_value(1.0, "0/1") == "yes"
    assert format_value(3, "posts") == "3 posts" and format_value(1, "posts") == "1 post"
    assert format_value(0.12, "ratio", "signed_pct") == "+12%"
    assert format_value(float("nan"), "USD") == MISSING and format_value(None, "USD") == MISSING
    assert "No posts, invitations or orders" in history_sentence(0, 0, 0, pd.NaT, pd.Timestamp("2024-01-02", tz="UTC"))
    assert history_sentence(3, 1, 0, pd.Timestamp("2024-02-03", tz="UTC")) == (
        "Rests on 3 posts, 1 invitation and 0 orders since 3 Feb 2024.")
