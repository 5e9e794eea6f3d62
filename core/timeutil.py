"""Parsing user-given times: every time in the system is a UTC timestamp."""

from __future__ import annotations

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


def parse_ts(text: str, what: str = "time") -> pd.Timestamp:
    """Parse an ISO-8601 time given by a user; a bad value is a one-line error naming ``what``."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise CreatorRankError(f"{what}: '{text}' is not an ISO-8601 time") from None
    if ts is pd.NaT:
        raise CreatorRankError(f"{what}: '{text}' is not an ISO-8601 time")
    return to_utc(ts)
