"""Reading a scoring run back, for ``explain``: scores, briefs, the full field, features.

An explanation must be of the scores that were made. The scores file and the manifest
``score`` wrote beside it (:mod:`creatorrank.serving.manifest`) say which model version,
briefs, eligibility rules and candidate counts made them; from them this module

* reads and checks the scores file (:func:`read_scores`, :func:`check_versions`);
* gives each campaign's brief exactly as scored (:func:`campaign_briefs`);
* brings back the candidates a ``score --top`` cut left out, with the run's own rules,
  checked against the manifest's hash of the scored ids (:func:`complete_candidates`,
  :func:`rank_unlisted`): campaign means are over every creator scored;
* rebuilds the features as of the file's ``as_of`` (:func:`rebuild_features`) and refuses
  a model that does not reproduce the file's scores (:func:`check_reproduces`).

:func:`read_run` does the reading back in one call, on the clean tables in this process or,
with ``engine="dask"``, on a Dask cluster whose workers read their shards of the data folder
(:mod:`creatorrank.serving.dask_explain`): only the candidate search, the feature rows and
the history counts are produced elsewhere; every other step is the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError, InputError, ModelError
from ..core.timeutil import to_utc
from .candidates import CandidateFinder, EligibilityRules
from .manifest import campaign_entries, ids_sha256
from .snapshots import brief_features

SCORE_COLUMNS = [C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE, C.RANK, C.MODEL_NAME, C.MODEL_VERSION,
                 C.FEATURE_SET_VERSION, C.AS_OF]
BRIEF_COLUMNS = [C.CATEGORY, C.COUNTRY, C.BUDGET_USD]


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
    scores: pd.DataFrame, tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Category, country and budget of each campaign of the scores.

    With a manifest, the briefs exactly as they were scored (the manifest records them).
    Without one (benchmarks reading a scores file directly), taken in this order from the
    scores file's own columns, then the data's campaigns table.

    Raises
    ------
    InputError
        A campaign found in none of them.
    """
    ids = list(dict.fromkeys(scores[C.CAMPAIGN_ID]))
    found: dict[str, dict[str, Any]] = {}
    if manifest is not None:
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
    campaigns = tables[C.CAMPAIGNS]
    known = campaigns.drop_duplicates(C.CAMPAIGN_ID).set_index(campaigns[C.CAMPAIGN_ID].drop_duplicates().astype(str))
    for cid in ids:
        if cid not in found and cid in known.index:
            row = known.loc[cid]
            found[cid] = {c: row[c] for c in BRIEF_COLUMNS}
    unknown = [cid for cid in ids if cid not in found]
    if unknown:
        raise InputError(
            f"campaign {unknown[0]}{f' and {len(unknown) - 1} more' if len(unknown) > 1 else ''}: not in the "
            "data's campaigns and its brief (category, country) is not in the scores file"
        )
    out = pd.DataFrame([{C.CAMPAIGN_ID: cid, **found[cid]} for cid in ids])
    out[C.BUDGET_USD] = pd.to_numeric(out[C.BUDGET_USD], errors="coerce").astype(np.float64)
    return out


def complete_candidates(scores: pd.DataFrame, tables: Mapping[str, pd.DataFrame] | None, briefs: pd.DataFrame,
                        manifest: Mapping[str, Any], search=None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Bring back the candidates a ``--top`` cut left out of the scores file.

    The campaign mean must be taken over every creator the run scored. The manifest says
    how many that was, with which candidate mode and eligibility rules, and the hash of
    their ids; the missing ones are found again with those same rules, and the set found
    must hash to the manifest's.

    ``search(briefs, times, rules, mode)`` finds the candidate ids (a set per brief row,
    empty where the search refuses the brief); default :func:`table_search` over ``tables``.
    The Dask engine searches the workers' shards instead
    (:func:`creatorrank.serving.dask_explain.cluster_search`); the rest is the same.

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
    search = table_search(tables) if search is None else search
    times = [to_utc(pd.Timestamp(entries[cid][C.AS_OF])) for cid in cut]
    found_sets = search(briefs.set_index(C.CAMPAIGN_ID, drop=False).loc[cut], times, rules, mode)
    extra = []
    for cid, ids in zip(cut, found_sets, strict=True):
        rows = scores[scores[C.CAMPAIGN_ID] == cid]
        mine = set(rows[C.CREATOR_ID])
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


def table_search(tables: Mapping[str, pd.DataFrame]):
    """The candidate search of :func:`complete_candidates` over clean tables in this process.

    Returns ``search(briefs, times, rules, mode)``: per brief row, the ids
    :meth:`CandidateFinder.find` gives (as strings), or an empty set where it refuses the brief.
    """
    def search(briefs: pd.DataFrame, times: list, rules: EligibilityRules, mode: str) -> list[set[str]]:
        finder = CandidateFinder(tables, rules)
        out = []
        for (_, brief), as_of in zip(briefs.iterrows(), times, strict=True):
            try:
                out.append({str(i) for i in finder.find(brief, as_of, mode)})
            except CreatorRankError:
                out.append(set())
        return out

    return search


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
    kept = ~unlisted
    if C.EXPLORED in frame.columns:  # explored rows rank below creators the list left out (serving/explore.py)
        kept &= ~frame[C.EXPLORED].astype("boolean").fillna(False).to_numpy(bool)
    for cid in pd.unique(campaign[unlisted]):
        mine = campaign == cid
        listed_min = score[mine & kept].min() if (mine & kept).any() else np.inf
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
    # same rows, same order; one snapshot per as-of
    return scored_frame(brief_features(tables, feature_decisions(scores, briefs)), scores)


def feature_decisions(scores: pd.DataFrame, briefs: pd.DataFrame) -> pd.DataFrame:
    """The decision rows of the scores (creator, as-of and brief), in the scores' order, typed for the engine."""
    b = briefs.set_index(C.CAMPAIGN_ID)
    n = len(scores)
    cid = scores[C.CAMPAIGN_ID].to_numpy()
    return pd.DataFrame(
        {
            C.CREATOR_ID: pd.array(scores[C.CREATOR_ID].to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.AS_OF: pd.Series(scores[C.AS_OF].to_numpy(), dtype="datetime64[us, UTC]"),
            C.CAMPAIGN_ID: pd.array(cid, dtype=pd.StringDtype("pyarrow")),
            C.CATEGORY: pd.array(b[C.CATEGORY].reindex(cid).astype(object).to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.COUNTRY: pd.array(b[C.COUNTRY].reindex(cid).astype(object).to_numpy(), dtype=pd.StringDtype("pyarrow")),
            C.BUDGET_USD: b[C.BUDGET_USD].reindex(cid).to_numpy(dtype=np.float64) if n else np.zeros(0),
        }
    )


def scored_frame(features: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``features`` (one row per scores row, same order) with what the run recorded per row beside them."""
    features[C.CAMPAIGN_ID] = scores[C.CAMPAIGN_ID].to_numpy()
    features[C.CREATOR_ID] = scores[C.CREATOR_ID].to_numpy()
    features["file_score"] = scores[C.SCORE].to_numpy(dtype=np.float64)
    features[C.RANK] = scores[C.RANK].to_numpy(dtype=np.float64)  # NaN: rebuilt, not in the file
    if C.PERCENTILE in scores.columns:
        features[C.PERCENTILE] = scores[C.PERCENTILE].to_numpy(dtype=np.float64)
    if C.EXPLORED in scores.columns:  # placed by exploration (serving/explore.py): below left-out creators
        features[C.EXPLORED] = scores[C.EXPLORED].astype("boolean").fillna(False).to_numpy(bool)
    for col in (C.TIES, C.CATEGORY_POSTS_SEEN):  # what the run recorded per row, kept as recorded
        if col in scores.columns:
            features[col] = pd.to_numeric(scores[col], errors="coerce").to_numpy(dtype=np.float64)
    if C.CONFIDENCE in scores.columns:
        features[C.CONFIDENCE] = scores[C.CONFIDENCE].astype(object).to_numpy()
    return features


@dataclass
class ScoredRun:
    """A scoring run read back from the data, ready to explain (:func:`read_run`).

    Attributes
    ----------
    briefs : DataFrame
        Each campaign's brief as scored (:func:`campaign_briefs`).
    frame : DataFrame
        :func:`rebuild_features` of every candidate scored (a ``--top`` cut completed).
    notes : dict
        Campaign -> how its full field was brought back (:func:`complete_candidates`).
    history : DataFrame
        :func:`creator_history <creatorrank.serving.pages.creator_history>` of every row that
        can be explained (:func:`history_requests`), one row per distinct (creator, as-of).
    """

    briefs: pd.DataFrame
    frame: pd.DataFrame
    notes: dict
    history: pd.DataFrame


def read_local_run(scores: pd.DataFrame, data_dir, manifest: Mapping[str, Any], top: int) -> ScoredRun:
    """:func:`creatorrank.serving.run_reader.read_run` with the clean tables in this process."""
    from ..data.validate import load_clean_tables
    from .pages import creator_history

    tables = load_clean_tables(data_dir)
    briefs = campaign_briefs(scores, tables, manifest=manifest)
    candidates, notes = complete_candidates(scores, tables, briefs, manifest)
    frame = rebuild_features(tables, candidates, briefs)
    return ScoredRun(briefs, frame, notes, creator_history(tables, history_requests(candidates, top)))


def history_requests(candidates: pd.DataFrame, top: int) -> pd.DataFrame:
    """(creator, as-of) of the candidates that can be explained with ranks up to ``top``.

    Listed rows keep the file's rank; :func:`rank_unlisted` ranks every rebuilt row after the
    last listed rank, so those count only when ``top`` reaches past it.
    """
    rank = candidates[C.RANK].to_numpy(dtype=np.float64)
    unlisted = np.isnan(rank)
    beyond = np.nanmax(rank) + 1 if (~unlisted).any() else 1
    keep = np.where(unlisted, int(top) >= beyond, rank <= int(top))
    return pd.DataFrame({C.CREATOR_ID: candidates[C.CREATOR_ID].to_numpy()[keep],
                         C.AS_OF: candidates[C.AS_OF].to_numpy()[keep]})


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

