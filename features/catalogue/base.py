"""The building blocks of a feature family module: spec, computation and words in one place.

A family module (``features/catalogue/<family>.py``) declares one :class:`Family` (its key,
title and what it measures) and a tuple ``FEATURES`` of :class:`Feature`, each made with
:meth:`Family.feature`: the :class:`FeatureSpec` fields, the plain-language
:class:`FeatureText`, and exactly one way to compute it:

- ``compute``: a function of a :class:`~creatorrank.features.window.Window` returning one
  float64 value per decision (``lambda w: w.posts_90d``), using facts known before ``T`` only;
- ``rate``: a :class:`Rate`, successes and trials of the window plus a fallback Beta prior:
  the value is shrunk toward the month's peers' fitted prior (:mod:`..indices`);
- ``peers``: computed from the month's peers by :class:`..indices.PeerTables` (peer
  percentiles and the indices); the words say from what.

A module may also declare ``INPUTS``, private peer-free values (name -> function of the
window) that the peer tables read (``_epv``: engagement per view, ranked among peers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

NUMERIC = "numeric"
CATEGORICAL = "categorical"
ALL_CREATORS = "all creators"
CAT_PEERS = "creators whose primary category is the campaign's category"


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of the catalogue (what the version hashes: these fields only).

    Attributes
    ----------
    name : str
        Column name in feature frames.
    family : str
        Key of :data:`creatorrank.features.specs.FAMILIES`.
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
        creator never gave); default ``serving.text.MISSING``.
    """

    label: str
    action: str | None = None
    who: str | None = None
    fmt: str | None = None
    missing: str | None = None


@dataclass(frozen=True)
class IndexText:
    """Words for one 0-100 index: its name, a short column header, family and what it measures."""

    name: str
    short: str
    family: str
    measures: str


def successes(rate: str) -> str:
    """Name of the raw successes ``k`` of a rate in the engine's peer-free values."""
    return f"_k_{rate}"


def trials(rate: str) -> str:
    """Name of the raw trials ``n`` of a rate in the engine's peer-free values."""
    return f"_n_{rate}"


def shrunk(evidence: str) -> str:
    """The description clause every rate carries."""
    return (f"empirical Bayes: shrunk toward the peers' fitted Beta prior by the number of {evidence}; "
            "missing without any")


@dataclass(frozen=True)
class Rate:
    """A rate ``successes / trials``, shrunk toward the month's peers' prior.

    Attributes
    ----------
    successes, trials : callable
        Functions of the window: the raw counts before ``T`` (NaN rate when trials are 0).
    prior : (float, float)
        Fallback Beta(a, b), used only when fewer than ``MIN_PRIOR_PEERS`` peers have trials.
    """

    successes: Callable
    trials: Callable
    prior: tuple[float, float]


@dataclass(frozen=True)
class Feature:
    """A catalogue feature: its spec, its words and how it is computed (one of three)."""

    spec: FeatureSpec
    text: FeatureText
    compute: Callable | None = None
    rate: Rate | None = None
    peers: str | None = None

    def __post_init__(self) -> None:
        ways = [w for w in (self.compute, self.rate, self.peers) if w is not None]
        if len(ways) != 1:
            raise ValueError(f"{self.spec.name}: give exactly one of compute, rate, peers")

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Family:
    """A feature family: key, title (shown in charts, cards, docs) and what it measures.

    Attributes
    ----------
    key : str
        The family's key in specs (``"execution"``).
    title : str
        Short title a marketer reads at a glance ("Reliability").
    measures : str
        What the family measures, completing "This measures ..." for a creator.
    """

    key: str
    title: str
    measures: str

    def feature(self, name: str, description: str, unit: str, window_days: int | None, direction: int,
                text: FeatureText, *, compute: Callable | None = None, rate: Rate | None = None,
                peers: str | None = None, kind: str = NUMERIC, family: str | None = None) -> Feature:
        """A feature of this family (``family`` overrides the key: index evidence counts)."""
        spec = FeatureSpec(name, family or self.key, description, unit, window_days, direction, kind)
        return Feature(spec, text, compute=compute, rate=rate, peers=peers)
