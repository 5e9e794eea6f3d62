"""Where the data ends in time: the latest fact any table records."""

from __future__ import annotations

import pandas as pd

from ..core import constants as C

FACT_TIMES = {
    C.CREATORS: [C.JOINED_AT],
    C.CAMPAIGNS: [C.CREATED_AT],
    C.POSTS: [C.POSTED_AT],
    C.INVITATIONS: [C.INVITED_AT, C.RESPONDED_AT, C.DELIVERED_AT],
    C.ORDERS: [C.ORDERED_AT, C.REFUNDED_AT],
}


def data_end(tables: dict[str, pd.DataFrame]) -> pd.Timestamp | None:
    """Time of the latest fact in the tables (an order, refund, post, answer, delivery...).

    Returns
    -------
    Timestamp or None
        None when no table holds a time (empty data).
    """
    latest = [tables[t][c].max() for t, names in FACT_TIMES.items() if t in tables for c in names if c in tables[t]]
    latest = [t for t in latest if pd.notna(t)]
    return max(latest) if latest else None
