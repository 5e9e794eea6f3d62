"""Quality gates: a weak model is reported and refused, nothing is learned from no sales, evaluate is out of sample.

The "weak model" market is a generated market whose buyers turn in its test period: in every
test campaign (the last 15% of complete campaigns at the cutoff, the split ``train`` uses)
the realized outcomes are handed out in reverse order of the generator's expected GMV, so
the creator the market's past says is best gets the worst outcome. The invitation rows and
that campaign's orders move together (the responses, deliveries and sales of one invitee
become another's); nothing before the test period changes, so the model learns the real
market and then meets its opposite. The truth folder is removed: it no longer describes the
outcomes.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import EXIT_INPUT, EXIT_REFUSED, InputError, RefusedError

pytestmark = pytest.mark.model

UNTIL = "2025-10-01"  # the generated market runs 2024-01-01 .. 2026-01-01: campaigns after this stay unseen
FAST = {
    "lightgbm": {"num_threads": 1, "num_boost_round": 25, "early_stopping_rounds": 10, "min_data_in_leaf": 5},
    "evaluation": {"shap_rows": 0},
    "tuning": {"trials": 0},
    # The gates' mechanics on this small market's few test campaigns: with LightGBM's own gains
    # the turned model loses to random by more than the bootstrap's width (3**i - 1 gains: -0.10,
    # interval up to +0.03, not shown to lose).
    "label": {"gain_base": 2.0},
}


def fast_config():
    from creatorrank.training.config import config_from_dict

    return config_from_dict(FAST)


# ---------------------------------------------------------------------------- markets


def invert_test_outcomes(market, train_until: str) -> set[str]:
    """Hand each test campaign's outcomes out in reverse order of expected GMV (in place)."""
    from creatorrank.training.config import SplitConfig
    from creatorrank.training.dataset import assign_splits, campaign_outcomes, complete_campaigns, to_cutoff

    tables, cutoff = market.tables, to_cutoff(train_until)
    inv, orders = tables[C.INVITATIONS].copy(), tables[C.ORDERS].copy()
    done = complete_campaigns(tables[C.CAMPAIGNS], cutoff)
    done = done[done[C.CAMPAIGN_ID].isin(inv[C.CAMPAIGN_ID])]
    splits = assign_splits(done.set_index(C.CAMPAIGN_ID)[C.CREATED_AT], SplitConfig())
    test = set(splits.index[splits == "test"])
    outcome = campaign_outcomes(tables, cutoff).set_index(C.INVITATION_ID)[C.OUTCOME_GMV]
    expected = market.truth.set_index(C.INVITATION_ID)[C.EXPECTED_GMV]
    for k in test:
        rows = inv.index[inv[C.CAMPAIGN_ID] == k]
        ids = inv.loc[rows, C.INVITATION_ID]
        best_first = rows[np.argsort(-expected.loc[ids].to_numpy(), kind="stable")]
        worst_first = rows[np.argsort(outcome.loc[ids].to_numpy(), kind="stable")]
        old = inv.loc[worst_first, C.CREATOR_ID].to_numpy()
        new = inv.loc[best_first, C.CREATOR_ID].to_numpy()
        inv.loc[worst_first, C.CREATOR_ID] = new  # the worst outcome goes to the most promising creator
        mine = (orders[C.CAMPAIGN_ID] == k).fillna(False).to_numpy(bool)
        orders.loc[mine, C.CREATOR_ID] = orders.loc[mine, C.CREATOR_ID].map(dict(zip(old, new)))
        orders.loc[mine, C.POST_ID] = None  # the post was the old invitee's
    tables[C.INVITATIONS], tables[C.ORDERS] = inv, orders
    return test


@pytest.fixture(scope="module")
def base():
    from creatorrank.data.generate import generate_market

    return generate_market(300, 100, 3, posts_per_creator=30.0, invitees_per_campaign=25.0)


def _write(market, folder, orders=None):
    """Write the market (optionally with other orders) without its truth; return (folder, tables, matrix)."""
    import copy

    from creatorrank.data.generate import write_market
    from creatorrank.data.validate import load_market
    from creatorrank.features.engine import training_matrix

    market = copy.copy(market)
    market.tables = dict(market.tables)
    if orders is not None:
        market.tables[C.ORDERS] = orders
    write_market(market, folder)
    shutil.rmtree(folder / "truth", ignore_errors=True)
    tables, report = load_market(folder)
    assert report.ok, report.summary()
    return folder, tables, training_matrix(tables)


@pytest.fixture(scope="module")
def base_data(base, tmp_path_factory):
    return _write(base, tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """An MLflow sqlite file with its schema (created once, copied per test)."""
    from creatorrank.training.tracking import use_tracking

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    use_tracking(f"sqlite:///{path.as_posix()}")
    return path


def _fresh_store(store, folder) -> str:
    shutil.copyfile(store, folder / "mlflow.db")
    return f"sqlite:///{(folder / 'mlflow.db').as_posix()}"


@pytest.fixture(scope="module")
def turned(base, store, tmp_path_factory):
    """The turned market, and a model trained on it until UNTIL (registered as v1, challenger)."""
    import copy

    from creatorrank.training.commands import train

    market = copy.copy(base)
    market.tables = dict(base.tables)
    test = invert_test_outcomes(market, UNTIL)
    root = tmp_path_factory.mktemp("turned")
    folder, tables, matrix = _write(market, root / "market")
    uri = _fresh_store(store, root)
    result = train(folder, train_until=UNTIL, trials=0, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert set(result.data["test"].frame[C.CAMPAIGN_ID].astype(str)) == set(test)  # the turned ones
    return {"folder": folder, "tables": tables, "matrix": matrix, "uri": uri, "result": result}


# ------------------------------------------------------------------------- bootstrap


@pytest.mark.unit
def test_bootstrap_interval_matches_a_brute_force_bootstrap():
    from creatorrank.training.metrics import bootstrap_mean_ci

    rng = np.random.default_rng(7)
    delta = np.column_stack([rng.normal(0.03, 0.2, 57), rng.normal(-0.01, 0.1, 57)])
    mean, low, high = bootstrap_mean_ci(delta, n_resamples=2000, level=0.95, seed=11)

    draws = np.random.default_rng(11)
    means = np.array([delta[draws.integers(0, 57, size=57)].mean(axis=0) for _ in range(2000)])
    assert np.allclose(mean, delta.mean(axis=0))
    assert np.allclose(low, np.percentile(means, 2.5, axis=0))
    assert np.allclose(high, np.percentile(means, 97.5, axis=0))
    # the interval is about +-1.96 standard errors wide
    se = delta.std(axis=0, ddof=1) / np.sqrt(57)
    assert np.allclose(high - low, 2 * 1.96 * se, rtol=0.15)
    one = bootstrap_mean_ci(delta[:1, 0])
    assert one[0] == delta[0, 0] and np.isnan(one[1]) and np.isnan(one[2])  # no spread to resample


@pytest.mark.unit
def test_quality_gate_pairs_campaigns_and_needs_the_whole_interval_above_zero():
    from creatorrank.training.metrics import bootstrap_mean_ci, quality_gate

    rng = np.random.default_rng(3)
    n = 40
    random = rng.uniform(0.1, 0.5, n)
    per_campaign = {
        "model": random + 0.1 + rng.normal(0, 0.02, n),      # clearly better than random
        "random": random,
        "past_gmv": random + 0.1 + rng.normal(0, 0.2, n),    # as good as the model, noisier
        "followers": random - 0.05,
    }
    frames = []
    for name, values in per_campaign.items():
        ndcg = np.r_[values, np.nan]  # one campaign without sales: no metric, left out
        frames.append(pd.DataFrame({C.CAMPAIGN_ID: [f"k{i}" for i in range(n + 1)], "model": name,
                                    "ndcg@10": ndcg, "n_positive": np.r_[np.ones(n), 0]}))
    gate = quality_gate(pd.concat(frames, ignore_index=True), "ndcg@10", seed=5)

    assert gate.campaigns == n and not gate.too_few
    assert set(gate.comparisons) == {"random", "past_gmv", "followers"}
    model = per_campaign["model"]
    best = max(("random", "past_gmv", "followers"), key=lambda b: per_campaign[b].mean())
    assert gate.best_baseline == best
    order = np.argsort([f"k{i}" for i in range(n)])  # the gate resamples campaigns in campaign-id order
    delta = np.column_stack([(model - per_campaign[b])[order] for b in gate.comparisons])
    _, low, high = bootstrap_mean_ci(delta, seed=5)
    for i, (name, c) in enumerate(gate.comparisons.items()):
        assert c.delta == pytest.approx((model - per_campaign[name]).mean())
        assert (c.ci_low, c.ci_high) == pytest.approx((low[i], high[i]))
        assert c.beats == (c.delta > 0 and c.ci_low > 0)
    assert gate.comparisons["random"].beats and gate.comparisons["followers"].beats
    past = gate.comparisons["past_gmv"]
    assert past.ci_low < 0 < past.ci_high and not past.beats and past.verdict == "not shown to beat"
    assert not gate.beats_baselines
    tags = gate.tags()
    assert tags["beats_baselines"] == "false" and tags["beats.random"] == "true" and tags["beats.past_gmv"] == "false"
    assert float(tags["delta_ci_low"]) == pytest.approx(gate.best.ci_low, abs=1e-6)

    few = quality_gate(pd.concat(frames, ignore_index=True).query("campaign_id in ['k0', 'k1', 'k2']"), "ndcg@10")
    assert few.campaigns == 3 and few.too_few and "too few" in few.warning()


# ------------------------------------------------------------------- weak model gates


def test_a_model_that_loses_to_random_is_reported_tagged_and_refused(turned):
    from mlflow.tracking import MlflowClient

    from creatorrank.training.commands import format_metrics, promote

    result, uri = turned["result"], turned["uri"]
    gate = result.gate
    vs_random = gate.comparisons["random"]
    assert vs_random.delta < 0 and vs_random.ci_high < 0 and vs_random.verdict == "loses to"
    assert not gate.beats_baselines and not result.beats_baselines
    text = format_metrics(result)
    assert "does NOT beat" in text and "loses to random" in text and "95% CI" in text
    assert any("does NOT beat" in w for w in result.warnings)

    client = MlflowClient(uri, registry_uri=uri)
    run_tags = client.get_run(result.run_id).data.tags
    version_tags = client.get_model_version(C.REGISTERED_MODEL, str(result.model_version)).tags
    for tags in (run_tags, version_tags):
        assert tags["beats_baselines"] == "false" and tags["beats.random"] == "false"
        assert tags["best_baseline"] == gate.best_baseline
        assert float(tags["delta_ci_high"]) == pytest.approx(gate.best.ci_high, abs=1e-6)
    assert "test.gate.delta_ci_high" in client.get_run(result.run_id).data.metrics

    with pytest.raises(RefusedError) as refused:  # the first model: no champion to lose to, still refused
        promote(turned["folder"], tracking_uri=uri, config=fast_config(), matrix=turned["matrix"])
    assert refused.value.exit_code == EXIT_REFUSED
    assert "does NOT beat" in str(refused.value) and "\n" not in str(refused.value)
    tags = client.get_model_version(C.REGISTERED_MODEL, str(result.model_version)).tags
    assert tags["promotion"] == "refused" and tags["promotion.reason"] == str(refused.value)
    assert tags["promotion.beats_baselines"] == "false"
    assert C.CHAMPION not in client.get_registered_model(C.REGISTERED_MODEL).aliases


@pytest.mark.parametrize("tag, value, reason", [
    ("train.positive_campaigns", "0", "trained on data without a positive outcome"),
    ("test.ndcg_at_10", "nan", "no test ndcg@10 (NaN"),
])
def test_a_version_without_positive_outcomes_or_with_nan_metrics_is_refused(turned, tag, value, reason):
    """Versions registered before train stopped on such data (or by hand) are refused too."""
    from mlflow.tracking import MlflowClient

    from creatorrank.training.commands import promote

    uri, version = turned["uri"], str(turned["result"].model_version)
    client = MlflowClient(uri, registry_uri=uri)
    before = client.get_model_version(C.REGISTERED_MODEL, version).tags[tag]
    client.set_model_version_tag(C.REGISTERED_MODEL, version, tag, value)
    try:
        with pytest.raises(RefusedError, match=reason.replace("(", r"\(")):
            promote(turned["folder"], tracking_uri=uri, config=fast_config(), matrix=turned["matrix"])
    finally:
        client.set_model_version_tag(C.REGISTERED_MODEL, version, tag, before)
    assert client.get_model_version(C.REGISTERED_MODEL, version).tags["promotion"] == "refused"


def test_promote_rejects_a_non_finite_margin(turned):
    from creatorrank.core.errors import ConfigError
    from creatorrank.training.commands import promote

    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite"):
            promote(turned["folder"], margin=bad, tracking_uri=turned["uri"], config=fast_config())


def test_evaluate_defaults_to_campaigns_after_the_training_cutoff(turned):
    from creatorrank.training.commands import EvaluationResult, evaluate, format_metrics
    from creatorrank.training.dataset import complete_campaigns

    folder, uri, matrix, tables = turned["folder"], turned["uri"], turned["matrix"], turned["tables"]
    cutoff = pd.Timestamp(UNTIL, tz="UTC")
    out = evaluate(folder, "models:/creator-ranker@challenger", tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert isinstance(out, EvaluationResult) and out.model_version == 1
    assert out.cutoff == cutoff and out.since == cutoff and not out.in_sample
    created = tables[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)[C.CREATED_AT]
    evaluated = out.per_campaign[C.CAMPAIGN_ID].astype(str).unique()
    assert (created.loc[evaluated] >= cutoff).all()
    # every complete campaign created after the cutoff, and nothing else
    end = tables[C.ORDERS][C.ORDERED_AT].max()
    done = complete_campaigns(tables[C.CAMPAIGNS], end + pd.Timedelta(microseconds=1))
    after = done[(done[C.CREATED_AT] >= cutoff) & done[C.CAMPAIGN_ID].isin(matrix[C.CAMPAIGN_ID])]
    assert set(evaluated) == set(after[C.CAMPAIGN_ID].astype(str)) and out.campaigns == len(after) > 0
    assert f"training cutoff {UNTIL}" in out.window and "out of sample" in out.window
    assert out.window in format_metrics(out) and out.gate is not None

    earlier = evaluate(folder, "models:/creator-ranker@challenger", since="2025-01-01", tracking_uri=uri,
                       config=fast_config(), matrix=matrix)
    assert earlier.in_sample and earlier.campaigns > out.campaigns
    assert any("in-sample" in w for w in earlier.warnings)
    assert "IN-SAMPLE" in format_metrics(earlier)
    # from its hold-out start: its own test campaigns (not fitted on) plus the later ones
    held_out = evaluate(folder, "models:/creator-ranker@challenger", since=turned["result"].data.holdout_from,
                        tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert not held_out.in_sample and any("own test campaigns" in w for w in held_out.warnings)


# --------------------------------------------------------------- nothing to learn from


@pytest.mark.parametrize("orders", ["no campaign sales", "empty orders table"])
def test_a_market_without_sales_stops_before_anything_is_registered(base, store, tmp_path, orders):
    from mlflow.tracking import MlflowClient

    from creatorrank.training.commands import train

    all_orders = base.tables[C.ORDERS]
    kept = all_orders[all_orders[C.CAMPAIGN_ID].isna()] if orders == "no campaign sales" else all_orders.iloc[:0]
    folder, _, matrix = _write(base, tmp_path / "market", orders=kept)
    uri = _fresh_store(store, tmp_path)
    with pytest.raises(InputError) as stop:
        train(folder, train_until=UNTIL, trials=0, tracking_uri=uri, config=fast_config(), matrix=matrix)
    assert stop.value.exit_code == EXIT_INPUT
    assert str(stop.value).startswith(
        f"no complete campaign with a positive outcome (net GMV > 0) before {UNTIL}: nothing to learn from")
    client = MlflowClient(uri, registry_uri=uri)
    assert client.search_registered_models() == []
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments) == []


def test_too_few_complete_campaigns_say_how_many_are_needed(base_data):
    from creatorrank.training.dataset import build_dataset

    _, tables, matrix = base_data
    cfg = fast_config()
    with pytest.raises(InputError, match=r"^no complete campaigns before 2024-01-10"):
        build_dataset(tables, cfg, "2024-01-10", matrix=matrix)
    created = tables[C.CAMPAIGNS].sort_values(C.ENDS_AT)
    # just after the second campaign to settle: two complete campaigns
    second = created[C.ENDS_AT].iloc[1] + pd.Timedelta(days=cfg.label_settle_days, seconds=1)
    with pytest.raises(InputError, match=r"only \d complete campaign\(s\) before .*need at least 3"):
        build_dataset(tables, cfg, second, matrix=matrix)

    # sales only in the oldest campaigns: validation and test would have nothing to measure
    orders = tables[C.ORDERS]
    oldest = set(tables[C.CAMPAIGNS].sort_values(C.CREATED_AT)[C.CAMPAIGN_ID].iloc[:20])
    only_old = dict(tables, **{C.ORDERS: orders[orders[C.CAMPAIGN_ID].isna() | orders[C.CAMPAIGN_ID].isin(oldest)]})
    with pytest.raises(InputError, match="validation and test split .* got none; need at least 3, one in each"):
        build_dataset(only_old, cfg, UNTIL, matrix=matrix)


def test_validation_leaves_out_campaigns_without_sales(base_data):
    """LightGBM scores a campaign without any sale NDCG 1: validation must not hold one."""
    from creatorrank.training.dataset import build_dataset, positive_campaigns
    from creatorrank.training.metrics import ndcg_per_query
    from creatorrank.training.train import fit_ranker

    _, tables, matrix = base_data
    cfg = fast_config()
    # no sales in half of the campaigns: plenty of all-zero queries
    orders = tables[C.ORDERS]
    ids = tables[C.CAMPAIGNS][C.CAMPAIGN_ID].astype(str).to_numpy()
    dry = set(ids[::2])
    sparse = dict(tables, **{C.ORDERS: orders[~orders[C.CAMPAIGN_ID].astype(str).isin(dry)]})
    data = build_dataset(sparse, cfg, UNTIL, matrix=matrix)
    assert positive_campaigns(data["validation"].frame).all()
    assert data.unlabelled_validation_campaigns > 0
    assert not positive_campaigns(data["test"].frame).all()  # test keeps them, counted as no_positive
    fit = fit_ranker(data, cfg)
    valid = data["validation"]
    codes = np.repeat(np.arange(len(valid.group)), valid.group)
    ours = ndcg_per_query(codes, data.y("validation"), fit.booster.predict(data.X("validation").to_numpy()),
                          cfg.evaluation.primary_k, cfg.label.gains())
    assert fit.best_score == pytest.approx(np.nanmean(ours), abs=1e-6) and fit.best_score < 1.0
