"""Page data: what a campaign report shows, as plain JSON-ready dicts.

:func:`campaign_documents` turns an :class:`~creatorrank.serving.explain.Explanation` of a
scoring run, and the features it explains, into one document per campaign: stamps (model,
feature set, dates), the family summary, and each explained creator with rank (ties as
ties), evidence, indices, drivers up and down in plain words and history counts. The same
document is the campaign's JSON file and the context of its HTML template
(:mod:`creatorrank.serving.render`). :func:`creator_history` counts the facts a creator's
score rests on (shared with the score card). Documents are written as strict JSON
(:mod:`creatorrank.core.jsonio`).

Every creator row says what it rests on: a tie is "tied with N others at rank a-b", thin
evidence is marked ("based on 2 posts", confidence levels of
:mod:`creatorrank.serving.ranking`), a creator without a post in the brief's category is
flagged, a missing input is "unknown", never evidence.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.jsonio import jsonable
from ..features.specs import CATALOGUE
from .ranking import (CONFIDENCE_RULES, THIN, confidence, evidence_text, rank_label, rank_text, thin_index_note,
                      tie_counts, tie_span)
from .shards import EVIDENCE_SUFFIX, index_columns
from .text import (INDEX_TEXT, MISSING, family_measures, family_title, feature_sentence, format_date,
                   history_sentence, is_missing)

TOP_DRIVERS = 3  # drivers up and down shown per creator
SHOWN_CONTRIBUTION = 0.005  # smaller pushes print as +0.00 / -0.00: not shown as drivers
PEERS_LABEL = "campaign median"


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
                       history: pd.DataFrame, bundle, notes: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One JSON-ready document per campaign: stamps, family summary, ranked creators with drivers.

    Built column-wise (numpy over all explained creators, then small per-creator dicts):
    the top 100 of 100 campaigns are 10,000 creators.
    """

    features = list(bundle.features)
    specs = _specs(features)
    families = expl.feature_families
    fam_titles = [family_title(families.get(f, "other")) for f in features]
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
        out = []
        for j, good in zip(cols, ok):
            if not good:
                continue
            name = features[j]
            peer = med[i, j]
            peer = None if peer is None or (isinstance(peer, float) and math.isnan(peer)) else peer
            out.append({
                "feature": name, "family": families.get(name), "family_title": fam_titles[j],
                "contribution": float(contrib[i, j]), "value": values[i, j], "campaign_median": peer,
                "unknown": is_missing(values[i, j]),
                "text": feature_sentence(name, values[i, j], specs.get(name), peer, PEERS_LABEL),
            })
        return out

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
        })
    return docs

