"""Brute-force oracle of the feature engine: slow, obvious, independent.

For every decision (creator, ``T``) this module walks the creator's rows in plain Python and
keeps those the data contract says are known strictly before ``T``; then it computes each
feature as its spec describes. It shares no logic with :mod:`creatorrank.features.engine` (no
event streams, no prefix sums, no binary searches): the two agreeing is the test that the
engine's set-based tricks are right. Only the rule constants of
:mod:`creatorrank.features.specs` are shared. It lives with the tests, outside the package: the
product never needs it.

Use it on small markets only (it costs O(decisions x history) Python steps, plus the peers
of every reference month).
"""

from __future__ import annotations

import hashlib
import math
import statistics
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from creatorrank.core import constants as C
from creatorrank.features import specs as S

US_PER_DAY = 86_400 * 1_000_000
NAN = float("nan")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _to_us(value) -> int | None:
    """A timestamp as integer microseconds since the epoch (None when missing)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)


def _val(value):
    """A cell as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _us_of(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def monday_of(us: int) -> int:
    """00:00 UTC of the Monday starting the calendar week of ``us``."""
    dt = _dt(us)
    day = datetime(dt.year, dt.month, dt.day, tzinfo=timezone.utc) - timedelta(days=dt.weekday())
    return _us_of(day)


def month_start_of(us: int) -> int:
    """00:00 UTC of the first day of the calendar month of ``us``."""
    dt = _dt(us)
    return _us_of(datetime(dt.year, dt.month, 1, tzinfo=timezone.utc))


def _median(values):
    return float(statistics.median(values)) if values else NAN


def _fit_prior(pairs, fallback):
    """Method-of-moments Beta prior of the raw rates k / n of the pairs with n > 0 (see specs)."""
    rates = [k / n for k, n in pairs if n > 0]
    if len(rates) < S.MIN_PRIOR_PEERS:
        return fallback
    m = math.fsum(rates) / len(rates)
    v = math.fsum((r - m) * (r - m) for r in rates) / len(rates)
    lo, hi = S.PRIOR_STRENGTH
    strength = hi if v <= 0.0 else min(max(m * (1.0 - m) / v - 1.0, lo), hi)
    return (m * strength, (1.0 - m) * strength)


def _smoothed(k, n, prior):
    """(k + a) / (n + a + b); NaN without trials."""
    if n <= 0:
        return NAN
    a, b = prior
    return (k + a) / (n + a + b)


def _jump_of(previous_followers: list, f: int) -> float | None:
    """A post's follower jump against the median of the last posts with followers before it."""
    if f <= 0:
        return None
    baseline = [x for x in previous_followers if x > 0][-S.JUMP_BASELINE_POSTS:]
    if not baseline:
        return None
    return min(f / statistics.median(baseline), S.JUMP_CAP)


def _percentile(peers: list, x) -> float:
    """Mid-rank percentile of x among peers: share below plus half the share equal."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NAN
    values = [v for v in peers if not math.isnan(v)]
    if not values:
        return NAN  # no peers: nothing to compare with
    below = sum(1 for v in values if v < x)
    equal = sum(1 for v in values if v == x)
    if equal == len(values):
        return NAN  # tied with every peer: no rank
    return 100.0 * (below + 0.5 * equal) / len(values)


def _oriented(x: float, how: str) -> float:
    if how == "+":
        return x
    if how == "-":
        return -x
    return -abs(x - 50.0)  # "centre"


def _band(followers) -> int | None:
    if followers is None or math.isnan(followers):
        return None
    return sum(1 for edge in S.FOLLOWER_BANDS if followers >= edge)


class ReferenceMarket:
    """The tables as per-creator lists of plain records."""

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self.creators = {}
        for row in tables[C.CREATORS].to_dict("records"):
            self.creators[str(row[C.CREATOR_ID])] = {
                "country": _val(row[C.COUNTRY]),
                "primary": _val(row[C.PRIMARY_CATEGORY]),
                "joined": _to_us(row[C.JOINED_AT]),
                "rate": _val(row[C.RATE_CARD_USD]),
            }
        post_category = {}
        self.posts: dict[str, list] = {}
        for row in tables[C.POSTS].to_dict("records"):
            post_category[str(row[C.POST_ID])] = _val(row[C.CATEGORY])
            self.posts.setdefault(str(row[C.CREATOR_ID]), []).append(
                {
                    "t": _to_us(row[C.POSTED_AT]),
                    "cat": _val(row[C.CATEGORY]),
                    "shop": bool(row[C.IS_SHOPPABLE]),
                    "f": int(row[C.FOLLOWERS_AT_POST]),
                    "v": int(row[C.VIEWS_7D]),
                    # engagement counts at most the post's views (a glitch cannot exceed them)
                    "e": min(int(row[C.LIKES_7D]) + int(row[C.COMMENTS_7D]) + int(row[C.SHARES_7D]),
                             int(row[C.VIEWS_7D])),
                }
            )
        campaign_category = {str(r[C.CAMPAIGN_ID]): _val(r[C.CATEGORY]) for r in tables[C.CAMPAIGNS].to_dict("records")}
        self.orders: dict[str, list] = {}
        for row in tables[C.ORDERS].to_dict("records"):
            post, campaign = _val(row[C.POST_ID]), _val(row[C.CAMPAIGN_ID])
            category = post_category.get(str(post)) if post is not None else None
            if category is None and campaign is not None:
                category = campaign_category.get(str(campaign))
            self.orders.setdefault(str(row[C.CREATOR_ID]), []).append(
                {
                    "t": _to_us(row[C.ORDERED_AT]),
                    "cents": round(float(row[C.GMV_USD]) * S.CENTS_PER_USD),
                    "campaign": campaign is not None,
                    "cat": category,
                    "refunded": _to_us(row[C.REFUNDED_AT]),
                }
            )
        self.invitations: dict[str, list] = {}
        for row in tables[C.INVITATIONS].to_dict("records"):
            self.invitations.setdefault(str(row[C.CREATOR_ID]), []).append(
                {
                    "invited": _to_us(row[C.INVITED_AT]),
                    "responded": _to_us(row[C.RESPONDED_AT]),
                    "accepted": _val(row[C.ACCEPTED]) is True,
                    "fee": _val(row[C.FEE_USD]),
                    "due": _to_us(row[C.DUE_AT]),
                    "delivered": _to_us(row[C.DELIVERED_AT]),
                    "first_pass": _val(row[C.APPROVED_FIRST_PASS]) is True,
                }
            )
        self._cache: dict = {}

    # ------------------------------------------------------------------ one creator at T

    def raw(self, cid: str, T: int, category) -> dict:
        """Every peer-free feature of creator ``cid`` at ``T`` (category None: no campaign)."""
        key = (cid, T, category)
        if key not in self._cache:
            self._cache[key] = self._raw(cid, T, category)
        return self._cache[key]

    def _raw(self, cid, T, category):
        day = US_PER_DAY
        f: dict = {}
        creator = self.creators.get(cid)

        # ---- posts: a post is known from posted_at
        posts = sorted(self.posts.get(cid, []), key=lambda p: (p["t"], p["f"]))
        known = [p for p in posts if p["t"] < T]
        f["posts_seen"] = float(len(known))
        for d in (30, 90, 365):
            f[f"posts_{d}d"] = float(sum(1 for p in known if p["t"] >= T - d * day))
        shop90 = sum(1 for p in known if p["t"] >= T - 90 * day and p["shop"])
        shop365 = sum(1 for p in known if p["t"] >= T - 365 * day and p["shop"])
        f["_rate_inputs"] = rates = {}  # rate -> (successes, trials); the month's prior comes later
        rates["shoppable_share_90d"] = (shop90, f["posts_90d"])
        f["idx_diligence_evidence"] = f["posts_90d"]
        f["shoppable_posts_per_week_90d"] = shop90 / (90.0 / 7.0)
        this_week = monday_of(T)
        first_week = this_week - S.ACTIVE_WEEKS * 7 * day
        weeks = {monday_of(p["t"]) for p in known if first_week <= p["t"] < this_week}
        f["active_weeks_share_13w"] = len(weeks) / S.ACTIVE_WEEKS

        # ---- 7-day counts: known at posted_at + 7 days
        def counted(days):
            return [p for p in posts if T - days * day <= p["t"] + 7 * day < T]

        c90, c365 = counted(90), counted(365)
        views90 = float(sum(p["v"] for p in c90))
        eng90 = float(sum(p["e"] for p in c90))
        with_followers = [p for p in c90 if p["f"] > 0]  # ratios per follower: posts with followers only
        foll90 = float(sum(p["f"] for p in with_followers))
        views365 = float(sum(p["v"] for p in c365))
        f["median_views_90d"] = _median([p["v"] for p in c90])
        f["views_90d"] = views90
        rates["engagement_rate_90d"] = (eng90, views90)
        f["views_per_follower_90d"] = float(sum(p["v"] for p in with_followers)) / foll90 if foll90 else NAN
        f["_epv"] = eng90 / views90 if views90 else NAN
        f["_epf"] = float(sum(p["e"] for p in with_followers)) / foll90 if foll90 else NAN
        f["idx_content_evidence"] = float(len(c90))
        f["idx_authenticity_evidence"] = float(sum(1 for p in c90 if p["v"] > 0))

        def followers_before(q):
            before = [p for p in posts if p["t"] < q]
            return float(before[-1]["f"]) if before else NAN

        followers = followers_before(T)
        f["followers"] = followers
        f["_band"] = _band(followers)
        for d in (30, 90):
            then = followers_before(T - d * day)
            f[f"follower_growth_{d}d"] = NAN if math.isnan(then) else followers / max(then, 1.0) - 1.0
        jumps = [
            _jump_of([p["f"] for p in known[:i]], known[i]["f"])
            for i in range(len(known))
            if known[i]["t"] >= T - 365 * day
        ]
        jumps = [j for j in jumps if j is not None]
        f["max_follower_jump_365d"] = max(jumps) if jumps else NAN
        f["days_since_last_post"] = (T - known[-1]["t"]) / day if known else NAN

        # ---- orders from ordered_at, refunds from refunded_at
        orders = [o for o in self.orders.get(cid, []) if o["t"] < T]
        recent = [o for o in orders if o["t"] >= T - 365 * day]
        gmv365 = sum(o["cents"] for o in recent) / S.CENTS_PER_USD
        f["gmv_365d"] = gmv365
        f["gmv_per_shoppable_post_365d"] = gmv365 / shop365 if shop365 else NAN
        f["gmv_per_1k_views_365d"] = 1000.0 * gmv365 / views365 if views365 else NAN
        f["campaign_gmv_365d"] = sum(o["cents"] for o in recent if o["campaign"]) / S.CENTS_PER_USD
        f["organic_gmv_365d"] = sum(o["cents"] for o in recent if not o["campaign"]) / S.CENTS_PER_USD
        refunds = sum(1 for o in self.orders.get(cid, []) if o["refunded"] is not None and o["refunded"] < T)
        rates["refund_rate"] = (refunds, len(orders))
        f["orders_seen"] = float(len(orders))
        f["idx_sales_evidence"] = f["posts_365d"] + len(recent)

        # ---- invitations: the state of each one as known at T
        within7 = decided = ignored = answered = accepted = 0
        settled = delivered = on_time = first_pass = received = 0
        hours, fees = [], []
        for inv in self.invitations.get(cid, []):
            a, r = inv["invited"], inv["responded"]
            if a >= T:
                continue
            received += 1
            answer_known = r is not None and r < T
            seven_days_over = a + 7 * day < T
            if answer_known or seven_days_over:
                decided += 1
                if answer_known and r <= a + 7 * day:
                    within7 += 1
            if seven_days_over and not answer_known:
                ignored += 1
            if answer_known:
                answered += 1
                accepted += inv["accepted"]
                if r >= T - 365 * day:
                    hours.append((r - a) / 3.6e9)
                    if inv["accepted"] and inv["fee"] is not None:
                        fees.append(inv["fee"])
            if inv["accepted"]:
                d, v = inv["due"], inv["delivered"]
                delivered_known = v is not None and v < T
                in_time_known = delivered_known and (d is None or v <= d)
                late_or_missed_known = d is not None and d < T and not (v is not None and v <= d)
                if in_time_known or late_or_missed_known:
                    settled += 1
                if delivered_known:
                    delivered += 1
                    on_time += in_time_known
                    first_pass += inv["first_pass"]
        rates["response_rate"] = (within7, decided)
        rates["acceptance_rate"] = (accepted, answered)
        rates["ignored_share"] = (ignored, decided)
        f["median_hours_to_answer_365d"] = _median(hours)
        rates["delivery_rate"] = (delivered, settled)
        rates["on_time_rate"] = (on_time, settled)
        rates["first_pass_rate"] = (first_pass, delivered)
        f["idx_cooperation_evidence"] = float(decided)
        f["idx_reliability_evidence"] = float(settled)
        f["campaigns_completed"] = float(delivered)
        f["invitations_seen"] = float(received)
        f["median_fee_365d"] = _median(fees)

        # ---- creator attributes (current)
        rate = creator["rate"] if creator and creator["rate"] is not None else NAN
        f["rate_card_usd"] = rate
        gpp = f["gmv_per_shoppable_post_365d"]
        f["rate_card_to_gmv_per_post"] = rate / gpp if (not math.isnan(gpp) and gpp > 0) else NAN
        f["days_since_joined"] = max(T - creator["joined"], 0) / day if creator else NAN

        # ---- the campaign's category
        if category is None:
            for name in ("cat_post_share_365d", "cat_views_share_365d", "cat_gmv_share_365d", "cat_views_365d",
                         "cat_gmv_365d", "idx_category_influence_evidence"):
                f[name] = NAN
        else:
            cat_posts = sum(1 for p in known if p["t"] >= T - 365 * day and p["cat"] == category)
            cat_views = float(sum(p["v"] for p in c365 if p["cat"] == category))
            cat_gmv = sum(o["cents"] for o in recent if o["cat"] == category) / S.CENTS_PER_USD
            f["idx_category_influence_evidence"] = float(cat_posts + sum(1 for o in recent if o["cat"] == category))
            f["cat_post_share_365d"] = cat_posts / f["posts_365d"] if f["posts_365d"] else 0.0
            f["cat_views_share_365d"] = cat_views / views365 if views365 else 0.0
            f["cat_gmv_share_365d"] = cat_gmv / gmv365 if gmv365 else 0.0
            f["cat_views_365d"] = cat_views
            f["cat_gmv_365d"] = cat_gmv
        return f

    # ------------------------------------------------------------------ peers of a month

    def peers(self, month: int) -> list[str]:
        """Creators joined before the month start; a hash sample of PEER_CAP when more."""
        eligible = [cid for cid, c in self.creators.items() if c["joined"] < month]

        def hash_key(cid):
            return (int.from_bytes(hashlib.blake2b(cid.encode(), digest_size=8).digest(), "big"), cid)

        return sorted(eligible, key=hash_key)[: S.PEER_CAP]

    def peer_scores(self, month: int) -> dict:
        """Peers' values at the month start: rate priors, band percentiles, components, indices."""
        key = ("peers", month)
        if key in self._cache:
            return self._cache[key]
        rows = []
        for cid in self.peers(month):
            primary = self.creators[cid]["primary"]
            rows.append((cid, primary, dict(self.raw(cid, month, primary))))
        priors = {
            rate: _fit_prior([r["_rate_inputs"][rate] for _, _, r in rows], fallback)
            for rate, fallback in S.RATES.items()
        }
        for _, _, r in rows:
            self._apply_priors(r, priors)
        by_band: dict = {}
        for _, _, r in rows:
            if r["_band"] is not None:
                by_band.setdefault(r["_band"], []).append(r)
        for _, _, r in rows:
            band_rows = by_band.get(r["_band"], []) if r["_band"] is not None else []
            r["eng_per_view_peer_pct"] = _percentile([p["_epv"] for p in band_rows], r["_epv"])
            r["eng_per_follower_peer_pct"] = _percentile([p["_epf"] for p in band_rows], r["_epf"])
        out = {"rows": rows, "priors": priors, "members": {}, "median": {}, "shrunk": {}}
        for index in S.INDEX_RECIPES:
            groups = self._index_groups(index, rows)
            out["members"][index] = groups
            for g, members in groups.items():
                averages = [self._average(index, r, members) for _, _, r in members]
                present = [a for a in averages if not math.isnan(a)]
                median = float(statistics.median(present)) if present else NAN
                out["median"][(index, g)] = median
                out["shrunk"][(index, g)] = [
                    self._shrunk(index, a, r, median) for a, (_, _, r) in zip(averages, members)
                ]
        self._cache[key] = out
        return out

    @staticmethod
    def _apply_priors(values: dict, priors: dict) -> None:
        for rate, (k, n) in values["_rate_inputs"].items():
            values[rate] = _smoothed(k, n, priors[rate])

    @staticmethod
    def _index_groups(index, rows):
        """Peers of an index: those with evidence for it (by primary category for category influence)."""
        evidence = S.evidence_column(index)
        with_evidence = [row for row in rows if row[2][evidence] > 0]  # NaN > 0 is False
        if index == S.CATEGORY_INDEX:
            groups: dict = {}
            for row in with_evidence:
                if row[1] is not None:
                    groups.setdefault(row[1], []).append(row)
            return groups
        return {None: with_evidence}

    @staticmethod
    def _average(index, values: dict, members) -> float:
        """Average of the component percentiles of ``values`` among ``members`` that have one (a value, and
        peers with values to compare with); NaN when none has."""
        pcts = []
        for feature, how in S.INDEX_RECIPES[index]:
            x = values[feature]
            if math.isnan(x):
                continue
            peer_values = [_oriented(m[2][feature], how) for m in members]
            p = _percentile(peer_values, _oriented(x, how))
            if not math.isnan(p):  # no peer with a value: nothing to compare with
                pcts.append(p)
        if not pcts:
            return NAN
        total = pcts[0]
        for p in pcts[1:]:
            total = total + p
        return total / len(pcts)

    @staticmethod
    def _shrunk(index, average: float, values: dict, median: float) -> float:
        """The average pulled toward the peers' median by k / (n + k); NaN without evidence."""
        n = values[S.evidence_column(index)]
        if not n > 0 or math.isnan(average):
            return NAN
        return median + (average - median) * (n / (n + S.INDEX_SHRINK[index]))

    # ------------------------------------------------------------------ one decision

    def features(self, cid: str, T: int, category, country, budget) -> dict:
        f = dict(self.raw(cid, T, category))
        month = month_start_of(T)
        peers = self.peer_scores(month)
        self._apply_priors(f, peers["priors"])
        rows = peers["rows"]
        band_rows = [r for _, _, r in rows if f["_band"] is not None and r["_band"] == f["_band"]]
        f["eng_per_view_peer_pct"] = _percentile([r["_epv"] for r in band_rows], f["_epv"])
        f["eng_per_follower_peer_pct"] = _percentile([r["_epf"] for r in band_rows], f["_epf"])
        cat_evidence = S.evidence_column(S.CATEGORY_INDEX)
        cat_rows = [row for row in rows if category is not None and row[1] == category and row[2][cat_evidence] > 0]
        f["cat_views_peer_pct"] = (
            _percentile([row[2]["cat_views_365d"] for row in cat_rows], f["cat_views_365d"])
            if category is not None and f[cat_evidence] > 0 else NAN
        )
        for index in S.INDEX_RECIPES:
            group = category if index == S.CATEGORY_INDEX else None
            if index == S.CATEGORY_INDEX and category is None:
                f[index] = NAN
                continue
            members = peers["members"][index].get(group, [])
            median = peers["median"].get((index, group), NAN)
            shrunk = self._shrunk(index, self._average(index, f, members), f, median)
            f[index] = _percentile(peers["shrunk"].get((index, group), []), shrunk)
        creator = self.creators.get(cid)
        primary = creator["primary"] if creator else None
        f["primary_category"] = primary
        f["category_match"] = NAN if category is None else float(primary is not None and primary == category)
        own_country = creator["country"] if creator else None
        f["country_match"] = NAN if country is None else float(own_country is not None and own_country == country)
        rate = f["rate_card_usd"]
        f["budget_to_rate_card"] = budget / rate if (budget is not None and not math.isnan(rate) and rate > 0) else NAN
        return f


def reference_features(tables: dict[str, pd.DataFrame], decisions: pd.DataFrame) -> pd.DataFrame:
    """What :func:`creatorrank.features.engine.build_features` must return, computed slowly.

    Parameters
    ----------
    tables : dict of DataFrame
        The contract tables.
    decisions : DataFrame
        As for ``build_features``.

    Returns
    -------
    DataFrame
        The decisions' columns then every catalogue feature, in catalogue order.
    """
    market = ReferenceMarket(tables)
    records = []
    for row in decisions.to_dict("records"):
        category = _val(row.get(C.CATEGORY))
        country = _val(row.get(C.COUNTRY))
        budget = _val(row.get(C.BUDGET_USD))
        records.append(
            market.features(str(row[C.CREATOR_ID]), _to_us(row[C.AS_OF]), category, country,
                            None if budget is None else float(budget))
        )
    cols = {}
    for spec in S.CATALOGUE:
        values = [r[spec.name] for r in records]
        if spec.kind == S.CATEGORICAL:
            cols[spec.name] = pd.array(values, dtype=pd.StringDtype("pyarrow"))
        else:
            cols[spec.name] = np.array([NAN if v is None else v for v in values], dtype=np.float64)
    feats = pd.DataFrame(cols, index=pd.RangeIndex(len(decisions)))
    out = pd.concat([decisions.reset_index(drop=True), feats], axis=1)
    out.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
    return out
