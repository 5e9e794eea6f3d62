"""Check the raw tables against every rule the data contract implies.

Rows that break a rule are rejected with a reason, counted per table and rule, and
excluded downstream. Rows that are legal but implausible (a scrape glitch, a counter that
went wrong) are rejected the same way under ``suspicious:*`` rules. Tables are checked parents
first (creators, campaigns, posts, invitations, orders) so a reference to a rejected row is
itself rejected, and says which rule rejected the parent. Every check is vectorised.
"""

from __future__ import annotations

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
from .load import read_tables

REJECT_COLUMNS = ["table", "row", "key", "rule", "detail"]
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
        One row per (rejected row, broken rule): table, row (1-based data row in the file),
        key (the row's id), rule, detail (names the offending value, quoted as Python would).
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


def _examples(text: pa.Array, k: int = 3) -> str:
    values = pc.unique(text).to_pylist()
    more = ", ..." if len(values) > k else ""
    return "e.g. " + ", ".join(values[:k]) + more


def _mask(values) -> np.ndarray:
    """A rule's mask as numpy booleans; missing (NA) is False."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return values
    return np.asarray(pd.Series(values).fillna(False).to_numpy(), dtype=bool)


# --------------------------------------------------------------------------- checker


class _Checker:
    """Collect rule violations of one table as boolean masks."""

    def __init__(self, name: str, frame: pd.DataFrame):
        self.name = name
        self.frame = frame
        self.key = CONTRACT[name].key
        self.parts: list[pd.DataFrame] = []
        self.rules: list[str] = []
        self.notes: dict[str, str] = {}
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


def _unique(chk: _Checker) -> None:
    keys = chk.frame[chk.key]
    if len(pc.unique(chk.arrow(chk.key))) == len(keys):  # the common case, without pandas' slow factorize
        return
    dup = keys.duplicated(keep=False) & keys.notna()
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
    if positions:
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
    n_rejected = pc.count_distinct(raw.filter(pa.array(was))).as_py()
    n_unknown = pc.count_distinct(raw.filter(pa.array(~was))).as_py()
    if n_rejected and n_unknown:
        note = (f"{chk.name} of {n_rejected + n_unknown:,} rejected or unknown {parent}: "
                f"{n_rejected:,} rejected, {n_unknown:,} unknown")
    else:
        note = f"{chk.name} of {n_rejected + n_unknown:,} {'rejected' if n_rejected else 'unknown'} {parent}"
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
    n = len(creator)
    mask = np.zeros(n, bool)
    known = creator >= 0
    if n < 3 or not known.any():
        return mask, None, None
    if followers.dtype == np.int64:  # the common case, without pandas' slower masked path
        x = followers.to_numpy().astype(float)
    else:
        x = followers.to_numpy(dtype=float, na_value=np.nan)
        x[np.isnan(x)] = -1.0
    x[~known] = -1.0
    floor = FOLLOWER_DROP * np.maximum(x, 1.0)  # a neighbour count above this makes x a glitch
    # Only creators whose counts span more than the ratio can hold a glitch: sort just their posts.
    top = np.full(int(creator.max()) + 1, -1.0)
    np.maximum.at(top, creator[known], x[known])
    involved = np.zeros(len(top), bool)
    involved[creator[known & (top[np.maximum(creator, 0)] > floor)]] = True
    rows = np.flatnonzero(known & involved[np.maximum(creator, 0)])
    if len(rows) == 0:
        return mask, None, None
    t = times.iloc[rows].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
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
        chk = _Checker(name, frame)
        _rules(name, chk, clean, gone, now)
        parts.extend(chk.parts)
        notes.update({(name, rule): note for rule, note in chk.notes.items()})
        rows_in[name] = len(frame)
        clean[name] = _kept(frame, chk.bad, name)
        if name in PARENTS:  # what children refer to: rejected keys (with their rule) and clean keys
            gone[name] = (*chk.rejected(), _arrow(clean[name][CONTRACT[name].key], contiguous=True))
    rejects = (
        pd.concat(parts, ignore_index=True).sort_values(["table", "row", "rule"], kind="stable").reset_index(drop=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    )
    report = ValidationReport(rejects, rows_in, {n: len(clean[n]) for n in CHECK_ORDER}, notes)
    return {n: clean[n] for n in C.TABLES}, report


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
