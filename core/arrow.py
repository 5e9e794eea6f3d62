"""Arrow helpers shared by loading, validation, features and serving: strings and id lookups.

Hashing ids in Arrow is what keeps joins on 10M-row tables in seconds: ``pd.Index.get_indexer``
and ``isin`` on Arrow-backed strings go through Python objects (tens of seconds at that size).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STRING = pd.StringDtype("pyarrow")


def arrow_strings(values) -> pa.Array | pa.ChunkedArray:
    """A column of ids or names as an Arrow string array (no copy for Arrow-backed strings).

    Parameters
    ----------
    values : Series, array-like, pa.Array or pa.ChunkedArray
        Missing values (None, NaN, pd.NA) become nulls; non-strings are cast to strings.
    """
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        s = pd.Series(values)
        try:
            arr = pa.array(s.array)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            arr = pa.array(s.astype(object).to_numpy(), from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.large_string())
    return arr


def string_column(values) -> pd.arrays.ArrowStringArray:
    """An Arrow-backed pandas string column from a numpy / list of strings (one conversion)."""
    return pd.array(np.asarray(values, dtype=object), dtype=STRING)


def positions(values, universe) -> np.ndarray:
    """Position of each value in ``universe`` (-1 when missing or absent): one hash lookup.

    Parameters
    ----------
    values, universe : Series, array-like or Arrow arrays
        ``universe`` should hold unique values (the first match wins otherwise).

    Returns
    -------
    ndarray of int64
    """
    arr = arrow_strings(values)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    vs = universe if isinstance(universe, (pa.Array, pa.ChunkedArray)) else arrow_strings(universe)
    if isinstance(vs, pa.ChunkedArray):
        vs = vs.combine_chunks()
    if vs.type != arr.type:
        vs = vs.cast(arr.type)
    found = pc.index_in(arr, value_set=vs).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def rows_of(keys, table_ids) -> np.ndarray:
    """Row of ``table_ids`` (unique ids) holding each key; -1 when missing or absent.

    Hashes the keys' distinct values (orders point at far fewer posts than there are)
    and probes the table once, instead of hashing the whole table.
    """
    arr = arrow_strings(keys)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) == 0:
        return np.zeros(0, dtype=np.int64)
    enc = pc.dictionary_encode(arr)
    if len(enc.dictionary) == 0:  # every key is null (the contract allows it): nothing to find
        return np.full(len(arr), -1, dtype=np.int64)
    in_keys = positions(table_ids, enc.dictionary)  # for every table row: its distinct-key index or -1
    row_of = np.full(len(enc.dictionary), -1, dtype=np.int64)
    hit = np.flatnonzero(in_keys >= 0)
    row_of[in_keys[hit]] = hit
    idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.full(len(idx), -1, dtype=np.int64)
    ok = idx >= 0
    out[ok] = row_of[idx[ok]]
    return out
