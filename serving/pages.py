"""Page data: what a campaign report shows, as plain JSON-ready dicts.

:func:`campaign_documents` turns an :class:`~creatorrank.serving.explain.Explanation` of a
scoring run, and the features it explains, into one document per campaign: stamps (model,
feature set, dates), the family summary, and each explained creator with rank (ties as
ties), evidence, indices, drivers up and down in plain words and history counts. The same
document is the campaign's JSON file and the context of its HTML template
(:mod:`creatorrank.serving.render`). :func:`creator_history` counts the facts a creator's
score rests on (shared with the score card). Documents are written as strict JSON
(:mod:`creatorrank.core.jsonio`).

When the scores carry the value model's columns (expected GMV, its 80% range, the fair fee,
:data:`VALUE_COLUMNS`), each creator also gets what they are worth to the brief
(:func:`creator_value`: "expected $X (80%: $a-$b); fair fee at 3x: $F; declared rate $R" and
the price flag of :func:`price_flag`, shared with the score card) and each campaign the top
K's expected GMV and fair fees against its budget (:func:`value_summary`). Why the expected
GMV is what it is comes from the value model's own SHAP values (:func:`value_contributions`,
checked additive; :func:`value_drivers`): the top drivers up and down in the ranker's words,
each as the factor it multiplies the expected GMV by ("x1.8"). Scores of a model without a
value model give None for all of these: the pages then show nothing of value.

Every creator row says what it rests on: a tie is "tied with N others at rank a-b", thin
evidence is marked ("based on 2 posts", confidence levels of
:mod:`creatorrank.serving.ranking`), a creator without a post in the brief's category is
flagged, a missing input is "unknown", never evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ModelError
from ..core.jsonio import jsonable
from ..features.specs import CATALOGUE
from .ranking import (CONFIDENCE_RULES, THIN, confidence, evidence_text, rank_label, rank_text, thin_index_note,
                      tie_counts, tie_span)
from .shards import EVIDENCE_SUFFIX, index_columns
from .text import (FEATURE_TEXT, INDEX_TEXT, MISSING, family_measures, family_title, feature_sentence, format_date,
                   format_value, history_sentence, is_missing)

TOP_DRIVERS = 3  # drivers up and down shown per creator
SHOWN_CONTRIBUTION = 0.005  # smaller pushes print as +0.00 / -0.00: not shown as drivers
PEERS_LABEL = "campaign median"
VALUE_TOLERANCE = 1e-6  # additivity of the value model's SHAP values, in log units (a relative 1e-6 of the GMV)
BIAS = "bias"  # the value model's base column in its contributions (training/value.py ValueModel.contrib)


# ---------------------------------------------------------------------------- history


def creator_history(tables: Mapping[str, pd.DataFrame], requests: pd.DataFrame) -> pd.DataFrame:
    """How much history each (creator, as_of) rests on: facts known strictly before ``as_of``.

    Parameters
    ----------
    tables : mapping
        Validated contract tables.
    requests : DataFrame
        ``creator_id`` and ``as_of`` columns (repeats allowed).

    Returns
    -------
    DataFrame
        One row per distinct (creator_id, as_of): ``posts``, ``invitations``, ``orders``
        (counts), ``first_activity`` (earliest post, invitation or order) and ``joined_at``.
    """
    req = requests[[C.CREATOR_ID, C.AS_OF]].copy()
    req[C.CREATOR_ID] = req[C.CREATOR_ID].astype(str)
    req[C.AS_OF] = pd.to_datetime(req[C.AS_OF], utc=True)
    req = req.drop_duplicates().reset_index(drop=True)
    out = req.copy()
    firsts = []
    for table, when, name in ((C.POSTS, C.POSTED_AT, "posts"), (C.INVITATIONS, C.INVITED_AT, "invitations"),
                              (C.ORDERS, C.ORDERED_AT, "orders")):
        facts = tables[table][[C.CREATOR_ID, when]]
        facts = facts[facts[C.CREATOR_ID].isin(set(req[C.CREATOR_ID]))].copy()
        facts[C.CREATOR_ID] = facts[C.CREATOR_ID].astype(str)
        joined = req.merge(facts, on=C.CREATOR_ID, how="inner")
        joined = joined[joined[when] < joined[C.AS_OF]]
        agg = joined.groupby([C.CREATOR_ID, C.AS_OF], sort=False)[when].agg(["size", "min"]).reset_index()
        agg = agg.rename(columns={"size": name, "min": f"first_{name}"})
        out = out.merge(agg, on=[C.CREATOR_ID, C.AS_OF], how="left")
        out[name] = out[name].fillna(0).astype(np.int64)
        firsts.append(f"first_{name}")
    out["first_activity"] = out[firsts].min(axis=1)
    out = out.drop(columns=firsts)
    creators = tables[C.CREATORS][[C.CREATOR_ID, C.JOINED_AT]].copy()
    creators[C.CREATOR_ID] = creators[C.CREATOR_ID].astype(str)
    return out.merge(creators, on=C.CREATOR_ID, how="left").rename(columns={C.JOINED_AT: "joined_at"})


# ---------------------------------------------------------------------------- value: expected GMV, fair fee

VALUE_COLUMNS = (C.EXPECTED_GMV_USD, C.GMV_P10_USD, C.GMV_P90_USD, C.FAIR_FEE_USD, C.FEE_VS_RATE_CARD)
DEFAULT_INTERVAL = 0.8  # gmv_p10_usd .. gmv_p90_usd: an 80% interval
UNDER, WITHIN, OVER = "under", "within", "over"  # price flags (docs/SCORES.md, "Value columns")
LITTLE_EVIDENCE = "rests on little evidence"


def has_value_columns(frame: pd.DataFrame) -> bool:
    """True when a scores frame carries the value model's columns (scores of older models do not)."""
    return all(c in frame.columns for c in VALUE_COLUMNS)


def money(value: Any) -> str:
    """An amount in USD the way every page writes money ("$1,234", "$12.50", "$0"); missing: "not enough data yet"."""
    return "$0" if not is_missing(value) and float(value) == 0 else format_value(value, "USD")


def roas_text(target_roas: float) -> str:
    """A target return on spend as "3x" or "2.5x"."""
    return f"{float(target_roas):g}x"


def interval_text(interval: float | None) -> str:
    """The interval's coverage as "80%"."""
    return f"{100.0 * float(interval if interval is not None else DEFAULT_INTERVAL):.0f}%"


def price_flag(rate_card: float | None, expected: float | None, p10: float | None, p90: float | None,
               target_roas: float | None, level: str | None = None) -> str | None:
    """Whether a declared rate card sits below, within or above the fair-fee range.

    The fair-fee range (:func:`fair_fee_range`) is the expected-GMV interval divided by the
    target return on spend, widened where needed to hold the fair fee itself. A rate card
    strictly below its low end is :data:`UNDER` (the creator may be under-priced), strictly
    above its high end :data:`OVER` (over-priced for this kind of campaign), otherwise
    :data:`WITHIN`.

    Parameters
    ----------
    rate_card, expected, p10, p90, target_roas : float or None
        Declared rate card, expected GMV and its interval ends, target return on spend.
    level : str, optional
        The row's confidence level: ``"none"`` (no post, invitation or order seen) gives no
        flag, since nothing of the creator's own record backs it.

    Returns
    -------
    str or None
        ``"under"``, ``"within"``, ``"over"``; None without a rate card, an interval, a
        target > 0, or with confidence ``"none"``.
    """
    values = [rate_card, expected, p10, p90, target_roas]
    if level == "none" or any(is_missing(v) for v in values) or float(target_roas) <= 0:
        return None
    low, high = fair_fee_range(expected, p10, p90, target_roas)
    rate = float(rate_card)
    if rate < low:
        return UNDER
    if rate > high:
        return OVER
    return WITHIN


def fair_fee_range(expected: float, p10: float, p90: float, target_roas: float) -> tuple[float, float]:
    """The fair-fee range: ``[min(p10, expected), max(p90, expected)] / target_roas``.

    The interval over the target return on spend, widened to hold the fair fee itself: GMV per
    invitation is mostly zero with a long tail (declines and missed deliveries bring nothing),
    so its mean can lie above its 90th percentile, and a rate card at or below the fair fee
    must never read as over-priced (nor one at or above it as under-priced).
    """
    roas = float(target_roas)
    return min(float(p10), float(expected)) / roas, max(float(p90), float(expected)) / roas


def _number_or_none(value: Any) -> float | None:
    return None if is_missing(value) else float(value)


def creator_value(values: Mapping[str, Any], rate_card: Any, target_roas: float | None, level: str,
                  interval: float | None = None) -> dict[str, Any] | None:
    """What one scored row is worth to its brief, JSON-ready, with its line for the report.

    Parameters
    ----------
    values : mapping
        The row's value columns (:data:`VALUE_COLUMNS`).
    rate_card : float or None
        The creator's declared rate card (USD per sponsored post).
    target_roas : float or None
        The brief's target return on spend (what the fair fee was computed with); None when
        unknown (no price flag then).
    level : str
        The row's confidence level: ``none`` and ``low`` are marked "rests on little evidence".
    interval : float, optional
        Coverage of ``gmv_p10_usd .. gmv_p90_usd`` (default 0.8).

    Returns
    -------
    dict or None
        None when the row has no expected GMV (scores of a model without a value model).
    """
    expected = _number_or_none(values.get(C.EXPECTED_GMV_USD))
    if expected is None:
        return None
    p10, p90 = _number_or_none(values.get(C.GMV_P10_USD)), _number_or_none(values.get(C.GMV_P90_USD))
    fair = _number_or_none(values.get(C.FAIR_FEE_USD))
    ratio = _number_or_none(values.get(C.FEE_VS_RATE_CARD))
    rate = _number_or_none(rate_card)
    flag = price_flag(rate, expected, p10, p90, target_roas, level)
    not_declared = FEATURE_TEXT[C.RATE_CARD_USD].missing  # "not declared", as the drivers say it
    rate_words = f"declared rate {money(rate)}" if rate is not None else f"rate {not_declared}"
    if rate is not None and ratio is not None:
        shown = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.1f}" if ratio >= 1 else f"{ratio:.2f}"
        rate_words += f" ({shown}x the fair fee)"
    band = f" ({interval_text(interval)}: {money(p10)}-{money(p90)})" if p10 is not None and p90 is not None else ""
    at = f" at {roas_text(target_roas)}" if target_roas is not None else ""
    fee = f"fair fee{at}: {money(fair)}" if fair is not None else ""
    text = "; ".join(t for t in (f"expected {money(expected)}{band}", fee, rate_words) if t)
    price_text = None
    if flag is not None:
        low, high = fair_fee_range(expected, p10, p90, target_roas)
        where = {UNDER: "below", WITHIN: "within", OVER: "above"}[flag]
        verdict = {UNDER: ": may be under-priced", WITHIN: "", OVER: ": over-priced for this kind of campaign"}[flag]
        price_text = f"Declared rate {where} the fair-fee range {money(low)}-{money(high)}{verdict}"
    return {
        "expected_usd": expected, "expected_text": money(expected), "p10_usd": p10, "p90_usd": p90,
        "fair_fee_usd": fair,
        "fee_vs_rate_card": ratio, "rate_card_usd": rate,
        "target_roas": None if target_roas is None else float(target_roas),
        "interval": float(interval if interval is not None else DEFAULT_INTERVAL),
        "price_flag": flag, "price_text": price_text, "text": text,
        "thin_note": LITTLE_EVIDENCE if level in THIN else None,
    }


def value_summary(creators: list[Mapping[str, Any]], budget: Any, target_roas: float | None) -> dict[str, Any] | None:
    """The top K shown of one brief: their expected GMV and total fair fees against the budget.

    Returns
    -------
    dict or None
        None when no creator shown has a value (scores of a model without a value model).
    """
    valued = [c["value"] for c in creators if c.get("value")]
    if not valued:
        return None
    k = len(creators)
    expected = float(sum(v["expected_usd"] for v in valued))
    fees = [v["fair_fee_usd"] for v in valued if v["fair_fee_usd"] is not None]
    fee_total = float(sum(fees))
    rates = [v["rate_card_usd"] for v in valued if v["rate_card_usd"] is not None]
    budget = _number_or_none(budget)
    thin = sum(1 for c in creators if c.get("value") and c["value"]["thin_note"])
    who = f"the top {k} shown" if k > 1 else "the creator shown"
    lines = [f"Expected net GMV of {who}: {money(expected)} together"
             + (f" ({k - len(valued)} without a forecast)" if len(valued) < k else "") + "."]
    at = f" at {roas_text(target_roas)}" if target_roas is not None else ""
    fee_line = f"Their fair fees{at} total {money(fee_total)}"
    if budget is None:
        status, over_by = None, None
        fee_line += ": the brief gives no budget to compare them with."
    elif fee_total <= budget:
        status, over_by = WITHIN, 0.0
        fee_line += f": within budget ({money(budget)}, {money(budget - fee_total)} left)."
    else:
        status, over_by = OVER, fee_total - budget
        fee_line += f": over budget by {money(over_by)} (budget {money(budget)})."
    lines.append(fee_line)
    if rates:
        missing = len(valued) - len(rates)
        lines.append(f"Their declared rates total {money(sum(rates))}"
                     + (f" ({missing} with no rate declared)" if missing else "") + ".")
    if thin:
        lines.append(f"{thin} of them {'rest' if thin > 1 else 'rests'} on little evidence: "
                     "their forecasts can be far off.")
    # GMV per invitation is mostly zero with a long tail: its mean can lie above the interval's top.
    skewed = any(v["p90_usd"] is not None and v["expected_usd"] > v["p90_usd"] for v in valued)
    return {
        "k": k, "valued": len(valued), "skewed": skewed, "expected_total_usd": expected,
        "fair_fee_total_usd": fee_total,
        "rate_card_total_usd": float(sum(rates)) if rates else None, "rate_cards": len(rates),
        "interval_text": interval_text(valued[0]["interval"]), "budget_usd": budget, "budget_status": status,
        "over_budget_usd": over_by, "thin": thin,
        "target_roas": None if target_roas is None else float(target_roas), "text": lines,
    }


# ---------------------------------------------------------------------------- campaign documents


def _specs(features: Iterable[str]) -> dict[str, Any]:
    """Catalogue spec of each feature (None for a feature outside the catalogue)."""
    known = {s.name: s for s in CATALOGUE}
    return {f: known.get(f) for f in features}


def _top_drivers(contrib: np.ndarray, sign: int, k: int = TOP_DRIVERS) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the ``k`` largest contributions of one sign (and a validity mask)."""
    signed = sign * contrib
    k = min(k, contrib.shape[1])
    order = np.argsort(-signed, axis=1, kind="stable")[:, :k]
    # What rounds to zero at two decimals ("-0.00") moves nothing worth reading: left out.
    valid = np.take_along_axis(signed, order, axis=1) >= SHOWN_CONTRIBUTION
    return order, valid


def driver_item(name: str, contribution: float, value: Any, peer: Any, spec, family: str | None,
                peers_label: str = PEERS_LABEL) -> dict[str, Any]:
    """One driver, JSON-ready: the feature in plain words with the peers' median, and its push."""
    peer = None if peer is None or (isinstance(peer, float) and math.isnan(peer)) else peer
    return {
        "feature": name, "family": family, "family_title": family_title(family or "other"),
        "contribution": float(contribution), "value": value, "campaign_median": peer, "unknown": is_missing(value),
        "text": feature_sentence(name, value, spec, peer, peers_label),
    }


# ---------------------------------------------------------------------------- value drivers


@dataclass
class ValueExplanation:
    """The value model's TreeSHAP values of some rows (log scale), checked additive.

    Attributes
    ----------
    contributions : DataFrame
        One column per value-model feature, then ``bias``; row ``i`` is the ``i``-th row explained.
    expected : ndarray
        The value model's own expected GMV of each row (USD).
    level : float
        The level factor: ``expected = level * exp(sum of contributions + bias)``.
    """

    contributions: pd.DataFrame
    expected: np.ndarray
    level: float


def value_contributions(model, rows: pd.DataFrame, campaigns: Iterable[Any],
                        tol: float = VALUE_TOLERANCE) -> ValueExplanation:
    """Explain the value model's expected GMV of ``rows``, refusing contributions that do not add up.

    Each row's contributions plus ``bias`` must equal ``log(expected / level)`` within ``tol``
    (as :mod:`creatorrank.serving.explain` holds the ranker's to its score): the pages show
    ``exp(contribution)`` as what each driver multiplies the expected GMV by.

    Parameters
    ----------
    model : ValueModel
        The bundle's value model (:mod:`creatorrank.training.value`).
    rows : DataFrame
        Feature rows to explain.
    campaigns : iterable
        Campaign id of each row (named in the error).

    Raises
    ------
    ModelError
        Contributions that do not add up, naming the campaign and creator.
    """
    contrib = model.contrib(rows).reset_index(drop=True).astype(np.float64)
    expected = model.predict(rows)[C.EXPECTED_GMV_USD].to_numpy(dtype=np.float64)
    level = float(model.level_)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.abs(contrib.to_numpy().sum(axis=1) - np.log(expected / level))
    bad = np.flatnonzero(~(diff <= tol))  # NaN and inf count as failures
    if bad.size:
        i = int(bad[np.argmax(np.nan_to_num(diff[bad], nan=np.inf))])
        cid = list(campaigns)[i]
        who = rows[C.CREATOR_ID].iloc[i] if C.CREATOR_ID in rows.columns else i
        raise ModelError(f"campaign {cid}: value model SHAP contributions + bias differ from log(expected GMV / "
                         f"level) by {diff[i]:.3g} for creator {who} (tolerance {tol:g}); value drivers withheld")
    return ValueExplanation(contrib, expected, level)


def effect_text(contribution: float) -> str:
    """A log-scale contribution as what it multiplies the expected GMV by: "x1.8", "x0.62", "x12"."""
    return "x" + f"{math.exp(contribution):,.2f}".rstrip("0").rstrip(".")


def value_drivers(contrib: Mapping[str, float], level: float, expected: float, values: Mapping[str, Any],
                  peers: Mapping[str, Any], families: Mapping[str, str], peers_label: str = PEERS_LABEL,
                  specs: Mapping[str, Any] | None = None, k: int = TOP_DRIVERS) -> dict[str, Any]:
    """Why a creator's expected GMV is what it is: the top ``k`` drivers up and down, as multipliers.

    The value model works on the log scale, so its SHAP values multiply: the expected GMV is
    ``level * exp(bias) * prod(exp(contribution))``. Each driver is worded as the ranker's
    (:func:`driver_item`) and carries ``effect = exp(contribution)`` ("x1.8" raises the expected
    GMV by 80%, "x0.6" cuts it by 40%). Effects that print as "x1" are left out.

    Parameters
    ----------
    contrib : mapping
        One row of :attr:`ValueExplanation.contributions` (features and ``bias``).
    level : float
        The value model's level factor.
    expected : float
        The expected GMV the contributions explain (USD).
    values, peers : mapping
        The creator's feature values and the peers' medians (only these features are worded).
    families : mapping
        Feature -> family.
    peers_label : str
        Who the peers are, in words ("campaign median").
    """
    specs = specs if specs is not None else _specs(values)
    names = [f for f in contrib if f != BIAS]
    c = np.array([float(contrib[f]) for f in names], dtype=np.float64)
    worded = [j for j, f in enumerate(names) if f in values]  # the page words its own features only

    def pick(sign: int) -> list[dict[str, Any]]:
        sub = c[worded]
        cols, ok = _top_drivers(sub[None, :], sign, k)
        out = []
        for j, good in zip(cols[0], ok[0]):
            name, text = names[worded[j]], effect_text(sub[j])
            if good and text != "x1":
                item = driver_item(name, sub[j], values.get(name), peers.get(name), specs.get(name),
                                   families.get(name), peers_label)
                out.append({**item, "effect": math.exp(float(sub[j])), "effect_text": text})
        return out

    bias = float(contrib[BIAS])
    base = float(level) * math.exp(bias)
    return {
        "expected_usd": float(expected), "level": float(level), "bias": bias, "base_usd": base,
        "up": pick(+1), "down": pick(-1),
        "contributions": dict(zip(names, c.tolist())),
        "text": (f"Expected GMV {money(expected)}: the value model's starting point of {money(base)}, multiplied "
                 "by one factor per feature; the largest factors up and down:"),
    }


def model_explains(expected: Any, model_expected: float, tol: float = VALUE_TOLERANCE) -> bool:
    """True when a shown expected GMV is the value model's own (a file edited since scoring is not)."""
    if is_missing(expected) or not float(expected) > 0 or not model_expected > 0:
        return False
    return abs(math.log(float(expected)) - math.log(float(model_expected))) <= tol


def _tie_columns(frame: pd.DataFrame, scores: pd.DataFrame, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ties`` and first tied rank of every frame row (the file's ties where it has them)."""
    campaign = frame[C.CAMPAIGN_ID].astype(str).to_numpy()
    score = frame["file_score"].to_numpy(dtype=np.float64)  # exact file values: ties are exact equalities
    ties = tie_counts(campaign, score)
    if C.TIES in frame.columns:  # counted over all candidates before --top: the file knows best
        given = frame[C.TIES].to_numpy(dtype=np.float64)
        ties = np.where(np.isnan(given), ties, given).astype(np.int64)
    first, _ = tie_span(campaign, np.where(np.isnan(score), -np.inf, score), rank, ties)
    return ties, first


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64, NaN where absent."""
    return frame[name].to_numpy(dtype=np.float64) if name in frame.columns else np.full(len(frame), np.nan)


def campaign_documents(expl, frame: pd.DataFrame, scores: pd.DataFrame, briefs: pd.DataFrame,
                       history: pd.DataFrame, bundle, notes: Mapping[str, str] | None = None,
                       value_terms: Mapping[str, Any] | None = None,
                       value_expl: ValueExplanation | None = None) -> list[dict[str, Any]]:
    """One JSON-ready document per campaign: stamps, family summary, ranked creators with drivers.

    Built column-wise (numpy over all explained creators, then small per-creator dicts):
    the top 100 of 100 campaigns are 10,000 creators. When the scores carry the value
    columns (:func:`has_value_columns`), each creator gets ``value`` (:func:`creator_value`)
    and each campaign ``value_summary`` (:func:`value_summary`); otherwise both are None and
    the pages show nothing of value.

    Parameters
    ----------
    value_terms : mapping, optional
        ``interval`` (coverage of the p10-p90 interval) and ``target_roas`` (campaign id ->
        the target return on spend the fair fees were computed with), from the manifest
        (:func:`value_terms`).
    value_expl : ValueExplanation, optional
        The value model's contributions of the explained rows, in the order of ``expl.rows``
        (:func:`value_contributions`): each valued creator then gets ``value_drivers``
        (:func:`value_drivers`); None without a value model.
    """

    features = list(bundle.features)
    specs = _specs(features)
    families = expl.feature_families
    index_cols = index_columns(frame.columns)
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(frame[f].dtype)]
    medians = frame.groupby(C.CAMPAIGN_ID, sort=False)[numeric].median().reindex(columns=features)
    # The real middle of this campaign's field for each index (over every candidate, NaN left out).
    index_medians = frame.groupby(C.CAMPAIGN_ID, sort=False)[index_cols].median() if index_cols else None
    all_rank = np.nan_to_num(frame[C.RANK].to_numpy(dtype=np.float64), nan=1e12).astype(np.int64)
    all_ties, all_first = _tie_columns(frame, scores, all_rank)
    category_of = briefs.set_index(C.CAMPAIGN_ID)[C.CATEGORY]

    rows = expl.rows
    pos = rows["position"].to_numpy()
    sub = frame.iloc[pos].reset_index(drop=True)
    values = sub[features].astype(object).where(sub[features].notna(), None).to_numpy()
    contrib = expl.contributions.to_numpy()
    fam_names = list(expl.families.columns)
    fam = expl.families.to_numpy()
    hist = sub[[C.CREATOR_ID, C.AS_OF]].copy()
    hist[C.AS_OF] = pd.to_datetime(hist[C.AS_OF], utc=True)
    hist = hist.merge(history.assign(**{C.AS_OF: pd.to_datetime(history[C.AS_OF], utc=True)}),
                      on=[C.CREATOR_ID, C.AS_OF], how="left")
    up, up_ok = _top_drivers(contrib, +1)
    down, down_ok = _top_drivers(contrib, -1)
    indices = sub[index_cols].to_numpy(dtype=np.float64) if index_cols else np.zeros((len(sub), 0))
    percentile = sub[C.PERCENTILE].to_numpy(dtype=np.float64) if C.PERCENTILE in sub.columns else np.full(len(sub), np.nan)
    terms = value_terms or {}
    values_of = _row_values(scores, rows) if has_value_columns(scores) else None
    roas_of = _target_roas(scores, terms.get("target_roas")) if values_of is not None else {}
    rate_cards = _column(sub, C.RATE_CARD_USD)
    med = medians.reindex(rows[C.CAMPAIGN_ID].to_numpy()).to_numpy(dtype=object)
    ties, first_rank = all_ties[pos], all_first[pos]
    cat_posts = _column(sub, C.CATEGORY_POSTS_SEEN)
    seen = [_column(sub, c) for c in (C.POSTS_SEEN, C.INVITATIONS_SEEN, C.ORDERS_SEEN)]
    level = (sub[C.CONFIDENCE].astype(object).to_numpy() if C.CONFIDENCE in sub.columns
             else confidence(*seen))
    index_evidence = {c: _column(sub, c + EVIDENCE_SUFFIX) for c in index_cols}
    seen_names = (C.POSTS_SEEN, C.INVITATIONS_SEEN, C.ORDERS_SEEN)

    def thin_indices(i: int) -> dict[str, str | None]:
        row = {c: indices[i, k] for k, c in enumerate(index_cols)}
        row.update({c + EVIDENCE_SUFFIX: index_evidence[c][i] for c in index_cols})
        row.update({name: seen[k][i] for k, name in enumerate(seen_names)})
        return {c: thin_index_note(row, c) for c in index_cols}

    def drivers(i: int, cols: np.ndarray, ok: np.ndarray) -> list[dict[str, Any]]:
        return [driver_item(features[j], contrib[i, j], values[i, j], med[i, j], specs.get(features[j]),
                            families.get(features[j])) for j, good in zip(cols, ok) if good]

    def why_value(i: int, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """The value drivers of row ``i``, when its shown expected GMV is the value model's own."""
        if value_expl is None or value is None or not model_explains(value["expected_usd"], value_expl.expected[i]):
            return None
        return value_drivers(value_contrib[i], value_expl.level, value["expected_usd"],
                             dict(zip(features, values[i])), dict(zip(features, med[i])), families, PEERS_LABEL, specs)

    value_contrib = value_expl.contributions.to_dict("records") if value_expl is not None else None

    n_posts = hist["posts"].to_numpy(dtype=np.int64)
    n_invitations = hist["invitations"].to_numpy(dtype=np.int64)
    n_orders = hist["orders"].to_numpy(dtype=np.int64)
    first_activity = list(pd.to_datetime(hist["first_activity"], utc=True))
    joined_at = list(pd.to_datetime(hist["joined_at"], utc=True))
    campaign_of = rows[C.CAMPAIGN_ID].to_numpy()
    rank = rows[C.RANK].to_numpy()
    creator_ids = rows[C.CREATOR_ID].astype(str).to_numpy()
    score = rows[C.SCORE].to_numpy()
    relative = rows["relative_score"].to_numpy()
    creators_by_campaign: dict[str, list] = {}
    for i in range(len(rows)):
        posts, invitations, orders = int(n_posts[i]), int(n_invitations[i]), int(n_orders[i])
        n_ties, first = int(ties[i]), int(first_rank[i])
        lvl = str(level[i]) if isinstance(level[i], str) else "none"
        category = category_of.get(campaign_of[i])
        no_category = bool(cat_posts[i] == 0) and category is not None and not is_missing(category)
        value = (creator_value(values_of[i], rate_cards[i], roas_of.get(campaign_of[i]), lvl, terms.get("interval"))
                 if values_of is not None else None)
        creators_by_campaign.setdefault(campaign_of[i], []).append({
            "rank": int(rank[i]),
            "ties": n_ties,
            "rank_first": first,
            "rank_last": first + n_ties,
            "rank_label": rank_label(int(rank[i]), n_ties, first),
            "rank_text": rank_text(int(rank[i]), n_ties, first),
            "confidence": lvl,
            "thin_evidence": lvl in THIN,
            "evidence_text": evidence_text(posts, invitations, orders),
            "category_posts": None if math.isnan(cat_posts[i]) else int(cat_posts[i]),
            "category_warning": f"no post in {category} yet" if no_category else None,
            C.CREATOR_ID: str(creator_ids[i]),
            "score": float(score[i]),
            "relative_score": float(relative[i]),
            "percentile": None if math.isnan(percentile[i]) else float(percentile[i]),
            "indices": {c: (None if math.isnan(v) else float(v)) for c, v in zip(index_cols, indices[i])},
            "index_evidence": {c: (None if math.isnan(index_evidence[c][i]) else float(index_evidence[c][i]))
                               for c in index_cols},
            "index_thin": thin_indices(i),
            "history": {
                "posts": posts, "invitations": invitations, "orders": orders,
                "first_activity": jsonable(first_activity[i]), "joined_at": jsonable(joined_at[i]),
                "text": history_sentence(posts, invitations, orders, first_activity[i], joined_at[i]),
            },
            "drivers_up": drivers(i, up[i], up_ok[i]),
            "drivers_down": drivers(i, down[i], down_ok[i]),
            "families": dict(zip(fam_names, fam[i].tolist())),
            "contributions": dict(zip(features, contrib[i].tolist())),
            "values": dict(zip(features, values[i].tolist())),
            "value": value,
            "value_drivers": why_value(i, value),
        })

    brief = briefs.set_index(C.CAMPAIGN_ID)
    summary = expl.family_summary.set_index(C.CAMPAIGN_ID)
    campaigns = expl.campaigns.set_index(C.CAMPAIGN_ID)
    stamp = {
        "model_name": str(scores[C.MODEL_NAME].iloc[0]),
        "model_version": jsonable(pd.to_numeric(scores[C.MODEL_VERSION], errors="coerce").iloc[0]),
        "model_uri": bundle.model_uri,
        "feature_set_version": str(scores[C.FEATURE_SET_VERSION].iloc[0]),
        "scored_at": jsonable(scores[C.SCORED_AT].iloc[0]) if C.SCORED_AT in scores.columns else None,
        "generated_at": pd.Timestamp.now(tz="UTC").floor("s").isoformat(),
    }
    as_of_by_campaign = scores.drop_duplicates(C.CAMPAIGN_ID).set_index(C.CAMPAIGN_ID)[C.AS_OF]
    docs = []
    for cid in campaigns.index:
        as_of = as_of_by_campaign.loc[cid]
        fam_sorted = summary.loc[cid].sort_values(ascending=False)
        b = brief.loc[cid]
        shown = creators_by_campaign.get(cid, [])
        tied_shown = sum(1 for c in shown if c["ties"] > 0)
        idx_med = index_medians.loc[cid] if index_medians is not None else pd.Series(dtype=float)
        docs.append({
            "campaign_id": cid,
            "brief": {"category": jsonable(b[C.CATEGORY]), "country": jsonable(b[C.COUNTRY]),
                      "budget_usd": jsonable(b[C.BUDGET_USD])},
            "as_of": jsonable(as_of),
            "as_of_text": format_date(as_of),
            **stamp,
            "n_candidates": int(campaigns.at[cid, "n_candidates"]),
            "n_explained": int(campaigns.at[cid, "n_explained"]),
            "reference_note": (notes or {}).get(cid),
            "campaign_mean_score": float(campaigns.at[cid, "campaign_mean_score"]),
            "expected_value": float(expl.expected_value),
            "family_drivers": [
                {"family": f, "title": family_title(f), "measures": family_measures(f),
                 "mean_abs_contribution": float(v)} for f, v in fam_sorted.items()
            ],
            "index_names": {c: INDEX_TEXT[c].name if c in INDEX_TEXT else c for c in index_cols},
            "index_short": {c: INDEX_TEXT[c].short if c in INDEX_TEXT else c for c in index_cols},
            "index_medians": {c: jsonable(idx_med.get(c)) for c in index_cols},
            "index_median_text": "; ".join(
                f"{INDEX_TEXT[c].short if c in INDEX_TEXT else c} "
                + (MISSING if is_missing(idx_med.get(c)) else f"{float(idx_med.get(c)):.0f}") for c in index_cols),
            "confidence_rules": dict(CONFIDENCE_RULES),
            "tie_note": (f"{tied_shown} of the {len(shown)} creators shown share their score with other candidates: "
                         "the model cannot tell them apart, so they are shown as tied, not ranked."
                         if tied_shown else None),
            "creators": shown,
            "value_summary": (value_summary(shown, b[C.BUDGET_USD], roas_of.get(cid)) if values_of is not None
                              else None),
        })
    return docs


def value_terms(manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the manifest says of the value columns: ``interval`` and ``target_roas`` per campaign.

    A manifest of a model without a value model (or an older one) gives empty terms.
    """
    manifest = manifest or {}
    value = manifest.get("value") or {}
    roas = {str(c[C.CAMPAIGN_ID]): c.get(C.TARGET_ROAS) for c in manifest.get("campaigns", [])
            if not is_missing(c.get(C.TARGET_ROAS))}
    interval = value.get("interval")
    return {"interval": None if is_missing(interval) else float(interval), "target_roas": roas}


def _row_values(scores: pd.DataFrame, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The value columns of the scores file for each explained row (matched on campaign and creator)."""
    keys = [C.CAMPAIGN_ID, C.CREATOR_ID]
    file = scores[[*keys, *VALUE_COLUMNS]].astype({C.CAMPAIGN_ID: str, C.CREATOR_ID: str})
    wanted = rows[keys].astype(str).reset_index(drop=True)
    got = wanted.merge(file, on=keys, how="left", validate="many_to_one")
    return got[list(VALUE_COLUMNS)].astype(np.float64).to_dict("records")


def _target_roas(scores: pd.DataFrame, recorded: Mapping[str, Any] | None) -> dict[str, float | None]:
    """Campaign id -> the target return on spend of its fair fees.

    The manifest's (``recorded``) where it has one; else read back from the file's own
    columns (``expected_gmv_usd / fair_fee_usd``, the same for every row of a brief); None
    when neither says.
    """
    out: dict[str, float | None] = {}
    expected = scores[C.EXPECTED_GMV_USD].to_numpy(dtype=np.float64)
    fair = scores[C.FAIR_FEE_USD].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pd.Series(np.where(fair > 0, expected / fair, np.nan), index=scores.index)
    derived = ratio.groupby(scores[C.CAMPAIGN_ID].astype(str).to_numpy()).median()
    for cid in pd.unique(scores[C.CAMPAIGN_ID].astype(str)):
        given = (recorded or {}).get(cid)
        if not is_missing(given) and float(given) > 0:
            out[cid] = float(given)
        else:
            d = derived.get(cid)
            out[cid] = None if is_missing(d) else float(round(d, 6))
    return out

