"""Ranking metrics per campaign: NDCG@k, MAP@k and net GMV captured by the top k.

Conventions (those of LightGBM, so the numbers match its own ``ndcg@k``/``map@k``):

- Rows are ranked by descending score; ties keep row order (a stable sort), and a missing
  score ranks last.
- DCG@k = sum over the top k of ``gain[label] / log2(rank + 1)`` (rank from 1) with
  ``gain[label] = 2**label - 1`` by default (Burges); NDCG@k = DCG@k / ideal DCG@k.
  A campaign shorter than k is scored over all its rows.
- AP@k = sum over relevant rows (label > 0) in the top k of precision-at-their-rank,
  divided by min(k, relevant rows in the campaign). MAP@k is its mean.
- GMV@k = net GMV of the top k / net GMV of the best possible top k.

A campaign without a single positive label (no invitation produced net GMV) has no ideal
ranking: every ordering is equally good. Its NDCG, AP and GMV share are *undefined*: the
per-campaign table holds NaN there (``empty=nan``, the default) and :func:`summarize` averages
over campaigns with a positive only, reporting how many had none. LightGBM scores such a
query 1.0 and scikit-learn 0.0; pass ``empty=1.0`` to reproduce LightGBM.

Quality gate (:func:`quality_gate`): the model and every baseline are scored on the same
campaigns; for each baseline the per-campaign difference of NDCG@primary_k is averaged and a
paired percentile bootstrap over campaigns (2,000 seeded resamples, 95%) gives its interval.
The model *beats* a baseline when the mean difference is > 0 and the interval's lower end is
> 0; with fewer than 30 campaigns with a positive outcome the verdict carries a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import constants as C
from .baselines import BASELINES

DEFAULT_GAIN = np.array([2.0**i - 1 for i in range(31)])


def group_codes_from_sizes(sizes) -> np.ndarray:
    """Query id of every row from LightGBM-style group sizes."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.repeat(np.arange(len(sizes)), sizes)


def rank_within(codes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its query by descending score (ties: row order).

    Parameters
    ----------
    codes : ndarray of int
        Query id per row (need not be contiguous).
    scores : ndarray of float
        Higher is better; NaN ranks last.
    """
    n = len(codes)
    key = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(key), -np.inf, key)
    order = np.lexsort((np.arange(n), -key, codes))
    sorted_codes = codes[order]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1] if n else np.zeros(0, dtype=np.int64)
    start = np.repeat(first, np.diff(np.r_[first, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start
    return rank


def _dcg(codes, rank, gain, k, n_groups) -> np.ndarray:
    top = rank < k
    w = np.where(top, gain / np.log2(rank + 2.0), 0.0)
    return np.bincount(codes, weights=w, minlength=n_groups)


def _gains(labels: np.ndarray, label_gain) -> np.ndarray:
    table = DEFAULT_GAIN if label_gain is None else np.asarray(label_gain, dtype=np.float64)
    lab = np.asarray(labels)
    if lab.size and (lab.min() < 0 or lab.max() >= len(table) or np.any(lab != np.floor(lab))):
        raise ValueError(f"labels must be integers in [0, {len(table)}) for this label_gain")
    return table[lab.astype(np.int64)]


def ndcg_per_query(codes, labels, scores, k: int, label_gain=None, empty: float = np.nan) -> np.ndarray:
    """NDCG@k of each query (index = query code).

    Parameters
    ----------
    codes : ndarray of int
        Query id per row, 0..n_queries-1.
    labels : ndarray of int
        Graded relevance.
    scores : ndarray of float
    k : int
    label_gain : sequence of float, optional
        Gain per grade (default ``2**i - 1``).
    empty : float
        Value for queries whose ideal DCG is 0 (no positive label).
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    gain = _gains(labels, label_gain)
    dcg = _dcg(codes, rank_within(codes, scores), gain, k, n_groups)
    ideal = _dcg(codes, rank_within(codes, gain), gain, k, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1.0), empty)


def ap_per_query(codes, labels, scores, k: int, empty: float = np.nan) -> np.ndarray:
    """Average precision@k of each query; a row is relevant when its label is > 0."""
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    n_groups = int(codes.max()) + 1 if n else 0
    rel = (np.asarray(labels) > 0).astype(np.float64)
    rank = rank_within(codes, scores)
    order = np.lexsort((rank, codes))
    rel_sorted = rel[order]
    csum = np.cumsum(rel_sorted)
    codes_sorted = codes[order]
    first = np.r_[0, np.flatnonzero(np.diff(codes_sorted)) + 1] if n else np.zeros(0, dtype=np.int64)
    base = np.repeat(np.r_[0.0, csum][first], np.diff(np.r_[first, n]))
    hits = csum - base  # relevant rows at or above this rank
    rank_sorted = rank[order]
    prec = np.where((rank_sorted < k) & (rel_sorted > 0), hits / (rank_sorted + 1.0), 0.0)
    ap_sum = np.bincount(codes_sorted, weights=prec, minlength=n_groups)
    n_rel = np.bincount(codes, weights=rel, minlength=n_groups)
    denom = np.minimum(n_rel, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, ap_sum / np.where(denom > 0, denom, 1.0), empty)


def gmv_capture_per_query(codes, outcomes, scores, k: int) -> np.ndarray:
    """Net GMV of the top k by score over the net GMV of the ideal top k (NaN without GMV)."""
    codes = np.asarray(codes, dtype=np.int64)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    out = np.nan_to_num(np.asarray(outcomes, dtype=np.float64), nan=0.0)
    got = np.bincount(codes, weights=np.where(rank_within(codes, scores) < k, out, 0.0), minlength=n_groups)
    best = np.bincount(codes, weights=np.where(rank_within(codes, out) < k, out, 0.0), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(best > 0, got / np.where(best > 0, best, 1.0), np.nan)


def ndcg_at_k(labels, scores, k: int, label_gain=None, empty: float = np.nan) -> float:
    """NDCG@k of one query (see module conventions)."""
    codes = np.zeros(len(labels), dtype=np.int64)
    return float(ndcg_per_query(codes, labels, scores, k, label_gain, empty)[0]) if len(labels) else empty


def metric_columns(ks, gmv_k: int = 10) -> list[str]:
    """Names of the metric columns: ``ndcg@k`` for each k, ``map@k`` for each k, ``gmv@gmv_k``."""
    return [f"ndcg@{k}" for k in ks] + [f"map@{k}" for k in ks] + [f"gmv@{gmv_k}"]


def per_campaign_metrics(
    campaign_ids,
    labels,
    outcomes,
    scores,
    ks=(1, 3, 5, 10, 20),
    gmv_k: int = 10,
    label_gain=None,
) -> pd.DataFrame:
    """One row per campaign: size, positives, NDCG@k and MAP@k per k, and GMV@gmv_k.

    Metrics of campaigns without a positive label are NaN (see module docstring).
    """
    ids = pd.Series(np.asarray(campaign_ids, dtype=object))
    codes, uniques = pd.factorize(ids, sort=False)
    codes = codes.astype(np.int64)
    labels = np.asarray(labels)
    n_groups = len(uniques)
    cols: dict[str, np.ndarray] = {
        C.CAMPAIGN_ID: np.asarray(uniques, dtype=object),
        "n_rows": np.bincount(codes, minlength=n_groups),
        "n_positive": np.bincount(codes, weights=(labels > 0).astype(float), minlength=n_groups).astype(np.int64),
        "outcome_gmv": np.bincount(codes, weights=np.nan_to_num(np.asarray(outcomes, float)), minlength=n_groups),
    }
    for k in ks:
        cols[f"ndcg@{k}"] = ndcg_per_query(codes, labels, scores, k, label_gain)
    for k in ks:
        cols[f"map@{k}"] = ap_per_query(codes, labels, scores, k)
    cols[f"gmv@{gmv_k}"] = gmv_capture_per_query(codes, outcomes, scores, gmv_k)
    return pd.DataFrame(cols)


def summarize(per_campaign: pd.DataFrame) -> pd.Series:
    """Means over campaigns with a positive label, plus campaign counts.

    Returns
    -------
    Series
        Every metric column's mean, ``campaigns`` (with a positive) and ``no_positive``
        (campaigns left out of the means because nothing there sold).
    """
    metric_cols = [c for c in per_campaign.columns if "@" in c]
    has_pos = per_campaign["n_positive"] > 0
    out = per_campaign.loc[has_pos, metric_cols].mean()
    out["campaigns"] = int(has_pos.sum())
    out["no_positive"] = int((~has_pos).sum())
    return out


def compare_rankers(
    frame: pd.DataFrame,
    scores: dict[str, np.ndarray],
    ks=(1, 3, 5, 10, 20),
    gmv_k: int = 10,
    label_gain=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate several rankings of the same rows with the same code.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``campaign_id``, ``label`` and ``outcome_gmv``.
    scores : dict
        ``{name: scores aligned with frame}``, e.g. the model, baselines, the oracle.

    Returns
    -------
    summary : DataFrame
        One row per ranker (index ``model``): metric means, ``campaigns``, ``no_positive``.
    per_campaign : DataFrame
        The per-campaign tables stacked, with a ``model`` column.
    """
    rows, parts = {}, []
    for name, s in scores.items():
        pc = per_campaign_metrics(
            frame[C.CAMPAIGN_ID].to_numpy(dtype=object), frame[C.LABEL].to_numpy(),
            frame[C.OUTCOME_GMV].to_numpy(), np.asarray(s, dtype=np.float64), ks, gmv_k, label_gain,
        )
        rows[name] = summarize(pc)
        parts.append(pc.assign(model=name))
    summary = pd.DataFrame(rows).T
    summary.index.name = "model"
    for col in ("campaigns", "no_positive"):
        summary[col] = summary[col].astype(np.int64)
    per_campaign = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return summary, per_campaign


def gap_closed(summary: pd.DataFrame, metric: str = "ndcg@10", model: str = "model",
               oracle: str = "oracle", baselines: list[str] | None = None) -> float:
    """Share of the gap between the best baseline and the oracle that the model closes.

    ``(model - best baseline) / (oracle - best baseline)`` on ``metric``; NaN without an oracle.
    """
    if oracle not in summary.index or model not in summary.index:
        return float("nan")
    others = [i for i in summary.index if i not in (model, oracle)] if baselines is None else baselines
    if not others:
        return float("nan")
    best = summary.loc[others, metric].max()
    gap = summary.loc[oracle, metric] - best
    return float((summary.loc[model, metric] - best) / gap) if gap > 0 else float("nan")


# ------------------------------------------------------------------ quality gate

BOOTSTRAP_RESAMPLES = 2000
CI_LEVEL = 0.95
# Below this many campaigns with a positive outcome a percentile bootstrap over campaigns is
# too coarse to separate a model from a baseline: the verdict is reported with a warning.
MIN_CAMPAIGNS_TO_TELL = 30
_CHUNK_CELLS = 2_000_000  # resampled values held in memory at once


def bootstrap_mean_ci(values, n_resamples: int = BOOTSTRAP_RESAMPLES, level: float = CI_LEVEL,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and percentile bootstrap interval of the mean of each column of ``values``.

    Rows (campaigns) are resampled with replacement, ``n_resamples`` times, the same draws
    for every column (a paired bootstrap when the columns are differences against one
    ranker). Draws come from ``numpy.random.default_rng(seed).integers(0, n, size=n)``, one
    resample after the other, so a plain loop with the same seed reproduces them.

    Parameters
    ----------
    values : array-like, shape (n,) or (n, m)
        One row per campaign; rows holding NaN must be removed first.
    n_resamples : int
    level : float
        Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
    seed : int

    Returns
    -------
    mean, low, high : ndarray of shape (m,) (0-d for 1-d input)
        NaN for every column when there are fewer than two rows (no spread to resample).
    """
    arr = np.asarray(values, dtype=np.float64)
    one = arr.ndim == 1
    arr = arr.reshape(len(arr), -1)
    n, m = arr.shape
    if n < 2:
        nan = np.full(m, np.nan)
        mean = arr.mean(axis=0) if n else nan.copy()
        out = (mean, nan, nan.copy())
    else:
        rng = np.random.default_rng(seed)
        means = np.empty((n_resamples, m))
        step = max(1, _CHUNK_CELLS // (n * m))
        for start in range(0, n_resamples, step):
            stop = min(n_resamples, start + step)
            idx = rng.integers(0, n, size=(stop - start, n))
            means[start:stop] = arr[idx].mean(axis=1)
        alpha = (1.0 - level) / 2.0
        low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
        out = (arr.mean(axis=0), low, high)
    return tuple(o[0] if one else o for o in out)


@dataclass
class BaselineComparison:
    """The model against one baseline on the same campaigns (paired by campaign).

    Attributes
    ----------
    baseline : str
    model_score, baseline_score : float
        Mean metric of each over the campaigns with a positive outcome.
    delta, ci_low, ci_high : float
        Mean of the per-campaign difference (model minus baseline) and its bootstrap interval.
    """

    baseline: str
    model_score: float
    baseline_score: float
    delta: float
    ci_low: float
    ci_high: float

    @property
    def beats(self) -> bool:
        """Shown to beat: mean difference > 0 and the whole interval above 0."""
        return bool(self.delta > 0 and self.ci_low > 0)

    @property
    def verdict(self) -> str:
        if self.beats:
            return "beats"
        if self.ci_high < 0:
            return "loses to"
        return "not shown to beat"


@dataclass
class QualityGate:
    """Does the model beat every baseline on these campaigns? (see :func:`quality_gate`)

    Attributes
    ----------
    metric : str
        e.g. ``ndcg@10``.
    model : str
        Ranker name of the model in the per-campaign table.
    campaigns : int
        Campaigns with a positive outcome the comparison rests on.
    comparisons : dict
        ``{baseline: BaselineComparison}``.
    best_baseline : str or None
        The baseline with the highest mean metric.
    level, resamples, min_campaigns : float, int, int
        Interval coverage, bootstrap resamples, the campaign count below which the verdict
        is flagged as too thin.
    """

    metric: str
    model: str
    campaigns: int
    comparisons: dict[str, BaselineComparison]
    best_baseline: str | None
    level: float = CI_LEVEL
    resamples: int = BOOTSTRAP_RESAMPLES
    min_campaigns: int = MIN_CAMPAIGNS_TO_TELL

    @property
    def best(self) -> BaselineComparison | None:
        return self.comparisons.get(self.best_baseline) if self.best_baseline else None

    @property
    def beats_baselines(self) -> bool:
        """The model is shown to beat every baseline (the best one included)."""
        return bool(self.comparisons) and all(c.beats for c in self.comparisons.values())

    @property
    def too_few(self) -> bool:
        return self.campaigns < self.min_campaigns

    @property
    def model_score(self) -> float:
        best = self.best
        return best.model_score if best else float("nan")

    def warning(self) -> str | None:
        """A one-line warning when the campaigns are too few to tell, else None."""
        if not self.too_few:
            return None
        return (f"only {self.campaigns} campaign(s) with a positive outcome: too few to tell the model "
                f"from the baselines (at least {self.min_campaigns} needed); treat the verdict as a guess")

    def verdict(self) -> str:
        """One line: beats / does not beat the best baseline, with the interval."""
        best = self.best
        if best is None or np.isnan(best.delta):
            return f"{self.metric}: no campaign with a positive outcome to compare the model with the baselines"
        head = "beats every baseline" if self.beats_baselines else (
            f"does NOT beat the baselines ({', '.join(self.failed())})")
        return (f"model {head} on {self.metric}: {best.model_score:.4f} vs best baseline {best.baseline} "
                f"{best.baseline_score:.4f}, difference {best.delta:+.4f} "
                f"({self.level:.0%} CI {best.ci_low:+.4f} .. {best.ci_high:+.4f}, {self.campaigns} campaigns)")

    def failed(self) -> list[str]:
        """``"<verdict> <baseline>"`` for every baseline the model is not shown to beat."""
        return [f"{c.verdict} {c.baseline}" for c in self.comparisons.values() if not c.beats]

    def lines(self) -> list[str]:
        """The verdict, one line per baseline, and the warning when campaigns are few."""
        out = [self.verdict()]
        for c in self.comparisons.values():
            if not np.isnan(c.delta):
                out.append(f"  vs {c.baseline:<16} {c.delta:+.4f} ({c.ci_low:+.4f} .. {c.ci_high:+.4f}): {c.verdict}")
        warning = self.warning()
        if warning:
            out.append(f"warning: {warning}")
        return out

    def tags(self, prefix: str = "") -> dict[str, str]:
        """MLflow tags: ``beats_baselines``, ``beats.<baseline>``, ``best_baseline``, ``delta_*``."""
        best = self.best
        tags = {
            "beats_baselines": str(self.beats_baselines).lower(),
            "best_baseline": self.best_baseline or "",
            "delta_mean": f"{best.delta:.6f}" if best else "nan",
            "delta_ci_low": f"{best.ci_low:.6f}" if best else "nan",
            "delta_ci_high": f"{best.ci_high:.6f}" if best else "nan",
            "gate.metric": self.metric,
            "gate.campaigns": str(self.campaigns),
            "gate.too_few": str(self.too_few).lower(),
        }
        tags.update({f"beats.{c.baseline}": str(c.beats).lower() for c in self.comparisons.values()})
        if self.warning():
            tags["gate.warning"] = self.warning()
        return {f"{prefix}{k}": v for k, v in tags.items()}

    def metrics(self, prefix: str = "gate.") -> dict[str, float]:
        """Finite numbers for MLflow metrics (difference to the best baseline and its interval)."""
        best = self.best
        if best is None:
            return {}
        values = {"delta_mean": best.delta, "delta_ci_low": best.ci_low, "delta_ci_high": best.ci_high,
                  "campaigns": float(self.campaigns)}
        return {f"{prefix}{k}": float(v) for k, v in values.items() if np.isfinite(v)}


def quality_gate(
    per_campaign: pd.DataFrame,
    metric: str,
    model: str = "model",
    baselines=None,
    *,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = CI_LEVEL,
    seed: int = 0,
    min_campaigns: int = MIN_CAMPAIGNS_TO_TELL,
) -> QualityGate:
    """Compare a model with every baseline on the same campaigns, with bootstrap intervals.

    For each baseline the per-campaign difference ``model - baseline`` of ``metric`` is
    averaged over the campaigns with a positive outcome (campaigns without one have no
    defined metric and are left out), and campaigns are resampled with replacement
    (:func:`bootstrap_mean_ci`, the same draws for every baseline) for a percentile interval.
    The model *beats* a baseline when the mean difference is > 0 and the interval's lower
    end is > 0; a point-estimate win whose interval crosses 0 is "not shown to beat".
    The best baseline is the one with the highest mean ``metric``.

    Parameters
    ----------
    per_campaign : DataFrame
        Stacked per-campaign metrics of :func:`compare_rankers` (``campaign_id``, ``model``,
        metric columns).
    metric : str
    model : str
        The ranker judged.
    baselines : list of str, optional
        Default: :data:`creatorrank.training.baselines.BASELINES` present in the table.

    Returns
    -------
    QualityGate
    """
    table = per_campaign.pivot_table(index=C.CAMPAIGN_ID, columns="model", values=metric, dropna=False,
                                     observed=True, aggfunc="first") if len(per_campaign) else pd.DataFrame()
    names = [b for b in (BASELINES if baselines is None else baselines) if b in table.columns]
    if model not in table.columns or not names:
        return QualityGate(metric, model, 0, {}, None, level, n_resamples, min_campaigns)
    table = table[[model, *names]].dropna()
    delta = table[names].rsub(table[model], axis=0).to_numpy()
    mean, low, high = bootstrap_mean_ci(delta, n_resamples, level, seed)
    model_score = float(table[model].mean()) if len(table) else float("nan")
    comparisons = {
        b: BaselineComparison(b, model_score, float(table[b].mean()) if len(table) else float("nan"),
                              float(mean[i]), float(low[i]), float(high[i]))
        for i, b in enumerate(names)
    }
    scores = {b: c.baseline_score for b, c in comparisons.items() if not np.isnan(c.baseline_score)}
    best = max(scores, key=scores.get) if scores else names[0]
    return QualityGate(metric, model, len(table), comparisons, best, level, n_resamples, min_campaigns)
