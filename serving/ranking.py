"""Within-campaign ranks, ties, and how much evidence a scored row rests on: one rule each.

Every module that ranks creators (``score``, ``explain``, the report, the score card) calls
these functions, so a rank, a tie or a confidence level means the same thing everywhere.

Ranks and ties
--------------
``rank`` is 1..n within a campaign: the highest score first, equal scores ordered by
creator_id (so the order is deterministic). Equal scores are still a tie: ``ties`` counts
the *other* candidates of the same campaign with exactly the same score, and a tied row is
shown as "tied with N others at rank a-b", never as a rank of its own.

Confidence
----------
``confidence`` says how much history a score rests on, from the counts of facts known
strictly before the decision time (the snapshot's ``posts_seen``, ``invitations_seen`` and
``orders_seen``):

========  ===========================================================================
level     rule
========  ===========================================================================
none      no post, no invitation and no order: profile and campaign fit only
low       some history, but fewer than ``MEDIUM_POSTS`` (5) posts
medium    at least 5 posts
high      at least ``HIGH_POSTS`` (20) posts and either at least ``HIGH_INVITATIONS``
          (3) invitations or at least ``HIGH_ORDERS`` (10) orders: content *and* a
          track record with brands or buyers
========  ===========================================================================

Reports flag ``none`` and ``low`` rows ("thin evidence: based on 2 posts").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..features import specs

NONE, LOW, MEDIUM, HIGH = "none", "low", "medium", "high"
CONFIDENCE_LEVELS = (NONE, LOW, MEDIUM, HIGH)
THIN = (NONE, LOW)  # levels a report marks as thin evidence
MEDIUM_POSTS = 5
HIGH_POSTS = 20
HIGH_INVITATIONS = 3
HIGH_ORDERS = 10
CONFIDENCE_RULES = {
    NONE: "no post, invitation or order before the decision time",
    LOW: f"some history but fewer than {MEDIUM_POSTS} posts",
    MEDIUM: f"at least {MEDIUM_POSTS} posts",
    HIGH: f"at least {HIGH_POSTS} posts and at least {HIGH_INVITATIONS} invitations or {HIGH_ORDERS} orders",
}


def within_campaign_rank(campaign: np.ndarray, score: np.ndarray, creator: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score in its campaign; equal scores are ordered by creator id.

    Parameters
    ----------
    campaign : ndarray
        Campaign of each row (any comparable values, e.g. factorised codes).
    score, creator : ndarray
        Score and creator id of each row.

    Returns
    -------
    ndarray of int64
        1..n within each campaign.
    """
    campaign = np.asarray(campaign)
    score = np.asarray(score, dtype=np.float64)
    creator = np.asarray(creator, dtype=object)
    # Creator order first (skipped when already sorted, as scoring shards arrive), then a stable
    # numeric sort by campaign and score: a string lexsort would cost ~1 s per million rows.
    pre = np.arange(len(creator)) if pd.Index(creator, dtype=object).is_monotonic_increasing else _string_order(creator)
    order = pre[np.lexsort((-score[pre], campaign[pre]))]
    sorted_campaign = campaign[order]
    starts = np.r_[0, np.flatnonzero(sorted_campaign[1:] != sorted_campaign[:-1]) + 1] if len(order) else np.zeros(0, int)
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = position + 1
    return rank


def _string_order(values: np.ndarray) -> np.ndarray:
    """Stable sort order of strings, in Arrow (numpy sorts Python strings ~3x slower)."""
    try:
        array = pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # non-string ids: compare their text
        array = pa.array(values.astype(str), type=pa.large_string())
    return pc.sort_indices(array).to_numpy().astype(np.int64)


def tie_counts(campaign: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per row, how many *other* rows of the same campaign have exactly the same score."""
    if len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame({"c": np.asarray(campaign), "s": np.asarray(score, dtype=np.float64)})
    return (frame.groupby(["c", "s"], sort=False, dropna=False)["s"].transform("size").to_numpy() - 1).astype(np.int64)


def tie_span(campaign: np.ndarray, score: np.ndarray, rank: np.ndarray, ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last rank of each row's tie group (equal for an untied row).

    The group's first member always ranks at or above the row, so a file cut with ``--top``
    still holds it; the last rank is the first plus ``ties``.
    """
    frame = pd.DataFrame({"c": np.asarray(campaign), "s": np.asarray(score, dtype=np.float64),
                          "r": np.asarray(rank, dtype=np.int64)})
    first = frame.groupby(["c", "s"], sort=False, dropna=False)["r"].transform("min").to_numpy(dtype=np.int64)
    return first, first + np.asarray(ties, dtype=np.int64)


def rank_text(rank: int, ties: int, first: int | None = None, of: int | None = None) -> str:
    """"rank 3" or "tied with 8 others at rank 1-9" (``of``: "... of 269")."""
    tail = f" of {of:,}" if of is not None else ""
    if ties <= 0:
        return f"rank {rank:,}{tail}"
    first = rank if first is None else first
    return f"tied with {ties:,} other{'s' if ties != 1 else ''} at rank {first:,}-{first + ties:,}{tail}"


def rank_label(rank: int, ties: int, first: int | None = None) -> str:
    """Short form for a table cell: "3" or "1-9"."""
    if ties <= 0:
        return f"{rank:,}"
    first = rank if first is None else first
    return f"{first:,}-{first + ties:,}"


def confidence(posts, invitations, orders) -> np.ndarray:
    """Confidence level of each row from its evidence counts (see the module docstring)."""
    p = np.nan_to_num(np.asarray(posts, dtype=np.float64))
    i = np.nan_to_num(np.asarray(invitations, dtype=np.float64))
    o = np.nan_to_num(np.asarray(orders, dtype=np.float64))
    level = np.full(p.shape, LOW, dtype=object)
    level[(p + i + o) <= 0] = NONE
    level[p >= MEDIUM_POSTS] = MEDIUM
    level[(p >= HIGH_POSTS) & ((i >= HIGH_INVITATIONS) | (o >= HIGH_ORDERS))] = HIGH
    return level


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def evidence_text(posts: int, invitations: int, orders: int) -> str:
    """"based on 2 posts" / "based on 2 posts and 1 invitation" / "no history yet"."""
    parts = [_plural(int(n), w) for n, w in ((posts, "post"), (invitations, "invitation"), (orders, "order")) if n]
    if not parts:
        return "no history yet"
    return "based on " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])


# What each index mostly rests on, for "based on 2 posts" when the feature set gives no
# ``idx_<name>_evidence`` count of its own (older feature sets).
FALLBACK_EVIDENCE = {
    "idx_cooperation": ("invitations_seen", "brand invitations so far"),
    "idx_reliability": ("invitations_seen", "brand invitations so far"),
    "idx_sales": ("orders_seen", "orders so far"),
}


def thin_evidence_threshold(index: str) -> float:
    """Evidence count below which an index is thin (``specs.THIN_EVIDENCE``)."""
    return float(specs.THIN_EVIDENCE[index])


def index_evidence(row, index: str) -> tuple[float | None, str]:
    """(evidence count, what is counted) of one index for one row (a mapping or Series).

    The feature set's ``idx_<name>_evidence`` with its described unit when it has one
    (``specs.INDEX_EVIDENCE``), else the nearest snapshot count.
    """
    value = row.get(specs.evidence_column(index)) if hasattr(row, "get") else None
    if value is not None and not pd.isna(value):
        return float(value), specs.INDEX_EVIDENCE[index][0]
    column, unit = FALLBACK_EVIDENCE.get(index, ("posts_seen", "posts so far"))
    value = row.get(column) if hasattr(row, "get") else None
    if value is not None and not pd.isna(value):
        return float(value), unit
    return None, unit


def thin_index_note(row, index: str) -> str | None:
    """"based on 2 posts published in the last 90 days" when an index rests on thin evidence, else None."""
    value = row.get(index) if hasattr(row, "get") else None
    if value is None or pd.isna(value):
        return None  # a missing index is "not enough data yet", not thin
    n, unit = index_evidence(row, index)
    if n is None or n >= thin_evidence_threshold(index):
        return None
    return f"based on {n:,.0f} {_singular(unit) if n == 1 else unit}"


def _singular(unit: str) -> str:
    """"posts published ..." -> "post published ...", "posts and orders ..." -> "post or order ..."."""
    unit = re.sub(r"^(\w+)s and (\w+)s\b", r"\1 or \2", unit)
    return re.sub(r"^((?:\w+ )?\w+?)s\b", r"\1", unit, count=1)
