"""Shared fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # two OpenMP pools on 2 cores spin against each other

import pytest

from tiny_market import tiny_tables


@pytest.fixture
def tiny():
    """A fresh copy of the tiny market for each test (tests mutate it)."""
    return tiny_tables()
