"""Labelled ranking data: outcomes per the contract, graded labels, a split by time.

One query is one campaign; its rows are the campaign's invitations. Rows are sorted by
(campaign ``created_at``, ``campaign_id``, ``invitation_id``) so each campaign is one
contiguous block and ``group`` lists the block sizes in order, as LightGBM expects.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError, InputError
from ..core.timeutil import parse_ts
from ..data.timeline import data_end
from ..features.engine import training_matrix
from ..features.specs import get_specs
from .baselines import BASELINE_FEATURES
from .config import LabelConfig, SplitConfig, TrainingConfig
from .encoding import encode_features, fit_categories

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SPLIT = "split"
ID_COLUMNS = [C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF]
PROPENSITY_NEEDS_TABLES = ("propensity.enabled needs engine local: the invitation model reads the eligible pool "
                           "from every table, which engine dask does not load on the client")


def to_cutoff(value: str | pd.Timestamp | None) -> pd.Timestamp:
    """A UTC timestamp from an ISO-8601 string or timestamp; None means now."""
    return pd.Timestamp.now(tz="UTC") if value is None else parse_ts(value, "time")


def resolve_cutoff(tables: dict[str, pd.DataFrame], train_until: str | pd.Timestamp | None) -> pd.Timestamp:
    """The training cutoff: ``train_until``, else now or, if earlier, just after the data's last fact.

    A data export stops at some time: orders after it are not in it, so a campaign whose
    settle period runs past the export's end would look complete with a truncated outcome.
    Without an explicit ``train_until`` the cutoff is therefore the earlier of now and the
    last fact in the tables (plus one microsecond, so that fact counts).
    """
    if train_until is not None:
        return to_cutoff(train_until)
    return cutoff_at(data_end(tables), None)


def cutoff_at(end: pd.Timestamp | None, train_until: str | pd.Timestamp | None = None) -> pd.Timestamp:
    """:func:`resolve_cutoff` given the data's last fact ``end`` (:func:`.timeline.data_end`; None: no fact).

    A sharded run reduces ``end`` over its shards, so no process needs every table.
    """
    if train_until is not None:
        return to_cutoff(train_until)
    now = to_cutoff(None)
    if end is None or pd.isna(end):
        return now
    end = to_cutoff(end) + pd.Timedelta(microseconds=1)
    if end < now:
        logger.info("no training cutoff given: using the end of the data, %s", end.isoformat())
        return end
    return now


def campaign_outcomes(
    tables: dict[str, pd.DataFrame],
    cutoff: pd.Timestamp | None = None,
    settle_days: int = C.LABEL_SETTLE_DAYS,
) -> pd.DataFrame:
    """The contract's training label of every invitation: its net GMV.

    Net GMV of orders with the invitation's ``campaign_id`` and ``creator_id``, ordered in
    ``[starts_at, ends_at + settle_days]`` and not refunded. Invitations that were declined,
    ignored or never delivered have outcome 0. Only facts known before ``cutoff`` count
    (orders ordered, refunds refunded, deliveries delivered before it).

    Parameters
    ----------
    tables : dict of DataFrame
        Validated contract tables.
    cutoff : Timestamp, optional
        Knowledge cutoff (default: now).
    settle_days : int
        Days after ``ends_at`` during which orders still count.

    Returns
    -------
    DataFrame
        ``invitation_id, campaign_id, creator_id, outcome_gmv, outcome_accepted,
        outcome_delivered`` in invitation order (the stages: accepted and delivered before ``cutoff``).
    """
    cutoff = to_cutoff(cutoff)
    inv = tables[C.INVITATIONS]
    camp = tables[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.STARTS_AT, C.ENDS_AT]]
    orders = tables[C.ORDERS]
    orders = orders[orders[C.CAMPAIGN_ID].notna() & (orders[C.ORDERED_AT] < cutoff)]
    refunded = orders[C.REFUNDED_AT].notna() & (orders[C.REFUNDED_AT] < cutoff)
    orders = orders.loc[~refunded, [C.CAMPAIGN_ID, C.CREATOR_ID, C.ORDERED_AT, C.GMV_USD]]
    orders = orders.merge(camp, on=C.CAMPAIGN_ID, how="inner")
    settle = pd.Timedelta(days=settle_days)
    in_window = (orders[C.ORDERED_AT] >= orders[C.STARTS_AT]) & (orders[C.ORDERED_AT] <= orders[C.ENDS_AT] + settle)
    net = (
        orders[in_window]
        .groupby([C.CAMPAIGN_ID, C.CREATOR_ID], sort=False, observed=True)[C.GMV_USD]
        .sum()
        .rename(C.OUTCOME_GMV)
        .reset_index()
    )
    out = inv[[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID]].merge(net, on=[C.CAMPAIGN_ID, C.CREATOR_ID], how="left")
    delivered = (
        inv[C.ACCEPTED].fillna(False).astype(bool).to_numpy()
        & inv[C.DELIVERED_AT].notna().to_numpy()
        & (inv[C.DELIVERED_AT] < cutoff).fillna(False).to_numpy(bool)
    )
    outcome = out[C.OUTCOME_GMV].fillna(0.0).to_numpy(dtype=np.float64)
    out[C.OUTCOME_GMV] = np.where(delivered, outcome, 0.0)
    accepted = (inv[C.ACCEPTED].fillna(False).astype(bool).to_numpy()
                & (inv[C.RESPONDED_AT] < cutoff).fillna(False).to_numpy(bool))
    out[C.OUTCOME_ACCEPTED] = accepted  # the value model's funnel stages (training/value.py)
    out[C.OUTCOME_DELIVERED] = delivered & accepted
    return out


def grade_labels(outcome: np.ndarray | pd.Series, label: LabelConfig) -> np.ndarray:
    """Graded relevance: the number of ``label.thresholds_usd`` strictly below the outcome.

    Returns
    -------
    ndarray of int32
        Values in ``0 .. len(thresholds_usd)``.
    """
    values = np.nan_to_num(np.asarray(outcome, dtype=np.float64), nan=0.0)
    return np.searchsorted(np.asarray(label.thresholds_usd, dtype=np.float64), values, side="left").astype(np.int32)


def complete_campaigns(
    campaigns: pd.DataFrame, cutoff: pd.Timestamp, settle_days: int = C.LABEL_SETTLE_DAYS
) -> pd.DataFrame:
    """Campaigns whose outcome is final: ``ends_at + settle_days`` before ``cutoff``."""
    done = campaigns[C.ENDS_AT] + pd.Timedelta(days=settle_days) < cutoff
    return campaigns[done.fillna(False).to_numpy(bool)]


def assign_splits(created_at: pd.Series, split: SplitConfig) -> pd.Series:
    """Split campaigns by time: the oldest ``split.train`` share trains, then validation, then test.

    Parameters
    ----------
    created_at : Series
        Campaign ``created_at`` indexed by ``campaign_id``.

    Returns
    -------
    Series
        Split name per campaign id. Campaigns are ordered by (created_at, campaign_id); every
        split gets at least one campaign.

    Raises
    ------
    InputError
        Fewer than three complete campaigns.
    """
    n = len(created_at)
    if n < 3:
        raise InputError(f"only {n} complete campaign(s) before the cutoff: need at least 3, one each for "
                         "training, validation and test")
    order = pd.DataFrame({"t": created_at.to_numpy(), "id": created_at.index.astype(str)}, index=created_at.index)
    order = order.sort_values(["t", "id"], kind="stable")
    n_train = min(max(1, int(round(n * split.train))), n - 2)
    n_val = min(max(1, int(round(n * split.validation))), n - n_train - 1)
    names = np.array(["test"] * n, dtype=object)
    names[:n_train] = "train"
    names[n_train : n_train + n_val] = "validation"
    return pd.Series(names, index=order.index, name=SPLIT)


def cap_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """Keep at most ``max_rows`` invitations per campaign, chosen deterministically.

    Rows of an oversized campaign are ranked by a hash of ``seed`` and the invitation id and
    the first ``max_rows`` kept: a pseudo-random sample that does not depend on row order,
    the label or the features, and is the same on every run.
    """
    sizes = frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True)[C.CAMPAIGN_ID].transform("size")
    big = sizes.to_numpy() > max_rows
    if not big.any():
        return frame
    key = hashlib.sha256(str(seed).encode()).hexdigest()[:16]
    h = pd.util.hash_array(frame[C.INVITATION_ID].astype(str).to_numpy(dtype=object), hash_key=key)
    tmp = pd.DataFrame({"c": frame[C.CAMPAIGN_ID].to_numpy(), "h": h}, index=frame.index)
    rank = tmp.groupby("c", sort=False)["h"].rank(method="first")
    keep = (~big) | (rank.to_numpy() <= max_rows)
    logger.info(
        "capped %d campaign(s) over %d rows: kept %d of %d of their invitations",
        frame.loc[big, C.CAMPAIGN_ID].nunique(), max_rows, int((keep & big).sum()), int(big.sum()),
    )
    return frame[keep]


def sort_queries(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Sort rows into contiguous campaigns; return the frame and its group sizes.

    Raises
    ------
    AssertionError
        A campaign is not one contiguous block (cannot happen after the sort).
    """
    frame = frame.sort_values([C.AS_OF, C.CAMPAIGN_ID, C.INVITATION_ID], kind="stable").reset_index(drop=True)
    camp = frame[C.CAMPAIGN_ID].astype(str).to_numpy(dtype=object)
    if len(camp) == 0:
        return frame, np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(camp[1:] != camp[:-1]) + 1]
    group = np.diff(np.r_[starts, len(camp)]).astype(np.int64)
    assert len(starts) == len(set(camp[starts])), "campaign rows are not contiguous"
    assert group.sum() == len(frame)
    return frame, group


@dataclass
class RankingSplit:
    """One split: rows sorted into contiguous campaigns.

    Attributes
    ----------
    name : str
        "train", "validation" or "test".
    frame : DataFrame
        Ids, ``as_of``, ``outcome_gmv``, ``label``, the raw feature columns and the columns
        the baselines rank by.
    group : ndarray
        Rows per campaign, in row order.
    weight : ndarray or None
        LightGBM row weights (inverse-propensity, :mod:`.propensity`), aligned with ``frame``;
        None: every row weighs 1.
    init_score : ndarray or None
        LightGBM starting scores, aligned with ``frame``: the weighted value prior
        (:mod:`.value_prior`) while the ranker is fitted; None: start from 0.
    """

    name: str
    frame: pd.DataFrame
    group: np.ndarray
    weight: np.ndarray | None = None
    init_score: np.ndarray | None = None

    @property
    def n_campaigns(self) -> int:
        return len(self.group)

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class RankingData:
    """Train/validation/test splits plus what the model needs to read them.

    Attributes
    ----------
    splits : dict
        ``{"train": RankingSplit, "validation": ..., "test": ...}``.
    features : list of str
        Model inputs in order.
    categorical : list of str
        The categorical ones among ``features``.
    categories : dict
        Category values per categorical feature (fitted on the training split).
    cutoff : Timestamp
        Training cutoff (``train_until``).
    excluded_campaigns : int
        Campaigns not yet complete at the cutoff (left out).
    unlabelled_validation_campaigns : int
        Validation campaigns without a positive label, left out (see
        :func:`drop_unlabelled_campaigns`).
    propensity : PropensityWeights or None
        The training rows' inverse-propensity weights and their invitation model's figures
        (``propensity.enabled``); None without weights.
    """

    splits: dict[str, RankingSplit]
    features: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]
    cutoff: pd.Timestamp
    excluded_campaigns: int = 0
    unlabelled_validation_campaigns: int = 0
    propensity: Any = None
    _encoded: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getitem__(self, name: str) -> RankingSplit:
        return self.splits[name]

    def X(self, name: str) -> pd.DataFrame:
        """The encoded all-float feature matrix of one split (encoded once, then cached).

        Callers must not modify it in place: the same frame is returned on every call.
        """
        if name not in self._encoded:
            self._encoded[name] = encode_features(self.splits[name].frame, self.features, self.categories)
        return self._encoded[name]

    def y(self, name: str) -> np.ndarray:
        return self.splits[name].frame[C.LABEL].to_numpy(dtype=np.int32)

    @property
    def holdout_from(self) -> pd.Timestamp:
        """``created_at`` of the first test campaign: models trained here never saw later campaigns."""
        return pd.Timestamp(self.splits["test"].frame[C.AS_OF].min())

    def digest(self) -> str:
        """Hash of every split's ids, labels and features (same data, same digest)."""
        h = hashlib.sha256()
        for name in SPLITS:
            frame = self.splits[name].frame
            cols = [C.INVITATION_ID, C.LABEL, *self.features]
            h.update(name.encode())
            h.update(pd.util.hash_pandas_object(frame[cols], index=False).to_numpy().tobytes())
            if self.splits[name].weight is not None:  # weighted rows train another model
                h.update(np.ascontiguousarray(self.splits[name].weight, dtype=np.float64).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> dict[str, float]:
        """Rows and campaigns per split, for logging (and, with weights, the invitation model's figures)."""
        out: dict[str, float] = {}
        for name, split in self.splits.items():
            out[f"{name}_rows"] = len(split)
            out[f"{name}_campaigns"] = split.n_campaigns
            out[f"{name}_positive_campaigns"] = int(positive_campaigns(split.frame).sum())
        out["excluded_campaigns"] = self.excluded_campaigns
        out["unlabelled_validation_campaigns"] = self.unlabelled_validation_campaigns
        if self.propensity is not None:  # logged beside the data figures (MLflow ``data.propensity.*``)
            out.update(self.propensity.summary())
        return out


def categorical_features(features: list[str]) -> list[str]:
    """The features whose catalogue kind is ``categorical``."""
    return [s.name for s in get_specs(features) if s.kind == "categorical"]


def labelled_matrix(
    tables: dict[str, pd.DataFrame],
    label: LabelConfig,
    cutoff: pd.Timestamp,
    settle_days: int = C.LABEL_SETTLE_DAYS,
    matrix: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, int]:
    """Training matrix rows of complete campaigns with ``outcome_gmv`` and ``label`` joined.

    Parameters
    ----------
    matrix : DataFrame, optional
        A precomputed :func:`creatorrank.features.engine.training_matrix`; built when omitted.

    Returns
    -------
    frame : DataFrame
        Unsorted rows of complete campaigns.
    excluded : int
        Campaigns with invitations left out because they are not complete at ``cutoff``.
    """
    if matrix is None:
        matrix = training_matrix(tables)
    frame, excluded = label_rows(matrix, shard_outcomes(tables, cutoff, settle_days), label)
    return check_unique(frame), len(excluded)


_STAGES = [C.OUTCOME_GMV, C.OUTCOME_ACCEPTED, C.OUTCOME_DELIVERED]


def shard_outcomes(tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp,
                   settle_days: int = C.LABEL_SETTLE_DAYS) -> dict:
    """What labelling needs from the tables: each invitation's outcome and the complete campaigns.

    ``tables`` may be one creator shard's (its invitations and orders, the whole campaigns
    table): a campaign's orders by a creator are in that creator's shard, so the outcomes are
    those of the whole market.

    Returns
    -------
    dict
        ``{"outcomes": campaign_outcomes(...), "done": ids of the complete campaigns}``.
    """
    return {"outcomes": campaign_outcomes(tables, cutoff=cutoff, settle_days=settle_days),
            "done": complete_campaigns(tables[C.CAMPAIGNS], cutoff, settle_days)[C.CAMPAIGN_ID]}


def label_rows(matrix: pd.DataFrame, outcomes: dict, label: LabelConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of ``matrix`` in complete campaigns with their outcomes and graded ``label``.

    Parameters
    ----------
    matrix : DataFrame
        Training matrix rows (the whole market's or one shard's).
    outcomes : dict
        :func:`shard_outcomes` of the same invitations.
    label : LabelConfig

    Returns
    -------
    frame : DataFrame
        The labelled rows, in ``matrix`` order (a fresh RangeIndex).
    excluded : ndarray
        Ids of the campaigns whose rows were left out (not complete).
    """
    in_done = matrix[C.CAMPAIGN_ID].isin(outcomes["done"]).to_numpy(bool)
    excluded = matrix.loc[~in_done, C.CAMPAIGN_ID].dropna().unique()
    frame = matrix[in_done].merge(outcomes["outcomes"][[C.INVITATION_ID, *_STAGES]], on=C.INVITATION_ID, how="left")
    frame[C.OUTCOME_GMV] = frame[C.OUTCOME_GMV].fillna(0.0).astype(np.float64)
    for col in _STAGES[1:]:
        frame[col] = frame[col].fillna(False).astype(bool)
    frame[C.LABEL] = grade_labels(frame[C.OUTCOME_GMV], label)
    return frame, np.asarray(excluded, dtype=object)


def check_unique(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` when no invitation appears twice in it (else an InputError naming one)."""
    dup = frame[C.INVITATION_ID].duplicated()
    if dup.any():
        raise InputError(f"training matrix holds invitation '{frame.loc[dup, C.INVITATION_ID].iloc[0]}' twice")
    return frame


@dataclass(frozen=True)
class Labeller:
    """How a sharded run labels the training matrix on its workers (same rules as :func:`labelled_matrix`).

    :func:`creatorrank.features.sharded.labelled_from_folder` calls :meth:`cutoff` on the client
    with the market's last fact, then :meth:`outcomes` on each shard's tables and :meth:`rows`
    on the shard's matrix, on its worker. Pickled to the workers: plain settings only.
    """

    label: LabelConfig
    settle_days: int = C.LABEL_SETTLE_DAYS
    train_until: Any = None

    def cutoff(self, end) -> pd.Timestamp:
        return cutoff_at(end, self.train_until)

    def outcomes(self, tables: dict[str, pd.DataFrame], cutoff: pd.Timestamp) -> dict:
        return shard_outcomes(tables, cutoff, self.settle_days)

    def rows(self, matrix: pd.DataFrame, outcomes: dict) -> tuple[pd.DataFrame, np.ndarray]:
        return label_rows(matrix, outcomes, self.label)


@dataclass
class Labelled:
    """Labelled training rows assembled elsewhere (e.g. from shards), for :func:`build_dataset`.

    Attributes
    ----------
    frame : DataFrame
        As :func:`labelled_matrix` returns it (same rows, order and values).
    excluded : int
        Campaigns left out because they are not complete at ``cutoff``.
    cutoff : Timestamp
        The training cutoff the labels were computed at.
    """

    frame: pd.DataFrame
    excluded: int
    cutoff: pd.Timestamp


def build_dataset(
    tables: dict[str, pd.DataFrame],
    config: TrainingConfig,
    train_until: str | pd.Timestamp | None = None,
    matrix: pd.DataFrame | None = None,
    labelled: Labelled | None = None,
) -> RankingData:
    """Labelled, time-split ranking data from validated contract tables.

    Parameters
    ----------
    tables : dict of DataFrame
        Validated contract tables (:func:`creatorrank.data.validate.load_market`).
    config : TrainingConfig
    train_until : str or Timestamp, optional
        Training cutoff: only campaigns with ``ends_at + label_settle_days`` before it are
        used, and only facts known before it shape the labels. Default: now, or the end of
        the data if earlier (see :func:`resolve_cutoff`).
    matrix : DataFrame, optional
        A precomputed training matrix (built from ``tables`` when omitted).
    labelled : Labelled, optional
        The labelled rows and their cutoff, already computed (``train --engine dask``: from
        creator shards). Then ``tables`` needs only the campaigns table, ``train_until`` and
        ``matrix`` are unused, and propensity weights are refused (they need every table).

    Returns
    -------
    RankingData

    Raises
    ------
    InputError
        No complete campaign, none with a positive outcome, a split without one (fewer than
        three complete campaigns included), or a configured feature missing from the matrix.
        Raised before anything is trained, tracked or registered.
    """
    if labelled is None:
        cutoff = resolve_cutoff(tables, train_until)
        frame, excluded = labelled_matrix(tables, config.label, cutoff, config.label_settle_days, matrix)
    else:
        if config.propensity.enabled:
            raise ConfigError(PROPENSITY_NEEDS_TABLES)
        frame, excluded, cutoff = labelled.frame, labelled.excluded, labelled.cutoff
    features = config.feature_list()
    positive = check_learnable(frame, tables, config, cutoff)
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise InputError(f"feature '{missing[0]}' is not in the training matrix")
    created = frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True)[C.AS_OF].first()
    splits_of = assign_splits(created, config.split)
    check_splits_learnable(splits_of, positive, config, cutoff)
    frame = frame[[*ID_COLUMNS, C.OUTCOME_GMV, C.OUTCOME_ACCEPTED, C.OUTCOME_DELIVERED, C.LABEL, *features, *baseline_columns(frame, features)]]
    frame = frame.assign(**{SPLIT: frame[C.CAMPAIGN_ID].map(splits_of).to_numpy()})
    categorical = categorical_features(features)
    splits: dict[str, RankingSplit] = {}
    dropped = 0
    for name in SPLITS:
        part = frame[frame[SPLIT] == name].drop(columns=SPLIT)
        if name != "test":
            part = cap_rows(part, config.max_rows_per_campaign, config.lightgbm.seed)
        if name == "validation":
            part, dropped = drop_unlabelled_campaigns(part)
        part, group = sort_queries(part)
        splits[name] = RankingSplit(name, part, group)
    categories = fit_categories(splits["train"].frame, categorical)
    propensity = None
    if config.propensity.enabled:  # only the training rows are weighted: validation and test grade as seen
        from .propensity import invitation_weights

        propensity = invitation_weights(tables, splits["train"].frame, features, categorical, config)
        splits["train"].weight = propensity.weight
    data = RankingData(splits, features, categorical, categories, cutoff, excluded, dropped, propensity)
    logger.info(
        "ranking data: %s campaigns train / %s validation / %s test (%s rows); %d incomplete at %s left out",
        f"{splits['train'].n_campaigns:,}", f"{splits['validation'].n_campaigns:,}",
        f"{splits['test'].n_campaigns:,}", f"{len(frame):,}", excluded, cutoff.isoformat(),
    )
    return data


def baseline_columns(frame: pd.DataFrame, features: list[str]) -> list[str]:
    """Matrix columns the baselines rank by that are not model inputs (kept so baselines never depend
    on the configured feature list)."""
    return [c for c in dict.fromkeys(BASELINE_FEATURES.values()) if c in frame.columns and c not in features]


def when(t: pd.Timestamp) -> str:
    """A cutoff for messages: the date alone at midnight, else date and time to the second."""
    t = pd.Timestamp(t)
    return f"{t:%Y-%m-%d}" if t == t.floor("D") else f"{t:%Y-%m-%d %H:%M:%S}"


def positive_campaigns(frame: pd.DataFrame) -> pd.Series:
    """Per campaign id of ``frame``: does any invitation have a positive label?"""
    if frame.empty:
        return pd.Series(dtype=bool)
    return (frame[C.LABEL] > 0).groupby(frame[C.CAMPAIGN_ID], sort=False, observed=True).any()


def check_learnable(frame: pd.DataFrame, tables: dict[str, pd.DataFrame], config: TrainingConfig,
                    cutoff: pd.Timestamp) -> pd.Series:
    """Stop before training when the complete campaigns hold nothing to learn from.

    Returns
    -------
    Series
        Per complete campaign: has a positive outcome (:func:`positive_campaigns`).

    Raises
    ------
    InputError
        No complete campaign with invitations, or none with a positive outcome.
    """
    settle = config.label_settle_days
    if frame.empty:
        n_all = len(tables[C.CAMPAIGNS]) if C.CAMPAIGNS in tables else 0
        raise InputError(
            f"no complete campaigns before {when(cutoff)}: nothing to train on (a campaign is complete "
            f"{settle} days after it ends and needs invitations; the data holds {n_all:,} campaign(s))")
    positive = positive_campaigns(frame)
    if not positive.any():
        raise InputError(
            f"no complete campaign with a positive outcome (net GMV > {config.label.thresholds_usd[0]:g}) before "
            f"{when(cutoff)}: nothing to learn from ({len(positive):,} complete campaign(s), no invited creator sold)")
    if len(positive) < len(SPLITS):
        raise InputError(f"only {len(positive)} complete campaign(s) before {when(cutoff)}: need at least "
                         f"{len(SPLITS)}, one each for training, validation and test")
    return positive


def check_splits_learnable(splits_of: pd.Series, positive: pd.Series, config: TrainingConfig,
                           cutoff: pd.Timestamp) -> None:
    """Every split needs a campaign with a positive outcome: to learn from, to stop on, to test on.

    Raises
    ------
    InputError
        Naming the splits without one and how many campaigns with a positive outcome there are.
    """
    pos = positive.reindex(splits_of.index).fillna(False).astype(bool)
    empty = [name for name in SPLITS if not pos[splits_of == name].any()]
    if empty:
        share = "/".join(f"{getattr(config.split, n):.0%}" for n in SPLITS)
        raise InputError(
            f"too few campaigns with a positive outcome before {when(cutoff)} to train, validate and test: "
            f"{int(pos.sum())} of {len(pos)} complete campaign(s) have one and the {' and '.join(empty)} split "
            f"(campaigns in time order, {share}) got none; need at least 3, one in each split")


def drop_unlabelled_campaigns(part: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Leave out campaigns without a positive label (LightGBM would score them NDCG 1).

    A campaign where nothing sold has no ideal ranking; LightGBM's ``ndcg@k`` counts it as a
    perfect 1.0, which inflates validation scores and early stopping (a market without any
    sale would report validation NDCG 1.0). Validation therefore keeps only campaigns with a
    positive, as the test metrics do (:mod:`creatorrank.training.metrics`).
    """
    pos = positive_campaigns(part)
    keep = part[C.CAMPAIGN_ID].isin(pos.index[pos.to_numpy(bool)]).to_numpy(bool)
    dropped = int((~pos).sum())
    if dropped:
        logger.info("validation: %d campaign(s) without any net GMV left out (no ideal ranking to stop on)", dropped)
    return part[keep], dropped
