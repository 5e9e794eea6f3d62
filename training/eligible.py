"""Eligible-pool evaluation: how well a ranking orders *every* creator a brief could invite.

Test campaigns only grade the creators brands chose to invite, mostly big and on-category ones,
so a model can look good there and still rank the rest of the pool badly. A generated market
knows every creator's latent traits, so the expected net GMV of inviting *any* creator to a
brief is known (:func:`creatorrank.data.generate.pair_expected_gmv`, read from the market folder
by :class:`PairTruth`). This module ranks whole pools with it:

- briefs: campaigns created at or after a cutoff (default: the model's hold-out start, so the
  model never trained on them), at most ``max_briefs`` spread evenly over time;
- pool of a brief: every creator of the brief's country who joined before its ``created_at``;
- features: point-in-time, at the brief's ``created_at``, as scoring computes them;
- per ranking and brief: ``capture@k``, the expected net GMV of its top k over that of the
  oracle's top k, and ``ndcg@k`` with the expected net GMV as the (linear) gain.

A creator a ranking leaves out (a missing score) counts as ranked last: after every scored
creator, the left-out ones in ascending expected GMV (the worst order), so leaving creators out
can never help a ranking. Briefs whose pool has no expected GMV are left out of the means.

Generated markets only: real data has no truth, and production commands never read it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError, InputError
from .baselines import baseline_scores

logger = logging.getLogger(__name__)

ORACLE = "oracle"
TRUTH_DIR = "truth"
DEFAULT_K = 10
DEFAULT_BRIEFS = 40
EXPECTED_SUFFIX = ", expected GMV"  # ranker name of a bundle's value-model ordering


# --------------------------------------------------------------------------- pair truth


class PairTruth:
    """Expected net GMV of any (brief, creator) pair of a generated market, read from its folder.

    Parameters
    ----------
    latent : LatentCreators
        The creators' latent traits.
    creator_ids : Index
        Creator id of each latent row.
    start : Timestamp
        The market's start (times are days since it).
    campaign_days : DataFrame
        Indexed by campaign id: ``created_day``, ``starts_day`` (exact where the generator wrote
        them) and ``category`` (index into the generator's categories).
    """

    def __init__(self, latent, creator_ids: pd.Index, start: pd.Timestamp, campaign_days: pd.DataFrame):
        self.latent = latent
        self.creator_ids = creator_ids
        self.start = start
        self.campaign_days = campaign_days

    @classmethod
    def from_market(cls, market_dir: str | os.PathLike, tables: dict[str, pd.DataFrame] | None = None) -> "PairTruth":
        """Load from a market folder: ``truth/`` (traits, invitation truth, params) and the campaigns.

        Parameters
        ----------
        market_dir : path-like
            A folder written by :func:`creatorrank.data.generate.write_market`.
        tables : dict of DataFrame, optional
            Its loaded contract tables (the campaigns are read from the folder when omitted).

        Raises
        ------
        InputError
            The folder holds no generator truth (real data) or an older one without exact times.
        """
        from ..data.generate import CATEGORIES, LatentCreators

        folder = Path(market_dir) / TRUTH_DIR
        files = [folder / n for n in ("params.json", "creator_traits.parquet", "invitation_truth.parquet")]
        absent = [str(p) for p in files if not p.is_file()]
        if absent:
            raise InputError(f"{absent[0]}: not found; pair truth exists only for generated markets")
        params = json.loads(files[0].read_text())
        start, end = pd.Timestamp(params["start"]), pd.Timestamp(params["end"])
        span = (end - start) / pd.Timedelta(days=1)
        traits = pd.read_parquet(files[1])
        try:
            latent = LatentCreators.from_traits(traits, span)
        except CreatorRankError as exc:  # an older market: say what to do in one line
            raise InputError(f"{files[1]}: {exc}") from None
        campaigns = tables[C.CAMPAIGNS] if tables is not None else _read_table(Path(market_dir), C.CAMPAIGNS)
        days = pd.DataFrame(index=pd.Index(campaigns[C.CAMPAIGN_ID].astype(str), name=C.CAMPAIGN_ID))
        days["created_day"] = _days(campaigns[C.CREATED_AT], start)
        days["starts_day"] = _days(campaigns[C.STARTS_AT], start)
        days["category"] = pd.Index(CATEGORIES).get_indexer(campaigns[C.CATEGORY].astype(str))
        inv = pd.read_parquet(files[2])
        if {"created_day", "starts_day"} <= set(inv.columns):  # the exact times, where invitations wrote them
            exact = inv.groupby(inv[C.CAMPAIGN_ID].astype(str), sort=False)[["created_day", "starts_day"]].first()
            days.loc[exact.index.intersection(days.index), ["created_day", "starts_day"]] = exact
        ids = pd.Index(traits[C.CREATOR_ID].astype(str), name=C.CREATOR_ID)
        return cls(latent, ids, start, days)

    def expected_gmv(self, campaign_ids, creator_ids, invited_day=None) -> np.ndarray:
        """Expected net GMV of inviting each creator to each campaign (row by row).

        Parameters
        ----------
        campaign_ids, creator_ids : array-like of str
            Pairs, aligned.
        invited_day : array-like of float, optional
            When each invitation is sent, in days since the market's start (dormancy is judged
            then); default: the campaign's ``created_at``.

        Returns
        -------
        ndarray of float64
            NaN for an unknown campaign or creator, or a campaign of an unknown category.
        """
        from ..data.generate import pair_expected_gmv

        camp = self.campaign_days.index.get_indexer(pd.Index(np.asarray(campaign_ids, dtype=object)).astype(str))
        who = self.creator_ids.get_indexer(pd.Index(np.asarray(creator_ids, dtype=object)).astype(str))
        cat = np.where(camp >= 0, self.campaign_days["category"].to_numpy()[camp], -1)
        ok = (camp >= 0) & (who >= 0) & (cat >= 0)
        out = np.full(len(camp), np.nan)
        if ok.any():
            cd = self.campaign_days
            invited = None if invited_day is None else np.asarray(invited_day, dtype=np.float64)[ok]
            out[ok] = pair_expected_gmv(self.latent, who[ok], cat[ok], cd["created_day"].to_numpy()[camp[ok]],
                                        cd["starts_day"].to_numpy()[camp[ok]], invited)[C.EXPECTED_GMV]
        return out


def _utc(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _days(ts: pd.Series, start: pd.Timestamp) -> np.ndarray:
    return ((pd.to_datetime(ts, utc=True) - start) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    from ..data.load import read_table

    return read_table(folder, name)  # a file or a folder of parts, coerced to the contract


# --------------------------------------------------------------------------- pools


def select_briefs(campaigns: pd.DataFrame, since: pd.Timestamp | str | None, max_briefs: int | None) -> pd.DataFrame:
    """Campaigns created at or after ``since``, ordered by (created_at, campaign_id), at most
    ``max_briefs`` of them spread evenly over that order (deterministic)."""
    camps = campaigns
    if since is not None:
        camps = camps[camps[C.CREATED_AT] >= _utc(since)]
    camps = camps.sort_values([C.CREATED_AT, C.CAMPAIGN_ID], kind="stable").reset_index(drop=True)
    if max_briefs is not None and len(camps) > max_briefs:
        pick = np.unique(np.linspace(0, len(camps) - 1, max_briefs).round().astype(np.int64))
        camps = camps.iloc[pick].reset_index(drop=True)
    return camps


def eligible_pool(creators: pd.DataFrame, briefs: pd.DataFrame) -> pd.DataFrame:
    """Every (brief, creator) pair: creators of the brief's country who joined before its created_at.

    Returns
    -------
    DataFrame
        ``campaign_id, creator_id, as_of, category, country, budget_usd``, one block per brief in
        brief order, creators by id within it (the decisions of :func:`build_features`).
    """
    cr = creators[[C.CREATOR_ID, C.COUNTRY, C.JOINED_AT]].sort_values(C.CREATOR_ID, kind="stable")
    by_country = {k: g for k, g in cr.groupby(cr[C.COUNTRY].astype(str), sort=False)}
    parts = []
    for b in briefs.itertuples(index=False):
        b = b._asdict()
        group = by_country.get(str(b[C.COUNTRY]))
        if group is None:
            continue
        ids = group.loc[group[C.JOINED_AT] < b[C.CREATED_AT], C.CREATOR_ID]
        n = len(ids)
        parts.append(pd.DataFrame({
            C.CAMPAIGN_ID: np.repeat(str(b[C.CAMPAIGN_ID]), n).astype(object),
            C.CREATOR_ID: ids.astype(str).to_numpy(dtype=object),
            C.AS_OF: pd.Series([b[C.CREATED_AT]] * n, dtype="datetime64[us, UTC]") if n else pd.Series(
                [], dtype="datetime64[us, UTC]"),
            C.CATEGORY: np.repeat(b[C.CATEGORY], n).astype(object),
            C.COUNTRY: np.repeat(b[C.COUNTRY], n).astype(object),
            C.BUDGET_USD: np.repeat(b.get(C.BUDGET_USD, np.nan), n).astype(np.float64),
        }))
    cols = [C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


# --------------------------------------------------------------------------- metrics


def _rank_worst_last(codes: np.ndarray, gain: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """0-based rank per row within its brief: by descending score (ties: row order); missing
    scores after every scored row, in ascending gain (the worst order for the ranking)."""
    s = np.asarray(scores, dtype=np.float64)
    missing = np.isnan(s)
    key1 = np.where(missing, 1, 0)
    key2 = np.where(missing, gain, -np.nan_to_num(s, nan=0.0))
    order = np.lexsort((np.arange(len(codes)), key2, key1, codes))
    sorted_codes = codes[order]
    n = len(codes)
    first = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1] if n else np.zeros(0, dtype=np.int64)
    start = np.repeat(first, np.diff(np.r_[first, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start
    return rank


def pool_metrics(codes, gain, scores, k: int = DEFAULT_K) -> tuple[np.ndarray, np.ndarray]:
    """``capture@k`` and ``ndcg@k`` (linear gain) of one ranking per brief.

    Parameters
    ----------
    codes : ndarray of int
        Brief number per row, 0..n-1.
    gain : ndarray of float
        Expected net GMV per row (NaN counts as 0).
    scores : ndarray of float
        Higher ranks first; NaN: left out (ranked last, see module docstring).
    k : int

    Returns
    -------
    capture, ndcg : ndarray
        Per brief; NaN where the pool's best top k has no expected GMV.
    """
    codes = np.asarray(codes, dtype=np.int64)
    g = np.nan_to_num(np.asarray(gain, dtype=np.float64), nan=0.0)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    rank = _rank_worst_last(codes, g, scores)
    ideal = _rank_worst_last(codes, g, g)
    top, best = rank < k, ideal < k
    got = np.bincount(codes, weights=np.where(top, g, 0.0), minlength=n_groups)
    most = np.bincount(codes, weights=np.where(best, g, 0.0), minlength=n_groups)
    dcg = np.bincount(codes, weights=np.where(top, g / np.log2(rank + 2.0), 0.0), minlength=n_groups)
    idcg = np.bincount(codes, weights=np.where(best, g / np.log2(ideal + 2.0), 0.0), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        capture = np.where(most > 0, got / np.where(most > 0, most, 1.0), np.nan)
        ndcg = np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), np.nan)
    return capture, ndcg


@dataclass
class EligibleEvaluation:
    """Rankings of whole eligible pools graded by the generator's expected net GMV.

    Attributes
    ----------
    k : int
    summary : DataFrame
        Index ``ranker``: ``capture@k`` and ``ndcg@k`` means over briefs, ``briefs`` (counted).
    per_brief : DataFrame
        ``campaign_id, ranker, pool, capture@k, ndcg@k``.
    briefs : int
        Briefs evaluated (with a positive expected GMV in the pool).
    rows : int
        (brief, creator) pairs ranked.
    since : Timestamp or None
        The cutoff the briefs were chosen from.
    seconds : dict
        Wall seconds per step (prepare, features, score, metrics).
    exposure : dict
        ``{ranker: ExposureResult}``: exposure of creator groups in each ranking's top k against
        their share of expected GMV (:mod:`.exposure`).
    """

    k: int
    summary: pd.DataFrame
    per_brief: pd.DataFrame = field(repr=False)
    briefs: int
    rows: int
    since: pd.Timestamp | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    exposure: dict = field(default_factory=dict, repr=False)

    def capture(self, ranker: str) -> float:
        """Mean ``capture@k`` of one ranker."""
        return float(self.summary.loc[ranker, f"capture@{self.k}"])

    def ndcg(self, ranker: str) -> float:
        """Mean ``ndcg@k`` of one ranker."""
        return float(self.summary.loc[ranker, f"ndcg@{self.k}"])

    def lines(self) -> list[str]:
        """One line per ranker, best capture first."""
        s = self.summary.sort_values(f"capture@{self.k}", ascending=False)
        return [f"{name:<16} capture@{self.k} {r[f'capture@{self.k}']:.4f}  ndcg@{self.k} {r[f'ndcg@{self.k}']:.4f}"
                for name, r in s.iterrows()]

    def to_dict(self) -> dict:
        """JSON-ready figures (benchmarks, MLflow)."""
        return {"k": self.k, "briefs": self.briefs, "rows": self.rows,
                "since": None if self.since is None else pd.Timestamp(self.since).isoformat(),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "rankers": {str(n): {c: float(v) for c, v in r.items()} for n, r in self.summary.iterrows()},
                "exposure": {str(n): e.to_dict() for n, e in self.exposure.items()}}


def grade_rankings(pool: pd.DataFrame, gain: np.ndarray, rankings: dict[str, np.ndarray],
                   k: int = DEFAULT_K) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grade several rankings of the same pool rows (see :func:`pool_metrics`).

    Parameters
    ----------
    pool : DataFrame
        Rows with ``campaign_id``.
    gain : ndarray
        Expected net GMV per row.
    rankings : dict
        ``{name: scores aligned with pool}``.

    Returns
    -------
    summary, per_brief : DataFrame
        See :class:`EligibleEvaluation`.
    """
    codes, uniques = pd.factorize(pool[C.CAMPAIGN_ID].astype(str), sort=False)
    codes = codes.astype(np.int64)
    size = np.bincount(codes, minlength=len(uniques))
    cap_col, ndcg_col = f"capture@{k}", f"ndcg@{k}"
    parts, rows = [], {}
    for name, scores in rankings.items():
        scores = np.asarray(scores, dtype=np.float64)
        if len(scores) != len(pool):
            raise ValueError(f"ranking {name!r} has {len(scores)} scores for {len(pool)} pool rows")
        capture, ndcg = pool_metrics(codes, gain, scores, k)
        part = pd.DataFrame({C.CAMPAIGN_ID: np.asarray(uniques, dtype=object), "ranker": name, "pool": size,
                             cap_col: capture, ndcg_col: ndcg})
        parts.append(part)
        ok = ~np.isnan(capture)
        rows[name] = {cap_col: float(np.mean(capture[ok])) if ok.any() else np.nan,
                      ndcg_col: float(np.mean(ndcg[ok])) if ok.any() else np.nan, "briefs": int(ok.sum())}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "ranker"
    per_brief = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return summary, per_brief


def pool_features(market, pool: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features of every pool row (``market``: tables or a PreparedMarket)."""
    from ..features.engine import build_features

    return build_features(market, pool)


def evaluate_eligible(
    tables: dict[str, pd.DataFrame],
    truth: PairTruth,
    models: dict[str, object],
    since: pd.Timestamp | str | None = None,
    *,
    max_briefs: int | None = DEFAULT_BRIEFS,
    k: int = DEFAULT_K,
    seed: int = 0,
    prepared=None,
    baselines: bool = True,
    shrinkage: dict[str, tuple[str, float]] | None = None,
) -> EligibleEvaluation:
    """Rank every eligible creator of later briefs with each model and baseline; grade by truth.

    Parameters
    ----------
    tables : dict of DataFrame
        The market's clean contract tables.
    truth : PairTruth
        The market's pair truth (:meth:`PairTruth.from_market`).
    models : dict
        ``{name: RankerBundle}`` (anything with ``predict(frame)``). A bundle with a value
        model is also graded ordered by its expected GMV, as ``"<name>, expected GMV"``.
    since : timestamp, optional
        Briefs are campaigns created at or after it; default: the first model's
        ``holdout_from`` (campaigns it never trained on), else every campaign.
    max_briefs : int or None
        At most this many briefs, spread evenly over time (None: all).
    k : int
    seed : int
        Seed of the random baseline.
    prepared : PreparedMarket, optional
        :func:`creatorrank.features.engine.prepare` of ``tables`` (built when omitted).
    baselines : bool
        Grade the training baselines (random, followers, engagement rate, past GMV) too.
    shrinkage : dict, optional
        ``{name: (evidence feature, k)}``: also grade the first model's scores shrunk toward each
        brief's median by that evidence (:func:`creatorrank.training.shrinkage.shrink_scores`).

    Returns
    -------
    EligibleEvaluation
        The oracle's row is the ranking by truth itself (capture 1 by construction).

    Raises
    ------
    InputError
        No brief at or after ``since``.
    """
    from ..features.engine import prepare, warm_peer_tables

    seconds: dict[str, float] = {}
    if since is None:
        since = next((m.metadata.get("holdout_from") for m in models.values()
                      if getattr(m, "metadata", {}).get("holdout_from")), None)
    since = None if since is None else _utc(since)
    briefs = select_briefs(tables[C.CAMPAIGNS], since, max_briefs)
    if briefs.empty:
        raise InputError(f"no campaign created at or after {since}: no brief to evaluate the eligible pool on")
    pool = eligible_pool(tables[C.CREATORS], briefs)
    t = time.perf_counter()
    if prepared is None:
        until = pd.Timestamp(briefs[C.CREATED_AT].max()) + pd.Timedelta(microseconds=1)
        prepared = prepare(tables, until=until)
    warm_peer_tables(prepared, briefs[C.CREATED_AT].tolist())
    seconds["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = pool_features(prepared, pool)
    seconds["features"] = time.perf_counter() - t
    t = time.perf_counter()
    gain = truth.expected_gmv(pool[C.CAMPAIGN_ID], pool[C.CREATOR_ID])
    rankings: dict[str, np.ndarray] = {name: np.asarray(m.predict(feats), dtype=np.float64)
                                       for name, m in models.items()}
    for name, m in models.items():  # the same bundle's value model, ordering by money (training/value.py)
        if getattr(m, "value", None) is not None:
            rankings[f"{name}{EXPECTED_SUFFIX}"] = m.value.predict(feats)[C.EXPECTED_GMV_USD].to_numpy(np.float64)
    if shrinkage and rankings:
        from .shrinkage import shrink_scores

        first = rankings[next(iter(models))]
        for name, (evidence, strength) in shrinkage.items():
            rankings[name] = shrink_scores(pool[C.CAMPAIGN_ID], first, feats[evidence], strength)
    if baselines:
        rankings.update(baseline_scores(feats, seed))
    rankings[ORACLE] = np.nan_to_num(gain, nan=0.0)
    seconds["score"] = time.perf_counter() - t
    t = time.perf_counter()
    summary, per_brief = grade_rankings(pool, gain, rankings, k)
    exposures = ranking_exposure(feats, gain, rankings, k)
    seconds["metrics"] = time.perf_counter() - t
    n_briefs = int(summary["briefs"].max()) if len(summary) else 0
    logger.info("eligible pool: %d brief(s), %s pairs; %s", n_briefs, f"{len(pool):,}",
                "; ".join(f"{n} {r[f'capture@{k}']:.3f}" for n, r in summary.iterrows()))
    return EligibleEvaluation(k, summary, per_brief, n_briefs, len(pool), since, seconds, exposures)


def ranking_exposure(feats: pd.DataFrame, gain: np.ndarray, rankings: dict[str, np.ndarray], k: int) -> dict:
    """Exposure of creator groups in each ranking's top k against their share of expected GMV.

    Ranks follow the evaluation's rule (:func:`_rank_worst_last`: left-out creators last).
    """
    from .exposure import exposure

    codes = pd.factorize(feats[C.CAMPAIGN_ID].astype(str), sort=False)[0].astype(np.int64)
    g = np.nan_to_num(np.asarray(gain, dtype=np.float64), nan=0.0)
    return {name: exposure(feats, _rank_worst_last(codes, g, s) + 1, k, merit=g) for name, s in rankings.items()}


def _ranker_key(name: str) -> str:
    """An MLflow-safe key for a ranker's name (``model, shrunk (orders_seen, k=30)`` -> ``model_shrunk_orders_seen_k30``)."""
    import re

    return re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z]+", "_", name.replace("=", ""))).strip("_")


def eligible_metrics(ev: EligibleEvaluation) -> dict[str, float]:
    """MLflow metrics of an evaluation: ``eligible.<ranker>.capture_at_k`` / ``ndcg_at_k``, each
    ranker's top-k ``exposure.<dimension>.<group>``, and the groups' ``merit.`` shares (once)."""
    from .tracking import metric_key

    out: dict[str, float] = {}
    for name, row in ev.summary.iterrows():
        key = _ranker_key(str(name))
        for col in (f"capture@{ev.k}", f"ndcg@{ev.k}"):
            if not pd.isna(row[col]):
                out[f"eligible.{key}.{metric_key(col)}"] = float(row[col])
    for name, result in ev.exposure.items():
        for metric, value in result.to_dict().items():
            where = "eligible" if metric.startswith("merit.") else f"eligible.{_ranker_key(str(name))}"
            out[f"{where}.{'.'.join(map(_ranker_key, metric.split('.')))}"] = value
    return out


def log_eligible(ev: EligibleEvaluation, model_uri: str, tracking_uri: str | None = None,
                 experiment_name: str | None = None, model_version: int | None = None) -> str:
    """Track an eligible-pool evaluation as its own MLflow run (``kind=eligible``); return its id.

    Metrics: :func:`eligible_metrics`. Artifacts: ``eligible/per_brief.csv`` and
    ``eligible/exposure.csv`` (every ranker's exposure table). Tags: the model it judged, the
    briefs, pairs and k. The run sits in the training experiment beside the model's training
    run and backtests.
    """
    import tempfile

    import mlflow

    from .config import TrainingConfig
    from .tracking import ensure_experiment, log_frame, tracked_run, use_tracking

    client = use_tracking(tracking_uri)
    experiment = ensure_experiment(client, experiment_name or TrainingConfig().experiment_name)
    name = f"eligible pool {model_uri}" + (f" v{model_version}" if model_version is not None else "")
    with tracked_run(experiment, name) as run, tempfile.TemporaryDirectory(prefix="creatorrank-eligible-") as tmp:
        tags = {"kind": "eligible", "model_uri": str(model_uri), "briefs": str(ev.briefs), "pairs": str(ev.rows),
                "k": str(ev.k), "since": "" if ev.since is None else pd.Timestamp(ev.since).isoformat()}
        if model_version is not None:
            tags["model_version"] = str(model_version)
        mlflow.set_tags(tags)
        mlflow.log_metrics(eligible_metrics(ev))
        log_frame(ev.per_brief, "eligible/per_brief.csv", Path(tmp))
        tables = [e.table.assign(ranker=n) for n, e in ev.exposure.items()]
        if tables:
            log_frame(pd.concat(tables, ignore_index=True), "eligible/exposure.csv", Path(tmp))
        return run.info.run_id
