"""The feature catalogue: every feature's name, family, meaning, unit, window and direction.

A feature describes one creator for one *decision*: a creator considered at time ``T``
(``as_of``), optionally for a campaign with a category, a country and a budget. Every
feature uses only facts known strictly before ``T`` under the data contract's
point-in-time rules (docs: ``DATA_CONTRACT.md``, "When a fact becomes known").

The rule constants below (prior limits, shrinkage weights, follower bands, jump rules, peer
sampling) are part of the feature definitions, so they enter :data:`FEATURE_SET_VERSION`
together with the specs: changing any of them changes the version, and a model trained on
the old set is refused.

Conventions shared by all features
----------------------------------
- Windows are half-open, ``[T - w days, T)``, on the time a fact becomes known.
- Counts are 0, never missing, for creators without history.
- No evidence is missing, never a default. A rate (:data:`RATES`) whose denominator holds
  nothing (no invitation resolved, no order, no post in the window, no view...) is NaN;
  a median or ratio whose denominator is empty is NaN.
- Rates are shrunk toward the *peers' prior* by their evidence count (empirical Bayes):
  ``(successes + a) / (trials + a + b)``, where Beta(a, b) is fitted to the peers' raw rates
  ``successes / trials`` (peers with trials only) at the reference month start ``M`` by the
  method of moments: mean ``m``, variance ``v``, strength ``a + b = m (1 - m) / v - 1``
  clipped to :data:`PRIOR_STRENGTH`, ``a = m (a + b)``. Mean and variance are exact
  (``math.fsum``). With fewer than :data:`MIN_PRIOR_PEERS` such peers, the rate's fallback
  prior of :data:`RATES` is used. So one success out of one trial is not 100%, and the
  prior is point-in-time (peers' facts known before ``M <= T``).
- Engagement (likes + comments + shares) counts at most a post's views, and ratios are
  taken over the posts with a non-zero denominator only (views, followers), so a scrape
  glitch such as 458k likes on 0 views neither explodes a ratio nor lifts a share above 1.
- Follower jumps compare a post's followers with the median of the creator's previous
  :data:`JUMP_BASELINE_POSTS` posts with followers (posts with 0 followers are neither a
  baseline nor a jump), capped at :data:`JUMP_CAP`: one glitched 0-follower row does not
  make a jump.
- Money is summed exactly: each amount is rounded to the cent (:data:`CENTS_PER_USD`) and
  the cents are added as integers, so sums do not depend on the order of addition.
- Peer percentiles are mid-rank percentiles (0-100) of a value among peers' values at the
  reference month start ``M`` (the first day, 00:00 UTC, of ``T``'s month; ``M <= T``, so
  peers' values use facts known before ``M`` only). Peers are all creators who joined
  before ``M`` (a deterministic sample of :data:`PEER_CAP` when there are more), see
  :mod:`creatorrank.features.indices`. A percentile among no peers, or of a value tied with every peer, is missing, not 50.

Indices and their evidence
--------------------------
Every index ``idx_<name>`` has an evidence count ``idx_<name>_evidence``
(:data:`INDEX_EVIDENCE` says what it counts). An index with no evidence is NaN. Its
components' peer percentiles are averaged over the components that have a value (a
missing component is left out, not counted as 50; NaN when none has one). That average
is shrunk toward the peers' median average by its evidence ``n``:
``median + (average - median) * n / (n + k)`` with ``k`` from :data:`INDEX_SHRINK`, and
the index is the percentile of the shrunk average among the peers' shrunk averages (peers
without evidence are left out of every index distribution). So no evidence never ranks
(it is missing), and thin evidence stays near the middle instead of at the top or bottom.
Evidence below :data:`THIN_EVIDENCE` (equal to ``k``: the peer median weighs more than the
creator's own data) is *thin*: reports say so.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass

from ..core.errors import ConfigError

NUMERIC = "numeric"
CATEGORICAL = "categorical"

# ---- rule constants (part of the feature definitions; hashed into the version)
# Rate features: name -> fallback Beta prior (a, b), used only when fewer than
# MIN_PRIOR_PEERS peers have evidence for the rate at the month start (see the docstring).
RATES: dict[str, tuple[float, float]] = {
    "response_rate": (1.0, 1.0),
    "acceptance_rate": (1.0, 1.0),
    "ignored_share": (1.0, 1.0),
    "shoppable_share_90d": (1.0, 1.0),
    "engagement_rate_90d": (50.0, 950.0),  # 5% with the weight of 1,000 views
    "refund_rate": (1.0, 19.0),  # 5%
    "delivery_rate": (1.0, 1.0),
    "on_time_rate": (1.0, 1.0),
    "first_pass_rate": (1.0, 1.0),
}
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
# (posts_90d = 0, days_since_last_post) still tell the model so.
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


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the catalogue.

    Attributes
    ----------
    name : str
        Column name in feature frames.
    family : str
        Key of :data:`FAMILIES`.
    description : str
        Plain-language meaning, for reports to marketers and creators.
    unit : str
        Unit of the value ("share 0-1", "USD", "percentile 0-100", ...).
    window_days : int or None
        Length of the look-back window; None for the creator's whole known history.
    direction : int
        +1 when more is better, -1 when less is better, 0 when neither (used for LightGBM
        monotone constraints and for reports).
    kind : str
        "numeric" (float64) or "categorical" (string).
    """

    name: str
    family: str
    description: str
    unit: str
    window_days: int | None
    direction: int
    kind: str = NUMERIC

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"{self.name}: direction must be -1, 0 or +1")
        if self.kind not in (NUMERIC, CATEGORICAL):
            raise ValueError(f"{self.name}: kind must be numeric or categorical")


# Title of each feature family, in words a marketer reads at a glance: the one source of
# family titles (reports, score cards, docs/FEATURES.md). serving/text.py adds what each
# family measures, in plain language.
FAMILIES: dict[str, str] = {
    "cooperation": "Cooperation",
    "diligence": "Diligence",
    "category": "Category influence",
    "volume": "Content volume",
    "content": "Content success",
    "sales": "Sales",
    "execution": "Reliability",
    "authenticity": "Audience authenticity",
    "growth": "Audience size and growth",
    "price": "Price",
    "tenure": "Tenure and recency",
    "confidence": "Track record",
    "match": "Fit with the campaign",
    "profile": "Profile",
    "index": "0-100 indices",
}


def _shrunk(evidence: str) -> str:
    return (f"empirical Bayes: shrunk toward the peers' fitted Beta prior by the number of {evidence}; "
            "missing without any")


def _index_description(title: str, name: str, peers: str) -> str:
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
    )


_ALL = "all creators"
_CAT_PEERS = "creators whose primary category is the campaign's category"
_BAND = "creators of similar follower size (bands at 1k, 10k, 100k, 1M followers, as of the month start)"

CATALOGUE: tuple[FeatureSpec, ...] = (
    # ---- cooperation
    FeatureSpec("response_rate", "cooperation",
                f"share of brand invitations answered within 7 days; an invitation counts once answered or "
                f"7 days old ({_shrunk('invitations resolved')})", "share 0-1", None, 1),
    FeatureSpec("acceptance_rate", "cooperation",
                f"share of answered invitations that were accepted ({_shrunk('invitations answered')})",
                "share 0-1", None, 1),
    FeatureSpec("ignored_share", "cooperation",
                f"share of invitations more than 7 days old and still unanswered (over invitations "
                f"answered or 7 days old; {_shrunk('invitations resolved')})", "share 0-1", None, -1),
    FeatureSpec("median_hours_to_answer_365d", "cooperation",
                "median hours between an invitation and its answer, answers of the last 365 days",
                "hours", 365, -1),
    # ---- diligence
    FeatureSpec("shoppable_share_90d", "diligence",
                f"share of posts of the last 90 days carrying shop links ({_shrunk('posts')})", "share 0-1", 90, 1),
    FeatureSpec("shoppable_posts_per_week_90d", "diligence",
                "posts with shop links per week over the last 90 days", "posts per week", 90, 1),
    FeatureSpec("active_weeks_share_13w", "diligence",
                f"share of the last {ACTIVE_WEEKS} full calendar weeks (Monday to Sunday, UTC) with at least one post",
                "share 0-1", 7 * ACTIVE_WEEKS, 1),
    # ---- category influence (needs the campaign's category, else missing)
    FeatureSpec("cat_post_share_365d", "category",
                "share of the creator's posts of the last 365 days in the campaign's category (0 without posts)",
                "share 0-1", 365, 1),
    FeatureSpec("cat_views_share_365d", "category",
                "share of the creator's 7-day views from posts in the campaign's category, posts whose 7-day "
                "counts came in during the last 365 days (0 without views)", "share 0-1", 365, 1),
    FeatureSpec("cat_gmv_share_365d", "category",
                "share of the creator's sales (GMV, last 365 days) from products of the campaign's category: an "
                "order's category is its post's category, else its campaign's (0 without sales)",
                "share 0-1", 365, 1),
    FeatureSpec("cat_views_365d", "category",
                "7-day views of the creator's posts in the campaign's category, counts that came in during the "
                "last 365 days", "views", 365, 1),
    FeatureSpec("cat_gmv_365d", "category",
                "sales (GMV before refunds) in the campaign's category, orders of the last 365 days", "USD", 365, 1),
    FeatureSpec("cat_views_peer_pct", "category",
                f"percentile of the creator's views in the campaign's category among {_CAT_PEERS} "
                "with posts or orders in it (their views in it as of the month start); missing without a post or "
                "order in the category", "percentile 0-100", 365, 1),
    # ---- content volume
    FeatureSpec("posts_30d", "volume", "posts published in the last 30 days", "posts", 30, 1),
    FeatureSpec("posts_90d", "volume", "posts published in the last 90 days", "posts", 90, 1),
    FeatureSpec("posts_365d", "volume", "posts published in the last 365 days", "posts", 365, 1),
    # ---- content success (7-day counts are known 7 days after posting)
    FeatureSpec("median_views_90d", "content",
                "median 7-day views per post, posts whose 7-day counts came in during the last 90 days",
                "views", 90, 1),
    FeatureSpec("views_90d", "content",
                "total 7-day views of posts whose counts came in during the last 90 days", "views", 90, 1),
    FeatureSpec("engagement_rate_90d", "content",
                "likes, comments and shares (at most the views of each post) per view over those posts "
                f"({_shrunk('views')})", "share 0-1", 90, 1),
    FeatureSpec("views_per_follower_90d", "content",
                "7-day views per follower over those posts with followers (their views / their followers at posting)",
                "views per follower", 90, 1),
    # ---- sales
    FeatureSpec("gmv_365d", "sales", "sales (GMV before refunds) of orders of the last 365 days", "USD", 365, 1),
    FeatureSpec("gmv_per_shoppable_post_365d", "sales",
                "sales of the last 365 days per post with shop links of the last 365 days", "USD per post", 365, 1),
    FeatureSpec("gmv_per_1k_views_365d", "sales",
                "sales of the last 365 days per 1,000 7-day views of the last 365 days", "USD per 1k views", 365, 1),
    FeatureSpec("campaign_gmv_365d", "sales", "sales from brand campaigns, orders of the last 365 days",
                "USD", 365, 1),
    FeatureSpec("organic_gmv_365d", "sales", "sales outside campaigns, orders of the last 365 days",
                "USD", 365, 1),
    FeatureSpec("refund_rate", "sales",
                f"share of orders refunded so far ({_shrunk('orders')})", "share 0-1", None, -1),
    # ---- execution
    FeatureSpec("delivery_rate", "execution",
                "share of accepted campaigns delivered, among those delivered or past their due date "
                f"({_shrunk('accepted campaigns resolved')})",
                "share 0-1", None, 1),
    FeatureSpec("on_time_rate", "execution",
                f"share of accepted campaigns delivered by their due date, among those delivered or past "
                f"their due date ({_shrunk('accepted campaigns resolved')})", "share 0-1", None, 1),
    FeatureSpec("first_pass_rate", "execution",
                f"share of deliveries approved without revisions ({_shrunk('deliveries')})", "share 0-1", None, 1),
    FeatureSpec("campaigns_completed", "execution", "campaign deliveries so far", "campaigns", None, 1),
    # ---- authenticity
    FeatureSpec("eng_per_view_peer_pct", "authenticity",
                f"percentile of likes, comments and shares (at most the views of each post) per view (posts whose "
                f"counts came in during the last 90 days) among {_BAND}; very high or very low is unusual; "
                "missing without views", "percentile 0-100", 90, 0),
    FeatureSpec("eng_per_follower_peer_pct", "authenticity",
                f"percentile of likes, comments and shares per follower (same posts, those with followers) among "
                f"{_BAND}; low suggests bought followers; missing without followers", "percentile 0-100", 90, 1),
    FeatureSpec("max_follower_jump_365d", "authenticity",
                f"largest ratio of a post's followers to the median of the creator's previous "
                f"{JUMP_BASELINE_POSTS} posts with followers, posts of the last 365 days with followers, capped at "
                f"{JUMP_CAP:g} (missing when no such post has an earlier one)", "ratio", 365, -1),
    # ---- growth
    FeatureSpec("followers", "growth", "followers at the latest post", "followers", None, 0),
    FeatureSpec("follower_growth_30d", "growth",
                "relative change in followers over 30 days (latest post against the latest post 30 days ago)",
                "ratio", 30, 1),
    FeatureSpec("follower_growth_90d", "growth",
                "relative change in followers over 90 days (latest post against the latest post 90 days ago)",
                "ratio", 90, 1),
    # ---- price
    FeatureSpec("rate_card_usd", "price", "declared price of one sponsored post (current)", "USD", None, 0),
    FeatureSpec("rate_card_to_gmv_per_post", "price",
                "declared price against the sales one post with shop links brought in the last 365 days "
                "(missing without sales)", "ratio", 365, -1),
    FeatureSpec("median_fee_365d", "price", "median agreed campaign fee, acceptances of the last 365 days",
                "USD", 365, 0),
    # ---- tenure and recency
    FeatureSpec("days_since_joined", "tenure", "days on the marketplace (0 if joining at or after the decision)",
                "days", None, 0),
    FeatureSpec("days_since_last_post", "tenure", "days since the latest post", "days", None, -1),
    # ---- confidence counts
    FeatureSpec("invitations_seen", "confidence", "brand invitations received so far", "invitations", None, 0),
    FeatureSpec("posts_seen", "confidence", "posts published so far", "posts", None, 0),
    FeatureSpec("orders_seen", "confidence", "orders attributed so far", "orders", None, 0),
    # ---- campaign match (need the campaign's attributes, else missing)
    FeatureSpec("category_match", "match", "1 when the creator's primary category is the campaign's category",
                "0/1", None, 1),
    FeatureSpec("country_match", "match", "1 when the creator's audience country is the campaign's country",
                "0/1", None, 1),
    FeatureSpec("budget_to_rate_card", "match", "campaign budget divided by the creator's declared price",
                "ratio", None, 1),
    # ---- profile
    FeatureSpec("primary_category", "profile", "the creator's self-declared main category", "category", None, 0,
                CATEGORICAL),
    # ---- indices
    FeatureSpec("idx_cooperation", "index", _index_description("Cooperation", "idx_cooperation", _ALL),
                "percentile 0-100", None, 1),
    FeatureSpec("idx_diligence", "index", _index_description("Diligence", "idx_diligence", _ALL),
                "percentile 0-100", 91, 1),
    FeatureSpec("idx_category_influence", "index",
                _index_description("Category influence", "idx_category_influence", _CAT_PEERS)
                + " (missing without a campaign category)", "percentile 0-100", 365, 1),
    FeatureSpec("idx_content", "index", _index_description("Content", "idx_content", _ALL),
                "percentile 0-100", 90, 1),
    FeatureSpec("idx_sales", "index", _index_description("Sales", "idx_sales", _ALL), "percentile 0-100", 365, 1),
    FeatureSpec("idx_reliability", "index", _index_description("Reliability", "idx_reliability", _ALL),
                "percentile 0-100", None, 1),
    FeatureSpec("idx_authenticity", "index",
                _index_description("Audience authenticity", "idx_authenticity", _ALL), "percentile 0-100", 365, 1),
    # ---- the evidence behind each index (what thin evidence and missing indices are judged on)
    *(
        FeatureSpec(evidence_column(name), "confidence",
                    f"evidence of {name}: {what}; thin below {THIN_EVIDENCE[name]:g}"
                    + (" (missing without a campaign category)" if name == CATEGORY_INDEX else ""),
                    "count", days, 0)
        for name, (what, days) in INDEX_EVIDENCE.items()
    ),
)

INDEX_NAMES: tuple[str, ...] = tuple(INDEX_RECIPES)
# Features that need the decision's campaign attributes (missing without them).
CATEGORY_FEATURES = (
    "cat_post_share_365d", "cat_views_share_365d", "cat_gmv_share_365d", "cat_views_365d", "cat_gmv_365d",
    "cat_views_peer_pct", "category_match", CATEGORY_INDEX, evidence_column(CATEGORY_INDEX),
)

_RULES = (tuple(RATES.items()), PRIOR_STRENGTH, MIN_PRIOR_PEERS, JUMP_BASELINE_POSTS, JUMP_CAP, FOLLOWER_BANDS,
          PEER_CAP, "no peers: missing", ACTIVE_WEEKS, CENTS_PER_USD, tuple(INDEX_RECIPES.items()),
          tuple(INDEX_EVIDENCE.items()), tuple(INDEX_SHRINK.items()), tuple(THIN_EVIDENCE.items()))


def _version() -> str:
    payload = repr((tuple(astuple(s) for s in CATALOGUE), _RULES)).encode()
    return "fs1-" + hashlib.sha256(payload).hexdigest()[:10]


FEATURE_SET_VERSION = _version()

_BY_NAME = {s.name: s for s in CATALOGUE}
assert len(_BY_NAME) == len(CATALOGUE), "duplicate feature names"
assert set(INDEX_NAMES) <= set(_BY_NAME), "index without a spec"
assert all(f in _BY_NAME for recipe in INDEX_RECIPES.values() for f, _ in recipe), "index of unknown feature"
assert set(RATES) <= set(_BY_NAME), "rate without a spec"
assert set(INDEX_EVIDENCE) == set(INDEX_SHRINK) == set(INDEX_NAMES), "index without evidence rules"


def feature_names() -> list[str]:
    """All feature names, in catalogue order."""
    return [s.name for s in CATALOGUE]


def model_feature_names() -> list[str]:
    """The default model inputs: the catalogue less the indices' evidence counts.

    Those counts are for people (how much an index rests on: "thin evidence"); the model
    already sees the counts they are made of (``posts_90d``, ``invitations_seen``,
    ``orders_seen``...). Measured at scale S, adding them cost about 0.01 NDCG@10.
    """
    evidence = {evidence_column(name) for name in INDEX_NAMES}
    return [name for name in feature_names() if name not in evidence]


def get_specs(names) -> list[FeatureSpec]:
    """The specs of ``names``, in the given order.

    Raises
    ------
    ConfigError
        A name is not in the catalogue.
    """
    out = []
    for name in names:
        spec = _BY_NAME.get(name)
        if spec is None:
            raise ConfigError(f"unknown feature '{name}' (known: {', '.join(_BY_NAME)})")
        out.append(spec)
    return out
