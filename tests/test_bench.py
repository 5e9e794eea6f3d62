"""Smoke run of the benchmark harness at a tiny scale, so it cannot rot."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.model


def test_bench_harness_smoke(tmp_path):
    from benchmarks.run import STAGES, main

    md = tmp_path / "BENCHMARKS.md"
    # An earlier run's scale and ratios stay beside the new scale (how `make bench-l` adds L).
    earlier = {"date": "2026-01-01", "machine": {}, "side_by_side": {"kept": {"error": "earlier"}},
               "scales": {"L": {"date": "2026-01-01", "generate": {"reps": 0, "errors": ["earlier run"]}}}}
    (tmp_path / "results.json").write_text(json.dumps(earlier))
    assert main(["--scales", "XS", "--reps", "1", "--out", str(tmp_path), "--threads", "1",
                 "--no-side-by-side", "--markdown", str(md)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    xs = results["scales"]["XS"]
    for stage in STAGES:
        assert xs[stage]["errors"] == [], (stage, xs[stage]["errors"])
        assert xs[stage]["median_s"] > 0 and xs[stage]["peak_rss_mb"] > 0
    assert xs["features"]["last"]["rows"] == xs["generate"]["last"]["invitations"]
    assert xs["explain"]["last"]["pages"] >= 1
    assert "ndcg@10" in next(iter(xs["quality"]["metrics"].values()))
    text = md.read_text()
    assert "| train |" in text and results["machine"]["cores"] >= 1
    assert results["scales"]["L"] == earlier["scales"]["L"] and results["side_by_side"] == earlier["side_by_side"]
    assert xs["date"] == results["date"]
    assert text.index("## Scale XS") < text.index("## Scale L") and "| generate | error: earlier run |" in text


@pytest.mark.slow
def test_dask_stages_read_the_market_on_worker_processes(tmp_path):
    """Scale L's stages (`--engine dask`) on a tiny market: each runs and reports the workers' memory."""
    import subprocess
    import sys

    from benchmarks.run import ROOT

    def stage(name: str) -> dict:
        cmd = [sys.executable, "-m", "benchmarks.stage", name, "--work", str(tmp_path), "--creators", "400",
               "--campaigns", "100", "--briefs", "2", "--top", "5", "--threads", "2", "--engine", "dask",
               "--worker-memory", "1GB"]
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout.strip().splitlines()[-1])

    generated = stage("generate")
    assert stage("validate")["rejected_rows"] == 0
    features = stage("features")
    assert features["rows"] == generated["invitations"] and len(features["worker_peak_rss_mb"]) == 2
    assert stage("train")["model_version"] == 1
    scored = stage("score")
    assert scored["rows_written"] == 10 and all(mb > 0 for mb in scored["worker_peak_rss_mb"])
    explained = stage("explain")  # its own 10 briefs, scored then explained on the workers
    assert explained["briefs"] == 10 and explained["pages"] >= 10 and len(explained["worker_peak_rss_mb"]) == 2
