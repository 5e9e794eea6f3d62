"""The shared Arrow helpers: strings and id lookups (core/arrow.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from creatorrank.core.arrow import arrow_strings, positions, rows_of, string_column

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("values", [
    ["a", None, "c"],
    pd.Series(["a", None, "c"], dtype="string[pyarrow]"),
    pd.Series(["a", np.nan, "c"], dtype=object),
    pa.array(["a", None, "c"]),
])
def test_arrow_strings_keeps_nulls_and_text(values):
    arr = arrow_strings(values)
    assert pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
    assert arr.to_pylist() == ["a", None, "c"]


def test_arrow_strings_casts_numbers_to_text():
    assert arrow_strings(pd.Series([1, 2])).to_pylist() == ["1", "2"]


def test_positions_finds_each_value_or_minus_one():
    pos = positions(pd.Series(["b", "x", None, "a", "b"], dtype="string[pyarrow]"), ["a", "b", "c"])
    assert pos.dtype == np.int64 and pos.tolist() == [1, -1, -1, 0, 1]
    assert positions([], ["a"]).tolist() == []
    # an Arrow value set of the other string type is cast, not missed
    assert positions(["c"], pa.array(["a", "c"], pa.large_string())).tolist() == [1]


def test_rows_of_probes_the_table_once_per_distinct_key():
    table_ids = pd.Series(["p1", "p2", "p3"])
    assert rows_of(pd.Series(["p3", None, "p3", "zz", "p1"]), table_ids).tolist() == [2, -1, 2, -1, 0]
    assert rows_of(pd.Series([None, None], dtype=object), table_ids).tolist() == [-1, -1]
    assert rows_of([], table_ids).tolist() == []


def test_string_column_is_arrow_backed():
    col = string_column(np.array(["x", "y"], dtype=object))
    assert isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow" and list(col) == ["x", "y"]
