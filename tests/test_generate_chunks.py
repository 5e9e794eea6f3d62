"""The generator drawing posts and orders chunk by chunk of creators, and writing them as parts.

The realism and contract tests of tests/test_generate.py run on a chunked market too (its
``market`` fixture); here: what chunking itself promises.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError
from creatorrank.data import generate
from creatorrank.data.generate import (
    AUTO_CHUNK_ABOVE,
    AUTO_CREATORS_PER_CHUNK,
    creators_per_chunk_for,
    generate_into,
    generate_market,
)

pytestmark = pytest.mark.data

ARGS = (600, 120, 4)
OPTS = {"posts_per_creator": 40.0, "invitees_per_campaign": 25.0}
BULK = (C.POSTS, C.ORDERS)
WHOLE = (C.CREATORS, C.CAMPAIGNS, C.INVITATIONS)


def _market(per_chunk):
    return generate_market(*ARGS, **OPTS, creators_per_chunk=per_chunk)


@pytest.fixture(scope="module")
def chunked():
    return _market(250)  # chunks of 250, 250 and 100 creators


def _equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def _same(a, b) -> bool:
    return a.shape == b.shape and a.reset_index(drop=True).equals(b.reset_index(drop=True))


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Loaded tables hold bool columns as nullable booleans: compare values, not that dtype."""
    return frame.astype({c: "boolean" for c in frame.columns if frame[c].dtype == bool})


def test_chunk_size_rule() -> None:
    assert creators_per_chunk_for(AUTO_CHUNK_ABOVE) == AUTO_CHUNK_ABOVE  # one chunk up to the threshold
    assert creators_per_chunk_for(AUTO_CHUNK_ABOVE + 1) == AUTO_CREATORS_PER_CHUNK
    assert creators_per_chunk_for(100, 30) == 30 and creators_per_chunk_for(100, 500) == 100
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(CreatorRankError, match="creators_per_chunk"):
            creators_per_chunk_for(100, bad)


def test_one_chunk_is_the_unchunked_market() -> None:
    whole = generate_market(*ARGS, **OPTS)
    for per_chunk in (ARGS[0], 10 * ARGS[0]):
        one = _market(per_chunk)
        for name in C.TABLES:
            _equal(one.tables[name], whole.tables[name])
        _equal(one.truth, whole.truth)
        _equal(one.traits, whole.traits)
        assert one.params == whole.params and "creators_per_chunk" not in one.params


def test_chunked_market_is_deterministic(chunked) -> None:
    again = _market(250)
    for name in C.TABLES:
        _equal(chunked.tables[name], again.tables[name])
    _equal(chunked.truth, again.truth)
    assert chunked.params == again.params and chunked.params["creators_per_chunk"] == 250
    assert chunked.params["rows"] == {name: len(chunked.tables[name]) for name in C.TABLES}


def test_chunking_redraws_only_what_depends_on_it(chunked) -> None:
    """Creators are drawn first and never depend on chunking; campaigns and invitations are
    drawn before any chunk, so every chunk size shares them; posts and orders are per chunk."""
    whole, other = generate_market(*ARGS, **OPTS), _market(100)
    _equal(chunked.tables[C.CREATORS], whole.tables[C.CREATORS])
    _equal(chunked.traits, whole.traits)
    for name in (C.CAMPAIGNS, C.INVITATIONS):
        _equal(chunked.tables[name], other.tables[name])
    _equal(chunked.truth, other.truth)
    for name in BULK:
        assert not _same(chunked.tables[name], other.tables[name]), name


def test_rows_come_chunk_by_chunk_in_time_order_and_ids_sort_as_rows(chunked) -> None:
    creators = pd.Index(chunked.tables[C.CREATORS][C.CREATOR_ID])
    for name, when, key in ((C.POSTS, C.POSTED_AT, C.POST_ID), (C.ORDERS, C.ORDERED_AT, C.ORDER_ID)):
        frame = chunked.tables[name]
        chunk = creators.get_indexer(frame[C.CREATOR_ID]) // 250
        assert (np.diff(chunk) >= 0).all() and set(chunk) == {0, 1, 2}, name
        for _, rows in frame.groupby(chunk):
            assert rows[when].is_monotonic_increasing, name
        ids = frame[key].astype(str)
        assert ids.is_unique and ids.is_monotonic_increasing, name  # ids sort as the rows do


def test_chunked_market_tells_the_same_story(chunked) -> None:
    """Statistically the unchunked market: only the draws differ (several seeds each way)."""

    def rates(m):
        t = m.tables
        inv, orders = t[C.INVITATIONS], t[C.ORDERS]
        organic = t[C.POSTS][C.CAMPAIGN_ID].isna()
        return np.array([
            organic.sum() / len(t[C.CREATORS]),
            t[C.POSTS].loc[organic, C.IS_SHOPPABLE].mean(),
            len(inv) / len(t[C.CAMPAIGNS]),
            inv[C.DELIVERED_AT].notna().mean(),
            orders[C.REFUNDED_AT].notna().mean(),
            orders[C.CAMPAIGN_ID].notna().mean(),
        ])

    seeds = range(3)
    whole = np.mean([rates(generate_market(2000, 300, s, posts_per_creator=30.0)) for s in seeds], axis=0)
    parts = np.mean([rates(generate_market(2000, 300, s, posts_per_creator=30.0, creators_per_chunk=300))
                     for s in seeds], axis=0)
    np.testing.assert_allclose(parts, whole, rtol=0.12)
    # Campaign posts are exactly the delivered invitations, chunk by chunk.
    delivered = chunked.tables[C.INVITATIONS][C.DELIVERED_AT].notna().sum()
    assert chunked.tables[C.POSTS][C.CAMPAIGN_ID].notna().sum() == delivered > 0


def test_generate_into_writes_the_chunked_market_as_parts(chunked, tmp_path) -> None:
    from creatorrank.data.load import read_tables
    from creatorrank.data.validate import validate_folder
    from creatorrank.training.eligible import PairTruth

    rows = generate_into(tmp_path / "m", *ARGS, **OPTS, creators_per_chunk=250, rows_per_part=6000)
    out = tmp_path / "m"
    assert rows == chunked.params["rows"]
    for name in BULK:
        parts = sorted(p.name for p in (out / name).iterdir())
        # Each chunk is split into parts of at most 6000 rows, numbered on across chunks.
        assert len(parts) >= 3 and parts == [f"part-{i:05d}.parquet" for i in range(len(parts))], name
        assert all(len(pd.read_parquet(out / name / p)) <= 6000 for p in parts)
    assert {p.name for p in out.iterdir()} >= {f"{name}.parquet" for name in WHOLE} | {"truth"}
    back = read_tables(out)
    for name in C.TABLES:
        _equal(_normalised(back[name]), _normalised(chunked.tables[name]))
    params = json.loads((out / "truth" / "params.json").read_text())
    assert params["rows"] == rows and params["creators_per_chunk"] == 250
    _equal(pd.read_parquet(out / "truth" / "invitation_truth.parquet"), chunked.truth)
    assert validate_folder(out, now="2030-01-01").ok
    # The truth files give back every invitation's expected GMV.
    tr = chunked.truth
    got = PairTruth.from_market(out).expected_gmv(tr[C.CAMPAIGN_ID], tr[C.CREATOR_ID], tr["invited_day"])
    np.testing.assert_allclose(got, tr[C.EXPECTED_GMV], rtol=1e-9, atol=1e-9)


def test_generate_into_one_chunk_writes_what_write_market_writes(tmp_path) -> None:
    from creatorrank.data.generate import write_market

    generate_into(tmp_path / "a", *ARGS, **OPTS)
    write_market(generate_market(*ARGS, **OPTS), tmp_path / "b")
    files = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in sorted((tmp_path / "a").rglob("*")) if p.is_file()}
    assert files == {p.relative_to(tmp_path / "b"): p.read_bytes()
                     for p in sorted((tmp_path / "b").rglob("*")) if p.is_file()}
    assert (tmp_path / "a" / f"{C.POSTS}.parquet").is_file()


def test_generate_into_is_whole_or_nothing(tmp_path, monkeypatch) -> None:
    out = tmp_path / "m"
    generate_into(out, 40, 8, 9)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real = generate._chunk_tables

    def failing(plan, k, rng, org):
        if k == 1:
            raise OSError(28, "No space left on device")
        return real(plan, k, rng, org)

    monkeypatch.setattr(generate, "_chunk_tables", failing)
    with pytest.raises(OSError):
        generate_into(out, *ARGS, **OPTS, creators_per_chunk=250)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no half-written folder beside it


@pytest.mark.parametrize("kwargs, words", [
    ({"fmt": "csv", "creators_per_chunk": 250}, "parquet"),
    ({"creators_per_chunk": 0}, "creators_per_chunk"),
    ({"rows_per_part": 0}, "rows_per_part"),
    ({"posts_per_chunk": 3}, "posts_per_chunk"),
])
def test_generate_into_refuses_before_any_work(tmp_path, kwargs, words) -> None:
    with pytest.raises(CreatorRankError, match=words):
        generate_into(tmp_path / "m", *ARGS, **kwargs)
    assert not (tmp_path / "m").exists()


def test_cli_generates_in_chunks_and_reports_progress(tmp_path) -> None:
    from cli_invoke import invoke

    res = invoke(["generate", "--out", tmp_path / "m", "--creators", 300, "--campaigns", 40,
                  "--creators-per-chunk", 100])
    assert res.code == 0, res.err
    progress = [line for line in res.err_lines if " chunk " in line]
    assert [line.split(" chunk ")[1].split(" ")[0] for line in progress] == ["1/3", "2/3", "3/3"]
    assert len(list((tmp_path / "m" / C.POSTS).iterdir())) == 3
    assert "300 creators" in res.out
    res = invoke(["generate", "--out", tmp_path / "c", "--creators", 300, "--creators-per-chunk", 100,
                  "--format", "csv"])
    assert res.code == 2 and "--creators-per-chunk 300" in res.err_lines[-1]
    assert not (tmp_path / "c").exists()


def test_a_bulk_table_without_rows_still_has_a_part(tmp_path) -> None:
    from creatorrank.data.load import read_tables

    rows = generate_into(tmp_path / "m", 20, 1, 1, posts_per_creator=0.001, invitees_per_campaign=1.0,
                         creators_per_chunk=5)
    assert rows[C.ORDERS] == 0 < rows[C.POSTS]  # posts in some chunks only, no orders at all
    assert [p.name for p in (tmp_path / "m" / C.ORDERS).iterdir()] == ["part-00000.parquet"]
    back = read_tables(tmp_path / "m")
    assert len(back[C.ORDERS]) == 0 and len(back[C.POSTS]) == rows[C.POSTS]
