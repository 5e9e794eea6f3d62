"""Training through Dask against local training (issue 15; docs/DASK.md "Training on a cluster").

Measures, and prints as JSON: the training matrix built locally and on Dask (2 creator shards;
whether they are equal), then the ranker fitted by the local learner (early stopping) and by
``lightgbm.dask.DaskLGBMRanker`` (the rounds the local fit trained, and ``--rounds``), each with
its time, best iteration and test NDCG@10. LightGBM uses one thread per worker and one for the
local learner, on an in-process LocalCluster of ``--workers`` single-thread workers.

Usage::

    python -m benchmarks.bench_dask_train [--creators 20000] [--campaigns 5000] [--seed 7]
                                          [--workers 2] [--rounds 300] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _test_ndcg(data, booster) -> float:
    from creatorrank.training.metrics import group_codes_from_sizes, ndcg_per_query

    codes = group_codes_from_sizes(data["test"].group)
    scores = booster.predict(data.X("test").to_numpy(np.float64))
    return round(float(np.nanmean(ndcg_per_query(codes, data.y("test"), scores, 10))), 4)


def run(creators: int, campaigns: int, seed: int, workers: int, rounds: int, workdir: Path) -> dict:
    """Generate (once per workdir), build both matrices, fit both learners; the figures as a dict."""
    import distributed

    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.features.engine import training_matrix
    from creatorrank.training import dask_train as DT
    from creatorrank.training.config import config_from_dict
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.train import fit_ranker

    out: dict = {"creators": creators, "campaigns": campaigns, "seed": seed, "workers": workers}
    folder = workdir / f"market-{creators}-{campaigns}-{seed}"
    if not folder.exists():
        write_market(generate_market(creators, campaigns, seed), folder)
    tables = load_clean_tables(folder)
    t = time.perf_counter()
    matrix = training_matrix(tables)
    out["matrix_local_s"] = round(time.perf_counter() - t, 1)
    lgb = {"num_threads": 1, "num_boost_round": rounds, "early_stopping_rounds": 50}
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        t = time.perf_counter()
        sharded = DT.assemble_matrix(folder, client, n_shards=workers)
        out["matrix_dask_s"] = round(time.perf_counter() - t, 1)
        out["matrix_equal"] = bool(sharded.equals(matrix))
        del sharded
        cfg = config_from_dict({"lightgbm": lgb})
        data = build_dataset(tables, cfg, None, matrix=matrix)
        out["data"] = data.summary()
        t = time.perf_counter()
        fit = fit_ranker(data, cfg)
        trained = len(fit.evals["validation"]["ndcg@10"])
        out["local"] = {"fit_s": round(time.perf_counter() - t, 1), "rounds_trained": trained,
                        "best_iteration": fit.best_iteration, "test_ndcg10": _test_ndcg(data, fit.booster)}
        for n in sorted({trained, rounds}):
            cfg_d = config_from_dict({"lightgbm": lgb, "dask": {"learner": "dask", "num_boost_round": n}})
            t = time.perf_counter()
            got = DT.fit_ranker_dask(data, cfg_d, client)
            out[f"dask_{n}"] = {"fit_s": round(time.perf_counter() - t, 1), "best_iteration": got.best_iteration,
                                "test_ndcg10": _test_ndcg(data, got.booster)}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=20_000)
    parser.add_argument("--campaigns", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-dask-train-"))
    print(json.dumps(run(args.creators, args.campaigns, args.seed, args.workers, args.rounds, workdir), indent=1))


if __name__ == "__main__":
    main()
