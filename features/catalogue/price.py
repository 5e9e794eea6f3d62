"""Price: the creator's declared price and agreed fees, against the sales they bring."""

from __future__ import annotations

import numpy as np

from .base import Family, FeatureText

FAMILY = Family("price", "Price", "the creator's declared price and fees against the sales they bring")
F = FAMILY.feature


def _price_to_sales(w):
    gpp = w.gmv_per_shoppable_post
    return np.where(gpp > 0, w.rate_card / np.where(gpp > 0, gpp, 1.0), np.nan)


FEATURES = (
    F("rate_card_usd", "declared price of one sponsored post (current)", "USD", None, 0,
      FeatureText("Declared price per sponsored post", missing="not declared"),
      compute=lambda w: w.rate_card),
    F("rate_card_to_gmv_per_post",
      "declared price against the sales one post with shop links brought in the last 365 days "
      "(missing without sales)", "ratio", 365, -1,
      FeatureText("Price against sales per shoppable post", "Keep your price in line with the sales you bring",
                  "ask no more than {v} what a post sells"),
      compute=_price_to_sales),
    F("median_fee_365d", "median agreed campaign fee, acceptances of the last 365 days", "USD", 365, 0,
      FeatureText("Typical agreed campaign fee (last year)"),
      compute=lambda w: w.median_365d(w.mk.fees, "fee")),
)
