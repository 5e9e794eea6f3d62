"""Tenure and recency: time on the marketplace and since the latest post."""

from __future__ import annotations

import numpy as np

from ..window import DAY
from .base import Family, FeatureText

FAMILY = Family("tenure", "Tenure and recency",
                "how long the creator has been on the marketplace and how recently they posted")
F = FAMILY.feature


def _days_since_joined(w):
    joined = w.attribute(w.mk.joined, 0)
    return np.where(w.known, np.maximum(w.T - joined, 0) / DAY, np.nan)


def _days_since_last_post(w):
    last_t = np.full(w.n, np.nan)
    has = w.pT > w.s0
    last_t[has] = w.posts.t[w.pT[has] - 1]
    return (w.T - last_t) / DAY


FEATURES = (
    F("days_since_joined", "days on the marketplace (0 if joining at or after the decision)", "days", None, 0,
      FeatureText("Days on the marketplace"),
      compute=_days_since_joined),
    F("days_since_last_post", "days since the latest post", "days", None, -1,
      FeatureText("Days since the latest post", "Keep posting", "posted within {v}"),
      compute=_days_since_last_post),
)
