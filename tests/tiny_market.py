"""Tiny hand-made market whose every value is known, and a writer for table folders."""

from __future__ import annotations

import pandas as pd

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import coerce_table


def _ts(text):
    return pd.Timestamp(text, tz="UTC")


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Three creators, two campaigns: small enough to reason about by hand, valid by contract."""
    raw = {
        C.CREATORS: pd.DataFrame(
            {
                C.CREATOR_ID: ["c1", "c2", "c3"],
                C.COUNTRY: ["US", "US", "GB"],
                C.PRIMARY_CATEGORY: ["beauty", None, "food"],
                C.JOINED_AT: [_ts("2024-01-01"), _ts("2024-02-01"), _ts("2024-03-01")],
                C.RATE_CARD_USD: [500.0, None, 120.0],
            }
        ),
        C.CAMPAIGNS: pd.DataFrame(
            {
                C.CAMPAIGN_ID: ["k1", "k2"],
                C.BRAND_ID: ["b1", "b2"],
                C.CATEGORY: ["beauty", "food"],
                C.COUNTRY: ["US", "GB"],
                C.CREATED_AT: [_ts("2024-04-01"), _ts("2024-05-01")],
                C.STARTS_AT: [_ts("2024-04-10"), _ts("2024-05-05")],
                C.ENDS_AT: [_ts("2024-05-10"), _ts("2024-06-05")],
                C.BUDGET_USD: [5000.0, None],
            }
        ),
        C.POSTS: pd.DataFrame(
            {
                C.POST_ID: ["p1", "p2", "p3", "p4"],
                C.CREATOR_ID: ["c1", "c1", "c2", "c1"],
                C.POSTED_AT: [_ts("2024-03-01"), _ts("2024-03-20"), _ts("2024-03-25"), _ts("2024-04-20")],
                C.CATEGORY: ["beauty", "beauty", None, "beauty"],
                C.IS_SHOPPABLE: [True, False, True, True],
                C.CAMPAIGN_ID: [None, None, None, "k1"],
                C.FOLLOWERS_AT_POST: [1000, 1100, 50, 1200],
                C.VIEWS_7D: [5000, 3000, 10, 8000],
                C.LIKES_7D: [300, 100, 1, 500],
                C.COMMENTS_7D: [20, 5, 0, 30],
                C.SHARES_7D: [5, 1, 0, 9],
            }
        ),
        C.INVITATIONS: pd.DataFrame(
            {
                C.INVITATION_ID: ["i1", "i2", "i3"],
                C.CAMPAIGN_ID: ["k1", "k1", "k2"],
                C.CREATOR_ID: ["c1", "c2", "c3"],
                C.INVITED_AT: [_ts("2024-04-02"), _ts("2024-04-02"), _ts("2024-05-02")],
                C.RESPONDED_AT: [_ts("2024-04-03"), _ts("2024-04-04"), None],
                C.ACCEPTED: pd.array([True, False, None], dtype="boolean"),
                C.FEE_USD: [450.0, None, None],
                C.DUE_AT: [_ts("2024-04-25"), None, None],
                C.DELIVERED_AT: [_ts("2024-04-20"), None, None],
                C.APPROVED_FIRST_PASS: pd.array([True, None, None], dtype="boolean"),
            }
        ),
        C.ORDERS: pd.DataFrame(
            {
                C.ORDER_ID: ["o1", "o2", "o3"],
                C.CREATOR_ID: ["c1", "c1", "c1"],
                C.CAMPAIGN_ID: [None, "k1", "k1"],
                C.POST_ID: ["p1", "p4", "p4"],
                C.ORDERED_AT: [_ts("2024-03-02"), _ts("2024-04-21"), _ts("2024-04-22")],
                C.GMV_USD: [40.0, 60.0, 25.0],
                C.REFUNDED_AT: [None, None, _ts("2024-04-30")],
            }
        ),
    }
    return {name: coerce_table(raw[name], CONTRACT[name]) for name in C.TABLES}


def write_tables(tables: dict[str, pd.DataFrame], folder, fmt: str = "parquet"):
    """Write contract tables to ``folder`` as Parquet or CSV; return the folder."""
    from creatorrank.core.io import write_frame

    for name, frame in tables.items():
        write_frame(frame, folder / f"{name}.{fmt}")
    return folder
