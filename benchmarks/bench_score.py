"""Batch scoring speed and memory (`creatorrank score`).

Measures, and prints as JSON:

* ``throughput``: 100k creators x 10 briefs (every active creator of every country ranked for
  every brief, ~1M rows) end to end: load + validate, candidates, features, predict, rank,
  write. Target <= 60 s on 2 cores.
* ``overhead``: that run's wall time over a bare ``Booster.predict`` on the very matrices the
  run fed the model (captured during the run), as a ratio; the per-stage seconds show where
  the rest goes.
* ``warm_snapshot``: 100 briefs of one as-of on one prepared market (the throughput market,
  or ``--warm-market``): per brief after the first, features from the as-of's snapshot plus
  the ranker's predict, against a bare ``Booster.predict`` of the same matrix (goal <= 2x),
  and the same brief with every feature recomputed (:func:`warm_snapshot`); for the benchmark's
  model and a larger one (:func:`larger_bundle`), medians of ``--reps`` repetitions.
* ``memory``: peak RSS of a separate process scoring one brief over a 1M-creator market
  (target <= 4 GB). The market is generated and written by another process first, so its
  generation does not count.

The model is trained (no tuning) on a small market of its own: scoring cost does not depend
on which market the model learnt from.

Usage::

    python -m benchmarks.bench_score [--creators 100000] [--briefs 10] [--big-creators 1000000]
                                     [--skip-big] [--warm-briefs 100] [--warm-market DIR] [--warm-only]
                                     [--reps 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

END = "2026-01-01"
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "ID")
CATEGORIES = ("beauty", "fashion", "food", "tech", "home", "fitness", "gaming", "pets")


def _log(msg: str) -> None:
    print(f"[bench_score] {msg}", file=sys.stderr, flush=True)


def train_model(work: Path) -> str:
    """Train a quick model on a small market; return the tracking URI (model is @champion)."""
    from mlflow.tracking import MlflowClient

    from creatorrank.core import constants as C
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.training.commands import train
    from creatorrank.training.config import config_from_dict

    tracking = f"sqlite:///{(work / 'mlflow.db').as_posix()}"
    data = write_market(generate_market(1_000, 150, 1, posts_per_creator=40.0), work / "train_market")
    cfg = config_from_dict({"lightgbm": {"num_threads": 2, "num_boost_round": 100},
                            "evaluation": {"shap_rows": 0}, "tuning": {"trials": 0}})
    res = train(data, train_until=END, trials=0, tracking_uri=tracking, config=cfg)
    MlflowClient(tracking_uri=tracking, registry_uri=tracking).set_registered_model_alias(
        C.REGISTERED_MODEL, C.CHAMPION, str(res.model_version))
    return tracking


LARGER_TREES = 100  # trees of the larger model of :func:`warm_snapshot` (the benchmark's keeps ~13)


def larger_bundle(work: Path, bundle, trees: int = LARGER_TREES):
    """The benchmark's model refitted with exactly ``trees`` trees (no early stopping), in memory.

    Same features, encodings and LightGBM parameters as ``bundle``, fitted on the training
    market of :func:`train_model`: a model whose prediction costs several times the
    benchmark's, to see how the fixed costs of scoring weigh against a larger booster.
    """
    import dataclasses

    import lightgbm as lgb
    import pandas as pd

    from creatorrank.core import constants as C
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.training.config import LabelConfig
    from creatorrank.training.dataset import labelled_matrix

    tables = load_clean_tables(work / "train_market")
    frame, _ = labelled_matrix(tables, LabelConfig(), pd.Timestamp(END, tz="UTC"))
    frame = frame.sort_values([C.CAMPAIGN_ID, C.CREATOR_ID], kind="stable").reset_index(drop=True)
    features = list(bundle.features)
    params = {k: v for k, v in bundle.booster.params.items() if k not in ("num_iterations", "early_stopping_round")}
    params.update(objective="lambdarank", verbosity=-1)
    data = lgb.Dataset(bundle.encode_matrix(frame), frame[C.LABEL].to_numpy(), feature_name=features,
                       group=frame.groupby(C.CAMPAIGN_ID, sort=False).size().to_numpy(),
                       categorical_feature=[features.index(c) for c in bundle.categories if c in features])
    booster = lgb.train(params, data, num_boost_round=int(trees))
    return dataclasses.replace(bundle, booster=booster, value=bundle.value, bags=bundle.bags)


def write_briefs(path: Path, n: int) -> Path:
    """``n`` new briefs created in the last month of the market, countries and categories rotating."""
    import pandas as pd

    created = pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=30)
    rows = []
    for i in range(n):
        c = created + pd.Timedelta(days=2 * i)
        rows.append({
            "campaign_id": f"bench-{i:03d}", "brand_id": f"brand-{i % 3}",
            "category": CATEGORIES[i % len(CATEGORIES)], "country": COUNTRIES[i % len(COUNTRIES)],
            "created_at": c, "starts_at": c + pd.Timedelta(days=7), "ends_at": c + pd.Timedelta(days=37),
            "budget_usd": 10_000.0 + 1_000 * i,
        })
    pd.DataFrame(rows).to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return path


def generate(out: Path, creators: int, posts_per_creator: float) -> dict:
    """Generate and write a market; returns sizes and seconds."""
    from creatorrank.data.generate import generate_market, write_market

    t = time.perf_counter()
    market = generate_market(creators, 20, 0, posts_per_creator=posts_per_creator)
    write_market(market, out)
    return {"creators": creators, "posts": len(market.tables["posts"]), "orders": len(market.tables["orders"]),
            "generate_s": round(time.perf_counter() - t, 1)}


def throughput(work: Path, tracking: str, creators: int, n_briefs: int, posts_per_creator: float,
               chunk_size: int) -> dict:
    """Score ``n_briefs`` briefs over ``creators`` creators; capture the model matrices on the way."""
    import numpy as np

    import creatorrank.serving.score as score_mod

    market = work / f"market_{creators}"
    sizes = generate(market, creators, posts_per_creator)
    _log(f"market {sizes}")
    briefs = write_briefs(work / "briefs.csv", n_briefs)

    matrices: list[np.ndarray] = []
    real_load = score_mod.load_model

    def capturing_load(uri, tracking_uri=None):
        bundle = real_load(uri, tracking_uri)

        def predict(frame):  # RankerBundle.predict, keeping the matrix it feeds the booster
            X = bundle.encode(frame).to_numpy(dtype=np.float64)
            matrices.append(X)
            return np.asarray(bundle.booster.predict(X, num_threads=bundle.num_threads), dtype=np.float64)

        bundle.predict = predict
        return bundle

    score_mod.load_model = capturing_load
    load_before = os.getloadavg()[0]
    try:
        t, cpu = time.perf_counter(), time.process_time()
        result = score_mod.score(market, "models:/creator-ranker@champion", work / "scores.parquet",
                                 briefs=briefs, same_country=False, tracking_uri=tracking, chunk_size=chunk_size)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    finally:
        score_mod.load_model = real_load
    bundle = real_load("models:/creator-ranker@champion", tracking)
    X = np.concatenate(matrices)
    bare = []
    for _ in range(3):
        t = time.perf_counter()
        bundle.booster.predict(X, num_threads=bundle.num_threads)
        bare.append(time.perf_counter() - t)
    bare_s = min(bare)
    model_s = result.seconds.get("model", 0.0)
    return {
        "stage": "score_throughput",
        **sizes,
        "briefs": n_briefs,
        "rows_scored": result.candidates,
        "features": X.shape[1],
        "chunk_size": chunk_size,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "load_average_before": round(load_before, 2),
        "stages_s": result.seconds,
        "rows_per_s": round(result.candidates / wall),
        "target_s": 60.0,
        "met": wall <= 60.0,
        "bare_predict_s": round(bare_s, 3),
        "overhead_ratio": round(wall / bare_s, 1),
        "overhead_ratio_without_load": round((wall - result.seconds.get("load", 0.0) - model_s) / bare_s, 1),
        "predict_threads": bundle.num_threads,
        "shards": len(matrices),
        "build_features_per_shard": per_shard_cost(market, briefs, chunk_size),
    }


def per_shard_cost(market: Path, briefs: Path, chunk_size: int) -> dict:
    """One shard's ``build_features`` on the raw tables against on the prepared market.

    On raw tables every call rebuilds the event streams and the month's peer tables; the
    scorer prepares the market once (:func:`creatorrank.serving.score.prepare_context`).
    """
    import creatorrank.serving.score as score_mod
    from creatorrank.core import constants as C
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.features.engine import build_features
    from creatorrank.serving.briefs import read_briefs
    from creatorrank.serving.candidates import CandidateFinder, EligibilityRules

    tables = load_clean_tables(market)
    brief = read_briefs(briefs).iloc[0]
    when = brief[C.CREATED_AT]
    ids = CandidateFinder(tables, EligibilityRules(same_country=False)).find(brief, when, "eligible")
    shard = next(score_mod.make_shards([(brief, when, ids)], chunk_size)).decisions
    t = time.perf_counter()
    build_features(tables, shard)
    raw_s = time.perf_counter() - t
    t = time.perf_counter()
    prepared = score_mod.prepare_context(tables, [when])
    prepare_s = time.perf_counter() - t
    t = time.perf_counter()
    build_features(prepared, shard)
    prepared_s = time.perf_counter() - t
    return {"rows": len(shard), "raw_tables_s": round(raw_s, 2), "prepare_once_s": round(prepare_s, 2),
            "prepared_s": round(prepared_s, 2)}


def warm_snapshot(market: Path, tracking: str, n_briefs: int = 100, chunk_size: int = 50_000,
                  models: dict[str, str] | None = None, reps: int = 5) -> dict:
    """``n_briefs`` briefs of one as-of scored shard by shard on one prepared market.

    The first brief fills the market's snapshot of that as-of
    (:func:`creatorrank.features.engine.materialize`); each later brief computes only its
    category, country and budget features. Per later brief: ``build_features``, the ranker's
    ``predict`` (encode + booster) and its ``encode_matrix`` alone, against a bare
    ``Booster.predict`` of the very matrix it fed the model (column-major, as the encoder
    writes it) and of a row-major copy (LightGBM's fastest layout, the stricter reference);
    and the same brief without reuse (``build_features(..., reuse=False)``: every feature
    recomputed, as before the snapshots). ``score_shard`` also runs the value model and the
    uncertainty bags when the model has them (more LightGBM predicts): reported beside, as
    ``score_shard_s``.

    Each figure is the median over the later briefs of the median of ``reps`` repetitions:
    the machine is shared, so single timings wander; ``load_avg`` records the contention.
    ``models`` maps a label to a model URI or a loaded bundle (default: the champion); every
    model is measured on the same shards, the features once.
    """
    import numpy as np
    import pandas as pd

    import creatorrank.serving.score as score_mod
    from creatorrank.core import constants as C
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.features import engine
    from creatorrank.serving.candidates import CandidateFinder, EligibilityRules

    models = models or {"benchmark": "models:/creator-ranker@champion"}
    tables = load_clean_tables(market)
    when = pd.Timestamp(tables[C.POSTS][C.POSTED_AT].max()).floor("D")
    briefs = [pd.Series({C.CAMPAIGN_ID: f"warm-{i:03d}", C.CATEGORY: CATEGORIES[i % len(CATEGORIES)],
                         C.COUNTRY: COUNTRIES[i % len(COUNTRIES)], C.BUDGET_USD: 10_000.0 + 100 * i,
                         C.CREATED_AT: when}) for i in range(n_briefs)]
    finder = CandidateFinder(tables, EligibilityRules(same_country=False))
    plan = [(b, when, finder.find(b, when, "eligible")) for b in briefs]
    t = time.perf_counter()
    context = score_mod.prepare_context(tables, [when])
    prepare_s = time.perf_counter() - t
    shards = [s.decisions for s in score_mod.make_shards(plan, chunk_size)]
    t = time.perf_counter()
    frames = [engine.build_features(context, shards[0])]  # fills the snapshot
    first_s = time.perf_counter() - t
    frames += [engine.build_features(context, dec) for dec in shards[1:]]
    later = list(range(1, len(shards))) if len(shards) > 1 else [0]
    feat_s = _median([_repeat(lambda: engine.build_features(context, shards[i]), reps) for i in later])
    one = shards[-1]
    cold_s = float(np.median([_seconds(lambda: engine.build_features(context, one, reuse=False)) for _ in range(3)]))
    out = {
        "stage": "warm_snapshot",
        "creators": len(context.creator_ids),
        "briefs": n_briefs, "shards": len(shards), "rows_per_brief": int(np.median([len(d) for d in shards])),
        "reps": reps,
        "prepare_s": round(prepare_s, 2),
        "first_brief_features_s": round(first_s, 4),
        "features_warm_s": round(feat_s, 4),
        "features_without_reuse_s": round(cold_s, 4),
        "snapshot_mb": round(engine.snapshot_bytes(context) / 2**20, 1),
        "target_ratio": 2.0,
        "models": {},
    }
    for label, model in models.items():
        bundle = score_mod.load_model(model, tracking) if isinstance(model, str) else model
        out["models"][label] = _warm_model(bundle, context, shards, frames, later, feat_s, cold_s, reps)
        out["models"][label]["uri"] = model if isinstance(model, str) else f"{label} (in memory)"
    first = out["models"][next(iter(models))]  # the first model's figures also at the top (benchmarks/run.py)
    out.update({k: first[k] for k in ("predict_s", "bare_predict_s", "per_brief_warm_s", "warm_vs_predict",
                                      "without_reuse_vs_predict", "score_shard_s", "met")})
    out["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _warm_model(bundle, context, shards, frames, later, feat_s: float, cold_s: float, reps: int) -> dict:
    """One model's figures of :func:`warm_snapshot` (seconds are per brief, medians)."""
    import numpy as np

    import creatorrank.serving.score as score_mod

    threads = bundle.num_threads
    pred, enc, bare, bare_c = [], [], [], []
    for i in later:
        frame = frames[i]
        X = bundle.encode_matrix(frame)
        Xc = np.ascontiguousarray(X)
        runs = {"pred": [], "enc": [], "bare": [], "bare_c": []}
        for _ in range(max(1, reps)):  # interleaved: a burst of contention hits all four alike
            runs["pred"].append(_seconds(lambda: bundle.predict(frame)))
            runs["enc"].append(_seconds(lambda: bundle.encode_matrix(frame)))
            runs["bare"].append(_seconds(lambda: bundle.booster.predict(X, num_threads=threads)))
            runs["bare_c"].append(_seconds(lambda: bundle.booster.predict(Xc, num_threads=threads)))
        for acc, key in ((pred, "pred"), (enc, "enc"), (bare, "bare"), (bare_c, "bare_c")):
            acc.append(_median(runs[key]))
    pred_s, enc_s, bare_s, bare_c_s = (float(np.median(x)) for x in (pred, enc, bare, bare_c))
    shard_s = _median([_repeat(lambda: score_mod.score_shard(context, bundle, shards[i]), 1) for i in later[-5:]])
    warm = feat_s + pred_s
    return {
        "trees": int(bundle.booster.num_trees()),
        "predict_threads": threads,
        "predict_s": round(pred_s, 4),
        "encode_s": round(enc_s, 4),
        "bare_predict_s": round(bare_s, 4),
        "bare_predict_row_major_s": round(bare_c_s, 4),
        "per_brief_warm_s": round(warm, 4),
        "predict_vs_bare": round(pred_s / bare_s, 2),
        "warm_vs_predict": round(warm / bare_s, 2),
        "warm_vs_row_major_predict": round(warm / bare_c_s, 2),
        "without_reuse_vs_predict": round((cold_s + pred_s) / bare_s, 2),
        "score_shard_s": round(shard_s, 4),
        "score_shard_vs_predict": round(shard_s / bare_s, 2),
        "value_model": getattr(bundle, "value", None) is not None,
        "bags": len(getattr(bundle, "bags", None) or []),
        "met": warm / bare_s <= 2.0,
    }


def _repeat(fn, reps: int) -> float:
    """Median seconds of ``reps`` calls of ``fn``."""
    return _median([_seconds(fn) for _ in range(max(1, reps))])


def _median(values) -> float:
    import numpy as np

    return float(np.median(values))


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import creatorrank.serving.score as s
work, tracking, chunk = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
r = s.score(work / "market_big", "models:/creator-ranker@champion", work / "scores_big.parquet",
            briefs=work / "briefs_big.csv", same_country=False, tracking_uri=tracking, chunk_size=chunk)
print(json.dumps({"wall_s": round(time.perf_counter() - t, 1), "rows_scored": r.candidates, "stages_s": r.seconds,
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))
"""


def memory(work: Path, tracking: str, creators: int, posts_per_creator: float, chunk_size: int) -> dict:
    """Peak RSS of a fresh process scoring one brief over ``creators`` creators."""
    code = ("import sys; from pathlib import Path; from benchmarks.bench_score import generate; "
            "import json; print(json.dumps(generate(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))))")
    gen = subprocess.run([sys.executable, "-c", code, str(work / "market_big"), str(creators), str(posts_per_creator)],
                         check=True, capture_output=True, text=True)
    sizes = json.loads(gen.stdout.strip().splitlines()[-1])
    _log(f"big market {sizes}")
    write_briefs(work / "briefs_big.csv", 1)
    run = subprocess.run([sys.executable, "-c", _CHILD, str(work), tracking, str(chunk_size)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        return {"stage": "score_memory", **sizes, "error": run.stderr.strip().splitlines()[-1:]}
    child = json.loads(run.stdout.strip().splitlines()[-1])
    return {"stage": "score_memory", **sizes, "briefs": 1, "chunk_size": chunk_size, **child,
            "target_gb": 4.0, "met": child["peak_rss_gb"] <= 4.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creators", type=int, default=100_000)
    parser.add_argument("--briefs", type=int, default=10)
    parser.add_argument("--posts-per-creator", type=float, default=40.0)
    parser.add_argument("--big-creators", type=int, default=1_000_000)
    parser.add_argument("--big-posts-per-creator", type=float, default=10.0)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--skip-big", action="store_true", help="skip the 1M-creator memory run")
    parser.add_argument("--warm-briefs", type=int, default=100,
                        help="briefs of one as-of for the warm-snapshot measurement (0: skip it)")
    parser.add_argument("--warm-market", type=Path, default=None,
                        help="market folder for the warm-snapshot measurement (default: the throughput market)")
    parser.add_argument("--warm-only", action="store_true",
                        help="only the warm-snapshot measurement (needs --warm-market; no throughput, no memory run)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each warm-snapshot timing (medians)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the markets here (default: a temp dir)")
    args = parser.parse_args()
    if args.warm_only and args.warm_market is None:
        parser.error("--warm-only needs --warm-market")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        tracking = train_model(work)
        _log(f"model trained in {time.perf_counter() - t:.1f}s")
        out = []
        if not args.warm_only:
            out.append(throughput(work, tracking, args.creators, args.briefs, args.posts_per_creator, args.chunk_size))
            _log(json.dumps(out[-1]))
        if args.warm_briefs:
            from creatorrank.serving.score import load_model

            champion = load_model("models:/creator-ranker@champion", tracking)
            models = {"benchmark": champion, "larger": larger_bundle(work, champion)}
            out.append(warm_snapshot(args.warm_market or work / f"market_{args.creators}", tracking,
                                     args.warm_briefs, args.chunk_size, models=models, reps=args.reps))
            _log(json.dumps(out[-1]))
        if not args.skip_big and not args.warm_only:
            out.append(memory(work, tracking, args.big_creators, args.big_posts_per_creator, args.chunk_size))
        print(json.dumps(out, indent=2), flush=True)


if __name__ == "__main__":
    main()
