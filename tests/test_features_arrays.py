"""The engine's array primitives against plain Python."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creatorrank.features import arrays, engine

pytestmark = pytest.mark.unit


@st.composite
def segmented(draw):
    """Sorted segments of small ints, and queries (segment, value) per row."""
    sizes = draw(st.lists(st.integers(0, 8), min_size=1, max_size=6))
    arr, starts = [], [0]
    for n in sizes:
        arr += sorted(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)))
        starts.append(len(arr))
    rows = draw(st.lists(st.tuples(st.integers(0, len(sizes) - 1), st.integers(-1, 10)), min_size=1, max_size=12))
    return np.array(arr, dtype=np.int64), np.array(starts), rows


@settings(max_examples=80, deadline=None)
@given(segmented())
def test_search_ranges(data):
    arr, starts, rows = data
    seg = np.array([r[0] for r in rows])
    x = np.array([r[1] for r in rows], dtype=np.int64)
    lo, hi = starts[seg], starts[seg + 1]
    left = arrays.search_ranges(arr, lo, hi, x)
    right = arrays.search_ranges(arr, lo, hi, x, right=True)
    for i, (s, v) in enumerate(rows):
        part = arr[starts[s]:starts[s + 1]].tolist()
        assert left[i] - starts[s] == sum(p < v for p in part)
        assert right[i] - starts[s] == sum(p <= v for p in part)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30), st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=10),
       st.booleans())
def test_ragged_median_and_window_max(values, ranges, as_float):
    v = np.array(values, dtype=np.float64 if as_float else np.int64)
    lo = np.array([min(a, b, len(v)) for a, b in ranges], dtype=np.int64)
    hi = np.array([min(max(a, b), len(v)) for a, b in ranges], dtype=np.int64)
    med = arrays.ragged_median(v, lo, hi)
    padded = np.append(v.astype(float), -np.inf)
    mx = arrays.window_max(padded, lo, hi, empty=-1.0)
    for i in range(len(lo)):
        part = v[lo[i]:hi[i]]
        assert np.isnan(med[i]) if part.size == 0 else med[i] == np.median(part)
        assert mx[i] == (part.max() if part.size else -1.0)


def test_ragged_median_in_chunks(monkeypatch):
    monkeypatch.setattr(arrays, "MEDIAN_CHUNK", 5)
    rng = np.random.default_rng(0)
    v = rng.integers(0, 100, 200)
    lo = rng.integers(0, 150, 40)
    hi = lo + rng.integers(0, 50, 40)
    got = arrays.ragged_median(v, lo, hi)
    expect = [np.median(v[a:b]) if b > a else np.nan for a, b in zip(lo, hi)]
    np.testing.assert_array_equal(got, expect)
    got_fn = arrays.ragged_median(lambda i: v[i], lo, hi)  # values read through a function
    np.testing.assert_array_equal(got_fn, expect)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 70_000), st.integers(0, 5), st.integers(0, 3)), max_size=40), st.booleans())
def test_event_order_sorts_by_segment_time_tie(rows, presorted):
    if presorted:
        rows = sorted(rows, key=lambda r: r[1])
    seg = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    tie = np.array([r[2] for r in rows], dtype=np.int64)
    order, s, tt, f = engine._event_order(seg, t, tie)
    assert sorted(order.tolist()) == list(range(len(rows)))
    keys = [(seg[i], t[i], tie[i]) for i in order]
    assert keys == sorted(keys)
    assert list(zip(s.tolist(), tt.tolist(), f.tolist())) == [tuple(map(int, k)) for k in keys]
    no_tie = engine._event_order(seg, t)
    assert no_tie[3] is None and [(a, b) for a, b in zip(no_tie[1].tolist(), no_tie[2].tolist())] == [k[:2] for k in keys]


def _match_by_series(wanted, have):
    """window.match as it was written on pandas Series (the reference for its numpy version)."""
    import pandas as pd

    w, h = pd.Series(wanted, dtype=object), pd.Series(have, dtype=object)
    return np.where(w.isna(), np.nan, ((w == h) & h.notna()).astype(np.float64))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["US", "GB", None, float("nan"), "NA"]),
                          st.sampled_from(["US", "GB", None, float("nan"), "pdNA"])), max_size=12))
def test_match_equals_the_series_comparison(pairs):
    import pandas as pd

    from creatorrank.features.window import match

    def obj(values):
        return np.array([pd.NA if v == "pdNA" else v for v in values], dtype=object)

    wanted, have = obj([p[0] for p in pairs]), obj([p[1] for p in pairs])
    got = match(wanted, have)
    assert got.dtype == np.float64 and len(got) == len(pairs)
    np.testing.assert_array_equal(got, _match_by_series(wanted, have))
