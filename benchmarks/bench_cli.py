"""How long `creatorrank --help` takes: heavy libraries must stay out of start-up.

Target: well under a second. Prints JSON: median and max wall seconds over N runs, and the
heavy modules (pandas, lightgbm, mlflow, shap, optuna, duckdb) that start-up imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("pandas", "numpy", "lightgbm", "mlflow", "shap", "optuna", "duckdb", "sklearn", "matplotlib")


def measure(runs: int = 5) -> dict:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "creatorrank.cli", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, creatorrank.cli; print(' '.join(sorted(sys.modules)))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return {
        "stage": "cli_help",
        "median_s": statistics.median(times),
        "max_s": max(times),
        "target_s": 1.0,
        "met": statistics.median(times) < 1.0,
        "heavy_imported": [m for m in HEAVY if m in probe],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(measure(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
