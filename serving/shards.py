"""The unit of scoring work both engines share: shards of decisions and their scoring.

:func:`make_shards` cuts each brief's candidates into decision frames, :func:`prepare_context`
builds what every shard needs once, and :func:`score_shard` scores one shard. The local engine
(:mod:`.score`) calls :func:`score_shard` in a loop, the Dask engine (:mod:`.dask_engine`) as
one task per shard: the same function on the same shards, so both give identical results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.arrow import string_column
from ..core.timeutil import to_micros
from ..features import specs as S
from ..features.engine import PreparedMarket, build_features, prepare, warm_peer_tables

EVIDENCE_SUFFIX = S.evidence_column("")  # idx_<name>_evidence: the evidence count of an index
EVIDENCE_COLUMNS = [C.POSTS_SEEN, C.INVITATIONS_SEEN, C.ORDERS_SEEN]
SHARD_COLUMNS = [C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE]  # + the idx_* and evidence columns


@dataclass
class Shard:
    """One unit of work: a slice of one brief's candidates."""

    campaign_id: str
    decisions: pd.DataFrame  # creator_id, as_of, campaign_id, category, country, budget_usd


def micros(ts: pd.Timestamp) -> int:
    """Microseconds since the epoch of one timestamp (naive is taken as UTC)."""
    return int(to_micros(pd.Series([pd.Timestamp(ts)]))[0])


def timestamps(micros_: np.ndarray) -> pd.Series:
    """A ``datetime64[us, UTC]`` column from int64 microseconds."""
    return pd.Series(np.asarray(micros_, dtype=np.int64).view("datetime64[us]")).dt.tz_localize("UTC")


def make_shards(plan, chunk_size: int) -> Iterator[Shard]:
    """Cut each brief's candidates (sorted by creator_id) into decision frames of at most ``chunk_size`` rows."""
    for brief, when, ids in plan:
        budget = brief[C.BUDGET_USD]
        for start in range(0, len(ids), chunk_size):
            part = ids[start : start + chunk_size]
            n = len(part)
            decisions = pd.DataFrame(
                {
                    C.CREATOR_ID: string_column(part),
                    C.AS_OF: timestamps(np.full(n, micros(when), dtype=np.int64)),
                    C.CAMPAIGN_ID: string_column(np.full(n, str(brief[C.CAMPAIGN_ID]), dtype=object)),
                    C.CATEGORY: string_column(np.full(n, brief[C.CATEGORY], dtype=object)),
                    C.COUNTRY: string_column(np.full(n, brief[C.COUNTRY], dtype=object)),
                    C.BUDGET_USD: np.full(n, np.nan if pd.isna(budget) else float(budget)),
                }
            )
            yield Shard(str(brief[C.CAMPAIGN_ID]), decisions)


def prepare_context(tables: dict[str, pd.DataFrame], as_ofs: Iterable[pd.Timestamp]) -> PreparedMarket:
    """What every shard's ``build_features`` call shares, computed once.

    ``build_features`` called on raw tables rebuilds the market's event streams (sorts of
    every table's events) and the month's peer distributions on every call: per shard, that
    would dominate. :func:`creatorrank.features.engine.prepare` builds the streams once
    (leaving out events after the latest decision time) and
    :func:`~creatorrank.features.engine.warm_peer_tables` the peer tables of each decision
    month, so Dask workers receive them ready instead of each recomputing them. The market
    then keeps a snapshot per as-of (:func:`~creatorrank.features.engine.materialize`): the
    first shard of an as-of computes its creators' brief-independent features, every later
    shard of that as-of (other briefs, same creators) only its category, country and budget
    features.

    Returns
    -------
    PreparedMarket
        Picklable (numpy arrays only): scattered as it is to Dask workers.
    """
    as_ofs = sorted({pd.Timestamp(t) for t in as_ofs})
    until = as_ofs[-1] + pd.Timedelta(microseconds=1) if as_ofs else None
    market = prepare(tables, until=until)
    warm_peer_tables(market, as_ofs)
    return market


def score_shard(context: Any, bundle, decisions: pd.DataFrame) -> pd.DataFrame:
    """Features and raw scores of one shard of decisions.

    Returns
    -------
    DataFrame
        campaign_id, creator_id, score, the idx_* index columns (and their ``_evidence``
        counts when present) and posts_seen, invitations_seen, orders_seen, in the
        decisions' order; with a value model (``bundle.value``) also expected_gmv_usd,
        gmv_p10_usd and gmv_p90_usd.
    """
    features = build_features(context, decisions)
    scores = bundle.predict(features)
    out = features[[C.CAMPAIGN_ID, C.CREATOR_ID, *shard_value_columns(features.columns)]].reset_index(drop=True)
    out.insert(2, C.SCORE, np.asarray(scores, dtype=np.float64))
    if getattr(bundle, "value", None) is not None:  # expected GMV and its interval (training/value.py)
        out = pd.concat([out, bundle.value.predict(features).reset_index(drop=True)], axis=1)
    if getattr(bundle, "bags", None):  # member scores; score_sd once every shard is in (training/uncertainty.py)
        from ..training.uncertainty import add_member_scores

        out = add_member_scores(out, bundle.bags, bundle.encode_matrix(features), bundle.num_threads)
    return out


def score_with_peers(context: PreparedMarket, bundle, decisions: pd.DataFrame, months: list[int],
                     *peer_tables) -> pd.DataFrame:
    """:func:`score_shard` on one shard of creators, with the whole market's peer tables.

    ``context`` is a shard's prepared market (:func:`creatorrank.features.sharded.folder_shards`),
    ``peer_tables[i]`` the market's peer tables of month start ``months[i]`` (the reduce over
    the shards); they go into its peer cache, so the scores equal those of the whole market.
    """
    from ..features.sharded import use_peer_tables

    return score_shard(use_peer_tables(context, months, peer_tables), bundle, decisions)


def index_columns(columns: Iterable[str]) -> list[str]:
    """The seven named indices among ``columns``, in catalogue order (not their evidence counts)."""
    present = set(columns)
    return [c for c in S.INDEX_NAMES if c in present]


def shard_value_columns(columns: Iterable[str]) -> list[str]:
    """Feature columns a scores file carries: indices, their evidence counts, the evidence counts."""
    columns = list(columns)
    idx = index_columns(columns)
    evidence = [S.evidence_column(c) for c in idx if S.evidence_column(c) in columns]
    return [*idx, *evidence, *[c for c in EVIDENCE_COLUMNS if c in columns]]
