"""Check the raw tables against every rule the data contract implies.

Rows that break a rule are rejected with a reason, counted per table and rule, and
excluded downstream. Rows that are legal but implausible (a scrape glitch, a counter that
went wrong) are rejected the same way under ``suspicious:*`` rules. Tables are checked parents
first (creators, campaigns, posts, invitations, orders) so a reference to a rejected row is
itself rejected, and says which rule rejected the parent. Every check is vectorised.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core import constants as C
from ..core.arrow import positions as _positions
from ..core.timeutil import to_utc
from .contract import CONTRACT, FLOAT, INT, STRING, TIMESTAMP
from .load import locate_tables, read_chunks, read_tables

REJECT_COLUMNS = ["table", "row", "key", "rule", "detail", "file", "file_row"]
# Parents before children: a reference is checked against the parent's clean rows.
CHECK_ORDER = (C.CREATORS, C.CAMPAIGNS, C.POSTS, C.INVITATIONS, C.ORDERS)
PARENTS = (C.CREATORS, C.CAMPAIGNS, C.POSTS)  # the tables others refer to
SUSPICIOUS = "suspicious:"
# No marketplace of creators existed before this: an earlier time is a placeholder or a glitch.
ERA_START = pd.Timestamp("2000-01-01", tz="UTC")
# A follower count this many times below the creator's counts before and after it is a glitch.
FOLLOWER_DROP = 100


@dataclass
class ValidationReport:
    """What validation found.

    Attributes
    ----------
    rejects : DataFrame
        One row per (rejected row, broken rule): table, row (1-based data row of the table; in a
        folder of parts, the parts' rows counted on in path order), key (the row's id), rule,
        detail (names the offending value, quoted as Python would), file (the file or part file
        holding the row; null for tables given in memory), file_row (1-based data row in it).
    rows_in, rows_out : dict
        Row counts per table before and after rejection.
    notes : dict
        ``{(table, rule): text}``: what groups the rejects of a rule (e.g. how many distinct
        rejected or unknown parents a cascade comes from), shown by :meth:`summary`.
    """

    rejects: pd.DataFrame
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rejects.empty

    @property
    def rejected_rows(self) -> int:
        """Rows rejected (a row breaking several rules counts once)."""
        return int(self.rejects[["table", "row"]].drop_duplicates().shape[0])

    def counts(self) -> pd.DataFrame:
        """Rejected rows per table and rule (a row breaking two rules counts under both)."""
        if self.rejects.empty:
            return pd.DataFrame(columns=["table", "rule", "rows"])
        return (
            self.rejects.groupby(["table", "rule"], sort=True).size().rename("rows").reset_index()
        )

    def suspicious_rows(self) -> dict[str, int]:
        """Rows per table rejected under at least one ``suspicious:*`` rule."""
        sus = self.rejects[self.rejects["rule"].astype(str).str.startswith(SUSPICIOUS)]
        return sus[["table", "row"]].drop_duplicates().groupby("table").size().to_dict()

    def summary(self) -> str:
        """Human-readable lines: rows per table, then rejected rows per rule, cascades grouped."""
        lines = []
        suspicious = self.suspicious_rows() if not self.rejects.empty else {}
        for table in C.TABLES:
            if table in self.rows_in:
                dropped = self.rows_in[table] - self.rows_out.get(table, 0)
                sus = f" ({suspicious[table]:,} suspicious)" if suspicious.get(table) else ""
                lines.append(f"{table:<12} {self.rows_in[table]:>12,} rows  {dropped:>9,} rejected{sus}")
        for rec in self.counts().itertuples(index=False):
            note = self.notes.get((rec.table, rec.rule))
            lines.append(f"  rejected {rec.table}.{rec.rule}: {rec.rows:,}" + (f" ({note})" if note else ""))
        return "\n".join(lines)


# --------------------------------------------------------------------------- vectorised text


def _arrow(values, contiguous: bool = False) -> pa.Array | pa.ChunkedArray:
    """A column as Arrow (strings as large_string; no copy for Arrow-backed pandas columns).

    ``contiguous`` combines chunks into one array, as a value set of ``is_in`` needs.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype):
        naive = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        arr = pa.array(naive, from_pandas=True)
        return pc.cast(arr, pa.timestamp(arr.type.unit, tz="UTC"))
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray) and (contiguous or arr.num_chunks == 1):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_string(arr.type) or pa.types.is_string_view(arr.type) or pa.types.is_null(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


def _text(values) -> pa.Array:
    """Values as text for messages: strings quoted as Python's repr would, others as written."""
    arr = _arrow(values)
    if not pa.types.is_large_string(arr.type):
        return pc.fill_null(pc.cast(arr, pa.large_string()), "null")
    for old, new in (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        arr = pc.replace_substring(arr, old, new)
    return pc.fill_null(_cat("'", arr, "'"), "null")


def _cat(*parts) -> pa.Array:
    """Concatenate literal strings and equally long Arrow string arrays, element-wise."""
    parts = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))


def _join(*parts) -> np.ndarray:
    """:func:`_cat` as a numpy array of Python strings."""
    return _cat(*parts).to_numpy(zero_copy_only=False)


def _distinct(*arrays) -> pa.Array:
    """The distinct values of Arrow arrays, in order of first appearance."""
    return pc.unique(pa.chunked_array([a for a in arrays], type=pa.large_string()).combine_chunks())


@dataclass
class _Examples:
    """A rule's note: the distinct offending texts, shown as the first ``k`` examples.

    Notes of the chunks of one table merge into the note of the whole table.
    """

    values: pa.Array
    k: int = 3

    def merge(self, other: "_Examples") -> "_Examples":
        return _Examples(_distinct(self.values, other.values), self.k)

    def __str__(self) -> str:
        values = self.values.to_pylist()
        more = ", ..." if len(values) > self.k else ""
        return "e.g. " + ", ".join(values[: self.k]) + more


@dataclass
class _Cascade:
    """A ``reference:*`` note: the distinct rejected and unknown parents the rejects refer to."""

    table: str
    parent: str
    rejected: pa.Array
    unknown: pa.Array

    def merge(self, other: "_Cascade") -> "_Cascade":
        return _Cascade(self.table, self.parent, _distinct(self.rejected, other.rejected),
                        _distinct(self.unknown, other.unknown))

    def __str__(self) -> str:
        n_rejected, n_unknown, parent = len(self.rejected), len(self.unknown), self.parent
        if n_rejected and n_unknown:
            return (f"{self.table} of {n_rejected + n_unknown:,} rejected or unknown {parent}: "
                    f"{n_rejected:,} rejected, {n_unknown:,} unknown")
        return f"{self.table} of {n_rejected + n_unknown:,} {'rejected' if n_rejected else 'unknown'} {parent}"


def _examples(text: pa.Array) -> _Examples:
    return _Examples(_distinct(text))


def _mask(values) -> np.ndarray:
    """A rule's mask as numpy booleans; missing (NA) is False."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return values
    return np.asarray(pd.Series(values).fillna(False).to_numpy(), dtype=bool)


# --------------------------------------------------------------------------- checker


class _Checker:
    """Collect rule violations of one table as boolean masks."""

    def __init__(self, name: str, frame: pd.DataFrame, whole: "_Whole | None" = None, lookups=None):
        self.name = name
        self.frame = frame
        self.key = CONTRACT[name].key
        self.whole = whole  # what was found over the whole table when the frame is one chunk of it
        # {parent: _KeyLookup of its clean keys}, built once for all the chunks (validate_folder)
        self.lookups = lookups if lookups is not None else {}
        self.parts: list[pd.DataFrame] = []
        self.rules: list[str] = []
        self.notes: dict[str, _Examples | _Cascade] = {}
        self.bad = np.zeros(len(frame), dtype=bool)
        self.unreadable_keys = frame.attrs.get("bad_text", {}).get(self.key)
        self._arrays: dict[str, pa.Array] = {}

    def arrow(self, col: str) -> pa.Array:
        """Column ``col`` as one Arrow array, converted once for all the rules that need it."""
        if col not in self._arrays:
            self._arrays[col] = _arrow(self.frame[col])
        return self._arrays[col]

    def check(self, rule: str, mask, detail, note: str | None = None) -> None:
        """Reject the rows of ``mask`` under ``rule``.

        ``detail`` is a string, or a function of the rejected row positions returning one
        string per row (so messages are built only for rejected rows).
        """
        mask = _mask(mask)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        details = detail(idx) if callable(detail) else detail
        self.parts.append(
            pd.DataFrame(
                {
                    "table": self.name,
                    "row": idx + 1,
                    "key": self._keys(idx),
                    "rule": rule,
                    "detail": details,
                }
            )
        )
        self.rules.append(rule)
        if note:
            self.notes[rule] = note
        self.bad |= mask

    def _keys(self, idx: np.ndarray) -> np.ndarray:
        """The ids of rows ``idx``; an id that could not be read is shown as written."""
        keys = self.frame[self.key].iloc[idx].astype(object).to_numpy()
        if self.unreadable_keys is not None and len(self.unreadable_keys):
            shown = self.unreadable_keys.reindex(idx).to_numpy()
            keys = np.where(pd.isna(shown), keys, shown)
        return keys

    def values(self, col: str, idx: np.ndarray) -> pa.Array:
        """The values of ``col`` at ``idx`` as message text."""
        return _text(self.arrow(col).take(pa.array(idx, pa.int64())))

    def rejected(self) -> tuple[pa.Array, pa.Array]:
        """Keys of the rejected rows and, for each, the first rule that rejected it."""
        first = np.full(len(self.frame), -1)
        for i, part in enumerate(self.parts):
            rows = part["row"].to_numpy() - 1
            first[rows[first[rows] < 0]] = i
        idx = np.flatnonzero(first >= 0)
        keys = _arrow(self.arrow(self.key).take(pa.array(idx, pa.int64())), contiguous=True)
        return keys, pa.array(np.asarray(self.rules, dtype=object)[first[idx]] if len(idx) else [], pa.large_string())


# --------------------------------------------------------------------------- generic rules


def _values_rules(chk: _Checker) -> None:
    """Types, finiteness, nulls, empty strings and signs of every column."""
    frame = chk.frame
    unparsed = frame.attrs.get("unparsed", {})
    nonfinite = frame.attrs.get("nonfinite", {})
    bad_text = frame.attrs.get("bad_text", {})
    for col in CONTRACT[chk.name].columns:
        name = col.name
        unreadable = np.zeros(len(frame), bool)
        for kind, masks, what in (("type", unparsed, f"is not a valid {col.dtype}"), ("finite", nonfinite, "is not a finite number")):
            if name not in masks:
                continue
            mask = np.asarray(masks[name], bool)
            unreadable |= mask
            idx = np.flatnonzero(mask)
            texts = bad_text.get(name, pd.Series(dtype=object))
            shown = _text(pa.array(texts.reindex(idx).to_numpy(), pa.large_string(), from_pandas=True))
            chk.check(f"{kind}:{name}", mask, _join(f"{name} ", shown, f" {what}"), note=_examples(shown))
        if not col.nullable:
            chk.check(f"not_null:{name}", frame[name].isna().to_numpy() & ~unreadable, f"{name} is required")
        if col.dtype == STRING:
            chk.check(f"empty:{name}", _empty(chk.arrow(name)), f"{name} is empty")
        if col.dtype in (INT, FLOAT):
            chk.check(f"negative:{name}", frame[name] < 0, lambda idx, n=name: _join(f"{n} ", chk.values(n, idx), " is negative"))
        if col.dtype == TIMESTAMP:
            chk.check(
                f"{SUSPICIOUS}before_2000:{name}",
                frame[name] < ERA_START,
                lambda idx, n=name: _join(f"{n} ", chk.values(n, idx), f" is before {ERA_START.date()} (a placeholder or glitch)"),
            )


def _duplicated(keys: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Rows whose (readable) key appears more than once; None when every key is unique."""
    if len(pc.unique(keys)) == len(keys):  # the common case, without pandas' slow factorize
        return None
    series = pd.Series(keys.to_numpy(zero_copy_only=False), dtype=object)
    return (series.duplicated(keep=False) & series.notna()).to_numpy()


def _unique(chk: _Checker) -> None:
    dup = chk.whole.dup if chk.whole is not None else _duplicated(chk.arrow(chk.key))
    if dup is None:
        return
    chk.check(f"unique:{chk.key}", dup, lambda idx: _join(f"{chk.key} ", chk.values(chk.key, idx), " appears more than once"))


def _empty(values: pa.Array) -> np.ndarray:
    return pc.equal(pc.utf8_length(values), 0).fill_null(False).to_numpy(zero_copy_only=False)


def _lookup_time(pos: np.ndarray, times: pd.Series) -> pd.Series:
    """``times`` at ``pos`` (NaT where ``pos`` is -1), as UTC timestamps."""
    raw = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    out = np.full(len(pos), np.datetime64("NaT"), dtype="datetime64[us]")
    hit = pos >= 0
    out[hit] = raw[pos[hit]]
    return pd.Series(out).dt.tz_localize("UTC")


def _reference(chk: _Checker, col: str, parent: str, gone: dict, positions: bool = False) -> np.ndarray | None:
    """Reject values of ``col`` that are not a clean row of ``parent``.

    With ``positions``, return each value's row in the clean parent (-1: none).

    The detail names the value and whether it is unknown or was rejected in the parent (and
    by which rule); the note counts the distinct parents a cascade comes from.
    """
    values = chk.arrow(col)
    gone_keys, gone_rules, keys = gone[parent]
    lookup = chk.lookups.get(parent)
    if lookup is not None:  # a chunk: the parent's keys were hashed and sorted once for all chunks
        pos = lookup.positions(values)
        known = pos >= 0
    elif positions:
        pos = _positions(values, keys)
        known = pos >= 0
    else:  # membership alone is cheaper than positions
        pos, known = None, _mask(pc.is_in(values, value_set=keys).to_numpy(zero_copy_only=False))
    missing = ~known & _mask(pc.is_valid(values).to_numpy(zero_copy_only=False))
    if not missing.any():
        return pos
    idx = np.flatnonzero(missing)
    raw = values.take(pa.array(idx, pa.int64()))
    where = pc.index_in(raw, value_set=gone_keys)
    was = _mask(pc.is_valid(where).to_numpy(zero_copy_only=False))
    quoted = _text(raw)
    rule_text = pc.take(gone_rules, where) if len(gone_rules) else pa.nulls(len(idx), pa.large_string())
    detail = pc.if_else(
        pa.array(was),
        _cat(f"{col} ", quoted, f" was rejected in {parent} (", rule_text, ")"),
        _cat(f"{col} ", quoted, f" not found in {parent}"),
    ).to_numpy(zero_copy_only=False)
    note = _Cascade(chk.name, parent, _distinct(raw.filter(pa.array(was))), _distinct(raw.filter(pa.array(~was))))
    chk.check(f"reference:{col}", missing, detail, note=note)
    return pos


def _not_future(chk: _Checker, cols: list[str], now: pd.Timestamp) -> None:
    for col in cols:
        chk.check(f"future:{col}", chk.frame[col] > now,
                  lambda idx, c=col: _join(f"{c} ", chk.values(c, idx), f" is after {now.isoformat()}"))


# --------------------------------------------------------------------------- suspicious posts


def _suspicious_counts(chk: _Checker) -> None:
    """Engagement that cannot be: more likes or comments than views, or any engagement without a view."""
    f = chk.frame
    views, likes = f[C.VIEWS_7D], f[C.LIKES_7D]
    chk.check(
        f"{SUSPICIOUS}likes_7d>views_7d",
        (views > 0) & (likes > views),
        lambda idx: _join("likes_7d ", chk.values(C.LIKES_7D, idx), " > views_7d ", chk.values(C.VIEWS_7D, idx)),
    )
    comments = f[C.COMMENTS_7D]
    chk.check(
        f"{SUSPICIOUS}comments_7d>views_7d",
        (views > 0) & (comments > views),
        lambda idx: _join("comments_7d ", chk.values(C.COMMENTS_7D, idx), " > views_7d ", chk.values(C.VIEWS_7D, idx)),
    )
    engaged = (likes > 0) | (comments > 0) | (f[C.SHARES_7D] > 0)
    chk.check(
        f"{SUSPICIOUS}engagement_without_views",
        (views == 0) & engaged,
        lambda idx: _join("views_7d 0 but likes_7d ", chk.values(C.LIKES_7D, idx), ", comments_7d ",
                          chk.values(C.COMMENTS_7D, idx), ", shares_7d ", chk.values(C.SHARES_7D, idx)),
    )


def _follower_glitch(creator: np.ndarray, times: pd.Series, followers: pd.Series) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Posts whose follower count is over FOLLOWER_DROP times below both the creator's largest
    count on an earlier post and on a later one (the count drops and comes back).

    Parameters
    ----------
    creator : int array
        A code per post for its creator (-1: unknown creator, never flagged).

    Returns
    -------
    mask, before, after
        The flagged posts, and for each post the largest count before and after it (-1: none;
        both None when no post is flagged).
    """
    x = _follower_counts(creator, followers)
    return _glitch_of(creator, x, lambda rows: _micros(times.iloc[rows]))


def _follower_counts(creator: np.ndarray, followers: pd.Series) -> np.ndarray:
    """Follower counts as floats; -1 where missing or where the creator is unknown."""
    if followers.dtype == np.int64:  # the common case, without pandas' slower masked path
        x = followers.to_numpy().astype(float)
    else:
        x = followers.to_numpy(dtype=float, na_value=np.nan)
        x[np.isnan(x)] = -1.0
    x[creator < 0] = -1.0
    return x


def _micros(times: pd.Series) -> np.ndarray:
    """Timestamps as int64 microseconds since the epoch in UTC (NaT: the smallest int64)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)


def _glitch_of(creator: np.ndarray, x: np.ndarray, micros) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`_follower_glitch` on creator codes, counts (:func:`_follower_counts`) and
    ``micros(rows)``: the posting times (:func:`_micros`) of the rows asked for."""
    n = len(creator)
    mask = np.zeros(n, bool)
    known = creator >= 0
    if n < 3 or not known.any():
        return mask, None, None
    floor = FOLLOWER_DROP * np.maximum(x, 1.0)  # a neighbour count above this makes x a glitch
    # Only creators whose counts span more than the ratio can hold a glitch: sort just their posts.
    top = np.full(int(creator.max()) + 1, -1.0)
    np.maximum.at(top, creator[known], x[known])
    involved = np.zeros(len(top), bool)
    involved[creator[known & (top[np.maximum(creator, 0)] > floor)]] = True
    rows = np.flatnonzero(known & involved[np.maximum(creator, 0)])
    if len(rows) == 0:
        return mask, None, None
    t = np.asarray(micros(rows), np.int64)
    order = rows[np.lexsort((t, creator[rows]))]
    g, xs = creator[order], x[order]
    fwd = pd.Series(xs).groupby(g, sort=False).cummax().to_numpy()
    bwd = pd.Series(xs[::-1]).groupby(g[::-1], sort=False).cummax().to_numpy()[::-1]
    prev = np.where(np.r_[False, g[1:] == g[:-1]], np.r_[-1.0, fwd[:-1]], -1.0)
    nxt = np.where(np.r_[g[:-1] == g[1:], False], np.r_[bwd[1:], -1.0], -1.0)
    flag = (xs >= 0) & (np.minimum(prev, nxt) > floor[order])
    if not flag.any():
        return mask, None, None
    mask[order[flag]] = True
    before, after = np.full(n, -1.0), np.full(n, -1.0)
    before[order], after[order] = prev, nxt
    return mask, before, after


def _suspicious_history(chk: _Checker, clean: dict, creator_pos: np.ndarray) -> None:
    """A follower count that drops and comes back, and posts dated before the creator joined."""
    f = chk.frame
    if chk.whole is not None:
        mask, before, after = chk.whole.glitch or (np.zeros(len(f), bool), None, None)
    else:
        mask, before, after = _follower_glitch(creator_pos, f[C.POSTED_AT], f[C.FOLLOWERS_AT_POST])
    chk.check(
        f"{SUSPICIOUS}followers_glitch",
        mask,
        lambda idx: _join(
            "followers_at_post ", chk.values(C.FOLLOWERS_AT_POST, idx), " between ",
            _text(pa.array(before[idx].astype(np.int64))), " before and ", _text(pa.array(after[idx].astype(np.int64))),
            f" after (a drop of over {FOLLOWER_DROP}x that comes back)",
        ),
    )
    joined = _lookup_time(creator_pos, clean[C.CREATORS][C.JOINED_AT])
    chk.check(
        f"{SUSPICIOUS}posted_before_joined",
        f[C.POSTED_AT] < joined,
        lambda idx: _join("posted_at ", chk.values(C.POSTED_AT, idx), " is before the creator joined (",
                          _text(_arrow(joined).take(pa.array(idx, pa.int64()))), ")"),
    )


# --------------------------------------------------------------------------- per table


def _rules(name: str, chk: _Checker, clean: dict, gone: dict, now: pd.Timestamp) -> None:
    f = chk.frame
    _values_rules(chk)
    _unique(chk)
    if name == C.CREATORS:
        _not_future(chk, [C.JOINED_AT], now)
    elif name == C.CAMPAIGNS:
        chk.check("order:created_at<=starts_at", f[C.CREATED_AT] > f[C.STARTS_AT], "starts_at is before created_at")
        chk.check("order:starts_at<=ends_at", f[C.STARTS_AT] > f[C.ENDS_AT], "ends_at is before starts_at")
        _not_future(chk, [C.CREATED_AT], now)
    elif name == C.POSTS:
        creator_pos = _reference(chk, C.CREATOR_ID, C.CREATORS, gone, positions=True)
        _not_future(chk, [C.POSTED_AT], now)
        _suspicious_counts(chk)
        _suspicious_history(chk, clean, creator_pos)
    elif name == C.INVITATIONS:
        _reference(chk, C.CREATOR_ID, C.CREATORS, gone)
        campaign_pos = _reference(chk, C.CAMPAIGN_ID, C.CAMPAIGNS, gone, positions=True)
        created = _lookup_time(campaign_pos, clean[C.CAMPAIGNS][C.CREATED_AT])
        chk.check("order:invited_at>=created_at", f[C.INVITED_AT] < created, "invited_at is before the campaign's created_at")
        chk.check("order:responded_at>=invited_at", f[C.RESPONDED_AT] < f[C.INVITED_AT], "responded_at is before invited_at")
        chk.check(
            "answer:accepted_iff_responded",
            f[C.ACCEPTED].isna() != f[C.RESPONDED_AT].isna(),
            "accepted must be null exactly when responded_at is null",
        )
        not_accepted = ~f[C.ACCEPTED].fillna(False).astype(bool)
        for col in (C.FEE_USD, C.DUE_AT, C.DELIVERED_AT, C.APPROVED_FIRST_PASS):
            chk.check(f"accepted_only:{col}", not_accepted & f[col].notna(), f"{col} is set on an invitation that was not accepted")
        chk.check(
            "delivered_only:approved_first_pass",
            f[C.APPROVED_FIRST_PASS].notna() & f[C.DELIVERED_AT].isna(),
            "approved_first_pass is set but nothing was delivered",
        )
        _not_future(chk, [C.INVITED_AT, C.RESPONDED_AT, C.DELIVERED_AT], now)
    elif name == C.ORDERS:
        _reference(chk, C.CREATOR_ID, C.CREATORS, gone)
        _reference(chk, C.CAMPAIGN_ID, C.CAMPAIGNS, gone)
        _reference(chk, C.POST_ID, C.POSTS, gone)  # a suspicious post takes its orders along
        chk.check("order:refunded_at>=ordered_at", f[C.REFUNDED_AT] < f[C.ORDERED_AT], "refunded_at is before ordered_at")
        _not_future(chk, [C.ORDERED_AT, C.REFUNDED_AT], now)


def _kept(frame: pd.DataFrame, bad: np.ndarray, name: str) -> pd.DataFrame:
    """The clean rows, counts back to int64 once no value is missing (stable dtypes downstream)."""
    attrs = {k: v for k, v in frame.attrs.items() if k not in ("unparsed", "nonfinite", "bad_text")}
    frame = frame.copy(deep=False)  # cheap (copy on write); pandas compares attrs holding arrays badly
    frame.attrs = {}
    kept = frame[~bad].reset_index(drop=True) if bad.any() else frame
    ints = {c.name: "int64" for c in CONTRACT[name].columns
            if c.dtype == INT and str(kept[c.name].dtype) == "Int64" and not kept[c.name].isna().any()}
    if ints:
        kept = kept.astype(ints)
    kept.attrs = attrs
    return kept


def _check_table(name: str, frame: pd.DataFrame, clean: dict, gone: dict, now: pd.Timestamp) -> tuple[_Checker, pd.DataFrame]:
    """Apply every rule to one table; record what its children refer to in ``gone``.

    Returns the checker (its rejects and notes) and the clean rows.
    """
    chk = _Checker(name, frame)
    _rules(name, chk, clean, gone, now)
    kept = _kept(frame, chk.bad, name)
    if name in PARENTS:  # what children refer to: rejected keys (with their rule) and clean keys
        gone[name] = (*chk.rejected(), _arrow(kept[CONTRACT[name].key], contiguous=True))
    return chk, kept


def _sources(frame: pd.DataFrame) -> tuple[list, np.ndarray]:
    """The files of a table's rows: their paths and the 0-based table row each starts at."""
    if "parts" in frame.attrs:
        paths, sizes = zip(*frame.attrs["parts"]) if frame.attrs["parts"] else ((), ())
        return list(paths), np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    return [frame.attrs.get("path")], np.zeros(1, np.int64)


def _locate(part: pd.DataFrame, sources: tuple[list, np.ndarray]) -> pd.DataFrame:
    """Add the file and the 1-based row within it to one table's rejects."""
    paths, starts = sources
    pos = part["row"].to_numpy() - 1
    which = np.searchsorted(starts, pos, side="right") - 1
    return part.assign(file=np.asarray(paths, dtype=object)[which], file_row=pos - starts[which] + 1)


def _report(parts: list[pd.DataFrame], rows_in: dict, rows_out: dict, notes: dict) -> ValidationReport:
    rejects = (
        pd.concat(parts, ignore_index=True).sort_values(["table", "row", "rule"], kind="stable").reset_index(drop=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    )
    return ValidationReport(rejects, rows_in, rows_out, notes)


def validate_tables(
    tables: dict[str, pd.DataFrame], now: pd.Timestamp | str | None = None
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Apply every contract rule; return the clean tables and the report.

    Parameters
    ----------
    tables : dict of DataFrame
        The five coerced tables (see :func:`creatorrank.data.load.read_tables`); any may
        have zero rows, any nullable column may be all null.
    now : timestamp, optional
        Facts dated after ``now`` are rejected as future. Defaults to the current time.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else to_utc(now)
    clean: dict[str, pd.DataFrame] = {}
    gone: dict[str, tuple[pa.Array, pa.Array, pa.Array]] = {}
    parts: list[pd.DataFrame] = []
    notes: dict[tuple[str, str], str] = {}
    rows_in: dict[str, int] = {}
    for name in CHECK_ORDER:
        frame = tables[name]
        chk, clean[name] = _check_table(name, frame, clean, gone, now)
        sources = _sources(frame)
        parts.extend(_locate(part, sources) for part in chk.parts)
        notes.update({(name, rule): str(note) for rule, note in chk.notes.items()})
        rows_in[name] = len(frame)
    report = _report(parts, rows_in, {n: len(clean[n]) for n in CHECK_ORDER}, notes)
    return {n: clean[n] for n in C.TABLES}, report


# What a child table's rules read of a clean parent besides its keys (kept by validate_folder).
_PARENT_COLUMNS = {C.CREATORS: [C.CREATOR_ID, C.JOINED_AT], C.CAMPAIGNS: [C.CAMPAIGN_ID, C.CREATED_AT]}
# What the rules that compare rows across the whole table read (validate_folder's first pass).
_WHOLE_TABLE_COLUMNS = {C.POSTS: [C.CREATOR_ID, C.POSTED_AT, C.FOLLOWERS_AT_POST]}


@dataclass
class _Whole:
    """What validate_folder finds over a whole table before checking it chunk by chunk."""

    dup: np.ndarray | None  # repeated keys (None: every key is unique)
    # posts: (flagged rows, the largest count before and after each) of _follower_glitch (None: none)
    glitch: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    def window(self, start: int, n: int) -> "_Whole":
        """The rows ``start`` to ``start + n`` (one chunk); the glitches as _follower_glitch's
        (mask, before, after) of the chunk."""
        glitch = None
        if self.glitch is not None:
            rows, before, after = self.glitch
            lo, hi = np.searchsorted(rows, [start, start + n])
            if hi > lo:
                at = rows[lo:hi] - start
                glitch = (np.zeros(n, bool), np.full(n, -1.0), np.full(n, -1.0))
                glitch[0][at], glitch[1][at], glitch[2][at] = True, before[lo:hi], after[lo:hi]
        return _Whole(None if self.dup is None else self.dup[start:start + n], glitch)


def _whole_table(name: str, read, lookups) -> _Whole:
    """Repeated keys and (posts) follower glitches over all the chunks of a table, from only the
    columns these read.

    ``read(columns)`` yields the table's chunks (:func:`~creatorrank.data.load.read_chunks`) of
    ``columns``; ``lookups.get(parent)`` is the :class:`_KeyLookup` of a parent's clean keys. Per
    row only fixed-width numbers are held (a 64-bit hash of the key; posts: an int32 creator code,
    the count and the posting time), never the keys themselves.
    """
    key = CONTRACT[name].key
    columns = [key, *_WHOLE_TABLE_COLUMNS.get(name, [])]
    hashes, chunks = [], []
    spans = _Spans(len(lookups.get(C.CREATORS).keys)) if name == C.POSTS else None
    for _, _, frame in read(columns):
        hashes.append(_hash_keys(_arrow(frame[key], contiguous=True)))
        if spans is not None:
            pos = lookups.get(C.CREATORS).positions(frame[C.CREATOR_ID]).astype(spans.code)
            x = _follower_counts(pos, frame[C.FOLLOWERS_AT_POST])
            spans.add(pos, x)
            chunks.append((pos, x, _micros(frame[C.POSTED_AT])))
        del frame
    glitch = _glitch_in_spans(chunks, spans) if spans is not None else None
    whole = _Whole(_duplicated_hashed(_concat_numbers(hashes), lambda: read([key]), key), glitch)
    _release_memory()
    return whole


class _Spans:
    """Each creator's largest and smallest follower count, chunk by chunk."""

    def __init__(self, n_creators: int):
        self.code = np.int32 if n_creators < 2**31 - 1 else np.int64  # a post's creator, as a number
        self.top, self.low = np.full(n_creators, -np.inf), np.full(n_creators, np.inf)

    def add(self, creator: np.ndarray, x: np.ndarray) -> None:
        known = creator >= 0
        np.maximum.at(self.top, creator[known], x[known])
        np.minimum.at(self.low, creator[known], x[known])

    def wide(self) -> np.ndarray:
        """Creators whose counts span more than FOLLOWER_DROP: only their posts can be a glitch."""
        return self.top > FOLLOWER_DROP * np.maximum(self.low, 1.0)  # some post's floor is below the top


def _glitch_in_spans(chunks: list, spans: _Spans) -> tuple | None:
    """:func:`_glitch_of` over a whole table, sorting only the posts of the creators whose counts
    span more than FOLLOWER_DROP (a glitch needs such a span); None when no post is flagged,
    else the flagged rows (sorted) and the largest count before and after each.

    ``chunks`` (emptied as it goes) holds each chunk's creator codes, counts
    (:func:`_follower_counts`) and posting times (:func:`_micros`); only the rows of wide
    creators are kept of them, so no array as long as the table is built here.
    """
    wide = spans.wide()
    if not wide.any():  # no creator's counts span enough (or no clean creator at all): no glitch
        chunks.clear()
        return None
    rows, creator, x, t, start = [], [], [], [], 0
    while chunks:
        pos, counts, micros = chunks.pop(0)
        sub = np.flatnonzero((pos >= 0) & wide[np.maximum(pos, 0)])
        rows.append(sub + start)
        creator.append(pos[sub])
        x.append(counts[sub])
        t.append(micros[sub])
        start += len(pos)
        del pos, counts, micros
    rows, creator, x, t = (_concat_numbers(a) for a in (rows, creator, x, t))
    if start < 3 or len(rows) == 0:
        return None
    mask, before, after = _glitch_of(creator, x, lambda sub: t[sub])
    if not mask.any():
        return None
    return rows[mask], before[mask], after[mask]


def _concat_numbers(arrays: list) -> np.ndarray:
    """numpy chunks as one array, emptying the list as it goes (one copy held, not two)."""
    out = np.concatenate(arrays) if arrays else np.zeros(0, np.uint64)
    arrays.clear()
    return out


_HASH_SEED = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio constant: the length's weight
_WORD_MULTS = (np.uint64(0x87C37B91114253D5), np.uint64(0x4CF5AD432745937F))  # murmur3's 64-bit constants
_ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)


def _hash_keys(keys: pa.Array) -> np.ndarray:
    """A 64-bit hash of each key (equal keys, equal hashes; nulls all hash alike), vectorised over
    the Arrow buffers eight bytes at a time. Distinct keys may collide: every user re-checks
    exactly (:func:`_duplicated_hashed`, :class:`_KeyLookup`).

    A key's hash depends on its own bytes and length only (not on the other keys of the call):
    each 8-byte word of it, zero-padded at the end, is mixed in turn; a key with no more words
    is left as it is.
    """
    if not pa.types.is_large_string(keys.type):
        keys = pc.cast(keys, pa.large_string())
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.uint64)
    _, off_buf, data_buf = keys.buffers()[:3]
    offsets = np.frombuffer(off_buf, np.int64)[keys.offset: keys.offset + n + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(last - first + 8, np.uint8)  # 8 readable bytes from every start
    if last > first:
        padded[: last - first] = np.frombuffer(data_buf, np.uint8)[first:last]
    # Element i: the 8 bytes from byte i (an unaligned, overlapping view; no copy).
    words = np.ndarray(shape=(len(padded) - 7,), dtype=np.uint64, buffer=padded, strides=(1,))
    starts, lengths = offsets[:-1] - first, np.diff(offsets)
    h = lengths.astype(np.uint64) * _HASH_SEED + _WORD_MULTS[1]
    for j in range(0, int(lengths.max()), 8):
        rows = None if int(lengths.min()) > j else np.flatnonzero(lengths > j)  # keys with a j-th word
        left = lengths - j if rows is None else lengths[rows] - j
        w = words[starts + j if rows is None else starts[rows] + j]
        if int(left.min()) < 8:  # the last word of some key: zero the bytes past its end
            w &= np.where(left >= 8, _ALL_BITS, (np.uint64(1) << (np.minimum(left, 7).astype(np.uint64) * np.uint64(8))) - np.uint64(1))
        x = (h if rows is None else h[rows]) ^ (w * _WORD_MULTS[0])
        x = ((x << np.uint64(31)) | (x >> np.uint64(33))) * _WORD_MULTS[1] + np.uint64(0x52DCE729)
        if rows is None:
            h = x
        else:
            h[rows] = x
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):  # splitmix64's finaliser
        h = (h ^ (h >> np.uint64(shift))) * np.uint64(mult)
    h ^= h >> np.uint64(31)
    if keys.null_count:
        h[~_mask(pc.is_valid(keys).to_numpy(zero_copy_only=False))] = 0
    return h


class _KeyLookup:
    """Positions of values among a large parent's unique keys, chunk by chunk, from the keys'
    sorted 64-bit hashes (about 12.6 bytes a key besides the keys) instead of a hash set of the
    keys that Arrow would rebuild on every call.

    The sorted hashes are cut into buckets by their top bits (one to two hashes a bucket, 4 bytes
    a bucket), so a value is found by scanning its bucket: a few vectorised steps over a chunk's
    values (most buckets hold one or two hashes), not a binary search of every key with a cache
    miss per step. A chunk's distinct values are looked up once (a chunk of posts names a few
    thousand creators). A hash match is confirmed by comparing the keys; keys whose hashes collide
    with each other are looked up among themselves.
    """

    def __init__(self, keys: pa.Array):
        self.keys = keys
        # The keys as they were gathered, chunk by chunk: never joined into one copy of them all.
        self.chunks = [c for c in keys.chunks if len(c)] if isinstance(keys, pa.ChunkedArray) else [keys]
        self.starts = np.cumsum([0] + [len(c) for c in self.chunks])
        n = int(self.starts[-1])
        step = 1 << 20  # hashed a slice at a time: bounded temporaries
        hashes = np.concatenate([np.zeros(0, np.uint64)] + [_hash_keys(c.slice(i, step)) for c in self.chunks
                                                            for i in range(0, len(c), step)])
        index = np.int32 if n < 2**31 - 1 else np.int64
        self.order = np.argsort(hashes).astype(index)
        self.sorted = hashes[self.order]
        del hashes
        bits = int(np.clip(np.ceil(np.log2(max(n, 1))) - 1, 1, 32))
        self.shift = np.uint64(64 - bits)
        self.bounds = np.full(2**bits + 1, n, index)  # bucket b holds sorted[bounds[b]:bounds[b + 1]]
        for b in range(0, 2**bits, step):  # a block of buckets at a time: small temporaries
            firsts = np.arange(b, min(b + step, 2**bits), dtype=np.uint64) << self.shift
            self.bounds[b:b + len(firsts)] = np.searchsorted(self.sorted, firsts)
        repeated = self.sorted[1:] == self.sorted[:-1]
        shared = np.zeros(n, bool)  # hashes held by several keys
        shared[1:] |= repeated
        shared[:-1] |= repeated
        self.shared_at = self.order[shared].astype(np.int64)
        self.shared_keys = self.take(self.shared_at)

    def take(self, pos: np.ndarray) -> pa.Array:
        """The keys at positions ``pos``, one take per chunk they fall in (pyarrow's take of a
        chunked array would join every chunk first)."""
        pos = np.asarray(pos, np.int64)
        if len(self.chunks) == 1:
            return _arrow(self.chunks[0].take(pa.array(pos, pa.int64())), contiguous=True)
        which = np.searchsorted(self.starts, pos, side="right") - 1
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(self.chunks) + 1))
        pieces = [self.chunks[c].take(pa.array(pos[order[lo:hi]] - self.starts[c], pa.int64()))
                  for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])) if hi > lo]
        grouped = _concat_keys(pieces) if pieces else pa.array([], pa.large_string())
        back = np.empty(len(pos), np.int64)
        back[order] = np.arange(len(pos))
        return grouped.take(pa.array(back, pa.int64()))

    def _lower_bound(self, h: np.ndarray) -> np.ndarray:
        """The first position in ``sorted`` holding a hash >= each of ``h``: its bucket's start,
        moved on past the bucket's smaller hashes (every bucket's hashes share its top bits)."""
        b = (h >> self.shift).astype(np.int64)
        at, end = self.bounds[b].astype(np.int64), self.bounds[b + 1]
        active = np.flatnonzero(at < end)
        while len(active):
            active = active[self.sorted[at[active]] < h[active]]
            at[active] += 1
            active = active[at[active] < end[active]]
        return at

    def positions(self, values) -> np.ndarray:
        """Each value's position among the keys (-1: not one of them; null: never), as
        :func:`~creatorrank.core.arrow.positions` gives it."""
        values = _arrow(values, contiguous=True)
        if len(values) > 1:
            encoded = pc.dictionary_encode(values)
            if len(encoded.dictionary) <= len(values) // 2:  # repeated values: look each up once
                codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
                found = np.append(self._positions(encoded.dictionary), -1)
                return found[codes]  # code -1 (null) takes the appended -1
        return self._positions(values)

    def _positions(self, values: pa.Array) -> np.ndarray:
        h = _hash_keys(values)
        out = np.full(len(h), -1, np.int64)
        n = len(self.sorted)
        if n == 0 or len(h) == 0:
            return out
        at = np.minimum(self._lower_bound(h), n - 1)
        hit = self.sorted[at] == h
        shared = hit & (at + 1 < n) & (self.sorted[np.minimum(at + 1, n - 1)] == h)  # at is the first of its hash
        idx = np.flatnonzero(hit & ~shared)
        if len(idx):
            pos = self.order[at[idx]].astype(np.int64)
            same = _mask(pc.equal(values.take(pa.array(idx, pa.int64())), self.take(pos)).to_numpy(zero_copy_only=False))
            out[idx[same]] = pos[same]
        idx = np.flatnonzero(shared)
        if len(idx):
            inside = pc.index_in(values.take(pa.array(idx, pa.int64())), value_set=self.shared_keys).fill_null(-1)
            inside = np.asarray(inside.to_numpy(zero_copy_only=False), np.int64)
            out[idx[inside >= 0]] = self.shared_at[inside[inside >= 0]]
        return out

    def contains(self, values: pa.Array) -> np.ndarray:
        """Whether each value is one of the keys (null: never), as ``pc.is_in`` says."""
        return self.positions(values) >= 0


def _release_memory() -> None:
    """Give the heap's free pages back to the system (glibc only; elsewhere nothing).

    A chunk's arrays of a few MB come from the heap, not from their own mappings, so after a
    table's hundred chunks the process keeps GBs it no longer uses unless told to return them.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim`` (None where there is none)."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class _ParentKeys:
    """The :class:`_KeyLookup` of each parent's clean keys (``gone[parent][2]``), built on first use
    and kept for every chunk of every child table (posts' lookup waits for the orders)."""

    def __init__(self, gone: dict):
        self.gone = gone
        self.built: dict[str, _KeyLookup] = {}

    def get(self, parent: str) -> "_KeyLookup | None":
        if parent not in self.gone:
            return None
        if parent not in self.built:
            self.built[parent] = _KeyLookup(self.gone[parent][2])
        return self.built[parent]


def _duplicated_hashed(hashes: np.ndarray, read_keys, key: str) -> np.ndarray | None:
    """:func:`_duplicated` from the keys' hashes (:func:`_hash_keys`): rows whose hash repeats
    are the only candidates, and only their keys are read again (``read_keys()`` yields the
    chunks of the key column) and compared exactly, so a hash collision never rejects a row."""
    ranked = np.sort(hashes)
    repeated = ranked[1:][ranked[1:] == ranked[:-1]]
    del ranked
    if len(repeated) == 0:
        return None
    rows = np.flatnonzero(np.isin(hashes, np.unique(repeated)))
    found, start = [], 0
    for _, _, frame in read_keys():
        n = len(frame)
        lo, hi = np.searchsorted(rows, [start, start + n])
        if hi > lo:
            found.append(_arrow(frame[key], contiguous=True).take(pa.array(rows[lo:hi] - start, pa.int64())))
        start += n
    exact = _duplicated(_concat_keys(found))
    if exact is None or not exact.any():  # the hashes collided, the keys differ
        return None
    dup = np.zeros(len(hashes), bool)
    dup[rows] = exact
    return dup


def _concat_keys(arrays: list) -> pa.Array:
    """Arrow arrays of keys as one large_string array (all rows, repeats kept)."""
    return pa.chunked_array(arrays, type=pa.large_string()).combine_chunks()


def validate_folder(data_dir: str | os.PathLike, now: pd.Timestamp | str | None = None) -> ValidationReport:
    """Validate a data folder chunk by chunk; the report equals :func:`load_market`'s.

    Tables are checked in :data:`CHECK_ORDER`, each in chunks (every part of a folder, every
    :data:`~creatorrank.data.load.CHUNK_ROWS` rows of a Parquet file or part; a CSV file is one
    chunk), holding one chunk at a time; every per-row rule runs on the chunk. A first,
    projected pass over the whole table finds what compares rows across it (:func:`_whole_table`),
    holding fixed-width numbers per row, not keys: repeated keys (a 64-bit hash of each key; only
    rows whose hash repeats are read again and compared exactly) and follower glitches (posts'
    ``creator_id`` code, ``posted_at`` and ``followers_at_post`` as numbers). References are
    looked up chunk by chunk in each parent's clean keys through a :class:`_KeyLookup` built
    once per parent (sorted 64-bit hashes in buckets, a hit confirmed by comparing keys), so a
    chunk costs the same however large its parent. Kept between tables: the keys of every
    parent's clean rows (in their chunks) and rejected rows (creators, campaigns, posts),
    creators' ``joined_at``, campaigns' ``created_at``, the notes' distinct values and the
    rejects. So memory grows with the key columns of the parents (about 33 bytes a post with
    its lookup) and about 28 bytes a row of the largest table, not with whole tables; time
    grows with the rows. ``data_dir`` may be a URI (see :func:`~creatorrank.data.load.locate_tables`).
    No clean table is returned (see :func:`load_market` for downstream work).
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else to_utc(now)
    found = locate_tables(data_dir)  # every header first: one error names every structural problem
    clean: dict[str, pd.DataFrame] = {}
    gone: dict[str, tuple[pa.Array, pa.Array, pa.Array]] = {}
    lookups = _ParentKeys(gone)
    parts: list[pd.DataFrame] = []
    notes: dict[tuple[str, str], str] = {}
    rows_in: dict[str, int] = {}
    rows_out: dict[str, int] = {}
    for name in CHECK_ORDER:
        path, options = found[name]
        spec = CONTRACT[name]
        whole = _whole_table(name, lambda columns: read_chunks(path, spec, options, columns=columns), lookups)
        row, table_notes = 0, {}
        rejected, rules, keys, slim = [], [], [], []
        for file, start, frame in read_chunks(path, spec, options):
            n = len(frame)
            chk = _Checker(name, frame, whole.window(row, n), lookups)
            _rules(name, chk, clean, gone, now)
            for part in chk.parts:  # chunk rows -> rows of the file (which starts -start rows before
                located = _locate(part, ([file], np.array([-start], np.int64)))  # the chunk), of the table
                parts.append(located.assign(row=located["row"] + row))
            for rule, note in chk.notes.items():
                table_notes[rule] = table_notes[rule].merge(note) if rule in table_notes else note
            kept = _kept(frame, chk.bad, name)
            if name in PARENTS:
                chunk_rejected, chunk_rules = chk.rejected()
                rejected.append(chunk_rejected)
                rules.append(chunk_rules)
                keys.append(_arrow(kept[spec.key], contiguous=True))
            if name in _PARENT_COLUMNS:
                slim.append(kept[_PARENT_COLUMNS[name]])
            rows_out[name] = rows_out.get(name, 0) + len(kept)
            row += n
            del frame, chk, kept  # one chunk at a time
        rows_in[name] = row
        notes.update({(name, rule): str(note) for rule, note in table_notes.items()})
        if name in PARENTS:  # the clean keys stay in chunks (only _KeyLookup reads them): no second copy
            gone[name] = (_concat_keys(rejected), _concat_keys(rules), pa.chunked_array(keys, type=pa.large_string()))
        _release_memory()
        if name in _PARENT_COLUMNS:
            clean[name] = pd.concat(slim, ignore_index=True)
    return _report(parts, rows_in, rows_out, notes)


def load_market(
    data_dir: str | os.PathLike, now: pd.Timestamp | str | None = None
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Read, coerce and validate a data folder: the one entry point for downstream code."""
    return validate_tables(read_tables(data_dir), now=now)


def load_clean_tables(data_dir: str | os.PathLike, now: pd.Timestamp | str | None = None) -> dict[str, pd.DataFrame]:
    """The validated tables for downstream work; rejected rows are excluded and their count logged."""
    tables, report = load_market(data_dir, now=now)
    if not report.ok:
        logging.getLogger(__name__).warning(
            "%d rows rejected by validation and excluded (run `creatorrank validate --data %s` for details)",
            report.rejected_rows, data_dir,
        )
    return tables
