"""The value model's log expected GMV as the ranker's starting score (training/value_prior.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.generated_market import written_market

pytestmark = pytest.mark.model

CUTOFF = "2026-03-01"


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    from creatorrank.features.engine import training_matrix
    from creatorrank.training.config import TrainingConfig
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.train import fit_value

    _, tables, _ = written_market(tmp_path_factory.mktemp("prior-market"), 2000, 500, 5)
    cfg = TrainingConfig()
    cfg.lightgbm.num_threads = 1
    cfg.evaluation.shap_rows = 0
    data = build_dataset(tables, cfg, train_until=CUTOFF, matrix=training_matrix(tables))
    return {"data": data, "config": cfg, "value": fit_value(data, cfg)}


def test_prior_scores_are_the_log_of_the_uncalibrated_mean(market):
    from creatorrank.training.value_prior import prior_scores

    value, data = market["value"], market["data"]
    frame = data["validation"].frame
    raw = prior_scores(value, data.X("validation").to_numpy(np.float64))
    np.testing.assert_allclose(np.exp(raw), value._raw_mean(frame), rtol=1e-12)


def test_merged_ranker_scores_weight_times_prior_plus_its_trees_and_shap_adds_up(market):
    from creatorrank.training.train import fit_ranker
    from creatorrank.training.value_prior import merge_prior, prior_scores, set_prior

    value, data, cfg = market["value"], market["data"], market["config"]
    set_prior(data, value, 0.5)
    assert data["validation"].init_score is not None and data["test"].init_score is None  # only fitted splits
    fit = fit_ranker(data, cfg)
    merged = merge_prior(value, 0.5, fit.booster)
    X = data.X("test").to_numpy(np.float64)
    expected = 0.5 * prior_scores(value, X) + fit.booster.predict(X)
    np.testing.assert_allclose(merged.predict(X), expected, rtol=1e-9, atol=1e-9)
    assert merged.num_trees() == value.booster_.num_trees() + fit.booster.num_trees()
    contrib = merged.predict(X[:50], pred_contrib=True)
    np.testing.assert_allclose(contrib.sum(axis=1), merged.predict(X[:50]), rtol=1e-9, atol=1e-9)
    # The prior changed what lambdarank learned: its starting scores entered the fit.
    set_prior(data, value, 0.0)
    assert data["train"].init_score is None
    plain = fit_ranker(data, cfg)
    assert not np.allclose(plain.booster.predict(X), fit.booster.predict(X))
    assert merge_prior(value, 0.0, plain.booster) is plain.booster


def test_choose_prior_keeps_the_best_validation_weight_and_leaves_its_scores(market):
    from creatorrank.training.train import fit_ranker
    from creatorrank.training.value_prior import choose_prior, prior_scores

    value, data, cfg = market["value"], market["data"], market["config"].model_copy(deep=True)
    cfg.value.ranker_prior_weights = [1.0, 0.0, 0.5]
    choice = choose_prior(data, cfg, value, fit_ranker)
    assert sorted(choice.scores) == [0.0, 0.5, 1.0]
    assert choice.scores[choice.weight] == max(choice.scores.values())
    for w in choice.scores:  # each weight's own fit, at its early-stopping choice
        assert choice.trees[w] >= 1
    if choice.weight:
        np.testing.assert_allclose(data["train"].init_score,
                                   choice.weight * prior_scores(value, data.X("train").to_numpy(np.float64)))
    else:
        assert data["train"].init_score is None
    assert choice.metadata()["weight"] == choice.weight
    cfg.value.ranker_prior_weights = [0.0]
    assert choose_prior(data, cfg, value, fit_ranker).scores == {}  # one weight: nothing to choose, no fit


def test_prior_weights_must_be_finite_and_not_negative():
    from creatorrank.core.errors import ConfigError
    from creatorrank.training.config import config_from_dict

    for bad in ([-0.5], [], [float("nan")]):
        with pytest.raises(ConfigError, match="ranker_prior_weights"):
            config_from_dict({"value": {"ranker_prior_weights": bad}})


@pytest.mark.slow  # a whole train run with bags; the prior's parts are tested above
def test_train_records_the_prior_and_the_registered_ranker_holds_it(tmp_path):
    from mlflow.tracking import MlflowClient

    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.training.commands import train
    from creatorrank.training.config import config_from_dict
    from creatorrank.training.mlflow_io import load_ranker
    from creatorrank.training.value_prior import prior_scores

    data = write_market(generate_market(600, 120, 3, posts_per_creator=40.0, invitees_per_campaign=25.0),
                        tmp_path / "market")
    tracking = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    cfg = config_from_dict({"lightgbm": {"num_threads": 1, "num_boost_round": 25, "early_stopping_rounds": 10,
                                         "min_data_in_leaf": 5},
                            "value": {"num_boost_round": 60, "min_data_in_leaf": 10, "ranker_prior_weights": [0.5]},
                            "uncertainty": {"n_bags": 2},
                            "evaluation": {"shap_rows": 0}, "tuning": {"trials": 0}})
    result = train(data, train_until="2026-04-01", trials=0, tracking_uri=tracking, config=cfg)
    bundle = load_ranker(result.model_uri, tracking)
    assert bundle.metadata["value_prior"]["weight"] == 0.5
    X = result.data.X("test").to_numpy(np.float64)
    ranker_trees = bundle.booster.num_trees() - bundle.value.booster_.num_trees()
    assert ranker_trees == result.best_iteration
    # The registered score is 0.5 log E[GMV] plus the ranker's own trees (those after the value trees).
    own = bundle.booster.predict(X, start_iteration=bundle.value.booster_.num_trees())
    np.testing.assert_allclose(bundle.booster.predict(X), 0.5 * prior_scores(bundle.value, X) + own, atol=1e-9)
    # Members hold their own trees only: the prior, equal in every member, cancels out of score_sd.
    assert all(b.num_trees() == result.best_iteration for b in bundle.bags)
    run = MlflowClient(tracking_uri=tracking).get_run(result.run_id)
    assert run.data.metrics["value_prior.weight"] == 0.5
