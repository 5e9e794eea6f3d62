"""Fault injection: ``generate``, ``score``, ``explain`` and ``train`` killed (SIGKILL) mid-run.

Each command runs once to completion (which also measures how long it takes), then again
killed after a seeded delay spread over that duration, then once more to completion. After
the kill there is no partial output: the target is absent, the previous complete version, or
the new complete version, never a mix; temporary names left by the killed writer are gone
after the next successful run. After a killed ``train`` the MLflow registry is consistent
(every alias points to a version whose model loads), no run is left RUNNING, and a rerun
succeeds. Seed 0 of each command runs by default; the sweep over more seeds is ``slow``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cli_invoke import cli_env, run_subprocess
from fast_training import FAST

from creatorrank.core import constants as C

pytestmark = pytest.mark.model

CREATORS, CAMPAIGNS = 300, 60
SEEDS = [0] + [pytest.param(seed, marks=pytest.mark.slow) for seed in range(1, 6)]


@dataclass
class World:
    """A generated market, a trained model in an MLflow store, and how long each command took."""

    root: Path
    env: dict
    market: Path
    config: Path
    campaigns: list[str]
    spans: dict[str, float] = field(default_factory=dict)

    @property
    def tracking_uri(self) -> str:
        return self.env["MLFLOW_TRACKING_URI"]


def timed(world: World, command: str, args: list, **kwargs):
    t0 = time.perf_counter()
    res = run_subprocess(args, kwargs.pop("env", world.env), cwd=kwargs.pop("cwd", world.root))
    world.spans[command] = time.perf_counter() - t0
    assert res.code == 0, res.err
    return res


def generate_args(out: Path, seed: int) -> list:
    return ["generate", "--out", out, "--creators", CREATORS, "--campaigns", CAMPAIGNS, "--seed", seed]


def train_args(world: World) -> list:
    return ["train", "--data", world.market, "--config", world.config, "--trials", 0]


def score_args(world: World, out: Path, top: int) -> list:
    campaigns = [a for cid in world.campaigns for a in ("--campaign", cid)]
    return ["score", "--data", world.market, "--model", "models:/creator-ranker/1", *campaigns, "--top", top,
            "--out", out]


def explain_args(world: World, scores: Path, out: Path, top: int) -> list:
    return ["explain", "--scores", scores, "--data", world.market, "--top", top, "--out", out]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("faults")
    config = root / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    w = World(root=root, env=cli_env(root), market=root / "market", config=config, campaigns=[])
    timed(w, "generate", generate_args(w.market, seed=1))
    campaigns = pd.read_parquet(w.market / f"{C.CAMPAIGNS}.parquet")
    w.campaigns = campaigns.sort_values(C.CREATED_AT)[C.CAMPAIGN_ID].astype(str).tolist()[-2:]
    timed(w, "train", train_args(w))  # on a fresh store: creating it is part of the span
    return w


@pytest.fixture(scope="module")
def scored(world) -> Path:
    """A complete scores file (top 10) and its manifest, the 'previous version' of a scores target."""
    out = world.root / "scored" / "scores.parquet"
    timed(world, "score", score_args(world, out, top=10))
    return out


@pytest.fixture(scope="module")
def reports(world, scored) -> Path:
    """A complete report folder explaining the top 2 of each campaign."""
    out = world.root / "reports"
    timed(world, "explain", explain_args(world, scored, out, top=2))
    return out


# ---------------------------------------------------------------------------- helpers


def kill_after(args: list, env: dict, cwd: Path, delay: float) -> float | None:
    """Run the CLI and SIGKILL its process group after ``delay`` s.

    Returns None when the kill hit, or how long the run took when it finished first.
    """
    with open(cwd / f"killed-{time.monotonic_ns()}.log", "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "creatorrank.cli", *map(str, args)], env=env, cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
    assert code == 0, f"{args[0]} failed without being killed (exit {code})"
    return time.perf_counter() - t0


@dataclass
class Kill:
    """Where a kill landed: the delay, whether it hit, and the target as it was just before."""

    delay: float
    killed: bool
    before: dict | None
    attempt: int = 1


def kill_somewhere(world: World, command: str, seed: int, args: list, place, target: Path | None = None,
                   attempts: int = 3) -> Kill:
    """SIGKILL ``command`` at a seeded fraction of its measured run time.

    Run times vary with the machine's load: when the run finished before the kill, the next
    attempt aims at the same fraction of the time that run took (its complete output is then
    the previous version the killed run must not damage). ``place(attempt)`` gives the
    environment and working folder of each attempt.
    """
    fraction = random.Random(f"{command}-{seed}").uniform(0.05, 0.9)
    delay = fraction * world.spans[command]
    for attempt in range(1, attempts + 1):
        env, cwd = place(attempt)
        before = tree(target) if target is not None else None
        took = kill_after(args, env, cwd, delay)
        if took is None:
            return Kill(delay, True, before, attempt)
        delay = fraction * took * 0.9
    return Kill(delay, False, before, attempts)


def record(world: World, command: str, seed: int, kill: Kill, outcome: str) -> None:
    """Print what the kill hit (``pytest -s`` or ``-rP`` shows it): a sweep's coverage."""
    print(f"{command} seed {seed}: span {world.spans[command]:.1f} s, SIGKILL after {kill.delay:.1f} s "
          f"({'killed' if kill.killed else 'finished first'}, attempt {kill.attempt}), left {outcome}")


def in_folder(world: World, folder: Path):
    """``place`` for :func:`kill_somewhere`: every attempt with the shared store, in ``folder``."""
    return lambda _attempt: (world.env, folder)


def tree(path: Path) -> dict[str, str] | None:
    """Content hash of every file under ``path`` (or of the file itself); None when absent."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)) if p != path else p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files}


def temp_inside(target: Path) -> list[str]:
    """Temporary files inside a target folder: a folder swapped in whole has none."""
    return [p.name for p in target.rglob("*") if p.name.endswith((".tmp", ".old"))] if target.is_dir() else []


def temp_names(target: Path) -> list[str]:
    """Temporary names of a writer beside ``target`` (``.NAME.PID.*``) or inside it."""
    return [p.name for p in target.parent.glob(f".{target.name}.*")] + temp_inside(target)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- generate


def assert_whole_market(folder: Path, seed: int) -> None:
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{t}.parquet" for t in C.TABLES} | {"truth"}, names
    assert {p.name for p in (folder / "truth").iterdir()} == {
        "invitation_truth.parquet", "creator_traits.parquet", "params.json"}
    for table in C.TABLES:
        pd.read_parquet(folder / f"{table}.parquet")
    assert json.loads((folder / "truth" / "params.json").read_text())["seed"] == seed


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_generate_leaves_the_old_market_or_the_new_one(world, seed, tmp_path):
    here = in_folder(world, tmp_path)
    target = tmp_path / "market"
    if seed % 2 == 0:  # even seeds: a complete older market is there; odd: nothing yet
        shutil.copytree(world.market, target)
    kill = kill_somewhere(world, "generate", seed, generate_args(target, seed=2), here, target)
    before, after = kill.before, tree(target)
    if after is not None and after != before:
        assert_whole_market(target, seed=2)
    assert temp_inside(target) == []

    res = run_subprocess(generate_args(target, seed=2), world.env, cwd=tmp_path)
    assert res.code == 0, res.err
    assert_whole_market(target, seed=2)
    assert temp_names(target) == []
    assert after in (before, tree(target)), "the killed run left a mix of two markets"
    record(world, "generate", seed, kill, "absent" if after is None else "old" if after == before else "new")


# ---------------------------------------------------------------------------- score


def manifest_of(scores: Path) -> Path:
    return scores.with_name(scores.name + ".manifest.json")


def assert_scores_pair(scores: Path, rows: set[int]) -> None:
    """A readable scores file of an expected size whose manifest (when there) describes it."""
    frame = pd.read_parquet(scores)
    assert len(frame) in rows, len(frame)
    manifest = manifest_of(scores)
    if manifest.exists():
        assert json.loads(manifest.read_text())["scores_sha256"] == sha256(scores), \
            "scores file and its manifest are of different runs"


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_score_leaves_the_old_scores_or_the_new_ones(world, scored, seed, tmp_path):
    here = in_folder(world, tmp_path)
    target = tmp_path / "scores.parquet"
    if seed % 2 == 0:
        shutil.copy(scored, target)
        shutil.copy(manifest_of(scored), manifest_of(target))
    kill = kill_somewhere(world, "score", seed, score_args(world, target, top=5), here, target)
    before, after = kill.before, tree(target)
    if after is not None:
        assert_scores_pair(target, rows={5 * len(world.campaigns), 10 * len(world.campaigns)})

    res = run_subprocess(score_args(world, target, top=5), world.env, cwd=tmp_path)
    assert res.code == 0, res.err
    assert_scores_pair(target, rows={5 * len(world.campaigns)})
    assert temp_names(target) == [] and temp_names(manifest_of(target)) == []
    record(world, "score", seed, kill, "absent" if after is None else "old" if after == before else "new")


# ---------------------------------------------------------------------------- explain


def assert_whole_reports(folder: Path, tops: set[int]) -> int:
    """Every page the index lists is there, nothing else is, and all of them come from one run."""
    index = json.loads((folder / "index.json").read_text())
    listed = {name for c in index["campaigns"] for name in (c["href"], c["json"])}
    assert {p.name for p in folder.iterdir()} == listed | {"index.html", "index.json"}
    explained = {c["n_explained"] for c in index["campaigns"]}
    for c in index["campaigns"]:
        page = json.loads((folder / c["json"]).read_text())
        explained.add(page["n_explained"])
        explained.add(len(page["creators"]))
        assert page["model_version"] == index["model_version"]
        assert (folder / c["href"]).stat().st_size > 0
    assert len(explained) == 1 and explained <= tops, f"pages of two runs side by side: {explained}"
    return explained.pop()


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_explain_leaves_the_old_reports_or_the_new_ones(world, scored, reports, seed, tmp_path):
    here = in_folder(world, tmp_path)
    target = tmp_path / "reports"
    if seed % 2 == 0:
        shutil.copytree(reports, target)
    kill = kill_somewhere(world, "explain", seed, explain_args(world, scored, target, top=3), here, target)
    before, after = kill.before, tree(target)
    if after is not None:
        assert_whole_reports(target, tops={2, 3})
    assert temp_inside(target) == []

    res = run_subprocess(explain_args(world, scored, target, top=3), world.env, cwd=tmp_path)
    assert res.code == 0, res.err
    assert assert_whole_reports(target, tops={3}) == 3
    assert temp_names(target) == []
    record(world, "explain", seed, kill, "absent" if after is None else "old" if after == before else "new")


# ---------------------------------------------------------------------------- train


def assert_registry_consistent(tracking_uri: str, cwd: Path, running_ok: bool = False) -> dict[str, int]:
    """No run left RUNNING (unless ``running_ok``: right after a kill -9, before any command
    has opened the store and marked it FAILED); every alias points to a version that loads."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    from creatorrank.training.mlflow_io import load_ranker

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=1000)
    assert running_ok or not [r.info.run_id for r in runs if r.info.status == "RUNNING"], "a run is left RUNNING"
    aliases = {a: int(v) for a, v in client.get_registered_model(C.REGISTERED_MODEL).aliases.items()}
    old = Path.cwd()
    os.chdir(cwd)
    try:
        for alias in aliases:
            load_ranker(f"models:/{C.REGISTERED_MODEL}@{alias}", tracking_uri)
    finally:
        os.chdir(old)
    return aliases


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_train_leaves_a_usable_registry(world, seed, tmp_path):
    """Even seeds kill a training on a fresh store (creating the store is the most fragile
    part; each attempt gets its own); odd seeds on the shared store that holds a model."""
    fresh = seed % 2 == 0

    def place(attempt: int):
        if not fresh:
            return world.env, world.root
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir(exist_ok=True)
        return cli_env(folder), folder

    kill = kill_somewhere(world, "train", seed, train_args(world), place)
    env, cwd = place(kill.attempt)  # the store the kill hit
    if not fresh:  # the kill did not break what was there
        assert "challenger" in assert_registry_consistent(env["MLFLOW_TRACKING_URI"], cwd, running_ok=True)

    res = run_subprocess(train_args(world), env, cwd=cwd)
    assert res.code == 0, res.err
    version = int(res.out.split("(version ")[1].split(")")[0])
    aliases = assert_registry_consistent(env["MLFLOW_TRACKING_URI"], cwd)
    assert aliases["challenger"] == version
    record(world, "train", seed, kill, "a fresh store" if fresh else "a store with models")

