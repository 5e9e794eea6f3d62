"""A contract market built from real YouTube trending data (tests/data/youtube_trending_2017).

Real, kept as it is
-------------------
``USvideos.csv`` holds 7,998 daily snapshots (13 Sep - 22 Oct 2017) of 2,335 trending videos of
1,230 channels (see ``tests/data/youtube_trending_2017/SOURCE.md``). Every real value reaches the
market unchanged:

* **creators** are channels: ``creator_id`` is ``channel_title`` exactly as written (non-ASCII
  kept; a channel renamed during the period, e.g. ``Botingol`` / ``Botingol TV``, is two creators).
* **posts** are videos: ``post_id`` is ``video_id`` as written, spreadsheet damage included: 30
  different videos carry the id ``#NAME?`` (ids that began with ``-`` or ``=`` were turned into a
  formula error by a spreadsheet), and three videos appear under two channel names. A video is
  the rows of one (``video_id``, ``channel_title``) pair, and for ``#NAME?`` also of one
  ``title``. So several posts share a ``post_id``, and validation must reject every copy
  (``unique:post_id``) and the orders that point at them.
* **count history**: the rows of a video, in file order, are its daily snapshots. ``posted_at`` is
  the date of its first snapshot (00:00 UTC; the upload time itself is not in this release), and
  ``views_7d``, ``likes_7d``, ``comments_7d`` are ``views``, ``likes``, ``comment_total`` of its
  first snapshot dated at least 7 days after ``posted_at``, or of its last snapshot when it stopped
  trending before that (most videos trend for a few days only). Zero counts (videos whose counts
  YouTube hid), a row with 0 views and 201 comments, and counts that fall back to 0 are kept.
* **dates**: ``date`` is day.month of 2017 written as a float: ``13.09`` is 13 September and
  ``1.1`` is 1 October (``10`` lost its trailing zero). Corrupt dates (``24.09xcaeyJTx4Co``,
  ``26.0903jeumSTSzc``, ``100``) cannot be placed in time: such a snapshot is never used for
  counts (counted in ``RealMarket.notes["unreadable_snapshots"]``); a video none of whose dates
  can be read would keep the raw text as ``posted_at`` so that validation rejects it
  (``type:posted_at``), but this release has none.
* **category**: ``category_id`` mapped to the standard YouTube category names
  (:data:`YOUTUBE_CATEGORIES`, e.g. 24 -> ``entertainment``); ``primary_category`` of a channel is
  its most frequent category (ties: the smaller id).
* The ``title`` of a video is kept as an extra posts column (commas, quotes and emoji exercise the
  CSV reader); the loader ignores it.

Simulated on top (seeded, none of it is real)
---------------------------------------------
* ``country`` is ``US`` for every channel (the set is US trending); ``joined_at`` is 60-1,500 days
  before the channel's first post; ``rate_card_usd`` is declared by 60% of channels, about
  $1 per 1,000 median views with lognormal noise, null for the others.
* ``followers_at_post`` = 1.5 x the channel's median views (over its videos' 7-day counts) x a
  lognormal channel factor, growing 0.1% a day; a video whose real counts are all 0 gets 0
  followers, as a scraper that got nothing back would record. ``shares_7d`` = likes x 5% with
  lognormal noise. ``is_shoppable``: 35% of posts. Posts carry no ``campaign_id``.
* **campaigns**: :data:`N_CAMPAIGNS` briefs of 24 brands in the seven largest categories, created
  uniformly between 1 Oct and 30 Nov 2017, starting 3-10 days later and lasting 14-30 days, budget
  $2k-$20k (null for 10%). All are complete (``ends_at + 14 days``) before :data:`TRAIN_UNTIL`.
* **invitations**: about 40 channels per campaign, as brands invite: weight ~ median views^0.6,
  doubled in the campaign's category, plus 25% uniform exploration, so most channels are never
  invited. Answer 75%, within 1-72 h; accept 60%; fee near the rate card; due 7 days after the
  start; delivered 85% (a fifth of those late); approved on first pass 80%.
* **orders**: a delivered invitation sells ~ Poisson(0.01 x median views^0.5 x lognormal noise)
  orders of lognormal value (mean ~$35) between ``starts_at`` and ``ends_at + 14 days``, without a
  ``post_id``; shoppable posts sell organic orders ~ Poisson(views_7d / 100,000) within 14 days of
  posting, with the post's (real) ``post_id``. 5% of orders are refunded 1-10 days later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from creatorrank.core import constants as C

SOURCE = Path(__file__).resolve().parent / "data" / "youtube_trending_2017" / "USvideos.csv"
SEED = 2017
YEAR = 2017
N_CAMPAIGNS = 60
N_BRANDS = 24
INVITEES = 40
TRAIN_UNTIL = "2018-01-31T00:00:00Z"  # every simulated campaign is complete (ends_at + 14 days) by then
NOW = "2018-02-01T00:00:00Z"  # validation time: nothing in the market lies after it
# The standard YouTube video category ids (YouTube Data API, videoCategories, region US).
YOUTUBE_CATEGORIES = {
    "1": "film_animation", "2": "autos_vehicles", "10": "music", "15": "pets_animals", "17": "sports",
    "19": "travel_events", "20": "gaming", "22": "people_blogs", "23": "comedy", "24": "entertainment",
    "25": "news_politics", "26": "howto_style", "27": "education", "28": "science_technology",
    "29": "nonprofits_activism", "43": "shows",
}
CAMPAIGN_CATEGORIES = ("entertainment", "music", "people_blogs", "howto_style", "comedy", "news_politics",
                       "science_technology")
_DAY_MONTH = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
_DAY = pd.Timedelta(days=1)


@dataclass
class RealMarket:
    """The market folder and what building it found.

    Attributes
    ----------
    path : Path
        Folder holding the five contract tables as CSV.
    tables : dict of str to DataFrame
        The tables as written (timestamps as datetimes, ``posted_at`` as text).
    notes : dict
        Counts of the build: source rows, unreadable snapshots, posts sharing a ``post_id``...
    """

    path: Path
    tables: dict[str, pd.DataFrame]
    notes: dict = field(default_factory=dict)


def parse_day_month(text: pd.Series) -> pd.Series:
    """Parse the release's ``date`` ("13.09", "1.1") as a 2017 UTC day; unreadable text -> NaT."""
    parts = text.str.extract(_DAY_MONTH)
    month = parts[1].map({"09": 9, "9": 9, "1": 10, "10": 10})  # "10" written as a float is "1"
    day = pd.to_numeric(parts[0], errors="coerce")
    frame = pd.DataFrame({"year": YEAR, "month": month, "day": day})
    ok = frame.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    out[ok] = pd.to_datetime(frame[ok].astype(int), errors="coerce", utc=True)
    return out


def read_source(path: Path = SOURCE) -> pd.DataFrame:
    """USvideos.csv as text, every value as written; a missing file is a hard failure."""
    assert path.is_file(), f"{path} is missing: the repository must hold tests/data/youtube_trending_2017"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    raw["source_row"] = np.arange(1, len(raw) + 1)
    raw["day"] = parse_day_month(raw["date"])
    for col in ("views", "likes", "comment_total"):
        raw[col] = pd.to_numeric(raw[col]).astype("int64")
    return raw


def _video_key(raw: pd.DataFrame) -> pd.Series:
    """One video per (video_id, channel_title), and per title for the damaged id ``#NAME?``."""
    title = raw["title"].where(raw["video_id"] == "#NAME?", "")
    return raw["video_id"] + "\x1f" + raw["channel_title"] + "\x1f" + title


def _posts(raw: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per video: its first snapshot's date and its 7-day (or last) counts."""
    raw = raw.assign(video=_video_key(raw))
    first = raw.groupby("video", sort=False).head(1).set_index("video")
    readable = raw[raw["day"].notna()]
    start = readable.groupby("video", sort=False)["day"].transform("first")
    late = readable[readable["day"] >= start + 7 * _DAY].groupby("video", sort=False).head(1)
    last = readable.groupby("video", sort=False).tail(1)
    chosen = pd.concat([late, last[~last["video"].isin(late["video"])]]).set_index("video")
    posts = first[["video_id", "channel_title", "category_id", "title", "source_row", "date", "day"]].copy()
    posts["posted_at"] = np.where(posts["day"].notna(), posts["day"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  posts["date"])  # no readable date at all: the raw text passes through
    for src, dst in (("views", C.VIEWS_7D), ("likes", C.LIKES_7D), ("comment_total", C.COMMENTS_7D)):
        posts[dst] = chosen[src].reindex(posts.index).fillna(0).astype("int64")
    posts[C.SHARES_7D] = np.round(posts[C.LIKES_7D] * 0.05 * rng.lognormal(0, 0.5, len(posts))).astype("int64")
    posts[C.IS_SHOPPABLE] = rng.random(len(posts)) < 0.35
    return posts.reset_index(drop=True)


def _creators(posts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per channel; everything but the id and the category is simulated."""
    by = posts.groupby("channel_title", sort=True)
    first_day = by["day"].min()
    median_views = by[C.VIEWS_7D].median()
    pairs = posts.groupby(["channel_title", "category_id"]).size().rename("n").reset_index()
    pairs["id"] = pairs["category_id"].astype(int)
    mode_id = (pairs.sort_values(["channel_title", "n", "id"], ascending=[True, False, True], kind="stable")
               .groupby("channel_title").head(1).set_index("channel_title")["category_id"]
               .reindex(first_day.index))  # most frequent category, ties to the smaller id
    n = len(first_day)
    rate = np.round(median_views.to_numpy() / 1000 * rng.lognormal(0, 0.5, n) + 20, 2)
    creators = pd.DataFrame({
        C.CREATOR_ID: first_day.index,
        C.COUNTRY: "US",
        C.PRIMARY_CATEGORY: mode_id.map(YOUTUBE_CATEGORIES).to_numpy(),
        C.JOINED_AT: (first_day - pd.to_timedelta(rng.integers(60, 1500, n), unit="D")).to_numpy(),
        C.RATE_CARD_USD: np.where(rng.random(n) < 0.6, rate, np.nan),
    })
    creators["_median_views"] = median_views.to_numpy()
    creators["_followers"] = np.round(1.5 * np.maximum(median_views.to_numpy(), 100) * rng.lognormal(0, 0.6, n))
    return creators


def _followers(posts: pd.DataFrame, creators: pd.DataFrame) -> np.ndarray:
    base = posts["channel_title"].map(creators.set_index(C.CREATOR_ID)["_followers"]).to_numpy()
    days = ((posts["day"] - pd.Timestamp(f"{YEAR}-09-01", tz="UTC")) / _DAY).fillna(0).to_numpy()
    followers = np.round(base * (1 + 0.001 * days))
    all_zero = (posts[[C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D]] == 0).all(axis=1).to_numpy()
    return np.where(all_zero, 0, followers).astype("int64")


def _campaigns(rng: np.random.Generator) -> pd.DataFrame:
    n = N_CAMPAIGNS
    created = pd.Timestamp(f"{YEAR}-10-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 60, n), unit="D").round("h")
    starts = created + pd.to_timedelta(rng.integers(3, 11, n), unit="D")
    ends = starts + pd.to_timedelta(rng.integers(14, 31, n), unit="D")
    budget = np.round(rng.uniform(2000, 20000, n), -2)
    return pd.DataFrame({
        C.CAMPAIGN_ID: [f"yt-k{i:03d}" for i in range(n)],
        C.BRAND_ID: [f"yt-b{b:02d}" for b in rng.integers(0, N_BRANDS, n)],
        C.CATEGORY: rng.choice(CAMPAIGN_CATEGORIES, n),
        C.COUNTRY: "US",
        C.CREATED_AT: created,
        C.STARTS_AT: starts,
        C.ENDS_AT: ends,
        C.BUDGET_USD: np.where(rng.random(n) < 0.1, np.nan, budget),
    }).sort_values(C.CREATED_AT, kind="stable").reset_index(drop=True)


def _invitations(campaigns: pd.DataFrame, creators: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Brands invite mostly big channels of their category: the selection bias of real briefs."""
    size = np.maximum(creators["_median_views"].to_numpy(), 1.0) ** 0.6
    rows = []
    for k in campaigns.itertuples(index=False):
        w = size * np.where(creators[C.PRIMARY_CATEGORY].to_numpy() == k.category, 2.0, 1.0)
        p = 0.75 * w / w.sum() + 0.25 / len(w)
        chosen = rng.choice(len(w), size=INVITEES, replace=False, p=p)
        invited = k.created_at + pd.to_timedelta(rng.uniform(1, 48, INVITEES), unit="h").round("min")
        answered = rng.random(INVITEES) < 0.75
        accepted = answered & (rng.random(INVITEES) < 0.6)
        delivered = accepted & (rng.random(INVITEES) < 0.85)
        due = k.starts_at + pd.Timedelta(days=7)
        late = rng.random(INVITEES) < 0.2
        offset = np.where(late, rng.uniform(1, 5, INVITEES), -rng.uniform(0, 6, INVITEES))
        rate = creators[C.RATE_CARD_USD].to_numpy()[chosen]
        fee = np.where(np.isnan(rate), 50 + creators["_median_views"].to_numpy()[chosen] / 1000, rate)
        rows.append(pd.DataFrame({
            C.CAMPAIGN_ID: k.campaign_id,
            C.CREATOR_ID: creators[C.CREATOR_ID].to_numpy()[chosen],
            C.INVITED_AT: invited,
            C.RESPONDED_AT: (invited + pd.to_timedelta(rng.uniform(1, 72, INVITEES), unit="h").round("min")).where(answered),
            C.ACCEPTED: pd.array(np.where(answered, accepted, pd.NA), dtype="boolean"),
            C.FEE_USD: np.where(accepted, np.round(fee * rng.uniform(0.8, 1.1, INVITEES), 2), np.nan),
            C.DUE_AT: pd.Series(due, index=range(INVITEES)).where(accepted),
            C.DELIVERED_AT: (due + pd.to_timedelta(offset, unit="D").round("h")).where(delivered),
            C.APPROVED_FIRST_PASS: pd.array(np.where(delivered, rng.random(INVITEES) < 0.8, pd.NA), dtype="boolean"),
        }))
    inv = pd.concat(rows, ignore_index=True)
    inv.insert(0, C.INVITATION_ID, [f"yt-i{i:05d}" for i in range(len(inv))])
    return inv


def _order_rows(rng, creator, campaign, post, start, span_days) -> pd.DataFrame:
    n = len(creator)
    ordered = start + pd.to_timedelta(rng.uniform(0, 1, n) * span_days * 86400, unit="s").round("s")
    refunded = ordered + pd.to_timedelta(rng.uniform(1, 10, n), unit="D").round("h")
    return pd.DataFrame({
        C.CREATOR_ID: creator, C.CAMPAIGN_ID: campaign, C.POST_ID: post, C.ORDERED_AT: ordered,
        C.GMV_USD: np.round(rng.lognormal(np.log(30), 0.6, n), 2),
        C.REFUNDED_AT: pd.Series(refunded).where(rng.random(n) < 0.05).to_numpy(),
    })


def _orders(campaigns, invitations, creators, posts, rng) -> pd.DataFrame:
    """Campaign orders of delivered invitations, driven by views; organic orders of shoppable posts."""
    inv = invitations[invitations[C.DELIVERED_AT].notna()].merge(
        campaigns[[C.CAMPAIGN_ID, C.STARTS_AT, C.ENDS_AT]], on=C.CAMPAIGN_ID)
    views = inv[C.CREATOR_ID].map(creators.set_index(C.CREATOR_ID)["_median_views"]).to_numpy()
    lam = 0.01 * np.sqrt(np.maximum(views, 0)) * rng.lognormal(0, 0.5, len(inv))
    n = rng.poisson(lam)
    rep = np.repeat(np.arange(len(inv)), n)
    span = ((inv[C.ENDS_AT] - inv[C.STARTS_AT]) / _DAY + C.LABEL_SETTLE_DAYS).to_numpy()[rep]
    campaign = _order_rows(rng, inv[C.CREATOR_ID].to_numpy()[rep], inv[C.CAMPAIGN_ID].to_numpy()[rep],
                           None, pd.DatetimeIndex(inv[C.STARTS_AT].to_numpy()[rep]), span)
    shop = posts[posts[C.IS_SHOPPABLE] & posts["day"].notna()]
    n = rng.poisson(shop[C.VIEWS_7D].to_numpy() / 100_000)
    rep = np.repeat(np.arange(len(shop)), n)
    organic = _order_rows(rng, shop["channel_title"].to_numpy()[rep], None, shop["video_id"].to_numpy()[rep],
                          pd.DatetimeIndex(shop["day"].to_numpy()[rep]), 14.0)
    orders = pd.concat([campaign, organic], ignore_index=True).sort_values(C.ORDERED_AT, kind="stable")
    orders.insert(0, C.ORDER_ID, [f"yt-o{i:06d}" for i in range(len(orders))])
    return orders.reset_index(drop=True)


def build_real_market(out_dir: str | Path, source: Path = SOURCE, seed: int = SEED) -> RealMarket:
    """Write the YouTube market into ``out_dir`` as CSV; same seed, same files.

    Parameters
    ----------
    out_dir : str or Path
        Target folder (created).
    source : Path, optional
        The release's ``USvideos.csv``.
    seed : int, optional
        Seed of everything simulated.

    Returns
    -------
    RealMarket
    """
    rng = np.random.default_rng(seed)
    raw = read_source(source)
    posts = _posts(raw, rng)
    creators = _creators(posts, rng)
    posts[C.FOLLOWERS_AT_POST] = _followers(posts, creators)
    campaigns = _campaigns(rng)
    invitations = _invitations(campaigns, creators, rng)
    orders = _orders(campaigns, invitations, creators, posts, rng)
    posts_out = pd.DataFrame({
        C.POST_ID: posts["video_id"], C.CREATOR_ID: posts["channel_title"], C.POSTED_AT: posts["posted_at"],
        C.CATEGORY: posts["category_id"].map(YOUTUBE_CATEGORIES), C.IS_SHOPPABLE: posts[C.IS_SHOPPABLE],
        C.CAMPAIGN_ID: None, **{c: posts[c] for c in (C.FOLLOWERS_AT_POST, C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D,
                                                      C.SHARES_7D)},
        "title": posts["title"], "source_row": posts["source_row"],
    })
    tables = {
        C.CREATORS: creators.drop(columns=["_median_views", "_followers"]),
        C.POSTS: posts_out, C.CAMPAIGNS: campaigns, C.INVITATIONS: invitations, C.ORDERS: orders,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ", encoding="utf-8")
    dup = posts_out[C.POST_ID].duplicated(keep=False)
    notes = {
        "source_rows": len(raw),
        "unreadable_snapshots": int(raw["day"].isna().sum()),
        "videos": len(posts_out),
        "channels": len(creators),
        "posts_sharing_an_id": int(dup.sum()),
        "shared_ids": int(posts_out.loc[dup, C.POST_ID].nunique()),
        "posts_without_readable_date": int(posts["day"].isna().sum()),
        "invited_channels": int(invitations[C.CREATOR_ID].nunique()),
    }
    return RealMarket(out, tables, notes)
