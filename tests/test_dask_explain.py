"""``explain`` on Dask: the scoring run read back on the workers equals the local reading.

:func:`creatorrank.serving.run_reader.read_run` with ``engine="dask"`` lets the workers read
their shards of a folder of Parquet parts (with rows validation rejects), search the
candidates a ``score --top`` cut left out, compute every candidate's features and the
explainable rows' history; the client never loads the clean tables. The frame must equal the
local engine's bit for bit, the history row for row, and the explanation (SHAP values
relative to the campaign) to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dask_parts import small_parts_market, two_workers
from fast_training import FAST

from creatorrank.core import constants as C

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A market written as parts, a model trained on it, and two scoring runs (cut by --top, and whole)."""
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.serving.score import load_model, score

    root = tmp_path_factory.mktemp("dask_explain")
    data = small_parts_market(root)
    result, tracking = _train(data, root)
    uri = f"models:/{C.REGISTERED_MODEL}/{result.model_version}"
    camp = load_clean_tables(data)[C.CAMPAIGNS].sort_values(C.CREATED_AT, kind="stable")
    campaigns = [str(camp.iloc[k][C.CAMPAIGN_ID]) for k in (len(camp) // 2, len(camp) - 2, len(camp) - 1)]
    runs = {}
    for name, kwargs in (("cut", {"top": 12}), ("whole", {"candidates": "invited"})):
        path = root / name / "scores.parquet"
        path.parent.mkdir()
        score(data, uri, path, tracking_uri=tracking, campaign_ids=campaigns, chunk_size=41, **kwargs)
        runs[name] = path
    return {"data": data, "tracking": tracking, "bundle": load_model(uri, tracking), "runs": runs, "uri": uri}


def _train(data, root):
    """The tests' quick training without the value model (the ranker alone is what explain explains)."""
    from creatorrank.training.commands import train
    from creatorrank.training.config import config_from_dict

    tracking = f"sqlite:///{(root / 'mlflow.db').as_posix()}"
    config = config_from_dict({**FAST, "value": {"enabled": False}})
    return train(data, train_until="2026-01-01", trials=0, tracking_uri=tracking, config=config), tracking


@pytest.fixture(scope="module")
def cluster():
    with two_workers() as client:
        yield client


def _read(env, name, top, **kwargs):
    from creatorrank.serving.manifest import read_manifest
    from creatorrank.serving.run_reader import read_run
    from creatorrank.serving.scored_run import read_scores

    path = env["runs"][name]
    return read_scores(path), read_run(read_scores(path), env["data"], read_manifest(path), top, **kwargs)


def _sorted_history(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([C.CREATOR_ID, C.AS_OF], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("name,top,waves", [("cut", 5, None), pytest.param("cut", 10_000, 1, marks=pytest.mark.slow),
                                             pytest.param("whole", 4, None, marks=pytest.mark.slow)])
def test_dask_read_run_equals_local_without_loading_the_tables(env, cluster, monkeypatch, name, top, waves):
    """Same frame (bit for bit), notes, briefs and history; with ``top`` past the cut the
    rebuilt candidates' history is read too; in waves of one shard (each pass reads its
    shard's files again) as with every shard kept. The dask run never reads the whole tables."""
    import creatorrank.data.validate as validate

    scores, local = _read(env, name, top)

    def no_whole_tables(*_, **__):
        raise AssertionError("the dask engine read the whole tables on the client")

    monkeypatch.setattr(validate, "load_market", no_whole_tables)
    monkeypatch.setattr(validate, "read_tables", no_whole_tables)
    _, dask = _read(env, name, top, engine="dask", scheduler=cluster, n_shards=3, wave_shards=waves)
    pd.testing.assert_frame_equal(dask.frame, local.frame, check_exact=True)
    pd.testing.assert_frame_equal(dask.briefs, local.briefs, check_exact=True)
    assert dask.notes == local.notes and (name == "cut") == bool(local.notes)
    pd.testing.assert_frame_equal(_sorted_history(dask.history), _sorted_history(local.history), check_exact=True)
    unlisted = local.frame[C.RANK].isna()
    assert (name == "cut") == bool(unlisted.any())
    want = local.frame[(local.frame[C.RANK] <= top) | (unlisted & (top > scores[C.RANK].max()))]
    assert len(local.history) == len(want.drop_duplicates([C.CREATOR_ID, C.AS_OF])) > 0
    assert (local.history[["posts", "invitations", "orders"]].sum() > 0).all()


def test_dask_explanation_equals_local(env, cluster):
    """The explanation of the dask reading (SHAP relative to the campaign mean over the whole
    field, a --top cut completed on the workers) equals the local one."""
    from creatorrank.serving.explain import explain
    from creatorrank.serving.scored_run import check_reproduces, rank_unlisted

    out = []
    for kwargs in ({}, {"engine": "dask", "scheduler": cluster}):
        _, run = _read(env, "cut", 8, **kwargs)
        score = check_reproduces(env["bundle"], run.frame, "model")
        out.append(explain(env["bundle"], run.frame, top=8, rank=rank_unlisted(run.frame, score), score=score))
    local, dask = out
    pd.testing.assert_frame_equal(dask.rows, local.rows, check_exact=True)
    assert local.rows[C.CAMPAIGN_ID].nunique() == 3 and (local.rows["n_candidates"] > 12).all()
    np.testing.assert_allclose(dask.contributions.to_numpy(), local.contributions.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dask.campaign_mean_contributions.to_numpy(),
                               local.campaign_mean_contributions.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dask.family_summary.iloc[:, 1:].to_numpy(), local.family_summary.iloc[:, 1:].to_numpy(),
                               rtol=0, atol=1e-12)


def test_dask_read_run_refuses_data_changed_since_scoring_as_local(env, cluster, tmp_path):
    """A cut whose full field the data no longer gives is refused the same way by both engines."""
    import shutil

    from creatorrank.core.errors import ModelError

    data = shutil.copytree(env["data"], tmp_path / "market")
    creators = pd.read_parquet(data / "creators.parquet")
    scores = pd.read_parquet(env["runs"]["cut"])
    listed = set(scores[C.CREATOR_ID])
    gone = creators[~creators[C.CREATOR_ID].isin(listed)].index[:40]  # unlisted candidates among them
    creators.drop(index=gone).to_parquet(data / "creators.parquet")
    messages = []
    for kwargs in ({}, {"engine": "dask", "scheduler": cluster}):
        with pytest.raises(ModelError, match="no longer gives") as err:
            _read({**env, "data": data}, "cut", 5, **kwargs)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.slow
def test_explain_engine_dask_writes_the_local_reports(env, cluster, tmp_path, monkeypatch):
    """``creatorrank explain --engine dask`` (a --top cut, so the field is completed on the
    workers): the same JSON documents and HTML pages as the local engine, without the client
    reading the whole tables."""
    import creatorrank.data.validate as validate
    from typer.testing import CliRunner

    from creatorrank.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["tracking"])
    args = ["explain", "--scores", str(env["runs"]["cut"]), "--data", str(env["data"]), "--top", "6"]
    local = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output

    def no_whole_tables(*_, **__):
        raise AssertionError("the dask engine read the whole tables on the client")

    monkeypatch.setattr(validate, "load_market", no_whole_tables)
    monkeypatch.setattr(validate, "read_tables", no_whole_tables)
    monkeypatch.setattr("creatorrank.serving.dask_engine.dask_client", _given(cluster))
    dask = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "dask"), "--engine", "dask", "--shards", "3"])
    assert dask.exit_code == 0, dask.output
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "dask").iterdir()) and len(names) == 8  # 3 x 2 + index x 2
    for name in names:
        a, b = (_unstamped(tmp_path / e / name) for e in ("local", "dask"))
        assert a == b, name
    assert "Rests on" in (tmp_path / "local" / names[0]).read_text()


def _unstamped(path):
    """A report file without the time it was made (the two runs are seconds apart)."""
    import json
    import re

    if path.suffix == ".html":
        return re.sub(r"report made [^<]*? UTC", "report made", path.read_text())

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "generated_at"}
        return [strip(v) for v in x] if isinstance(x, list) else x

    return strip(json.loads(path.read_text()))


def _given(client):
    """``dask_client`` answering with the test's cluster (the CLI takes an address, not a client)."""
    import contextlib

    @contextlib.contextmanager
    def connect(scheduler=None, n_workers=None):
        yield client

    return connect


def _card(env, tmp_path, name, creator, **kwargs):
    import json

    from creatorrank.serving.scorecard import scorecard

    out = scorecard(env["data"], creator, tmp_path / name / "card.html", model_uri=env["uri"],
                    tracking_uri=env["tracking"], **kwargs)
    return json.loads(out.with_suffix(".json").read_text()), out


@pytest.mark.parametrize("pick", ["veteran", pytest.param("newcomer", marks=pytest.mark.slow)])
def test_dask_score_card_equals_local(env, cluster, tmp_path, monkeypatch, pick):
    """``scorecard --engine dask``: the peers' snapshot rows, the creator's own row (a newcomer
    who joined after the card date has none in the snapshot) and the history computed on the
    shards give the local card, without the client reading the whole tables."""
    import creatorrank.data.validate as validate

    creators = pd.read_parquet(env["data"] / "creators.parquet").sort_values(C.JOINED_AT, kind="stable")
    row = creators.iloc[len(creators) // 3] if pick == "veteran" else creators.iloc[-1]
    kwargs = {"as_of": row[C.JOINED_AT] - pd.Timedelta(days=1)} if pick == "newcomer" else {}
    local, _ = _card(env, tmp_path, "local", str(row[C.CREATOR_ID]), **kwargs)

    def no_whole_tables(*_, **__):
        raise AssertionError("the dask engine read the whole tables on the client")

    monkeypatch.setattr(validate, "load_market", no_whole_tables)
    monkeypatch.setattr(validate, "read_tables", no_whole_tables)
    dask, page = _card(env, tmp_path, "dask", str(row[C.CREATOR_ID]), engine="dask", scheduler=cluster, n_shards=3,
                       **kwargs)
    assert _unstamped(page) == _unstamped(tmp_path / "local" / "card.html")
    assert _strip_stamp(dask) == _strip_stamp(local)
    assert "Rests on" in page.read_text() or pick == "newcomer"


def _strip_stamp(doc):
    if isinstance(doc, dict):
        return {k: _strip_stamp(v) for k, v in doc.items() if k != "generated_at"}
    return [_strip_stamp(v) for v in doc] if isinstance(doc, list) else doc


def test_cluster_options_need_the_dask_engine(tmp_path):
    from typer.testing import CliRunner

    from creatorrank.cli import app

    for command in (["explain", "--scores", str(tmp_path / "s.parquet"), "--out", str(tmp_path / "r")],
                    ["scorecard", "--creator", "c1", "--out", str(tmp_path / "card.html")]):
        res = CliRunner().invoke(app, [*command, "--data", str(tmp_path), "--scheduler", "tcp://x:8786"])
        assert res.exit_code == 2 and "need --engine dask" in res.output, res.output
        res = CliRunner().invoke(app, [*command, "--data", str(tmp_path), "--engine", "spark"])
        assert res.exit_code == 2 and "local or dask" in res.output, res.output
