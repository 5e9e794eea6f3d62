"""Campaign reports: why each creator ranks where they do, in HTML for people and JSON for machines.

``explain_campaigns()`` is the body of ``creatorrank explain``. For a scores file written by
``creatorrank score`` it:

1. reads the scores file and the manifest ``score`` wrote beside it
   (:mod:`creatorrank.serving.manifest`; a scores file without one is refused: run score
   again). The manifest, not guesswork, says which model version made the scores, each
   brief as scored, the eligibility rules and how many candidates each brief had;
2. loads that model version (or the one given) and refuses a feature-set mismatch;
3. rebuilds the features of the listed creators as of the file's ``as_of`` and checks that
   the model reproduces the file's scores (otherwise the explanation would be of another
   score). A file cut with ``score --top`` lists only the best creators, but comparisons
   must be with every creator scored: the rest of the field is found again with the run's
   own rules and checked against the manifest's hash of the scored ids
   (:func:`complete_candidates`);
4. explains the top ``K`` creators of each campaign relative to the campaign mean
   (:func:`creatorrank.serving.explain.explain`);
5. writes the whole report folder at once (:func:`creatorrank.core.io.atomic_dir`): one
   self-contained HTML page and one JSON file per campaign (no external assets: charts are
   inline SVG, CSS is inline) and an ``index.html``. A run killed midway leaves the previous
   folder, never pages of two runs side by side.

Every creator row says what it rests on: a tie is "tied with N others at rank a-b", thin
evidence is marked ("based on 2 posts", confidence levels of
:mod:`creatorrank.serving.ranking`), a creator without a post in the brief's category is
flagged, a missing input is "unknown", never evidence.

Charts are drawn as inline SVG by this module rather than with matplotlib: a matplotlib
figure costs about 0.1 s to save, i.e. 1,000 s for the top 100 of 100 campaigns, while an
SVG string costs well under a millisecond, stays sharp at any zoom and keeps pages small.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError, InputError, ModelError

logger = logging.getLogger(__name__)

TOP_DRIVERS = 3  # drivers up and down shown per creator
SHOWN_CONTRIBUTION = 0.005  # smaller pushes print as +0.00 / -0.00: not shown as drivers
WATERFALL_BARS = 7  # families drawn in a waterfall; the rest are summed into one bar
SCORE_COLUMNS = [C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE, C.RANK, C.MODEL_NAME, C.MODEL_VERSION,
                 C.FEATURE_SET_VERSION, C.AS_OF]
BRIEF_COLUMNS = [C.CATEGORY, C.COUNTRY, C.BUDGET_USD]
PEERS_LABEL = "campaign median"


# ============================================================================ entry point


def explain_campaigns(
    scores_path: str | os.PathLike,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model_uri: str | None = None,
    top: int = 10,
    all_creators: bool = False,
    tracking_uri: str | None = None,
    timings: dict | None = None,
) -> list[Path]:
    """Write one HTML report and one JSON file per campaign of a scores file, and an index.

    Parameters
    ----------
    scores_path : path-like
        Scores file (``.parquet`` or ``.csv``) written by ``creatorrank score``, with its
        manifest ``<scores>.manifest.json`` beside it.
    data_dir : path-like
        Folder of raw contract tables (the same data the scores were made from).
    out_dir : path-like
        Output folder: ``index.html``, ``index.json`` and ``campaign-<id>.html|.json``. Checked
        before any work and replaced whole (its previous content goes).
    model_uri : str, optional
        Default: the model version the manifest says made the scores.
    top : int
        Creators explained per campaign (the best-ranked ones).
    all_creators : bool
        Explain every creator of the file.
    tracking_uri : str, optional
        MLflow store (default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``).
    timings : dict, optional
        Filled with wall seconds per stage (and row counts), for benchmarks.

    Returns
    -------
    list of Path
        The campaign HTML pages, in campaign order (``index.html`` sits beside them).

    Raises
    ------
    CreatorRankError
        An output folder that cannot be written (before any work).
    InputError
        Unreadable scores file, missing columns, no manifest beside the scores (run score
        again), a scores file changed since its manifest was written.
    ModelError
        The model cannot be loaded, was trained on another feature set than the scores, or
        does not reproduce the scores from the data; a ``--top`` cut whose full field the
        data no longer gives.
    """
    from ..core.io import check_output
    from .explain import explain
    from ..data.validate import load_clean_tables
    from .manifest import inputs_changed, read_manifest
    from .score import check_feature_set, load_model

    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    if int(top) < 1:
        raise CreatorRankError(f"top must be >= 1, got {top}")
    out = check_output(out_dir, folder=True)
    scores = read_scores(scores_path)
    manifest = read_manifest(scores_path)
    uri = model_uri or manifest["model"].get("resolved_uri") or stamped_model_uri(scores, scores_path)
    bundle = load_model(uri, tracking_uri)
    check_versions(scores, bundle, scores_path)
    check_feature_set(bundle)
    seconds["model"] = time.perf_counter() - t0

    t = time.perf_counter()
    changed = inputs_changed(manifest, data_dir)
    if changed:
        logger.warning("%s changed since scoring (the scores are checked against the model below)", ", ".join(changed))
    tables = load_clean_tables(data_dir)
    brief_frame = campaign_briefs(scores, tables, manifest=manifest)
    candidates, notes = complete_candidates(scores, tables, brief_frame, manifest)
    frame = rebuild_features(tables, candidates, brief_frame)
    seconds["features"] = time.perf_counter() - t

    t = time.perf_counter()
    score = check_reproduces(bundle, frame, uri)
    rank = rank_unlisted(frame, score)
    listed_top = int(scores[C.RANK].max()) if all_creators else int(top)
    expl = explain(bundle, frame, top=listed_top, rank=rank, score=score)
    seconds["explain"] = time.perf_counter() - t

    t = time.perf_counter()
    rows = expl.rows
    history = creator_history(
        tables, pd.DataFrame({C.CREATOR_ID: rows[C.CREATOR_ID], C.AS_OF: frame[C.AS_OF].to_numpy()[rows["position"]]})
    )
    docs = campaign_documents(expl, frame, scores, brief_frame, history, bundle, notes)
    seconds["assemble"] = time.perf_counter() - t

    t = time.perf_counter()
    pages = write_reports(docs, out)
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    if timings is not None:
        timings.update({f"{k}_s": v for k, v in seconds.items()})
        timings.update({f"{k}_s": v for k, v in expl.seconds.items()})
        timings.update(candidates=int(len(frame)), explained=int(len(expl.rows)), campaigns=int(len(expl.campaigns)))
    logger.info("%d campaign report(s) in %s: %s", len(pages), out,
                ", ".join(f"{k} {v:.1f}s" for k, v in seconds.items()))
    return pages


# ============================================================================ inputs


def read_scores(path: str | os.PathLike) -> pd.DataFrame:
    """Read a scores file and check its columns.

    Raises
    ------
    InputError
        Missing or unreadable file, a missing column, no rows, or several feature-set
        versions or models in one file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: scores file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            scores = pd.read_parquet(path)
        elif suffix == ".csv":
            scores = pd.read_csv(path, dtype={C.CAMPAIGN_ID: str, C.CREATOR_ID: str, C.MODEL_NAME: str,
                                              C.FEATURE_SET_VERSION: str}, keep_default_na=False, na_values=[""])
        else:
            raise InputError(f"{path}: scores file must end in .parquet or .csv")
    except InputError:
        raise
    except Exception as exc:  # corrupt file: one line, not a traceback
        raise InputError(f"{path}: unreadable scores file ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise InputError(f"{path}: scores file lacks column '{missing[0]}' (write it with `creatorrank score`)")
    if scores.empty:
        raise InputError(f"{path}: scores file has no rows")
    for col in (C.FEATURE_SET_VERSION, C.MODEL_NAME):
        if scores[col].astype(str).nunique() > 1:
            raise InputError(f"{path}: scores file mixes several values of {col}; explain one scoring run at a time")
    scores = scores.copy()
    scores[C.CAMPAIGN_ID] = scores[C.CAMPAIGN_ID].astype(str)
    scores[C.CREATOR_ID] = scores[C.CREATOR_ID].astype(str)
    scores[C.AS_OF] = pd.to_datetime(scores[C.AS_OF], utc=True, format="ISO8601")
    if C.SCORED_AT in scores.columns:
        scores[C.SCORED_AT] = pd.to_datetime(scores[C.SCORED_AT], utc=True, format="ISO8601")
    if scores.duplicated([C.CAMPAIGN_ID, C.CREATOR_ID]).any():
        raise InputError(f"{path}: a creator appears twice for one campaign")
    return scores.sort_values([C.CAMPAIGN_ID, C.RANK], kind="stable").reset_index(drop=True)


def stamped_model_uri(scores: pd.DataFrame, path: Any = "scores") -> str:
    """``models:/NAME/VERSION`` of the model stamped in a scores file."""
    name = str(scores[C.MODEL_NAME].iloc[0])
    version = pd.to_numeric(scores[C.MODEL_VERSION], errors="coerce").dropna().unique()
    if len(version) != 1:
        raise InputError(f"{path}: the scores carry no single registered model version; pass the model URI")
    return f"models:/{name}/{int(version[0])}"


def check_versions(scores: pd.DataFrame, bundle, path: Any = "scores") -> None:
    """Refuse a model whose feature-set version differs from the one stamped in the scores."""
    stamped = str(scores[C.FEATURE_SET_VERSION].iloc[0])
    if stamped != str(bundle.feature_set_version):
        raise ModelError(
            f"{path}: scored with feature set {stamped}, but model {bundle.model_uri or ''} uses "
            f"{bundle.feature_set_version}; explain with the model that made the scores"
        )


def campaign_briefs(
    scores: pd.DataFrame, tables: Mapping[str, pd.DataFrame], briefs: str | os.PathLike | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Category, country and budget of each campaign of the scores.

    With a manifest, the briefs exactly as they were scored (the manifest records them).
    Without one (benchmarks reading a scores file directly), taken in this order from the
    scores file's own columns, the briefs file, the data's campaigns table.

    Raises
    ------
    InputError
        A campaign found in none of them.
    """
    ids = list(dict.fromkeys(scores[C.CAMPAIGN_ID]))
    found: dict[str, dict[str, Any]] = {}
    if manifest is not None:
        from .manifest import campaign_entries

        entries = campaign_entries(manifest)
        missing = [cid for cid in ids if cid not in entries]
        if missing:
            raise InputError(f"campaign {missing[0]}: in the scores file but not in its manifest; run score again")
        found = {cid: {c: entries[cid].get(c) for c in BRIEF_COLUMNS} for cid in ids}
        out = pd.DataFrame([{C.CAMPAIGN_ID: cid, **found[cid]} for cid in ids])
        out[C.BUDGET_USD] = pd.to_numeric(out[C.BUDGET_USD], errors="coerce").astype(np.float64)
        return out
    if C.CATEGORY in scores.columns and C.COUNTRY in scores.columns:
        first = scores.drop_duplicates(C.CAMPAIGN_ID).set_index(C.CAMPAIGN_ID)
        for cid in ids:
            row = first.loc[cid]
            if pd.notna(row[C.CATEGORY]) and pd.notna(row[C.COUNTRY]):
                found[cid] = {c: row.get(c, np.nan) for c in BRIEF_COLUMNS}
    sources = []
    if briefs is not None:
        from .briefs import read_briefs

        sources.append(read_briefs(briefs))
    sources.append(tables[C.CAMPAIGNS])
    for source in sources:
        known = source.drop_duplicates(C.CAMPAIGN_ID).set_index(source[C.CAMPAIGN_ID].drop_duplicates().astype(str))
        for cid in ids:
            if cid not in found and cid in known.index:
                row = known.loc[cid]
                found[cid] = {c: row[c] for c in BRIEF_COLUMNS}
    unknown = [cid for cid in ids if cid not in found]
    if unknown:
        raise InputError(
            f"campaign {unknown[0]}{f' and {len(unknown) - 1} more' if len(unknown) > 1 else ''}: not in the "
            "data's campaigns and its brief (category, country) is not in the scores file; pass the briefs file"
        )
    out = pd.DataFrame([{C.CAMPAIGN_ID: cid, **found[cid]} for cid in ids])
    out[C.BUDGET_USD] = pd.to_numeric(out[C.BUDGET_USD], errors="coerce").astype(np.float64)
    return out


def complete_candidates(scores: pd.DataFrame, tables: Mapping[str, pd.DataFrame], briefs: pd.DataFrame,
                        manifest: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Bring back the candidates a ``--top`` cut left out of the scores file.

    The campaign mean must be taken over every creator the run scored. The manifest says
    how many that was, with which candidate mode and eligibility rules, and the hash of
    their ids; the missing ones are found again with those same rules, and the set found
    must hash to the manifest's.

    Returns
    -------
    candidates : DataFrame
        The scores plus rebuilt rows (``score`` and ``rank`` missing: not listed).
    notes : dict
        Campaign -> a sentence for the report on how the full field was brought back.

    Raises
    ------
    ModelError
        The data no longer gives the scored candidate set (it changed since scoring).
    """
    from ..core.timeutil import to_utc
    from .candidates import CandidateFinder, EligibilityRules
    from .manifest import campaign_entries, ids_sha256

    entries = campaign_entries(manifest)
    listed = scores.groupby(C.CAMPAIGN_ID, sort=False).size()
    scored = {cid: int(entries[cid]["candidates"]) for cid in listed.index}
    for cid in listed.index:
        if listed[cid] > scored[cid]:
            raise InputError(f"campaign {cid}: the scores file lists {listed[cid]:,} creators but its manifest "
                             f"says {scored[cid]:,} were scored; run score again")
    cut = [cid for cid in listed.index if scored[cid] > listed[cid]]
    notes: dict[str, str] = {}
    if not cut:
        return scores, notes
    known = {f for f in EligibilityRules.__dataclass_fields__}
    rules = EligibilityRules(**{k: v for k, v in (manifest.get("eligibility") or {}).items() if k in known})
    mode = str(manifest.get("candidates", "eligible"))
    finder = CandidateFinder(tables, rules)
    brief = briefs.set_index(C.CAMPAIGN_ID, drop=False)
    extra = []
    for cid in cut:
        rows = scores[scores[C.CAMPAIGN_ID] == cid]
        mine = set(rows[C.CREATOR_ID])
        as_of = to_utc(pd.Timestamp(entries[cid][C.AS_OF]))
        try:
            ids = {str(i) for i in finder.find(brief.loc[cid], as_of, mode)}
        except CreatorRankError:
            ids = set()
        if ids_sha256(ids) != entries[cid]["candidates_sha256"] or not mine <= ids:
            raise ModelError(
                f"campaign {cid}: the data no longer gives the {scored[cid]:,} {mode} candidates that were scored "
                f"(found {len(ids):,}); the data changed since scoring: score again"
            )
        found = sorted(ids - mine)
        notes[cid] = (f"The scores file lists the top {listed[cid]:,} of the {scored[cid]:,} creators scored; the other "
                      f"{len(found):,} were found again with the run's own rules, so comparisons are with the whole field.")
        add = pd.DataFrame({C.CAMPAIGN_ID: cid, C.CREATOR_ID: found})
        for col in scores.columns:
            if col not in add.columns:
                add[col] = rows[col].iloc[0] if col in (C.MODEL_NAME, C.MODEL_VERSION, C.FEATURE_SET_VERSION,
                                                        C.AS_OF, C.SCORED_AT) else np.nan
        extra.append(add)
    out = pd.concat([scores, *extra], ignore_index=True)
    out[C.AS_OF] = pd.to_datetime(out[C.AS_OF], utc=True)
    return out, notes


def rank_unlisted(frame: pd.DataFrame, score: np.ndarray) -> np.ndarray:
    """Ranks for every row: the file's for listed creators, after them by score for rebuilt ones.

    Raises
    ------
    ModelError
        A rebuilt creator outscores a listed one: the rebuild is not the set that was scored.
    """
    rank = frame[C.RANK].to_numpy(dtype=np.float64).copy()
    unlisted = np.isnan(rank)
    if not unlisted.any():
        return rank.astype(np.int64)
    campaign = frame[C.CAMPAIGN_ID].to_numpy()
    creator = frame[C.CREATOR_ID].astype(str).to_numpy()
    order = np.lexsort((creator, -score, campaign))
    big = np.nanmax(rank) + 1 if (~unlisted).any() else 1
    for cid in pd.unique(campaign[unlisted]):
        mine = campaign == cid
        listed_min = score[mine & ~unlisted].min() if (mine & ~unlisted).any() else np.inf
        if (score[mine & unlisted] > listed_min + 1e-9).any():
            raise ModelError(
                f"campaign {cid}: the rebuilt candidates outrank listed ones; the scores file was cut with "
                "non-default eligibility rules, so the campaign mean cannot be rebuilt (score again without --top)"
            )
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    rank[unlisted] = big + pos[unlisted]  # beyond every listed rank, in score order
    return rank.astype(np.int64)


def rebuild_features(tables: Mapping[str, pd.DataFrame], scores: pd.DataFrame, briefs: pd.DataFrame) -> pd.DataFrame:
    """Features of every (campaign, creator) of the scores, as of the scores' ``as_of``.

    Returns
    -------
    DataFrame
        In the scores' row order, with the scores' ``rank``, ``percentile`` and ``score``
        (as ``file_score``) beside the features.
    """
    from ..features.engine import build_features

    b = briefs.set_index(C.CAMPAIGN_ID)
    n = len(scores)
    cid = scores[C.CAMPAIGN_ID].to_numpy()
    decisions = pd.DataFrame(
        {
            C.CREATOR_ID: pd.array(scores[C.CREATOR_ID].to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.AS_OF: pd.Series(scores[C.AS_OF].to_numpy(), dtype="datetime64[us, UTC]"),
            C.CAMPAIGN_ID: pd.array(cid, dtype=pd.StringDtype("pyarrow")),
            C.CATEGORY: pd.array(b[C.CATEGORY].reindex(cid).astype(object).to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.COUNTRY: pd.array(b[C.COUNTRY].reindex(cid).astype(object).to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.BUDGET_USD: b[C.BUDGET_USD].reindex(cid).to_numpy(dtype=np.float64) if n else np.zeros(0),
        }
    )
    features = build_features(tables, decisions)  # same rows, same order as the decisions
    features[C.CAMPAIGN_ID] = scores[C.CAMPAIGN_ID].to_numpy()
    features[C.CREATOR_ID] = scores[C.CREATOR_ID].to_numpy()
    features["file_score"] = scores[C.SCORE].to_numpy(dtype=np.float64)
    features[C.RANK] = scores[C.RANK].to_numpy(dtype=np.float64)  # NaN: rebuilt, not in the file
    if C.PERCENTILE in scores.columns:
        features[C.PERCENTILE] = scores[C.PERCENTILE].to_numpy(dtype=np.float64)
    for col in (C.TIES, C.CATEGORY_POSTS_SEEN):  # what the run recorded per row, kept as recorded
        if col in scores.columns:
            features[col] = pd.to_numeric(scores[col], errors="coerce").to_numpy(dtype=np.float64)
    if C.CONFIDENCE in scores.columns:
        features[C.CONFIDENCE] = scores[C.CONFIDENCE].astype(object).to_numpy()
    return features


def check_reproduces(bundle, frame: pd.DataFrame, uri: str, tol: float = 1e-6) -> np.ndarray:
    """Refuse to explain scores the model does not reproduce from the data.

    Returns
    -------
    ndarray
        The recomputed raw scores.

    Raises
    ------
    ModelError
        Naming the worst row: the data or the model changed since scoring.
    """
    recomputed = bundle.predict(frame)
    given = frame["file_score"].to_numpy(dtype=np.float64)
    diff = np.abs(recomputed - given) / np.maximum(1.0, np.abs(given))  # NaN for rebuilt rows: not checked
    if len(diff) and float(np.nanmax(diff)) > tol:
        i = int(np.nanargmax(diff))
        raise ModelError(
            f"model {uri} does not reproduce the scores: campaign {frame[C.CAMPAIGN_ID].iloc[i]}, creator "
            f"{frame[C.CREATOR_ID].iloc[i]} scored {given[i]:.6g}, now {recomputed[i]:.6g} (the data or the "
            "model changed since scoring; score again)"
        )
    return recomputed


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


# ============================================================================ documents


def _specs(features: Iterable[str]) -> dict[str, Any]:
    from ..features.specs import CATALOGUE

    known = {s.name: s for s in CATALOGUE}
    return {f: known.get(f) for f in features}


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and NaT become None, numpy scalars Python ones, times ISO-8601."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def dump_json(doc: Any, indent: int | None = None) -> str:
    """Strict JSON (a NaN is a bug here, not a value); numpy scalars and times are converted."""
    return json.dumps(doc, default=_json_default, allow_nan=False, indent=indent,
                      separators=(",", ":") if indent is None else None)


def _json_default(value: Any) -> Any:
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return converted


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
    from .ranking import tie_counts, tie_span

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
    from .ranking import CONFIDENCE_RULES, THIN, confidence, evidence_text, rank_label, rank_text, thin_index_note
    from .score import EVIDENCE_SUFFIX, index_columns
    from .text import (FAMILY_TEXT, INDEX_TEXT, MISSING, family_title, feature_sentence, format_date,
                       history_sentence, is_missing)

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
                {"family": f, "title": family_title(f), "measures": FAMILY_TEXT.get(f, FAMILY_TEXT["other"]).measures,
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


# ============================================================================ charts (inline SVG)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def waterfall_svg(labels: list[str], values: list[float], start_label: str = "Campaign average",
                  end_label: str = "This creator", width: int = 520) -> str:
    """Horizontal waterfall: from the campaign average (0), each family's push, to the creator.

    Parameters
    ----------
    labels, values : list
        Steps in drawing order (values in score points, relative to the campaign mean).
    start_label, end_label : str
        Names of the first (0) and last (the total) bars.
    width : int
        Pixel width; the height follows from the number of bars.
    """
    row, label_w, value_w, pad = 24, 190, 56, 8
    plot_w = width - label_w - value_w - 2 * pad
    steps = np.cumsum([0.0] + [float(v) for v in values])
    total = float(steps[-1])
    lo, hi = float(min(steps.min(), 0.0)), float(max(steps.max(), 0.0))
    if hi - lo < 1e-12:
        lo, hi = -1.0, 1.0
    span = hi - lo
    lo, hi = lo - 0.04 * span, hi + 0.04 * span

    def x(v: float) -> float:
        return label_w + pad + (v - lo) / (hi - lo) * plot_w

    n = len(values) + 2
    height = n * row + 22
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart"><title>{_esc(end_label)}: {_signed(total)} against '
           f'{_esc(start_label.lower())}</title>']
    zero = x(0.0)
    out.append(f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{n * row + 4}" class="zero"/>')

    def bar(i: int, a: float, b: float, cls: str, label: str, text: str, bold: bool = False) -> None:
        y = 4 + i * row
        left, right = sorted((x(a), x(b)))
        w = max(right - left, 1.5)
        weight = ' font-weight="600"' if bold else ""
        out.append(f'<text x="{label_w}" y="{y + 16}" text-anchor="end" class="lbl"{weight}>{_esc(label)}</text>')
        out.append(f'<rect x="{left:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2" class="{cls}"/>')
        # Values in their own right-hand column: a long bar can never run into them.
        out.append(f'<text x="{width - 2}" y="{y + 16}" text-anchor="end" class="val {cls}v"{weight}>{_esc(text)}</text>')

    y0 = 4
    out.append(f'<text x="{label_w}" y="{y0 + 16}" text-anchor="end" class="lbl">{_esc(start_label)}</text>')
    out.append(f'<circle cx="{zero:.1f}" cy="{y0 + row / 2:.1f}" r="4" class="mark"/>')
    for i, (label, v) in enumerate(zip(labels, values), start=1):
        a, b = float(steps[i - 1]), float(steps[i])
        bar(i, a, b, "up" if v >= 0 else "down", label, _signed(v))
        yc = 4 + i * row
        out.append(f'<line x1="{x(a):.1f}" y1="{yc - 4}" x2="{x(a):.1f}" y2="{yc + 4}" class="link"/>')
    bar(n - 1, 0.0, total, "total", end_label, _signed(total), bold=True)
    ticks = _ticks(lo, hi)
    for t in ticks:
        out.append(f'<text x="{x(t):.1f}" y="{n * row + 18}" text-anchor="middle" class="tick">{t:g}</text>')
    out.append("</svg>")
    return "".join(out)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / count)) if span > 0 else 1.0
    for m in (1, 2, 5, 10):
        if span / (step * m) <= count:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


def bars_svg(labels: list[str], values: list[float], width: int = 520, fmt: str = "{:.2f}",
             notes: list[str] | None = None) -> str:
    """Horizontal bars of non-negative values, largest first as given, each labelled."""
    row, label_w, value_w, pad = 24, 200, 52, 8
    plot_w = width - label_w - value_w - 2 * pad
    top = max([float(v) for v in values] + [1e-12])
    height = len(values) * row + 6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart">']
    for i, (label, v) in enumerate(zip(labels, values)):
        y = 3 + i * row
        w = max(float(v) / top * plot_w, 1.0)
        tip = f"<title>{_esc(notes[i])}</title>" if notes else ""
        out.append(f'<g>{tip}<text x="{label_w}" y="{y + 16}" text-anchor="end" class="lbl">{_esc(label)}</text>'
                   f'<rect x="{label_w + pad}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2" class="bar"/>'
                   f'<text x="{label_w + pad + w + 4:.1f}" y="{y + 16}" class="val">{_esc(fmt.format(v))}</text></g>')
    out.append("</svg>")
    return "".join(out)


def family_waterfall(families: Mapping[str, float], bars: int = WATERFALL_BARS) -> str:
    """A creator's waterfall by family: the largest ``bars`` families, the rest in one bar."""
    from .text import family_title

    items = sorted(families.items(), key=lambda kv: -abs(kv[1]))
    # Pushes that print as +0.00 / -0.00 are no drivers: they join the remainder, and a
    # remainder that itself rounds to zero is left out.
    shown = [kv for kv in items[:bars] if abs(kv[1]) >= SHOWN_CONTRIBUTION]
    rest = items[len(shown):]
    labels = [family_title(f) for f, _ in shown]
    values = [v for _, v in shown]
    rest_total = float(sum(v for _, v in rest))
    if rest and abs(rest_total) >= SHOWN_CONTRIBUTION:
        labels.append(f"{len(rest)} other families" if len(rest) > 1 else family_title(rest[0][0]))
        values.append(rest_total)
    return waterfall_svg(labels, values)


# ============================================================================ HTML


CSS = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#e2e5eb;--up:#17845c;--down:#c2410c;--accent:#2447a8;--bg:#f5f6f8;--idx:#d6e0fb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:26px;margin:6px 0 2px}
h2{font-size:19px;margin:0 0 10px}
h3{font-size:16px;margin:0}
p{margin:6px 0}
a{color:var(--accent)}
.stamp{font-size:13px;color:var(--muted);border-bottom:1px solid var(--line);padding-bottom:8px;margin-bottom:8px}
.stamp b{color:var(--ink);font-weight:600}
.lead{font-size:16px;color:var(--muted);margin:4px 0 12px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:16px 0}
.note{font-size:13px;color:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:14px}
th{font-weight:600;font-size:12px;color:var(--muted);text-align:left;padding:6px 8px;border-bottom:2px solid var(--line);vertical-align:bottom}
td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.idx{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}
td.idx span.t{display:inline-block;width:24px;height:8px;background:#eef1f7;border-radius:2px;margin-right:4px;vertical-align:middle}
td.idx span.b{display:block;height:100%;background:#7d93d6;border-radius:2px}
td.idx span.v{display:inline-block;width:20px}
table.ranking th,table.ranking td{padding:6px 5px}
table.ranking th{font-size:11px}
td.na{color:#9aa1ad;text-align:right}
td.who{overflow-wrap:anywhere;min-width:9em}
td.who .pill{margin-left:4px}
td.rank{white-space:nowrap}
span.tie{color:var(--muted)}
td.conf{font-size:12px;color:var(--muted)}
td.idx.thin span.v,.thin-key{color:#c2410c}
td.conf.thin{color:#9a3412;font-weight:600}
.note.warn{color:#9a3412}
.up{color:var(--up)}.down{color:var(--down)}
.pill{display:inline-block;padding:0 8px;border-radius:999px;background:#eef1f7;color:var(--muted);font-size:12px;margin-left:6px}
.pill.warn{background:#fff1e6;color:#9a3412}
.creator{display:grid;grid-template-columns:minmax(0,1fr) 540px;gap:8px 24px}
.creator header{grid-column:1/-1;display:flex;align-items:baseline;gap:12px;flex-wrap:wrap}
.creator ul{margin:4px 0 10px;padding-left:0;list-style:none}
.creator li{margin:3px 0;padding-left:20px;position:relative}
.creator li::before{position:absolute;left:0;font-weight:700}
ul.ups li::before{content:"\\2191";color:var(--up)}
ul.downs li::before{content:"\\2193";color:var(--down)}
.fam{color:var(--muted);font-size:12px}
.chart{max-width:100%;height:auto}
.scroll{overflow-x:auto}
.chart .lbl{font-size:12px;fill:var(--ink)}
.chart .val,.chart .tick{font-size:11px;fill:var(--muted)}
.chart .up{fill:var(--up)}.chart .down{fill:var(--down)}.chart .total{fill:var(--accent)}.chart .bar{fill:#7d93d6}
.chart .upv{fill:var(--up)}.chart .downv{fill:var(--down)}.chart .totalv{fill:var(--ink)}
.chart .zero{stroke:#9aa1ad;stroke-dasharray:3 3}.chart .link{stroke:#9aa1ad}.chart .mark{fill:var(--ink)}
dl.grid{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.grid dt{color:var(--muted)}dl.grid dd{margin:0}
@media (max-width:900px){.creator{grid-template-columns:1fr}}
"""

_BASE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{% block title %}{% endblock %}</title><style>{{ css|safe }}</style></head>
<body><main>
<div class="stamp">{% block stamp %}{% endblock %}</div>
{% block body %}{% endblock %}
</main></body></html>
"""

_STAMP = """Model <b>{{ d.model_name }}{% if d.model_version is not none %} v{{ d.model_version }}{% endif %}</b>
&middot; feature set <b>{{ d.feature_set_version }}</b> &middot; data as of <b>{{ d.as_of_text }}</b>
{% if d.scored_at %}&middot; scored {{ d.scored_at[:16].replace('T', ' ') }} UTC {% endif %}
&middot; report made {{ d.generated_at[:16].replace('T', ' ') }} UTC"""

_CAMPAIGN = """{% extends "base.html" %}
{% block title %}Campaign {{ d.campaign_id }}: why creators rank where they do{% endblock %}
{% block stamp %}<a href="index.html">All campaigns</a> &middot; """ + _STAMP + """{% endblock %}
{% block body %}
<h1>Campaign {{ d.campaign_id }}</h1>
<p class="lead">{{ d.brief.category or "any category" }} &middot; {{ d.brief.country or "any country" }}
{%- if d.brief.budget_usd is not none %} &middot; budget {{ money(d.brief.budget_usd) }}{% endif %}
 &middot; {{ "{:,}".format(d.n_candidates) }} candidates ranked, top {{ d.n_explained }} explained below</p>
{% if d.reference_note %}<p class="note">{{ d.reference_note }}</p>{% endif %}
{% if d.tie_note %}<p class="note warn">{{ d.tie_note }}</p>{% endif %}

<section class="card">
<h2>What separates the candidates</h2>
<p>How much each kind of evidence moves scores up or down among this campaign's {{ "{:,}".format(d.n_candidates) }} candidates:
the average size of its push, as a share of all pushes. <b>{{ d.family_drivers[0].title }}</b>{% if d.family_drivers|length > 1 %} and
<b>{{ d.family_drivers[1].title }}</b>{% endif %} matter most here.</p>
{{ family_chart|safe }}
</section>

<section class="card">
<h2>Ranking</h2>
<div class="scroll"><table class="ranking">
<thead><tr><th class="num">Rank</th><th>Creator</th><th class="num" title="Score minus the campaign's average score">vs avg</th>
<th class="num">Pctl</th>{% for c, name in d.index_names.items() %}<th class="num" title="{{ name }} index: 0-100 peer percentile">{{ d.index_short[c] }}</th>{% endfor %}
<th title="How much history the score rests on">Evidence</th><th class="num">Posts</th><th class="num" title="Invitations">Inv.</th><th class="num">Orders</th></tr></thead>
<tbody>
{% for c in d.creators %}<tr data-creator="{{ c.creator_id }}" data-rank="{{ c.rank }}" data-ties="{{ c.ties }}" data-confidence="{{ c.confidence }}">
<td class="num rank" title="{{ c.rank_text }}">{% if c.ties %}<span class="tie">{{ c.rank_label }}</span>{% else %}{{ c.rank_label }}{% endif %}</td>
<td class="who"><a href="#c-{{ loop.index }}">{{ c.creator_id }}</a>{% if c.ties %}<span class="pill" title="{{ c.rank_text }}">tied &times;{{ c.ties + 1 }}</span>{% endif %}
{% if c.category_warning %}<span class="pill warn">{{ c.category_warning }}</span>{% endif %}</td>
<td class="num {{ 'up' if c.relative_score >= 0 else 'down' }}">{{ "%+.2f"|format(c.relative_score) }}</td>
<td class="num">{% if c.percentile is not none %}{{ "%.0f"|format(c.percentile) }}{% else %}&ndash;{% endif %}</td>
{% for k in d.index_names %}{% set v = c.indices[k] %}{% set thin = c.index_thin[k] %}{% if v is none %}<td class="na" title="not enough data yet">&ndash;</td>{% else %}<td class="idx{{ ' thin' if thin }}"{% if thin %} title="thin evidence: {{ thin }}"{% endif %}><span class="t"><span class="b" style="width:{{ "%.0f"|format(v) }}%"></span></span><span class="v">{{ "%.0f"|format(v) }}</span></td>{% endif %}{% endfor %}
<td class="conf {{ 'thin' if c.thin_evidence else '' }}" title="{{ c.evidence_text }}">{{ c.confidence }}</td>
<td class="num">{{ "{:,}".format(c.history.posts) }}</td><td class="num">{{ "{:,}".format(c.history.invitations) }}</td><td class="num">{{ "{:,}".format(c.history.orders) }}</td>
</tr>
{% endfor %}</tbody></table></div>
<p class="note">Indices are 0-100 percentiles among peers at the start of the month; &ndash; is not enough data yet, and a
value in <span class="thin-key">orange</span> rests on thin evidence (hover it to see how much). The middle
of this campaign's {{ "{:,}".format(d.n_candidates) }} candidates (median): {{ d.index_median_text }}. "vs avg" is the creator's
score minus the average score of all candidates: lambdarank scores only compare creators within one campaign. Equal scores
are ties: "1-9" means tied with the others at ranks 1 to 9 (listed by creator id).</p>
<p class="note">Evidence: {% for level, rule in d.confidence_rules.items() %}<b>{{ level }}</b> = {{ rule }}{{ "; " if not loop.last else "." }}{% endfor %} Creators on
<b>none</b> or <b>low</b> evidence are marked: their score rests on little.</p>
</section>

{% for c in d.creators %}
<section class="card creator" id="c-{{ loop.index }}">
<header><h3>{% if c.ties %}Rank {{ c.rank_label }}{% else %}#{{ c.rank }}{% endif %} {{ c.creator_id }}</h3>
<span class="{{ 'up' if c.relative_score >= 0 else 'down' }}">{{ "%+.2f"|format(c.relative_score) }} against the campaign average</span>
{% if c.ties %}<span class="pill">{{ c.rank_text }}</span>{% endif %}
{% if c.history.posts + c.history.invitations + c.history.orders == 0 %}<span class="pill warn">no history yet</span>
{% elif c.thin_evidence %}<span class="pill warn">thin evidence: {{ c.evidence_text }}</span>{% endif %}
{% if c.category_warning %}<span class="pill warn">{{ c.category_warning }}</span>{% endif %}
</header>
<div>
{% if c.drivers_up %}<b>Pushing up</b><ul class="ups">{% for x in c.drivers_up %}<li>{{ x.text }} <span class="fam">{{ x.family_title }}, {{ "%+.2f"|format(x.contribution) }}</span></li>{% endfor %}</ul>{% endif %}
{% if c.drivers_down %}<b>Holding back</b><ul class="downs">{% for x in c.drivers_down %}<li>{{ x.text }} <span class="fam">{{ x.family_title }}, {{ "%+.2f"|format(x.contribution) }}</span></li>{% endfor %}</ul>{% endif %}
<p class="note">{{ c.history.text }}</p>
</div>
<div>{{ waterfalls[loop.index0]|safe }}</div>
</section>
{% endfor %}
<p class="note">How to read this: each creator's score is split into contributions (SHAP values of the model's score) measured
against the average candidate of this campaign; the contributions add up exactly to the difference from the average.
"Campaign median" is the median value among this campaign's candidates. A driver is evidence the model weighs, not a cause.</p>
{% endblock %}
"""

_INDEX = """{% extends "base.html" %}
{% block title %}Campaign reports{% endblock %}
{% block stamp %}Model <b>{{ s.model_name }}{% if s.model_version is not none %} v{{ s.model_version }}{% endif %}</b>
&middot; feature set <b>{{ s.feature_set_version }}</b> &middot; data as of <b>{{ s.as_of_text }}</b>
{% if s.scored_at %}&middot; scored {{ s.scored_at[:16].replace('T', ' ') }} UTC{% endif %}{% endblock %}
{% block body %}
<h1>Campaign reports</h1>
<p class="lead">{{ campaigns|length }} campaign{{ "s" if campaigns|length != 1 }}: why each creator ranks where they do.</p>
<section class="card"><table>
<thead><tr><th>Campaign</th><th>Category</th><th>Country</th><th class="num">Candidates</th><th class="num">Explained</th>
<th>Top creator</th><th>Data as of</th><th>Main driver</th></tr></thead><tbody>
{% for c in campaigns %}<tr data-campaign="{{ c.campaign_id }}"><td><a href="{{ c.href }}">{{ c.campaign_id }}</a></td><td>{{ c.category or "" }}</td>
<td>{{ c.country or "" }}</td><td class="num">{{ "{:,}".format(c.n_candidates) }}</td><td class="num">{{ c.n_explained }}</td>
<td>{{ c.top_creator }}{% if c.top_tied %} <span class="pill">tied with {{ c.top_tied }}</span>{% endif %}</td><td>{{ c.as_of_text }}</td><td>{{ c.main_driver }}</td></tr>
{% endfor %}</tbody></table></section>
{% endblock %}
"""

TEMPLATES = {"base.html": _BASE, "campaign.html": _CAMPAIGN, "index.html": _INDEX}


def environment(extra: Mapping[str, str] | None = None):
    """The jinja2 environment of the report templates (autoescaped; ``extra`` adds templates)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.DictLoader({**TEMPLATES, **(extra or {})}), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(css=CSS, money=_money)
    return env


def _money(x: Any) -> str:
    return f"${float(x):,.0f}"


def safe_name(campaign_id: str) -> str:
    """A file-name-safe form of an id that stays unique (the raw id is hashed in when altered)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", campaign_id).strip("._") or "campaign"
    if clean != campaign_id:
        import hashlib

        clean = f"{clean[:60]}-{hashlib.sha1(campaign_id.encode()).hexdigest()[:8]}"
    return clean


def render_campaign(doc: Mapping[str, Any], env=None) -> str:
    """The HTML page of one campaign document."""
    env = env or environment()
    fam = doc["family_drivers"]
    total = sum(f["mean_abs_contribution"] for f in fam) or 1.0
    family_chart = bars_svg([f["title"] for f in fam], [100.0 * f["mean_abs_contribution"] / total for f in fam],
                            fmt="{:.0f}%", notes=[f["measures"] for f in fam])
    waterfalls = [family_waterfall(c["families"]) for c in doc["creators"]]
    return env.get_template("campaign.html").render(d=doc, family_chart=family_chart, waterfalls=waterfalls)


def write_reports(docs: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write each campaign's HTML and JSON and the index into a new folder, swapped in whole.

    The folder is built beside ``out`` and renamed onto it only when complete
    (:func:`creatorrank.core.io.atomic_dir`): a killed run leaves the previous reports, never
    a mix of two runs or pages without their index.
    """
    from ..core.io import atomic_dir, write_text

    env = environment()
    names, rows = [], []
    out = Path(out)
    with atomic_dir(out) as tmp:
        for doc in docs:
            name = f"campaign-{safe_name(doc['campaign_id'])}"
            write_text(tmp / f"{name}.json", dump_json(doc))
            write_text(tmp / f"{name}.html", render_campaign(doc, env))
            names.append(f"{name}.html")
            fam = doc["family_drivers"]
            rows.append({
                "campaign_id": doc["campaign_id"], "href": f"{name}.html", "json": f"{name}.json",
                "category": doc["brief"]["category"], "country": doc["brief"]["country"],
                "n_candidates": doc["n_candidates"], "n_explained": doc["n_explained"],
                "top_creator": doc["creators"][0]["creator_id"] if doc["creators"] else "",
                "top_tied": doc["creators"][0]["ties"] if doc["creators"] else 0,
                "as_of": doc["as_of"], "as_of_text": doc["as_of_text"],
                "main_driver": fam[0]["title"] if fam else "",
            })
        if docs:
            s = docs[0]
            as_ofs = [d["as_of_text"] for d in sorted(docs, key=lambda d: d["as_of"] or "")]
            stamp = {k: s[k] for k in ("model_name", "model_version", "model_uri", "feature_set_version", "scored_at")}
            stamp["as_of_text"] = as_ofs[0] if len(as_ofs) == 1 else f"{as_ofs[0]} to {as_ofs[-1]}"
            write_text(tmp / "index.json", dump_json({**stamp, "campaigns": rows}, indent=1))
            write_text(tmp / "index.html", env.get_template("index.html").render(s=stamp, campaigns=rows))
    return [out / n for n in names]
