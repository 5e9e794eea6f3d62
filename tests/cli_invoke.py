"""Run the ``creatorrank`` command line in-process or as a subprocess and capture what it says."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTED_CODES = {0, 1, 2, 3, 70, 130}  # core/errors.py


@dataclass
class Result:
    """Exit code and the text a command printed."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def invoke(args: list[str]) -> Result:
    """Run ``creatorrank ARGS`` in this process through the console-script entry point."""
    from creatorrank.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def isolate(monkeypatch, tmp: Path, log_level: str = "WARNING") -> None:
    """In-process runs: crash logs and MLflow under ``tmp``, INFO logs off, no --debug."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp / "state"))
    monkeypatch.setenv("CREATORRANK_LOG_LEVEL", log_level)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp / 'mlflow.db').as_posix()}")
    monkeypatch.delenv("CREATORRANK_DEBUG", raising=False)


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a CLI subprocess: quiet logs, MLflow and crash logs under ``tmp``."""
    env = dict(os.environ)
    env.update(
        CREATORRANK_LOG_LEVEL="WARNING",
        XDG_STATE_HOME=str(tmp / "state"),
        MLFLOW_TRACKING_URI=f"sqlite:///{(tmp / 'mlflow.db').as_posix()}",
        PYTHONWARNINGS="ignore",
        OMP_NUM_THREADS="1",
    )
    env.pop("CREATORRANK_DEBUG", None)
    env.update(extra)
    return env


def run_subprocess(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 300,
                   code: str | None = None) -> Result:
    """Run ``python -m creatorrank.cli ARGS`` (or ``python -c CODE ARGS``) in a fresh process."""
    head = [sys.executable, "-c", code] if code else [sys.executable, "-m", "creatorrank.cli"]
    proc = subprocess.run([*head, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def unwritable_dir(tmp: Path) -> Path | None:
    """A folder this process cannot create files in (chmod 0555; for root, which ignores modes,
    a sysfs folder), or None when there is none."""
    ro = tmp / "read-only"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    for folder in (ro, Path("/sys/kernel")):
        probe = folder / ".probe"
        try:
            probe.touch()
        except OSError:
            return folder
        probe.unlink()
    return None
