"""Exploration over rounds on a generated market: expected GMV captured with and without it (issue 14).

A small market is generated; its last ``rounds x briefs`` campaigns become the simulation's briefs,
in time order, ``briefs`` per round. Every policy starts from the same labelled data: the market's
own invitations of the last ``history`` campaigns complete before the first brief (a young
marketplace: little labelled history, so what the policies learn from their own invitations matters).
Round r, per policy:

1. train a lambdarank ranker (defaults, no tuning, ``num_rounds`` trees, no early stopping) on the
   policy's labelled rows; with exploration also ``n_bags`` bagged rankers for ``score_sd``
   (:mod:`creatorrank.training.uncertainty`);
2. rank the eligible pool of the round's briefs (every creator of the brief's country who joined
   before it; point-in-time features at the brief's ``created_at``,
   :func:`creatorrank.features.engine.build_features`);
3. invite the top list: the best ``top`` by score (``greedy``), or the best ``top - k`` plus ``k``
   Thompson-sampled places (``explore``, :func:`creatorrank.serving.explore.explore`);
4. observe one outcome per invited pair: Bernoulli(p_answer x p_accept x p_deliver) x
   gmv_if_delivered x (1 - refund rate) x lognormal noise (mean 1), from the generator's factors
   (:func:`creatorrank.data.generate.pair_expected_gmv`). The draw of a pair is fixed before the
   rounds (common random numbers): both policies see the same outcome for the same pair;
5. add the invited rows, labelled (the project's grading), to the policy's data; next round.

Graded per round: ``capture@top``, the expected net GMV of the invited list over that of the
oracle's best list (:class:`creatorrank.training.eligible.PairTruth`), the mean over the round's
briefs; also the observed GMV, how many invitees were creators the policy had never labelled, and
the exposure of creator groups in the invited lists against their merit (:mod:`creatorrank.training.exposure`).
Simplification: the simulated invitations add labelled rows only; the creators' features come from
the market's own history (its orders and invitations), as a scoring run sees them.

Usage::

    python -m benchmarks.bench_explore [--creators 3000] [--campaigns 800] [--rounds 4] [--briefs 12]
        [--top 10] [--explore 3] [--bags 5] [--trees 80] [--history 60] [--seed 0] [--threads 2]
        [--out bench-out/explore.json]

``--repeats N`` runs N markets (seeds ``seed .. seed+N-1``) and adds the mean per round and the
paired difference (explore - greedy) with its standard error over markets. Prints a table per
market and one JSON line (the aggregate); writes every figure as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

POLICIES = ("greedy", "explore")
NOISE_SIGMA = 0.5  # lognormal spread of an observed GMV around its expectation


def make_market(folder: Path, creators: int, campaigns: int, seed: int):
    """Generate, write and load a market; return its tables and pair truth."""
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_market
    from creatorrank.training.eligible import PairTruth

    write_market(generate_market(creators, campaigns, seed), folder)
    tables, _ = load_market(folder)
    return tables, PairTruth.from_market(folder, tables)


def pair_factors(truth, pool: pd.DataFrame) -> dict[str, np.ndarray]:
    """The generator's factors of every pool pair (as :meth:`PairTruth.expected_gmv` computes them)."""
    from creatorrank.core import constants as C
    from creatorrank.data.generate import pair_expected_gmv

    cd = truth.campaign_days
    camp = cd.index.get_indexer(pool[C.CAMPAIGN_ID].astype(str))
    who = truth.creator_ids.get_indexer(pool[C.CREATOR_ID].astype(str))
    if (camp < 0).any() or (who < 0).any():
        raise ValueError("pool pair without truth")
    return pair_expected_gmv(truth.latent, who, cd["category"].to_numpy()[camp], cd["created_day"].to_numpy()[camp],
                             cd["starts_day"].to_numpy()[camp])


def draw_outcomes(factors: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """One observed net GMV per pair (see the module docstring), fixed for every policy."""
    from creatorrank.data.generate import REFUND_RATE

    rng = np.random.default_rng([seed, 1414])
    p = factors["p_answer"] * factors["p_accept"] * factors["p_deliver"]
    n = len(p)
    sold = rng.uniform(size=n) < p
    noise = rng.lognormal(-0.5 * NOISE_SIGMA ** 2, NOISE_SIGMA, size=n)
    return np.where(sold, factors["gmv_if_delivered"] * (1.0 - REFUND_RATE) * noise, 0.0)


def ranking_data(frame: pd.DataFrame, features: list[str], categorical: list[str]):
    """A train-only RankingData of labelled rows (campaigns contiguous, in time order)."""
    from creatorrank.core import constants as C
    from creatorrank.training.dataset import RankingData, RankingSplit
    from creatorrank.training.encoding import fit_categories

    frame = frame.sort_values([C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID], kind="stable").reset_index(drop=True)
    group = frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True).size().to_numpy()
    cats = fit_categories(frame, categorical)
    return RankingData({"train": RankingSplit("train", frame, group)}, features, categorical, cats,
                       pd.Timestamp(frame[C.AS_OF].max()))


def fit_main(data, config, trees: int):
    """One lambdarank booster on all rows, ``trees`` rounds; returns (booster, params)."""
    import lightgbm as lgb

    from creatorrank.training.train import lgb_params

    params = lgb_params(config, data)
    for key in ("metric", "eval_at"):
        params.pop(key, None)
    ds = lgb.Dataset(data.X("train").to_numpy(np.float64), label=data.y("train"), group=data["train"].group,
                     feature_name=list(data.features), categorical_feature=list(data.categorical),
                     params={k: params[k] for k in ("max_bin", "seed", "verbosity", "num_threads") if k in params})
    return lgb.train(params, ds, num_boost_round=trees), params


def capture(codes: np.ndarray, gain: np.ndarray, chosen: np.ndarray, top: int) -> np.ndarray:
    """Per brief: expected GMV of the chosen rows over that of the best ``top`` rows."""
    out = []
    for c in np.unique(codes):
        g = gain[codes == c]
        best = np.sort(g)[::-1][:top].sum()
        out.append(g[chosen[codes == c]].sum() / best if best > 0 else np.nan)
    return np.asarray(out)


def simulate(creators: int = 3000, campaigns: int = 800, rounds: int = 4, briefs: int = 12, top: int = 10,
             explore_k: int = 3, n_bags: int = 5, trees: int = 80, draws: int = 500, seed: int = 0,
             threads: int = 2, history: int | None = 60, folder: Path | None = None) -> dict:
    """Run the simulation (see the module docstring); return JSON-ready figures."""
    from creatorrank.core import constants as C
    from creatorrank.features.engine import prepare, training_matrix, warm_peer_tables
    from creatorrank.serving.explore import explore
    from creatorrank.training.config import TrainingConfig
    from creatorrank.training.dataset import categorical_features, grade_labels, labelled_matrix
    from creatorrank.training.eligible import eligible_pool, pool_features
    from creatorrank.training.encoding import encode_features
    from creatorrank.training.exposure import exposure
    from creatorrank.training.uncertainty import fit_bags, score_spread

    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tables, truth = make_market(Path(folder or tmp), creators, campaigns, seed)
    seconds["market"] = time.perf_counter() - t0
    cfg = TrainingConfig()
    cfg.lightgbm.num_threads = threads
    features = cfg.feature_list()
    categorical = categorical_features(features)

    t = time.perf_counter()
    camps = tables[C.CAMPAIGNS].sort_values([C.CREATED_AT, C.CAMPAIGN_ID], kind="stable").reset_index(drop=True)
    sim = camps.iloc[len(camps) - rounds * briefs:].reset_index(drop=True)
    start = pd.Timestamp(sim[C.CREATED_AT].min())
    base, _ = labelled_matrix(tables, cfg.label, start, cfg.label_settle_days, training_matrix(tables))
    if history is not None:  # only the latest ``history`` complete campaigns are known
        order = base.groupby(C.CAMPAIGN_ID, observed=True)[C.AS_OF].first().sort_values(kind="stable")
        base = base[base[C.CAMPAIGN_ID].isin(order.index[-int(history):])].reset_index(drop=True)
    prepared = prepare(tables, until=pd.Timestamp(sim[C.CREATED_AT].max()) + pd.Timedelta(microseconds=1))
    warm_peer_tables(prepared, sim[C.CREATED_AT].tolist())
    pool = eligible_pool(tables[C.CREATORS], sim)
    feats = pool_features(prepared, pool).reset_index(drop=True)
    gain = np.nan_to_num(truth.expected_gmv(pool[C.CAMPAIGN_ID], pool[C.CREATOR_ID]), nan=0.0)
    observed = draw_outcomes(pair_factors(truth, pool), seed)
    brief_round = pd.Series(np.repeat(np.arange(rounds), briefs), index=sim[C.CAMPAIGN_ID].astype(str))
    row_round = brief_round.reindex(feats[C.CAMPAIGN_ID].astype(str)).to_numpy()
    seconds["prepare"] = time.perf_counter() - t

    keep = [C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, *features, C.OUTCOME_GMV, C.LABEL]
    labelled = {p: base[keep].copy() for p in POLICIES}
    result = {p: [] for p in POLICIES}
    t = time.perf_counter()
    for r in range(rounds):
        rows = np.flatnonzero(row_round == r)
        part = feats.iloc[rows].reset_index(drop=True)
        codes = pd.factorize(part[C.CAMPAIGN_ID])[0]
        for policy in POLICIES:
            data = ranking_data(labelled[policy], features, categorical)
            booster, params = fit_main(data, cfg, trees)
            X = encode_features(part, features, data.categories).to_numpy(np.float64)
            frame = pd.DataFrame({C.CAMPAIGN_ID: part[C.CAMPAIGN_ID].to_numpy(), C.CREATOR_ID: part[C.CREATOR_ID].to_numpy(),
                                  C.SCORE: booster.predict(X, num_threads=threads), "row": np.arange(len(part))})
            if policy == "explore":
                bags = fit_bags(data, params, trees, n_bags=n_bags, seed=seed + r)
                frame[C.SCORE_SD] = score_spread(bags, X, frame[C.CAMPAIGN_ID].to_numpy(), threads)
                listed = explore(frame, explore_k, seed + r, draws=draws, top=top, cut=True)
            else:
                frame[C.SCORE_SD] = 0.0
                listed = explore(frame, 0, seed, draws=1, top=top, cut=True)
            chosen = np.zeros(len(part), dtype=bool)
            chosen[listed["row"].to_numpy()] = True
            position = np.full(len(part), np.inf)
            position[listed["row"].to_numpy()] = listed[C.LIST_POSITION].to_numpy(dtype=np.float64)
            seen = exposure(part, position, top, merit=gain[rows])  # the invited lists; merit = expected GMV
            known = set(labelled[policy][C.CREATOR_ID].astype(str))
            new_rows = part[chosen].assign(**{C.OUTCOME_GMV: observed[rows][chosen]})
            new_rows[C.LABEL] = grade_labels(new_rows[C.OUTCOME_GMV], cfg.label)
            result[policy].append({
                "round": r, "briefs": int(len(np.unique(codes))),
                "capture": float(np.nanmean(capture(codes, gain[rows], chosen, top))),
                "expected_gmv": float(gain[rows][chosen].sum()),
                "observed_gmv": float(new_rows[C.OUTCOME_GMV].sum()),
                "new_creators": int((~new_rows[C.CREATOR_ID].astype(str).isin(known)).sum()),
                "explored": int(listed[C.EXPLORED].sum()),
                "labelled_rows": int(len(labelled[policy])),
                "exposure": seen.to_dict(),
            })
            labelled[policy] = pd.concat([labelled[policy], new_rows[keep]], ignore_index=True)
    seconds["rounds"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    oracle_gmv = [float(sum(np.sort(gain[(row_round == r) & (feats[C.CAMPAIGN_ID] == c).to_numpy()])[::-1][:top].sum()
                            for c in sim[C.CAMPAIGN_ID].iloc[r * briefs:(r + 1) * briefs])) for r in range(rounds)]
    return {"stage": "explore", "creators": creators, "campaigns": campaigns, "rounds": rounds,
            "briefs_per_round": briefs, "top": top, "explore_k": explore_k, "n_bags": n_bags, "trees": trees,
            "draws": draws, "seed": seed, "history_campaigns": history, "pool_rows": int(len(pool)), "initial_labelled_rows": int(len(base)),
            "oracle_expected_gmv": oracle_gmv, "policies": result,
            "mean_capture": {p: float(np.mean([x["capture"] for x in result[p]])) for p in POLICIES},
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}


def table(out: dict) -> str:
    """The per-round figures as a plain-text table."""
    lines = [f"{'round':>5}  {'greedy capture':>14}  {'explore capture':>15}  {'greedy obs GMV':>14}  "
             f"{'explore obs GMV':>15}  {'new (g/e)':>9}"]
    for g, e in zip(out["policies"]["greedy"], out["policies"]["explore"]):
        lines.append(f"{g['round']:>5}  {g['capture']:>14.3f}  {e['capture']:>15.3f}  {g['observed_gmv']:>14,.0f}  "
                     f"{e['observed_gmv']:>15,.0f}  {g['new_creators']:>4}/{e['new_creators']:<4}")
    m = out["mean_capture"]
    lines.append(f"{'mean':>5}  {m['greedy']:>14.3f}  {m['explore']:>15.3f}")
    return "\n".join(lines)


def aggregate(runs: list[dict]) -> dict:
    """Per round over repeated runs (market seeds): mean capture per policy and the paired difference."""
    rounds = runs[0]["rounds"]
    out = []
    for r in range(rounds):
        g = np.array([run["policies"]["greedy"][r]["capture"] for run in runs])
        e = np.array([run["policies"]["explore"][r]["capture"] for run in runs])
        d = e - g
        out.append({"round": r, "greedy": float(g.mean()), "explore": float(e.mean()), "difference": float(d.mean()),
                    "difference_se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")})
    g_all = np.array([run["mean_capture"]["greedy"] for run in runs])
    e_all = np.array([run["mean_capture"]["explore"] for run in runs])
    d = e_all - g_all
    return {"seeds": [run["seed"] for run in runs], "per_round": out,
            "mean": {"greedy": float(g_all.mean()), "explore": float(e_all.mean()), "difference": float(d.mean()),
                     "difference_se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")}}


def aggregate_table(agg: dict) -> str:
    lines = [f"over {len(agg['seeds'])} market seeds {agg['seeds']}: mean capture per round",
             f"{'round':>5}  {'greedy':>7}  {'explore':>7}  {'explore - greedy':>17}"]
    for row in agg["per_round"] + [{"round": "all", **agg["mean"]}]:
        lines.append(f"{row['round']:>5}  {row['greedy']:>7.3f}  {row['explore']:>7.3f}  "
                     f"{row['difference']:>+8.3f} ± {row['difference_se']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=3000)
    parser.add_argument("--campaigns", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--briefs", type=int, default=12, help="briefs per round")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--explore", type=int, default=3)
    parser.add_argument("--bags", type=int, default=5)
    parser.add_argument("--trees", type=int, default=80)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--history", type=int, default=60, help="complete campaigns known at the start")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="markets (seeds seed, seed+1, ...)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench-out/explore.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    from creatorrank.core.io import check_output, write_text

    out_path = check_output(args.out, (".json",))
    runs = []
    for i in range(max(1, args.repeats)):
        runs.append(simulate(args.creators, args.campaigns, args.rounds, args.briefs, args.top, args.explore,
                             args.bags, args.trees, args.draws, args.seed + i, min(2, args.threads), args.history))
        print(f"market seed {args.seed + i}:")
        print(table(runs[-1]))
    out = {"stage": "explore", "runs": runs, "aggregate": aggregate(runs),
           "seconds": round(sum(r["seconds"]["total"] for r in runs), 2)}
    if len(runs) > 1:
        print(aggregate_table(out["aggregate"]))
    write_text(out_path, json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("stage", "aggregate", "seconds")}))


if __name__ == "__main__":
    main()
