"""Content success: views and engagement (7-day counts are known 7 days after posting)."""

from __future__ import annotations

from ..arrays import ragged_median
from ..window import ratio
from .base import Family, FeatureText, Rate, shrunk

FAMILY = Family("content", "Content success", "how many views and how much engagement the posts get")
F = FAMILY.feature

FEATURES = (
    F("median_views_90d", "median 7-day views per post, posts whose 7-day counts came in during the last 90 days",
      "views", 90, 1,
      FeatureText("Typical views per post (last 90 days)", "Make posts that get more views",
                  "get {v} on a typical post"),
      compute=lambda w: ragged_median(lambda i: w.posts.value("v", i), w.e90, w.e0)),
    F("views_90d", "total 7-day views of posts whose counts came in during the last 90 days", "views", 90, 1,
      FeatureText("Views in the last 90 days"),
      compute=lambda w: w.views90),
    F("engagement_rate_90d",
      "likes, comments and shares (at most the views of each post) per view over those posts "
      f"({shrunk('views')})", "share 0-1", 90, 1,
      FeatureText("Likes, comments and shares per view (last 90 days)",
                  "Make posts people like, comment on and share", "get {v} engagement per view"),
      rate=Rate(lambda w: w.eng90, lambda w: w.views90, (50.0, 950.0))),  # 5% with the weight of 1,000 views
    F("views_per_follower_90d",
      "7-day views per follower over those posts with followers (their views / their followers at posting)",
      "views per follower", 90, 1,
      FeatureText("Views per follower (last 90 days)", "Reach more of your own followers",
                  "get {v} views per follower"),
      # ratios over the posts with a non-zero denominator only ("vf": views of posts with followers)
      compute=lambda w: ratio(w.posts.isum("vf", w.e90, w.e0), w.foll90)),
)
