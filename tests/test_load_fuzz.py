"""Property-based fuzzing of the loader: random bytes, CSV dialects and encodings, random
Parquet types per column, empty and one-row tables.

The property: ``load_market`` either returns, and then every input row is in the clean tables
or in the rejects (nothing dropped silently, no value changed), or it raises a
:class:`CreatorRankError` with a one-line message. Nothing else (no traceback) is allowed.
The default run keeps to a few seconds; ``-m slow`` runs many more examples.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError, InputError
from creatorrank.data.contract import BOOL, CONTRACT, FLOAT, INT, STRING, TIMESTAMP
from creatorrank.data.validate import load_market

from tiny_market import tiny_tables, write_tables

pytestmark = pytest.mark.data
NOW = "2025-01-01"
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, Path]:
    """The tiny market written once as CSV and as Parquet: each example replaces one file."""
    root = tmp_path_factory.mktemp("fuzz")
    return {fmt: write_tables(tiny_tables(), root / fmt, fmt) for fmt in ("csv", "parquet")}


def _market_with(base: Path, name: str, write) -> tuple[Path, tempfile.TemporaryDirectory]:
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    for src in base.iterdir():
        if src.stem != name:
            shutil.copy(src, folder / src.name)
    write(folder)
    return folder, tmp


def _outcome(folder: Path):
    """Run the loader; return (tables, report) or the CreatorRankError. Anything else fails."""
    try:
        return load_market(folder, now=NOW)
    except CreatorRankError as exc:
        text = str(exc)
        assert text and "\n" not in text, repr(text)
        return exc


def _accounted(tables, report) -> None:
    for name in C.TABLES:
        rejected = report.rejects.loc[report.rejects.table == name, "row"].nunique()
        assert report.rows_in[name] == len(tables[name]) + rejected, name
        assert report.rows_out[name] == len(tables[name])


# --------------------------------------------------------------------------- random and mangled bytes


def _mangle(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, pos, byte in edits:
        if not out:
            break
        pos %= len(out)
        if kind == 0:
            out[pos] = byte
        elif kind == 1:
            out.insert(pos, byte)
        else:
            del out[pos]
    return bytes(out)


def _check_bytes(base, fmt, name, data):
    folder, tmp = _market_with(base[fmt], name, lambda f: (f / f"{name}.{fmt}").write_bytes(data))
    with tmp:
        result = _outcome(folder)
        if not isinstance(result, CreatorRankError):
            _accounted(*result)


_edits = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8)


@FAST
@given(fmt=st.sampled_from(["csv", "parquet"]), name=st.sampled_from(C.TABLES), data=st.binary(max_size=600))
def test_random_bytes_as_a_table(base, fmt, name, data):
    _check_bytes(base, fmt, name, data)


@FAST
@given(fmt=st.sampled_from(["csv", "parquet"]), name=st.sampled_from(C.TABLES), edits=_edits)
def test_mangled_valid_file(base, fmt, name, edits):
    data = (base[fmt] / f"{name}.{fmt}").read_bytes()
    _check_bytes(base, fmt, name, _mangle(data, edits))


# --------------------------------------------------------------------------- CSV dialects and encodings

_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=10)
_TEMPLATES = {
    STRING: st.one_of(st.sampled_from(["c1", "c2", "k1", "p1", "US", "beauty", "a,b", 'say "hi"', "x\ny", " sp "]), _TEXT),
    TIMESTAMP: st.one_of(
        st.sampled_from(["2024-03-01T00:00:00Z", "2024-03-01", "2024-03-01 12:00:00+02:00", "1970-01-01", "April 1 2017"]),
        st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(), max_value=pd.Timestamp("2100-01-01").to_pydatetime()).map(lambda d: d.isoformat()),
        _TEXT,
    ),
    FLOAT: st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.sampled_from(["1e400", "-0", "12", " 3.5 ", "1,5"]), _TEXT),
    INT: st.one_of(st.integers(-10, 10**20).map(str), st.sampled_from(["12.5", "12.0", "1e3", "+4", "0x10", " 7 "]), _TEXT),
    BOOL: st.one_of(st.sampled_from(["true", "False", "1", "0", "yes", "N", "maybe", "TRUE "]), _TEXT),
}
_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32"]


@st.composite
def _csv_table(draw):
    name = draw(st.sampled_from(C.TABLES))
    spec = CONTRACT[name]
    n = draw(st.integers(0, 4))
    rows = [[draw(st.one_of(st.just(""), _TEMPLATES[c.dtype])) for c in spec.columns] for _ in range(n)]
    dialect = {
        "quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        "lineterminator": draw(st.sampled_from(["\n", "\r\n"])),
    }
    extra = draw(st.booleans())  # an extra column the loader must ignore
    final_newline = draw(st.booleans())
    return name, spec, rows, dialect, extra, final_newline, draw(st.sampled_from(_ENCODINGS))


def _render(spec, rows, dialect, extra, final_newline) -> str:
    buf = io.StringIO()
    if dialect["lineterminator"] == "\n" and any("\r" in v for row in rows for v in row):
        dialect = {**dialect, "quoting": csv.QUOTE_ALL}  # Python leaves a lone CR unquoted: not a valid CSV
    writer = csv.writer(buf, **dialect)
    header = spec.column_names[::-1] + (["notes"] if extra else [])  # column order is free
    writer.writerow(header)
    for row in rows:
        writer.writerow(row[::-1] + (["x,\ny"] if extra else []))
    text = buf.getvalue()
    return text if final_newline else text.removesuffix(dialect["lineterminator"])


def _check_csv(base, case):
    name, spec, rows, dialect, extra, final_newline, encoding = case
    text = _render(spec, rows, dialect, extra, final_newline)
    folder, tmp = _market_with(base["csv"], name, lambda f: (f / f"{name}.csv").write_bytes(text.encode(encoding)))
    with tmp:
        result = _outcome(folder)
        # a well-formed text CSV in a supported encoding always loads: rows are rejected, not the file
        assert not isinstance(result, CreatorRankError), (str(result), text)
        tables, report = result
        assert report.rows_in[name] == len(rows)
        _accounted(tables, report)
        # each kept row is its written row: strings unchanged, a value null exactly when its field was empty
        rejected = set(report.rejects.loc[report.rejects.table == name, "row"])
        kept = [row for i, row in enumerate(rows, start=1) if i not in rejected]
        clean = tables[name]
        assert len(kept) == len(clean)
        for j, col in enumerate(spec.columns):
            written = pd.Series([row[j] for row in kept], dtype=object)
            got = clean[col.name]
            assert (got.isna().to_numpy() == (written == "").to_numpy()).all(), (col.name, list(written), list(got))
            if col.dtype == STRING:
                assert [v for v in got.dropna()] == [v for v in written if v != ""], col.name


@FAST
@given(case=_csv_table())
def test_csv_dialects_and_encodings(base, case):
    _check_csv(base, case)


@FAST
@given(text=st.text(st.characters(min_codepoint=0xA0, max_codepoint=0xFF), min_size=1, max_size=5))
def test_latin1_is_refused_with_the_place(base, text):
    try:  # some latin-1 byte runs happen to be valid UTF-8 ("Â\xa0"): mojibake, not detectable
        text.encode("latin-1").decode("utf-8")
        assume(False)
    except UnicodeDecodeError:
        pass
    spec = CONTRACT[C.CREATORS]
    body = _render(spec, [["c9", "US", text, "2024-01-01", "1"]], {"lineterminator": "\n"}, False, True)
    folder, tmp = _market_with(base["csv"], C.CREATORS, lambda f: (f / "creators.csv").write_bytes(body.encode("latin-1")))
    with tmp:
        result = _outcome(folder)
        assert isinstance(result, InputError) and "not UTF-8 text (first bad byte at byte" in str(result)
        assert "line 2" in str(result)


# --------------------------------------------------------------------------- Parquet: random types per column

_ARROW = {
    "string": pa.large_string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
    "timestamp_utc": pa.timestamp("us", tz="UTC"), "timestamp_ns": pa.timestamp("ns"), "date32": pa.date32(),
    "null": pa.null(),
}
# which storage types can hold which contract type (anything else is a one-line structural error)
_HOLDS = {
    STRING: {"string", "int64", "float64", "null"},
    TIMESTAMP: {"string", "timestamp_utc", "timestamp_ns", "date32", "null"},
    FLOAT: {"string", "int64", "float64", "null"},
    INT: {"string", "int64", "float64", "null"},
    BOOL: {"string", "int64", "float64", "bool", "null"},
}
_VALUES = {
    "string": _TEXT | st.sampled_from(["c1", "k1", "p1", "2024-03-01", "12", "true"]),
    "int64": st.integers(-(2**63), 2**63 - 1) | st.integers(0, 5),
    "float64": st.floats() | st.sampled_from([0.0, 1.0, 12.5]),
    "bool": st.booleans(),
    "timestamp_utc": st.datetimes(min_value=pd.Timestamp("1950-01-01").to_pydatetime(), max_value=pd.Timestamp("2100-01-01").to_pydatetime()),
    "timestamp_ns": st.datetimes(min_value=pd.Timestamp("1950-01-01").to_pydatetime(), max_value=pd.Timestamp("2100-01-01").to_pydatetime()),
    "date32": st.dates(min_value=pd.Timestamp("1950-01-01").date(), max_value=pd.Timestamp("2100-01-01").date()),
    "null": st.none(),
}


@st.composite
def _parquet_table(draw):
    name = draw(st.sampled_from(C.TABLES))
    spec = CONTRACT[name]
    n = draw(st.integers(0, 3))
    columns, kinds = {}, {}
    for col in spec.columns:
        kind = draw(st.sampled_from(sorted(_HOLDS[col.dtype])) if draw(st.integers(0, 4)) else st.sampled_from(sorted(_ARROW)))
        values = [draw(st.one_of(st.none(), _VALUES[kind])) for _ in range(n)]
        if kind == "timestamp_utc":
            values = [None if v is None else pd.Timestamp(v, tz="UTC") for v in values]
        columns[col.name] = pa.array(values, _ARROW[kind])
        kinds[col.name] = kind
    return name, spec, pa.table(columns), kinds


def _check_parquet(base, case):
    name, spec, table, kinds = case
    folder, tmp = _market_with(base["parquet"], name, lambda f: pq.write_table(table, f / f"{name}.parquet"))
    with tmp:
        result = _outcome(folder)
        impossible = [c.name for c in spec.columns if kinds[c.name] not in _HOLDS[c.dtype]]
        if impossible:
            assert isinstance(result, InputError), impossible
            for col in impossible:
                assert f"column '{col}' is stored as" in str(result)
            return
        assert not isinstance(result, CreatorRankError), str(result)
        tables, report = result
        assert report.rows_in[name] == table.num_rows
        _accounted(tables, report)
        for col in spec.columns:  # every clean value is of the contract's type and finite
            values = tables[name][col.name]
            if col.dtype in (INT, FLOAT):
                assert np.isfinite(values.dropna().to_numpy(dtype=float)).all()


@FAST
@given(case=_parquet_table())
def test_parquet_random_types_per_column(base, case):
    _check_parquet(base, case)


# --------------------------------------------------------------------------- many more examples


@pytest.mark.slow
@SLOW
@given(fmt=st.sampled_from(["csv", "parquet"]), name=st.sampled_from(C.TABLES), edits=_edits, data=st.binary(max_size=3000))
def test_slow_bytes(base, fmt, name, edits, data):
    _check_bytes(base, fmt, name, data)
    _check_bytes(base, fmt, name, _mangle((base[fmt] / f"{name}.{fmt}").read_bytes(), edits))


@pytest.mark.slow
@SLOW
@given(csv_case=_csv_table(), parquet_case=_parquet_table())
def test_slow_dialects_and_types(base, csv_case, parquet_case):
    _check_csv(base, csv_case)
    _check_parquet(base, parquet_case)
