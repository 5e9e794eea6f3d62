"""Shared fixtures."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # two OpenMP pools on 2 cores spin against each other

# In-process CLI runs write internal-error logs and may open the default MLflow store: keep
# both inside a session temp folder, never in the user's home or the working directory.
_SESSION_TMP = tempfile.mkdtemp(prefix="creatorrank-tests-")
os.environ.setdefault("XDG_STATE_HOME", os.path.join(_SESSION_TMP, "state"))
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///" + os.path.join(_SESSION_TMP, "mlflow.db"))

import pytest

from tiny_market import tiny_tables


@pytest.fixture
def tiny():
    """A fresh copy of the tiny market for each test (tests mutate it)."""
    return tiny_tables()
