"""Fit with the campaign: the decision's category, country and budget against the creator's.

Missing without the campaign's attribute (a snapshot without a category or country).
"""

from __future__ import annotations

import numpy as np

from ..window import match
from .base import Family, FeatureText

FAMILY = Family("match", "Fit with the campaign", "whether the creator's category, country and price fit the brief")
F = FAMILY.feature


def _budget_to_rate_card(w):
    ok = w.rate_card > 0
    return np.where(ok, w.budget / np.where(ok, w.rate_card, 1.0), np.nan)


FEATURES = (
    F("category_match", "1 when the creator's primary category is the campaign's category", "0/1", None, 1,
      FeatureText("Main category is the campaign's category"),
      compute=lambda w: match(w.cat_name, w.primary)),
    F("country_match", "1 when the creator's audience country is the campaign's country", "0/1", None, 1,
      FeatureText("Audience is in the campaign's country"),
      compute=lambda w: match(w.country, w.attribute(w.mk.country, None))),
    F("budget_to_rate_card", "campaign budget divided by the creator's declared price", "ratio", None, 1,
      FeatureText("Campaign budget against the declared price", missing="unknown: no declared price or no budget"),
      compute=_budget_to_rate_card),
)
