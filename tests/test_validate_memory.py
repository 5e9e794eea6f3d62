"""validate_folder's whole-table pass holds 64-bit hashes of the keys, not the keys: a hash
collision between distinct keys must never reject a row, and a repeated key is still found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tiny_market import write_tables

from creatorrank.core import constants as C
from creatorrank.data import validate as V

pytestmark = pytest.mark.data
NOW = "2025-01-01"


@pytest.fixture(scope="module")
def market():
    from creatorrank.data.generate import generate_market

    tables = generate_market(40, 8, 3, posts_per_creator=10).tables
    posts = tables[C.POSTS]
    posts.loc[posts.index[300], C.POST_ID] = posts.loc[posts.index[2], C.POST_ID]  # repeated, chunks apart
    return tables


def test_hash_is_a_function_of_the_key_alone():
    keys = pa.array(["p1", "", None, "p1", "1p", "p1" * 30, "é"], pa.large_string())
    h = V._hash_keys(keys)
    assert h.dtype == np.uint64 and h[0] == h[3] and len({h[0], h[4], h[5], h[6]}) == 4
    np.testing.assert_array_equal(V._hash_keys(keys.slice(3, 3)), h[3:6])  # an offset slice hashes alike


@pytest.mark.parametrize("buckets", [1, 3])
def test_colliding_hashes_give_the_same_report(market, tmp_path, monkeypatch, buckets):
    """With a hash of only ``buckets`` values (every key collides with many others) the
    exact re-check of the candidates gives the report of well-spread hashes."""
    import creatorrank.data.load as load

    monkeypatch.setattr(load, "CHUNK_ROWS", 97)
    folder = write_tables(market, tmp_path / "files")
    spread = V.validate_folder(folder, now=NOW)
    assert (spread.rejects["rule"] == "unique:post_id").sum() == 2
    real = V._hash_keys
    monkeypatch.setattr(V, "_hash_keys", lambda keys: real(keys) % np.uint64(buckets))
    collided = V.validate_folder(folder, now=NOW)
    pd.testing.assert_frame_equal(collided.rejects, spread.rejects)
    assert (collided.rows_in, collided.rows_out, collided.notes) == (spread.rows_in, spread.rows_out, spread.notes)


def test_collisions_without_repeats_reject_nothing(market, tmp_path, monkeypatch):
    tables = {n: f.copy() for n, f in market.items()}
    posts = tables[C.POSTS]
    posts.loc[posts.index[300], C.POST_ID] = "p-unique-300"
    folder = write_tables(tables, tmp_path / "files")
    monkeypatch.setattr(V, "_hash_keys", lambda keys: np.zeros(len(keys), np.uint64))
    report = V.validate_folder(folder, now=NOW)
    assert not report.rejects["rule"].str.startswith("unique:").any()
    _, whole = V.load_market(folder, now=NOW)
    pd.testing.assert_frame_equal(report.rejects, whole.rejects)


def test_unknown_reference_whose_hash_matches_a_clean_key_is_still_unknown(market, tmp_path, monkeypatch):
    """An order's post_id hashing like a clean post's key (a false hit of the sorted hashes) is
    compared exactly and rejected as not found, as load_market rejects it."""
    tables = {n: f.copy() for n, f in market.items()}
    orders = tables[C.ORDERS]
    orders.loc[orders.index[4], C.POST_ID] = "no-such-post"
    folder = write_tables(tables, tmp_path / "files")
    twin = str(tables[C.POSTS][C.POST_ID].iloc[7])
    real = V._hash_keys

    def colliding(keys):
        h = real(keys)
        h[np.asarray(pa.array(keys).to_pylist(), dtype=object) == "no-such-post"] = real(pa.array([twin], pa.large_string()))[0]
        return h

    monkeypatch.setattr(V, "_hash_keys", colliding)
    report = V.validate_folder(folder, now=NOW)
    _, whole = V.load_market(folder, now=NOW)
    hit = report.rejects[report.rejects["key"] == orders.loc[orders.index[4], C.ORDER_ID]]
    assert "post_id 'no-such-post' not found in posts" in set(hit["detail"])
    pd.testing.assert_frame_equal(report.rejects, whole.rejects)
    assert report.notes == whole.notes


def test_key_lookup_over_chunks_finds_what_arrow_finds():
    """Positions among keys held in several chunks (as validate_folder gathers them), repeated
    values, nulls and unknown values included, equal pyarrow's index_in over the joined keys."""
    import pyarrow.compute as pc

    rng = np.random.default_rng(5)
    keys = [f"k{i}" * (1 + i % 3) for i in range(3000)]
    chunked = pa.chunked_array([pa.array(keys[a:b], pa.large_string()) for a, b in ((0, 0), (0, 700), (700, 2990), (2990, 3000))])
    values = pa.array([keys[i] if i < 3000 else ("" if i % 2 else None) if i < 3100 else f"x{i}"
                       for i in rng.integers(0, 3200, 5000)], pa.large_string())
    expected = np.asarray(pc.index_in(values, value_set=pa.array(keys, pa.large_string())).fill_null(-1).to_numpy(), np.int64)
    for lookup in (V._KeyLookup(chunked), V._KeyLookup(pa.array(keys, pa.large_string()))):
        np.testing.assert_array_equal(lookup.positions(values), expected)  # repeated values: looked up once each
        np.testing.assert_array_equal(lookup.positions(values.slice(0, 3)), expected[:3])
        assert lookup.take(np.array([2999, 0, 700, 699])).to_pylist() == [keys[2999], keys[0], keys[700], keys[699]]
