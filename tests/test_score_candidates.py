"""Candidate search details: post categories compared case-insensitively, missing ones apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.arrow import string_column
from creatorrank.serving.candidates import CandidateFinder, EligibilityRules

pytestmark = pytest.mark.unit


def _tables(categories: list) -> dict[str, pd.DataFrame]:
    n = len(categories)
    creators = pd.DataFrame({C.CREATOR_ID: string_column(np.array(["a", "b"], dtype=object)),
                             C.JOINED_AT: pd.to_datetime(["2024-01-01", "2024-01-01"], utc=True),
                             C.COUNTRY: string_column(np.array(["VN", "vn"], dtype=object)),
                             C.PRIMARY_CATEGORY: string_column(np.array(["Beauty", None], dtype=object))})
    posts = pd.DataFrame({C.POST_ID: string_column(np.array([f"p{i}" for i in range(n)], dtype=object)),
                          C.CREATOR_ID: string_column(np.array(["a", "b"] * (n // 2) + ["a"] * (n % 2), dtype=object)),
                          C.POSTED_AT: pd.date_range("2024-02-01", periods=n, freq="D", tz="UTC"),
                          C.CATEGORY: string_column(np.array(categories, dtype=object))})
    empty = pd.DataFrame({C.CAMPAIGN_ID: string_column(np.zeros(0, dtype=object)),
                          C.CREATOR_ID: string_column(np.zeros(0, dtype=object))})
    return {C.CREATORS: creators, C.POSTS: posts, C.INVITATIONS: empty, C.CAMPAIGNS: empty[[C.CAMPAIGN_ID]]}


def test_category_posts_match_case_insensitively_and_missing_apart():
    categories = ["Beauty", "beauty", "BEAUTY", None, "Gaming", None, "beauty ", "Beauty"]
    tables = _tables(categories)
    finder = CandidateFinder(tables, EligibilityRules())
    when = pd.Timestamp("2025-01-01", tz="UTC")
    ids = np.array(["a", "b"], dtype=object)
    who = np.array(["a", "b"] * 4, dtype=object)
    for asked in ("beauty", "BeAuTy", "gaming", "Travel", "beauty "):
        want = [sum(1 for c, w in zip(categories, who) if w == i and c is not None and c.upper() == asked.upper())
                for i in ids]
        np.testing.assert_array_equal(finder.category_posts(ids, asked, when), want)
    assert np.isnan(finder.category_posts(ids, None, when)).all()  # a brief without a category
    # Only posts before the as-of count.
    early = pd.Timestamp("2024-02-04", tz="UTC")  # posts 0..2
    np.testing.assert_array_equal(finder.category_posts(ids, "Beauty", early), [2, 1])
    # Both creators serve "VN" whatever the case, both posted: both eligible.
    brief = pd.Series({C.CAMPAIGN_ID: "k", C.COUNTRY: "Vn", C.CATEGORY: "beauty"})
    np.testing.assert_array_equal(CandidateFinder(tables, EligibilityRules(active_days=400)).eligible(brief, when),
                                  ["a", "b"])
