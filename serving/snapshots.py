"""Features of many briefs on one prepared market, reusing each as-of's snapshot (issue 15).

``score`` prepares the market once (:func:`creatorrank.serving.shards.prepare_context`) and
calls :func:`creatorrank.features.engine.build_features` on it with one as-of per call: the
creators' brief-independent features are then computed once per as-of and kept on the market
(:func:`creatorrank.features.engine.materialize`), and every further brief of that as-of adds
only its category, country and budget features. ``explain`` (rebuilding the features of a
scores file) and the score card go through the same entry here, so they reuse the same
snapshots and get, bit for bit, the features they would get from the raw tables.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.timeutil import to_utc
from ..features import specs as S
from ..features.engine import PreparedMarket, build_features
from .shards import prepare_context


def market_for(tables, as_ofs) -> PreparedMarket:
    """``tables`` prepared for decisions at ``as_ofs`` (a :class:`PreparedMarket` is returned as it is).

    The same preparation as scoring (:func:`creatorrank.serving.shards.prepare_context`):
    events up to the latest as-of, each decision month's peer tables warmed.
    """
    if isinstance(tables, PreparedMarket):
        return tables
    return prepare_context(tables, list(as_ofs))


def brief_features(tables: Mapping[str, pd.DataFrame] | PreparedMarket, decisions: pd.DataFrame) -> pd.DataFrame:
    """:func:`~creatorrank.features.engine.build_features` of ``decisions``, one call per as-of on one market.

    Parameters
    ----------
    tables : dict of DataFrame or PreparedMarket
        Clean contract tables (prepared here, once, for every as-of of ``decisions``), or a
        market already prepared for them (its snapshots are used and extended).
    decisions : DataFrame
        As for ``build_features``: ``creator_id`` and ``as_of``, usually ``campaign_id``,
        ``category``, ``country`` and ``budget_usd``; any number of briefs and as-ofs.

    Returns
    -------
    DataFrame
        Equal to ``build_features(tables, decisions)``: the same rows in the same order,
        the same values bit for bit.
    """
    n = len(decisions)
    if not n or C.AS_OF not in decisions.columns or decisions[C.AS_OF].isna().any():
        return build_features(tables, decisions)  # nothing to share (or its one-line error)
    codes, as_ofs = pd.factorize(decisions[C.AS_OF], sort=True)
    market = market_for(tables, [to_utc(pd.Timestamp(t)) for t in as_ofs])
    if len(as_ofs) <= 1:
        return build_features(market, decisions)
    rows = [np.flatnonzero(codes == k) for k in range(len(as_ofs))]
    parts = [build_features(market, decisions.iloc[r]) for r in rows]  # one as-of a call: its snapshot
    frame = pd.concat(parts, ignore_index=True)
    back = np.empty(n, dtype=np.int64)
    back[np.concatenate(rows)] = np.arange(n)
    frame = frame.take(back).reset_index(drop=True)
    frame.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
    return frame
