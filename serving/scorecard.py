"""A creator's own score card: where they stand, what it means, what would move it.

``scorecard()`` is the body of ``creatorrank scorecard``. The card is written for the
creator, not a data scientist: each 0-100 index with what it measures and how, their rank
among the creators of their category and country for a typical campaign of that category,
what would move that rank most (only things they can change, in the direction the model
rewards), what they are worth to such a campaign and a fair fee against their rate card
(when the model has a value model: :func:`card_value`), and what the card rests on (dates,
counts).

"What would move your rank" is measured, not guessed: for each feature the creator can
act on, the card sets their value to what the better quarter of their peers reach (the
catalogue's direction says which way is better), asks the model for the new score, and
reports the new rank, other things equal. Advice the model does not reward is left out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError
from ..core.io import check_output, write_text
from ..core.jsonio import dump_json, jsonable
from ..core.timeutil import parse_ts, to_utc
from ..data.timeline import data_end
from ..data.validate import load_clean_tables
from ..features.engine import build_features, snapshot
from ..features.specs import CATALOGUE, INDEX_NAMES
from ..training.config import champion_uri
from .briefs import canonical_code, known_codes
from .explain import catalogue_families, explain
from .pages import (LITTLE_EVIDENCE, OVER, UNDER, WITHIN, creator_history, creator_value, fair_fee_range,
                    has_value_columns, interval_text, model_explains, money, roas_text, value_contributions,
                    value_drivers)
from .ranking import (confidence, evidence_text, index_evidence, rank_text, thin_index_note, tie_counts, tie_span,
                      within_campaign_rank)
from .render import render_card
from .score import add_fair_fee, check_feature_set, default_target_roas, load_model, value_model
from .card_peers import MIN_PEERS, _peer_group, card_decision, day_after, peer_rows  # noqa: F401 (re-exported)
from .snapshots import market_for
from .text import (INDEX_TEXT, advice_sentence, family_measures, family_title, feature_text, format_date,
                   history_sentence, index_how, value_text)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = champion_uri()  # models:/<registered_model>@champion of the training config
TARGET_QUANTILE = 0.75  # "what the better quarter of your peers reach"
ADVICE = 3  # suggestions shown
STRENGTHS = 2  # families shown as helping / holding back
TYPICAL = "typical"  # the campaign id of the card's typical brief (category and country of the card)


def default_as_of(tables) -> pd.Timestamp:
    """The start of the day after the latest fact: the card then sees everything in the data."""
    return day_after(data_end(tables))





def scorecard(
    data_dir: str | os.PathLike,
    creator_id: str,
    out: str | os.PathLike,
    category: str | None = None,
    model_uri: str | None = None,
    as_of: str | pd.Timestamp | None = None,
    tracking_uri: str | None = None,
    engine: str = "local",
    scheduler: Any = None,
    n_shards: int | None = None,
    wave_shards: int | None = None,
    scratch=None,
) -> Path:
    """Write a creator's score card as one self-contained HTML page (and a JSON twin).

    Parameters
    ----------
    data_dir : path-like
        Folder of raw contract tables.
    creator_id : str
        The creator.
    out : path-like
        Output HTML file; ``<out>.json`` is written beside it. Both replaced atomically.
    category : str, optional
        Category to judge influence and rank in; default the creator's primary category.
    model_uri : str, optional
        Default ``models:/creator-ranker@champion`` (resolved to a version once).
    as_of : str or Timestamp, optional
        Card date; default the day after the latest fact in the data.
    tracking_uri : str, optional
        MLflow store (default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``).
    engine : {"local", "dask"}
        ``local``: the clean tables in this process (:class:`LocalCard`). ``dask``: the workers
        read their shards of ``data_dir`` and compute the peers' features and the creator's
        history there; this process holds the creators and campaigns tables
        (:class:`creatorrank.serving.dask_explain.ClusterCard`). The same card either way.
    scheduler, n_shards, wave_shards, scratch
        Dask only: the scheduler address (default a local cluster), the shards of creators, the
        shards prepared at once and the folder of the data partitioned by shard
        (:func:`creatorrank.serving.scored_run.read_run`).

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    CreatorRankError
        Unknown creator id (one line), bad ``as_of``.
    ModelError
        The model cannot be loaded or was trained on another feature set.
    """
    out = check_output(out, (".html", ".htm"))
    check_output(out.with_suffix(".json"), (".json",))
    creator_id = str(creator_id)
    when = None
    if as_of is not None:
        when = parse_ts(as_of, "as-of") if isinstance(as_of, str) else to_utc(as_of)
    if engine not in ("local", "dask"):
        raise CreatorRankError(f"engine must be local or dask, got '{engine}'")
    if engine == "local" and any(v is not None for v in (scheduler, n_shards, wave_shards, scratch)):
        raise CreatorRankError("a scheduler, shards, waves and a scratch folder need the dask engine")
    if engine == "dask":
        from .dask_explain import cluster_card

        opened = cluster_card(data_dir, scheduler, n_shards, wave_shards, scratch)
    else:
        opened = contextlib.nullcontext(LocalCard(load_clean_tables(data_dir)))
    with opened as market:
        creators = market.creators
        match = creators[creators[C.CREATOR_ID].astype(str) == creator_id]
        if match.empty:
            raise CreatorRankError(f"unknown creator id '{creator_id}' (not in the data's creators, or rejected by "
                                   "validation)")
        me = match.iloc[0]
        if category is not None:  # a category nobody has is a typo, not an empty card
            known = market.known_categories()
            spelt = canonical_code(category, known)
            if spelt not in known:
                shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
                raise CreatorRankError(f"unknown category '{category}': the data's categories are {shown or 'none'}")
            category = spelt
        when = when if when is not None else market.default_as_of()
        category = category if category is not None else (None if pd.isna(me[C.PRIMARY_CATEGORY])
                                                           else str(me[C.PRIMARY_CATEGORY]))
        country = str(me[C.COUNTRY])

        bundle = load_model(model_uri or DEFAULT_MODEL, tracking_uri)
        check_feature_set(bundle)

        group, peer_label, history = market.rows(creator_id, when, category, country)
    doc = card_document(bundle, group, me, history, when, category, country, peer_label)
    path = write_text(out, render_card(doc))
    write_text(out.with_suffix(".json"), dump_json(doc, indent=1))
    logger.info("score card of %s written to %s", creator_id, path)
    return path


class LocalCard:
    """What a card needs from the clean tables in this process (the Dask twin:
    :class:`creatorrank.serving.dask_explain.ClusterCard`)."""

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self.tables, self.creators = tables, tables[C.CREATORS]

    def known_categories(self) -> list[str]:
        """The data's categories (:func:`creatorrank.serving.briefs.known_codes`)."""
        return known_codes(self.tables, C.CATEGORY)

    def default_as_of(self) -> pd.Timestamp:
        """:func:`default_as_of` of the tables."""
        return default_as_of(self.tables)

    def rows(self, creator_id: str, when: pd.Timestamp, category: str | None,
             country: str) -> tuple[pd.DataFrame, str, pd.Series]:
        """:func:`card_group` and the creator's history (:func:`creatorrank.serving.pages.creator_history`)."""
        group, label = card_group(self.tables, self.creators, creator_id, when, category, country)
        history = creator_history(self.tables, pd.DataFrame({C.CREATOR_ID: [creator_id], C.AS_OF: [when]})).iloc[0]
        return group, label, history


def card_group(tables, creators: pd.DataFrame, creator_id: str, when: pd.Timestamp, category: str | None,
               country: str) -> tuple[pd.DataFrame, str]:
    """Features of the creator (row 0) and their peers as of ``when`` for a typical brief, and the peers' label.

    The market is prepared once, as scoring does (:func:`creatorrank.serving.snapshots.market_for`):
    the peers' features fill the market's snapshot of ``when``, and the creator's own row (a newcomer
    who joined at or after ``when`` is not among the peers) is built on the same market
    instead of preparing the tables a second time. ``tables`` may be that market already.
    """
    market = market_for(tables, [when])
    snap = snapshot(market, when, category=category, country=country)
    return peer_rows(snap, lambda: build_features(market, card_decision(creator_id, when, category, country)),
                     creators, creator_id, category, country)


def creator_families(features) -> dict[str, str]:
    """Catalogue families, with each 0-100 index counted in the family it summarises.

    A creator reads "Sales helps you" more easily than "the 0-100 indices help you".
    """
    families = catalogue_families(list(features))
    for name, text in INDEX_TEXT.items():
        if name in families:
            families[name] = text.family
    return families


def _rank_of(scores: np.ndarray) -> tuple[int, int, int]:
    """Row 0's place among all rows: (first rank of its tie group, others tied with it, group size).

    The same tie rule as scoring (:mod:`creatorrank.serving.ranking`): rows with exactly the
    same score are tied, and row 0 is "tied with N others at rank a-b", not ranked first.
    """
    same = np.zeros(len(scores), dtype=np.int8)
    rank = within_campaign_rank(same, scores, np.arange(len(scores)).astype(str))
    ties = tie_counts(same, scores)
    first, _ = tie_span(same, scores, rank, ties)
    return int(first[0]), int(ties[0]), len(scores)


def card_document(bundle, group: pd.DataFrame, me: pd.Series, history: pd.Series, when: pd.Timestamp,
                  category: str | None, country: str, peer_label: str) -> dict[str, Any]:
    """Everything the card shows, JSON-ready. Row 0 of ``group`` is the creator."""
    specs = {s.name: s for s in CATALOGUE}
    no_history = int(history["posts"]) + int(history["invitations"]) + int(history["orders"]) == 0
    scores = bundle.predict(group)
    rank, ties, n = _rank_of(scores)
    ranks = np.r_[1, np.arange(2, len(group) + 1)]  # explain row 0 only
    expl = explain(bundle, group, top=1, rank=ranks, score=scores, families=creator_families(bundle.features))
    fam = expl.families.iloc[0].sort_values()
    row = group.iloc[0]

    indices = []
    for name in INDEX_NAMES:
        text = INDEX_TEXT[name]
        value = row.get(name)
        value = None if value is None or pd.isna(value) else float(value)
        peers_of_index = f"{category} creators" if name == "idx_category_influence" and category else "all creators"
        median = pd.to_numeric(group[name].iloc[1:], errors="coerce").median() if name in group.columns else np.nan
        evidence, _ = index_evidence(row, name)
        thin_note = thin_index_note(row, name)
        indices.append({
            "index": name, "name": text.name, "value": value, "measures": text.measures,
            "how": index_how(name, specs), "peers": peers_of_index,
            "peer_median": None if pd.isna(median) else float(median),
            "evidence": evidence, "thin_evidence": thin_note,
            "reading": _index_reading(value, peers_of_index, no_history, thin_note),
        })

    advice = _advice(bundle, group, scores, rank, specs)
    helping = [f for f, v in fam[::-1].items() if v > 0][:STRENGTHS]
    holding = [f for f, v in fam.items() if v < 0][:STRENGTHS]
    posts, invitations, orders = int(history["posts"]), int(history["invitations"]), int(history["orders"])
    level = str(confidence(posts, invitations, orders))
    doc = {
        "creator_id": str(me[C.CREATOR_ID]),
        "country": country,
        "category": category,
        "as_of": jsonable(when),
        "as_of_text": format_date(when),
        "model_name": bundle.model_name,
        "model_version": bundle.model_version,
        "model_uri": bundle.model_uri,
        "feature_set_version": str(bundle.feature_set_version),
        "generated_at": pd.Timestamp.now(tz="UTC").floor("s").isoformat(),
        "peers": peer_label,
        "n_peers": n,
        "rank": rank,
        "ties": ties,
        "rank_last": rank + ties,
        "confidence": level,
        "evidence_text": evidence_text(posts, invitations, orders),
        "rank_text": (f"For a typical {category + ' ' if category else ''}campaign in {country}, you "
                      + (f"rank #{rank:,} of {n:,} {peer_label}" if not ties else
                         f"are {rank_text(rank, ties, rank, n)} {peer_label} (the model cannot tell you apart)")
                      + (f": in the top {math.ceil(100.0 * (rank + ties) / n)}%." if 100.0 * (rank + ties) / n <= 50
                         else ".")),
        "no_history": no_history,
        "indices": indices,
        "advice": advice,
        "helping": [{"family": f, "title": family_title(f), "measures": family_measures(f),
                     "contribution": float(fam[f])} for f in helping],
        "holding": [{"family": f, "title": family_title(f), "measures": family_measures(f),
                     "contribution": float(fam[f])} for f in holding],
        "history": {
            "posts": posts, "invitations": invitations, "orders": orders,
            "first_activity": jsonable(history["first_activity"]), "joined_at": jsonable(history["joined_at"]),
            "first_activity_text": format_date(history["first_activity"]),
            "joined_text": format_date(history["joined_at"]),
            "text": history_sentence(posts, invitations, orders, history["first_activity"], history["joined_at"]),
        },
        "month_start_text": format_date(pd.Timestamp(when).tz_convert("UTC").floor("D").replace(day=1)),
        "families": {f: float(v) for f, v in expl.families.iloc[0].items()},
    }
    doc["value"] = card_value(bundle, group.iloc[[0]], me, category, country, level, doc["history"]["text"],
                              group=group, peer_label=peer_label)
    return doc


def card_value(bundle, row: pd.DataFrame, me: pd.Series, category: str | None, country: str, level: str,
               rests_on: str, group: pd.DataFrame | None = None, peer_label: str | None = None) -> dict[str, Any] | None:
    """What the creator is worth to a typical campaign of the card's category and country.

    The bundle's value model (:func:`creatorrank.serving.score.value_model`) forecasts the
    creator's row of the card (features of a brief with the card's category and country and no
    budget); the fair fee is the scores' own (:func:`creatorrank.serving.score.add_fair_fee`)
    at the config's default target return on spend. The price flag follows
    :func:`creatorrank.serving.pages.price_flag` (docs/SCORES.md).

    Parameters
    ----------
    row : DataFrame
        The creator's one feature row.
    me : Series
        The creator's row of the creators table (its ``rate_card_usd`` is the declared rate).
    level : str
        Confidence level of the card (none / low are "rests on little evidence"; none: no flag).
    rests_on : str
        The evidence counts of the card, in words (:func:`creatorrank.serving.text.history_sentence`).
    group : DataFrame, optional
        The card's feature rows (row 0 the creator, then the peers): with it the value gets
        ``drivers`` (:func:`card_value_drivers`), why the expected GMV is what it is.
    peer_label : str, optional
        Who the peers are, in words.

    Returns
    -------
    dict or None
        None for a model without a value model: the card then has no value section.
    """
    model = value_model(bundle)
    if model is None:
        return None
    creator_id = str(me[C.CREATOR_ID])
    rate = me.get(C.RATE_CARD_USD)
    rate = np.nan if rate is None or pd.isna(rate) else float(rate)
    roas = default_target_roas(None)
    frame = pd.concat([pd.DataFrame({C.CAMPAIGN_ID: [TYPICAL], C.CREATOR_ID: [creator_id]}),
                       model.predict(row).reset_index(drop=True)], axis=1)
    frame = add_fair_fee(frame, pd.Series([rate], index=[creator_id], dtype=np.float64), {TYPICAL: roas})
    if not has_value_columns(frame):
        return None
    interval = getattr(model, "interval", None)
    value = creator_value(frame.iloc[0].to_dict(), rate, roas, level, interval)
    if value is None or value["p10_usd"] is None or value["p90_usd"] is None:
        return None
    campaign = f"a typical {category + ' ' if category else ''}campaign in {country}"
    rate_words = money(value["rate_card_usd"]) if value["rate_card_usd"] is not None else "not declared"
    value["headline"] = (f"What you are worth to {campaign}: {money(value['p10_usd'])}-{money(value['p90_usd'])}; "
                         f"a fair fee: {money(value['fair_fee_usd'])}; your rate card: {rate_words}.")
    value["expected_line"] = (f"Expected net GMV {money(value['expected_usd'])} ({interval_text(interval)} range "
                              f"{money(value['p10_usd'])}-{money(value['p90_usd'])}); the fair fee is that divided by "
                              f"{roas_text(roas)}, the default return a brand targets on its spend.")
    value["skewed"] = value["expected_usd"] > value["p90_usd"]
    value["flag_text"] = _price_words(value, level)
    value["rests_on"] = f"What it rests on: {rests_on}" + (f" It {LITTLE_EVIDENCE}: it can move a lot with your "
                                                           "next posts and campaigns." if value["thin_note"] else "")
    value["drivers"] = (card_value_drivers(bundle, model, group, value["expected_usd"], peer_label)
                        if group is not None else None)
    return value


def card_value_drivers(bundle, model, group: pd.DataFrame, expected: float, peer_label: str | None
                       ) -> dict[str, Any] | None:
    """Why the card's expected GMV is what it is: the value model's top drivers up and down, as factors.

    The value model's SHAP values of the creator's row (checked additive,
    :func:`creatorrank.serving.pages.value_contributions`), worded as the campaign report words
    them, with the median of the card's peers; None when the shown expected GMV is not the
    model's own.
    """
    row = group.iloc[[0]]
    expl = value_contributions(model, row, [TYPICAL])
    if not model_explains(expected, float(expl.expected[0])):
        return None
    features = list(bundle.features)
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(group[f].dtype)]
    medians = group[numeric].iloc[1:].median()
    values = {f: (None if pd.isna(v) else v) for f, v in row[features].iloc[0].items()}
    peers = {f: (None if f not in medians.index or pd.isna(medians[f]) else float(medians[f])) for f in features}
    label = f"typical for {peer_label}" if peer_label else "typical"
    return value_drivers(expl.contributions.iloc[0].to_dict(), expl.level, expected, values, peers,
                         creator_families(features), label)


def _price_words(value: dict[str, Any], level: str) -> str:
    """The card's sentence on the rate card against the fair-fee range."""
    if value["rate_card_usd"] is None:
        return "You have not declared a rate card: there is nothing to compare with the fair fee."
    if value["price_flag"] is None:
        if level == "none":
            return ("No price flag yet: there are no posts, invitations or orders of yours to judge your rate card by.")
        return "No price flag: the fair-fee range is not known."
    low, high = fair_fee_range(value["expected_usd"], value["p10_usd"], value["p90_usd"], value["target_roas"])
    span = f"{money(low)}-{money(high)}"
    return {
        UNDER: f"You may be under-priced: your rate card is below the fair-fee range {span} for this kind of campaign.",
        WITHIN: f"Your rate card is within the fair-fee range {span} for this kind of campaign.",
        OVER: f"Over-priced for this kind of campaign: your rate card is above the fair-fee range {span}.",
    }[value["price_flag"]]


def _index_reading(value: float | None, peers: str, no_history: bool, thin: str | None = None) -> str:
    """One sentence on an index value; a missing index is "not enough data yet", thin evidence says so."""
    if value is None:
        return "Not enough data yet: it fills in as you post and work with brands."
    if no_history:
        return f"{value:.0f} is where every new creator starts: there is no activity of yours to compare yet."
    caveat = f" ({thin}: it can move a lot with your next ones)" if thin else ""
    if value >= 99.5:
        return f"You are among the very best of {peers} on this{caveat}."
    return f"You do better than {value:.0f}% of {peers} on this{caveat}."


def _advice(bundle, group: pd.DataFrame, scores: np.ndarray, rank: int, specs: dict) -> list[dict[str, Any]]:
    """What-if on each actionable feature: the creator at the better quarter of peers' value."""
    me = group.iloc[[0]]
    out = []
    for name in bundle.features:
        spec = specs.get(name)
        text = feature_text(name, spec)
        if spec is None or spec.direction == 0 or not text.action or spec.kind != "numeric":
            continue
        peer_values = pd.to_numeric(group[name].iloc[1:], errors="coerce").dropna()
        if peer_values.empty:
            continue
        q = TARGET_QUANTILE if spec.direction > 0 else 1.0 - TARGET_QUANTILE
        target = float(peer_values.quantile(q))
        current = me[name].iloc[0]
        if pd.isna(current):
            continue  # no advice built on a value nobody knows yet
        current = float(current)
        if (current - target) * spec.direction >= 0:
            continue  # already there
        trial = me.copy()
        trial[name] = target
        new_score = float(bundle.predict(trial)[0])
        if new_score <= scores[0] + 1e-12:
            continue  # the model does not reward this move here
        new_rank = int((scores[1:] > new_score).sum()) + 1
        out.append({
            "feature": name,
            "text": advice_sentence(name, target, spec),
            "you": value_text(name, current, spec),
            "target": value_text(name, target, spec),
            "label": text.label,
            "score_gain": new_score - float(scores[0]),
            "rank_now": rank,
            "rank_after": new_rank,
        })
    out.sort(key=lambda a: (a["rank_now"] - a["rank_after"], a["score_gain"]), reverse=True)
    return out[:ADVICE]
