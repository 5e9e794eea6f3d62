"""Training through Dask (creatorrank.training.dask_train, docs/DASK.md "Training on a cluster").

- ``engine: dask`` assembles the matrix from creator shards: the model equals ``engine: local``'s
  bit for bit (same trees, same scores), through the command line.
- ``dask.learner: dask`` trains lightgbm.dask.DaskLGBMRanker on campaign-aligned partitions (no
  campaign in two partitions, each on its own worker). On one partition it is the local model
  bit for bit; on two workers it is deterministic and its test NDCG@10 is within
  ``NDCG_TOLERANCE`` of the local learner's.
- The early-stopping choice made on the client's validation curve is the one LightGBM makes.

Tolerance: two workers bin each feature from one worker's rows (LightGBM's data-parallel bin
finding), so the dask model is a different, equally good model, not the local one. On this market
(41 test campaigns) the local learner's test NDCG@10 moves by up to 0.021 from the default seed's
when only ``lightgbm.seed`` changes (8 seeds: sd 0.007, range 0.018; docs/DASK.md). 0.03 is about
1.5 times that: a dask model further from local would be a real difference, not seed noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dask_parts import two_workers
import yaml

from cli_invoke import invoke, isolate
from generated_market import written_market

from creatorrank.core import constants as C
from creatorrank.training import dask_train as DT
from creatorrank.training.config import config_from_dict
from creatorrank.training.dataset import build_dataset
from creatorrank.training.metrics import compare_rankers, group_codes_from_sizes, ndcg_per_query
from creatorrank.training.train import fit_ranker

pytestmark = pytest.mark.model

NDCG_TOLERANCE = 0.03
LGB = {"num_threads": 1, "num_boost_round": 120, "early_stopping_rounds": 10, "min_data_in_leaf": 5}
FAST = {"lightgbm": {"num_threads": 1, "num_boost_round": 25, "early_stopping_rounds": 10, "min_data_in_leaf": 5},
        "evaluation": {"shap_rows": 0}, "tuning": {"trials": 0}, "uncertainty": {"n_bags": 2}}


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers, one thread each, with lightgbm.dask."""
    pytest.importorskip("lightgbm.dask")
    with two_workers() as client:
        yield client


@pytest.fixture(scope="module")
def ranking(tmp_path_factory):
    """The ranking data of a generated market with ~40 campaigns per split beyond training."""
    _, tables, _ = written_market(tmp_path_factory.mktemp("dask_train") / "market", 2000, 300, 3,
                                  posts_per_creator=40.0, invitees_per_campaign=25.0)
    cfg = config_from_dict({"lightgbm": LGB})
    data = build_dataset(tables, cfg, None)
    return data, cfg, fit_ranker(data, cfg)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small written market (folder) for the end-to-end trainings."""
    data, tables, _ = written_market(tmp_path_factory.mktemp("dask_train_small") / "market", 400, 60, 3,
                                     posts_per_creator=40.0, invitees_per_campaign=25.0)
    return data


def _test_ndcg(data, booster, k: int = 10) -> float:
    codes = group_codes_from_sizes(data["test"].group)
    scores = booster.predict(data.X("test").to_numpy(np.float64))
    return float(np.nanmean(ndcg_per_query(codes, data.y("test"), scores, k)))


def _trees(booster) -> str:
    """The model text up to its parameters (trees, feature names and bins; not run settings)."""
    return booster.model_to_string().split("\nparameters:")[0]


@pytest.mark.unit
def test_campaign_partitions_cover_whole_queries_in_order():
    rng = np.random.default_rng(7)
    for n_parts in (1, 2, 3, 7, 500):
        group = rng.integers(1, 60, size=int(rng.integers(1, 120)))
        parts = DT.campaign_partitions(group, n_parts)
        assert 1 <= len(parts) <= min(n_parts, len(group))
        assert parts[0][0] == 0 and parts[-1][1] == len(group)
        assert all(a < b for a, b in parts) and all(p[1] == q[0] for p, q in zip(parts, parts[1:]))
        rows = [int(group[a:b].sum()) for a, b in parts]
        assert max(rows) - min(rows) <= 2 * int(group.max()) or len(parts) == 1  # balanced up to a query
    assert DT.campaign_partitions(np.zeros(0, dtype=int), 3) == []


@pytest.mark.unit
def test_early_stopping_choice_reads_the_curve_like_lightgbm():
    assert DT.early_stopping_choice(np.array([0.1, 0.3, 0.2, 0.2, 0.25, 0.9]), 3) == 2  # stopped before 0.9
    assert DT.early_stopping_choice(np.array([0.1, 0.3, 0.2, 0.9]), 3) == 4
    assert DT.early_stopping_choice(np.array([0.5, 0.5, 0.5]), 1) == 1  # ties keep the earliest


def test_validation_curve_and_choice_equal_lightgbm_early_stopping(ranking):
    data, cfg, fit = ranking
    recorded = np.array(fit.evals["validation"]["ndcg@10"])
    assert fit.best_iteration + cfg.lightgbm.early_stopping_rounds == len(recorded)  # it did stop early
    assert DT.early_stopping_choice(recorded, cfg.lightgbm.early_stopping_rounds) == fit.best_iteration
    curve = DT.validation_curve(fit.booster, data.X("validation").to_numpy(np.float64), data.y("validation"),
                                data["validation"].group, 10, cfg.label.gains())
    np.testing.assert_allclose(curve, recorded[:fit.best_iteration], rtol=0, atol=1e-12)


def test_dask_learner_on_one_partition_is_the_local_model(ranking, cluster):
    data, _, fit = ranking
    cfg = config_from_dict({"lightgbm": LGB, "dask": {"learner": "dask", "n_partitions": 1}})
    got = DT.fit_ranker_dask(data, cfg, cluster)
    assert got.best_iteration == fit.best_iteration
    assert _trees(got.booster) == _trees(fit.booster)
    assert got.best_score == pytest.approx(fit.best_score, abs=1e-12)


def test_dask_inputs_never_split_a_campaign(ranking, cluster):
    data, _, _ = ranking
    train = data["train"]
    parts = DT.campaign_partitions(train.group, 2)
    X, y, group, _ = DT._dask_inputs(cluster, data.X("train").to_numpy(np.float64), data.y("train"),
                                     np.asarray(train.group), None, parts)
    rows, queries = X.chunks[0], group.chunks[0]
    assert len(rows) == len(queries) == 2 and y.chunks[0] == rows
    ends = np.r_[0, np.cumsum(rows)]
    campaigns = train.frame[C.CAMPAIGN_ID].to_numpy()
    seen = [set(campaigns[a:b]) for a, b in zip(ends[:-1], ends[1:])]
    assert not seen[0] & seen[1]  # no campaign in both partitions
    for chunk_groups, chunk_rows, ids in zip(group.to_delayed(), rows, seen):
        sizes = chunk_groups.compute()
        assert sizes.sum() == chunk_rows and len(sizes) == len(ids)  # whole queries, group sizes per partition


def test_dask_learner_is_deterministic_and_close_to_local(ranking, cluster):
    data, _, fit = ranking
    cfg = config_from_dict({"lightgbm": LGB, "dask": {"learner": "dask", "num_boost_round": 60}})
    first, second = DT.fit_ranker_dask(data, cfg, cluster), DT.fit_ranker_dask(data, cfg, cluster)
    assert _trees(first.booster) == _trees(second.booster)
    assert _trees(first.booster) != _trees(fit.booster)  # two workers: another model, not a copy
    local, dask = _test_ndcg(data, fit.booster), _test_ndcg(data, first.booster)
    assert abs(dask - local) <= NDCG_TOLERANCE, (local, dask)


def _write_config(path: Path, extra: dict) -> Path:
    path.write_text(yaml.safe_dump({**FAST, **extra}))
    return path


def test_matrix_assembled_on_dask_equals_local(small, cluster):
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.features.engine import training_matrix

    tables = load_clean_tables(small)
    got = DT.assemble_matrix(small, cluster, n_shards=3)  # the workers read the folder (tests/test_dask_labels.py)
    pd.testing.assert_frame_equal(got, training_matrix(tables), check_exact=True)


@pytest.mark.slow
def test_cli_train_engine_dask_gives_the_local_model(small, tmp_path, monkeypatch):
    from creatorrank.training.mlflow_io import load_ranker

    models = {}
    for engine in ("local", "dask"):
        isolate(monkeypatch, tmp_path / engine)
        res = invoke(["train", "--data", small, "--config", _write_config(tmp_path / "fast.yaml", {}),
                      "--engine", engine])
        assert res.code == 0, res.err
        models[engine] = load_ranker("models:/creator-ranker/1", f"sqlite:///{(tmp_path / engine / 'mlflow.db').as_posix()}")
    local, dask = models["local"], models["dask"]
    assert _trees(dask.booster) == _trees(local.booster)
    assert dask.metadata["data_digest"] == local.metadata["data_digest"]
    assert dask.metadata["config_digest"] == local.metadata["config_digest"]  # engine is not a model setting
    assert [_trees(b) for b in dask.bags] == [_trees(b) for b in local.bags]
    assert _trees(dask.value.booster_) == _trees(local.value.booster_)


@pytest.mark.slow
def test_train_with_dask_learner_registers_a_full_bundle(small, tmp_path, cluster):
    from creatorrank.training.commands import train
    from creatorrank.training.mlflow_io import load_ranker

    tracking = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    cfg = config_from_dict({**FAST, "dask": {"learner": "dask", "num_boost_round": 30}})
    result = train(small, trials=0, tracking_uri=tracking, config=cfg, scheduler=cluster)
    bundle = load_ranker(result.model_uri, tracking)
    assert bundle.metadata["learner"] == "dask" and bundle.metadata["dask_trained_trees"] == 30
    assert bundle.metadata["dask_workers"] == 2
    assert bundle.booster.current_iteration() == result.best_iteration <= 30
    assert bundle.value is not None and len(bundle.bags) == 2  # fitted by the local learner
    test = result.data["test"].frame  # the registered bundle scores the test campaigns as training did
    summary, _ = compare_rankers(test, {"model": bundle.predict(test)}, cfg.evaluation.k, cfg.evaluation.gmv_k,
                                 cfg.label.evaluation_gains())
    assert summary.loc["model", "ndcg@10"] == result.metrics.loc["model", "ndcg@10"]
    assert np.isfinite(bundle.value.predict(test).to_numpy()).all()


@pytest.mark.parametrize("extra, says", [(["--engine", "spark"], "--engine"),
                                         (["--engine", "local", "--scheduler", "tcp://x:1"], "--scheduler")])
def test_cli_train_refuses_bad_engine_options(small, tmp_path, monkeypatch, extra, says):
    isolate(monkeypatch, tmp_path)
    res = invoke(["train", "--data", small, *extra])
    assert res.code == 2 and len(res.err_lines) == 1 and says in res.err, res.err


def test_config_dask_section_is_checked_and_left_out_of_the_digest(tmp_path):
    from creatorrank.core.errors import ConfigError
    from creatorrank.training.config import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("dask:\n  lerner: dask\n")
    with pytest.raises(ConfigError, match=r"dask\.lerner: unknown setting"):
        load_config(bad)
    with pytest.raises(ConfigError, match="engine"):
        config_from_dict({"engine": "spark"})
    with pytest.raises(ConfigError, match=r"dask\.scheduler: must be a scheduler address"):
        config_from_dict({"dask": {"scheduler": " "}})
    base = config_from_dict({}).digest()
    assert config_from_dict({"engine": "dask", "dask": {"n_shards": 3, "scheduler": "tcp://h:8786"}}).digest() == base
    assert config_from_dict({"engine": "dask", "dask": {"wave_shards": 1, "scratch": "/shared/x"}}).digest() == base
    with pytest.raises(ConfigError, match=r"dask\.wave_shards"):
        config_from_dict({"dask": {"wave_shards": 0}})
    learner = config_from_dict({"dask": {"learner": "dask"}}).digest()
    assert config_from_dict({"dask": {"learner": "dask", "wave_shards": 2, "scratch": "/s"}}).digest() == learner
    assert config_from_dict({"dask": {"learner": "dask"}}).digest() != base
