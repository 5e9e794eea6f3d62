"""The hand-off from ``score`` to ``explain``: a manifest written beside every scores file.

``creatorrank score --out scores.parquet`` writes ``scores.parquet.manifest.json`` (atomically,
after the scores file). ``explain`` reads it instead of working backwards from the scores:
which model version made the scores, the feature-set version, each brief as scored (category,
country, budget, as-of), the candidate mode and eligibility rules, how many candidates each
brief had (and a hash of their ids), and fingerprints of the inputs. A scores file without
its manifest (written before manifests existed, or copied without it) is refused with one
line saying to run ``score`` again: guessing what the run did is what produced false notes.

Keys (``MANIFEST_VERSION`` 1)::

    manifest_version, kind ("creatorrank-scores"), scores_file (name), scores_sha256, rows,
    model {uri, name, version, resolved_uri, feature_set_version}, engine, scored_at,
    candidates ("eligible" | "invited"), eligibility {active_days, same_country,
    same_category, min_posts}, as_of (fixed as-of or null), top (or null),
    confidence_rules {level: rule}, value {present, and with a value model: columns, interval,
    level, calibration, fair_fee}, uncertainty {present, column ("score_sd"), members},
    explore (null, or {k, seed, draws, top, method, probability, seeding}: docs/EXPLORATION.md),
    campaigns [{campaign_id, category, country, budget_usd, as_of, candidates, candidates_sha256,
    rows, target_roas (null without a value model), explore (null, or {k, seed, draws, explored,
    expected_explored, listed})}],
    inputs {data_dir, tables {name: [fingerprint]}, briefs (fingerprint or null)}

A fingerprint is ``{path, size, mtime_ns, sha256}``; ``sha256`` hashes the content of files up
to ``HASH_LIMIT`` bytes and is ``null`` above it (size and mtime then stand in).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..core import constants as C
from ..core.errors import InputError
from ..core.io import write_text
from ..core.jsonio import dump_json, jsonable

MANIFEST_VERSION = 1
KIND = "creatorrank-scores"
SUFFIX = ".manifest.json"
HASH_LIMIT = 256 * 1024 * 1024  # inputs above this are fingerprinted by size and mtime only


def manifest_path(scores_path: str | os.PathLike) -> Path:
    """``scores.parquet`` -> ``scores.parquet.manifest.json``."""
    p = Path(scores_path)
    return p.with_name(p.name + SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Size, mtime and (for files up to ``HASH_LIMIT``) content hash of one input file."""
    p = Path(path)
    st = p.stat()
    return {"path": str(p.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns),
            "sha256": file_sha256(p) if st.st_size <= HASH_LIMIT else None}


def table_fingerprints(data_dir: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """Fingerprints of each contract table's files in a data folder (``creators.parquet``, ``posts.csv``, ...)."""
    root = Path(data_dir)
    out: dict[str, list[dict[str, Any]]] = {}
    for table in C.TABLES:
        files = sorted(p for p in root.glob(f"{table}.*") if p.is_file())
        if (root / table).is_dir():  # a partitioned table: a folder of files
            files += sorted(p for p in (root / table).rglob("*") if p.is_file())
        out[table] = [fingerprint(p) for p in files]
    return out


def ids_sha256(ids: Iterable[Any]) -> str:
    """Hash of a candidate set: sha256 of its sorted ids, one per line."""
    h = hashlib.sha256()
    for i in sorted(str(x) for x in ids):
        h.update(i.encode("utf-8") + b"\n")
    return h.hexdigest()


def write_manifest(scores_path: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write the manifest beside the scores file (atomically), adding the file's own hash."""
    scores_path = Path(scores_path)
    doc = {"manifest_version": MANIFEST_VERSION, "kind": KIND, "scores_file": scores_path.name,
           "scores_sha256": file_sha256(scores_path), **manifest}
    return write_text(manifest_path(scores_path), dump_json(jsonable(doc), indent=1) + "\n")


def read_manifest(scores_path: str | os.PathLike, check_hash: bool = True) -> dict[str, Any]:
    """The manifest of a scores file.

    Raises
    ------
    InputError
        No manifest beside the file, an unreadable one, one of another version, or one that
        does not describe this file (its content changed since ``score`` wrote it).
    """
    scores_path = Path(scores_path)
    path = manifest_path(scores_path)
    if not path.is_file():
        raise InputError(f"{scores_path}: no manifest {path.name} beside it (it records how the scores were made); "
                         "run `creatorrank score` again to write both")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable manifest ({str(exc).splitlines()[0]}); run `creatorrank score` again") from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("manifest_version") != MANIFEST_VERSION:
        raise InputError(f"{path}: not a version-{MANIFEST_VERSION} scores manifest; run `creatorrank score` again")
    if check_hash and doc.get("scores_sha256") != file_sha256(scores_path):
        raise InputError(f"{scores_path}: the file changed since `creatorrank score` wrote it (its manifest "
                         f"{path.name} describes other content); run score again")
    return doc


def campaign_entries(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Campaign id -> its manifest entry."""
    return {str(c[C.CAMPAIGN_ID]): c for c in manifest.get("campaigns", [])}


def inputs_changed(manifest: dict[str, Any], data_dir: str | os.PathLike) -> list[str]:
    """Tables of ``data_dir`` whose files differ from the manifest's fingerprints (cheap first).

    Size and mtime equal: unchanged. Otherwise the content hash decides when the manifest
    has one (a copied folder keeps its content but not its mtimes).
    """
    recorded = (manifest.get("inputs") or {}).get("tables") or {}
    now = {}
    root = Path(data_dir)
    changed = []
    for table, files in recorded.items():
        before = {Path(f["path"]).name: f for f in files}
        current = sorted(p for p in root.glob(f"{table}.*") if p.is_file())
        if (root / table).is_dir():
            current += sorted(p for p in (root / table).rglob("*") if p.is_file())
        now = {p.name: p for p in current}
        if set(now) != set(before):
            changed.append(table)
            continue
        for name, p in now.items():
            f = before[name]
            st = p.stat()
            if st.st_size == f["size"] and st.st_mtime_ns == f["mtime_ns"]:
                continue
            if st.st_size != f["size"] or f.get("sha256") is None or file_sha256(p) != f["sha256"]:
                changed.append(table)
                break
    return changed
