"""Parsing user-given times: every time in the system is a UTC timestamp."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

from .errors import CreatorRankError


def to_utc(value) -> pd.Timestamp:
    """Return ``value`` as a UTC timestamp; naive times are taken as UTC (the contract's rule)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_micros(series: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch (naive values are taken as UTC; NaT
    becomes the smallest int64). The feature engine and candidate search work on these."""
    s = pd.Series(series)
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        s = pd.to_datetime(s, utc=True, format="ISO8601") if s.dtype == object else pd.to_datetime(s)
        if s.dt.tz is None:
            s = s.dt.tz_localize("UTC")
    s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[us]").view(np.int64)


# ISO-8601 as the docs promise: a date, optionally a time (T or a space), optionally a zone.
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"([T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?"
)


def parse_ts(text, what: str = "time") -> pd.Timestamp:
    """Parse an ISO-8601 time given by a user; a bad value is a one-line error naming ``what``.

    Only ISO-8601 is accepted ("2025-06-01", "2025-06-01T12:00:00Z", "2025-06-01 12:00+02:00"):
    "April 1 2017" or "1/4/2017" are refused rather than guessed. Naive times are UTC.
    """
    if isinstance(text, (pd.Timestamp, datetime.datetime, np.datetime64)):
        return to_utc(text)
    bad = CreatorRankError(f"{what}: '{text}' is not an ISO-8601 time (e.g. 2025-06-01T00:00:00Z)")
    if not isinstance(text, str) or not _ISO.fullmatch(text.strip()):
        raise bad
    try:
        ts = pd.Timestamp(text.strip())
    except (ValueError, TypeError, OverflowError):
        raise bad from None
    if ts is pd.NaT:
        raise bad
    return to_utc(ts)
