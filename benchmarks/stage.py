"""One benchmark stage in its own process, so its peak memory is its own.

``python -m benchmarks.stage STAGE --work DIR [--creators N --campaigns M --seed S]`` runs
STAGE on the market in ``DIR/market`` (``generate`` writes it) and prints one JSON line:
``{"stage", "seconds", "peak_rss_mb", ...stage figures}``. Stages pass state through files
in DIR: the market, ``mlflow.db``, ``briefs.parquet``, ``scores.parquet``. ``--engine dask``
(scale L) runs them through the Dask engine on a LocalCluster of worker processes with a memory
limit each, and adds the workers' peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

STAGES = ("generate", "validate", "features", "train", "score", "explain")
EXPLAIN_BRIEFS = 10  # issue 15: explain the top 100 of 10 briefs at scale L


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _tracking(work: Path) -> str:
    return f"sqlite:///{work / 'mlflow.db'}"


def _config(threads: int):
    from creatorrank.training.config import TrainingConfig

    config = TrainingConfig()
    config.lightgbm.num_threads = threads
    return config


def _write_briefs(campaigns, briefs: int, work: Path, name: str = "briefs.parquet") -> Path:
    """The latest ``briefs`` campaigns as briefs under new ids (``bench-<id>``), in ``work/name``."""
    from creatorrank.core import constants as C
    from creatorrank.core.io import write_frame

    camps = campaigns.sort_values(C.CREATED_AT).tail(briefs)
    return write_frame(camps.assign(**{C.CAMPAIGN_ID: "bench-" + camps[C.CAMPAIGN_ID].astype(str)}),
                       work / name)


def run_stage(stage: str, work: Path, creators: int, campaigns: int, seed: int, briefs: int, top: int,
              threads: int, engine: str = "local", worker_memory: str = "8GB") -> dict:
    """Run one stage; return its wall seconds (setup excluded) and figures.

    ``engine="dask"`` (scale L): the stages run through the Dask engine on a LocalCluster of
    ``threads`` single-threaded worker processes with ``worker_memory`` each (:func:`run_dask_stage`).
    """
    market = work / "market"
    if engine == "dask" and stage != "generate":
        return run_dask_stage(stage, work, briefs, top, threads, worker_memory)
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
        from creatorrank.serving.score import score

        brief_path = _write_briefs(tables[C.CAMPAIGNS], briefs, work)
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


def run_dask_stage(stage: str, work: Path, briefs: int, top: int, workers: int, worker_memory: str) -> dict:
    """One stage through the Dask engine: workers read their own shards of the data folder.

    The client never loads the bulk tables where the engine allows it (validate is chunked,
    features and the training matrix are read by the workers). Returns the workers' peak RSS
    beside the stage's own (the client's).
    """
    from distributed import Client, LocalCluster

    market = work / "market"
    if stage == "validate":  # bounded memory, no cluster needed
        from creatorrank.data.validate import validate_folder

        t0 = time.perf_counter()
        report = validate_folder(market)
        return {"seconds": time.perf_counter() - t0, "rejected_rows": int(len(report.rejects))}
    # 16 shards at L on 2 workers: one shard read and prepared holds ~3.6 GB (8 shards overran 8 GB workers);
    # the partition by shard in scratch is reused by every later stage
    shards = {"n_shards": 8 * workers, "wave_shards": workers, "scratch": work / "shard-files"}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=worker_memory,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        if stage == "features":
            from creatorrank.features.sharded import training_matrix_from_folder

            from creatorrank.features.sharded import open_folder

            folder = open_folder(market, scratch=shards["scratch"], wave_shards=shards["wave_shards"])
            matrix = training_matrix_from_folder(folder, client, n_shards=shards["n_shards"])
            out = {"rows": len(matrix), "columns": matrix.shape[1]}
        elif stage == "train":
            from creatorrank.training.commands import train

            config = _config(1)
            config.dask.n_shards, config.dask.wave_shards = shards["n_shards"], shards["wave_shards"]
            config.dask.scratch = str(shards["scratch"])
            # 10M invitations on 2 cores: one prior weight and no bags (each costs a full fit; BENCHMARKS.md says so)
            config.value.ranker_prior_weights, config.uncertainty.n_bags = [0.75], 0
            result = train(market, trials=0, tracking_uri=_tracking(work), config=config, engine="dask",
                           scheduler=client)
            out = {"model_version": result.model_version}
        elif stage == "score":
            import pandas as pd

            from creatorrank.core import constants as C
            from creatorrank.data.load import read_table
            from creatorrank.serving.score import score

            brief_path = _write_briefs(read_table(market, C.CAMPAIGNS), briefs, work)
            score(market, "models:/creator-ranker@challenger", work / "scores.parquet", briefs=brief_path,
                  top=top, tracking_uri=_tracking(work), engine="dask", scheduler=client, **shards)
            out = {"briefs": briefs, "rows_written": len(pd.read_parquet(work / "scores.parquet")), "top": top}
        elif stage == "explain":  # issue 15: the top `top` of EXPLAIN_BRIEFS briefs, scored for it first (not timed)
            from creatorrank.core import constants as C
            from creatorrank.data.load import read_table
            from creatorrank.serving.report import explain_campaigns
            from creatorrank.serving.score import score

            scores = work / "explain-scores.parquet"
            brief_path = _write_briefs(read_table(market, C.CAMPAIGNS), EXPLAIN_BRIEFS, work, "explain-briefs.parquet")
            score(market, "models:/creator-ranker@challenger", scores, briefs=brief_path, top=top,
                  tracking_uri=_tracking(work), engine="dask", scheduler=client, **shards)
            t0 = time.perf_counter()
            pages = explain_campaigns(scores, market, work / "reports", top=top, tracking_uri=_tracking(work),
                                      engine="dask", scheduler=client, **shards)
            out = {"pages": len(pages), "top": top, "briefs": EXPLAIN_BRIEFS}
        else:
            raise SystemExit(f"unknown stage {stage!r} (known: {', '.join(STAGES)})")
        seconds = time.perf_counter() - t0
        worker_mb = sorted(client.run(_peak_rss_mb).values())
    return {"seconds": seconds, **out, "workers": workers, "worker_memory_limit": worker_memory,
            "worker_peak_rss_mb": worker_mb}


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
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="dask: through the Dask engine on a LocalCluster of --threads worker processes")
    parser.add_argument("--worker-memory", default="8GB", help="memory limit per Dask worker")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    args.work.mkdir(parents=True, exist_ok=True)
    out = run_stage(args.stage, args.work, args.creators, args.campaigns, args.seed, args.briefs, args.top,
                    args.threads, args.engine, args.worker_memory)
    print(json.dumps({"stage": args.stage, **out, "peak_rss_mb": _peak_rss_mb()}))


if __name__ == "__main__":
    main()
