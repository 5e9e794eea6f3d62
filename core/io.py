"""Atomic output: write to a temporary file beside the target, then rename.

A crash mid-write leaves the previous file (or nothing), never half a result.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_frame(frame: pd.DataFrame, target: str | os.PathLike) -> Path:
    """Atomically write a frame as Parquet or CSV, chosen by the target's extension."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        from .errors import CreatorRankError

        raise CreatorRankError(f"{target}: output must end in .parquet or .csv")
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    return target
