"""Training without tuning at scale: 1M invitation rows, 60 features, 2 threads.

Target: <= 180 s for the whole fit (data split, binning, boosting with early stopping) on
2 cores. The matrix is synthetic (building a 1M-invitation market's features is benchmarked
elsewhere) but shaped like the real one: campaigns of lognormal size (median ~35, up to a
few thousand invitations), 58 numeric features of which a dozen carry signal, 2 categorical
ones, ~25% of invitations with net GMV, heavy-tailed GMV graded by the default thresholds.
It goes through the same code as ``creatorrank train``: time split, contiguous groups,
categorical encoding, ``fit_ranker`` with early stopping on validation ndcg@10, scoring and
evaluation of the test campaigns.

Prints JSON: rows, campaigns, features, seconds per stage, trees, test NDCG@10.

Measured: 56.8 s in all (fit 53.0 s, 173 trees) on two pinned cores (``taskset -c 0,1``) of an
otherwise idle 16-core host, LightGBM 4.7.0. On a 2-core machine shared with other jobs the
same run is several times slower: OpenMP threads wait on each other when a core is taken.

Usage: ``python -m benchmarks.bench_train [--rows 1000000] [--features 60] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

TARGET_S = 180.0


def synthetic_matrix(rows: int, n_features: int, seed: int = 0) -> pd.DataFrame:
    """A training-matrix-shaped frame with ``outcome_gmv`` (see module docstring)."""
    from creatorrank.core import constants as C

    rng = np.random.default_rng(seed)
    sizes = []
    total = 0
    while total < rows:
        s = int(np.clip(rng.lognormal(np.log(35), 0.9), 2, 5000))
        s = min(s, rows - total)
        sizes.append(s)
        total += s
    sizes = np.asarray(sizes)
    n_camp = len(sizes)
    camp_idx = np.repeat(np.arange(n_camp), sizes)
    n_cat = 2
    n_num = n_features - n_cat
    X = rng.standard_normal((rows, n_num)).astype(np.float64)
    X[:, 1] += 0.5 * X[:, 0]  # some correlation
    X[rng.random((rows, n_num)) < 0.05] = np.nan  # missing values
    w = np.zeros(n_num)
    w[:12] = rng.normal(0, 0.6, 12)
    signal = np.nan_to_num(X) @ w + 0.4 * np.tanh(np.nan_to_num(X[:, 2]) * np.nan_to_num(X[:, 3]))
    cats = np.array(["beauty", "food", "fashion", "tech", "home", "fitness", "games", "pets"])
    cat_a = cats[rng.integers(0, len(cats), rows)]
    cat_b = cats[rng.integers(0, len(cats), rows)]
    signal += 0.5 * (cat_a == "beauty")
    camp_effect = rng.normal(0, 0.5, n_camp)[camp_idx]
    p_sale = 1 / (1 + np.exp(-(signal - 1.2)))
    sold = rng.random(rows) < p_sale
    gmv = np.where(sold, np.exp(4.5 + 0.8 * signal + camp_effect + rng.normal(0, 0.8, rows)), 0.0)
    frame = pd.DataFrame(X, columns=[f"f{j:03d}" for j in range(n_num)])
    frame["cat_a"] = pd.array(cat_a, dtype="str")
    frame["cat_b"] = pd.array(cat_b, dtype="str")
    frame.insert(0, C.INVITATION_ID, pd.array([f"i{j:08d}" for j in range(rows)], dtype="str"))
    frame.insert(1, C.CAMPAIGN_ID, pd.array([f"k{j:06d}" for j in camp_idx], dtype="str"))
    frame.insert(2, C.AS_OF, pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(camp_idx * 30, unit="min"))
    frame[C.OUTCOME_GMV] = gmv
    return frame


def run(rows: int, n_features: int, threads: int, seed: int = 0) -> dict:
    from creatorrank.core import constants as C
    from creatorrank.training.config import TrainingConfig
    from creatorrank.training.dataset import SPLITS, RankingData, RankingSplit, assign_splits, cap_rows, grade_labels, sort_queries
    from creatorrank.training.encoding import fit_categories
    from creatorrank.training.metrics import compare_rankers
    from creatorrank.training.train import fit_ranker

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    frame = synthetic_matrix(rows, n_features, seed)
    seconds["synthesize"] = time.perf_counter() - t0

    cfg = TrainingConfig(monotone_constraints=False)  # synthetic names are not in the catalogue
    cfg.lightgbm.num_threads = threads
    features = [c for c in frame.columns if c.startswith("f") or c.startswith("cat_")]
    categorical = ["cat_a", "cat_b"]

    t = time.perf_counter()
    frame[C.LABEL] = grade_labels(frame[C.OUTCOME_GMV], cfg.label)
    created = frame.groupby(C.CAMPAIGN_ID, sort=False)[C.AS_OF].first()
    split_of = assign_splits(created, cfg.split)
    frame["split"] = frame[C.CAMPAIGN_ID].map(split_of).to_numpy()
    splits = {}
    for name in SPLITS:
        part = frame[frame["split"] == name].drop(columns="split")
        if name != "test":
            part = cap_rows(part, cfg.max_rows_per_campaign, cfg.lightgbm.seed)
        part, group = sort_queries(part)
        splits[name] = RankingSplit(name, part, group)
    data = RankingData(splits, features, categorical, fit_categories(splits["train"].frame, categorical),
                       cutoff=pd.Timestamp.now(tz="UTC"))
    seconds["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    fit = fit_ranker(data, cfg)
    seconds["fit"] = time.perf_counter() - t

    t = time.perf_counter()
    test = data["test"].frame
    scores = fit.booster.predict(data.X("test").to_numpy(np.float64), num_threads=threads)
    summary, _ = compare_rankers(test, {"model": scores, "random": np.random.default_rng(0).random(len(test))},
                                 ks=cfg.evaluation.k, label_gain=cfg.label.evaluation_gains())
    seconds["score_and_evaluate"] = time.perf_counter() - t
    total = seconds["prepare"] + seconds["fit"] + seconds["score_and_evaluate"]
    import lightgbm

    return {
        "stage": "train_no_tuning",
        "lightgbm": lightgbm.__version__,
        "rows": rows,
        "campaigns": int(sum(s.n_campaigns for s in data.splits.values())),
        "train_rows": len(data["train"]),
        "features": len(features),
        "threads": threads,
        "trees": fit.best_iteration,
        "validation_ndcg@10": round(fit.best_score, 4),
        "test_ndcg@10": round(float(summary.loc["model", "ndcg@10"]), 4),
        "random_ndcg@10": round(float(summary.loc["random", "ndcg@10"]), 4),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "total_s": round(total, 2),
        "target_s": TARGET_S,
        "met": total <= TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.rows, args.features, min(2, args.threads), args.seed), indent=2))


if __name__ == "__main__":
    main()
