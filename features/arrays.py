"""Vectorised array primitives of the feature engine: searches, medians and maxima over
per-row index ranges of a piecewise-sorted array. No Python loop runs per row.
"""

from __future__ import annotations

import numpy as np


def search_ranges(arr: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray, right: bool = False) -> np.ndarray:
    """Vectorised binary search inside per-row ranges of a piecewise-sorted array.

    For each row i, the first index in ``[lo[i], hi[i])`` whose value is ``>= x[i]``
    (``> x[i]`` when ``right``), or ``hi[i]`` if none; ``arr[lo[i]:hi[i]]`` must be sorted.
    Rows are dropped from the loop as they converge, so a search costs
    ``log2(longest range)`` passes over the rows still searching.
    """
    lo = np.array(lo, dtype=np.int64)  # copies: the caller's bounds stay intact
    hi = np.array(hi, dtype=np.int64)
    act = np.flatnonzero(lo < hi)
    while act.size:
        a, b = lo[act], hi[act]
        mid = (a + b) >> 1
        v, xa = arr[mid], x[act]
        go = (v <= xa) if right else (v < xa)
        a = np.where(go, mid + 1, a)
        b = np.where(go, b, mid)
        lo[act], hi[act] = a, b
        act = act[a < b]
    return lo


MEDIAN_CHUNK = 4_000_000  # gathered window values per pass: bounds a median call's memory


def ragged_median(values, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Median of ``values[lo[i]:hi[i]]`` for every row (NaN for an empty range).

    ``values`` is an array, or a function of an index array returning those values (to
    read values that are not kept as an array of their own).

    The window values of a chunk of rows are gathered into one array and sorted by
    (row, value) with a single integer sort: the key is ``row * (max + 1) + value`` for
    non-negative integers, else ``row * n_ranks + rank`` with values replaced by their rank.
    """
    lo = np.asarray(lo, dtype=np.int64)
    n = np.asarray(hi, dtype=np.int64) - lo
    out = np.full(len(lo), np.nan)
    ends = np.cumsum(n)
    start = 0
    while start < len(lo):
        base = int(ends[start - 1]) if start else 0
        stop = max(int(np.searchsorted(ends, base + MEDIAN_CHUNK, side="right")), start + 1)
        out[start:stop] = _median_chunk(values, lo[start:stop], n[start:stop])
        start = stop
    return out


def _median_chunk(values: np.ndarray, lo: np.ndarray, n: np.ndarray) -> np.ndarray:
    out = np.full(len(lo), np.nan)
    total = int(n.sum())
    if total == 0:
        return out
    first = np.cumsum(n) - n  # where each row's values start in the gathered array
    row = np.repeat(np.arange(len(lo), dtype=np.int64), n)
    idx = np.arange(total, dtype=np.int64) + np.repeat(lo - first, n)
    v = values(idx) if callable(values) else values[idx]
    del idx
    if v.dtype.kind in "iu" and v.min() >= 0 and len(lo) * (int(v.max()) + 1) < 2**62:
        width = int(v.max()) + 1
        ordered = (np.sort(row * width + v) - row * width).astype(np.float64)
    else:
        uniq, rank = np.unique(v, return_inverse=True)
        ordered = uniq[np.sort(row * len(uniq) + rank.reshape(-1)) - row * len(uniq)]
    has = n > 0
    a = ordered[first[has] + (n[has] - 1) // 2]
    b = ordered[first[has] + n[has] // 2]
    out[has] = (a + b) / 2.0
    return out


def window_max(padded: np.ndarray, lo: np.ndarray, hi: np.ndarray, empty: float) -> np.ndarray:
    """Max of ``padded[lo[i]:hi[i]]`` per row (``empty`` for an empty range or only -inf).

    ``padded`` must end with one extra ``-inf`` past the data (``np.maximum.reduceat`` needs
    every bound to be a valid index); the owner pads once instead of copying per call.
    ``reduceat`` also reduces the stretches between windows; that costs little because rows
    come sorted by (creator, time).
    """
    out = np.full(len(lo), empty)
    has = np.flatnonzero(hi > lo)
    if has.size == 0:
        return out
    bounds = np.empty(2 * has.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = lo[has], hi[has]
    red = np.maximum.reduceat(padded, bounds)[0::2]
    out[has] = np.where(np.isneginf(red), empty, red)
    return out
