"""Smoke run of the benchmark harness at a tiny scale, so it cannot rot."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.model


def test_bench_harness_smoke(tmp_path):
    from benchmarks.run import STAGES, main

    md = tmp_path / "BENCHMARKS.md"
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
