"""Tables as folders of Parquet parts (issue 15, input at scale).

A market written as hive-partitioned parts reads, validates and featurises exactly as the same
market written as single files; every structural problem of a folder is one line naming the
part (exit 2); a rejected row of a part names its part file and its row there.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from cli_invoke import invoke, isolate
from tiny_market import tiny_tables, write_tables

from creatorrank.core import constants as C
from creatorrank.core.errors import EXIT_INPUT, EXIT_REJECTED, InputError
from creatorrank.data.load import read_tables, table_parts
from creatorrank.data.validate import load_market, validate_folder

pytestmark = pytest.mark.data

NOW = "2026-06-01"
MONTH = "month"  # a partition key that is no contract column: ignored by the loader


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    with warnings.catch_warnings():  # pyarrow reads tz-aware columns through Series.values (pandas 3.1 warns)
        warnings.simplefilter("ignore", DeprecationWarning)
        return pa.Table.from_pandas(frame, preserve_index=False)


def write_partitioned(tables: dict[str, pd.DataFrame], folder: Path, rows_per_part: int = 500) -> Path:
    """Every table as a folder of hive-style parts: posts and orders by month (not a contract
    column), creators by country (a contract column, then held only by the folder names), the
    rest in plain parts of at most ``rows_per_part`` rows; posts use the ``NAME.parquet/`` name."""
    plans = {
        C.POSTS: ("posts.parquet", C.POSTED_AT),
        C.ORDERS: ("orders", C.ORDERED_AT),
        C.CREATORS: ("creators", None),
        C.CAMPAIGNS: ("campaigns", None),
        C.INVITATIONS: ("invitations", None),
    }
    for name, (target, month_of) in plans.items():
        frame = tables[name]
        keys: list[str] = []
        if month_of is not None:
            frame = frame.assign(**{MONTH: frame[month_of].dt.strftime("%Y-%m")})
            keys = [MONTH]
        elif name == C.CREATORS:
            keys = [C.COUNTRY]
        ds.write_dataset(
            _arrow(frame), folder / target, format="parquet", partitioning=keys or None,
            partitioning_flavor="hive" if keys else None, basename_template="part-{i}.parquet",
            max_rows_per_file=rows_per_part, max_rows_per_group=rows_per_part, use_threads=False,
        )
    return folder


@pytest.fixture(scope="module")
def generated():
    from creatorrank.data.generate import generate_market

    tables = generate_market(60, 12, 3, posts_per_creator=20).tables
    posts, orders = tables[C.POSTS], tables[C.ORDERS]  # faults spread over parts and months
    posts.loc[posts.index[::97], C.LIKES_7D] = posts[C.VIEWS_7D] + 1
    posts.loc[posts.index[5], C.CREATOR_ID] = "ghost"
    orders.loc[orders.index[::151], C.GMV_USD] = -1.0
    tables[C.CREATORS].loc[3, C.RATE_CARD_USD] = float("inf")
    posts.loc[posts.index[700], C.POST_ID] = posts.loc[posts.index[3], C.POST_ID]  # a key repeated far apart
    own = posts.index[posts[C.CREATOR_ID] == posts.loc[posts.index[10], C.CREATOR_ID]]
    own = posts.loc[own].sort_values(C.POSTED_AT).index
    posts.loc[own, C.FOLLOWERS_AT_POST] = 1_000_000
    posts.loc[own[len(own) // 2], C.FOLLOWERS_AT_POST] = 0  # a scrape glitch: rows apart in the table
    return tables


def _by_key(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    from creatorrank.data.contract import CONTRACT

    return {n: f.sort_values(CONTRACT[n].key).reset_index(drop=True) for n, f in tables.items()}


def _comparable(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejects without the row numbers and files (parts regroup the rows)."""
    cols = ["table", "key", "rule", "detail"]
    return rejects[cols].astype(str).sort_values(cols).reset_index(drop=True)


# --------------------------------------------------------------------------- same market, two layouts


def test_parts_give_the_same_tables_features_and_report(generated, tmp_path):
    from creatorrank.features.engine import training_matrix

    files = write_tables(generated, tmp_path / "files")
    parts = write_partitioned(generated, tmp_path / "parts", rows_per_part=300)
    assert len(table_parts(parts / "posts.parquet")) > 5  # several months, several parts in some
    assert (parts / "creators" / f"{C.COUNTRY}=US").is_dir()

    raw_f, raw_p = read_tables(files), read_tables(parts)
    for name in C.TABLES:
        pd.testing.assert_frame_equal(_by_key({name: raw_p[name]})[name], _by_key({name: raw_f[name]})[name])

    clean_f, rep_f = load_market(files, now=NOW)
    clean_p, rep_p = load_market(parts, now=NOW)
    assert not rep_f.ok  # the generator's glitches: something to compare
    assert rep_p.summary() == rep_f.summary()
    pd.testing.assert_frame_equal(_comparable(rep_p.rejects), _comparable(rep_f.rejects))
    for name in C.TABLES:
        pd.testing.assert_frame_equal(_by_key(clean_p)[name], _by_key(clean_f)[name])

    pd.testing.assert_frame_equal(training_matrix(clean_p), training_matrix(clean_f))


@pytest.mark.parametrize("chunk_rows", [97, 1_000_000])
def test_chunked_validation_reports_what_load_market_does(generated, tmp_path, monkeypatch, chunk_rows):
    """validate_folder checks one chunk at a time (a part, or chunk_rows rows of a file); keys
    repeated across chunks, glitches and cascades come out exactly as from the whole tables."""
    import creatorrank.data.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", chunk_rows)
    for folder in (write_tables(generated, tmp_path / "files"), write_partitioned(generated, tmp_path / "parts"),
                   write_tables(generated, tmp_path / "csv", "csv")):
        _, whole = load_market(folder, now=NOW)
        rules = set(whole.rejects.rule)
        assert {"unique:post_id", "suspicious:followers_glitch", "reference:post_id", "finite:rate_card_usd"} <= rules
        streamed = validate_folder(folder, now=NOW)
        pd.testing.assert_frame_equal(streamed.rejects, whole.rejects)
        assert (streamed.rows_in, streamed.rows_out, streamed.notes) == (whole.rows_in, whole.rows_out, whole.notes)
        assert streamed.summary() == whole.summary()


def test_cli_validate_reads_a_partitioned_market(generated, tmp_path):
    files = write_tables(generated, tmp_path / "files")
    parts = write_partitioned(generated, tmp_path / "parts")
    a, b = invoke(["validate", "--data", files, "--now", NOW]), invoke(["validate", "--data", parts, "--now", NOW])
    assert a.code == b.code == EXIT_REJECTED, (a.err, b.err)
    assert a.out == b.out


# --------------------------------------------------------------------------- rows of a part


def _hand_parts(tiny: dict[str, pd.DataFrame], folder: Path) -> Path:
    """The tiny market with posts in two hand-written hive parts: p1..p3 (March), p4 (April)."""
    write_tables({n: f for n, f in tiny.items() if n != C.POSTS}, folder)
    posts = tiny[C.POSTS]
    for month, rows in (("2024-03", slice(0, 3)), ("2024-04", slice(3, 4))):
        target = folder / C.POSTS / f"{MONTH}={month}" / "part-0.parquet"
        target.parent.mkdir(parents=True)
        pq.write_table(_arrow(posts.iloc[rows]), target)
    return folder


def test_rejected_row_names_its_part_and_row_there(tmp_path):
    tiny = tiny_tables()
    tiny[C.POSTS].loc[3, C.LIKES_7D] = 9_000  # p4, the first row of the April part: more likes than views
    folder = _hand_parts(tiny, tmp_path / "m")
    out = tmp_path / "rejects.csv"
    res = invoke(["validate", "--data", folder, "--now", NOW, "--rejects", out])
    assert res.code == EXIT_REJECTED, res.err
    rejects = pd.read_csv(out)
    post = rejects[rejects.table == C.POSTS].iloc[0]
    part = folder / C.POSTS / f"{MONTH}=2024-04" / "part-0.parquet"
    assert (post.key, post.rule, post.file, post.file_row, post.row) == (
        "p4", "suspicious:likes_7d>views_7d", str(part), 1, 4)
    orders = rejects[rejects.table == C.ORDERS]  # the cascade names the orders' own file
    assert set(orders.file) == {str(folder / "orders.parquet")} and len(orders)


def test_unreadable_value_in_a_later_part_keeps_its_row(tmp_path):
    tiny = tiny_tables()
    folder = _hand_parts(tiny, tmp_path / "m")
    april = folder / C.POSTS / f"{MONTH}=2024-04" / "part-0.parquet"
    table = pq.read_table(april)
    views = table.schema.get_field_index(C.VIEWS_7D)
    pq.write_table(table.set_column(views, C.VIEWS_7D, pa.array(["12.5"])), april)  # counts as text
    _, report = load_market(folder, now=NOW)
    bad = report.rejects[report.rejects.rule == f"type:{C.VIEWS_7D}"]
    assert bad[["key", "row", "file", "file_row", "detail"]].values.tolist() == [
        ["p4", 4, str(april), 1, "views_7d '12.5' is not a valid int64"]]


# --------------------------------------------------------------------------- structural errors: exit 2, one line


def _one_error(folder: Path, *words: str) -> str:
    res = invoke(["validate", "--data", folder, "--now", NOW])
    assert res.code == EXIT_INPUT, (res.code, res.err)
    assert "Traceback" not in res.err + res.out
    assert len(res.err_lines) == 1, res.err
    for word in words:
        assert word in res.err_lines[0], (word, res.err_lines[0])
    return res.err_lines[0]


def test_empty_table_folder(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    for part in (folder / C.POSTS).rglob("*.parquet"):
        part.unlink()
    (folder / C.POSTS / "_SUCCESS").write_text("")  # a writer's marker is no part
    _one_error(folder, f"{folder / C.POSTS}: table folder holds no Parquet parts")


def test_file_that_is_not_a_part(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    stray = folder / C.POSTS / f"{MONTH}=2024-03" / "notes.txt"
    stray.write_text("hello")
    _one_error(folder, f"{stray}: not a Parquet part")


def test_part_that_is_not_parquet(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    part = folder / C.POSTS / f"{MONTH}=2024-04" / "part-0.parquet"
    part.write_bytes(b"not parquet at all")
    _one_error(folder, f"{part}: not a readable Parquet file")


def test_part_missing_a_column(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    part = folder / C.POSTS / f"{MONTH}=2024-04" / "part-0.parquet"
    pq.write_table(pq.read_table(part).drop_columns([C.VIEWS_7D]), part)
    line = _one_error(folder, str(part), f"missing required column '{C.VIEWS_7D}'")
    assert "2024-03" not in line  # the good part is not named


def test_part_with_a_column_of_the_wrong_type(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    part = folder / C.POSTS / f"{MONTH}=2024-03" / "part-0.parquet"
    table = pq.read_table(part)
    at = table.schema.get_field_index(C.POSTED_AT)
    epoch = pa.array([1_700_000_000] * table.num_rows, pa.int64())  # an epoch number: unit unknown
    pq.write_table(table.set_column(at, C.POSTED_AT, epoch), part)
    _one_error(folder, str(part), f"column '{C.POSTED_AT}' is stored as int64")


@pytest.mark.parametrize("other", ["posts.parquet", "posts.csv", "posts.parquet/"])
def test_a_table_both_file_and_folder_is_ambiguous(tmp_path, other):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    if other.endswith("/"):
        (folder / other).mkdir()
    else:
        (folder / other).write_text("post_id\n")
    line = _one_error(folder, "table 'posts' is both", str(folder / C.POSTS), str(folder / other.rstrip("/")))
    assert line.endswith("keep one")


def test_partition_value_of_a_contract_column_is_coerced_and_checked(tmp_path):
    """A partition key that is a contract column is that column; a value of the wrong type
    rejects the part's rows like any unreadable value (``type:COL``)."""
    tiny = tiny_tables()
    folder = tmp_path / "m"
    write_tables({n: f for n, f in tiny.items() if n != C.POSTS}, folder)
    posts = tiny[C.POSTS]
    for shoppable, frame in posts.groupby(C.IS_SHOPPABLE):
        target = folder / C.POSTS / f"{C.IS_SHOPPABLE}={'yes' if shoppable else 'maybe'}" / "part-0.parquet"
        target.parent.mkdir(parents=True)
        pq.write_table(_arrow(frame.drop(columns=[C.IS_SHOPPABLE])), target)
    tables = read_tables(folder)
    assert tables[C.POSTS][C.IS_SHOPPABLE].tolist() == [pd.NA, True, True, True]  # 'maybe' part first
    _, report = load_market(folder, now=NOW)
    bad = report.rejects[report.rejects.rule == f"type:{C.IS_SHOPPABLE}"]
    assert bad.key.tolist() == ["p2"] and bad.detail.tolist() == ["is_shoppable 'maybe' is not a valid bool"]


def test_read_error_inside_a_part_is_one_line(tmp_path):
    folder = _hand_parts(tiny_tables(), tmp_path / "m")
    part = folder / C.POSTS / f"{MONTH}=2024-03" / "part-0.parquet"
    data = bytearray(part.read_bytes())
    data[8:64] = b"\xff" * 56  # pages damaged, footer intact
    part.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        read_tables(folder)
    assert str(err.value).startswith(str(part)) and "\n" not in str(err.value)


def test_generate_writes_tables_as_parts_that_load_like_files(tmp_path):
    """`generate --rows-per-part N` writes each larger table as NAME/part-*.parquet, in row order."""
    files, parts = tmp_path / "files", tmp_path / "parts"
    args = ["generate", "--creators", "120", "--campaigns", "25", "--seed", "3"]
    assert invoke([*args, "--out", str(files)]).code == 0
    assert invoke([*args, "--out", str(parts), "--rows-per-part", "400"]).code == 0
    assert len(table_parts(parts / C.POSTS)) > 1
    assert all(p.path.name.startswith("part-") for p in table_parts(parts / C.POSTS))
    raw_f, raw_p = read_tables(files), read_tables(parts)
    for name in C.TABLES:
        pd.testing.assert_frame_equal(raw_p[name], raw_f[name])  # same rows, same order
    csv = invoke([*args, "--out", str(tmp_path / "csv"), "--format", "csv", "--rows-per-part", "400"])
    assert csv.code == EXIT_INPUT and "--rows-per-part needs --format parquet" in csv.err
