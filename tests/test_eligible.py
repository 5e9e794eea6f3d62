"""Eligible-pool evaluation: pair truth from the market folder, the pool, capture@k and NDCG@k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generated_market import written_market

from creatorrank.core import constants as C

N_CREATORS, N_CAMPAIGNS, SEED = 1500, 400, 3


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A small generated market on disk and its validated tables."""
    return written_market(tmp_path_factory.mktemp("eligible_market"), N_CREATORS, N_CAMPAIGNS, SEED)


@pytest.fixture(scope="module")
def bundle(market):
    """A quickly trained ranker of the market (one thread, no MLflow)."""
    from creatorrank.features.engine import training_matrix
    from creatorrank.training.config import TrainingConfig
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.train import fit_ranker, make_bundle

    _, tables, _ = market
    cfg = TrainingConfig()
    cfg.lightgbm.num_threads = 1
    cfg.lightgbm.num_boost_round, cfg.lightgbm.early_stopping_rounds = 80, 10
    data = build_dataset(tables, cfg, matrix=training_matrix(tables))
    return make_bundle(fit_ranker(data, cfg), data, cfg)


# --------------------------------------------------------------------------- metric (unit)


@pytest.mark.unit
def test_oracle_captures_everything_and_a_reversed_ranking_less() -> None:
    from creatorrank.training.eligible import pool_metrics

    gain = np.array([5.0, 0.0, 3.0, 1.0, 4.0, 2.0, 7.0, 0.5])
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    capture, ndcg = pool_metrics(codes, gain, gain, k=2)
    np.testing.assert_allclose(capture, 1.0)
    np.testing.assert_allclose(ndcg, 1.0)
    rev_capture, rev_ndcg = pool_metrics(codes, gain, -gain, k=2)
    np.testing.assert_allclose(rev_capture, [(0.0 + 1.0) / 8.0, (0.5 + 2.0) / 11.0])
    assert (rev_ndcg < 1.0).all() and (rev_capture < 1.0).all()


@pytest.mark.unit
def test_a_creator_left_out_counts_as_ranked_last_in_the_worst_order() -> None:
    from creatorrank.training.eligible import pool_metrics

    gain = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    codes = np.zeros(5, dtype=np.int64)
    # Leaving out the best creator: the top 2 are the next best two.
    left_out_best = np.array([np.nan, 4.0, 3.0, 2.0, 1.0])
    assert pool_metrics(codes, gain, left_out_best, k=2)[0][0] == pytest.approx((4 + 3) / (5 + 4))
    # Ranking only one creator: the second place goes to the worst left-out one, never the best.
    only_one = np.array([np.nan, np.nan, 1.0, np.nan, np.nan])
    assert pool_metrics(codes, gain, only_one, k=2)[0][0] == pytest.approx((3 + 1) / (5 + 4))
    # Ranking nobody is as bad as ranking the worst first.
    nobody = np.full(5, np.nan)
    np.testing.assert_allclose(pool_metrics(codes, gain, nobody, k=2), pool_metrics(codes, gain, -gain, k=2))


@pytest.mark.unit
def test_a_brief_without_expected_gmv_is_undefined_not_perfect() -> None:
    from creatorrank.training.eligible import pool_metrics

    capture, ndcg = pool_metrics(np.array([0, 0, 1, 1]), np.array([0.0, 0.0, 2.0, 1.0]), np.array([1.0, 2, 1, 2]), k=1)
    assert np.isnan(capture[0]) and np.isnan(ndcg[0])
    assert capture[1] == pytest.approx(0.5)


# --------------------------------------------------------------------------- pair truth and the pool (data)


@pytest.mark.data
def test_pair_truth_from_the_folder_reproduces_every_invitation(market) -> None:
    from creatorrank.training.eligible import PairTruth

    folder, tables, generated = market
    truth = PairTruth.from_market(folder, tables)
    inv = generated.truth
    got = truth.expected_gmv(inv[C.CAMPAIGN_ID], inv[C.CREATOR_ID], inv["invited_day"])
    np.testing.assert_allclose(got, inv[C.EXPECTED_GMV].to_numpy(), rtol=1e-9, atol=1e-9)
    # Without the contract tables the campaigns come from the folder, with the same result.
    np.testing.assert_allclose(PairTruth.from_market(folder).expected_gmv(
        inv[C.CAMPAIGN_ID], inv[C.CREATOR_ID], inv["invited_day"]), got, rtol=0, atol=0)
    assert np.isnan(truth.expected_gmv(["no-such-campaign"], [inv[C.CREATOR_ID].iloc[0]])).all()


@pytest.mark.data
def test_pair_truth_needs_a_generated_market(tmp_path) -> None:
    from creatorrank.core.errors import InputError
    from creatorrank.training.eligible import PairTruth

    with pytest.raises(InputError, match="generated markets"):
        PairTruth.from_market(tmp_path)


@pytest.mark.data
def test_the_pool_is_every_creator_of_the_country_who_had_joined(market) -> None:
    from creatorrank.training.eligible import eligible_pool, select_briefs

    _, tables, _ = market
    briefs = select_briefs(tables[C.CAMPAIGNS], "2025-06-01", 5)
    assert len(briefs) == 5 and (briefs[C.CREATED_AT] >= pd.Timestamp("2025-06-01", tz="UTC")).all()
    assert briefs[C.CREATED_AT].is_monotonic_increasing
    pool = eligible_pool(tables[C.CREATORS], briefs)
    cr = tables[C.CREATORS]
    for b in briefs.itertuples(index=False):
        want = cr.loc[(cr[C.COUNTRY] == b.country) & (cr[C.JOINED_AT] < b.created_at), C.CREATOR_ID]
        got = pool.loc[pool[C.CAMPAIGN_ID] == b.campaign_id, C.CREATOR_ID]
        assert sorted(got) == sorted(want.astype(str)) and len(got) > 0
        assert (pool.loc[pool[C.CAMPAIGN_ID] == b.campaign_id, C.AS_OF] == b.created_at).all()


# --------------------------------------------------------------------------- the evaluation (model)


@pytest.mark.model
def test_eligible_evaluation_grades_the_model_the_baselines_and_the_oracle(market, bundle) -> None:
    from creatorrank.training.eligible import ORACLE, PairTruth, evaluate_eligible, grade_rankings

    folder, tables, _ = market
    truth = PairTruth.from_market(folder, tables)
    ev = evaluate_eligible(tables, truth, {"model": bundle}, max_briefs=20, k=10,
                           shrinkage={"shrunk": ("orders_seen", 30.0)})
    assert ev.since == pd.Timestamp(bundle.metadata["holdout_from"])  # campaigns the model never trained on
    assert set(ev.summary.index) == {"model", "shrunk", ORACLE, "random", "followers", "engagement_rate", "past_gmv"}
    assert ev.capture(ORACLE) == pytest.approx(1.0) and ev.ndcg(ORACLE) == pytest.approx(1.0)
    assert ev.briefs >= 10 and ev.rows > 10 * ev.briefs
    assert ev.capture("model") > ev.capture("random") + 0.2
    assert ev.ndcg("model") > ev.ndcg("random") + 0.2
    for name in ev.summary.index:
        assert 0.0 <= ev.capture(name) <= 1.0 + 1e-12

    # The same pool graded directly: reversing the oracle, or leaving out its top creators, loses.
    from creatorrank.training.eligible import eligible_pool, select_briefs

    briefs = select_briefs(tables[C.CAMPAIGNS], ev.since, 20)
    pool = eligible_pool(tables[C.CREATORS], briefs)
    gain = truth.expected_gmv(pool[C.CAMPAIGN_ID], pool[C.CREATOR_ID])
    best = pool.assign(g=gain).groupby(C.CAMPAIGN_ID)["g"].rank(ascending=False, method="first").to_numpy() <= 3
    summary, per_brief = grade_rankings(pool, gain, {
        ORACLE: gain, "reversed": -gain, "without_top3": np.where(best, np.nan, gain)}, k=10)
    assert summary.loc[ORACLE, "capture@10"] == pytest.approx(1.0)
    assert summary.loc["reversed", "capture@10"] < 0.1
    assert summary.loc["without_top3", "capture@10"] < summary.loc[ORACLE, "capture@10"]
    assert summary.loc["without_top3", "ndcg@10"] < 1.0
    assert len(per_brief) == 3 * per_brief[C.CAMPAIGN_ID].nunique()


@pytest.mark.unit
def test_shrinkage_pulls_thin_histories_to_the_brief_median() -> None:
    from creatorrank.training.shrinkage import shrink_scores

    groups = np.array(["a", "a", "a", "b", "b", "b"])
    scores = np.array([3.0, 1.0, 2.0, 10.0, np.nan, -10.0])
    evidence = np.array([0.0, np.nan, 1e12, 5.0, 5.0, 5.0])
    out = shrink_scores(groups, scores, evidence, k=5.0)
    assert out[0] == pytest.approx(2.0) and out[1] == pytest.approx(2.0)  # no evidence: the brief's median
    assert out[2] == pytest.approx(2.0)  # the median itself
    assert np.isnan(out[4])  # a missing score stays missing, and is not in the median
    assert out[3] == pytest.approx(0.5 * 10.0 + 0.5 * 0.0) and out[5] == pytest.approx(-5.0)  # n = k: halfway
    strong = shrink_scores(groups, [3.0, 1.0, 2.0, 1, 2, 3], [1e9] * 6, k=1.0)
    np.testing.assert_allclose(strong, [3.0, 1.0, 2.0, 1, 2, 3], rtol=1e-8)  # much evidence: unchanged
    with pytest.raises(ValueError, match="k must be"):
        shrink_scores(groups, scores, evidence, k=0)


@pytest.mark.model
def test_the_value_model_ordering_is_graded_and_the_evaluation_is_tracked_in_mlflow(market, bundle, tmp_path) -> None:
    import dataclasses

    from creatorrank.features.engine import training_matrix
    from creatorrank.training.config import TrainingConfig
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.eligible import (EXPECTED_SUFFIX, PairTruth, eligible_metrics, evaluate_eligible,
                                               log_eligible)
    from creatorrank.training.train import fit_value
    from creatorrank.training.tracking import use_tracking

    folder, tables, _ = market
    cfg = TrainingConfig()
    cfg.lightgbm.num_threads = 1
    cfg.value.num_boost_round, cfg.value.early_stopping_rounds = 80, 10
    with_value = dataclasses.replace(bundle, value=fit_value(build_dataset(tables, cfg, matrix=training_matrix(tables)), cfg))
    truth = PairTruth.from_market(folder, tables)
    ev = evaluate_eligible(tables, truth, {"model": with_value}, max_briefs=12, k=10)
    money = f"model{EXPECTED_SUFFIX}"
    assert money in ev.summary.index and ev.capture(money) > ev.capture("random") + 0.2
    assert set(ev.exposure) == set(ev.summary.index)

    metrics = eligible_metrics(ev)
    assert metrics["eligible.model.capture_at_10"] == pytest.approx(ev.capture("model"))
    assert metrics["eligible.model_expected_GMV.ndcg_at_10"] == pytest.approx(ev.ndcg(money))
    tiers = [key for key in metrics if key.startswith("eligible.model.exposure.tier.")]
    assert tiers and sum(metrics[key] for key in tiers) == pytest.approx(1.0)  # exposure shares of one dimension
    merit = [key for key in metrics if key.startswith("eligible.merit.tier.")]
    assert merit and sum(metrics[key] for key in merit) == pytest.approx(1.0)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_eligible(ev, "models:/creator-ranker@challenger", uri, model_version=3)
    run = use_tracking(uri).get_run(run_id)
    assert run.data.tags["kind"] == "eligible" and run.data.tags["model_version"] == "3"
    assert run.data.metrics == pytest.approx(metrics)
    artifacts = {a.path for a in use_tracking(uri).list_artifacts(run_id, "eligible")}
    assert artifacts == {"eligible/per_brief.csv", "eligible/exposure.csv"}
