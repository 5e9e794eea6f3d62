"""Integrity of model files: checksums and a structural check before LightGBM reads a file.

LightGBM aborts the process (not an exception) on some truncated model files, so every model
file of a bundle (the ranker's ``model.txt``, the value model's files) is checked here first.
Kept apart from :mod:`.model` so that :mod:`.value` can use it without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..core.errors import ModelError


def file_digest(data: bytes) -> dict[str, Any]:
    """``{"sha256": hex, "bytes": size}`` of ``data``."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def verify_digest(path: Path, data: bytes, expected: dict[str, Any]) -> None:
    """Raise :class:`ModelError` unless ``data`` (read from ``path``) has the recorded size and sha256."""
    if int(expected.get("bytes", len(data))) != len(data):
        raise ModelError(f"{path}: damaged model file ({len(data)} bytes, the bundle recorded {expected['bytes']})")
    if expected.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ModelError(f"{path}: damaged model file (sha256 differs from the one the bundle recorded)")


def check_model_text(path: Path, text: str) -> None:
    """Structural check of a LightGBM text model, so that a damaged file never reaches LightGBM.

    LightGBM aborts the process (not an exception) on some truncated files. A whole file
    starts with ``tree``, holds ``end of trees`` and ``end of parameters``, and ends with a
    ``pandas_categorical:`` line whose JSON is complete, and a newline.
    """
    tail = text.rstrip("\n").rsplit("\n", 1)[-1]
    whole = (
        text.startswith("tree\n")
        and text.endswith("\n")
        and "\nend of trees\n" in text
        and "\nend of parameters\n" in text
        and tail.startswith("pandas_categorical:")
        and _is_json(tail[len("pandas_categorical:"):])
    )
    if not whole:
        raise ModelError(f"{path}: damaged model file (truncated or not a LightGBM text model)")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})") from None


def decode_text(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: damaged file (not UTF-8 text at byte {exc.start})") from None


def trim_booster(booster, best_iteration: int | None):
    """A copy of ``booster`` holding only its first ``best_iteration`` trees."""
    import lightgbm as lgb

    n = best_iteration if best_iteration and best_iteration > 0 else -1
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=n))
