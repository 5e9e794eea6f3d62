"""Profile: what the creator declares about themselves."""

from __future__ import annotations

from .base import CATEGORICAL, Family, FeatureText

FAMILY = Family("profile", "Profile", "what the creator declares about themselves (main category)")
F = FAMILY.feature

FEATURES = (
    F("primary_category", "the creator's self-declared main category", "category", None, 0,
      FeatureText("Main category", missing="not declared"),
      compute=lambda w: w.primary, kind=CATEGORICAL),
)
