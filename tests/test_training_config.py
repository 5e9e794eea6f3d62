"""Training configuration: defaults, files, validation errors naming the culprit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creatorrank.core.errors import ConfigError
from creatorrank.training.config import TrainingConfig, load_config

pytestmark = pytest.mark.unit

DEFAULT_YAML = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def test_defaults():
    cfg = load_config()
    assert cfg.lightgbm.objective == "lambdarank"
    assert cfg.lightgbm.deterministic and cfg.lightgbm.force_row_wise
    assert 1 <= cfg.lightgbm.num_threads <= 2
    assert cfg.max_rows_per_campaign <= 10_000
    assert cfg.evaluation.primary_k in cfg.evaluation.k
    assert cfg.label.n_grades <= len(cfg.label.gains())
    assert cfg.label_settle_days == 14


def test_shipped_default_yaml_is_the_defaults():
    assert load_config(DEFAULT_YAML) == TrainingConfig()


def test_partial_yaml_and_json_keep_other_defaults(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("lightgbm:\n  num_leaves: 15\ntuning:\n  trials: 3\n")
    cfg = load_config(y)
    assert cfg.lightgbm.num_leaves == 15 and cfg.tuning.trials == 3
    assert cfg.lightgbm.learning_rate == TrainingConfig().lightgbm.learning_rate
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"promotion": {"margin": 0.01}}))
    assert load_config(j).promotion.margin == 0.01


def test_unknown_feature_fails_at_load_naming_it(tmp_path):
    from creatorrank.features.specs import feature_names

    good = list(feature_names())[:2]
    p = tmp_path / "c.yaml"
    p.write_text(f"features: [{good[0]}, {good[1]}, no_such_feature]\n")
    with pytest.raises(ConfigError, match="no_such_feature"):
        load_config(p)
    p.write_text(f"features: [{good[0]}]\n")
    assert load_config(p).feature_list() == [good[0]]
    default = load_config().feature_list()
    evidence = [f for f in feature_names() if f.endswith("_evidence")]
    assert evidence and default == [f for f in feature_names() if f not in evidence]  # people's columns, not inputs


@pytest.mark.parametrize(
    "text, match",
    [
        ("lightgbm:\n  num_leaves: 1\n", "lightgbm.num_leaves"),
        ("lightgbm:\n  objective: regression\n", "lightgbm.objective"),
        ("unknown_key: 3\n", "unknown_key: unknown setting"),
        ("label:\n  thresholds_usd: [0, 100, 50]\n", "increasing"),
        ("label:\n  thresholds_usd: [0, 10, 100]\n  label_gain: [0, 1]\n", "label_gain"),
        ("label:\n  thresholds_usd: [0, 10, 100]\n  evaluation_gain: [0, 1]\n", "evaluation_gain"),
        ("label:\n  gain_base: 9\n", "gain_base"),
        ("split:\n  train: 0.8\n  validation: 0.15\n  test: 0.15\n", "must be 1"),
        ("max_rows_per_campaign: 20000\n", "max_rows_per_campaign"),
        ("tuning:\n  search_space:\n    objective: {low: 0, high: 1}\n", "cannot tune"),
        ("lightgbm: [1, 2\n", "cannot parse"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_invalid_configs_raise_one_line(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(p)
    assert "\n" not in str(info.value)
    assert str(p) in str(info.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/config.yaml")


def test_label_grading_documented_rule():
    import numpy as np

    from creatorrank.training.dataset import grade_labels

    cfg = load_config()
    t = cfg.label.thresholds_usd
    outcome = np.array([0.0, 0.01, t[1], t[1] + 0.01, 1e9, np.nan])
    labels = grade_labels(outcome, cfg.label)
    assert labels.tolist() == [0, 1, 1, 2, len(t), 0]
    assert labels.max() < len(cfg.label.gains())


def test_digest_is_stable_and_sensitive():
    a, b = TrainingConfig(), TrainingConfig()
    assert a.digest() == b.digest()
    b.lightgbm.num_leaves = 15
    assert a.digest() != b.digest()


@pytest.mark.parametrize(
    "extra, match",
    [
        ({"objective": "regression"}, "'objective' is a setting of its own"),
        ({"bogus_param": 1}, "'bogus_param' is not a LightGBM parameter"),
        ({"num_leaf": 7}, "'num_leaf' \\(an alias of 'num_leaves'\\)"),
        ({"random_state": 1}, "alias of 'seed'"),
        ({"n_jobs": 8}, "alias of 'num_threads'"),
        ({"num_boost_round": 5}, "lightgbm.num_boost_round"),
        ({"metric": "map"}, "'metric' is set by the config"),
        ({"ndcg_eval_at": [5]}, "alias of 'eval_at'"),
        ({"label_gain": [0, 1, 3]}, "label.label_gain"),
        ({"mc": [1, -1]}, "alias of 'monotone_constraints'"),
        ({"bagging_seed": 3}, "lightgbm.seed"),
        ({"force_col_wise": True}, "force_col_wise"),
        ({"task": "predict"}, "not a training parameter"),
        ({"sigmoid": float("nan")}, "finite"),
        ({"max_depth": {"a": 1}}, "a number, a string"),
    ],
)
def test_lightgbm_extra_refuses_owned_and_unknown_keys(extra, match):
    from creatorrank.training.config import config_from_dict

    with pytest.raises(ConfigError, match=match) as info:
        config_from_dict({"lightgbm": {"extra": extra}})
    assert "lightgbm.extra" in str(info.value) and "\n" not in str(info.value)


def test_lightgbm_extra_passes_real_free_parameters_through():
    from creatorrank.training.config import config_from_dict

    extra = {"max_depth": 6, "lambdarank_norm": False, "min_gain_to_split": 0.1}
    cfg = config_from_dict({"lightgbm": {"extra": extra}})
    params = cfg.lightgbm.params()
    assert params["max_depth"] == 6 and params["lambdarank_norm"] is False and params["objective"] == "lambdarank"


@pytest.mark.parametrize(
    "text",
    ["lightgbm:\n  learning_rate: .inf\n", "promotion:\n  margin: .nan\n", "lightgbm:\n  lambda_l2: 1e400\n",
     "label:\n  thresholds_usd: [0, .inf]\n", "tuning:\n  timeout_s: .inf\n"],
)
def test_non_finite_numbers_are_refused(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="finite") as info:
        load_config(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_non_utf8_or_unparsable_file_is_one_line_naming_it(tmp_path):
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("experiment_name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(latin)
    assert str(latin) in str(info.value)
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes("tuning:\n  trials: 3\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(utf16)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("tuning:\n  trials: 3\n".encode("utf-8-sig"))
    assert load_config(bom).tuning.trials == 3
    for name, text in [("tabs.yaml", "lightgbm:\n\tnum_leaves: 3\n"), ("bad.json", '{"tuning": {"trials": 3,}}'),
                       ("nan.json", '{"promotion": {"margin": NaN}}')]:
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(p)
        assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_evaluation_gain_is_one_yardstick_whatever_the_training_gain():
    from creatorrank.training.config import LabelConfig

    default = LabelConfig()
    lightgbm = LabelConfig(gain_base=2.0)
    assert default.gains()[:4] == [0.0, 2.0, 8.0, 26.0] and lightgbm.gains()[:4] == [0.0, 1.0, 3.0, 7.0]
    steep = LabelConfig(label_gain=[4.0**i - 1 for i in range(31)])
    assert steep.gains()[:3] == [0.0, 3.0, 15.0]
    assert steep.evaluation_gains() == default.evaluation_gains() == lightgbm.gains()  # 2**i - 1 for all
    own = LabelConfig(label_gain=steep.gains(), evaluation_gain=steep.gains())
    assert own.evaluation_gains() == steep.gains()
