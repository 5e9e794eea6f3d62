"""Synthetic creator marketplace: the five raw contract tables plus the latent truth.

The generator simulates a TikTok-Shop-like marketplace between ``start`` and ``end``
so that a ranking model trained on it has to learn the same things it would have
to learn on real data: follower counts are a weak, biased signal, and what
predicts campaign sales leaves traces in the creator's history.

Generative story
----------------
Creators
    Each creator gets latent traits (returned in ``Market.traits``):

    * ``cooperation`` -- probability of answering and accepting an invitation, and
      answer speed. Large accounts are slightly less cooperative (busy, picky).
    * ``diligence`` -- posting rate, share of shoppable posts, share of active weeks.
    * category affinities -- a primary category plus a Dirichlet spread over the
      eight categories; posts are drawn from it and sales convert better on-category.
      The declared ``primary_category`` is sometimes wrong or missing.
    * ``quality`` -- views per follower multiplier; drifts over time for some.
    * ``sales_skill`` -- conversion of views into orders; drifts over time for some
      (log-linear trend), so recent history is more predictive than old history.
    * ``reliability`` -- delivering, delivering on time, first-pass approval.
    * ``authenticity`` -- share of real followers. About 8% of creators bought
      followers (a jump in ``followers_at_post`` at ``bought_at``, often before
      joining): after it they show many followers and bot-inflated views, but few
      likes/comments per view and few sales.
    * followers: heavy-tailed (lognormal) at join, growing or shrinking
      exponentially; about 10% of creators go dormant and stop posting.

    Creators join over the whole span (a founding cohort in the first month, the
    rest later, so some are cold-start at decision time).
Posts
    Per creator a Poisson number of posts over its active period, in the weeks it
    is active (diligence). Views are real followers times a view rate that falls
    with audience size, times quality, times lognormal noise; bought followers add
    bot views. Likes, comments and shares come from real views only.
Organic orders
    Shoppable posts sell: orders ~ Poisson(real views x conversion) where
    conversion = sales skill x (real followers)^-0.55 (small audiences convert
    better) x category fit x a trust penalty after buying followers. Order values
    are lognormal around a category average; about 5% are refunded later.
Campaigns
    Brands (about one per ten campaigns) with a home country and category create
    briefs uniformly over the span; a campaign starts 3-21 days after creation and
    lasts 14-60 days.
Invitations (selection bias)
    Brands invite creators of the campaign's country who joined before the brief,
    mostly by visible size and category fit (probability proportional to
    ``followers^0.8 x affinity^1.5``) plus 25% uniform exploration. Creators answer
    (cooperation; dormant ones almost never), accept (cooperation, category fit,
    smaller accounts more often), get a fee near their rate card and a due date,
    deliver (reliability; late or missed deliveries happen) and are approved on
    first pass (reliability and quality). A delivered invitation yields a campaign
    post around ``delivered_at``.
Outcome (the latent truth)
    For a delivered invitation the expected GMV is expected real views x
    campaign-lifted conversion x category fit x average order value, all
    evaluated at the campaign's start (so drift matters). ``expected_gmv`` in
    ``Market.truth`` is the expected *net* outcome of the invitation:
    P(answer) x P(accept) x P(deliver) x E[GMV | delivered] x (1 - refund rate).
    Realised orders are Poisson around it, scaled by the same noise as the
    campaign post's views, dated between ``starts_at`` and ``ends_at + 14 days``.
    :func:`pair_expected_gmv` is that formula for *any* (campaign, creator) pair, invited or
    not; the truth files hold the exact times it needs (``*_day`` columns, days since
    ``start``), so :meth:`LatentCreators.from_traits` reproduces every invitation's truth
    bit for bit from ``truth/`` (:class:`creatorrank.training.eligible.PairTruth`).

Nothing happens after ``end``: later posts, orders, answers, deliveries and
refunds are dropped or nulled as in a real export; ``ends_at`` and ``due_at`` are
plans and may lie after ``end``. The same arguments always give identical frames.

Chunks
------
Creators, campaigns, invitations and the truth are drawn whole (they are small); posts and
orders, the bulk, are drawn chunk by chunk of ``creators_per_chunk`` consecutive creators
(default: one chunk up to :data:`AUTO_CHUNK_ABOVE` creators), so :func:`generate_into` holds
one chunk's history at a time and writes each as Parquet parts of ``posts/`` and ``orders/``.
Each chunk draws from its own stream (``SeedSequence(seed, spawn_key=(k,))``), so the chunk
size is part of the seed: the same story, other draws. One chunk draws everything from the
market's stream in the historic order (an unchunked market is unchanged). With several
chunks, rows come chunk by chunk, each in time order, and post and order ids carry the chunk
number first so they still sort as the rows do.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core import constants as C
from ..core.errors import CreatorRankError
from ..core.io import atomic_dir, write_frame, write_text
from .contract import CONTRACT

GENERATOR_VERSION = "1"
_log = logging.getLogger(__name__)

CATEGORIES = ("beauty", "fashion", "food", "tech", "home", "fitness", "gaming", "pets")
CATEGORY_SHARES = np.array([0.22, 0.20, 0.12, 0.10, 0.11, 0.10, 0.08, 0.07])
AVG_ORDER_VALUE = np.array([32.0, 45.0, 22.0, 95.0, 55.0, 40.0, 60.0, 30.0])  # USD per category
COUNTRIES = ("US", "GB", "DE", "FR", "ES", "ID")
COUNTRY_SHARES = np.array([0.38, 0.14, 0.12, 0.10, 0.08, 0.18])

REFUND_RATE = 0.05
MAX_INVITEES = 5000
BOUGHT_SHARE = 0.08
DORMANT_SHARE = 0.10
ORGANIC_VIEW_NOISE = 0.7  # lognormal sigma of a post's views around its expectation
CAMPAIGN_VIEW_NOISE = 0.4  # briefed content is steadier; also the noise of campaign sales
BASE_CONVERSION = 0.0012  # orders per real view for a 1k-follower creator of skill 1
CAMPAIGN_LIFT = 6.0  # brand briefs, samples and discount codes convert better than organic posts
SELECTION_EXPONENT = 0.8  # invitation weight ~ followers ** SELECTION_EXPONENT ...
AFFINITY_EXPONENT = 1.5  # ... * category affinity ** AFFINITY_EXPONENT
EXPLORATION_SHARE = 0.25

_NAT = np.iinfo(np.int64).min
_STRING = pd.StringDtype("pyarrow")


@dataclass
class Market:
    """A generated market.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The five contract tables (``creators``, ``posts``, ``campaigns``,
        ``invitations``, ``orders``) with contract columns in contract order.
    truth : DataFrame
        One row per invitation: ids, ``expected_gmv`` (expected net outcome), its
        factors (answer, accept and delivery probabilities, GMV if delivered) and the
        exact times behind it (``invited_day``, ``created_day``, ``starts_day``).
    traits : DataFrame
        One row per creator with its latent traits.
    params : dict
        The arguments and constants that produced the market (JSON-serialisable).
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    traits: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _fail(message: str) -> NoReturn:
    raise CreatorRankError(f"generate: {message}")


def _utc(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        _fail(f"{name}={value!r} is not a timestamp")
    if ts is pd.NaT:
        _fail(f"{name} must not be empty")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        _fail(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        _fail(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_rate(value: Any, name: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        _fail(f"{name} must be a number, got {value!r}")
    if not np.isfinite(rate) or rate <= 0:
        _fail(f"{name} must be positive, got {value!r}")
    return rate


def _ids(prefix: str, n: int) -> pa.Array:
    """``prefix`` + zero-padded running number, built in Arrow (fast for millions)."""
    width = max(len(str(max(n - 1, 0))), 1)
    digits = pc.utf8_lpad(pa.array(np.arange(n, dtype=np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _take(values: pa.Array, index: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    """String column ``values[index]``; rows where ``null`` is true become missing."""
    idx = pa.array(np.asarray(index, dtype=np.int64), mask=null)
    return pd.Series(pd.arrays.ArrowStringArray(values.take(idx)), dtype=_STRING)


def _strings(values: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values), dtype=_STRING)


def _timestamps(start_us: int, days: np.ndarray) -> pd.Series:
    """Day offsets from ``start`` (NaN = missing) as UTC timestamps, floored to the second.

    Flooring is monotonic, so orderings between events survive it.
    """
    days = np.asarray(days, dtype=np.float64)
    out = np.full(days.shape, _NAT, dtype=np.int64)
    ok = ~np.isnan(days)
    out[ok] = start_us + np.floor(days[ok] * 86_400.0).astype(np.int64) * 1_000_000
    return pd.Series(pd.DatetimeIndex(out.view("M8[us]")).tz_localize("UTC"))


def _nullable_bool(values: np.ndarray, null: np.ndarray) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(np.asarray(values, bool), np.asarray(null, bool)))


def _lognormal_mean1(rng: np.random.Generator, sigma: float, size: int | tuple) -> np.ndarray:
    """Lognormal noise with mean 1, so it does not bias expectations."""
    return rng.lognormal(-0.5 * sigma * sigma, sigma, size)


def _week_active(creator: np.ndarray, week: np.ndarray, p_active: np.ndarray, seed: int) -> np.ndarray:
    """Whether a creator is active in a week: a seeded hash, so it is the same for every post."""
    with np.errstate(over="ignore"):
        x = (creator.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
            week.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(seed % (1 << 64))
        )
        x ^= x >> np.uint64(31)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53) < p_active


# --------------------------------------------------------------------------- creators


class LatentCreators:
    """Latent creator traits and the time-dependent quantities derived from them.

    Times are float days since ``start``.
    """

    def __init__(self, rng: np.random.Generator, n: int, span: float):
        self.n = n
        self.span = span
        self.country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARES)
        self.primary = rng.choice(len(CATEGORIES), n, p=CATEGORY_SHARES)
        spread = rng.gamma(0.4, 1.0, (n, len(CATEGORIES)))
        spread /= spread.sum(axis=1, keepdims=True)
        aff = 0.45 * spread
        aff[np.arange(n), self.primary] += 0.55
        self.affinity = aff
        self.fit = 0.25 + 0.75 * aff / aff.max(axis=1, keepdims=True)  # conversion multiplier per category

        # A founding cohort joins in the first month, the rest over the span (cold starts).
        founding = rng.random(n) < 0.45
        late = 30.0 + (span - 60.0) * rng.beta(1.0, 1.6, n)
        self.joined = np.where(founding, rng.uniform(0.0, min(30.0, span * 0.5), n), np.clip(late, 0.0, span * 0.98))
        self.dormant = rng.random(n) < DORMANT_SHARE
        self.dormant_at = np.where(
            self.dormant, self.joined + (span - self.joined) * rng.uniform(0.15, 0.85, n), np.inf
        )

        # Real followers at join: heavy-tailed; exponential growth (or decline) per year.
        self.followers0 = np.maximum(np.exp(rng.normal(np.log(2500.0), 1.8, n)), 30.0)
        self.growth = rng.normal(0.25, 0.4, n)
        self.authenticity = rng.beta(30.0, 2.0, n)  # organic share of real followers
        self.bought = rng.random(n) < BOUGHT_SHARE
        at_join = rng.random(n) < 0.4
        self.bought_at = np.where(
            self.bought, np.where(at_join, self.joined, self.joined + (span - self.joined) * rng.random(n)), np.inf
        )
        self.fake_multiplier = np.where(self.bought, rng.uniform(1.5, 8.0, n), 0.0)

        coop = rng.beta(3.0, 2.0, n) - 0.06 * (np.log10(self.followers0) - 3.4)  # big accounts are pickier
        self.cooperation = np.clip(coop, 0.02, 0.98)
        self.diligence = rng.beta(2.5, 2.5, n)
        self.reliability = rng.beta(4.0, 1.8, n)
        self.quality = rng.lognormal(0.0, 0.45, n)
        self.quality_drift = np.where(rng.random(n) < 0.25, rng.normal(0.0, 0.5, n), 0.0)
        self.sales_skill = rng.lognormal(0.0, 1.1, n)
        self.sales_drift = np.where(rng.random(n) < 0.30, rng.normal(0.0, 0.8, n), 0.0)
        self.like_rate = 0.05 * rng.lognormal(0.0, 0.3, n) * np.sqrt(self.quality)
        self.shoppable_share = np.where(
            rng.random(n) < 0.25, 0.0, np.clip(rng.beta(2.0, 3.0, n) * (0.4 + 0.9 * self.diligence), 0.0, 0.95)
        )
        self.week_share = 0.35 + 0.6 * self.diligence  # share of weeks with any posting
        self.post_rate = (0.3 + self.diligence) * rng.lognormal(0.0, 0.5, n)  # relative, scaled later
        self.price_factor = rng.lognormal(0.0, 0.35, n)
        self.active_end = np.minimum(self.dormant_at, span)

    # Time-dependent quantities; ``i`` indexes creators, ``t`` is in days.
    def real_followers(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.followers0[i] * np.exp(self.growth[i] * (t - self.joined[i]) / 365.0)

    def fake_followers(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        bought = self.bought[i] & (t >= self.bought_at[i])
        at_buy = self.real_followers(i, np.where(bought, self.bought_at[i], t))
        return np.where(bought, self.fake_multiplier[i] * at_buy, 0.0)

    def total_followers(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.real_followers(i, t) / self.authenticity[i] + self.fake_followers(i, t)

    def quality_at(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.quality[i] * np.exp(self.quality_drift[i] * t / self.span)

    def skill_at(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.sales_skill[i] * np.exp(self.sales_drift[i] * t / self.span)

    def expected_real_views(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Mean real views of a post: the view rate falls with audience size."""
        real = self.real_followers(i, t)
        return real * 0.6 * (real / 1000.0) ** -0.15 * self.quality_at(i, t)

    def conversion(self, i: np.ndarray, t: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Orders per real view of an organic shoppable post."""
        real = self.real_followers(i, t)
        trust = np.where(self.bought[i] & (t >= self.bought_at[i]), 0.4, 1.0)
        return (
            BASE_CONVERSION
            * self.skill_at(i, t)
            * (real / 1000.0) ** -0.55
            * self.fit[i, category]
            * trust
        )

    def is_dormant(self, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return t >= self.dormant_at[i]

    def traits_frame(self, ids: pa.Array, start_us: int) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                C.CREATOR_ID: _strings(ids),
                C.COUNTRY: _take(pa.array(COUNTRIES), self.country),
                "true_primary_category": _take(pa.array(CATEGORIES), self.primary),
                C.JOINED_AT: _timestamps(start_us, self.joined),
                "cooperation": self.cooperation,
                "diligence": self.diligence,
                "reliability": self.reliability,
                "quality": self.quality,
                "quality_drift": self.quality_drift,
                "sales_skill": self.sales_skill,
                "sales_drift": self.sales_drift,
                "authenticity": self.authenticity,
                "bought_followers": self.bought,
                "bought_at": _timestamps(start_us, np.where(self.bought, self.bought_at, np.nan)),
                "fake_multiplier": self.fake_multiplier,
                "followers_at_join": self.followers0,
                "follower_growth": self.growth,
                "dormant": self.dormant,
                "dormant_at": _timestamps(start_us, np.where(self.dormant, self.dormant_at, np.nan)),
                "shoppable_share": self.shoppable_share,
                "week_share": self.week_share,
                "like_rate": self.like_rate,
                "price_factor": self.price_factor,
            }
        )
        for k, name in enumerate(CATEGORIES):
            frame[f"affinity_{name}"] = self.affinity[:, k]
        # Exact times in days since start (inf: never), so pair truth can be recomputed bit for bit.
        frame["joined_day"] = self.joined
        frame["dormant_day"] = self.dormant_at
        frame["bought_day"] = self.bought_at
        return frame

    @classmethod
    def from_traits(cls, traits: pd.DataFrame, span: float) -> "LatentCreators":
        """The creators of a written ``creator_traits.parquet`` (rows in file order).

        Holds what the outcome of an invitation depends on (followers, quality, sales skill,
        cooperation, reliability, category fit, dormancy); the posting traits that only shaped
        the history are not restored.

        Raises
        ------
        CreatorRankError
            The traits lack the exact-time columns (written by generator versions before them).
        """
        need = ["joined_day", "dormant_day", "bought_day"]
        missing = [c for c in need if c not in traits.columns]
        if missing:
            _fail(f"creator traits lack column '{missing[0]}': regenerate the market to compute pair truth")
        cr = cls.__new__(cls)
        cr.n, cr.span = len(traits), float(span)
        cr.country = pd.Index(COUNTRIES).get_indexer(traits[C.COUNTRY].astype(str))
        cr.primary = pd.Index(CATEGORIES).get_indexer(traits["true_primary_category"].astype(str))
        cr.affinity = np.column_stack([traits[f"affinity_{name}"].to_numpy(np.float64) for name in CATEGORIES])
        cr.fit = 0.25 + 0.75 * cr.affinity / cr.affinity.max(axis=1, keepdims=True)
        cr.joined = traits["joined_day"].to_numpy(np.float64)
        cr.dormant = traits["dormant"].to_numpy(bool)
        cr.dormant_at = traits["dormant_day"].to_numpy(np.float64)
        cr.followers0 = traits["followers_at_join"].to_numpy(np.float64)
        cr.growth = traits["follower_growth"].to_numpy(np.float64)
        cr.bought = traits["bought_followers"].to_numpy(bool)
        cr.bought_at = traits["bought_day"].to_numpy(np.float64)
        for name in ("authenticity", "fake_multiplier", "cooperation", "diligence", "reliability", "quality",
                     "quality_drift", "sales_skill", "sales_drift", "like_rate", "shoppable_share", "week_share",
                     "price_factor"):
            setattr(cr, name, traits[name].to_numpy(np.float64))
        cr.active_end = np.minimum(cr.dormant_at, cr.span)
        return cr


def _engagement(
    rng: np.random.Generator, cr: LatentCreators, i: np.ndarray, t: np.ndarray, noise: float
) -> tuple[np.ndarray, ...]:
    """Followers, views, likes, comments, shares of posts, the real views and the view noise."""
    n = len(i)
    shock = _lognormal_mean1(rng, noise, n)
    real_views = np.floor(cr.expected_real_views(i, t) * shock)
    fake = cr.fake_followers(i, t)
    bot_views = np.floor(fake * 0.25 * _lognormal_mean1(rng, 0.5, n))
    followers = np.round(cr.total_followers(i, t)).astype(np.int64)
    views = (real_views + bot_views).astype(np.int64)
    likes = rng.poisson(real_views * cr.like_rate[i] + bot_views * 0.002)
    comments = rng.poisson(real_views * cr.like_rate[i] * 0.06)
    shares = rng.poisson(real_views * cr.like_rate[i] * 0.04)
    return followers, views, likes, comments, shares, real_views, shock


def _order_values(rng: np.random.Generator, category: np.ndarray, n: int) -> np.ndarray:
    return np.round(AVG_ORDER_VALUE[category] * _lognormal_mean1(rng, 0.5, n), 2)


# --------------------------------------------------------------------------- invitations


def pair_expected_gmv(
    cr: LatentCreators,
    creator: np.ndarray,
    category: np.ndarray,
    created: np.ndarray,
    starts: np.ndarray,
    invited: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Expected net GMV of inviting ``creator`` to a campaign, and its factors, for any pair.

    The same formula the generator uses for every invitation it draws (``Market.truth``):
    P(answer) x P(accept) x P(deliver) x E[GMV | delivered] x (1 - refund rate), with
    declines, ignored invitations and missed deliveries included. Arrays broadcast together.

    Parameters
    ----------
    cr : LatentCreators
        The market's creators (the generator's, or :meth:`LatentCreators.from_traits`).
    creator : ndarray of int
        Creator row numbers.
    category : ndarray of int
        Campaign category index into :data:`CATEGORIES`.
    created, starts : ndarray of float
        The campaign's ``created_at`` and ``starts_at`` in days since the market's start.
    invited : ndarray of float, optional
        When the invitation is sent (dormancy is judged then); default ``created``.

    Returns
    -------
    dict of ndarray
        ``p_answer``, ``p_accept``, ``p_deliver``, ``gmv_if_delivered`` (gross, before
        refunds) and ``expected_gmv`` (net).
    """
    creator = np.asarray(creator, dtype=np.int64)
    category = np.asarray(category, dtype=np.int64)
    created = np.asarray(created, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.float64)
    invited = created if invited is None else np.asarray(invited, dtype=np.float64)
    coop = cr.cooperation[creator]
    aff_c = cr.affinity[creator, category]
    f_seen = cr.total_followers(creator, created)
    p_answer = np.where(cr.is_dormant(creator, invited), 0.03, 0.2 + 0.75 * coop)
    logit = 0.3 + 3.0 * (coop - 0.5) + 2.5 * (aff_c - 0.25) - 0.6 * (np.log10(np.maximum(f_seen, 1.0)) - 4.0)
    p_accept = 1.0 / (1.0 + np.exp(-logit))
    p_deliver = np.where(cr.is_dormant(creator, starts), 0.05, 0.5 + 0.47 * cr.reliability[creator])
    views_exp = cr.expected_real_views(creator, starts)
    gmv_if_delivered = views_exp * CAMPAIGN_LIFT * cr.conversion(creator, starts, category) * AVG_ORDER_VALUE[category]
    expected = p_answer * p_accept * p_deliver * gmv_if_delivered * (1.0 - REFUND_RATE)
    return {"p_answer": p_answer, "p_accept": p_accept, "p_deliver": p_deliver,
            "gmv_if_delivered": gmv_if_delivered, C.EXPECTED_GMV: expected}


def _draw_invitees(
    rng: np.random.Generator,
    cr: LatentCreators,
    camp_country: np.ndarray,
    camp_category: np.ndarray,
    created: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Biased choice of invitees per campaign, vectorised per (country, category).

    Draws with replacement from creators of the campaign's country who joined before
    its creation, with weight ``max_followers ** a * affinity ** b`` (or uniformly, for
    exploration); a weighted draw is kept with probability
    ``(followers at creation / max_followers) ** a`` so the weight is the follower
    count brands saw at that time. Duplicates are dropped and the first ``target``
    distinct creators kept.
    """
    a = SELECTION_EXPONENT
    all_idx = np.arange(cr.n)
    f_join = cr.total_followers(all_idx, cr.joined)
    f_end = cr.total_followers(all_idx, np.full(cr.n, cr.span))
    f_max = np.maximum(f_join, f_end) * (1.0 + cr.fake_multiplier)  # an upper bound over the span
    camp_parts, creator_parts = [], []
    for k in range(len(COUNTRIES)):
        pool = np.flatnonzero(cr.country == k)
        pool = pool[np.argsort(cr.joined[pool], kind="stable")]
        joined_sorted = cr.joined[pool]
        for g in range(len(CATEGORIES)):
            camps = np.flatnonzero((camp_country == k) & (camp_category == g))
            if len(camps) == 0 or len(pool) == 0:
                continue
            eligible = np.searchsorted(joined_sorted, created[camps], side="left")
            want = np.minimum(target[camps], eligible)
            n_draw = np.where(want > 0, np.ceil(want * 3.0).astype(np.int64) + 10, 0)
            camp = np.repeat(camps, n_draw)
            elig = np.repeat(eligible, n_draw)
            cum = np.cumsum(f_max[pool] ** a * (cr.affinity[pool, g] + 0.02) ** AFFINITY_EXPONENT)
            explore = rng.random(len(camp)) < EXPLORATION_SHARE
            u = rng.random(len(camp))
            pos = np.where(
                explore,
                np.floor(u * elig),
                np.searchsorted(cum, u * cum[elig - 1], side="right"),
            ).astype(np.int64)
            pos = np.minimum(pos, elig - 1)
            who = pool[pos]
            ratio = (cr.total_followers(who, created[camp]) / f_max[who]) ** a
            keep = explore | (rng.random(len(camp)) < ratio)
            camp_parts.append(camp[keep])
            creator_parts.append(who[keep])
    if not camp_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    camp = np.concatenate(camp_parts)
    who = np.concatenate(creator_parts)
    # First occurrence of each (campaign, creator) pair, in draw order within the campaign.
    _, first = np.unique(camp * np.int64(cr.n) + who, return_index=True)
    first = np.sort(first)
    camp, who = camp[first], who[first]
    order = np.argsort(camp, kind="stable")
    camp, who = camp[order], who[order]
    group_start = np.searchsorted(camp, camp, side="left")
    rank = np.arange(len(camp)) - group_start
    keep = rank < target[camp]
    return camp[keep], who[keep]


# --------------------------------------------------------------------------- main entry


AUTO_CHUNK_ABOVE = 200_000  # markets of more creators are generated in chunks unless told otherwise
AUTO_CREATORS_PER_CHUNK = 50_000  # about 5M posts per chunk at the default posting rate


def creators_per_chunk_for(n_creators: int, creators_per_chunk: int | None = None) -> int:
    """How many creators one chunk of the bulk (posts and orders) holds.

    Parameters
    ----------
    n_creators : int
        Creators in the market.
    creators_per_chunk : int, optional
        The chunk size asked for (>= 1); default: all creators (one chunk) up to
        :data:`AUTO_CHUNK_ABOVE` creators, :data:`AUTO_CREATORS_PER_CHUNK` above.

    Returns
    -------
    int
        Creators per chunk, at most ``n_creators``.
    """
    if creators_per_chunk is None:
        return n_creators if n_creators <= AUTO_CHUNK_ABOVE else AUTO_CREATORS_PER_CHUNK
    return min(_check_int(creators_per_chunk, "creators_per_chunk", 1), n_creators)


@dataclass
class _Plan:
    """What the whole market shares and every chunk needs: creators, campaigns and invitations
    (small, held whole), the posting rates, and the delivered invitations (``delivered``, arrays
    per delivered invitation in invitation order). One chunk draws from the market's own ``rng``
    (its organic history already drawn, in ``organic``, before the campaigns: the order of draws
    of an unchunked market); chunk ``k`` of several draws from its own stream."""

    seed: int
    span: float
    start_us: int
    per_chunk: int
    n_chunks: int
    rng: np.random.Generator
    cr: LatentCreators
    creator_ids: pa.Array
    campaign_ids: pa.Array
    lam: np.ndarray
    active_days: np.ndarray
    delivered: dict[str, np.ndarray]
    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    params: dict[str, Any]
    organic: dict[str, Any] | None = None

    def bounds(self, k: int) -> tuple[int, int]:
        """Creator rows ``[lo, hi)`` of chunk ``k``."""
        return k * self.per_chunk, min((k + 1) * self.per_chunk, self.cr.n)

    def prefix(self, k: int) -> str:
        """Id prefix of chunk ``k``'s posts and orders: none for one chunk, else the chunk number
        at a fixed width, so ids sort as the rows do (chunk by chunk, each in time order)."""
        return "" if self.n_chunks == 1 else f"{k:0{len(str(self.n_chunks - 1))}d}"


def _creator_table(
    rng: np.random.Generator, n_creators: int, span: float, start_us: int
) -> tuple[LatentCreators, pa.Array, pd.DataFrame]:
    """Latent creators, their ids and the ``creators`` table (declared category, rate card)."""
    n_cat = len(CATEGORIES)
    cr = LatentCreators(rng, n_creators, span)
    creator_ids = _ids("c", n_creators)
    declared = np.where(rng.random(n_creators) < 0.05, rng.choice(n_cat, n_creators, p=CATEGORY_SHARES), cr.primary)
    declared_null = rng.random(n_creators) < 0.10
    all_idx = np.arange(n_creators)
    rate_card = np.round(
        (25.0 + 0.012 * cr.total_followers(all_idx, np.full(n_creators, span))) * cr.price_factor, 2
    )
    rate_card = np.where(rng.random(n_creators) < 0.25, np.nan, rate_card)
    creators = pd.DataFrame(
        {
            C.CREATOR_ID: _strings(creator_ids),
            C.COUNTRY: _take(pa.array(COUNTRIES), cr.country),
            C.PRIMARY_CATEGORY: _take(pa.array(CATEGORIES), declared, declared_null),
            C.JOINED_AT: _timestamps(start_us, cr.joined),
            C.RATE_CARD_USD: rate_card,
        }
    )
    return cr, creator_ids, creators


def _organic(
    rng: np.random.Generator, cr: LatentCreators, lo: int, hi: int, lam: np.ndarray,
    active_days: np.ndarray, span: float, seed: int,
) -> dict[str, Any]:
    """Organic posts and orders of creators ``lo..hi-1``: Poisson counts over the active
    period, only in active weeks; orders from shoppable posts. Orders' ``o_post`` indexes the
    returned posts."""
    n_posts = rng.poisson(lam[lo:hi])
    p_creator = np.repeat(np.arange(lo, hi), n_posts)
    p_time = cr.joined[p_creator] + rng.random(len(p_creator)) * active_days[p_creator]
    active = _week_active(p_creator, np.floor(p_time / 7.0).astype(np.int64), cr.week_share[p_creator], seed)
    p_creator, p_time = p_creator[active], p_time[active]
    n_org = len(p_creator)
    u = rng.random(n_org)
    p_cat = np.zeros(n_org, dtype=np.int64)
    cum = np.cumsum(cr.affinity[lo:hi], axis=1)
    local = p_creator - lo
    for k in range(len(CATEGORIES) - 1):  # inverse CDF, one category at a time to keep memory flat
        p_cat += u > cum[local, k]
    del u, local
    p_shop = rng.random(n_org) < cr.shoppable_share[p_creator]
    p_cat_null = rng.random(n_org) < 0.05
    org_eng = _engagement(rng, cr, p_creator, p_time, ORGANIC_VIEW_NOISE)
    org_real_views = org_eng[5]

    # Organic orders from shoppable posts.
    shop_idx = np.flatnonzero(p_shop)
    lam_orders = org_real_views[shop_idx] * cr.conversion(p_creator[shop_idx], p_time[shop_idx], p_cat[shop_idx])
    n_orders = rng.poisson(lam_orders)
    o_post = np.repeat(shop_idx, n_orders)
    o_time = p_time[o_post] + rng.exponential(2.5, len(o_post))
    o_gmv = _order_values(rng, p_cat[o_post], len(o_post))
    in_span = o_time <= span
    return {"creator": p_creator, "time": p_time, "cat": p_cat, "cat_null": p_cat_null, "shop": p_shop,
            "eng": org_eng[:5], "o_post": o_post[in_span], "o_time": o_time[in_span], "o_gmv": o_gmv[in_span]}


def _campaign_table(
    rng: np.random.Generator, n_campaigns: int, invitees_per_campaign: float, span: float, start_us: int
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Brands and their campaigns: the arrays the invitations need and the ``campaigns`` table."""
    n_cat = len(CATEGORIES)
    n_brands = max(1, n_campaigns // 10)
    brand_country = rng.choice(len(COUNTRIES), n_brands, p=COUNTRY_SHARES)
    brand_cat = rng.choice(n_cat, n_brands, p=CATEGORY_SHARES)
    brand_activity = rng.lognormal(0.0, 1.0, n_brands)  # a few brands run many campaigns
    brand = rng.choice(n_brands, n_campaigns, p=brand_activity / brand_activity.sum())
    c_cat = np.where(rng.random(n_campaigns) < 0.8, brand_cat[brand], rng.choice(n_cat, n_campaigns, p=CATEGORY_SHARES))
    c_country = np.where(
        rng.random(n_campaigns) < 0.85, brand_country[brand], rng.choice(len(COUNTRIES), n_campaigns, p=COUNTRY_SHARES)
    )
    warmup = min(14.0, span * 0.25)  # let the founding cohort join first
    c_created = np.sort(rng.uniform(warmup, span, n_campaigns))
    c_starts = c_created + rng.uniform(3.0, 21.0, n_campaigns)
    c_ends = c_starts + rng.uniform(14.0, 60.0, n_campaigns)
    target = np.minimum(
        np.round(invitees_per_campaign * _lognormal_mean1(rng, 0.6, n_campaigns)), MAX_INVITEES
    ).astype(np.int64)
    target = np.maximum(target, 1)
    budget = np.round(target * 150.0 * rng.lognormal(0.0, 0.6, n_campaigns), -1)
    budget = np.where(rng.random(n_campaigns) < 0.10, np.nan, budget)
    campaign_ids = _ids("k", n_campaigns)
    campaigns = pd.DataFrame(
        {
            C.CAMPAIGN_ID: _strings(campaign_ids),
            C.BRAND_ID: _take(_ids("b", n_brands), brand),
            C.CATEGORY: _take(pa.array(CATEGORIES), c_cat),
            C.COUNTRY: _take(pa.array(COUNTRIES), c_country),
            C.CREATED_AT: _timestamps(start_us, c_created),
            C.STARTS_AT: _timestamps(start_us, c_starts),
            C.ENDS_AT: _timestamps(start_us, c_ends),
            C.BUDGET_USD: budget,
        }
    )
    arrays = {"ids": campaign_ids, "n_brands": n_brands, "cat": c_cat, "country": c_country,
              "created": c_created, "starts": c_starts, "ends": c_ends, "target": target}
    return arrays, campaigns


def _invitation_tables(
    rng: np.random.Generator, cr: LatentCreators, camp: dict[str, Any], creator_ids: pa.Array,
    span: float, start_us: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Invitations, their truth, and per delivered invitation what its campaign post needs."""
    c_cat, c_created, c_starts, c_ends = camp["cat"], camp["created"], camp["starts"], camp["ends"]
    campaign_ids = camp["ids"]
    i_camp, i_creator = _draw_invitees(rng, cr, camp["country"], c_cat, c_created, camp["target"])
    n_inv = len(i_camp)
    i_time = c_created[i_camp] + rng.uniform(0.0, 3.0, n_inv) * rng.random(n_inv)
    keep = i_time <= span  # a real export has no invitations from the future
    i_camp, i_creator, i_time = i_camp[keep], i_creator[keep], i_time[keep]
    n_inv = len(i_camp)
    cat_i = c_cat[i_camp]
    t_start = c_starts[i_camp]
    coop = cr.cooperation[i_creator]
    f_seen = cr.total_followers(i_creator, c_created[i_camp])
    pair = pair_expected_gmv(cr, i_creator, cat_i, c_created[i_camp], t_start, i_time)
    p_answer, p_accept, p_deliver = pair["p_answer"], pair["p_accept"], pair["p_deliver"]
    gmv_if_delivered = pair["gmv_if_delivered"]
    expected_gmv = pair[C.EXPECTED_GMV]

    answered = rng.random(n_inv) < p_answer
    responded = i_time + np.minimum(rng.exponential(0.3 + 5.0 * (1.0 - coop)), 14.0)
    accepted = answered & (rng.random(n_inv) < p_accept)
    fee = np.round(
        (25.0 + 0.012 * f_seen) * cr.price_factor[i_creator] * rng.lognormal(0.0, 0.15, n_inv), 2
    )
    c_len = c_ends[i_camp] - t_start
    due = np.minimum(
        np.maximum(t_start + rng.uniform(0.3, 0.8, n_inv) * c_len, responded + 1.0), c_ends[i_camp]
    )
    delivered = accepted & (rng.random(n_inv) < p_deliver)
    rel = cr.reliability[i_creator]
    on_time = rng.random(n_inv) < 0.3 + 0.65 * rel
    early = rng.random(n_inv) * np.clip(due - responded, 0.0, 4.0)
    delivered_at = np.where(on_time, due - early, due + rng.exponential(1.0 + 6.0 * (1.0 - rel)))
    quality_c = cr.quality_at(i_creator, t_start)
    p_approve = np.clip(0.2 + 0.55 * rel + 0.2 * np.tanh(np.log(quality_c)), 0.02, 0.98)
    approved = rng.random(n_inv) < p_approve
    camp_post_time = delivered_at + rng.uniform(0.0, 0.5, n_inv)

    # Censor at ``end``: what had not happened yet is unknown.
    answered &= responded <= span
    accepted &= answered
    delivered &= accepted & (delivered_at <= span)
    invitation_ids = _ids("i", n_inv)
    invitations = pd.DataFrame(
        {
            C.INVITATION_ID: _strings(invitation_ids),
            C.CAMPAIGN_ID: _take(campaign_ids, i_camp),
            C.CREATOR_ID: _take(creator_ids, i_creator),
            C.INVITED_AT: _timestamps(start_us, i_time),
            C.RESPONDED_AT: _timestamps(start_us, np.where(answered, responded, np.nan)),
            C.ACCEPTED: _nullable_bool(accepted, ~answered),
            C.FEE_USD: np.where(accepted, fee, np.nan),
            C.DUE_AT: _timestamps(start_us, np.where(accepted, due, np.nan)),
            C.DELIVERED_AT: _timestamps(start_us, np.where(delivered, delivered_at, np.nan)),
            C.APPROVED_FIRST_PASS: _nullable_bool(approved, ~delivered),
        }
    )
    truth = pd.DataFrame(
        {
            C.INVITATION_ID: invitations[C.INVITATION_ID],
            C.CAMPAIGN_ID: invitations[C.CAMPAIGN_ID],
            C.CREATOR_ID: invitations[C.CREATOR_ID],
            C.EXPECTED_GMV: expected_gmv,
            "p_answer": p_answer,
            "p_accept": p_accept,
            "p_deliver": p_deliver,
            "expected_gmv_if_delivered": gmv_if_delivered * (1.0 - REFUND_RATE),
            # Exact times (days since start) behind the truth: the tables hold them floored to the second.
            "invited_day": i_time,
            "created_day": c_created[i_camp],
            "starts_day": t_start,
        }
    )
    d = np.flatnonzero(delivered)
    done = {"creator": i_creator[d], "campaign": i_camp[d], "cat": cat_i[d], "starts": t_start[d],
            "ends": c_ends[i_camp[d]], "post_time": camp_post_time[d], "gmv": gmv_if_delivered[d]}
    return invitations, truth, done


def _plan(
    n_creators: int, n_campaigns: int, seed: int, start: Any, end: Any, posts_per_creator: float,
    invitees_per_campaign: float, creators_per_chunk: int | None,
) -> _Plan:
    """Check the arguments and draw what the whole market shares (see :class:`_Plan`)."""
    n_creators = _check_int(n_creators, "n_creators", 1)
    n_campaigns = _check_int(n_campaigns, "n_campaigns", 1)
    seed = _check_int(seed, "seed", 0)
    start_ts, end_ts = _utc(start, "start"), _utc(end, "end")
    if start_ts >= end_ts:
        _fail(f"start ({start_ts}) must be before end ({end_ts})")
    posts_per_creator = _check_rate(posts_per_creator, "posts_per_creator")
    invitees_per_campaign = _check_rate(invitees_per_campaign, "invitees_per_campaign")
    per_chunk = creators_per_chunk_for(n_creators, creators_per_chunk)
    n_chunks = -(-n_creators // per_chunk)

    rng = np.random.default_rng(seed)
    start_us = int(start_ts.value) // 1000  # Timestamp.value is always nanoseconds
    span = (end_ts - start_ts) / pd.Timedelta(days=1)

    cr, creator_ids, creators = _creator_table(rng, n_creators, span, start_us)
    # Posting rates are scaled over the whole market, so a chunk's expected posts do not depend on chunking.
    active_days = np.maximum(cr.active_end - cr.joined, 0.0)
    weight = cr.post_rate * active_days
    lam = weight * (posts_per_creator * n_creators / max(weight.sum(), 1e-12)) / cr.week_share
    del weight
    # One chunk keeps the order of draws of an unchunked market: its organic history comes first.
    organic = _organic(rng, cr, 0, n_creators, lam, active_days, span, seed) if n_chunks == 1 else None
    camp, campaigns = _campaign_table(rng, n_campaigns, invitees_per_campaign, span, start_us)
    invitations, truth, delivered = _invitation_tables(rng, cr, camp, creator_ids, span, start_us)
    params = {
        "generator_version": GENERATOR_VERSION,
        "n_creators": n_creators,
        "n_campaigns": n_campaigns,
        "seed": seed,
        "start": start_ts.isoformat(),
        "end": end_ts.isoformat(),
        "posts_per_creator": posts_per_creator,
        "invitees_per_campaign": invitees_per_campaign,
        "categories": list(CATEGORIES),
        "category_shares": CATEGORY_SHARES.tolist(),
        "avg_order_value_usd": dict(zip(CATEGORIES, AVG_ORDER_VALUE.tolist())),
        "countries": list(COUNTRIES),
        "country_shares": COUNTRY_SHARES.tolist(),
        "refund_rate": REFUND_RATE,
        "bought_share": BOUGHT_SHARE,
        "dormant_share": DORMANT_SHARE,
        "base_conversion": BASE_CONVERSION,
        "campaign_lift": CAMPAIGN_LIFT,
        "selection_exponent": SELECTION_EXPONENT,
        "exploration_share": EXPLORATION_SHARE,
        "max_invitees": MAX_INVITEES,
        "n_brands": camp["n_brands"],
    }
    if n_chunks > 1:  # an unchunked market's params stay as they were
        params["creators_per_chunk"] = per_chunk
    tables = {C.CREATORS: creators, C.CAMPAIGNS: campaigns, C.INVITATIONS: invitations}
    return _Plan(seed=seed, span=span, start_us=start_us, per_chunk=per_chunk, n_chunks=n_chunks, rng=rng, cr=cr,
                 creator_ids=creator_ids, campaign_ids=camp["ids"], lam=lam, active_days=active_days,
                 delivered=delivered, tables=tables, truth=truth, params=params, organic=organic)


def _chunk(plan: _Plan, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``posts`` and ``orders`` rows of chunk ``k``'s creators (each chunk once, in order)."""
    lo, hi = plan.bounds(k)
    if plan.n_chunks == 1:
        rng, org, plan.organic = plan.rng, plan.organic, None
        if org is None:
            raise RuntimeError("the single chunk of a market is drawn once")
    else:
        # Chunk k's own stream: the same for every run with this seed and chunk size.
        rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(k,)))
        org = _organic(rng, plan.cr, lo, hi, plan.lam, plan.active_days, plan.span, plan.seed)
    return _chunk_tables(plan, k, rng, org)


def _chunk_tables(
    plan: _Plan, k: int, rng: np.random.Generator, org: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Campaign posts and orders of the chunk's delivered invitations, then its ``posts`` and
    ``orders`` tables (organic and campaign rows, each sorted by time, ids in time order)."""
    cr, span, start_us = plan.cr, plan.span, plan.start_us
    creator_ids, campaign_ids = plan.creator_ids, plan.campaign_ids
    lo, hi = plan.bounds(k)
    done = plan.delivered
    mine = np.flatnonzero((done["creator"] >= lo) & (done["creator"] < hi))
    d_camp, d_cat, d_starts, d_ends, d_gmv = (done[key][mine] for key in ("campaign", "cat", "starts", "ends", "gmv"))

    # ---- campaign posts and campaign orders
    cp_time = np.minimum(done["post_time"][mine], span)
    cp_creator = done["creator"][mine]
    cp_eng = _engagement(rng, cr, cp_creator, cp_time, CAMPAIGN_VIEW_NOISE)
    window_start = np.maximum(cp_time, d_starts)
    window_len = d_ends + C.LABEL_SETTLE_DAYS - window_start
    # The post's view noise also scales its sales: a post that flopped sells less.
    mean_orders = np.where(window_len > 0, d_gmv * cp_eng[6] / AVG_ORDER_VALUE[d_cat], 0.0)
    n_cp_orders = rng.poisson(mean_orders)
    co_src = np.repeat(np.arange(len(mine)), n_cp_orders)
    co_time = window_start[co_src] + window_len[co_src] * rng.beta(1.0, 3.0, len(co_src))
    co_gmv = _order_values(rng, d_cat[co_src], len(co_src))
    co_no_post = rng.random(len(co_src)) < 0.10
    in_span = co_time <= span
    co_src, co_time, co_gmv, co_no_post = co_src[in_span], co_time[in_span], co_gmv[in_span], co_no_post[in_span]

    # ---- posts table: organic then campaign rows, sorted by time; ids in time order
    p_creator, n_org, n_cp = org["creator"], len(org["creator"]), len(mine)
    all_creator = np.concatenate([p_creator, cp_creator])
    all_time = np.concatenate([org["time"], cp_time])
    order = np.lexsort((all_creator, all_time))
    rank_of = np.empty(len(order), dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    post_cat = np.concatenate([org["cat"], d_cat])[order]
    post_cat_null = np.concatenate([org["cat_null"], np.zeros(n_cp, bool)])[order]
    post_camp = np.concatenate([np.zeros(n_org, np.int64), d_camp])[order]
    post_camp_null = np.concatenate([np.ones(n_org, bool), np.zeros(n_cp, bool)])[order]
    post_ids = _ids("p" + plan.prefix(k), len(order))
    eng = [np.concatenate([a, b])[order] for a, b in zip(org.pop("eng"), cp_eng[:5])]
    posts = pd.DataFrame(
        {
            C.POST_ID: _strings(post_ids),
            C.CREATOR_ID: _take(creator_ids, all_creator[order]),
            C.POSTED_AT: _timestamps(start_us, all_time[order]),
            C.CATEGORY: _take(pa.array(CATEGORIES), post_cat, post_cat_null),
            C.IS_SHOPPABLE: np.concatenate([org["shop"], np.ones(n_cp, bool)])[order],
            C.CAMPAIGN_ID: _take(campaign_ids, post_camp, post_camp_null),
            C.FOLLOWERS_AT_POST: eng[0],
            C.VIEWS_7D: eng[1],
            C.LIKES_7D: eng[2],
            C.COMMENTS_7D: eng[3],
            C.SHARES_7D: eng[4],
        }
    )
    del eng, post_cat, post_camp, all_time

    # ---- orders table: organic and campaign, sorted by time
    o_post = org["o_post"]
    n_oo, n_co = len(o_post), len(co_src)
    ord_creator = np.concatenate([p_creator[o_post], cp_creator[co_src]])
    ord_time = np.concatenate([org["o_time"], co_time])
    ord_gmv = np.concatenate([org["o_gmv"], co_gmv])
    ord_post = np.concatenate([rank_of[o_post], rank_of[n_org + co_src]])
    ord_post_null = np.concatenate([np.zeros(n_oo, bool), co_no_post])
    ord_camp = np.concatenate([np.zeros(n_oo, np.int64), d_camp[co_src]])
    ord_camp_null = np.concatenate([np.ones(n_oo, bool), np.zeros(n_co, bool)])
    n_ord = n_oo + n_co
    refunded = np.where(rng.random(n_ord) < REFUND_RATE, ord_time + rng.uniform(1.0, 30.0, n_ord), np.nan)
    refunded = np.where(refunded <= span, refunded, np.nan)
    order = np.lexsort((ord_creator, ord_time))
    orders = pd.DataFrame(
        {
            C.ORDER_ID: _strings(_ids("o" + plan.prefix(k), n_ord)),
            C.CREATOR_ID: _take(creator_ids, ord_creator[order]),
            C.CAMPAIGN_ID: _take(campaign_ids, ord_camp[order], ord_camp_null[order]),
            C.POST_ID: _take(post_ids, ord_post[order], ord_post_null[order]),
            C.ORDERED_AT: _timestamps(start_us, ord_time[order]),
            C.GMV_USD: ord_gmv[order],
            C.REFUNDED_AT: _timestamps(start_us, refunded[order]),
        }
    )
    return posts, orders


def generate_market(
    n_creators: int,
    n_campaigns: int,
    seed: int,
    *,
    start: str | pd.Timestamp = "2024-01-01",
    end: str | pd.Timestamp = "2026-01-01",
    posts_per_creator: float = 100.0,
    invitees_per_campaign: float = 50.0,
    creators_per_chunk: int | None = None,
) -> Market:
    """Generate a synthetic marketplace in memory.

    Parameters
    ----------
    n_creators : int
        Number of creators (>= 1).
    n_campaigns : int
        Number of campaigns (>= 1).
    seed : int
        Seed of ``numpy.random.default_rng`` (>= 0). Same arguments, same frames.
    start, end : str or Timestamp, optional
        The simulated span; naive times are UTC. Nothing happens after ``end``.
    posts_per_creator : float, optional
        Mean number of organic posts per creator over the span (> 0).
    invitees_per_campaign : float, optional
        Mean number of invitations a campaign aims for (> 0); capped at 5000 and at
        the number of eligible creators.
    creators_per_chunk : int, optional
        Draw posts and orders chunk by chunk of this many creators (see
        :func:`creators_per_chunk_for` for the default). The market is the one
        :func:`generate_into` writes with the same arguments, rows in its part order.

    Returns
    -------
    Market
        The contract tables, the per-invitation truth, the creator traits and the
        parameters.

    Raises
    ------
    CreatorRankError
        On invalid arguments.
    """
    plan = _plan(n_creators, n_campaigns, seed, start, end, posts_per_creator, invitees_per_campaign,
                 creators_per_chunk)
    chunks = [_chunk(plan, k) for k in range(plan.n_chunks)]
    bulk = {}
    for j, name in enumerate((C.POSTS, C.ORDERS)):
        parts = [chunk[j] for chunk in chunks]
        bulk[name] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    del chunks
    t = plan.tables
    tables = {
        C.CREATORS: t[C.CREATORS],
        C.POSTS: bulk[C.POSTS],
        C.CAMPAIGNS: t[C.CAMPAIGNS],
        C.INVITATIONS: t[C.INVITATIONS],
        C.ORDERS: bulk[C.ORDERS],
    }
    for name, frame in tables.items():  # contract order; a mismatch is a bug here, not user input
        assert list(frame.columns) == CONTRACT[name].column_names, name
    params = {**plan.params, "rows": {name: int(len(frame)) for name, frame in tables.items()}}
    return Market(tables=tables, truth=plan.truth, traits=plan.cr.traits_frame(plan.creator_ids, plan.start_us),
                  params=params)


TRUTH_DIR = "truth"


def _market_entry(name: str) -> bool:
    """Whether a folder entry is part of a generated market (a stale temporary file of an
    interrupted older writer counts too)."""
    own = {f"{table}.{fmt}" for table in C.TABLES for fmt in ("parquet", "csv")} | set(C.TABLES) | {TRUTH_DIR}
    return name in own or any(name.startswith(f".{entry}.") for entry in own)


def check_market_target(out_dir: str | Path) -> Path:
    """Refuse a target that :func:`write_market` must not replace; return it as a Path.

    The market folder is replaced whole, so an existing target may hold only a generated
    market: anything else (``--out .``, a folder of other files) is refused, never deleted.

    Raises
    ------
    CreatorRankError
        One line naming the folder and what it holds.
    """
    out = Path(out_dir)
    if not out.exists():
        return out
    if not out.is_dir():
        _fail(f"{out}: exists and is not a folder")
    resolved, cwd = out.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        _fail(f"{out}: is the current folder or holds it; the market folder is replaced whole, choose a new one")
    foreign = sorted(p.name for p in out.iterdir() if not _market_entry(p.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        _fail(f"{out}: holds files that are not a generated market ({shown}); the market folder is replaced "
              "whole, choose an empty or new folder")
    return out


PART_NAME = "part-{:05d}.parquet"  # zero-padded: path order (the loader's row order) is row order


def _write_table(frame: pd.DataFrame, folder: Path, name: str, fmt: str, rows_per_part: int | None) -> None:
    """One contract table: ``NAME.FMT``, or a folder ``NAME/`` of Parquet parts of at most
    ``rows_per_part`` rows (in row order) when the table is larger than that."""
    if rows_per_part is None or len(frame) <= rows_per_part:
        write_frame(frame, folder / f"{name}.{fmt}")
        return
    _write_parts(frame, folder / name, 0, rows_per_part)


def _write_parts(frame: pd.DataFrame, folder: Path, first: int, rows_per_part: int | None) -> int:
    """Write ``frame`` as parts ``first, first + 1, ...`` of at most ``rows_per_part`` rows
    (one part when None) into ``folder``; return the next part number."""
    step = max(len(frame), 1) if rows_per_part is None else rows_per_part
    for i, start in enumerate(range(0, len(frame), step)):  # one part's Arrow copy at a time
        write_frame(frame.iloc[start:start + step], folder / PART_NAME.format(first + i))
    return first + -(-len(frame) // step)


def write_market(market: Market, out_dir: str | Path, fmt: str = "parquet", rows_per_part: int | None = None) -> Path:
    """Write a market's tables and truth into a folder, whole or not at all.

    The folder is built beside ``out_dir`` and swapped in complete (:func:`core.io.atomic_dir`):
    a killed writer leaves the previous market (or nothing), never some of the tables.

    Parameters
    ----------
    market : Market
        The output of :func:`generate_market`.
    out_dir : str or Path
        Target folder, created if needed; an existing one is replaced whole and may hold only
        a generated market (see :func:`check_market_target`).
    fmt : {"parquet", "csv"}
        Format of the contract tables (CSV timestamps are ISO-8601 UTC). The truth
        is always Parquet.
    rows_per_part : int, optional
        Write every table of more rows as a folder ``NAME/`` of Parquet parts
        ``part-00000.parquet, ...`` of at most this many rows (Parquet only).

    Returns
    -------
    Path
        ``out_dir``. It holds ``NAME.FMT`` (or ``NAME/``) per contract table and ``truth/`` with
        ``invitation_truth.parquet``, ``creator_traits.parquet`` and ``params.json``.

    Raises
    ------
    CreatorRankError
        When ``fmt`` is neither ``parquet`` nor ``csv``, or ``out_dir`` holds other files.
    """
    _check_write_args(fmt, rows_per_part)
    out = check_market_target(out_dir)
    with atomic_dir(out) as tmp:
        for name in C.TABLES:
            _write_table(market.tables[name], tmp, name, fmt, rows_per_part)
        truth = tmp / TRUTH_DIR
        write_frame(market.truth, truth / "invitation_truth.parquet")
        write_frame(market.traits, truth / "creator_traits.parquet")
        write_text(truth / "params.json", json.dumps(market.params, indent=2, sort_keys=True) + "\n")
    return out


def _check_write_args(fmt: str, rows_per_part: int | None) -> None:
    if fmt not in ("parquet", "csv"):
        _fail(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    if rows_per_part is not None and (fmt != "parquet" or rows_per_part < 1):
        _fail(f"rows_per_part needs fmt 'parquet' and at least 1 row, got {rows_per_part!r} with {fmt!r}")


def generate_into(
    out_dir: str | Path,
    n_creators: int,
    n_campaigns: int,
    seed: int,
    *,
    fmt: str = "parquet",
    rows_per_part: int | None = None,
    creators_per_chunk: int | None = None,
    **market_args: Any,
) -> dict[str, int]:
    """Generate a market straight into a folder, chunk by chunk of creators, whole or not at all.

    Creators, campaigns, invitations and the truth are drawn and written whole (they are small);
    posts and orders are drawn per chunk of ``creators_per_chunk`` creators and each chunk is
    written as Parquet part(s) of ``posts/`` and ``orders/`` before the next is drawn, so memory
    is bounded by a chunk, not by the market. The files hold exactly
    ``generate_market(n_creators, n_campaigns, seed, creators_per_chunk=..., **market_args)``,
    rows in part order; one chunk is that market passed to :func:`write_market`.

    Parameters
    ----------
    out_dir : str or Path
        Target folder, as for :func:`write_market`.
    n_creators, n_campaigns, seed, **market_args
        As for :func:`generate_market` (``start``, ``end``, ``posts_per_creator``,
        ``invitees_per_campaign``).
    fmt : {"parquet", "csv"}
        Table format; several chunks need Parquet.
    rows_per_part : int, optional
        At most this many rows per Parquet part (a chunk may be split into several parts;
        ``creators``, ``campaigns`` and ``invitations`` become folders when larger).
    creators_per_chunk : int, optional
        Creators per chunk; default one chunk up to :data:`AUTO_CHUNK_ABOVE` creators and
        :data:`AUTO_CREATORS_PER_CHUNK` above (:func:`creators_per_chunk_for`).

    Returns
    -------
    dict of str to int
        Rows written per contract table.

    Raises
    ------
    CreatorRankError
        On invalid arguments, CSV with several chunks, or an ``out_dir`` holding other files.
    """
    _check_write_args(fmt, rows_per_part)
    unknown = sorted(set(market_args) - {"start", "end", "posts_per_creator", "invitees_per_campaign"})
    if unknown:
        _fail(f"unknown argument {unknown[0]!r}")
    n = _check_int(n_creators, "n_creators", 1)
    if creators_per_chunk_for(n, creators_per_chunk) >= n:
        check_market_target(out_dir)  # refused before any work
        market = generate_market(n, n_campaigns, seed, creators_per_chunk=creators_per_chunk, **market_args)
        write_market(market, out_dir, fmt=fmt, rows_per_part=rows_per_part)
        return dict(market.params["rows"])
    if fmt != "parquet":
        _fail(f"{n:,} creators in chunks of {creators_per_chunk_for(n, creators_per_chunk):,} need fmt 'parquet' "
              f"(CSV is written in one chunk: creators_per_chunk >= {n})")
    out = check_market_target(out_dir)
    plan = _plan(n, n_campaigns, seed, market_args.pop("start", "2024-01-01"), market_args.pop("end", "2026-01-01"),
                 market_args.pop("posts_per_creator", 100.0), market_args.pop("invitees_per_campaign", 50.0),
                 creators_per_chunk)
    rows = {name: int(len(frame)) for name, frame in plan.tables.items()}
    _log.info("%s creators, %s campaigns, %s invitations drawn; posts and orders in %d chunks of %s creators",
              f"{n:,}", f"{rows[C.CAMPAIGNS]:,}", f"{rows[C.INVITATIONS]:,}", plan.n_chunks, f"{plan.per_chunk:,}")
    with atomic_dir(out) as tmp:
        for name, frame in plan.tables.items():
            _write_table(frame, tmp, name, fmt, rows_per_part)
        truth = tmp / TRUTH_DIR
        write_frame(plan.truth, truth / "invitation_truth.parquet")
        write_frame(plan.cr.traits_frame(plan.creator_ids, plan.start_us), truth / "creator_traits.parquet")
        plan.tables, plan.truth = {}, None  # written: free them before the bulk
        parts = {C.POSTS: 0, C.ORDERS: 0}
        rows.update({C.POSTS: 0, C.ORDERS: 0})
        clock = time.monotonic()
        for k in range(plan.n_chunks):
            for name, frame in zip((C.POSTS, C.ORDERS), _chunk(plan, k)):
                if len(frame):  # an empty chunk adds no part
                    parts[name] = _write_parts(frame, tmp / name, parts[name], rows_per_part)
                elif k == plan.n_chunks - 1 and parts[name] == 0:  # a table of no rows still has its schema
                    write_frame(frame, tmp / name / PART_NAME.format(0))
                    parts[name] = 1
                rows[name] += len(frame)
            lo, hi = plan.bounds(k)
            _log.info("chunk %d/%d (creators %s-%s) written: %s posts, %s orders so far, %.1f s",
                      k + 1, plan.n_chunks, f"{lo:,}", f"{hi - 1:,}", f"{rows[C.POSTS]:,}", f"{rows[C.ORDERS]:,}",
                      time.monotonic() - clock)
        params = {**plan.params, "rows": {name: rows[name] for name in C.TABLES}}
        write_text(truth / "params.json", json.dumps(params, indent=2, sort_keys=True) + "\n")
    return params["rows"]
