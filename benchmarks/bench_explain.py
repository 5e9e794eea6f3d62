"""Explanation speed (`creatorrank explain`): top 100 creators of 100 campaigns, and SHAP costs.

Measures, and prints as JSON:

* ``report``: ``explain_campaigns`` end to end for the top ``--top`` creators of ``--briefs``
  campaigns whose every eligible creator was scored (the campaign means need them all):
  load, feature rebuild, SHAP, text, HTML and JSON. Target <= 60 s on 2 cores. Stage
  seconds show where the time goes.
* ``shap``: on the same matrix (the explained creators' features), the seconds of
  ``shap.TreeExplainer`` (which for LightGBM calls ``pred_contrib``), of LightGBM's
  ``pred_contrib``, and of this project's :class:`~creatorrank.serving.explain.BatchTreeShap`
  (used for the campaign means over every candidate), with their largest disagreement; and
  the batch engine's seconds over every candidate row, with ``pred_contrib``'s cost for
  those rows extrapolated from its per-row cost.
* ``warm_snapshot``: the top ``--top`` of ``--warm-briefs`` briefs of one as-of explained with
  the market's snapshot (:func:`warm_explain`): features from the raw tables against the
  snapshot path, fresh and warm, then ``explain`` itself.

Setup (not timed): a market of ``--creators`` x ``--campaigns`` (the suite's S scale by
default), a model trained without tuning, the latest ``--briefs`` campaigns scored. A
``--workdir`` keeps them for reruns.

Usage::

    python -m benchmarks.bench_explain [--creators 10000] [--campaigns 2500] [--briefs 100] [--top 100]
                                       [--threads 2] [--warm-briefs 10] [--reps 3] [--skip-report]
                                       [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0


def _log(msg: str) -> None:
    print(f"[bench_explain] {msg}", file=sys.stderr, flush=True)


def setup(work: Path, creators: int, campaigns: int, briefs: int, threads: int) -> dict:
    """Market, model and scores in ``work`` (reused when present)."""
    import pandas as pd

    from creatorrank.core import constants as C
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.serving.score import score
    from creatorrank.training.commands import train
    from creatorrank.training.config import TrainingConfig

    market = work / "market"
    tracking = f"sqlite:///{(work / 'mlflow.db').as_posix()}"
    if not (market / "creators.parquet").is_file():
        t = time.perf_counter()
        write_market(generate_market(creators, campaigns, 0), market)
        _log(f"market of {creators:,} creators, {campaigns:,} campaigns in {time.perf_counter() - t:.0f}s")
    stamp = work / "model.json"
    if not stamp.is_file():
        t = time.perf_counter()
        config = TrainingConfig()
        config.lightgbm.num_threads = threads
        res = train(market, train_until="2026-01-01", trials=0, tracking_uri=tracking, config=config)
        stamp.write_text(json.dumps({"uri": f"models:/{C.REGISTERED_MODEL}/{res.model_version}"}))
        _log(f"model trained in {time.perf_counter() - t:.0f}s")
    uri = json.loads(stamp.read_text())["uri"]
    scores = work / f"scores-{briefs}.parquet"
    if not scores.is_file():
        t = time.perf_counter()
        ids = pd.read_parquet(market / "campaigns.parquet").sort_values(C.CREATED_AT)[C.CAMPAIGN_ID].tail(briefs)
        score(market, uri, scores, campaign_ids=list(ids), tracking_uri=tracking)
        _log(f"{briefs} campaigns scored in {time.perf_counter() - t:.0f}s")
    return {"market": market, "tracking": tracking, "uri": uri, "scores": scores}


def time_report(env: dict, work: Path, top: int) -> dict:
    """``explain_campaigns`` end to end."""
    from creatorrank.serving.report import explain_campaigns

    timings: dict = {}
    t0 = time.perf_counter()
    pages = explain_campaigns(env["scores"], env["market"], work / "reports", top=top, tracking_uri=env["tracking"],
                              timings=timings)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "target_s": TARGET_S, "met": seconds <= TARGET_S, "pages": len(pages),
            "top": top, **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in timings.items()}}


def time_shap(env: dict, top: int, threads: int) -> dict:
    """shap vs pred_contrib vs the batch engine on the explained creators' matrix; batch on every row."""
    import numpy as np

    from creatorrank.core import constants as C
    from creatorrank.serving.explain import BatchTreeShap, shap_values, tree_contributions
    from creatorrank.serving.scored_run import campaign_briefs, read_scores, rebuild_features
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.serving.score import load_model

    bundle = load_model(env["uri"], env["tracking"])
    scores = read_scores(env["scores"])
    tables = load_clean_tables(env["market"])
    frame = rebuild_features(tables, scores, campaign_briefs(scores, tables))
    X_all = bundle.encode(frame).to_numpy(np.float64)
    X = X_all[frame[C.RANK].to_numpy() <= top]
    booster = bundle.booster

    t = time.perf_counter()
    phi_shap, _ = shap_values(booster, X)
    s_shap = time.perf_counter() - t
    t = time.perf_counter()
    contrib = tree_contributions(booster, X, threads)
    s_lgb = time.perf_counter() - t
    t = time.perf_counter()
    engine = BatchTreeShap(booster)
    phi_batch = engine.shap_values(X)
    s_batch = time.perf_counter() - t
    t = time.perf_counter()
    engine.shap_values(X_all)
    s_batch_all = time.perf_counter() - t
    return {
        "rows": int(len(X)), "features": int(X.shape[1]), "trees": int(booster.num_trees()),
        "shap_tree_explainer_s": round(s_shap, 3),
        "lightgbm_pred_contrib_s": round(s_lgb, 3),
        "batch_treeshap_s": round(s_batch, 3),
        "shap_vs_pred_contrib_max_abs": float(np.abs(phi_shap - contrib[:, :-1]).max()),
        "batch_vs_pred_contrib_max_abs": float(np.abs(phi_batch - contrib[:, :-1]).max()),
        "all_candidates": {
            "rows": int(len(X_all)),
            "batch_treeshap_s": round(s_batch_all, 3),
            "pred_contrib_s_extrapolated": round(s_lgb / max(len(X), 1) * len(X_all), 1),
        },
        "threads": threads,
    }


def warm_explain(env: dict, n_briefs: int = 10, top: int = 100, reps: int = 3) -> dict:
    """Explain the top ``top`` of ``n_briefs`` briefs of one as-of with the market's snapshot.

    Every eligible creator of each brief is a candidate (the campaign means need them all).
    Seconds (medians of ``reps``): the features of every candidate from the raw tables (one
    ``build_features`` over all rows, what the feature rebuild of ``explain`` costs without
    snapshots), through :func:`creatorrank.serving.snapshots.brief_features` on a fresh
    prepared market (preparation, the first brief filling the as-of's snapshot, the other
    briefs adding their own features) and on a market whose snapshot is already warm (as
    after scoring those briefs in the same process); then :func:`explain` itself (batch
    TreeSHAP over every candidate and the checks) and a bare ``Booster.predict`` of the same
    matrix for scale. ``identical``: the snapshot path's features equal the raw tables' bit for bit.
    """
    import numpy as np
    import pandas as pd

    from benchmarks.bench_score import CATEGORIES, COUNTRIES
    from creatorrank.core import constants as C
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.features.engine import build_features
    from creatorrank.serving.candidates import CandidateFinder, EligibilityRules
    from creatorrank.serving.explain import explain
    from creatorrank.serving.score import load_model
    from creatorrank.serving.shards import make_shards
    from creatorrank.serving.snapshots import brief_features, market_for

    bundle = load_model(env["uri"], env["tracking"])
    tables = load_clean_tables(env["market"])
    when = pd.Timestamp(tables[C.POSTS][C.POSTED_AT].max()).floor("D")
    finder = CandidateFinder(tables, EligibilityRules())
    briefs = [pd.Series({C.CAMPAIGN_ID: f"warm-{i:02d}", C.CATEGORY: CATEGORIES[i % len(CATEGORIES)],
                         C.COUNTRY: COUNTRIES[i % len(COUNTRIES)], C.BUDGET_USD: 5_000.0 + 500 * i}) for i in range(n_briefs)]
    plan = [(b, when, finder.find(b, when, "eligible")) for b in briefs]
    decisions = pd.concat([s.decisions for s in make_shards(plan, 10**9)], ignore_index=True)

    def timed(fn):
        out = []
        for _ in range(max(1, reps)):
            t = time.perf_counter()
            value = fn()
            out.append(time.perf_counter() - t)
        return value, float(np.median(out))

    raw, raw_s = timed(lambda: build_features(tables, decisions))
    _, fresh_s = timed(lambda: brief_features(tables, decisions))
    market = market_for(tables, [when])
    brief_features(market, decisions)  # fills the as-of's snapshot
    frame, warm_s = timed(lambda: brief_features(market, decisions))
    identical = bool(raw.equals(frame))
    expl, explain_s = timed(lambda: explain(bundle, frame, top=top))
    X = bundle.encode_matrix(frame)
    _, bare_s = timed(lambda: bundle.booster.predict(X, num_threads=bundle.num_threads))
    return {
        "briefs": n_briefs, "top": top, "candidates": int(len(decisions)), "explained": int(len(expl.rows)),
        "trees": int(bundle.booster.num_trees()), "reps": reps,
        "features_raw_tables_s": round(raw_s, 3),
        "features_fresh_market_s": round(fresh_s, 3),
        "features_warm_snapshot_s": round(warm_s, 3),
        "explain_s": round(explain_s, 3),
        "warm_total_s": round(warm_s + explain_s, 3),
        "bare_predict_s": round(bare_s, 4),
        "identical": identical,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=2_500)
    parser.add_argument("--briefs", type=int, default=100)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warm-briefs", type=int, default=10,
                        help="briefs of one as-of for the warm-snapshot explain measurement (0: skip it)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each warm-snapshot timing (medians)")
    parser.add_argument("--skip-report", action="store_true", help="skip the end-to-end report and SHAP stages")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep market, model and scores here.")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-explain-")
        work = Path(tmp.name)
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    try:
        env = setup(work, args.creators, args.campaigns, args.briefs, args.threads)
        result = {"stage": "explain", "creators": args.creators, "campaigns": args.briefs}
        if not args.skip_report:
            result.update(report=time_report(env, work, args.top), shap=time_shap(env, args.top, args.threads))
        if args.warm_briefs:
            result["warm_snapshot"] = warm_explain(env, args.warm_briefs, args.top, args.reps)
            _log(json.dumps(result["warm_snapshot"]))
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
