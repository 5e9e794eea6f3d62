"""Strict JSON for the files the project writes (score manifests, report page data)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and NaT become None, numpy scalars Python ones, times ISO-8601."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def dump_json(doc: Any, indent: int | None = None) -> str:
    """Strict JSON (a NaN is a bug here, not a value); numpy scalars and times are converted."""
    return json.dumps(doc, default=_json_default, allow_nan=False, indent=indent,
                      separators=(",", ":") if indent is None else None)


def _json_default(value: Any) -> Any:
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return converted
