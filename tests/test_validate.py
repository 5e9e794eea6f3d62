"""Loading and validation: every contract rule has a test that breaks it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from creatorrank.core import constants as C
from creatorrank.core.errors import InputError
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import coerce_table, read_tables
from creatorrank.data.validate import load_market, validate_tables

from tiny_market import tiny_tables, write_tables

pytestmark = pytest.mark.data
NOW = "2025-01-01"


def _ts(text):
    return pd.Timestamp(text, tz="UTC")


def _set(table, row, col, value):
    def mutate(tables):
        frame = tables[table]
        frame[col] = frame[col].astype(object)
        frame.loc[row, col] = value
        tables[table] = frame.astype({col: tiny_tables()[table][col].dtype})
    return mutate


def _duplicate(table, row):
    def mutate(tables):
        frame = tables[table]
        key = frame.columns[0]
        frame.loc[row, key] = frame.loc[(row + 1) % len(frame), key]
    return mutate


# (table, mutation, expected rule, rejected key)
BREAKS = [
    ("creators", _duplicate("creators", 0), "unique:creator_id", "c2"),
    ("creators", _set("creators", 0, C.COUNTRY, None), "not_null:country", "c1"),
    ("creators", _set("creators", 0, C.CREATOR_ID, ""), "empty:creator_id", ""),
    ("creators", _set("creators", 2, C.JOINED_AT, _ts("2030-01-01")), "future:joined_at", "c3"),
    ("creators", _set("creators", 0, C.RATE_CARD_USD, -1.0), "negative:rate_card_usd", "c1"),
    ("posts", _set("posts", 2, C.CREATOR_ID, "nobody"), "reference:creator_id", "p3"),
    ("posts", _set("posts", 1, C.VIEWS_7D, -5), "negative:views_7d", "p2"),
    ("posts", _set("posts", 1, C.POSTED_AT, _ts("2031-01-01")), "future:posted_at", "p2"),
    ("posts", _duplicate("posts", 1), "unique:post_id", "p3"),
    ("campaigns", _set("campaigns", 0, C.STARTS_AT, _ts("2024-03-01")), "order:created_at<=starts_at", "k1"),
    ("campaigns", _set("campaigns", 1, C.ENDS_AT, _ts("2024-05-04")), "order:starts_at<=ends_at", "k2"),
    ("campaigns", _set("campaigns", 0, C.BUDGET_USD, -10.0), "negative:budget_usd", "k1"),
    ("campaigns", _set("campaigns", 1, C.CREATED_AT, _ts("2030-01-01")), "future:created_at", "k2"),
    ("invitations", _set("invitations", 0, C.CAMPAIGN_ID, "nope"), "reference:campaign_id", "i1"),
    ("invitations", _set("invitations", 1, C.CREATOR_ID, "nope"), "reference:creator_id", "i2"),
    ("invitations", _set("invitations", 0, C.INVITED_AT, _ts("2024-03-31")), "order:invited_at>=created_at", "i1"),
    ("invitations", _set("invitations", 1, C.RESPONDED_AT, _ts("2024-04-01")), "order:responded_at>=invited_at", "i2"),
    ("invitations", _set("invitations", 2, C.ACCEPTED, False), "answer:accepted_iff_responded", "i3"),
    ("invitations", _set("invitations", 1, C.RESPONDED_AT, None), "answer:accepted_iff_responded", "i2"),
    ("invitations", _set("invitations", 1, C.FEE_USD, 100.0), "accepted_only:fee_usd", "i2"),
    ("invitations", _set("invitations", 1, C.DUE_AT, _ts("2024-04-20")), "accepted_only:due_at", "i2"),
    ("invitations", _set("invitations", 2, C.DELIVERED_AT, _ts("2024-05-20")), "accepted_only:delivered_at", "i3"),
    ("invitations", _set("invitations", 0, C.DELIVERED_AT, None), "delivered_only:approved_first_pass", "i1"),
    ("invitations", _set("invitations", 0, C.FEE_USD, -1.0), "negative:fee_usd", "i1"),
    ("invitations", _set("invitations", 0, C.DELIVERED_AT, _ts("2030-01-01")), "future:delivered_at", "i1"),
    ("orders", _set("orders", 0, C.POST_ID, "nope"), "reference:post_id", "o1"),
    ("orders", _set("orders", 1, C.CAMPAIGN_ID, "nope"), "reference:campaign_id", "o2"),
    ("orders", _set("orders", 1, C.GMV_USD, -3.0), "negative:gmv_usd", "o2"),
    ("orders", _set("orders", 2, C.REFUNDED_AT, _ts("2024-04-01")), "order:refunded_at>=ordered_at", "o3"),
    ("orders", _set("orders", 0, C.ORDERED_AT, _ts("2030-01-01")), "future:ordered_at", "o1"),
    ("orders", _set("orders", 0, C.GMV_USD, None), "not_null:gmv_usd", "o1"),
]


def test_clean_market_passes(tiny):
    clean, report = validate_tables(tiny, now=NOW)
    assert report.ok
    assert report.rows_in == report.rows_out
    for name in C.TABLES:
        pd.testing.assert_frame_equal(clean[name], tiny[name])


@pytest.mark.parametrize("table,mutate,rule,key", BREAKS, ids=[b[2] + "@" + b[0] for b in BREAKS])
def test_each_rule_rejects_the_broken_row(tiny, table, mutate, rule, key):
    mutate(tiny)
    clean, report = validate_tables(tiny, now=NOW)
    hits = report.rejects[(report.rejects.table == table) & (report.rejects.rule == rule)]
    assert key in set(hits.key), report.rejects
    assert key not in set(clean[table][C.__dict__[table.upper()[:-1] + "_ID"]
                                       if table != "invitations" else C.INVITATION_ID]) or rule.startswith("unique")
    # every rejected row is counted and missing downstream; nothing else dropped silently
    dropped = report.rows_in[table] - report.rows_out[table]
    assert dropped == report.rejects[report.rejects.table == table]["row"].nunique()
    assert report.counts().query("table == @table and rule == @rule")["rows"].iloc[0] == len(hits)


def test_rejection_cascades_to_children(tiny):
    _set("campaigns", 0, C.STARTS_AT, _ts("2024-03-01"))(tiny)  # breaks campaign k1
    clean, report = validate_tables(tiny, now=NOW)
    assert set(clean[C.INVITATIONS][C.INVITATION_ID]) == {"i3"}
    assert set(clean[C.ORDERS][C.ORDER_ID]) == {"o1"}
    child = report.rejects[report.rejects.rule == "reference:campaign_id"]
    assert set(child.key) == {"i1", "i2", "o2", "o3"}


def test_duplicates_reject_every_copy(tiny):
    _duplicate("creators", 0)(tiny)  # c1 row now reads c2: two rows share c2
    _, report = validate_tables(tiny, now=NOW)
    dup = report.rejects[report.rejects.rule == "unique:creator_id"]
    assert sorted(dup.row) == [1, 2]


def test_future_uses_reference_time(tiny):
    _, report = validate_tables(tiny, now="2024-04-15")
    assert "future:posted_at" in set(report.rejects.rule)  # p4 posted 2024-04-20
    assert "future:created_at" in set(report.rejects.rule)  # k2 created 2024-05-01


def test_csv_and_parquet_give_same_frames(tiny, tmp_path):
    a = read_tables(write_tables(tiny, tmp_path / "pq", "parquet"))
    b = read_tables(write_tables(tiny, tmp_path / "csv", "csv"))
    for name in C.TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=True)
        pd.testing.assert_frame_equal(a[name], tiny[name])


def test_parquet_wins_over_csv(tiny, tmp_path):
    write_tables(tiny, tmp_path, "parquet")
    (tmp_path / "creators.csv").write_text("garbage\n")
    assert len(read_tables(tmp_path)[C.CREATORS]) == 3


def test_csv_coercion_of_strings_offsets_and_naive_times(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "creators.csv"
    text = path.read_text().splitlines()
    text[1] = "c1,US,beauty,2024-01-01T02:00:00+02:00,500"  # offset -> UTC
    text[2] = "c2,US,,2024-02-01 00:00:00,"  # naive -> UTC
    path.write_text("\n".join(text) + "\n")
    frame = read_tables(tmp_path)[C.CREATORS]
    assert frame[C.JOINED_AT].iloc[0] == _ts("2024-01-01T00:00:00")
    assert frame[C.JOINED_AT].iloc[1] == _ts("2024-02-01")
    assert str(frame[C.JOINED_AT].dtype) == "datetime64[us, UTC]"


def test_unreadable_value_is_rejected_with_row_number(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "posts.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",3000,", ",lots,")
    path.write_text("\n".join(lines) + "\n")
    _, report = load_market(tmp_path, now=NOW)
    bad = report.rejects[report.rejects.rule == "type:views_7d"]
    assert list(bad.row) == [2] and list(bad.key) == ["p2"]


def test_boolean_spellings(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "posts.csv"
    text = path.read_text().replace(",True,", ",yes,", 1).replace(",False,", ",0,", 1)
    path.write_text(text)
    frame = read_tables(tmp_path)[C.POSTS]
    assert list(frame[C.IS_SHOPPABLE]) == [True, False, True, True]


def test_missing_table_names_table(tiny, tmp_path):
    write_tables(tiny, tmp_path)
    (tmp_path / "orders.parquet").unlink()
    with pytest.raises(InputError, match="table 'orders' not found"):
        read_tables(tmp_path)


def test_missing_column_names_table_and_column(tiny, tmp_path):
    tiny[C.POSTS] = tiny[C.POSTS].drop(columns=[C.SHARES_7D])
    write_tables(tiny, tmp_path, "csv")
    with pytest.raises(InputError, match="table 'posts' is missing required column 'shares_7d'"):
        read_tables(tmp_path)


def test_extra_columns_are_ignored(tiny, tmp_path):
    tiny[C.CREATORS]["favourite_colour"] = "blue"
    write_tables(tiny, tmp_path)
    assert "favourite_colour" not in read_tables(tmp_path)[C.CREATORS].columns


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "creatorrank.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_exit_codes_and_rejects_file(tiny, tmp_path):
    clean_dir = write_tables(tiny, tmp_path / "clean")
    ok = _cli("validate", "--data", str(clean_dir), "--now", NOW)
    assert ok.returncode == 0, ok.stderr
    assert "clean" in ok.stdout

    _set("orders", 1, C.GMV_USD, -3.0)(tiny)
    bad_dir = write_tables(tiny, tmp_path / "bad")
    out = tmp_path / "rejects.csv"
    res = _cli("validate", "--data", str(bad_dir), "--now", NOW, "--rejects", str(out))
    assert res.returncode == 1
    assert "negative:gmv_usd" in res.stdout
    rejects = pd.read_csv(out)
    assert list(rejects.columns) == ["table", "row", "key", "rule", "detail", "file", "file_row"]
    first = rejects.iloc[0].to_dict()
    assert (first["key"], first["file"], first["file_row"]) == ("o2", str(bad_dir / "orders.parquet"), 2)

    (bad_dir / "posts.parquet").unlink()
    res = _cli("validate", "--data", str(bad_dir))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [f"error: {bad_dir}: table 'posts' not found (expected posts.parquet, posts.csv or a folder posts/ of Parquet parts)"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 3), value=st.integers(-10_000, -1), col=st.sampled_from([C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D, C.SHARES_7D, C.FOLLOWERS_AT_POST]))
def test_property_negative_count_rejects_exactly_that_row(row, value, col):
    tables = tiny_tables()
    tables[C.POSTS].loc[row, col] = value
    clean, report = validate_tables(tables, now=NOW)
    post = tables[C.POSTS][C.POST_ID].iloc[row]
    assert set(report.rejects[report.rejects.table == "posts"].key) == {post}
    assert post not in set(clean[C.POSTS][C.POST_ID])
    # orders pointing at that post go too, with the reference rule, nothing else
    expected_orders = set(tables[C.ORDERS].loc[tables[C.ORDERS][C.POST_ID] == post, C.ORDER_ID])
    assert set(report.rejects[report.rejects.table == "orders"].key) == expected_orders
    assert len(clean[C.ORDERS]) == 3 - len(expected_orders)


# --------------------------------------------------------------------------- messages and cascades


def test_reference_names_the_value_with_repr_and_the_parent(tiny):
    _set("posts", 2, C.CREATOR_ID, "c2 ")(tiny)  # a trailing space, invisible without quotes
    _, report = validate_tables(tiny, now=NOW)
    bad = report.rejects[report.rejects.rule == "reference:creator_id"]
    assert list(bad.detail) == ["creator_id 'c2 ' not found in creators"]
    assert "  rejected posts.reference:creator_id: 1 (posts of 1 unknown creators)" in report.summary().splitlines()


def test_cascade_says_which_rule_rejected_the_parent_and_groups_in_summary(tiny):
    _set("creators", 0, C.RATE_CARD_USD, -1.0)(tiny)  # c1 rejected: its 3 posts, 1 invitation, 3 orders follow
    _set("posts", 2, C.CREATOR_ID, "ghost")(tiny)
    _, report = validate_tables(tiny, now=NOW)
    posts = report.rejects[(report.rejects.table == "posts") & (report.rejects.rule == "reference:creator_id")]
    assert sorted(posts.detail) == ["creator_id 'c1' was rejected in creators (negative:rate_card_usd)"] * 3 + [
        "creator_id 'ghost' not found in creators"]
    lines = report.summary().splitlines()
    assert "  rejected posts.reference:creator_id: 4 (posts of 2 rejected or unknown creators: 1 rejected, 1 unknown)" in lines
    orders = report.rejects[(report.rejects.table == "orders") & (report.rejects.rule == "reference:post_id")]
    assert set(orders.detail) == {"post_id 'p1' was rejected in posts (reference:creator_id)",
                                  "post_id 'p4' was rejected in posts (reference:creator_id)"}
    # one row per (row, rule): o2 breaks two references
    assert set(report.rejects[report.rejects.key == "o2"].rule) == {"reference:creator_id", "reference:post_id"}
    assert list(report.rejects.columns) == ["table", "row", "key", "rule", "detail", "file", "file_row"]
    assert report.rejects["file"].isna().all()  # tables given in memory come from no file
    assert (report.rejects["file_row"] == report.rejects["row"]).all()


def test_negative_and_future_show_the_value(tiny):
    _set("posts", 1, C.VIEWS_7D, -5)(tiny)
    _set("orders", 0, C.ORDERED_AT, _ts("2030-01-01"))(tiny)
    _, report = validate_tables(tiny, now=NOW)
    details = dict(zip(report.rejects.rule, report.rejects.detail))
    assert details["negative:views_7d"] == "views_7d -5 is negative"
    assert details["future:ordered_at"].startswith("ordered_at 2030-01-01 00:00:00")


def test_zero_row_campaigns_validate(tiny):
    tiny[C.CAMPAIGNS] = tiny[C.CAMPAIGNS].iloc[:0]
    clean, report = validate_tables(tiny, now=NOW)  # used to raise "Cannot cast DatetimeArray to float64"
    assert len(clean[C.INVITATIONS]) == 0
    assert set(report.rejects[report.rejects.table == "invitations"].rule) == {"reference:campaign_id"}


# --------------------------------------------------------------------------- suspicious rows


def _posts_of_one_creator(tiny, followers, views=None, likes=None):
    """Replace the posts by one creator's history (c1), one post a week from 2024-02-01."""
    n = len(followers)
    frame = pd.DataFrame({
        C.POST_ID: [f"q{i}" for i in range(n)], C.CREATOR_ID: ["c1"] * n,
        C.POSTED_AT: pd.date_range("2024-02-01", periods=n, freq="7D", tz="UTC"), C.CATEGORY: ["beauty"] * n,
        C.IS_SHOPPABLE: [False] * n, C.CAMPAIGN_ID: [None] * n, C.FOLLOWERS_AT_POST: followers,
        C.VIEWS_7D: views or [1000] * n, C.LIKES_7D: likes or [10] * n, C.COMMENTS_7D: [1] * n, C.SHARES_7D: [0] * n,
    })
    tiny[C.POSTS] = coerce_table(frame, CONTRACT[C.POSTS])
    tiny[C.ORDERS] = tiny[C.ORDERS].iloc[:0]
    return tiny


@pytest.mark.parametrize(
    "followers,flagged",
    [
        ([1_000_000, 0, 1_000_000], ["q1"]),  # the case: 0 between 1M rows
        ([1_000_000, 0, 0, 1_200_000], ["q1", "q2"]),  # a run of glitches
        ([900_000, 1_000_000, 5_000, 1_100_000, 1_000_000], ["q2"]),  # a drop by over 100x that comes back
        ([50, 0, 60], []),  # tiny accounts: 0 between 50 and 60 is not "far more"
        ([1_000_000, 20_000, 1_000_000], []),  # a 50x dip: unusual, not impossible
        ([1_000_000, 5_000, 4_000, 3_000], []),  # a real purge that stays: no come-back
        ([10, 200, 5_000, 1_000_000], []),  # steep growth
        ([0, 1_000_000, 1_000_000], []),  # the first post has nothing before it
    ],
)
def test_follower_glitch_drop_and_come_back(tiny, followers, flagged):
    _posts_of_one_creator(tiny, followers)
    clean, report = validate_tables(tiny, now=NOW)
    hits = report.rejects[report.rejects.rule == "suspicious:followers_glitch"]
    assert list(hits.key) == flagged
    assert not set(flagged) & set(clean[C.POSTS][C.POST_ID])
    if flagged:
        assert hits.detail.iloc[0].startswith(f"followers_at_post {followers[int(flagged[0][1:])]} between ")


def test_follower_glitch_is_per_creator_and_in_time_order(tiny):
    # rows shuffled and interleaved with another creator: order by time within each creator
    _posts_of_one_creator(tiny, [1_000_000, 0, 1_000_000, 5, 7, 6])
    posts = tiny[C.POSTS]
    posts.loc[3:, C.CREATOR_ID] = "c2"
    posts.loc[3:, C.POSTED_AT] = posts.loc[:2, C.POSTED_AT].to_numpy()
    tiny[C.POSTS] = posts.iloc[[4, 2, 0, 5, 1, 3]].reset_index(drop=True)
    _, report = validate_tables(tiny, now=NOW)
    hits = report.rejects[report.rejects.rule == "suspicious:followers_glitch"]
    assert list(hits.key) == ["q1"] and list(hits.row) == [5]


def test_engagement_rules(tiny):
    _posts_of_one_creator(tiny, [1000] * 5, views=[100, 0, 0, 50, 1], likes=[101, 458_000, 0, 50, 0])
    tiny[C.POSTS].loc[4, C.COMMENTS_7D] = 2
    clean, report = validate_tables(tiny, now=NOW)
    got = {(r.key, r.rule): r.detail for r in report.rejects.itertuples()}
    assert got == {
        ("q0", "suspicious:likes_7d>views_7d"): "likes_7d 101 > views_7d 100",
        ("q4", "suspicious:comments_7d>views_7d"): "comments_7d 2 > views_7d 1",
        ("q1", "suspicious:engagement_without_views"): "views_7d 0 but likes_7d 458000, comments_7d 1, shares_7d 0",
        ("q2", "suspicious:engagement_without_views"): "views_7d 0 but likes_7d 0, comments_7d 1, shares_7d 0",
    }
    assert list(clean[C.POSTS][C.POST_ID]) == ["q3"]  # likes == views is possible
    assert "posts                   5 rows          4 rejected (4 suspicious)" in report.summary()


def test_post_before_the_creator_joined(tiny):
    _set("posts", 2, C.POSTED_AT, _ts("2024-01-31"))(tiny)  # c2 joined 2024-02-01
    _, report = validate_tables(tiny, now=NOW)
    hit = report.rejects[report.rejects.rule == "suspicious:posted_before_joined"]
    assert list(hit.key) == ["p3"]
    assert hit.detail.iloc[0] == "posted_at 2024-01-31 00:00:00.000000Z is before the creator joined (2024-02-01 00:00:00.000000Z)"


def test_times_before_the_platform_era_cascade(tiny):
    _set("creators", 0, C.JOINED_AT, _ts("1970-01-01"))(tiny)  # an epoch-zero placeholder
    _set("orders", 2, C.REFUNDED_AT, _ts("1999-12-31"))(tiny)
    clean, report = validate_tables(tiny, now=NOW)
    rules = report.rejects.groupby("rule").key.apply(sorted).to_dict()
    assert rules["suspicious:before_2000:joined_at"] == ["c1"]
    assert rules["suspicious:before_2000:refunded_at"] == ["o3"]
    assert rules["reference:creator_id"] == ["i1", "o1", "o2", "o3", "p1", "p2", "p4"]
    posts = report.rejects[report.rejects.table == "posts"]
    assert set(posts.detail) == {"creator_id 'c1' was rejected in creators (suspicious:before_2000:joined_at)"}
    assert list(clean[C.CREATORS][C.CREATOR_ID]) == ["c2", "c3"]


def test_orders_of_a_suspicious_post_are_rejected_by_cascade(tiny):
    _set("posts", 3, C.LIKES_7D, 9000)(tiny)  # p4 has 8000 views
    clean, report = validate_tables(tiny, now=NOW)
    orders = report.rejects[report.rejects.table == "orders"]
    assert set(orders.key) == {"o2", "o3"}
    assert set(orders.detail) == {"post_id 'p4' was rejected in posts (suspicious:likes_7d>views_7d)"}
    assert list(clean[C.ORDERS][C.ORDER_ID]) == ["o1"]


def test_clean_counts_are_int64_after_rejects(tiny, tmp_path):
    write_tables(tiny, tmp_path, "csv")
    path = tmp_path / "posts.csv"
    path.write_text(path.read_text().replace(",3000,", ",lots,"))
    clean, report = load_market(tmp_path, now=NOW)
    assert not report.ok
    for col in (C.VIEWS_7D, C.LIKES_7D, C.FOLLOWERS_AT_POST):
        assert clean[C.POSTS][col].dtype == np.int64
    assert clean[C.POSTS].attrs.get("unparsed") is None
