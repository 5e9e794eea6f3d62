"""Category influence: the creator's audience and sales in the campaign's category.

Every feature here needs the decision's category (missing without one); for a category
the market never saw, the counts are 0.
"""

from __future__ import annotations

from ..window import share
from .base import CAT_PEERS, Family, FeatureText

FAMILY = Family("category", "Category influence",
                "how much of the creator's audience and sales are in the campaign's category")
F = FAMILY.feature

FEATURES = (
    F("cat_post_share_365d",
      "share of the creator's posts of the last 365 days in the campaign's category (0 without posts)",
      "share 0-1", 365, 1,
      FeatureText("Posts in the campaign's category (last year)", "Post more in your main category",
                  "make {v} of their posts in the category"),
      compute=lambda w: w.in_category(share(w.cat_posts, w.posts_365d))),
    F("cat_views_share_365d",
      "share of the creator's 7-day views from posts in the campaign's category, posts whose 7-day "
      "counts came in during the last 365 days (0 without views)", "share 0-1", 365, 1,
      FeatureText("Views from posts in the campaign's category (last year)"),
      compute=lambda w: w.in_category(share(w.cat_views, w.views365))),
    F("cat_gmv_share_365d",
      "share of the creator's sales (GMV, last 365 days) from products of the campaign's category: an "
      "order's category is its post's category, else its campaign's (0 without sales)", "share 0-1", 365, 1,
      FeatureText("Sales in the campaign's category (share, last year)"),
      compute=lambda w: w.in_category(share(w.cat_gmv, w.gmv365))),
    F("cat_views_365d",
      "7-day views of the creator's posts in the campaign's category, counts that came in during the "
      "last 365 days", "views", 365, 1,
      FeatureText("Views in the campaign's category (last year)", "Grow your views in your category",
                  "reach {v} in the category"),
      compute=lambda w: w.in_category(w.cat_views)),
    F("cat_gmv_365d", "sales (GMV before refunds) in the campaign's category, orders of the last 365 days",
      "USD", 365, 1,
      FeatureText("Sales in the campaign's category (last year)", "Sell more in your category",
                  "sell {v} in the category"),
      compute=lambda w: w.in_category(w.cat_gmv)),
    F("cat_views_peer_pct",
      f"percentile of the creator's views in the campaign's category among {CAT_PEERS} "
      "with posts or orders in it (their views in it as of the month start); missing without a post or "
      "order in the category", "percentile 0-100", 365, 1,
      FeatureText("Views in the category, percentile among its creators"),
      peers="percentile of cat_views_365d among the month's peers of the campaign's category"),
)
