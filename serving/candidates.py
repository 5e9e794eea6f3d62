"""Who is ranked for a brief: every eligible creator, or exactly a campaign's invitees.

``eligible`` is the production question ("whom should we invite?"): creators who joined
before the decision time, posted recently, have at least ``min_posts`` posts before it and
(by default) serve the brief's country (ISO codes compared case-insensitively: "vn" finds
"VN").
``invited`` replays history ("how would the model have ordered the creators that were
actually invited?"), the population the model was trained and backtested on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core import constants as C
from ..core.arrow import positions
from ..core.errors import InputError
from ..core.timeutil import to_micros as _us

ELIGIBLE = "eligible"
INVITED = "invited"
MODES = (ELIGIBLE, INVITED)
DEFAULT_MIN_POSTS = 1


@dataclass(frozen=True)
class EligibilityRules:
    """Filters of the ``eligible`` candidate set.

    Attributes
    ----------
    active_days : int
        A creator is active when it posted in the ``active_days`` days before the decision
        time (``as_of - active_days <= posted_at < as_of``).
    same_country : bool
        Keep only creators whose country is the brief's country.
    same_category : bool
        Keep only creators whose primary_category is the brief's category.
    min_posts : int
        Minimum evidence: posts published (at any time) before the decision time. The
        default 1 adds nothing to ``active_days`` (an active creator has posted); raise it
        to keep creators judged on one or two posts out of a ranking.
    """

    active_days: int = 90
    same_country: bool = True
    same_category: bool = False
    min_posts: int = DEFAULT_MIN_POSTS

    def describe(self) -> str:
        """The rules in words, for error messages."""
        parts = ["joined before as-of", f"posted in the {self.active_days} days before it"]
        if self.min_posts > 1:
            parts.append(f"at least {self.min_posts} posts before it")
        if self.same_country:
            parts.append("in the brief's country")
        if self.same_category:
            parts.append("of the brief's category")
        return ", ".join(parts)


class CandidateFinder:
    """Select candidates for many briefs over one set of tables.

    The creator and post columns are turned into numpy arrays once, so each brief costs a
    few vectorised passes over the posts rather than a join.

    Parameters
    ----------
    tables : dict of DataFrame
        The validated contract tables.
    rules : EligibilityRules
        Filters of the ``eligible`` set.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], rules: EligibilityRules):
        if rules.active_days < 0:
            raise InputError(f"active_days must be >= 0, got {rules.active_days}")
        if rules.min_posts < 0:
            raise InputError(f"min_posts must be >= 0, got {rules.min_posts}")
        self.rules = rules
        creators = tables[C.CREATORS]
        self._ids = creators[C.CREATOR_ID].astype(object).to_numpy()
        self._joined = _us(creators[C.JOINED_AT])
        self._country = _casefold(_blank_missing(creators[C.COUNTRY]))
        self._category = _casefold(_blank_missing(creators[C.PRIMARY_CATEGORY]))
        posts = tables[C.POSTS]
        # Position of each post's creator in the creators table (-1: unknown creator).
        self._post_creator = positions(posts[C.CREATOR_ID], creators[C.CREATOR_ID])
        self._posted = _us(posts[C.POSTED_AT])
        # Post categories as integer codes (upper-cased): one integer comparison per brief, not 10M string ones.
        codes, names = _category_codes(posts[C.CATEGORY]) if C.CATEGORY in posts.columns else (None, {})
        self._post_category = codes
        self._category_code = names
        self._invitations = tables[C.INVITATIONS][[C.CAMPAIGN_ID, C.CREATOR_ID]]
        self._campaign_ids = set(tables[C.CAMPAIGNS][C.CAMPAIGN_ID].astype(object))

    def eligible(self, brief: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
        """Sorted creator ids eligible for ``brief`` at ``as_of`` (see :class:`EligibilityRules`)."""
        t = _us(pd.Series([as_of]))[0]
        keep = self._joined < t
        if self.rules.same_country:
            keep &= self._country == _casefold_one(brief[C.COUNTRY])
        if self.rules.same_category:
            keep &= self._category == _casefold_one(brief[C.CATEGORY])
        window = (self._posted < t) & (self._posted >= t - self.rules.active_days * 86_400_000_000)
        active = np.zeros(len(self._ids), dtype=bool)
        who = self._post_creator[window]
        active[who[who >= 0]] = True
        if self.rules.min_posts > 1:
            active &= self._post_counts(self._posted < t) >= self.rules.min_posts
        return np.sort(self._ids[keep & active])

    def _post_counts(self, mask: np.ndarray) -> np.ndarray:
        """Posts per creator (creators-table order) among the posts where ``mask`` holds."""
        who = self._post_creator[mask]
        return np.bincount(who[who >= 0], minlength=len(self._ids))

    def category_posts(self, ids: np.ndarray, category, as_of: pd.Timestamp) -> np.ndarray:
        """Posts in ``category`` (case-insensitive) each creator of ``ids`` published before ``as_of``.

        Returns float64 counts, NaN for every creator when the brief has no category.
        """
        pos = positions(pd.Series(np.asarray(ids, dtype=object)), pd.Series(self._ids))
        if self._post_category is None or category is None or pd.isna(category):
            return np.full(len(pos), np.nan)
        t = _us(pd.Series([as_of]))[0]
        code = self._category_code.get(_casefold_one(category), -2)  # -2: a category no post has
        counts = self._post_counts((self._posted < t) & (self._post_category == code))
        return np.where(pos >= 0, counts[np.maximum(pos, 0)], 0).astype(np.float64)

    def invited(self, brief: pd.Series) -> np.ndarray:
        """Sorted ids of the creators the campaign invited (each once)."""
        cid = brief[C.CAMPAIGN_ID]
        require_campaign(cid, self._campaign_ids)
        inv = self._invitations
        ids = inv.loc[inv[C.CAMPAIGN_ID] == cid, C.CREATOR_ID].astype(object).unique()
        return np.sort(ids)

    def find(self, brief: pd.Series, as_of: pd.Timestamp, mode: str) -> np.ndarray:
        """Candidates of one brief; an empty set is an :class:`InputError`."""
        if mode == ELIGIBLE:
            ids = self.eligible(brief, as_of)
        elif mode == INVITED:
            ids = self.invited(brief)
        else:
            raise InputError(f"candidates must be one of {', '.join(MODES)}, got '{mode}'")
        refuse_empty(brief, as_of, mode, self.rules, ids)
        return ids

    def knows(self, campaign_id) -> bool:
        """Whether ``campaign_id`` is a campaign of the (clean) data."""
        return campaign_id in self._campaign_ids


def require_campaign(campaign_id, campaign_ids) -> None:
    """``--candidates invited`` needs the campaign in the data: else an :class:`InputError`."""
    if campaign_id not in campaign_ids:
        raise InputError(
            f"campaign {campaign_id}: --candidates invited needs the campaign in the data "
            "(it has no invitations there)"
        )


def refuse_empty(brief: pd.Series, as_of: pd.Timestamp, mode: str, rules: EligibilityRules, ids) -> None:
    """An empty candidate set is an :class:`InputError` naming the campaign and why."""
    if len(ids):
        return
    why = (f"no eligible creators ({rules.describe()}; as-of {as_of.isoformat()})" if mode == ELIGIBLE
           else "no invitations in the data")
    raise InputError(f"campaign {brief[C.CAMPAIGN_ID]}: {why}")


def shard_candidates(tables: dict[str, pd.DataFrame], briefs: pd.DataFrame, times: list, rules: EligibilityRules,
                     mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each brief's candidates among one shard's creators and their posts in its category.

    The task a Dask worker runs on its shard of creators (:func:`creatorrank.features.sharded.read_shard`:
    the shard's creators and all their posts and invitations), so every fact a rule needs comes
    from the shard itself: a creator's eligibility and counts depend on its own rows only, and
    the union over the shards is the whole market's candidate set. Nothing is refused here
    (an empty shard is normal); the client refuses an empty union (:func:`refuse_empty`) and an
    unknown ``invited`` campaign (:func:`require_campaign`).

    Parameters
    ----------
    tables : dict of DataFrame
        One shard's clean tables.
    briefs : DataFrame
        The briefs, one row each; ``times[i]`` is brief ``i``'s decision time.
    rules, mode
        As for :class:`CandidateFinder`.

    Returns
    -------
    list of (ids, category_posts)
        Per brief: the shard's sorted candidate ids and their posts in the brief's category
        before the decision time (:meth:`CandidateFinder.category_posts`).
    """
    finder = CandidateFinder(tables, rules)
    out = []
    for (_, brief), when in zip(briefs.iterrows(), times, strict=True):
        if mode == INVITED and not finder.knows(brief[C.CAMPAIGN_ID]):
            ids = np.zeros(0, dtype=object)
        else:
            ids = finder.eligible(brief, when) if mode == ELIGIBLE else finder.invited(brief)
        out.append((ids, finder.category_posts(ids, brief[C.CATEGORY], when)))
    return out


def _category_codes(column: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Upper-cased category codes of each value (missing compares as ""), and code by upper-cased name.

    Factorized first, so only the distinct names are upper-cased (not every post's string).
    """
    codes, names = pd.factorize(column)  # missing: -1
    names = _casefold(np.append(np.asarray(names, dtype=object), ""))  # position -1: the missing values
    merged, uniques = pd.factorize(names)
    return merged[codes].astype(np.int64), {str(n): i for i, n in enumerate(uniques)}


def _casefold(values: np.ndarray) -> np.ndarray:
    """Upper-cased object array (in Arrow: fast on millions of posts): codes compare case-insensitively."""
    if not len(values):
        return values
    return pc.utf8_upper(pa.array(values, type=pa.large_string())).to_numpy(zero_copy_only=False).astype(object)


def _casefold_one(value) -> str:
    """A brief's code upper-cased; a missing one matches no creator (not those without a code)."""
    return "\0missing" if value is None or pd.isna(value) else str(value).upper()


def _blank_missing(series: pd.Series) -> np.ndarray:
    """Object array with "" for missing values, so ``==`` is a plain boolean test (pd.NA is not)."""
    return series.astype(object).where(series.notna(), "").to_numpy(dtype=object)


