"""Read a folder of raw tables (Parquet or CSV) and coerce them to the contract's types.

Structural problems (missing file, missing column) raise :class:`InputError` with one line
naming the table and column. Values that cannot be read as their column's type do not stop
the load: they become null and are recorded in ``attrs["unparsed"]`` so validation rejects
the row with a reason instead of dropping it silently.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import InputError
from .contract import BOOL, CONTRACT, FLOAT, INT, STRING, TIMESTAMP, Table

ID_DTYPE = pd.StringDtype("pyarrow")
TS_DTYPE = "datetime64[us, UTC]"
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def table_path(data_dir: str | os.PathLike, table: str) -> Path:
    """Return the file holding ``table``: Parquet wins over CSV; raise when neither exists."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: data folder not found")
    for ext in (".parquet", ".csv"):
        path = data_dir / f"{table}{ext}"
        if path.is_file():
            return path
    raise InputError(f"{data_dir}: table '{table}' not found (expected {table}.parquet or {table}.csv)")


def _read_raw(path: Path, spec: Table) -> pd.DataFrame:
    """Read the contract's columns of one file, CSV entirely as text."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # corrupt file: one line, not a traceback
            raise InputError(f"{path}: not a readable Parquet file ({exc.__class__.__name__})") from None
        _require_columns(path, spec, names)
        return pq.read_table(path, columns=spec.column_names).to_pandas()
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    _require_columns(path, spec, header)
    try:
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=spec.column_names,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: unreadable CSV ({str(exc).splitlines()[0]})") from None
    return table.to_pandas()


def _require_columns(path: Path, spec: Table, present: list[str]) -> None:
    missing = [c for c in spec.column_names if c not in present]
    if missing:
        raise InputError(f"{path}: table '{spec.name}' is missing required column '{missing[0]}'")


def _coerce(series: pd.Series, dtype: str) -> pd.Series:
    """Coerce one column; unreadable values become null (tracked by the caller)."""
    if dtype == STRING:
        if series.dtype.kind == "f":  # ids written as floats by some exporters: 12.0 -> "12"
            series = series.astype("Int64")
        out = series.astype(ID_DTYPE)
        return out
    if dtype == TIMESTAMP:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.tz_convert("UTC").astype(TS_DTYPE)
        if pd.api.types.is_datetime64_dtype(series.dtype):  # naive: the contract says UTC
            return series.dt.tz_localize("UTC").astype(TS_DTYPE)
        return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601").astype(TS_DTYPE)
    if dtype in (FLOAT, INT):
        out = pd.to_numeric(series, errors="coerce")
        if dtype == INT:
            return out.astype("Float64").astype("Int64") if out.isna().any() else out.astype("int64")
        return out.astype("float64")
    if dtype == BOOL:
        if pd.api.types.is_bool_dtype(series.dtype):
            return series.astype("boolean")
        text = series.astype("string").str.strip().str.lower()
        out = pd.Series(pd.NA, index=series.index, dtype="boolean")
        out[text.isin(_TRUE).fillna(False).to_numpy(bool)] = True
        out[text.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        return out
    raise ValueError(f"unknown contract dtype {dtype}")


def coerce_table(raw: pd.DataFrame, spec: Table) -> pd.DataFrame:
    """Coerce a raw frame to the contract's types.

    Returns a frame with the contract's columns in contract order. ``attrs["unparsed"]``
    maps a column name to a boolean mask of rows whose non-null value could not be read.
    """
    out: dict[str, pd.Series] = {}
    unparsed: dict[str, np.ndarray] = {}
    for col in spec.columns:
        series = raw[col.name].reset_index(drop=True)
        coerced = _coerce(series, col.dtype)
        bad = (coerced.isna() & series.notna()).to_numpy(bool)
        if bad.any():
            unparsed[col.name] = bad
        out[col.name] = coerced
    frame = pd.DataFrame(out)
    frame.attrs["unparsed"] = unparsed
    return frame


def read_table(data_dir: str | os.PathLike, table: str) -> pd.DataFrame:
    """Read and coerce one contract table from ``data_dir``."""
    spec = CONTRACT[table]
    path = table_path(data_dir, table)
    frame = coerce_table(_read_raw(path, spec), spec)
    frame.attrs["path"] = str(path)
    return frame


def read_tables(data_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read and coerce all five contract tables (no rule checks; see :mod:`.validate`)."""
    # Check every file exists before reading any, so a missing one fails fast.
    for name in C.TABLES:
        table_path(data_dir, name)
    return {name: read_table(data_dir, name) for name in C.TABLES}
