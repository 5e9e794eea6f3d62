"""Content volume: how many posts the creator publishes."""

from __future__ import annotations

import numpy as np

from .base import Family, FeatureText

FAMILY = Family("volume", "Content volume", "how many posts the creator publishes")
F = FAMILY.feature

FEATURES = (
    F("posts_30d", "posts published in the last 30 days", "posts", 30, 1,
      FeatureText("Posts in the last 30 days", "Post more often", "publish {v} a month"),
      compute=lambda w: (w.pT - w.p30).astype(np.float64)),
    F("posts_90d", "posts published in the last 90 days", "posts", 90, 1,
      FeatureText("Posts in the last 90 days", "Post more often", "publish {v} in 90 days"),
      compute=lambda w: w.posts_90d),
    F("posts_365d", "posts published in the last 365 days", "posts", 365, 1,
      FeatureText("Posts in the last year"),
      compute=lambda w: w.posts_365d),
)
