"""Track record (family ``confidence``): how much history there is to judge by.

The evidence count behind each index (``idx_<name>_evidence``) is of this family too; it is
declared beside its index, in :mod:`.index`.
"""

from __future__ import annotations

import numpy as np

from .base import Family, FeatureText

FAMILY = Family("confidence", "Track record",
                "how much history there is to judge by: posts, invitations and orders seen")
F = FAMILY.feature

FEATURES = (
    F("invitations_seen", "brand invitations received so far", "invitations", None, 0,
      FeatureText("Brand invitations received so far"),
      compute=lambda w: w.invitations["received"]),
    F("posts_seen", "posts published so far", "posts", None, 0,
      FeatureText("Posts published so far"),
      compute=lambda w: (w.pT - w.s0).astype(np.float64)),
    F("orders_seen", "orders attributed so far", "orders", None, 0,
      FeatureText("Orders attributed so far"),
      compute=lambda w: w.orders_seen),
)
