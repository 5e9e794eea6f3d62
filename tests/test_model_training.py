"""Training end to end on a small generated market: MLflow, registry, pyfunc, promotion, quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generated_market import written_market

from creatorrank.core import constants as C
from creatorrank.core.errors import EXIT_REFUSED, ModelError, RefusedError
from creatorrank.training.config import TrainingConfig

pytestmark = pytest.mark.model

N_CREATORS, N_CAMPAIGNS, SEED = 2000, 500, 0
CUTOFF = "2026-01-01"  # the generated market spans 2024-01-01 .. 2026-01-01


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A small generated market on disk, its validated tables, training matrix and truth."""
    from creatorrank.features.engine import training_matrix

    folder, tables, market = written_market(tmp_path_factory.mktemp("market"), N_CREATORS, N_CAMPAIGNS, SEED)
    return folder, tables, training_matrix(tables), market.truth


def fast_config(**changes) -> TrainingConfig:
    """Defaults with one thread, a small SHAP sample and short tuning."""
    cfg = TrainingConfig(**changes)
    cfg.lightgbm.num_threads = 1
    cfg.evaluation.shap_rows = 200
    cfg.tuning.pruner_startup_trials = 1
    cfg.tuning.pruner_warmup_steps = 5
    return cfg


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """An MLflow sqlite file with the schema created (migrations take seconds: done once)."""
    from creatorrank.training.tracking import use_tracking

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    use_tracking(f"sqlite:///{path.as_posix()}")
    return path


@pytest.fixture
def uri(tmp_path, empty_store):
    """A fresh MLflow store per test, in the test's own folder."""
    import shutil

    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    return f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"


@pytest.fixture(scope="module")
def data(market):
    from creatorrank.training.dataset import build_dataset

    _, tables, matrix, _ = market
    return build_dataset(tables, fast_config(), train_until=CUTOFF, matrix=matrix)


@pytest.mark.data
def test_build_dataset_on_a_generated_market(market):
    from creatorrank.training.dataset import SPLITS, build_dataset

    _, tables, matrix, _ = market
    cfg = fast_config(max_rows_per_campaign=40)
    data = build_dataset(tables, cfg, train_until=CUTOFF, matrix=matrix)
    seen: set[str] = set()
    for name in SPLITS:
        split = data[name]
        camp = split.frame[C.CAMPAIGN_ID].astype(str).to_numpy()
        assert not (set(camp) & seen)  # no campaign in two splits
        seen |= set(camp)
        assert split.group.sum() == len(split.frame) and (split.group > 0).all()
        starts = np.r_[0, np.cumsum(split.group)[:-1]]
        assert len(set(camp[starts])) == len(split.group)  # contiguous groups
        assert split.frame[C.LABEL].between(0, len(cfg.label.thresholds_usd)).all()
        if name != "test":
            assert split.group.max() <= 40
    assert data["train"].frame[C.AS_OF].max() <= data["validation"].frame[C.AS_OF].min()
    assert data["validation"].frame[C.AS_OF].max() <= data["test"].frame[C.AS_OF].min()
    camps = tables[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)
    used = camps.loc[sorted(seen)]
    assert (used[C.ENDS_AT] + pd.Timedelta(days=14) < pd.Timestamp(CUTOFF, tz="UTC")).all()
    assert data.excluded_campaigns > 0  # campaigns still running at the cutoff are left out
    X = data.X("train")
    assert list(X.columns) == data.features and (X.dtypes == np.float64).all()
    assert data.X("train") is X  # encoded once, then cached
    assert data.categorical == ["primary_category"]
    assert data.digest() == build_dataset(tables, cfg, train_until=CUTOFF, matrix=matrix).digest()


def test_same_data_config_seed_same_model(data):
    from creatorrank.training.train import fit_ranker

    cfg = fast_config()
    a, b = fit_ranker(data, cfg), fit_ranker(data, cfg)
    assert a.booster.model_to_string() == b.booster.model_to_string()
    X = data.X("test").to_numpy()
    assert np.array_equal(a.booster.predict(X), b.booster.predict(X))


def test_monotone_constraints_follow_catalogue_directions(data):
    from creatorrank.features.specs import get_specs
    from creatorrank.training.train import lgb_params

    params = lgb_params(fast_config(), data)
    directions = {s.name: s.direction for s in get_specs(data.features)}
    for name, constraint in zip(data.features, params["monotone_constraints"]):
        assert constraint == (0 if name in data.categorical else directions[name])
    assert "monotone_constraints" not in lgb_params(fast_config(monotone_constraints=False), data)


def test_model_closes_most_of_the_gap_to_the_oracle(market, data):
    """Product goal: >= 80% of the NDCG@10 gap between the best baseline and the oracle at
    10k creators / 2.5k campaigns (measured 0.82 with the default config, no tuning). At this
    small scale (about 70 test campaigns, noisier: 0.5-0.76 over generator seeds 0-3) we
    require 50%; seed 0 measured 0.70."""
    from creatorrank.training.commands import score_rankers
    from creatorrank.training.metrics import compare_rankers, gap_closed
    from creatorrank.training.oracle import ORACLE_ROW, oracle_scores
    from creatorrank.training.train import fit_ranker, make_bundle

    _, _, _, truth = market
    cfg = fast_config()
    bundle = make_bundle(fit_ranker(data, cfg), data, cfg)
    test = data["test"].frame
    truth = truth.set_index(truth[C.INVITATION_ID].astype(str))[C.EXPECTED_GMV]
    scores = {**score_rankers(test, {"model": bundle.predict(test)}, 0), ORACLE_ROW: oracle_scores(test, truth)}
    summary, _ = compare_rankers(test, scores, cfg.evaluation.k, label_gain=cfg.label.evaluation_gains())
    closed = gap_closed(summary, "ndcg@10")
    print(f"\n{summary[['ndcg@10', 'map@10', 'gmv@10', 'campaigns']]}\ngap closed: {closed:.3f}")
    baselines = summary.drop(index=["model", "oracle"])
    assert summary.loc["model", "ndcg@10"] > baselines["ndcg@10"].max()
    assert closed >= 0.5


def test_train_tracks_registers_and_round_trips(market, uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    from creatorrank.training.commands import format_metrics, train
    from creatorrank.training.mlflow_io import load_ranker

    folder, _, matrix, _ = market
    cfg = fast_config()
    cfg.lightgbm.num_boost_round = 60
    result = train(folder, train_until=CUTOFF, trials=2, tracking_uri=uri, config=cfg, matrix=matrix)

    assert result.model_version == 1 and result.model_uri == "models:/creator-ranker/1"
    m = result.metrics
    assert {"model", "random", "followers", "engagement_rate", "past_gmv"} <= set(m.index)
    # train never reads the generator's truth; the oracle comparison is the demo's (with_oracle).
    assert "oracle" not in m.index and np.isnan(result.gap_closed)
    from creatorrank.training.oracle import with_oracle

    compared = with_oracle(result, folder, cfg)
    assert list(compared.metrics.index) == [*m.index, "oracle"]
    pd.testing.assert_frame_equal(compared.metrics.loc[m.index], m)  # the other rows are unchanged
    assert compared.metrics.loc["oracle", "ndcg@10"] > m.loc["model", "ndcg@10"]
    assert compared.gap_closed == pytest.approx(
        (m.loc["model", "ndcg@10"] - m.drop(index="model")["ndcg@10"].max())
        / (compared.metrics.loc["oracle", "ndcg@10"] - m.drop(index="model")["ndcg@10"].max()))
    assert "model closes" in format_metrics(compared) and "model closes" not in format_metrics(result)
    assert with_oracle(result, folder.parent / "no-such-market", cfg) is result  # real data: no truth, no row
    assert {"ndcg@1", "ndcg@10", "map@10", "gmv@10", "campaigns", "no_positive"} <= set(m.columns)
    assert result.no_positive_campaigns == int(m.loc["model", "no_positive"])
    assert m.loc["model", "ndcg@10"] > m.loc["random", "ndcg@10"]
    text = format_metrics(m)
    assert "past_gmv" in text and "without any net GMV" in text
    # the quality gate: every baseline beaten on the test campaigns, with a bootstrap interval
    gate = result.gate
    assert gate.campaigns == int(m.loc["model", "campaigns"]) and gate.best_baseline in m.index
    assert gate.beats_baselines and 0 < gate.best.ci_low < gate.best.delta < gate.best.ci_high
    assert gate.best.delta == pytest.approx(m.loc["model", "ndcg@10"] - m.loc[gate.best_baseline, "ndcg@10"])
    assert "beats every baseline" in format_metrics(result) and not result.warnings

    client = MlflowClient(uri, registry_uri=uri)
    assert int(client.get_model_version_by_alias("creator-ranker", "challenger").version) == 1
    run = client.get_run(result.run_id)
    assert run.data.params["lightgbm.objective"] == "lambdarank"
    assert run.data.tags["beats_baselines"] == "true" and run.data.tags["beats.random"] == "true"
    version_tags = client.get_model_version("creator-ranker", "1").tags
    assert version_tags["beats_baselines"] == "true" and float(version_tags["delta_ci_low"]) > 0
    assert int(version_tags["train.positive_campaigns"]) == result.data.summary()["train_positive_campaigns"] > 0
    assert run.data.tags[C.FEATURE_SET_VERSION] == load_ranker(result.model_uri, uri).feature_set_version
    assert "test.model.ndcg_at_10" in run.data.metrics
    assert {d.dataset.name for d in run.inputs.dataset_inputs} >= {"train-campaigns", "test-campaigns"}
    artifacts = {f.path for f in client.list_artifacts(result.run_id)}
    assert {"config.yaml", "plots", "evaluation"} <= artifacts
    plots = {f.path for f in client.list_artifacts(result.run_id, "plots")}
    assert plots == {"plots/ndcg_vs_baselines.png", "plots/feature_importance.png", "plots/shap_summary.png"}
    trials = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{result.run_id}'")
    assert len(trials) == 2

    # alias resolved once to a number; pyfunc scores identically after the round trip
    bundle = load_ranker("models:/creator-ranker@challenger", uri)
    assert bundle.model_version == 1 and bundle.model_uri == "models:/creator-ranker/1"
    test = result.data["test"].frame
    pyfunc = mlflow.pyfunc.load_model("models:/creator-ranker/1")
    inputs = pyfunc.metadata.get_input_schema().input_types()
    assert {t.name for t in inputs} == {"double"}  # all float columns
    encoded = bundle.encode(test)
    assert np.array_equal(np.asarray(pyfunc.predict(encoded)), bundle.predict(test))
    with pytest.raises(ModelError, match="champion"):
        load_ranker("models:/creator-ranker@champion", uri)


def test_evaluate_and_promote(market, uri):
    from mlflow.tracking import MlflowClient

    from creatorrank.training.commands import evaluate, promote, train

    folder, _, matrix, _ = market
    with pytest.raises(ModelError, match="challenger"):
        promote(folder, tracking_uri=uri, config=fast_config(), matrix=matrix)
    first = train(folder, train_until=CUTOFF, trials=0, tracking_uri=uri, config=fast_config(), matrix=matrix)
    decision = promote(folder, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert decision.promoted and decision.champion_version is None and "first model" in decision.reason
    assert "beats every baseline" in decision.reason  # the first model passes the baseline gate too
    first_tags = MlflowClient(uri, registry_uri=uri).get_model_version("creator-ranker", "1").tags
    assert first_tags["promotion"] == "promoted" and first_tags["promotion.beats_baselines"] == "true"
    assert promote(folder, tracking_uri=uri, config=fast_config(), matrix=matrix).promoted is False  # same version

    # a challenger that ranks by followers alone loses to the past-GMV baseline: refused, exit 3
    weak = fast_config(features=["followers"])
    second = train(folder, train_until=CUTOFF, trials=0, tracking_uri=uri, config=weak, matrix=matrix)
    assert second.model_version == first.model_version + 1 and not second.gate.beats_baselines
    with pytest.raises(RefusedError, match="does NOT beat the baselines") as refused:
        promote(folder, margin=-1.0, tracking_uri=uri, config=fast_config(), matrix=matrix)  # no margin helps
    assert refused.value.exit_code == EXIT_REFUSED
    client = MlflowClient(uri, registry_uri=uri)
    tags = client.get_model_version("creator-ranker", "2").tags
    assert tags["promotion"] == "refused" and tags["promotion.decision"] == "refused"
    assert tags["promotion.reason"] == str(refused.value)
    assert int(client.get_model_version_by_alias("creator-ranker", "champion").version) == 1

    # a challenger that beats the baselines but not the champion + margin is kept out (exit 0)
    third = train(folder, train_until=CUTOFF, trials=0, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert third.model_version == 3 and third.gate.beats_baselines
    kept = promote(folder, margin=0.01, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert not kept.promoted and kept.champion_version == 1 and kept.challenger_version == 3
    assert kept.challenger_score == kept.champion_score and kept.campaigns > 0  # same data, config, seed
    assert not np.isnan(kept.challenger_score)
    assert "kept champion" in str(kept)
    tags = client.get_model_version("creator-ranker", "3").tags
    assert tags["promotion.decision"] == "rejected" and tags["promotion"] == "not_promoted"
    assert "promotion.ndcg_at_10" in tags
    assert client.get_model_version("creator-ranker", "1").tags["promotion.decision"] == "kept"
    assert int(client.get_model_version_by_alias("creator-ranker", "champion").version) == 1

    forced = promote(folder, margin=-1.0, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert forced.promoted and forced.new_champion_version == 3
    assert int(client.get_model_version_by_alias("creator-ranker", "champion").version) == 3

    # trained until the end of the market: no campaign after the cutoff is complete yet
    with pytest.raises(ModelError, match="training cutoff 2026-01-01.*--since"):
        evaluate(folder, "models:/creator-ranker@champion", tracking_uri=uri, config=fast_config(), matrix=matrix)
    since = "2025-09-01"
    backtest = evaluate(folder, "models:/creator-ranker@champion", since=since, tracking_uri=uri,
                        config=fast_config(), matrix=matrix)
    assert backtest.model_version == 3 and not backtest.in_sample  # only its own held-out test campaigns
    assert any("own test campaigns" in w for w in backtest.warnings)
    assert {"model", "random", "past_gmv"} <= set(backtest.metrics.index)
    per_campaign = backtest.per_campaign
    created = matrix.groupby(C.CAMPAIGN_ID)[C.AS_OF].first()
    assert (created.loc[per_campaign[C.CAMPAIGN_ID].unique()] >= pd.Timestamp(since, tz="UTC")).all()
    earlier = evaluate(folder, "models:/creator-ranker@champion", since="2025-03-01", tracking_uri=uri,
                       config=fast_config(), matrix=matrix)
    assert earlier.in_sample and "IN-SAMPLE" in earlier.window  # campaigns it was fitted on
    assert any("in-sample" in w for w in earlier.warnings)


def test_tuning_resumes_its_study(data, tmp_path):
    import optuna

    from creatorrank.training.tune import configured_point, tune

    cfg = fast_config()
    cfg.lightgbm.num_boost_round = 30
    storage = f"sqlite:///{(tmp_path / 'optuna.db').as_posix()}"
    first = tune(data, cfg, storage, "study", n_trials=2)
    assert first.trials_run == 2 and first.trials_total == 2
    again = tune(data, cfg, storage, "study", n_trials=3)
    assert again.trials_run == 1 and again.trials_total == 3
    study = optuna.load_study(study_name="study", storage=storage)
    assert len(study.trials) == 3
    assert study.trials[0].params == pytest.approx(configured_point(cfg))  # the untuned config goes first
    assert set(again.best_params) == set(cfg.tuning.search_space)


@pytest.mark.slow
def test_product_goal_gap_closed_at_benchmark_scale():
    """>= 80% of the NDCG@10 gap between the best baseline and the oracle, 10k creators and
    2.5k campaigns, default config without tuning (measured 0.82; about a minute)."""
    from creatorrank.data.generate import generate_market
    from creatorrank.data.validate import validate_tables
    from creatorrank.features.engine import training_matrix
    from creatorrank.training.commands import score_rankers
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.metrics import compare_rankers, gap_closed
    from creatorrank.training.oracle import ORACLE_ROW, oracle_scores
    from creatorrank.training.train import fit_ranker, make_bundle

    market = generate_market(10_000, 2_500, 0)
    tables, _ = validate_tables(market.tables)
    cfg = fast_config()
    data = build_dataset(tables, cfg, train_until=CUTOFF, matrix=training_matrix(tables))
    bundle = make_bundle(fit_ranker(data, cfg), data, cfg)
    test = data["test"].frame
    truth = market.truth.set_index(market.truth[C.INVITATION_ID].astype(str))[C.EXPECTED_GMV]
    scores = {**score_rankers(test, {"model": bundle.predict(test)}, 0), ORACLE_ROW: oracle_scores(test, truth)}
    summary, _ = compare_rankers(test, scores, cfg.evaluation.k, label_gain=cfg.label.evaluation_gains())
    assert gap_closed(summary, "ndcg@10") >= 0.8
