"""Atomic output: write to a temporary file (or folder) beside the target, then rename.

A crash mid-write leaves the previous output (or nothing), never half a result. Every output,
file or folder, gets the permissions the user's umask gives a newly created file (0644 under
the usual 022): one rule for scores, features, rejects, reports and models.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd

from .errors import CreatorRankError

FRAME_SUFFIXES = (".parquet", ".csv")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prefix(target: Path) -> str:
    """Hidden temporary names carry the writer's pid, so a later write can tell a dead
    writer's leftovers from a live one's work in progress."""
    return f".{target.name}.{os.getpid()}."


def remove_stale(target: Path) -> None:
    """Remove temporary files and folders beside ``target`` left by writers that were killed."""
    for stale in target.parent.glob(f".{target.name}.*"):
        parts = stale.name[len(target.name) + 2:].split(".")
        if not parts or not parts[0].isdigit() or stale.suffix not in (".tmp", ".old"):
            continue
        if _pid_alive(int(parts[0])):  # in progress (this process's own writes included)
            continue
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _apply_umask(path: Path, base: int) -> None:
    os.chmod(path, base & ~_umask())


def check_output(target: str | os.PathLike, suffixes: tuple[str, ...] | None = None, folder: bool = False) -> Path:
    """Check before any work that ``target`` can be written; return it as a Path.

    The parent folder is created when missing (as the write would). Raises a one-line
    :class:`CreatorRankError` for a wrong extension, a name the file system refuses (too long),
    a parent that is a file, or a folder that is not writable.
    """
    target = Path(target)
    if suffixes is not None and target.suffix.lower() not in suffixes:
        raise CreatorRankError(f"{target}: output must end in {' or '.join(suffixes)}")
    parent = target.parent if str(target.parent) else Path(".")
    try:
        if target.exists() and target.is_dir() != folder:
            kind = "a folder" if target.is_dir() else "a file"
            raise CreatorRankError(f"{target}: output path is {kind}")
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CreatorRankError(f"{target}: cannot write here ({exc.strerror or exc.__class__.__name__})") from None
    return target


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise CreatorRankError(f"{target}: cannot write here ({exc.strerror or exc.__class__.__name__})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            _apply_umask(tmp_path, 0o666)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; swap it in whole on success.

    An existing ``target`` is replaced only after the new folder is complete: it is renamed
    aside, the new one renamed onto its name, then the old one removed. A crash at any point
    leaves either the old folder or the new one under ``target`` (plus, at worst, a hidden
    ``.NAME.PID.*`` folder beside it, removed by the next write once PID is gone), never a mix.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise CreatorRankError(f"{target}: cannot write here ({exc.strerror or exc.__class__.__name__})") from None
    try:
        yield tmp
        _apply_umask(tmp, 0o777)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".old", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_frame(frame: pd.DataFrame, target: str | os.PathLike) -> Path:
    """Atomically write a frame as Parquet or CSV, chosen by the target's extension."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in FRAME_SUFFIXES:
        raise CreatorRankError(f"{target}: output must end in .parquet or .csv")
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    return target
