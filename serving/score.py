"""Batch scoring: rank candidate creators for campaign briefs with one registered model version.

``score()`` is the body of ``creatorrank score``. The steps, each failing with a one-line
:class:`~creatorrank.core.errors.CreatorRankError` before anything is written:

1. read the briefs (a briefs file, or campaign ids looked up in the data);
2. load the model, resolving an alias such as ``@champion`` to a version number once; that
   version scores every row and is stamped on it, even if the alias moves meanwhile;
3. check the model's features against the current feature catalogue;
4. find every brief's candidates (``eligible`` or ``invited``);
5. prepare the market once (event streams and peer tables, see :func:`prepare_context`),
   then stream the candidates in shards of ``chunk_size`` through ``build_features`` and
   ``predict``, locally or on a Dask cluster (the same shards either way, so both engines
   give identical scores). On Dask (:class:`DaskMarket`) the client validates the data folder
   in bounded memory and holds only its creators and campaigns; each worker reads its shard
   of creators' rows, searches its candidates (step 4) and prepares and scores them;
6. rank within each campaign, keep the top K, write the file atomically.

Output columns, one row per (campaign, creator), sorted by campaign_id then rank:

campaign_id, creator_id
    The brief and the candidate.
score
    Raw lambdarank score: comparable within a campaign only.
rank
    1..n, 1 = best; equal scores are ordered by creator_id (deterministic, but see ``ties``).
ties
    How many *other* candidates of the brief have exactly this score (over all candidates,
    before ``top``). A row with ``ties > 0`` is "tied with N others at rank a-b", not
    ranked above or below them (:mod:`creatorrank.serving.ranking`).
percentile
    Share of the campaign's candidates scoring at most as high, 0-100 (100 = best; equal
    scores share it), over all candidates, before ``top``.
confidence
    ``none`` / ``low`` / ``medium`` / ``high``: how much history the score rests on, from
    the three counts below (thresholds in :mod:`creatorrank.serving.ranking`).
idx_*
    The seven named 0-100 indices of the feature catalogue (NaN: not enough data), then
    their evidence counts ``idx_*_evidence`` where the feature set has them.
posts_seen, invitations_seen, orders_seen
    Facts known before ``as_of`` that the score rests on.
category_posts_seen
    Posts in the brief's category before ``as_of`` (0: no post in that category yet; NaN:
    the brief has no category).
expected_gmv_usd, gmv_p10_usd, gmv_p90_usd
    Expected net GMV of the creator for this brief if invited, and its 80% interval (only
    when the model has a value model, :mod:`creatorrank.training.value`; docs/VALUE.md).
fair_fee_usd, fee_vs_rate_card
    ``expected_gmv_usd / target_roas`` (the brief's ``target_roas``, else ``target_roas``
    of :func:`score`, else the config default 3.0), and the creator's ``rate_card_usd``
    over it (NaN without a rate card or when the fair fee is 0). With the value columns only.
model_name, model_version, feature_set_version
    What produced the score (the version an alias resolved to).
as_of, scored_at
    The features' decision time; when the run ranked them.

Beside the output, ``<out>.manifest.json`` records the run for ``explain``
(:mod:`creatorrank.serving.manifest`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.arrow import string_column
from ..core.errors import CreatorRankError, ModelError
from ..core.io import FRAME_SUFFIXES, check_output, write_frame
from ..core.timeutil import parse_ts, to_utc
from ..data.validate import load_clean_tables
from ..features.specs import FEATURE_SET_VERSION, feature_names
from ..training.mlflow_io import load_ranker
from .briefs import canonical_codes, lookup_briefs, read_briefs
from .candidates import INVITED, MODES, CandidateFinder, EligibilityRules, refuse_empty, require_campaign
from .manifest import fingerprint, ids_sha256, manifest_path, table_fingerprints, write_manifest
from ..training.uncertainty import add_score_sd
from .explore import DEFAULT_DRAWS, DEFAULT_LIST, brief_summary, check_explore
from .explore import explore as explore_lists
from .explore import manifest_entry as explore_entry
from .ranking import CONFIDENCE_RULES, confidence, tie_counts, within_campaign_rank
from .shards import EVIDENCE_COLUMNS, make_shards, micros, prepare_context, score_shard, timestamps

logger = logging.getLogger(__name__)

ENGINES = ("local", "dask")
DEFAULT_CHUNK_SIZE = 50_000


@dataclass
class ScoreResult:
    """What a scoring run wrote.

    Attributes
    ----------
    path : Path
        The output file.
    rows : int
        Rows written (after ``top``).
    candidates : int
        Creators scored over all campaigns (before ``top``).
    campaigns : list of str
        Campaign ids scored, in output order.
    model_uri : str
        The URI as given (possibly an alias).
    model_name : str
    model_version : int or None
        The version the alias resolved to (None for a model outside the registry).
    feature_set_version : str
    engine : str
    scored_at : Timestamp
    seconds : dict
        Wall seconds per stage (load, candidates, score, write, total).
    manifest : Path
        ``<path>.manifest.json``, the record of the run that ``explain`` reads.
    """

    path: Path
    rows: int
    candidates: int
    campaigns: list[str]
    model_uri: str
    model_name: str
    model_version: int | None
    feature_set_version: str
    engine: str
    scored_at: pd.Timestamp
    seconds: dict[str, float] = field(default_factory=dict)
    manifest: Path | None = None

    def summary(self) -> str:
        """One line for the command line."""
        version = f"version {self.model_version}" if self.model_version is not None else "unversioned"
        return (
            f"{self.rows:,} rows for {len(self.campaigns):,} campaign(s) ({self.candidates:,} candidates scored) "
            f"written to {self.path}: {self.model_name} {version}, feature set {self.feature_set_version}, "
            f"{self.engine} engine, {self.seconds.get('total', 0.0):.1f}s"
        )

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------ entry point


def score(
    data_dir: str | os.PathLike,
    model_uri: str,
    out: str | os.PathLike,
    campaign_ids: Iterable[str] | None = None,
    briefs: str | os.PathLike | None = None,
    as_of: str | pd.Timestamp | None = None,
    candidates: str = "eligible",
    top: int | None = None,
    engine: str = "local",
    scheduler: Any = None,
    n_shards: int | None = None,
    wave_shards: int | None = None,
    scratch: str | os.PathLike | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    active_days: int = 90,
    same_country: bool = True,
    same_category: bool = False,
    tracking_uri: str | None = None,
    min_posts: int = 1,
    target_roas: float | None = None,
    explore: int = 0,
    explore_seed: int = 0,
    explore_draws: int = DEFAULT_DRAWS,
) -> ScoreResult:
    """Rank candidate creators for each brief and write one row per (campaign, creator).

    Parameters
    ----------
    data_dir : path-like
        Folder of raw contract tables (validated; rejected rows are left out).
    model_uri : str
        ``models:/creator-ranker@champion``, ``models:/creator-ranker/3``, ``runs:/ID/model``.
    out : path-like
        ``.parquet`` or ``.csv``; replaced atomically.
    campaign_ids : iterable of str, optional
        Campaigns of the data to score. Exactly one of ``campaign_ids`` and ``briefs``.
    briefs : path-like, optional
        CSV/Parquet file of campaign rows (contract columns); the campaigns need not exist
        in the data.
    as_of : str or Timestamp, optional
        Decision time for every brief; default each brief's ``created_at``.
    candidates : {"eligible", "invited"}
        ``eligible``: creators who joined before as-of, posted in the last ``active_days``
        days and (by default) serve the brief's country. ``invited``: exactly the
        campaign's invitees in the data (backtests).
    top : int, optional
        Keep the best ``top`` creators per campaign (percentiles still use all of them).
    engine : {"local", "dask"}
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``tcp://host:8786``) or a client; None starts a LocalCluster.
    n_shards, wave_shards, scratch
        Dask only: shards of creators (default one per worker thread), shards prepared at
        once (default one per worker) and the folder the data is partitioned into by shard
        (default a temporary one, removed at the end; docs/DASK.md).
    chunk_size : int
        Candidates per shard: bounds the memory of one ``build_features`` call.
    active_days, same_country, same_category
        Eligibility rules (see :class:`creatorrank.serving.candidates.EligibilityRules`).
    tracking_uri : str, optional
        MLflow tracking/registry URI (default ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``).
    min_posts : int
        Minimum evidence of an ``eligible`` candidate: posts before as-of (default 1, which
        every active creator has).
    target_roas : float, optional
        Target return on creator spend of the fair fee for briefs without their own
        ``target_roas`` (default: the config's ``value.target_roas``, 3.0).
    explore : int
        Places of each brief's top list (``top``, default 10) filled by Thompson sampling on
        ``score_sd`` instead of by score (:mod:`.explore`, docs/EXPLORATION.md); 0: none. Adds
        ``explored``, ``selection_probability`` and ``list_position``; needs a model with bags.
    explore_seed, explore_draws : int
        Seed and number of draws of the exploration (recorded in the manifest).

    Returns
    -------
    ScoreResult

    Raises
    ------
    CreatorRankError
        Bad arguments, a bad briefs file, unknown campaigns, an empty candidate set (one
        line naming the campaign). Nothing is written.
    ModelError
        Unknown model or alias, or a model trained on another feature set.
    """

    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    # Cheap argument checks first: a typo must not cost a market load.
    out = check_output(out, FRAME_SUFFIXES)
    check_output(manifest_path(out), (".json",))
    if engine not in ENGINES:
        raise CreatorRankError(f"engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    if candidates not in MODES:
        raise CreatorRankError(f"candidates must be one of {', '.join(MODES)}, got '{candidates}'")
    if top is not None and int(top) < 1:
        raise CreatorRankError(f"top must be >= 1, got {top}")
    if int(chunk_size) < 1:
        raise CreatorRankError(f"chunk_size must be >= 1, got {chunk_size}")
    if (campaign_ids is None) == (briefs is None):
        raise CreatorRankError("give either campaign ids or a briefs file (exactly one)")
    if int(min_posts) < 0:
        raise CreatorRankError(f"min_posts must be >= 0, got {min_posts}")
    default_roas = default_target_roas(target_roas)
    list_size = int(top) if top is not None else DEFAULT_LIST
    if explore:
        check_explore(int(explore), list_size, int(explore_draws))
    rules = EligibilityRules(int(active_days), bool(same_country), bool(same_category), int(min_posts))
    fixed_as_of = None
    if as_of is not None:
        fixed_as_of = parse_ts(as_of, "as-of") if isinstance(as_of, str) else to_utc(as_of)

    brief_frame = read_briefs(briefs) if briefs is not None else None
    if isinstance(campaign_ids, str):  # one id, not its characters
        campaign_ids = [campaign_ids]
    campaign_list = list(campaign_ids) if campaign_ids is not None else None
    if campaign_list is not None and not campaign_list:
        raise CreatorRankError("no campaign to score: give at least one campaign id")

    t = time.perf_counter()
    bundle = load_model(model_uri, tracking_uri)
    check_feature_set(bundle)
    if explore and not getattr(bundle, "bags", None):
        raise CreatorRankError(f"--explore needs score_sd: model {model_uri} has no bagged rankers "
                               "(train it with uncertainty.n_bags >= 2)")
    seconds["model"] = time.perf_counter() - t

    t = time.perf_counter()
    with open_market(engine, data_dir, rules, scheduler, n_shards, wave_shards, scratch) as market:
        if brief_frame is None:
            brief_frame = lookup_briefs(market.campaigns, campaign_list)
        brief_frame = canonical_codes(brief_frame, market.code_tables())  # "vn" -> the data's "VN"
        roas = brief_target_roas(brief_frame, default_roas)
        creators = market.creators
        rate_cards = creators.set_index(creators[C.CREATOR_ID].astype(str))[C.RATE_CARD_USD]
        del creators
        if value_model(bundle) is None:
            logger.info("model %s has no value model: no expected GMV, interval or fair fee columns", model_uri)
        seconds["load"] = time.perf_counter() - t

        t = time.perf_counter()
        times = [fixed_as_of if fixed_as_of is not None else to_utc(b[C.CREATED_AT]) for _, b in brief_frame.iterrows()]
        plan: list[tuple[pd.Series, pd.Timestamp, np.ndarray]] = []
        category_posts: dict[str, pd.Series] = {}
        # An empty candidate set is refused brief by brief, in order: InputError, nothing written.
        found = market.candidates(brief_frame, times, candidates)
        for (_, brief), when, (ids, counts) in zip(brief_frame.iterrows(), times, found):
            plan.append((brief, when, ids))
            category_posts[str(brief[C.CAMPAIGN_ID])] = pd.Series(
                counts, index=pd.Index(ids, dtype=object).astype(str))
            logger.info("campaign %s: %s %s candidates as of %s", brief[C.CAMPAIGN_ID], f"{len(ids):,}",
                        candidates, when.isoformat())
        del found
        seconds["candidates"] = time.perf_counter() - t

        parts = market.score(bundle, plan, int(chunk_size), seconds)

    t = time.perf_counter()
    scored_at = pd.Timestamp.now(tz="UTC").floor("us")
    as_of_by_campaign = {str(b[C.CAMPAIGN_ID]): when for b, when, _ in plan}
    if getattr(bundle, "bags", None):
        parts = add_score_sd(parts)  # campaigns centred over all their shards
    frame = rank_scores(parts, top=None if explore else top)
    explored = None
    if explore:
        frame = explore_lists(frame, int(explore), int(explore_seed), int(explore_draws), top=list_size)
        explored = {"run": explore_entry(int(explore), int(explore_seed), int(explore_draws), list_size),
                    "briefs": brief_summary(frame, int(explore), int(explore_seed), int(explore_draws))}
        if top is not None:
            frame = frame[frame[C.LIST_POSITION].notna().to_numpy(bool)].reset_index(drop=True)
    if value_model(bundle) is not None:
        frame = add_fair_fee(frame, rate_cards, roas)
    frame = add_category_evidence(frame, category_posts)
    frame = stamp(frame, bundle, as_of_by_campaign, scored_at, model_uri)
    write_frame(frame, out)
    manifest = write_run_manifest(out, frame, plan, bundle, model_uri, data_dir, briefs, rules, candidates,
                                  fixed_as_of, top, engine, scored_at, roas, explored)
    seconds["write"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t_start

    result = ScoreResult(
        path=out,
        rows=len(frame),
        candidates=int(sum(len(ids) for _, _, ids in plan)),
        campaigns=sorted(as_of_by_campaign),
        model_uri=model_uri,
        model_name=_model_name(bundle, model_uri),
        model_version=bundle.model_version,
        feature_set_version=str(bundle.feature_set_version),
        engine=engine,
        scored_at=scored_at,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        manifest=manifest,
    )
    logger.info("%s", result.summary())
    return result


# ------------------------------------------------------------------------------ where the market lives


@contextlib.contextmanager
def open_market(engine: str, data_dir, rules: EligibilityRules, scheduler: Any = None, n_shards: int | None = None,
                wave_shards: int | None = None, scratch=None):
    """The market of one scoring run: :class:`LocalMarket` or :class:`DaskMarket` (``engine``)."""
    if engine == "local":
        yield LocalMarket(load_clean_tables(data_dir), rules)
        return
    from ..features.sharded import open_folder
    from .dask_engine import folder_scoring

    # bounded-memory validation; creators and campaigns only
    folder = open_folder(data_dir, scratch=scratch, wave_shards=wave_shards)
    with folder_scoring(folder, scheduler, n_shards) as session:
        yield DaskMarket(session, rules)


class LocalMarket:
    """The clean tables in this process: candidates over them, then one prepared market scored shard by shard."""

    def __init__(self, tables: dict[str, pd.DataFrame], rules: EligibilityRules):
        self.tables, self.rules = tables, rules
        self.creators, self.campaigns = tables[C.CREATORS], tables[C.CAMPAIGNS]

    def code_tables(self) -> dict[str, pd.DataFrame]:
        """Where the data's country and category spellings come from (:func:`canonical_codes`)."""
        return self.tables

    def candidates(self, briefs: pd.DataFrame, times: list, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per brief: sorted candidate ids and their posts in its category (an empty set is refused)."""
        finder = CandidateFinder(self.tables, self.rules)
        out = []
        for (_, brief), when in zip(briefs.iterrows(), times):
            ids = finder.find(brief, when, mode)
            out.append((ids, finder.category_posts(ids, brief[C.CATEGORY], when)))
        return out  # the finder's arrays go before the market is prepared (the memory peak)

    def score(self, bundle, plan, chunk_size: int, seconds: dict) -> list[pd.DataFrame]:
        """Prepare the market once, then score lazily built shards one after the other."""
        t = time.perf_counter()
        context = prepare_context(self.tables, [when for _, when, _ in plan])
        self.tables = None  # the prepared market is all the shards need: let the raw tables go
        self.creators = self.campaigns = None
        seconds["prepare"] = time.perf_counter() - t
        t = time.perf_counter()
        parts = [score_shard(context, bundle, shard.decisions) for shard in make_shards(plan, chunk_size)]
        seconds["score"] = time.perf_counter() - t
        return parts


class DaskMarket:
    """A data folder read by Dask workers, shard by shard of creators; the client holds creators and campaigns.

    Candidates are searched per shard on the workers (:func:`creatorrank.serving.candidates.shard_candidates`)
    and scored there (:class:`creatorrank.serving.dask_engine.FolderScoring`), from one reading.
    """

    def __init__(self, session, rules: EligibilityRules):
        self.session, self.rules = session, rules
        self.creators, self.campaigns = session.folder.creators, session.folder.campaigns

    def code_tables(self) -> dict[str, pd.DataFrame]:
        """Countries from the creators, categories from the creators and the posts (as the workers report them)."""
        return {C.CREATORS: self.creators, C.POSTS: pd.DataFrame({C.CATEGORY: self.session.post_categories()})}

    def candidates(self, briefs: pd.DataFrame, times: list, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """As :meth:`LocalMarket.candidates`, searched on the workers; refused in brief order as locally."""
        campaign_ids = set(self.campaigns[C.CAMPAIGN_ID].astype(object)) if mode == INVITED else set()
        found = self.session.candidates(briefs, times, self.rules, mode)
        for (_, brief), when, (ids, _) in zip(briefs.iterrows(), times, found):
            if mode == INVITED:
                require_campaign(brief[C.CAMPAIGN_ID], campaign_ids)
            refuse_empty(brief, when, mode, self.rules, ids)
        return found

    def score(self, bundle, plan, chunk_size: int, seconds: dict) -> list[pd.DataFrame]:
        """Each worker prepares its creators and scores their pieces with the peer reduce."""
        seconds["prepare"] = 0.0  # on the workers, inside "score"
        t = time.perf_counter()
        shards = [shard.decisions for shard in make_shards(plan, chunk_size)]
        parts = self.session.score(bundle, shards)
        seconds["score"] = time.perf_counter() - t
        return parts


# ------------------------------------------------------------------------------ steps


def load_model(model_uri: str, tracking_uri: str | None = None):
    """Load the ranker, resolving an alias to a version number exactly once.

    Returns
    -------
    RankerBundle
        With ``model_version`` set to the resolved number.
    """

    bundle = load_ranker(model_uri, tracking_uri=tracking_uri)
    if isinstance(bundle, tuple):  # tolerate a (bundle, version) return
        bundle, version = bundle
        bundle.model_version = version
    logger.info("model %s -> %s version %s", model_uri, bundle.model_name, bundle.model_version)
    return bundle


def check_feature_set(bundle) -> None:
    """Refuse a model the current feature catalogue cannot feed.

    A model may use a subset of the catalogue (``features:`` in the training config), but it
    must have been trained on this feature-set version and every input must be a catalogue
    feature.

    Raises
    ------
    ModelError
        Naming the features the model needs that the catalogue lacks (missing) and the
        catalogue features the model never saw (extra).
    """

    catalogue = list(feature_names())
    model = list(bundle.features)
    known, used = set(catalogue), set(model)
    missing = [f for f in model if f not in known]
    if not missing and str(bundle.feature_set_version) == str(FEATURE_SET_VERSION):
        return
    extra = [f for f in catalogue if f not in used]
    same = " (same names, changed definitions)" if not missing and not extra else ""
    raise ModelError(
        f"model {bundle.model_uri or ''} was trained on feature set {bundle.feature_set_version}, "
        f"not the current {FEATURE_SET_VERSION}{same}: missing {_names(missing)} (model inputs the catalogue "
        f"lacks); extra {_names(extra)} (catalogue features the model lacks); retrain it on the current set"
    )


def _names(names: list[str], shown: int = 8) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def rank_scores(parts: list[pd.DataFrame], top: int | None = None) -> pd.DataFrame:
    """Rank within each campaign: rank 1 is the highest score, ties go to the smaller creator_id.

    ``ties`` counts the other candidates with the same score, ``percentile`` is the share of
    the campaign's candidates scoring at most as high (100 = best; tied scores share a
    percentile); both are computed before ``top`` cuts. ``confidence`` is the evidence level
    of :func:`creatorrank.serving.ranking.confidence` (``none`` when the counts are absent).

    Parameters
    ----------
    parts : list of DataFrame
        :func:`score_shard` results (campaign_id, creator_id, score, idx_*), in any order.
    top : int, optional
        Keep the best ``top`` rows of each campaign.

    Returns
    -------
    DataFrame
        campaign_id, creator_id, score, rank, ties, percentile, confidence, idx_* and the
        evidence counts; sorted by campaign_id, rank.
    """
    by_campaign: dict[str, list[pd.DataFrame]] = {}
    for part in parts:
        if len(part):
            for cid, rows in part.groupby(C.CAMPAIGN_ID, sort=False, observed=True):
                by_campaign.setdefault(str(cid), []).append(rows)
    ranked = []
    for cid in sorted(by_campaign):
        chunks = by_campaign.pop(cid)  # free each campaign's parts once ranked
        frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0].reset_index(drop=True)
        ranked.append(_rank_one(frame, top))
    if not ranked:
        raise CreatorRankError("nothing was scored")
    return pd.concat(ranked, ignore_index=True) if len(ranked) > 1 else ranked[0]


def _rank_one(frame: pd.DataFrame, top: int | None) -> pd.DataFrame:
    """Rank one campaign's rows (see :func:`rank_scores`)."""

    score = frame[C.SCORE].to_numpy(dtype=np.float64)
    n = len(score)
    same = np.zeros(n, dtype=np.int8)  # one campaign
    rank = within_campaign_rank(same, score, frame[C.CREATOR_ID].to_numpy(dtype=object))
    order = np.argsort(rank, kind="stable")
    at_or_below = np.searchsorted(np.sort(score), score, side="right")  # ties share the top count
    percentile = 100.0 * at_or_below / n
    ties = tie_counts(same, score)
    counts = [frame[c].to_numpy(dtype=np.float64) if c in frame.columns else np.zeros(n) for c in EVIDENCE_COLUMNS]
    level = confidence(*counts)
    keep = order if top is None else order[: int(top)]
    out = frame.iloc[keep].reset_index(drop=True)
    out.insert(3, C.RANK, rank[keep])
    out.insert(4, C.TIES, ties[keep])
    out.insert(5, C.PERCENTILE, percentile[keep])
    out.insert(6, C.CONFIDENCE, string_column(level[keep]))
    return out


def default_target_roas(value: float | None) -> float:
    """The fair fee's target return on spend for briefs without one: ``value``, else the config default.

    Raises
    ------
    CreatorRankError
        ``value`` is not a finite number > 0.
    """
    if value is None:
        from ..training.config import ValueConfig

        return float(ValueConfig().target_roas)
    try:
        roas = float(value)
    except (TypeError, ValueError):
        raise CreatorRankError(f"target_roas must be a number > 0, got {value!r}") from None
    if not np.isfinite(roas) or roas <= 0:
        raise CreatorRankError(f"target_roas must be a finite number > 0, got {value!r}")
    return roas


def brief_target_roas(briefs: pd.DataFrame, default: float) -> dict[str, float]:
    """Campaign id -> target return on spend: the brief's ``target_roas`` (checked by
    :func:`creatorrank.serving.briefs.read_briefs`), else ``default``."""
    values = briefs[C.TARGET_ROAS] if C.TARGET_ROAS in briefs.columns else pd.Series(np.nan, index=briefs.index)
    values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return {str(cid): (float(v) if np.isfinite(v) else float(default))
            for cid, v in zip(briefs[C.CAMPAIGN_ID], values)}


def add_fair_fee(frame: pd.DataFrame, rate_cards: pd.Series, roas: dict[str, float]) -> pd.DataFrame:
    """Add ``fair_fee_usd`` and ``fee_vs_rate_card`` after the value model's columns.

    ``fair_fee_usd = expected_gmv_usd / target_roas`` of the row's brief: the fee at which the
    brand's expected return on it meets its target. ``fee_vs_rate_card = rate_card_usd /
    fair_fee_usd`` (above 1: the declared rate asks more than the expected GMV supports); NaN
    without a rate card or when the fair fee is 0.

    Parameters
    ----------
    rate_cards : Series
        ``rate_card_usd`` indexed by creator id (str).
    roas : dict
        Campaign id -> target return on spend (:func:`brief_target_roas`).
    """
    campaign = frame[C.CAMPAIGN_ID].astype(object).astype(str)
    target = campaign.map(roas).to_numpy(dtype=np.float64)
    fair = frame[C.EXPECTED_GMV_USD].to_numpy(dtype=np.float64) / target
    rate = frame[C.CREATOR_ID].astype(object).astype(str).map(rate_cards).to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        vs = np.where(fair > 0, rate / fair, np.nan)
    at = frame.columns.get_loc(C.GMV_P90_USD) + 1
    frame.insert(at, C.FAIR_FEE_USD, fair)
    frame.insert(at + 1, C.FEE_VS_RATE_CARD, vs)
    return frame


def add_category_evidence(frame: pd.DataFrame, counts: dict[str, pd.Series]) -> pd.DataFrame:
    """Add ``category_posts_seen``: each row's posts in its brief's category before as-of.

    Parameters
    ----------
    counts : dict
        Campaign id -> counts indexed by creator id
        (:meth:`creatorrank.serving.candidates.CandidateFinder.category_posts`).
    """
    values = np.full(len(frame), np.nan)
    campaign = frame[C.CAMPAIGN_ID].astype(object).to_numpy()
    creator = frame[C.CREATOR_ID].astype(object).astype(str).to_numpy()
    for cid, per_creator in counts.items():
        mine = campaign == cid
        if mine.any():
            values[mine] = per_creator.reindex(creator[mine]).to_numpy(dtype=np.float64)
    frame[C.CATEGORY_POSTS_SEEN] = values
    return frame


def _model_name(bundle, model_uri: str) -> str:
    return str(bundle.model_name) if bundle.model_name else model_uri


def stamp(frame: pd.DataFrame, bundle, as_of: dict[str, pd.Timestamp], scored_at: pd.Timestamp,
          model_uri: str) -> pd.DataFrame:
    """Add model name and version, feature-set version, as_of and scored_at to every row."""
    n = len(frame)
    version = bundle.model_version
    frame[C.MODEL_NAME] = string_column(np.full(n, _model_name(bundle, model_uri), dtype=object))
    frame[C.MODEL_VERSION] = pd.array(np.full(n, -1 if version is None else int(version), dtype=np.int64),
                                      dtype="Int64")
    if version is None:  # a model outside the registry has no version number
        frame[C.MODEL_VERSION] = pd.array([pd.NA] * n, dtype="Int64")
    frame[C.FEATURE_SET_VERSION] = string_column(np.full(n, str(bundle.feature_set_version), dtype=object))
    keys = list(as_of)
    pos = pd.Index(keys, dtype=object).get_indexer(frame[C.CAMPAIGN_ID].astype(object))
    frame[C.AS_OF] = timestamps(np.array([micros(as_of[k]) for k in keys], dtype=np.int64)[pos])
    frame[C.SCORED_AT] = timestamps(np.full(n, micros(scored_at), dtype=np.int64))
    return frame


def write_run_manifest(out: Path, frame: pd.DataFrame, plan, bundle, model_uri: str, data_dir, briefs, rules,
                       candidates: str, fixed_as_of, top, engine: str, scored_at: pd.Timestamp,
                       roas: dict[str, float] | None = None, explored: dict | None = None) -> Path:
    """Write ``<out>.manifest.json``: what ``explain`` needs to know of this run (see :mod:`.manifest`)."""


    listed = frame.groupby(C.CAMPAIGN_ID, sort=False, observed=True).size()
    name = _model_name(bundle, model_uri)
    version = bundle.model_version
    campaigns = []
    for brief, when, ids in plan:
        cid = str(brief[C.CAMPAIGN_ID])
        campaigns.append({
            C.CAMPAIGN_ID: cid, C.CATEGORY: brief[C.CATEGORY], C.COUNTRY: brief[C.COUNTRY],
            C.BUDGET_USD: brief[C.BUDGET_USD], C.AS_OF: when, "candidates": int(len(ids)),
            "candidates_sha256": ids_sha256(ids), "rows": int(listed.get(cid, 0)),
            C.TARGET_ROAS: (roas or {}).get(cid) if value_model(bundle) is not None else None,
            "explore": explored["briefs"].get(cid) if explored else None,
        })
    manifest = {
        "rows": int(len(frame)),
        "model": {"uri": model_uri, "name": name, "version": version,
                  "resolved_uri": f"models:/{name}/{int(version)}" if version is not None else model_uri,
                  "feature_set_version": str(bundle.feature_set_version)},
        "engine": engine,
        C.SCORED_AT: scored_at,
        "candidates": candidates,
        "eligibility": asdict(rules),
        C.AS_OF: fixed_as_of,
        "top": None if top is None else int(top),
        "confidence_rules": CONFIDENCE_RULES,
        "value": value_manifest(bundle),
        "uncertainty": {"present": bool(getattr(bundle, "bags", None)), "column": C.SCORE_SD,
                        "members": len(getattr(bundle, "bags", None) or [])},
        "explore": explored["run"] if explored else None,
        "campaigns": campaigns,
        "inputs": {"data_dir": str(Path(data_dir).resolve()), "tables": table_fingerprints(data_dir),
                   "briefs": fingerprint(briefs) if briefs is not None else None},
    }
    return write_manifest(out, manifest)


def value_model(bundle):
    """The bundle's value model, or None (a bundle without one, or of an older kind)."""
    return getattr(bundle, "value", None)


def value_manifest(bundle) -> dict[str, Any]:
    """The manifest's ``value`` entry: whether the scores carry value columns, and how they were made."""
    model = value_model(bundle)
    if model is None:
        return {"present": False}
    return {"present": True, "columns": [*C.VALUE_COLUMNS], "interval": float(model.interval),
            "level": float(model.level_), "calibration": dict(getattr(model, "calibration_", {})),
            "fair_fee": f"{C.EXPECTED_GMV_USD} / {C.TARGET_ROAS}"}
