"""Plain-language text for features, families and indices.

Reports speak to two readers: a marketer choosing creators ("answers 92% of brand
invitations; peers in this campaign: 61%") and a creator reading their own card ("answer
invitations faster: creators who answer within a day rank higher"). The catalogue's
descriptions (:mod:`creatorrank.features.specs`) are exact but technical (priors, windows);
this module holds the short words, keyed by the catalogue's names:

* :data:`FAMILY_TEXT` -- every feature family: its title (from the catalogue,
  :data:`creatorrank.features.specs.FAMILIES`, the one source of family titles) and what it
  measures (:data:`FAMILY_MEASURES`, here). A family added to the catalogue without an
  entry here fails the tests.
* :data:`FEATURE_TEXT` -- per feature: a label (noun phrase) and, for what a creator can
  change, an imperative and a "creators who ..." phrase. A feature without an entry falls
  back to its catalogue description, so a new feature is never silent.
* :data:`INDEX_TEXT` -- the seven 0-100 indices: their name and what they measure.

Values are formatted by the spec's unit (shares as %, USD as $, hours as hours or days).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..features.specs import FAMILIES, INDEX_RECIPES

MISSING = "not enough data yet"  # every missing value and NaN index, in every text
UNKNOWN = "unknown: not enough data yet"  # a missing model input: explained as unknown, never as evidence


@dataclass(frozen=True)
class FamilyText:
    """Words for one feature family.

    Attributes
    ----------
    title : str
        Short name shown in charts ("Cooperation").
    measures : str
        What the family measures, completing "This measures ..." for a creator.
    """

    title: str
    measures: str


@dataclass(frozen=True)
class FeatureText:
    """Words for one feature.

    Attributes
    ----------
    label : str
        Noun phrase naming the value ("Invitations answered within a week").
    action : str or None
        What a creator can do to move it the way the model rewards (imperative), or None
        when the feature is not the creator's to change (country, tenure, counts).
    who : str or None
        "creators who ..." phrase with ``{v}`` for a target value.
    fmt : str or None
        Formatting override ("signed_pct" for relative changes).
    missing : str or None
        What a missing value means for this feature ("not declared" for a rate card the
        creator never gave); default :data:`MISSING`.
    """

    label: str
    action: str | None = None
    who: str | None = None
    fmt: str | None = None
    missing: str | None = None


# What each family measures, completing "This measures ..."; titles are the catalogue's
# (features.specs.FAMILIES: one source for reports, cards and docs).
FAMILY_MEASURES: dict[str, str] = {
    "cooperation": "how readily the creator answers and accepts brand invitations",
    "diligence": "how regularly the creator posts, and how often with shop links",
    "category": "how much of the creator's audience and sales are in the campaign's category",
    "volume": "how many posts the creator publishes",
    "content": "how many views and how much engagement the posts get",
    "sales": "how much the creator's posts sell, and how little is refunded",
    "execution": "whether accepted campaigns are delivered, on time and approved first time",
    "authenticity": "whether the audience looks real: engagement in line with size, no sudden follower jumps",
    "growth": "how many followers the creator has and how fast that changes",
    "price": "the creator's declared price and fees against the sales they bring",
    "tenure": "how long the creator has been on the marketplace and how recently they posted",
    "confidence": "how much history there is to judge by: posts, invitations and orders seen",
    "match": "whether the creator's category, country and price fit the brief",
    "profile": "what the creator declares about themselves (main category)",
    "index": "the seven 0-100 peer percentiles (cooperation, diligence, ...)",
}
OTHER = "other"  # the family of features outside the catalogue (serving.explain.OTHER_FAMILY)

FAMILY_TEXT: dict[str, FamilyText] = {
    **{family: FamilyText(title, FAMILY_MEASURES.get(family, "")) for family, title in FAMILIES.items()},
    OTHER: FamilyText("Other", "features outside the catalogue"),
}

FEATURE_TEXT: dict[str, FeatureText] = {
    # cooperation
    "response_rate": FeatureText("Invitations answered within a week", "Answer brand invitations within a week",
                                 "answer {v} of their invitations"),
    "acceptance_rate": FeatureText("Answered invitations accepted", "Accept more of the invitations that suit you",
                                   "accept {v} of the invitations they answer"),
    "ignored_share": FeatureText("Invitations left unanswered", "Leave no invitation unanswered (a quick 'no' counts)",
                                 "leave no more than {v} unanswered"),
    "median_hours_to_answer_365d": FeatureText("Typical time to answer an invitation", "Answer invitations faster",
                                               "answer within {v}"),
    # diligence
    "shoppable_share_90d": FeatureText("Posts with shop links (last 90 days)", "Add shop links to more of your posts",
                                       "put shop links on {v} of their posts"),
    "shoppable_posts_per_week_90d": FeatureText("Posts with shop links per week (last 90 days)",
                                                "Publish more posts with shop links", "publish {v} with shop links"),
    "active_weeks_share_13w": FeatureText("Weeks with at least one post (last 13 weeks)", "Post every week",
                                          "post in {v} of weeks"),
    # category influence
    "cat_post_share_365d": FeatureText("Posts in the campaign's category (last year)",
                                       "Post more in your main category", "make {v} of their posts in the category"),
    "cat_views_share_365d": FeatureText("Views from posts in the campaign's category (last year)"),
    "cat_gmv_share_365d": FeatureText("Sales in the campaign's category (share, last year)"),
    "cat_views_365d": FeatureText("Views in the campaign's category (last year)",
                                  "Grow your views in your category", "reach {v} in the category"),
    "cat_gmv_365d": FeatureText("Sales in the campaign's category (last year)",
                                "Sell more in your category", "sell {v} in the category"),
    "cat_views_peer_pct": FeatureText("Views in the category, percentile among its creators"),
    # volume
    "posts_30d": FeatureText("Posts in the last 30 days", "Post more often", "publish {v} a month"),
    "posts_90d": FeatureText("Posts in the last 90 days", "Post more often", "publish {v} in 90 days"),
    "posts_365d": FeatureText("Posts in the last year"),
    # content success
    "median_views_90d": FeatureText("Typical views per post (last 90 days)", "Make posts that get more views",
                                    "get {v} on a typical post"),
    "views_90d": FeatureText("Views in the last 90 days"),
    "engagement_rate_90d": FeatureText("Likes, comments and shares per view (last 90 days)",
                                       "Make posts people like, comment on and share", "get {v} engagement per view"),
    "views_per_follower_90d": FeatureText("Views per follower (last 90 days)", "Reach more of your own followers",
                                          "get {v} views per follower"),
    # sales
    "gmv_365d": FeatureText("Sales driven (last year)", "Sell more through shoppable posts", "sell {v} a year"),
    "gmv_per_shoppable_post_365d": FeatureText("Sales per post with shop links (last year)",
                                               "Feature products that sell in your shoppable posts",
                                               "sell {v} per shoppable post"),
    "gmv_per_1k_views_365d": FeatureText("Sales per 1,000 views (last year)", "Turn more views into sales",
                                         "sell {v} per 1,000 views"),
    "campaign_gmv_365d": FeatureText("Sales from brand campaigns (last year)"),
    "organic_gmv_365d": FeatureText("Sales outside campaigns (last year)"),
    "refund_rate": FeatureText("Orders refunded", "Recommend products buyers keep (fewer refunds)",
                               "keep refunds at {v}"),
    # execution
    "delivery_rate": FeatureText("Accepted campaigns delivered", "Deliver every campaign you accept",
                                 "deliver {v} of what they accept"),
    "on_time_rate": FeatureText("Campaigns delivered on time", "Deliver by the due date", "deliver {v} on time"),
    "first_pass_rate": FeatureText("Deliveries approved without revisions", "Follow the brief closely so content passes first time",
                                   "get {v} approved first time"),
    "campaigns_completed": FeatureText("Campaign deliveries so far"),
    # authenticity
    "eng_per_view_peer_pct": FeatureText("Engagement per view, percentile among creators of similar size"),
    "eng_per_follower_peer_pct": FeatureText("Engagement per follower, percentile among creators of similar size",
                                             "Grow an audience that engages (never buy followers)",
                                             "score {v} against creators of their size"),
    "max_follower_jump_365d": FeatureText("Largest jump in followers between two posts (last year)"),
    # growth
    "followers": FeatureText("Followers"),
    "follower_growth_30d": FeatureText("Follower change over 30 days", fmt="signed_pct"),
    "follower_growth_90d": FeatureText("Follower change over 90 days", "Grow your audience", "grow {v} in 90 days",
                                       fmt="signed_pct"),
    # price
    "rate_card_usd": FeatureText("Declared price per sponsored post", missing="not declared"),
    "rate_card_to_gmv_per_post": FeatureText("Price against sales per shoppable post",
                                             "Keep your price in line with the sales you bring",
                                             "ask no more than {v} what a post sells"),
    "median_fee_365d": FeatureText("Typical agreed campaign fee (last year)"),
    # tenure
    "days_since_joined": FeatureText("Days on the marketplace"),
    "days_since_last_post": FeatureText("Days since the latest post", "Keep posting", "posted within {v}"),
    # confidence
    "invitations_seen": FeatureText("Brand invitations received so far"),
    "posts_seen": FeatureText("Posts published so far"),
    "orders_seen": FeatureText("Orders attributed so far"),
    # match
    "category_match": FeatureText("Main category is the campaign's category"),
    "country_match": FeatureText("Audience is in the campaign's country"),
    "budget_to_rate_card": FeatureText("Campaign budget against the declared price",
                                       missing="unknown: no declared price or no budget"),
    # profile
    "primary_category": FeatureText("Main category", missing="not declared"),
}


@dataclass(frozen=True)
class IndexText:
    """Words for one 0-100 index: its name, a short column header, family and what it measures."""

    name: str
    short: str
    family: str
    measures: str


INDEX_TEXT: dict[str, IndexText] = {
    "idx_cooperation": IndexText("Cooperation", "Cooperation", "cooperation", "how readily you answer and accept brand invitations"),
    "idx_diligence": IndexText("Diligence", "Diligence", "diligence", "how regularly you post, and how often with shop links"),
    "idx_category_influence": IndexText("Category influence", "Category", "category",
                                        "how strong your views and sales are in the category, against its other creators"),
    "idx_content": IndexText("Content", "Content", "content", "how much you post and how many views and how much engagement you get"),
    "idx_sales": IndexText("Sales", "Sales", "sales", "how much your posts sell, and how few orders are refunded"),
    "idx_reliability": IndexText("Reliability", "Reliability", "execution",
                                 "whether you deliver accepted campaigns, on time, approved first time"),
    "idx_authenticity": IndexText("Audience authenticity", "Authenticity", "authenticity",
                                  "whether your audience engages like a real one of your size"),
}

# The indices are model features too: name them like the cards do.
for _name, _text in INDEX_TEXT.items():
    FEATURE_TEXT.setdefault(_name, FeatureText(f"{_text.name} index"))
    # ... and the evidence count behind each (idx_<name>_evidence), where the feature set has it.
    FEATURE_TEXT.setdefault(f"{_name}_evidence", FeatureText(f"Evidence behind the {_text.name} index",
                                                             missing="none yet"))

TRANSFORM_WORDS = {"+": "higher is better", "-": "lower is better", "centre": "best near the middle"}


# ---------------------------------------------------------------------------- formatting


def _finite(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _number(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"
    return f"{x:.2g}" if x else "0"


def _plural(x: float, word: str) -> str:
    text = _number(x)
    return f"{text} {word}" if text == "1" else f"{text} {word}s"


def format_value(value: Any, unit: str, fmt: str | None = None) -> str:
    """A value in words by its catalogue unit ("share 0-1" -> "92%", "USD" -> "$1,234").

    Parameters
    ----------
    value : any
        The value; None or NaN gives ``"no data yet"``.
    unit : str
        The spec's unit.
    fmt : str, optional
        ``"signed_pct"``: a relative change as ``+12%``.
    """
    if isinstance(value, str):
        return value
    x = _finite(value)
    if x is None:
        return MISSING
    unit = (unit or "").lower()
    if fmt == "signed_pct":
        return f"{x:+.0%}" if abs(x) >= 0.01 or x == 0 else f"{x:+.1%}"
    if unit.startswith("share"):
        pct = 100 * x
        return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.1f}%"
    if unit.startswith("percentile"):
        return f"{x:.0f}/100"
    if unit == "0/1":
        return "yes" if x >= 0.5 else "no"
    if unit.startswith("usd"):
        rest = unit[3:].strip()
        money = f"${x:,.0f}" if abs(x) >= 100 else f"${x:,.2f}"
        return f"{money} {rest}".strip()
    if unit == "hours":
        if x < 1:
            return "under an hour"
        if x < 48:
            return _plural(round(x), "hour")
        return _plural(round(x / 24, 1), "day")
    if unit == "days":
        return _plural(round(x), "day")
    if unit == "count":
        return _number(x)
    if unit == "ratio":
        return f"{x:.2g}x" if abs(x) < 10 else f"{x:,.0f}x"
    if unit in ("posts", "views", "followers", "invitations", "orders", "campaigns"):
        return _plural(round(x), unit[:-1])
    if unit == "posts per week":
        return f"{_number(x)} a week"
    if unit == "views per follower":
        return f"{_number(x)}"
    return f"{_number(x)} {unit}".strip()


def feature_text(name: str, spec=None) -> FeatureText:
    """The words of a feature; a feature without an entry gets its catalogue description."""
    text = FEATURE_TEXT.get(name)
    if text is not None:
        return text
    if spec is not None:
        return FeatureText(_sentence_case(_short(spec.description)))
    return FeatureText(name.replace("_", " ").capitalize())


def _short(description: str) -> str:
    """The first clause of a catalogue description, without its technical parentheses."""
    text = re.sub(r"\s*\([^()]*\)", "", description)
    return re.split(r";|, an invitation counts| among ", text)[0].strip()


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def family_title(family: str) -> str:
    """Short title of a family ("Cooperation"): the catalogue's (:data:`features.specs.FAMILIES`)."""
    return FAMILY_TEXT.get(family, FamilyText(family.replace("_", " ").capitalize(), "")).title


def family_measures(family: str) -> str:
    """What a family measures, in plain words (a family outside the catalogue: "other")."""
    return FAMILY_TEXT.get(family, FAMILY_TEXT[OTHER]).measures


def value_text(name: str, value: Any, spec=None) -> str:
    """A feature's value in words."""
    ft = feature_text(name, spec)
    if is_missing(value):
        return ft.missing or MISSING
    unit = getattr(spec, "unit", "") if spec is not None else ""
    return format_value(value, unit, ft.fmt)


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (a string is a value)."""
    if isinstance(value, str):
        return False
    return _finite(value) is None and not _is_time(value)


def _is_time(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, pd.Timestamp) and not pd.isna(value)


def feature_sentence(name: str, value: Any, spec=None, peer: Any = None, peers: str | None = None) -> str:
    """One line on a feature: "Invitations answered within a week: 92% (peers in beauty: 61%)".

    Parameters
    ----------
    name : str
        Feature name.
    value : any
        The creator's value.
    spec : FeatureSpec, optional
        Its catalogue entry (unit, description).
    peer : any, optional
        The peers' typical (median) value.
    peers : str, optional
        Who the peers are ("peers in this campaign", "beauty creators").
    """
    ft = feature_text(name, spec)
    # A missing input is unknown, not evidence: say so, whatever it does to the score.
    shown = (ft.missing or UNKNOWN) if is_missing(value) else value_text(name, value, spec)
    line = f"{ft.label}: {shown}"
    if peers and peer is not None and not (isinstance(peer, float) and math.isnan(peer)):
        line += f" ({peers}: {value_text(name, peer, spec)})"
    return line


def advice_sentence(name: str, target: Any, spec=None) -> str | None:
    """What a creator can do, and what the model rewards: "Answer invitations faster: creators
    who answer within 5 hours rank higher". None when the feature is not actionable."""
    ft = feature_text(name, spec)
    if not ft.action:
        return None
    if ft.who and target is not None:
        value = value_text(name, target, spec)
        return f"{ft.action}: creators who {ft.who.format(v=value)} rank higher."
    return f"{ft.action}."


def index_how(index: str, specs_by_name: dict | None = None) -> str:
    """How an index is built, in words, from the catalogue's recipe."""
    parts = []
    for feature, transform in INDEX_RECIPES.get(index, ()):
        spec = (specs_by_name or {}).get(feature)
        parts.append(f"{feature_text(feature, spec).label.lower()} ({TRANSFORM_WORDS.get(transform, transform)})")
    return "; ".join(parts)


def history_sentence(posts: int, invitations: int, orders: int, first_activity, joined=None) -> str:
    """What a score rests on: "Rests on 120 posts, 8 invitations and 35 orders since 3 Feb 2024"."""
    if not (posts or invitations or orders):
        since = f" (joined {format_date(joined)})" if joined is not None and not _isnat(joined) else ""
        return f"No posts, invitations or orders seen yet{since}: the score rests on profile and campaign fit only."
    counts = [_plural(posts, "post"), _plural(invitations, "invitation"), _plural(orders, "order")]
    since = f" since {format_date(first_activity)}" if first_activity is not None and not _isnat(first_activity) else ""
    return f"Rests on {counts[0]}, {counts[1]} and {counts[2]}{since}."


def _isnat(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_date(value) -> str:
    """A date as "3 Feb 2024" (UTC); missing gives an empty string."""
    import pandas as pd

    if value is None or _isnat(value):
        return ""
    ts = pd.Timestamp(value)
    return f"{ts.day} {ts.strftime('%b %Y')}"
