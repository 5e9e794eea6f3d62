"""Sales: what the creator's posts sell (GMV before refunds), and how little is refunded."""

from __future__ import annotations

from ..window import ratio, usd
from .base import Family, FeatureText, Rate, shrunk

FAMILY = Family("sales", "Sales", "how much the creator's posts sell, and how little is refunded")
F = FAMILY.feature

FEATURES = (
    F("gmv_365d", "sales (GMV before refunds) of orders of the last 365 days", "USD", 365, 1,
      FeatureText("Sales driven (last year)", "Sell more through shoppable posts", "sell {v} a year"),
      compute=lambda w: w.gmv365),
    F("gmv_per_shoppable_post_365d",
      "sales of the last 365 days per post with shop links of the last 365 days", "USD per post", 365, 1,
      FeatureText("Sales per post with shop links (last year)", "Feature products that sell in your shoppable posts",
                  "sell {v} per shoppable post"),
      compute=lambda w: w.gmv_per_shoppable_post),
    F("gmv_per_1k_views_365d",
      "sales of the last 365 days per 1,000 7-day views of the last 365 days", "USD per 1k views", 365, 1,
      FeatureText("Sales per 1,000 views (last year)", "Turn more views into sales", "sell {v} per 1,000 views"),
      compute=lambda w: ratio(1000.0 * w.gmv365, w.views365)),
    F("campaign_gmv_365d", "sales from brand campaigns, orders of the last 365 days", "USD", 365, 1,
      FeatureText("Sales from brand campaigns (last year)"),
      compute=lambda w: usd(w.orders.isum("gc", w.o365, w.oT))),
    F("organic_gmv_365d", "sales outside campaigns, orders of the last 365 days", "USD", 365, 1,
      FeatureText("Sales outside campaigns (last year)"),
      compute=lambda w: usd(w.orders.isum("go", w.o365, w.oT))),
    F("refund_rate", f"share of orders refunded so far ({shrunk('orders')})", "share 0-1", None, -1,
      FeatureText("Orders refunded", "Recommend products buyers keep (fewer refunds)", "keep refunds at {v}"),
      rate=Rate(lambda w: w.refunds_seen, lambda w: w.orders_seen, (1.0, 19.0))),  # 5%
)
