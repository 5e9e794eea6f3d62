"""Diligence: how regularly the creator posts, and how often with shop links."""

from __future__ import annotations

from ..rules import ACTIVE_WEEKS
from .base import Family, FeatureText, Rate, shrunk

FAMILY = Family("diligence", "Diligence", "how regularly the creator posts, and how often with shop links")
F = FAMILY.feature

FEATURES = (
    F("shoppable_share_90d",
      f"share of posts of the last 90 days carrying shop links ({shrunk('posts')})", "share 0-1", 90, 1,
      FeatureText("Posts with shop links (last 90 days)", "Add shop links to more of your posts",
                  "put shop links on {v} of their posts"),
      rate=Rate(lambda w: w.shop90, lambda w: w.posts_90d, (1.0, 1.0))),
    F("shoppable_posts_per_week_90d", "posts with shop links per week over the last 90 days", "posts per week", 90, 1,
      FeatureText("Posts with shop links per week (last 90 days)", "Publish more posts with shop links",
                  "publish {v} with shop links"),
      compute=lambda w: w.shop90 / (90.0 / 7.0)),
    F("active_weeks_share_13w",
      f"share of the last {ACTIVE_WEEKS} full calendar weeks (Monday to Sunday, UTC) with at least one post",
      "share 0-1", 7 * ACTIVE_WEEKS, 1,
      FeatureText("Weeks with at least one post (last 13 weeks)", "Post every week", "post in {v} of weeks"),
      # "week1" marks a creator's first post of each calendar week
      compute=lambda w: w.posts.isum("week1", w.pW13, w.pW) / ACTIVE_WEEKS),
)
