"""The seven 0-100 indices, and the evidence count behind each.

An index is computed from the month's peers (:class:`creatorrank.features.indices.PeerTables`)
by its recipe, evidence rule and shrinkage weight (:mod:`creatorrank.features.rules`:
``INDEX_RECIPES``, ``INDEX_EVIDENCE``, ``INDEX_SHRINK``); this module declares each index's
spec and words and computes its evidence count ``idx_<name>_evidence`` (family
``confidence``: how much the index rests on).
"""

from __future__ import annotations

import numpy as np

from ..rules import CATEGORY_INDEX, INDEX_EVIDENCE, INDEX_RECIPES, INDEX_SHRINK, THIN_EVIDENCE, evidence_column
from .base import ALL_CREATORS, CAT_PEERS, Family, FeatureText, IndexText

FAMILY = Family("index", "0-100 indices", "the seven 0-100 peer percentiles (cooperation, diligence, ...)")
F = FAMILY.feature
_NO_CATEGORY = " (missing without a campaign category)"

# Each index: its words (reports and cards), window of its spec, and its evidence count.
INDEX_TEXT: dict[str, IndexText] = {
    "idx_cooperation": IndexText("Cooperation", "Cooperation", "cooperation",
                                 "how readily you answer and accept brand invitations"),
    "idx_diligence": IndexText("Diligence", "Diligence", "diligence",
                               "how regularly you post, and how often with shop links"),
    "idx_category_influence": IndexText("Category influence", "Category", "category",
                                        "how strong your views and sales are in the category, against its other creators"),
    "idx_content": IndexText("Content", "Content", "content",
                             "how much you post and how many views and how much engagement you get"),
    "idx_sales": IndexText("Sales", "Sales", "sales", "how much your posts sell, and how few orders are refunded"),
    "idx_reliability": IndexText("Reliability", "Reliability", "execution",
                                 "whether you deliver accepted campaigns, on time, approved first time"),
    "idx_authenticity": IndexText("Audience authenticity", "Authenticity", "authenticity",
                                  "whether your audience engages like a real one of your size"),
}
_WINDOW_DAYS = {"idx_cooperation": None, "idx_diligence": 91, "idx_category_influence": 365, "idx_content": 90,
                "idx_sales": 365, "idx_reliability": None, "idx_authenticity": 365}
EVIDENCE = {  # what INDEX_EVIDENCE describes, counted before T
    "idx_cooperation": lambda w: w.invitations["resolved"],
    "idx_diligence": lambda w: w.posts_90d,
    "idx_category_influence": lambda w: w.in_category(w.cat_posts + w.cat_orders),
    "idx_content": lambda w: (w.e0 - w.e90).astype(np.float64),
    "idx_sales": lambda w: w.posts_365d + (w.oT - w.o365),
    "idx_reliability": lambda w: w.invitations["c_resolved"],
    "idx_authenticity": lambda w: w.posts.isum("hasv", w.e90, w.e0),  # posts with views
}


def _description(name: str) -> str:
    title, peers = INDEX_TEXT[name].name, CAT_PEERS if name == CATEGORY_INDEX else ALL_CREATORS
    parts = []
    for feature, transform in INDEX_RECIPES[name]:
        word = {"+": "higher is better", "-": "lower is better", "centre": "closer to 50 is better"}[transform]
        parts.append(f"{feature} ({word})")
    evidence, _ = INDEX_EVIDENCE[name]
    return (
        f"{title} index 0-100: the creator's percentile among {peers} with evidence for it at the start of the month, "
        f"of the average of its peer percentiles on {', '.join(parts)} (components without a value "
        f"left out), shrunk toward the peers' median by n / (n + {INDEX_SHRINK[name]:g}) where n is its "
        f"evidence, {evidence}; missing without evidence"
    ) + (_NO_CATEGORY if name == CATEGORY_INDEX else "")


FEATURES = (
    *(F(name, _description(name), "percentile 0-100", _WINDOW_DAYS[name], 1, FeatureText(f"{text.name} index"),
        peers="the index recipe over the month's peers (indices.PeerTables)")
      for name, text in INDEX_TEXT.items()),
    # ---- the evidence behind each index (what thin evidence and missing indices are judged on)
    *(F(evidence_column(name),
        f"evidence of {name}: {what}; thin below {THIN_EVIDENCE[name]:g}" + (_NO_CATEGORY if name == CATEGORY_INDEX else ""),
        "count", days, 0, FeatureText(f"Evidence behind the {INDEX_TEXT[name].name} index", missing="none yet"),
        compute=EVIDENCE[name], family="confidence")
      for name, (what, days) in INDEX_EVIDENCE.items()),
)
