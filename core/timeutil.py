"""Parsing user-given times: every time in the system is a UTC timestamp."""

from __future__ import annotations

import pandas as pd

from .errors import CreatorRankError


def to_utc(value) -> pd.Timestamp:
    """Return ``value`` as a UTC timestamp; naive times are taken as UTC (the contract's rule)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_ts(text: str, what: str = "time") -> pd.Timestamp:
    """Parse an ISO-8601 time given by a user; a bad value is a one-line error naming ``what``."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise CreatorRankError(f"{what}: '{text}' is not an ISO-8601 time") from None
    if ts is pd.NaT:
        raise CreatorRankError(f"{what}: '{text}' is not an ISO-8601 time")
    return to_utc(ts)
