"""Benchmark the point-in-time feature engine; prints one JSON object.

Measures, on a generated market (or an existing data folder):

- ``training_matrix``: wall and CPU seconds from loaded tables to the full matrix, and the
  process's peak resident memory (tables included; ``tables_rss_gb`` is what the loaded
  tables alone take);
- ``snapshot``: all creators at one time, with a campaign category;
- ``reference``: the engine against the brute-force reference on a small market (same
  decisions), the speed-up, and whether they agree.

Each measured step runs in a fresh child process so its peak memory is its own.
``--reference-only`` runs the last comparison alone (seconds, no large market).

Targets (2 cores): training matrix for 100k creators / ~10M posts / 20k campaigns within 60 s
and 6 GB; snapshot of 100k creators within 20 s.

Example::

    python benchmarks/bench_features.py --creators 100000 --campaigns 20000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child(step: str, data_dir: str, arg, queue) -> None:
    import pandas as pd

    from creatorrank.data.load import read_tables
    from creatorrank.features import engine

    tables = read_tables(data_dir)
    loaded = _rss_gb()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if step == "training_matrix":
        out = engine.training_matrix(tables)
    else:
        out = engine.snapshot(tables, pd.Timestamp(arg["as_of"]), category=arg.get("category"))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    queue.put({"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "rows": len(out), "columns": out.shape[1],
               "tables_rss_gb": round(loaded, 2), "peak_rss_gb": round(_rss_gb(), 2)})


def _measure(step: str, data_dir: str, arg=None) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(step, data_dir, arg, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _reference(creators: int, campaigns: int, seed: int) -> dict:
    import numpy as np

    from creatorrank.data.generate import generate_market
    from creatorrank.features import engine, specs
    from tests import feature_oracle as reference

    tables = generate_market(creators, campaigns, seed).tables
    matrix = engine.training_matrix(tables)  # decisions: every invitation at its campaign's creation
    decisions = matrix[["invitation_id", "campaign_id", "creator_id", "as_of", "category", "country", "budget_usd"]]
    t0 = time.perf_counter()
    fast = engine.build_features(tables, decisions)
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = reference.reference_features(tables, decisions)
    t_ref = time.perf_counter() - t0
    agree = True
    for spec in specs.CATALOGUE:
        if spec.kind == specs.NUMERIC:
            agree &= bool(np.allclose(fast[spec.name].to_numpy(float), slow[spec.name].to_numpy(float),
                                      rtol=1e-9, atol=1e-12, equal_nan=True))
        else:
            agree &= bool((fast[spec.name].astype(object).fillna("") == slow[spec.name].astype(object).fillna("")).all())
    return {"creators": creators, "campaigns": campaigns, "decisions": len(decisions),
            "engine_seconds": round(t_engine, 3), "reference_seconds": round(t_ref, 2),
            "speedup": round(t_ref / max(t_engine, 1e-9), 1), "identical": agree}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="an existing data folder (skips generating one)")
    parser.add_argument("--snapshot-at", default="2025-10-15", help="as_of of the snapshot")
    parser.add_argument("--ref-creators", type=int, default=120, help="market size of the reference comparison")
    parser.add_argument("--ref-campaigns", type=int, default=25)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--reference-only", action="store_true",
                        help="only the engine-against-reference comparison (no large market)")
    args = parser.parse_args(argv)
    if args.reference_only:
        result = {"reference": _reference(args.ref_creators, args.ref_campaigns, args.seed)}
        print(json.dumps(result, indent=2))
        return result

    # Wall seconds depend on what else runs on the machine: the load average is recorded
    # beside them, and CPU seconds (which do not) are reported too.
    result: dict = {"cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        data_dir = args.data
        if data_dir is None:
            from creatorrank.data.generate import generate_market, write_market

            t0 = time.perf_counter()
            market = generate_market(args.creators, args.campaigns, args.seed)
            result["generate_seconds"] = round(time.perf_counter() - t0, 1)
            result["rows"] = {name: len(frame) for name, frame in market.tables.items()}
            data_dir = str(Path(tmp) / "market")
            write_market(market, data_dir)
            del market
        result["training_matrix"] = _measure("training_matrix", data_dir)
        result["snapshot"] = _measure("snapshot", data_dir, {"as_of": args.snapshot_at, "category": "beauty"})
    if not args.skip_reference:
        result["reference"] = _reference(args.ref_creators, args.ref_campaigns, args.seed)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = {"training_matrix_seconds": 60, "training_matrix_peak_gb": 6, "snapshot_seconds": 20}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
