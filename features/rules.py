"""The rule constants of the feature definitions and the recipes of the seven indices.

They are part of the feature definitions, so :data:`.specs.FEATURE_SET_VERSION` hashes them
together with the specs (see :mod:`.specs`, which re-exports every name here: read them as
``specs.PEER_CAP``...). They live in this leaf module so that the family modules of
:mod:`.catalogue` and the engine can use them without importing :mod:`.specs`, which
assembles the catalogue from those modules.
"""

from __future__ import annotations

PRIOR_STRENGTH = (2.0, 1000.0)  # a + b of a fitted prior: at least Beta(1, 1)'s weight, at most 1,000 trials
MIN_PRIOR_PEERS = 10  # peers with evidence needed to fit a rate's prior
JUMP_BASELINE_POSTS = 3  # a follower jump compares with the median of this many previous posts
JUMP_CAP = 100.0  # largest follower jump reported
FOLLOWER_BANDS = (1_000, 10_000, 100_000, 1_000_000)  # band edges for "peers of similar size"
PEER_CAP = 20_000  # peers per reference month; a deterministic hash sample above it
ACTIVE_WEEKS = 13  # full calendar weeks (Monday 00:00 UTC) of the active-weeks share
CENTS_PER_USD = 100  # money sums add amounts rounded to the cent, as exact integers

# Index recipes: index -> ((feature, transform), ...). A component's transform is "+" (more
# is better), "-" (less is better) or "centre" (a peer percentile; closer to 50 is better).
# See :mod:`creatorrank.features.indices` for how components become a 0-100 index.
INDEX_RECIPES: dict[str, tuple[tuple[str, str], ...]] = {
    "idx_cooperation": (("response_rate", "+"), ("acceptance_rate", "+"), ("ignored_share", "-")),
    "idx_diligence": (
        ("shoppable_share_90d", "+"),
        ("shoppable_posts_per_week_90d", "+"),
        ("active_weeks_share_13w", "+"),
    ),
    "idx_category_influence": (("cat_views_365d", "+"), ("cat_post_share_365d", "+"), ("cat_gmv_365d", "+")),
    "idx_content": (
        ("posts_90d", "+"),
        ("views_90d", "+"),
        ("engagement_rate_90d", "+"),
        ("views_per_follower_90d", "+"),
    ),
    "idx_sales": (
        ("gmv_365d", "+"),
        ("gmv_per_shoppable_post_365d", "+"),
        ("gmv_per_1k_views_365d", "+"),
        ("refund_rate", "-"),
    ),
    "idx_reliability": (("delivery_rate", "+"), ("on_time_rate", "+"), ("first_pass_rate", "+")),
    "idx_authenticity": (
        ("eng_per_view_peer_pct", "centre"),
        ("eng_per_follower_peer_pct", "+"),
        ("max_follower_jump_365d", "-"),
    ),
}
# The category-influence index compares against creators whose primary category is the
# decision's category (its components are measured in that category).
CATEGORY_INDEX = "idx_category_influence"

# What each index's evidence count ``idx_<name>_evidence`` counts: (description, window days).
# Each counts what the index's components are measured on, in their window: a creator who
# stopped posting 90+ days ago has no diligence or content index (missing); the counts
# (posts_90d = 0, days_since_last_post) still tell the model so. The counts themselves are
# computed in :mod:`.catalogue.index`.
INDEX_EVIDENCE: dict[str, tuple[str, int | None]] = {
    "idx_cooperation": ("brand invitations resolved so far (answered, or 7 days old)", None),
    "idx_diligence": ("posts published in the last 90 days", 90),
    "idx_category_influence": ("posts and orders in the campaign's category in the last 365 days", 365),
    "idx_content": ("posts whose 7-day counts came in during the last 90 days", 90),
    "idx_sales": ("posts published and orders placed in the last 365 days", 365),
    "idx_reliability": ("accepted campaigns resolved so far (delivered, or past their due date)", None),
    "idx_authenticity": ("posts with views among those whose 7-day counts came in during the last 90 days", 90),
}
# Shrinkage weight k of each index (in its evidence unit): the index's component average
# is pulled toward the peers' median by k / (n + k).
INDEX_SHRINK: dict[str, float] = {
    "idx_cooperation": 5.0,
    "idx_diligence": 5.0,
    "idx_category_influence": 5.0,
    "idx_content": 5.0,
    "idx_sales": 10.0,
    "idx_reliability": 3.0,
    "idx_authenticity": 5.0,
}
# Evidence below this is thin (the peer median weighs more than the creator's own data).
THIN_EVIDENCE: dict[str, float] = dict(INDEX_SHRINK)


def evidence_column(index: str) -> str:
    """The evidence-count column of an index (``idx_sales`` -> ``idx_sales_evidence``)."""
    return f"{index}_evidence"
