"""Labelled training rows built on creator shards (``train --engine dask``, docs/DASK.md "Training on a cluster").

Each worker reads its shard of a data folder of Parquet parts (with rows validation rejects),
builds its invitations' training-matrix rows and labels them with its own orders and
invitations. The gathered rows must equal ``labelled_matrix`` of the clean tables bit for bit,
and ``train --engine dask`` must register the very model ``--engine local`` registers, while the
client never loads posts, orders or invitations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dask_parts import two_workers, write_parts
from generated_market import written_market

from creatorrank.core import constants as C
from creatorrank.core.errors import ConfigError
from creatorrank.features import sharded as SH
from creatorrank.training import dask_train as DT
from creatorrank.training.config import config_from_dict
from creatorrank.training.dataset import Labeller, labelled_matrix, resolve_cutoff

pytestmark = pytest.mark.model

FAST = {"lightgbm": {"num_threads": 1, "num_boost_round": 25, "early_stopping_rounds": 10, "min_data_in_leaf": 5},
        "evaluation": {"shap_rows": 0, "bootstrap_resamples": 200}, "tuning": {"trials": 0},
        "uncertainty": {"n_bags": 2}}


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A small market as folders of Parquet parts with three planted bad rows, and its clean tables."""
    from creatorrank.data.validate import load_market

    src, _, _ = written_market(tmp_path_factory.mktemp("dask_labels") / "market", 400, 60, 3,
                               posts_per_creator=40.0, invitees_per_campaign=25.0)
    data = write_parts(src, tmp_path_factory.mktemp("dask_labels_parts") / "market", rows=3000)
    tables, report = load_market(data)
    assert report.rejected_rows == 3
    return data, tables


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers, one thread each."""
    with two_workers() as client:
        yield client


def _no_big_tables_on_the_client(monkeypatch):
    """Fail if this process loads the whole data folder (what engine dask must not do)."""
    import creatorrank.data.validate as V

    def refuse(*args, **kwargs):
        raise AssertionError("the client loaded every table")

    monkeypatch.setattr(V, "load_clean_tables", refuse)
    monkeypatch.setattr(V, "load_market", refuse)


@pytest.mark.parametrize("train_until", [None, "mid"])
def test_labelled_rows_from_shards_equal_labelled_matrix(parts, train_until):
    data, tables = parts
    cfg = config_from_dict({})
    if train_until == "mid":  # a cutoff inside the data: some campaigns incomplete, some outcomes cut
        created = tables[C.CAMPAIGNS][C.CREATED_AT].sort_values()
        train_until = created.iloc[int(len(created) * 0.8)]
    cutoff = resolve_cutoff(tables, train_until)
    want, want_excluded = labelled_matrix(tables, cfg.label, cutoff, cfg.label_settle_days)
    labels = Labeller(cfg.label, cfg.label_settle_days, train_until)
    got_cutoff, got, excluded = SH.labelled_from_folder(data, labels, client=None, n_shards=3)
    if train_until is None:  # the end of the data, reduced over the shards
        assert got_cutoff == cutoff
    else:
        assert got_cutoff == cutoff and want_excluded > 0
    assert len(set().union(*map(set, excluded))) == want_excluded
    assert want[C.LABEL].gt(0).any() and want[C.OUTCOME_GMV].gt(0).any()
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_assemble_labelled_on_a_cluster_holds_only_small_tables(parts, cluster, monkeypatch):
    data, tables = parts
    cfg = config_from_dict({})
    cutoff = resolve_cutoff(tables, None)
    want, want_excluded = labelled_matrix(tables, cfg.label, cutoff, cfg.label_settle_days)
    _no_big_tables_on_the_client(monkeypatch)
    small, labelled = DT.assemble_labelled(data, cfg, None, cluster, n_shards=3)
    assert set(small) == {C.CREATORS, C.CAMPAIGNS}
    assert labelled.cutoff == cutoff and labelled.excluded == want_excluded
    pd.testing.assert_frame_equal(labelled.frame, want, check_exact=True)


def test_assemble_matrix_reads_the_folder_on_the_workers(parts, cluster, monkeypatch):
    from creatorrank.features.engine import training_matrix

    data, tables = parts
    want = training_matrix(tables)
    _no_big_tables_on_the_client(monkeypatch)
    pd.testing.assert_frame_equal(DT.assemble_matrix(data, cluster, n_shards=3), want, check_exact=True)


def _trees(booster) -> str:
    return booster.model_to_string().split("\nparameters:")[0]


@pytest.mark.slow
def test_train_engine_dask_registers_the_local_model(parts, cluster, tmp_path, monkeypatch):
    from creatorrank.training.commands import train
    from creatorrank.training.mlflow_io import load_ranker

    data, _ = parts
    cfg = config_from_dict(FAST)
    got = {}
    for engine in ("local", "dask"):
        tracking = f"sqlite:///{(tmp_path / engine / 'mlflow.db').as_posix()}"
        (tmp_path / engine).mkdir()
        if engine == "dask":
            _no_big_tables_on_the_client(monkeypatch)
        result = train(data, trials=0, tracking_uri=tracking, config=cfg, engine=engine,
                       scheduler=cluster if engine == "dask" else None)
        got[engine] = (result, load_ranker(result.model_uri, tracking))
    (local, local_bundle), (dask, dask_bundle) = got["local"], got["dask"]
    assert dask.data.digest() == local.data.digest() and dask.data.cutoff == local.data.cutoff
    assert dask.data.summary() == local.data.summary()
    assert _trees(dask_bundle.booster) == _trees(local_bundle.booster)
    assert [_trees(b) for b in dask_bundle.bags] == [_trees(b) for b in local_bundle.bags]
    assert _trees(dask_bundle.value.booster_) == _trees(local_bundle.value.booster_)
    assert dask_bundle.metadata["data_digest"] == local_bundle.metadata["data_digest"]
    pd.testing.assert_frame_equal(dask.metrics, local.metrics, check_exact=True)
    test = dask.data["test"].frame
    np.testing.assert_array_equal(dask_bundle.predict(test), local_bundle.predict(test))


def test_train_engine_dask_refuses_propensity(parts, tmp_path):
    from creatorrank.training.commands import train

    data, _ = parts
    cfg = config_from_dict({**FAST, "propensity": {"enabled": True}})
    with pytest.raises(ConfigError, match="propensity.enabled needs engine local"):
        train(data, trials=0, tracking_uri=f"sqlite:///{(tmp_path / 'm.db').as_posix()}", config=cfg, engine="dask")


def test_labelled_rows_in_waves_equal_labelled_matrix(parts, cluster, monkeypatch):
    """One shard prepared at a time on the cluster (each pass reads its wave again): the same labelled rows."""
    from dataclasses import replace

    from creatorrank.features import engine as E

    data, tables = parts
    cfg = config_from_dict({})
    cutoff = resolve_cutoff(tables, None)
    want, _ = labelled_matrix(tables, cfg.label, cutoff, cfg.label_settle_days)
    labels = Labeller(cfg.label, cfg.label_settle_days, None)
    folder = replace(SH.open_folder(data), wave_shards=1)
    got_cutoff, frame, _ = SH.labelled_from_folder(folder, labels, client=cluster, n_shards=3)
    assert got_cutoff == cutoff
    pd.testing.assert_frame_equal(frame, want, check_exact=True)
    prepared = []  # in-process: each shard is prepared once for the peer pass, once for its rows
    monkeypatch.setattr(E, "prepare", lambda *a, _p=E.prepare: prepared.append(1) or _p(*a))
    _, here, _ = SH.labelled_from_folder(folder, labels, client=None, n_shards=3)
    pd.testing.assert_frame_equal(here, want, check_exact=True)
    assert len(prepared) == 6
