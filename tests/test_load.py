"""The loader on real, messy input: empty tables, all-null columns, encodings, broken files,
values that must be rejected rather than changed. Every structural problem is one line
naming the file (InputError, exit 2); every unreadable value rejects its row with the value."""

from __future__ import annotations

import codecs
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import EXIT_INPUT, InputError
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import check_headers, read_table, read_tables, reading
from creatorrank.data.validate import load_market

from tiny_market import tiny_tables, write_tables

pytestmark = pytest.mark.data
NOW = "2025-01-01"
NULLABLE = [(t.name, c.name) for t in CONTRACT.values() for c in t.columns if c.nullable]


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and text
    return text


def _accounted(tables, report) -> None:
    """Every input row is in the clean tables or in the rejects: nothing dropped silently."""
    for name in C.TABLES:
        rejected = report.rejects.loc[report.rejects.table == name, "row"].nunique()
        assert report.rows_out[name] == len(tables[name])
        assert report.rows_in[name] == report.rows_out[name] + rejected, name


def _edit_csv(path, row: int, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in data row ``row`` (1-based) of a CSV file."""
    lines = path.read_text().splitlines()
    assert old in lines[row], (lines[row], old)
    lines[row] = lines[row].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n")


def _set_parquet(path, column: str, values: pa.Array) -> None:
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, values), path)


def _rejects(report, rule: str) -> pd.DataFrame:
    return report.rejects[report.rejects.rule == rule]


# --------------------------------------------------------------------------- legal but sparse


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("table", C.TABLES)
def test_zero_row_table_loads_and_validates(tiny, tmp_path, table, fmt):
    tiny[table] = tiny[table].iloc[:0]
    folder = write_tables(tiny, tmp_path, fmt)
    tables, report = load_market(folder, now=NOW)
    assert report.rows_in[table] == 0 and len(tables[table]) == 0
    assert list(tables[table].columns) == CONTRACT[table].column_names
    assert dict(tables[table].dtypes) == dict(tiny_tables()[table].dtypes)
    _accounted(tables, report)
    # children of an empty parent are rejected by reference, each naming the missing id
    for rule in report.rejects.rule.unique():
        assert rule.startswith("reference:"), report.rejects
    assert all(" not found in " in d or " was rejected in " in d for d in report.rejects.detail)


def test_header_only_csv_without_final_newline(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "campaigns.csv"
    path.write_text(path.read_text().splitlines()[0])  # no newline at all
    tables, report = load_market(tmp_path, now=NOW)
    assert len(tables[C.CAMPAIGNS]) == 0 and str(tables[C.CAMPAIGNS][C.CREATED_AT].dtype) == "datetime64[us, UTC]"
    _accounted(tables, report)


def test_all_tables_empty(tiny, tmp_path):
    for name in C.TABLES:
        tiny[name] = tiny[name].iloc[:0]
    tables, report = load_market(write_tables(tiny, tmp_path, "csv"), now=NOW)
    assert report.ok and all(len(t) == 0 for t in tables.values())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("table,column", NULLABLE, ids=[f"{t}.{c}" for t, c in NULLABLE])
def test_all_null_nullable_column(tiny, tmp_path, table, column, fmt):
    dtype = tiny[table][column].dtype
    tiny[table][column] = pd.Series([None] * len(tiny[table]), dtype=object).astype(dtype)
    tables, report = load_market(write_tables(tiny, tmp_path, fmt), now=NOW)
    assert tables[table][column].isna().all()
    assert tables[table][column].dtype == dtype
    _accounted(tables, report)
    # an all-null optional column is never a reason by itself: only rules that tie columns
    # together (an answer without responded_at, an approval without a delivery) may fire
    assert not any(r.startswith(("type:", "not_null:", "finite:")) for r in report.rejects.rule)


def test_all_optional_columns_null_at_once_is_clean(tiny, tmp_path):
    # a market without categories, budgets, rate cards, answers or post links is legal
    for table, column in NULLABLE:
        tiny[table][column] = pd.Series([None] * len(tiny[table]), dtype=object).astype(tiny[table][column].dtype)
    for fmt in ("csv", "parquet"):
        tables, report = load_market(write_tables(tiny, tmp_path / fmt, fmt), now=NOW)
        assert report.ok, report.rejects
        assert tables[C.ORDERS][C.POST_ID].isna().all()


def test_parquet_null_typed_column(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "orders.parquet", C.POST_ID, pa.nulls(3))
    _set_parquet(tmp_path / "invitations.parquet", C.FEE_USD, pa.nulls(3, pa.float32()))
    tables, report = load_market(tmp_path, now=NOW)
    assert tables[C.ORDERS][C.POST_ID].isna().all() and str(tables[C.ORDERS][C.POST_ID].dtype) == "string"
    assert "accepted_only:fee_usd" not in set(report.rejects.rule)


# --------------------------------------------------------------------------- structural errors


def test_every_missing_column_of_every_table_in_one_line(tiny, tmp_path):
    tiny[C.POSTS] = tiny[C.POSTS].drop(columns=[C.VIEWS_7D, C.LIKES_7D])
    tiny[C.ORDERS] = tiny[C.ORDERS].drop(columns=[C.GMV_USD])
    write_tables(tiny, tmp_path, "csv")
    (tmp_path / "campaigns.csv").unlink()
    with pytest.raises(InputError) as err:
        read_tables(tmp_path)
    text = _one_line(err.value)
    assert text == (
        f"{tmp_path}/posts.csv: table 'posts' is missing required columns 'views_7d', 'likes_7d'; "
        f"{tmp_path}: table 'campaigns' not found (expected campaigns.parquet, campaigns.csv or a folder campaigns/ of Parquet parts); "
        f"{tmp_path}/orders.csv: table 'orders' is missing required column 'gmv_usd'"
    )
    assert err.value.exit_code == EXIT_INPUT


def test_header_check_alone_reports_the_same_and_reads_no_data(tiny, tmp_path):
    tiny[C.INVITATIONS] = tiny[C.INVITATIONS].drop(columns=[C.DUE_AT])
    write_tables(tiny, tmp_path, "csv")
    (tmp_path / "orders.csv").write_text((tmp_path / "orders.csv").read_text() + "o9,too,many,fields,,,,,\n")
    (tmp_path / "creators.csv").unlink()
    with pytest.raises(InputError) as err:
        check_headers(tmp_path)
    assert _one_line(err.value) == (
        f"{tmp_path}: table 'creators' not found (expected creators.parquet, creators.csv or a folder creators/ of Parquet parts); "
        f"{tmp_path}/invitations.csv: table 'invitations' is missing required column 'due_at'"
    )  # the ragged orders row is a data problem: found only when the data is read
    with pytest.raises(InputError, match="^" + re.escape(str(err.value)) + "$"):
        read_tables(tmp_path)


def test_near_miss_column_name_is_pointed_out(tiny, tmp_path):
    tiny[C.POSTS] = tiny[C.POSTS].rename(columns={C.SHARES_7D: " Shares_7d"})
    write_tables(tiny, tmp_path, "parquet")
    with pytest.raises(InputError, match=r"missing required column 'shares_7d' \(found ' Shares_7d'"):
        read_tables(tmp_path)


def test_repeated_required_column(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "creators.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line + "," + line.split(",")[1] for line in lines) + "\n")
    header = path.read_text().splitlines()[0]
    assert header.endswith(",country")
    with pytest.raises(InputError, match="table 'creators' has column 'country' more than once"):
        read_tables(tmp_path)


def _broken(tmp_path, tiny, name: str, content: bytes | None, fmt="csv"):
    write_tables(tiny, tmp_path, fmt)
    path = tmp_path / f"{name}.{fmt}"
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"", "file is empty"),
        (np.random.default_rng(0).bytes(5000), "not a text CSV"),  # NUL bytes: binary
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 3, "not UTF-8 text"),  # no NUL, not UTF-8
        ("creator_id,country\n".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
    ],
    ids=["empty", "binary", "binary-no-nul", "utf16-no-bom"],
)
def test_unreadable_csv_is_one_line_naming_the_file(tiny, tmp_path, content, expected):
    path = _broken(tmp_path, tiny, "orders", content)
    with pytest.raises(InputError) as err:
        load_market(tmp_path, now=NOW)
    text = _one_line(err.value)
    assert text.startswith(f"{path}: ") and expected in text


def test_latin1_names_byte_and_line(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "posts.csv"
    _edit_csv(path, 3, ",c2,", ",c2,")  # row 3 exists
    raw = path.read_bytes().split(b"\n")
    raw[3] = raw[3].replace(b"p3", "p3é".encode("latin-1"))
    path.write_bytes(b"\n".join(raw))
    offset = path.read_bytes().index(b"\xe9")
    with pytest.raises(InputError) as err:
        read_tables(tmp_path)
    assert _one_line(err.value) == (
        f"{path}: not UTF-8 text (first bad byte at byte {offset:,}, line 4); "
        "save the file as UTF-8 (latin-1 or Windows-1252 exports are not read)"
    )


def test_latin1_beyond_the_first_megabyte(tmp_path):
    # the header is fine, the bad byte lies deep in the file: found by pyarrow, located by a scan
    tables = tiny_tables()
    posts = tables[C.POSTS]
    big = posts.iloc[np.zeros(30_000, int)].reset_index(drop=True)
    big[C.POST_ID] = [f"p{i}" for i in range(len(big))]
    big.loc[25_000, C.CATEGORY] = "caf\u00e9"
    tables[C.POSTS] = big
    write_tables(tables, tmp_path, "csv")
    path = tmp_path / "posts.csv"
    data = path.read_bytes().replace("café".encode(), "café".encode("latin-1"))
    assert len(data) > 1 << 20
    path.write_bytes(data)
    with pytest.raises(InputError, match=r"not UTF-8 text \(first bad byte at byte [0-9,]+, line 25,002\)"):
        read_tables(tmp_path)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_byte_order_marks_are_decoded(tiny, tmp_path, encoding):
    tiny[C.CREATORS].loc[2, C.PRIMARY_CATEGORY] = "caf\u00e9 \u2615"
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "creators.csv"
    text = path.read_text(encoding="utf-8")
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    pd.testing.assert_frame_equal(read_tables(tmp_path)[C.CREATORS], tiny[C.CREATORS])


def test_csv_dialect_quotes_commas_newlines_crlf(tiny, tmp_path):
    tiny[C.CREATORS].loc[0, C.PRIMARY_CATEGORY] = 'beauty, "skin"\ncare'
    tiny[C.POSTS].loc[1, C.CATEGORY] = "a,b,c"
    write_tables(tiny, tmp_path, "csv")
    for name in (C.CREATORS, C.POSTS):
        path = tmp_path / f"{name}.csv"
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # also inside the quoted value
    tables = read_tables(tmp_path)
    assert tables[C.CREATORS].loc[0, C.PRIMARY_CATEGORY] == 'beauty, "skin"\r\ncare'
    assert tables[C.POSTS].loc[1, C.CATEGORY] == "a,b,c"
    assert len(tables[C.CREATORS]) == 3 and len(tables[C.POSTS]) == 4


def test_ragged_csv_row_is_one_line(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "orders.csv"
    path.write_text(path.read_text() + "o9,c1,,,2024-05-01T00:00:00Z,1.0,,extra,fields\n")
    with pytest.raises(InputError) as err:
        read_tables(tmp_path)
    assert _one_line(err.value).startswith(f"{path}: unreadable CSV (")


def test_folder_named_like_a_table(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    (tmp_path / "posts.csv").unlink()
    (tmp_path / "posts.csv").mkdir()
    with pytest.raises(InputError, match=r"posts.csv: is a folder, not a file"):
        read_tables(tmp_path)


def test_parquet_with_corrupt_pages(tiny, tmp_path):
    big = tiny[C.POSTS].iloc[np.zeros(5000, int)].reset_index(drop=True)
    big[C.POST_ID] = [f"p{i}" for i in range(len(big))]
    path = tmp_path / "posts.parquet"
    write_tables({**tiny, C.POSTS: big}, tmp_path, "parquet")
    pq.write_table(pq.read_table(path), path, compression="snappy", use_dictionary=False)
    data = bytearray(path.read_bytes())
    meta = pq.ParquetFile(path).metadata
    start = meta.row_group(0).column(0).data_page_offset
    for k in range(start + 40, start + 400):  # inside the first column's data page; footer intact
        data[k] ^= 0xA5
    path.write_bytes(bytes(data))
    pq.read_schema(path)  # the footer still reads
    with pytest.raises(InputError) as err:
        load_market(tmp_path, now=NOW)
    assert _one_line(err.value).startswith(f"{path}: unreadable Parquet file (")


def test_parquet_that_is_not_parquet(tiny, tmp_path):
    path = _broken(tmp_path, tiny, "creators", b"PAR1 not really", fmt="parquet")
    with pytest.raises(InputError) as err:
        read_tables(tmp_path)
    assert _one_line(err.value).startswith(f"{path}: not a readable Parquet file (")


@pytest.mark.parametrize("values", [pa.array([1, 2, 3, 4], pa.int64()), pa.array([1.0, 2.0, 3.0, 4.0])])
def test_parquet_timestamps_stored_as_numbers(tiny, tmp_path, values):
    write_tables(tiny, tmp_path, "parquet")
    path = tmp_path / "posts.parquet"
    _set_parquet(path, C.POSTED_AT, values)
    with pytest.raises(InputError) as err:
        read_tables(tmp_path)
    assert _one_line(err.value) == (
        f"{path}: table 'posts': column 'posted_at' is stored as {values.type}; expected a timestamp "
        "(a Parquet timestamp, or ISO-8601 text; numbers are not read as epoch times)"
    )


def test_parquet_column_of_an_impossible_type(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "creators.parquet", C.CREATOR_ID, pa.array([[1], [2], [3]]))
    _set_parquet(tmp_path / "creators.parquet", C.RATE_CARD_USD, pa.array([True, False, None]))
    with pytest.raises(InputError, match=r"column 'creator_id' is stored as list<.*>; expected .*; column 'rate_card_usd' is stored as bool"):
        read_tables(tmp_path)


def test_parquet_time_units_and_zones(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    expected = tiny[C.CREATORS][C.JOINED_AT]
    utc = expected.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]")
    paris = pa.array(utc).cast(pa.timestamp("ms", tz="Europe/Paris"))  # same instants, shown in Paris
    _set_parquet(tmp_path / "creators.parquet", C.JOINED_AT, paris)
    naive_ns = pa.array(tiny[C.CAMPAIGNS][C.CREATED_AT].dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))
    _set_parquet(tmp_path / "campaigns.parquet", C.CREATED_AT, naive_ns)
    _set_parquet(tmp_path / "campaigns.parquet", C.ENDS_AT, pa.array(tiny[C.CAMPAIGNS][C.ENDS_AT].dt.date.to_numpy(), pa.date32()))
    tables = read_tables(tmp_path)
    pd.testing.assert_series_equal(tables[C.CREATORS][C.JOINED_AT], expected)
    pd.testing.assert_series_equal(tables[C.CAMPAIGNS][C.CREATED_AT], tiny[C.CAMPAIGNS][C.CREATED_AT])
    pd.testing.assert_series_equal(tables[C.CAMPAIGNS][C.ENDS_AT], tiny[C.CAMPAIGNS][C.ENDS_AT])


def test_dictionary_encoded_strings(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "creators.parquet", C.COUNTRY, pa.array(["US", "US", "GB"]).dictionary_encode())
    assert list(read_tables(tmp_path)[C.CREATORS][C.COUNTRY]) == ["US", "US", "GB"]


def test_reading_helper_wraps_any_read_error(tmp_path):
    with pytest.raises(InputError) as err:
        with reading(tmp_path / "x.parquet", "Parquet file"):
            raise OSError("Corrupt snappy compressed data.\nmore detail")
    assert str(err.value) == f"{tmp_path}/x.parquet: unreadable Parquet file (Corrupt snappy compressed data.)"
    with pytest.raises(InputError, match="already one line"):  # user errors pass through unchanged
        with reading(tmp_path, "CSV"):
            raise InputError("already one line")


def test_single_table_reader_checks_header_too(tiny, tmp_path):
    tiny[C.ORDERS] = tiny[C.ORDERS].drop(columns=[C.ORDER_ID])
    write_tables(tiny, tmp_path, "csv")
    with pytest.raises(InputError, match="missing required column 'order_id'"):
        read_table(tmp_path, C.ORDERS)
    pd.testing.assert_frame_equal(read_table(tmp_path, C.POSTS), tiny[C.POSTS], check_like=False)


# --------------------------------------------------------------------------- values: never changed


@pytest.mark.parametrize(
    "text,ok,value",
    [("12.5", False, None), ("3000.0", True, 3000), ("3e3", True, 3000), (" 3001 ", True, 3001), ("+3002", True, 3002),
     ("lots", False, None), ("99999999999999999999", False, None), ("9007199254740993", True, 9007199254740993),
     ("inf", False, None), ("nan", False, None), ("0x10", False, None)],
)
def test_csv_counts_must_be_whole_numbers(tiny, tmp_path, text, ok, value):
    write_tables(tiny, tmp_path, "csv")
    _edit_csv(tmp_path / "posts.csv", 2, ",3000,", f",{text},")
    _edit_csv(tmp_path / "posts.csv", 2, ",100,", ",0,")  # no likes: any view count is plausible
    tables, report = load_market(tmp_path, now=NOW)
    if ok:
        assert report.ok, report.rejects
        assert tables[C.POSTS].loc[1, C.VIEWS_7D] == value and tables[C.POSTS][C.VIEWS_7D].dtype == np.int64
    else:
        bad = _rejects(report, "type:views_7d")
        assert list(bad.key) == ["p2"] and list(bad.row) == [2]
        assert bad.detail.iloc[0] == f"views_7d {text!r} is not a valid int64"
        assert "p2" not in set(tables[C.POSTS][C.POST_ID])
        assert tables[C.POSTS][C.VIEWS_7D].dtype == np.int64  # the clean table is whole again
        assert f"e.g. {text!r}" in report.summary()


def test_parquet_float_counts(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "posts.parquet", C.VIEWS_7D, pa.array([5000.0, 12.5, 10.0, np.nan]))
    _set_parquet(tmp_path / "posts.parquet", C.LIKES_7D, pa.array([300, 100, 1, 2**64 - 1], pa.uint64()))
    tables, report = load_market(tmp_path, now=NOW)
    bad = _rejects(report, "type:views_7d")
    assert list(bad.key) == ["p2", "p4"]
    assert list(bad.detail) == ["views_7d '12.5' is not a valid int64", "views_7d 'nan' is not a valid int64"]
    assert list(_rejects(report, "type:likes_7d").key) == ["p4"]
    assert tables[C.POSTS].set_index(C.POST_ID).loc["p3", C.VIEWS_7D] == 10  # 10.0 is whole: kept


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "NaN", "1e400", "Infinity", "-1e999"])
def test_nonfinite_money_is_rejected_naming_row_and_column(tiny, tmp_path, text):
    write_tables(tiny, tmp_path, "csv")
    _edit_csv(tmp_path / "orders.csv", 2, ",60.0,", f",{text},")
    tables, report = load_market(tmp_path, now=NOW)
    bad = _rejects(report, "finite:gmv_usd")
    assert list(bad.row) == [2] and list(bad.key) == ["o2"]
    assert bad.detail.iloc[0] == f"gmv_usd {text!r} is not a finite number"
    assert set(report.rejects.rule) == {"finite:gmv_usd"}  # not also "not_null" or "negative"
    assert np.isfinite(tables[C.ORDERS][C.GMV_USD]).all()


def test_nonfinite_next_to_unreadable_text(tiny, tmp_path):
    # "lots" forces the per-value parser: "NaN" must still be "not finite", never a silent null
    write_tables(tiny, tmp_path, "csv")
    _edit_csv(tmp_path / "creators.csv", 1, ",500.0", ",NaN")
    _edit_csv(tmp_path / "creators.csv", 3, ",120.0", ",lots")
    tables, report = load_market(tmp_path, now=NOW)
    assert list(_rejects(report, "finite:rate_card_usd").key) == ["c1"]
    assert list(_rejects(report, "type:rate_card_usd").detail) == ["rate_card_usd 'lots' is not a valid float64"]
    assert list(tables[C.CREATORS][C.CREATOR_ID]) == ["c2"]


def test_nonfinite_in_parquet_and_in_nullable_columns(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "creators.parquet", C.RATE_CARD_USD, pa.array([np.inf, None, np.nan]))
    _set_parquet(tmp_path / "orders.parquet", C.GMV_USD, pa.array([40.0, -np.inf, 25.0]))
    tables, report = load_market(tmp_path, now=NOW)
    assert list(_rejects(report, "finite:rate_card_usd").detail) == [
        "rate_card_usd 'inf' is not a finite number", "rate_card_usd 'nan' is not a finite number"]
    assert list(_rejects(report, "finite:gmv_usd").key) == ["o2"]
    assert list(tables[C.CREATORS][C.CREATOR_ID]) == ["c2"]  # a null rate card is fine; NaN is not


def test_float_ids(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "campaigns.parquet", C.BRAND_ID, pa.array([12.0, 12.5]))
    tables, report = load_market(tmp_path, now=NOW)
    assert list(tables[C.CAMPAIGNS][C.BRAND_ID]) == ["12"]
    bad = _rejects(report, "type:brand_id")
    assert list(bad.key) == ["k2"] and bad.detail.iloc[0] == "brand_id '12.5' is not a valid string"


def test_float_primary_key_shows_the_value_as_key(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    _set_parquet(tmp_path / "orders.parquet", C.ORDER_ID, pa.array([1.0, 12.5, 3.0]))
    tables, report = load_market(tmp_path, now=NOW)
    assert list(tables[C.ORDERS][C.ORDER_ID]) == ["1", "3"]
    assert list(_rejects(report, "type:order_id").key) == ["12.5"]


def test_unreadable_times_and_booleans_show_the_value(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    _edit_csv(tmp_path / "creators.csv", 1, "2024-01-01T00:00:00.000000Z", "April 1 2017")
    _edit_csv(tmp_path / "posts.csv", 1, ",True,", ",maybe,")
    tables, report = load_market(tmp_path, now=NOW)
    assert list(_rejects(report, "type:joined_at").detail) == ["joined_at 'April 1 2017' is not a valid timestamp"]
    assert list(_rejects(report, "type:is_shoppable").detail) == ["is_shoppable 'maybe' is not a valid bool"]
    _accounted(tables, report)


def test_mixed_offsets_and_naive_times_in_one_column(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    _edit_csv(tmp_path / "creators.csv", 1, "2024-01-01T00:00:00.000000Z", "2024-01-01T02:00:00+02:00")
    _edit_csv(tmp_path / "creators.csv", 2, "2024-02-01T00:00:00.000000Z", "2024-02-01 00:00:00")
    frame = read_tables(tmp_path)[C.CREATORS]
    pd.testing.assert_series_equal(frame[C.JOINED_AT], tiny[C.CREATORS][C.JOINED_AT])
