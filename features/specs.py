"""The feature catalogue: every feature's name, family, meaning, unit, window and direction.

A feature describes one creator for one *decision*: a creator considered at time ``T``
(``as_of``), optionally for a campaign with a category, a country and a budget. Every
feature uses only facts known strictly before ``T`` under the data contract's
point-in-time rules (docs: ``DATA_CONTRACT.md``, "When a fact becomes known").

Each feature is declared in one module of :mod:`.catalogue` (one per family: its spec,
its computation and its plain-language words); this module assembles them into
:data:`CATALOGUE`. The rule constants (prior limits, shrinkage weights, follower bands, jump
rules, peer sampling; :mod:`.rules`, re-exported here) are part of the feature definitions,
so they enter :data:`FEATURE_SET_VERSION` together with the specs: changing any of them
changes the version, and a model trained on the old set is refused. The version hashes the
specs' fields and the rules only, never a computation or its words.

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
from dataclasses import astuple

from ..core.errors import ConfigError
from . import catalogue as _catalogue
from .catalogue.base import CATEGORICAL, NUMERIC, FeatureSpec
from .rules import (ACTIVE_WEEKS, CATEGORY_INDEX, CENTS_PER_USD, FOLLOWER_BANDS, INDEX_EVIDENCE, INDEX_RECIPES,
                    INDEX_SHRINK, JUMP_BASELINE_POSTS, JUMP_CAP, MIN_PRIOR_PEERS, PEER_CAP, PRIOR_STRENGTH,
                    THIN_EVIDENCE, evidence_column)

__all__ = [
    "ACTIVE_WEEKS", "CATALOGUE", "CATEGORICAL", "CATEGORY_FEATURES", "CATEGORY_INDEX", "CENTS_PER_USD", "FAMILIES",
    "FEATURE_SET_VERSION", "FOLLOWER_BANDS", "FeatureSpec", "INDEX_EVIDENCE", "INDEX_NAMES", "INDEX_RECIPES",
    "INDEX_SHRINK", "JUMP_BASELINE_POSTS", "JUMP_CAP", "MIN_PRIOR_PEERS", "NUMERIC", "PEER_CAP", "PRIOR_STRENGTH",
    "RATES", "THIN_EVIDENCE", "evidence_column", "feature_names", "get_specs", "model_feature_names",
]

# Every feature is declared in its family's module of features/catalogue/ (spec, computation,
# words; the rule constants imported above live in features/rules.py). Here they are assembled, in the
# modules' order: the catalogue's order is the feature frames' column order and the version's.
CATALOGUE: tuple[FeatureSpec, ...] = tuple(f.spec for f in _catalogue.FEATURES)

# Title of each feature family, in words a marketer reads at a glance: the one source of
# family titles (reports, score cards, docs/FEATURES.md), declared in each family's module
# with what the family measures.
FAMILIES: dict[str, str] = {family.key: family.title for family in _catalogue.FAMILIES}

# Rate features: name -> fallback Beta prior (a, b), used only when fewer than
# MIN_PRIOR_PEERS peers have evidence for the rate at the month start (see the docstring).
# Each rate declares its successes, trials and prior beside its spec (catalogue.base.Rate).
RATES: dict[str, tuple[float, float]] = {f.name: f.rate.prior for f in _catalogue.FEATURES if f.rate is not None}

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
