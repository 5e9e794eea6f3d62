"""Plain-language text for features, families and indices.

Reports speak to two readers: a marketer choosing creators ("answers 92% of brand
invitations; peers in this campaign: 61%") and a creator reading their own card ("answer
invitations faster: creators who answer within a day rank higher"). The catalogue's
descriptions (:mod:`creatorrank.features.specs`) are exact but technical (priors, windows).
The short words are declared with each feature, in its family's module of
:mod:`creatorrank.features.catalogue` (spec, computation and words in one place); this
module shows them, keyed by the catalogue's names, and formats values:

* :data:`FAMILY_TEXT` -- every feature family: its title and what it measures
  (:data:`FAMILY_MEASURES`), both declared in the family's module.
* :data:`FEATURE_TEXT` -- per feature: a label (noun phrase) and, for what a creator can
  change, an imperative and a "creators who ..." phrase. A name without an entry (a
  feature outside the catalogue) falls back to its description, so it is never silent.
* :data:`INDEX_TEXT` -- the seven 0-100 indices: their name and what they measure
  (declared in ``features/catalogue/index.py``).

Values are formatted by the spec's unit (shares as %, USD as $, hours as hours or days).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..features import catalogue
from ..features.catalogue.base import Family, FeatureText, IndexText
from ..features.catalogue.index import INDEX_TEXT as _INDEX_TEXT
from ..features.specs import INDEX_RECIPES

__all__ = ["FAMILY_MEASURES", "FAMILY_TEXT", "FEATURE_TEXT", "INDEX_TEXT", "FeatureText", "IndexText",
           "MISSING", "OTHER", "TRANSFORM_WORDS", "UNKNOWN", "advice_sentence", "family_measures", "family_title", "feature_sentence",
           "feature_text", "format_date", "format_value", "history_sentence", "index_how", "is_missing",
           "value_text"]

MISSING = "not enough data yet"  # every missing value and NaN index, in every text
UNKNOWN = "unknown: not enough data yet"  # a missing model input: explained as unknown, never as evidence


# What each family measures, completing "This measures ..."; titles and measures are declared
# in each family's module (features/catalogue/<family>.py: one source for reports, cards and docs).
FAMILY_MEASURES: dict[str, str] = {family.key: family.measures for family in catalogue.FAMILIES}
OTHER = "other"  # the family of features outside the catalogue (serving.explain.OTHER_FAMILY)

FAMILY_TEXT: dict[str, Family] = {
    **{family.key: family for family in catalogue.FAMILIES},
    OTHER: Family(OTHER, "Other", "features outside the catalogue"),
}

# Every catalogue feature's words, declared beside its spec (FeatureText lives with the features).
FEATURE_TEXT: dict[str, FeatureText] = {feature.name: feature.text for feature in catalogue.FEATURES}

INDEX_TEXT: dict[str, IndexText] = dict(_INDEX_TEXT)

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
    return FAMILY_TEXT.get(family, Family(family, family.replace("_", " ").capitalize(), "")).title


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
