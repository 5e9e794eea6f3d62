"""Check the raw tables against every rule the data contract implies.

Rows that break a rule are rejected with a reason, counted per table and rule, and
excluded downstream. Tables are checked parents first (creators, campaigns, posts,
invitations, orders) so a reference to a rejected row is itself rejected.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.timeutil import to_utc
from .contract import CONTRACT, FLOAT, INT, STRING
from .load import read_tables

REJECT_COLUMNS = ["table", "row", "key", "rule", "detail"]
# Parents before children: a reference is checked against the parent's clean rows.
CHECK_ORDER = (C.CREATORS, C.CAMPAIGNS, C.POSTS, C.INVITATIONS, C.ORDERS)


@dataclass
class ValidationReport:
    """What validation found.

    Attributes
    ----------
    rejects : DataFrame
        One row per (rejected row, broken rule): table, row (1-based data row in the file),
        key (the row's id), rule, detail.
    rows_in, rows_out : dict
        Row counts per table before and after rejection.
    """

    rejects: pd.DataFrame
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)

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

    def summary(self) -> str:
        """Human-readable lines: rows per table, then rejected rows per rule."""
        lines = []
        for table in C.TABLES:
            if table in self.rows_in:
                dropped = self.rows_in[table] - self.rows_out.get(table, 0)
                lines.append(f"{table:<12} {self.rows_in[table]:>12,} rows  {dropped:>9,} rejected")
        for rec in self.counts().itertuples(index=False):
            lines.append(f"  rejected {rec.table}.{rec.rule}: {rec.rows:,}")
        return "\n".join(lines)


class _Checker:
    """Collect rule violations of one table as boolean masks."""

    def __init__(self, name: str, frame: pd.DataFrame):
        self.name = name
        self.frame = frame
        self.key = CONTRACT[name].key
        self.parts: list[pd.DataFrame] = []
        self.bad = np.zeros(len(frame), dtype=bool)

    def check(self, rule: str, mask, detail: str) -> None:
        mask = np.asarray(pd.Series(mask).fillna(False).to_numpy(), dtype=bool)
        if mask.any():
            idx = np.flatnonzero(mask)
            self.parts.append(
                pd.DataFrame(
                    {
                        "table": self.name,
                        "row": idx + 1,
                        "key": self.frame[self.key].iloc[idx].astype(object).to_numpy(),
                        "rule": rule,
                        "detail": detail,
                    }
                )
            )
            self.bad |= mask


def _not_null(chk: _Checker) -> None:
    frame = chk.frame
    unparsed = frame.attrs.get("unparsed", {})
    for col in CONTRACT[chk.name].columns:
        if col.name in unparsed:
            chk.check(f"type:{col.name}", unparsed[col.name], f"{col.name} is not a valid {col.dtype}")
        if not col.nullable:
            missing = frame[col.name].isna().to_numpy().copy()
            if col.name in unparsed:
                missing &= ~unparsed[col.name]
            chk.check(f"not_null:{col.name}", missing, f"{col.name} is required")
        if col.dtype == STRING:
            chk.check(f"empty:{col.name}", _empty(frame[col.name]), f"{col.name} is empty")
        if col.dtype in (INT, FLOAT):
            chk.check(f"negative:{col.name}", frame[col.name] < 0, f"{col.name} is negative")


def _unique(chk: _Checker) -> None:
    import pyarrow.compute as pc

    keys = chk.frame[chk.key]
    if len(pc.unique(_arrow(keys))) == len(keys):  # the common case, without pandas' slow factorize
        return
    dup = keys.duplicated(keep=False) & keys.notna()
    chk.check(f"unique:{chk.key}", dup, f"{chk.key} appears more than once")


def _arrow(values: pd.Series):
    """A string column as one contiguous Arrow array (cheap for Arrow-backed pandas strings)."""
    import pyarrow as pa

    arr = pa.array(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _empty(values: pd.Series) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.equal(pc.utf8_length(_arrow(values)), 0).fill_null(False).to_numpy(zero_copy_only=False)


def _isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Vectorised membership (pandas' isin on Arrow strings loops in Python: minutes at 10M rows)."""
    import pyarrow.compute as pc

    found = pc.is_in(_arrow(values), value_set=_arrow(keys))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _reference(chk: _Checker, col: str, parent: str, clean: dict[str, pd.DataFrame]) -> None:
    key = CONTRACT[parent].key
    values = chk.frame[col]
    known = _isin(values, clean[parent][key])
    chk.check(
        f"reference:{col}",
        values.notna() & ~known,
        f"{col} not found in {parent} (or rejected there)",
    )


def _not_future(chk: _Checker, cols: list[str], now: pd.Timestamp) -> None:
    for col in cols:
        chk.check(f"future:{col}", chk.frame[col] > now, f"{col} is after {now.isoformat()}")


def _rules(name: str, chk: _Checker, clean: dict[str, pd.DataFrame], now: pd.Timestamp) -> None:
    f = chk.frame
    _not_null(chk)
    _unique(chk)
    if name == C.CREATORS:
        _not_future(chk, [C.JOINED_AT], now)
    elif name == C.CAMPAIGNS:
        chk.check("order:created_at<=starts_at", f[C.CREATED_AT] > f[C.STARTS_AT], "starts_at is before created_at")
        chk.check("order:starts_at<=ends_at", f[C.STARTS_AT] > f[C.ENDS_AT], "ends_at is before starts_at")
        _not_future(chk, [C.CREATED_AT], now)
    elif name == C.POSTS:
        _reference(chk, C.CREATOR_ID, C.CREATORS, clean)
        _not_future(chk, [C.POSTED_AT], now)
    elif name == C.INVITATIONS:
        _reference(chk, C.CREATOR_ID, C.CREATORS, clean)
        _reference(chk, C.CAMPAIGN_ID, C.CAMPAIGNS, clean)
        created = f[C.CAMPAIGN_ID].map(clean[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)[C.CREATED_AT])
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
        _reference(chk, C.CREATOR_ID, C.CREATORS, clean)
        _reference(chk, C.CAMPAIGN_ID, C.CAMPAIGNS, clean)
        _reference(chk, C.POST_ID, C.POSTS, clean)
        chk.check("order:refunded_at>=ordered_at", f[C.REFUNDED_AT] < f[C.ORDERED_AT], "refunded_at is before ordered_at")
        _not_future(chk, [C.ORDERED_AT, C.REFUNDED_AT], now)


def validate_tables(
    tables: dict[str, pd.DataFrame], now: pd.Timestamp | str | None = None
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Apply every contract rule; return the clean tables and the report.

    Parameters
    ----------
    tables : dict of DataFrame
        The five coerced tables (see :func:`creatorrank.data.load.read_tables`).
    now : timestamp, optional
        Facts dated after ``now`` are rejected as future. Defaults to the current time.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else to_utc(now)
    clean: dict[str, pd.DataFrame] = {}
    parts: list[pd.DataFrame] = []
    rows_in: dict[str, int] = {}
    for name in CHECK_ORDER:
        frame = tables[name]
        chk = _Checker(name, frame)
        _rules(name, chk, clean, now)
        parts.extend(chk.parts)
        rows_in[name] = len(frame)
        kept = frame[~chk.bad].reset_index(drop=True) if chk.bad.any() else frame
        kept.attrs = {k: v for k, v in frame.attrs.items() if k != "unparsed"}
        clean[name] = kept
    rejects = (
        pd.concat(parts, ignore_index=True).sort_values(["table", "row", "rule"], kind="stable").reset_index(drop=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    )
    report = ValidationReport(rejects, rows_in, {n: len(clean[n]) for n in CHECK_ORDER})
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
