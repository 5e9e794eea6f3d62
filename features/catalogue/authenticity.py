"""Audience authenticity: engagement in line with the audience's size, no sudden follower jumps."""

from __future__ import annotations

import numpy as np

from ..arrays import window_max
from ..rules import JUMP_BASELINE_POSTS, JUMP_CAP
from ..window import band, ratio
from .base import Family, FeatureText

FAMILY = Family("authenticity", "Audience authenticity",
                "whether the audience looks real: engagement in line with size, no sudden follower jumps")
F = FAMILY.feature
_BAND = "creators of similar follower size (bands at 1k, 10k, 100k, 1M followers, as of the month start)"

# The peer-free values the month's peer tables rank within follower bands (indices.PeerTables).
INPUTS = {
    "_epv": lambda w: ratio(w.eng90, w.views90),  # engagement per view, posts with views
    "_epf": lambda w: ratio(w.posts.isum("ef", w.e90, w.e0), w.foll90),  # per follower, posts with followers
    "_band": lambda w: band(w.followers),
}

FEATURES = (
    F("eng_per_view_peer_pct",
      f"percentile of likes, comments and shares (at most the views of each post) per view (posts whose "
      f"counts came in during the last 90 days) among {_BAND}; very high or very low is unusual; "
      "missing without views", "percentile 0-100", 90, 0,
      FeatureText("Engagement per view, percentile among creators of similar size"),
      peers="percentile of _epv among the month's peers of the same follower band"),
    F("eng_per_follower_peer_pct",
      f"percentile of likes, comments and shares per follower (same posts, those with followers) among "
      f"{_BAND}; low suggests bought followers; missing without followers", "percentile 0-100", 90, 1,
      FeatureText("Engagement per follower, percentile among creators of similar size",
                  "Grow an audience that engages (never buy followers)", "score {v} against creators of their size"),
      peers="percentile of _epf among the month's peers of the same follower band"),
    F("max_follower_jump_365d",
      f"largest ratio of a post's followers to the median of the creator's previous "
      f"{JUMP_BASELINE_POSTS} posts with followers, posts of the last 365 days with followers, capped at "
      f"{JUMP_CAP:g} (missing when no such post has an earlier one)", "ratio", 365, -1,
      FeatureText("Largest jump in followers between two posts (last year)"),
      # each post's jump is computed once, when the market is prepared (engine._follower_jumps)
      compute=lambda w: window_max(w.posts.vals["jump"], w.p365, w.pT, np.nan)),
)
