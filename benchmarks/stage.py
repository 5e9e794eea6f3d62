"""One benchmark stage in its own process, so its peak memory is its own.

``python -m benchmarks.stage STAGE --work DIR [--creators N --campaigns M --seed S]`` runs
STAGE on the market in ``DIR/market`` (``generate`` writes it) and prints one JSON line:
``{"stage", "seconds", "peak_rss_mb", ...stage figures}``. Stages pass state through files
in DIR: the market, ``mlflow.db``, ``briefs.parquet``, ``scores.parquet``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

STAGES = ("generate", "validate", "features", "train", "score", "explain")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _tracking(work: Path) -> str:
    return f"sqlite:///{work / 'mlflow.db'}"


def _config(threads: int):
    from creatorrank.training.config import TrainingConfig

    config = TrainingConfig()
    config.lightgbm.num_threads = threads
    return config


def run_stage(stage: str, work: Path, creators: int, campaigns: int, seed: int, briefs: int, top: int,
              threads: int) -> dict:
    """Run one stage; return its wall seconds (setup excluded) and figures."""
    market = work / "market"
    extra: dict = {}
    if stage == "generate":
        from creatorrank.data.generate import generate_into

        t0 = time.perf_counter()  # chunk by chunk of creators above 200k (one chunk below: the same files)
        extra = generate_into(market, creators, campaigns, seed)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, **extra}

    from creatorrank.data.validate import load_market

    if stage == "validate":
        t0 = time.perf_counter()
        _, report = load_market(market)
        return {"seconds": time.perf_counter() - t0, "rejected_rows": int(len(report.rejects))}

    tables, _ = load_market(market)
    if stage == "features":
        from creatorrank.features.engine import training_matrix

        t0 = time.perf_counter()
        matrix = training_matrix(tables)
        return {"seconds": time.perf_counter() - t0, "rows": len(matrix), "columns": matrix.shape[1]}

    if stage == "train":
        from creatorrank.features.engine import training_matrix
        from creatorrank.training.commands import train
        from creatorrank.training.oracle import with_oracle

        matrix = training_matrix(tables)
        t0 = time.perf_counter()
        result = train(market, trials=0, tracking_uri=_tracking(work), config=_config(threads), matrix=matrix)
        result = with_oracle(result, market, _config(threads))  # the generated market's gap to the oracle
        seconds = time.perf_counter() - t0
        metrics = result.metrics.set_index(result.metrics.columns[0]) if "ranker" in result.metrics.columns else result.metrics
        quality = {str(idx): {k: float(v) for k, v in row.items() if isinstance(v, (int, float))}
                   for idx, row in metrics.iterrows()}
        return {"seconds": seconds, "rows": len(matrix), "model_version": result.model_version,
                "gap_closed": float(result.gap_closed), "quality": quality,
                "no_positive_campaigns": int(result.no_positive_campaigns)}

    if stage == "score":
        import pandas as pd

        from creatorrank.core import constants as C
        from creatorrank.core.io import write_frame
        from creatorrank.serving.score import score

        camps = tables[C.CAMPAIGNS].sort_values(C.CREATED_AT).tail(briefs)
        brief_path = write_frame(camps.assign(**{C.CAMPAIGN_ID: "bench-" + camps[C.CAMPAIGN_ID].astype(str)}),
                                 work / "briefs.parquet")
        t0 = time.perf_counter()
        score(market, "models:/creator-ranker@challenger", work / "scores.parquet", briefs=brief_path,
                    top=top, tracking_uri=_tracking(work))
        seconds = time.perf_counter() - t0
        rows = len(pd.read_parquet(work / "scores.parquet"))
        return {"seconds": seconds, "briefs": briefs, "rows_written": rows, "top": top}

    if stage == "explain":
        from creatorrank.serving.report import explain_campaigns

        t0 = time.perf_counter()
        pages = explain_campaigns(work / "scores.parquet", market, work / "reports", top=top,
                                  tracking_uri=_tracking(work))
        return {"seconds": time.perf_counter() - t0, "pages": len(pages), "top": top}
    raise SystemExit(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=2_500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--briefs", type=int, default=10)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.work.mkdir(parents=True, exist_ok=True)
    out = run_stage(args.stage, args.work, args.creators, args.campaigns, args.seed, args.briefs, args.top,
                    args.threads)
    print(json.dumps({"stage": args.stage, **out, "peak_rss_mb": _peak_rss_mb()}))


if __name__ == "__main__":
    main()
