"""Campaign reports: why each creator ranks where they do, in HTML for people and JSON for machines.

``explain_campaigns()`` is the body of ``creatorrank explain``: it orchestrates the modules
that each do one job, and writes the folder. For a scores file written by
``creatorrank score`` it:

1. reads the scores file and the manifest ``score`` wrote beside it
   (:mod:`creatorrank.serving.manifest`; a scores file without one is refused: run score
   again), loads the model version that made the scores (or the one given) and refuses a
   feature-set mismatch;
2. reads the run back (:func:`creatorrank.serving.run_reader.read_run`, here or, with
   ``engine="dask"``, on the workers of a Dask cluster): each brief as scored, the full field
   of candidates (a ``score --top`` cut is completed with the run's own rules), their
   features as of the file's ``as_of`` and the explainable creators' history counts; then
   the check that the model reproduces the file's scores (otherwise the explanation would
   be of another score);
3. explains the top ``K`` creators of each campaign relative to the campaign mean
   (:func:`creatorrank.serving.explain.explain`);
4. turns that into one JSON-ready document per campaign (:mod:`creatorrank.serving.pages`),
   with what each creator is expected to bring and a fair fee when the scores carry the
   value columns (the brief's target return on spend from the manifest), and why the expected
   GMV is what it is (the value model's SHAP values of the explained rows, checked additive),
   rendered through the package's templates (:mod:`creatorrank.serving.render`, charts in
   :mod:`creatorrank.serving.charts`);
5. writes the whole report folder at once (:func:`creatorrank.core.io.atomic_dir`): one
   self-contained HTML page and one JSON file per campaign and an ``index.html``. A run
   killed midway leaves the previous folder, never pages of two runs side by side.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..core import constants as C
from ..core.errors import CreatorRankError
from ..core.io import atomic_dir, check_output, write_text
from ..core.jsonio import dump_json
from ..training.exposure import missing_tiers
from .explain import explain
from .manifest import inputs_changed, read_manifest
from .pages import ValueExplanation, campaign_documents, has_value_columns, money, value_contributions, value_terms
from .render import environment, render_campaign, render_index
from .run_reader import read_run
from .scored_run import check_reproduces, check_versions, rank_unlisted, read_scores, stamped_model_uri
from .score import check_feature_set, load_model, value_model

logger = logging.getLogger(__name__)


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
    engine: str = "local",
    scheduler: Any = None,
    n_shards: int | None = None,
    wave_shards: int | None = None,
    scratch: str | os.PathLike | None = None,
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
    engine : {"local", "dask"}
        Where the run is read back (:func:`creatorrank.serving.run_reader.read_run`): ``dask``
        computes the candidates' features and the history counts on the workers, each reading
        its shards of ``data_dir``; this process never loads posts, orders or invitations.
        The explanation is the same either way.
    scheduler, n_shards, wave_shards, scratch
        Dask only: the scheduler address (default a local cluster), the shards of creators,
        the shards prepared at once and the folder of the data partitioned by shard.

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
    listed_top = int(scores[C.RANK].max()) if all_creators else int(top)
    run = read_run(scores, data_dir, manifest, listed_top, engine=engine, scheduler=scheduler, n_shards=n_shards,
                   wave_shards=wave_shards, scratch=scratch)
    brief_frame, frame, notes = run.briefs, run.frame, run.notes
    seconds["features"] = time.perf_counter() - t

    t = time.perf_counter()
    score = check_reproduces(bundle, frame, uri)
    rank = rank_unlisted(frame, score)
    expl = explain(bundle, frame, top=listed_top, rank=rank, score=score)
    notes = add_tier_notes(notes, frame[rank <= listed_top])
    value_expl = explain_value(bundle, frame, expl.rows, scores)
    seconds["explain"] = time.perf_counter() - t

    t = time.perf_counter()
    docs = campaign_documents(expl, frame, scores, brief_frame, run.history, bundle, notes, value_terms(manifest),
                              value_expl)
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


def explain_value(bundle, frame: pd.DataFrame, rows: pd.DataFrame, scores: pd.DataFrame) -> ValueExplanation | None:
    """The value model's SHAP values of the explained rows only, checked additive; None without value columns.

    Scores of a model without a value model (or written before it) carry no expected GMV:
    there is nothing to explain and the pages show no value drivers.
    """
    model = value_model(bundle)
    if model is None or not has_value_columns(scores):
        return None
    pos = rows["position"].to_numpy()
    return value_contributions(model, frame.iloc[pos], frame[C.CAMPAIGN_ID].to_numpy()[pos])


def add_tier_notes(notes: dict[str, str], top_rows: pd.DataFrame) -> dict[str, str]:
    """``notes`` plus, per campaign, a sentence when its top list holds no creator below a follower tier.

    Marketers read it as a nudge: a list of big accounts only may miss smaller creators who
    sell as well (docs/EXPLORATION.md, exposure).
    """
    out = dict(notes)
    for cid, rows in top_rows.groupby(C.CAMPAIGN_ID, sort=False, observed=True):
        tiers = missing_tiers(rows)
        if tiers:
            text = "; ".join(tiers)
            out[str(cid)] = " ".join(filter(None, [out.get(str(cid)), text[0].upper() + text[1:] + "."]))
    return out


# ============================================================================ writing


def safe_name(campaign_id: str) -> str:
    """A file-name-safe form of an id that stays unique (the raw id is hashed in when altered)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", campaign_id).strip("._") or "campaign"
    if clean != campaign_id:
        clean = f"{clean[:60]}-{hashlib.sha1(campaign_id.encode()).hexdigest()[:8]}"
    return clean


def _index_value(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The index row's value cells: the top K's expected GMV, their fair fees and the budget verdict."""
    if not summary:
        return None
    status = summary["budget_status"]
    verdict = ("no budget" if status is None else "within budget" if status == "within"
               else f"over budget by {money(summary['over_budget_usd'])}")
    return {"k": summary["k"], "expected_text": money(summary["expected_total_usd"]),
            "fair_fees_text": money(summary["fair_fee_total_usd"]), "budget_text": verdict, "over": status == "over"}


def write_reports(docs: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write each campaign's HTML and JSON and the index into a new folder, swapped in whole.

    The folder is built beside ``out`` and renamed onto it only when complete
    (:func:`creatorrank.core.io.atomic_dir`): a killed run leaves the previous reports, never
    a mix of two runs or pages without their index.
    """
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
                "value": _index_value(doc.get("value_summary")),
            })
        if docs:
            s = docs[0]
            as_ofs = [d["as_of_text"] for d in sorted(docs, key=lambda d: d["as_of"] or "")]
            stamp = {k: s[k] for k in ("model_name", "model_version", "model_uri", "feature_set_version", "scored_at")}
            stamp["as_of_text"] = as_ofs[0] if len(as_ofs) == 1 else f"{as_ofs[0]} to {as_ofs[-1]}"
            write_text(tmp / "index.json", dump_json({**stamp, "campaigns": rows}, indent=1))
            write_text(tmp / "index.html", render_index(stamp, rows, env))
    return [out / n for n in names]
