"""Audience size and growth: followers at the latest post, and how fast that changes."""

from __future__ import annotations

import numpy as np

from ..window import latest
from .base import Family, FeatureText

FAMILY = Family("growth", "Audience size and growth", "how many followers the creator has and how fast that changes")
F = FAMILY.feature


def _growth(edge: str):
    """Relative change from the latest post before a window edge to the latest post (NaN when unknown then)."""
    return lambda w: w.followers / np.maximum(latest(w.posts, "f", w.s0, getattr(w, edge)), 1.0) - 1.0


FEATURES = (
    F("followers", "followers at the latest post", "followers", None, 0,
      FeatureText("Followers"),
      compute=lambda w: w.followers),
    F("follower_growth_30d",
      "relative change in followers over 30 days (latest post against the latest post 30 days ago)", "ratio", 30, 1,
      FeatureText("Follower change over 30 days", fmt="signed_pct"),
      compute=_growth("p30")),
    F("follower_growth_90d",
      "relative change in followers over 90 days (latest post against the latest post 90 days ago)", "ratio", 90, 1,
      FeatureText("Follower change over 90 days", "Grow your audience", "grow {v} in 90 days", fmt="signed_pct"),
      compute=_growth("p90")),
)
