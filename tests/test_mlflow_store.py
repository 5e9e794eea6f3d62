"""The local MLflow store survives concurrent first use, kills and half-made leftovers.

Processes are real: two trainings started together on a fresh store, a store creation
killed with SIGKILL, a run killed with SIGKILL or SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from creatorrank.core.errors import ModelError

pytestmark = pytest.mark.model

TESTS = Path(__file__).resolve().parent


def _uri(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def _python(code: str, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store created once by :func:`open_store` (creation takes seconds)."""
    from creatorrank.training.tracking import inspect_store, open_store

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    open_store(_uri(db))
    assert inspect_store(db) == ("ok", "")
    return db


@pytest.fixture
def store(tmp_path, template) -> Path:
    import shutil

    return Path(shutil.copyfile(template, tmp_path / "mlflow.db"))


# ---------------------------------------------------------------- concurrent use

_TRAIN = """
    import json, sys
    from fast_training import FAST
    from creatorrank.training.commands import train
    from creatorrank.training.config import config_from_dict
    r = train(sys.argv[1], train_until="2026-01-01", trials=0, tracking_uri=sys.argv[2], config=config_from_dict(FAST))
    print(json.dumps({"version": r.model_version, "run": r.run_id}))
"""


@pytest.fixture(scope="module")
def small_market(tmp_path_factory) -> Path:
    from creatorrank.data.generate import generate_market, write_market

    folder = tmp_path_factory.mktemp("small-market")
    write_market(generate_market(300, 80, 0), folder)
    return folder


def test_two_trainings_at_once_on_a_fresh_store_both_register(small_market, tmp_path):
    """Before the store lock, 3 of 3 tries crashed in alembic migrations (issue 12)."""
    from mlflow.tracking import MlflowClient

    db = tmp_path / "fresh" / "mlflow.db"  # neither the file nor its folder exists yet
    procs = [_python(_TRAIN, str(small_market), _uri(db)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert sorted(r["version"] for r in results) == [1, 2]
    client = MlflowClient(_uri(db), registry_uri=_uri(db))
    versions = {int(v.version): v.run_id for v in client.search_model_versions("name = 'creator-ranker'")}
    assert versions == {r["version"]: r["run"] for r in results}
    assert all(client.get_run(r["run"]).info.status == "FINISHED" for r in results)
    assert int(client.get_model_version_by_alias("creator-ranker", "challenger").version) in (1, 2)
    assert not list(db.parent.glob(".mlflow.db.*"))  # no temporary store left behind


# ------------------------------------------------------------- killed creation

_OPEN = """
    import sys
    from creatorrank.training.tracking import open_store
    open_store(sys.argv[1])
"""


def test_store_creation_killed_midway_leaves_no_half_made_store(tmp_path):
    from creatorrank.training.tracking import inspect_store, open_store

    db = tmp_path / "mlflow.db"
    proc = _python(_OPEN, _uri(db))
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".mlflow.db.*.creating")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    time.sleep(0.5)  # well into the migrations
    proc.kill()
    proc.communicate()
    assert not db.exists()  # the half-made file was never renamed into place
    assert open_store(_uri(db)) is True
    assert inspect_store(db) == ("ok", "")
    assert not list(tmp_path.glob(".mlflow.db.*"))  # the killed creator's temporary file is gone


# ------------------------------------------------------------ half-made stores


def _half_made(db: Path, with_run: bool) -> None:
    """What an interrupted MLflow migration left: a leftover alembic temporary table."""
    if with_run:
        from mlflow.tracking import MlflowClient

        MlflowClient(_uri(db)).create_run("0")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE _alembic_tmp_trace_tags (x INTEGER)")
    con.commit()
    con.close()


def test_half_made_store_without_runs_is_recognised(store):
    from creatorrank.training.tracking import inspect_store

    _half_made(store, with_run=False)
    state, detail = inspect_store(store)
    assert state == "broken-empty" and "_alembic_tmp_trace_tags" in detail


@pytest.mark.slow
def test_half_made_store_without_runs_is_rebuilt(store):
    from creatorrank.training.tracking import inspect_store, open_store

    _half_made(store, with_run=False)
    open_store(_uri(store))
    assert inspect_store(store) == ("ok", "")
    assert len(list(store.parent.glob("mlflow.db.broken-*"))) == 1  # kept aside, not deleted


def test_half_made_store_with_runs_is_reported_in_one_line(store):
    from creatorrank.training.tracking import open_store

    _half_made(store, with_run=True)
    with pytest.raises(ModelError, match="half-made .*holds 1 record") as info:
        open_store(_uri(store))
    assert str(store) in str(info.value) and "\n" not in str(info.value)
    assert store.exists()  # a store holding runs is never touched


def test_older_schema_is_reported_with_the_upgrade_command(store):
    from mlflow.tracking import MlflowClient

    from creatorrank.training.tracking import open_store

    MlflowClient(_uri(store)).create_run("0")
    con = sqlite3.connect(store)
    con.execute("UPDATE alembic_version SET version_num = '451aebb31d03'")  # MLflow 1.x's first migration
    con.commit()
    con.close()
    with pytest.raises(ModelError, match="older than .*mlflow db upgrade"):
        open_store(_uri(store))


def test_garbage_file_is_not_a_store(tmp_path):
    from creatorrank.training.tracking import open_store

    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ModelError, match="not an MLflow store"):
        open_store(_uri(db))
    assert db.read_bytes().startswith(b"this is not sqlite")


# ---------------------------------------------------------------- killed runs

_VICTIM = """
    import sys, time
    import lightgbm as lgb, mlflow, numpy as np, pandas as pd
    from creatorrank.training.mlflow_io import log_bundle
    from creatorrank.training.model import RankerBundle
    from creatorrank.training.tracking import ensure_experiment, tracked_run, use_tracking
    client = use_tracking(sys.argv[1])
    exp = ensure_experiment(client, "victims")
    rng = np.random.default_rng(0)
    X, y = rng.random((200, 2)), rng.integers(0, 3, 200)
    booster = lgb.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "num_threads": 1},
                        lgb.Dataset(X, y, group=[20] * 10), num_boost_round=3)
    bundle = RankerBundle(booster, ["a", "b"], {}, "test", {"thresholds_usd": [0.0]})
    with tracked_run(exp, "victim") as run:
        with mlflow.start_run(run_name="trial", nested=True) as child:
            info = log_bundle(bundle, pd.DataFrame(X, columns=["a", "b"]), sys.argv[2])
            print(run.info.run_id, child.info.run_id, info.model_id, flush=True)
            time.sleep(300)
"""


def _start_victim(store: Path, tmp_path: Path) -> tuple[subprocess.Popen, list[str]]:
    work = tmp_path / "work"
    work.mkdir()
    proc = _python(_VICTIM, _uri(store), str(work))
    line = proc.stdout.readline()
    assert line, proc.communicate()[1][-3000:]
    return proc, line.split()


def test_run_killed_with_sigkill_is_marked_failed_on_next_open(store, tmp_path):
    from mlflow.entities import LoggedModelStatus
    from mlflow.tracking import MlflowClient

    from creatorrank.training.tracking import TAG_RECOVERED, TAG_UNREGISTERED, recover_dead_runs

    proc, (run_id, child_id, model_id) = _start_victim(store, tmp_path)
    client = MlflowClient(_uri(store), registry_uri=_uri(store))
    assert recover_dead_runs(client) == []  # alive: left alone
    assert client.get_run(run_id).info.status == "RUNNING"
    proc.kill()
    proc.communicate()
    assert sorted(recover_dead_runs(client)) == sorted([run_id, child_id])
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and client.get_run(child_id).info.status == "FAILED"
    assert "died" in run.data.tags[TAG_RECOVERED]
    assert client.get_run(child_id).data.tags[TAG_UNREGISTERED] == model_id  # the logged, unregistered model
    assert client.get_logged_model(model_id).status == LoggedModelStatus.FAILED
    assert recover_dead_runs(client) == []  # once


@pytest.mark.slow
def test_run_stopped_with_sigterm_ends_killed(store, tmp_path):
    from mlflow.tracking import MlflowClient

    proc, (run_id, child_id, _) = _start_victim(store, tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    client = MlflowClient(_uri(store))
    assert client.get_run(run_id).info.status == "KILLED"
    assert client.get_run(child_id).info.status == "FAILED"


# ------------------------------------------------------------------ registering


def test_incomplete_artifacts_are_never_registered(store, tmp_path):
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from creatorrank.training.mlflow_io import log_bundle
    from creatorrank.training.model import BOOSTER_FILE, RankerBundle
    from creatorrank.training.registry import register
    from creatorrank.training.tracking import ensure_experiment, tracked_run, use_tracking

    client = use_tracking(_uri(store))
    rng = np.random.default_rng(0)
    X, y = rng.random((200, 2)), rng.integers(0, 3, 200)
    booster = lgb.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "num_threads": 1},
                        lgb.Dataset(X, y, group=[20] * 10), num_boost_round=3)
    bundle = RankerBundle(booster, ["a", "b"], {}, "test", {"thresholds_usd": [0.0]})
    with pytest.raises(ModelError, match="damaged model file"), \
            tracked_run(ensure_experiment(client, "e"), "r") as run:
        info = log_bundle(bundle, pd.DataFrame(X, columns=["a", "b"]), tmp_path / "work")
        stored = next((store.parent / "mlartifacts").rglob(BOOSTER_FILE))  # the artifact store's copy
        stored.write_bytes(stored.read_bytes()[:1000])  # an upload cut short
        register(client, info.model_uri, "m", alias="challenger", bundle=bundle)
    assert client.search_registered_models() == []  # nothing registered, no alias moved
    assert MlflowClient(_uri(store)).get_run(run.info.run_id).info.status == "FAILED"
