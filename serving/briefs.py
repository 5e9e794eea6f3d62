"""The campaign briefs to score: read from a briefs file or looked up in the data.

A brief is a campaign row of the data contract (campaign_id, brand_id, category, country,
created_at, starts_at, ends_at, budget_usd), optionally with ``target_roas``: the brand's
target return on creator spend, used for the fair fee (docs/VALUE.md; empty: the default).
A brief read from a file need not exist in the data: it is a campaign being planned. Every
problem with a briefs file is one :class:`~creatorrank.core.errors.InputError` naming the
file, the row and the column, raised before anything is scored, so a bad file never produces
a partial output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import InputError
from ..data.contract import CONTRACT, FLOAT, INT, STRING
from ..data.load import coerce_table, reading

_SPEC = CONTRACT[C.CAMPAIGNS]


def read_briefs(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a briefs file (CSV or Parquet) of campaign rows.

    Parameters
    ----------
    path : path-like
        ``.csv`` or ``.parquet`` file with the contract's campaign columns; extra columns are
        ignored.

    Returns
    -------
    DataFrame
        The briefs with the contract's campaign columns and types, in file order, and
        ``target_roas`` (float64, NaN where empty) when the file has that column.

    Raises
    ------
    InputError
        Missing file or column, an empty file, a value that cannot be read, a missing required
        value, a negative budget, ``created_at > starts_at``, ``starts_at > ends_at``, a
        repeated campaign_id or a ``target_roas`` that is not a number > 0. The message names
        the file, the 1-based data row and the column.
    """
    path = Path(path)
    raw = _read_raw(path)
    if raw.empty:
        raise InputError(f"{path}: briefs file has no rows")
    briefs = coerce_table(raw, _SPEC, source=str(path))
    check_briefs(briefs, source=str(path), unparsed=briefs.attrs.get("unparsed", {}), raw=raw,
                 nonfinite=briefs.attrs.get("nonfinite", {}))
    if C.TARGET_ROAS in raw.columns:
        briefs[C.TARGET_ROAS] = target_roas_column(raw[C.TARGET_ROAS], str(path))
    briefs.attrs = {"path": str(path)}
    return briefs


def target_roas_column(values: pd.Series, source: str) -> np.ndarray:
    """The optional ``target_roas`` of each brief as float64 (NaN where empty).

    Raises
    ------
    InputError
        A value that is not a finite number > 0, naming the file, the 1-based row and the column.
    """
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number) or number <= 0:
            text = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
            raise InputError(f"{source}: row {i + 1}, column {C.TARGET_ROAS}: '{text}' is not a number > 0 "
                             "(the brand's target return on creator spend, e.g. 3)")
        out[i] = number
    return out


def _read_raw(path: Path) -> pd.DataFrame:
    """Read the file as it is (CSV entirely as text, so nothing is guessed)."""
    if not path.is_file():
        raise InputError(f"{path}: briefs file not found")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"{path}: briefs file must end in .csv or .parquet")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: briefs file is empty")
    with reading(path, "briefs file"):
        if suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            # keep_default_na=False: only a truly empty field is missing ("NA" is a country code).
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in _SPEC.column_names if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: briefs file is missing required column '{missing[0]}'")
    return raw


def check_briefs(
    briefs: pd.DataFrame,
    source: str = "briefs",
    unparsed: dict | None = None,
    raw: pd.DataFrame | None = None,
    nonfinite: dict | None = None,
) -> None:
    """Raise :class:`InputError` on the first broken rule of coerced briefs.

    Parameters
    ----------
    briefs : DataFrame
        Briefs coerced to the contract's campaign types.
    source : str
        What to name in the message (the file path).
    unparsed : dict, optional
        ``{column: mask}`` of values that could not be read (``coerce_table``'s attrs).
    raw : DataFrame, optional
        The uncoerced values, quoted in the message for an unreadable value.
    nonfinite : dict, optional
        ``{column: mask}`` of numbers that are not finite (``inf``, ``nan``, ``1e400``): refused,
        never read as a missing budget.
    """
    unparsed = unparsed or {}
    nonfinite = nonfinite or {}
    problems: list[tuple[int, int, str]] = []  # first (row, column order, message) of each broken rule
    order = {name: i for i, name in enumerate(_SPEC.column_names)}

    def add(mask, column: str, message) -> None:
        mask = pd.Series(mask).fillna(False).to_numpy(bool)
        for i in mask.nonzero()[0][:1]:  # the first row is enough for a one-line error
            problems.append((int(i), order[column], message(int(i)) if callable(message) else message))

    for col in _SPEC.columns:
        values = briefs[col.name]
        bad = unparsed.get(col.name)
        if bad is not None:
            add(bad, col.name, lambda i, c=col: f"'{_quote(raw, c.name, i)}' is not a valid {c.dtype}")
        inf = nonfinite.get(col.name)
        if inf is not None:
            add(inf, col.name, lambda i, c=col: f"'{_quote(raw, c.name, i)}' is not a finite number")
            bad = inf if bad is None else (bad | inf)
        missing = np.array(values.isna(), dtype=bool)  # a writable copy
        if bad is not None:
            missing &= ~bad
        if not col.nullable:
            add(missing, col.name, "value is required")
        if col.dtype == STRING:
            add(values.str.strip().str.len() == 0, col.name, "value is empty")
        if col.dtype in (FLOAT, INT):
            add(values < 0, col.name, "value is negative")
    def before(later: str, earlier: str):
        def message(i: int) -> str:
            return (f"{later} ({briefs[later].iloc[i].isoformat()}) is before "
                    f"{earlier} ({briefs[earlier].iloc[i].isoformat()})")
        return message

    add(briefs[C.CREATED_AT] > briefs[C.STARTS_AT], C.STARTS_AT, before(C.STARTS_AT, C.CREATED_AT))
    add(briefs[C.STARTS_AT] > briefs[C.ENDS_AT], C.ENDS_AT, before(C.ENDS_AT, C.STARTS_AT))
    add(briefs[C.CAMPAIGN_ID].duplicated() & briefs[C.CAMPAIGN_ID].notna(), C.CAMPAIGN_ID,
        lambda i: f"campaign_id '{briefs[C.CAMPAIGN_ID].iloc[i]}' appears more than once")
    if problems:
        row, col_i, message = min(problems)
        more = len(problems) - 1
        extra = f" (and {more} more broken rule{'s' if more > 1 else ''} in the file)" if more else ""
        raise InputError(f"{source}: row {row + 1}, column {_SPEC.column_names[col_i]}: {message}{extra}")


def _quote(raw: pd.DataFrame | None, column: str, i: int) -> str:
    if raw is None:
        return "?"
    text = str(raw[column].iloc[i])
    return text if len(text) <= 40 else text[:37] + "..."


def lookup_briefs(campaigns: pd.DataFrame, campaign_ids: Iterable[str]) -> pd.DataFrame:
    """The data's campaign rows of ``campaign_ids``, in the order given.

    Parameters
    ----------
    campaigns : DataFrame
        The validated campaigns table.
    campaign_ids : iterable of str
        Ids to score; repeats are scored once.

    Raises
    ------
    InputError
        No id given, or an id not in the data (or rejected by validation).
    """
    ids = list(dict.fromkeys(str(c) for c in campaign_ids))
    if not ids:
        raise InputError("no campaign to score: give campaign ids or a briefs file")
    known = campaigns.set_index(C.CAMPAIGN_ID, drop=False)
    unknown = [c for c in ids if c not in known.index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise InputError(
            f"unknown campaign id{'s' if len(unknown) > 1 else ''}: {shown} "
            "(not in the data's campaigns, or rejected by validation)"
        )
    out = known.loc[ids, _SPEC.column_names].reset_index(drop=True)
    out.attrs = {}
    return out


def known_codes(tables: dict[str, pd.DataFrame], column: str) -> list[str]:
    """The distinct values of ``country`` or ``category`` in the data, sorted.

    Countries come from the creators; categories from the creators' primary categories and
    the posts' categories.
    """
    sources = [(C.CREATORS, C.COUNTRY)] if column == C.COUNTRY else [(C.CREATORS, C.PRIMARY_CATEGORY), (C.POSTS, C.CATEGORY)]
    values: set[str] = set()
    for table, col in sources:
        frame = tables.get(table)
        if frame is not None and col in frame.columns:
            values.update(str(v) for v in frame[col].dropna().unique())
    return sorted(values)


def canonical_code(value, known: Iterable[str]):
    """``value`` spelt as the data spells it, matched case-insensitively ("vn" -> "VN").

    A value the data does not know (in any case) is returned unchanged; a missing one too.
    """
    if value is None or pd.isna(value):
        return value
    by_key = {}
    for k in known:
        by_key.setdefault(str(k).strip().upper(), k)
    return by_key.get(str(value).strip().upper(), value)


def canonical_codes(briefs: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Briefs with country and category spelt as in the data (ISO codes match case-insensitively)."""
    out = briefs.copy()
    for column in (C.COUNTRY, C.CATEGORY):
        known = known_codes(tables, column)
        out[column] = out[column].astype(object).map(lambda v, k=known: canonical_code(v, k)).astype(briefs[column].dtype)
    out.attrs = dict(briefs.attrs)
    return out
