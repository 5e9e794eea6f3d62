"""The feature engine over shards of creators, with the peer tables as a reduce.

How it works
------------
Creators are split into ``n_shards`` by a stable hash of ``creator_id``
(:func:`shard_of`); a shard's tables are its creators' rows of ``creators``, ``posts``,
``orders`` and ``invitations`` (:func:`split_tables`), so every event stream of a creator lives
in one shard and each shard is prepared on its own (:func:`.engine.prepare`).

Peer tables compare a decision with *all* creators as of its month start, so they cannot be
computed inside one shard. They are a reduce: the client picks each month's peers globally
(everyone who joined before the month start; the first :data:`.specs.PEER_CAP` of them in the
local engine's hash order, :func:`peer_sample`), each shard computes the peer-free
:data:`.indices.SCORE_INPUTS` of its own peers (:func:`peer_inputs`), the client puts those rows
back in creator order, exactly as the local engine orders its peers, and builds
:class:`.indices.PeerTables` once per month (:func:`reduce_peers`). Every shard then computes its
decisions' features with those tables placed in its market's peer cache (:func:`shard_features`).
The results equal :func:`.engine.training_matrix` and :func:`.engine.snapshot` bit for bit
(tests/test_dask_features.py).

What a shard must share with the whole market so that its codes mean the same thing: the
sorted list of categories (taken from all posts, campaigns and creators; a shard missing one
gets a placeholder campaign row carrying it, which no order or invitation references), the
campaigns table (small; orders and decisions look categories up in it) and the posts its orders
point at (an order's category comes from its post, whoever posted it).

``client`` is a ``distributed.Client`` (tasks run on its workers, each shard's prepared market
stays on the worker that built it) or None (shards run one after the other in this process:
the same code, for tests and small markets). Dask is never imported here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError
from ..core.timeutil import to_micros as _us
from ..core.timeutil import to_utc
from . import engine as E
from . import specs as S
from .indices import PeerTables

_PLACEHOLDER = "\x00creatorrank-category-"  # campaign ids of the placeholder rows: no real id starts so


def shard_of(ids, n_shards: int) -> np.ndarray:
    """Shard of each creator id: a stable 64-bit hash modulo ``n_shards`` (same on every machine)."""
    return _modulo(E._peer_hash(ids), n_shards)


def _modulo(h: np.ndarray, n_shards: int) -> np.ndarray:
    if n_shards < 1:
        raise ConfigError(f"n_shards must be at least 1 (got {n_shards})")
    return (h % np.uint64(n_shards)).astype(np.int64)


@dataclass(frozen=True)
class CreatorIndex:
    """The creators in the local engine's creator order, hashed once.

    Attributes
    ----------
    ids : object array
        Creator ids, sorted as :func:`.engine.prepare` sorts them (their position is the code).
    joined : int64 array
        Join times (µs).
    hash : uint64 array
        :func:`.engine._peer_hash` of each id: the shard (modulo ``n_shards``) and the peer order.
    peer_order : int64 array
        Codes by (hash, code), as :attr:`.engine.PreparedMarket.peer_order`.
    """

    ids: np.ndarray
    joined: np.ndarray
    hash: np.ndarray
    peer_order: np.ndarray

    @classmethod
    def of(cls, creators: pd.DataFrame) -> "CreatorIndex":
        frame = creators.sort_values(C.CREATOR_ID, kind="stable")
        ids = frame[C.CREATOR_ID].astype(object).to_numpy()
        h = E._peer_hash(ids)
        return cls(ids, _us(frame[C.JOINED_AT]), h, np.lexsort((np.arange(len(ids)), h)))

    def shards(self, n_shards: int) -> np.ndarray:
        """Shard of each creator (in creator order); see :func:`shard_of`."""
        return _modulo(self.hash, n_shards)

    @cached_property
    def _lookup(self) -> pd.Index:
        return pd.Index(self.ids, dtype=object)

    def codes(self, ids) -> np.ndarray:
        """Code of each id (-1 for an id that is no creator's)."""
        return self._lookup.get_indexer(pd.Index(np.asarray(ids, dtype=object), dtype=object))


def global_categories(tables: dict[str, pd.DataFrame]) -> list[str]:
    """The sorted categories of the whole market, as :func:`.engine.prepare` collects them."""
    cats = set()
    for name, col in ((C.POSTS, C.CATEGORY), (C.CAMPAIGNS, C.CATEGORY), (C.CREATORS, C.PRIMARY_CATEGORY)):
        cats.update(pd.Series(tables[name][col]).dropna().astype(str).unique().tolist())
    return sorted(cats)


def split_tables(tables: dict[str, pd.DataFrame], n_shards: int,
                 index: CreatorIndex | None = None) -> list[dict[str, pd.DataFrame]]:
    """The tables of each shard of creators (rows keep their table order).

    Each shard gets its creators' rows of creators, posts, orders and invitations, the posts
    its orders reference (for their category), and the whole campaigns table plus one
    placeholder row per market category the shard would otherwise lack. ``index``
    (:meth:`CreatorIndex.of` the creators) saves hashing the ids again.
    """
    creators, posts, orders = tables[C.CREATORS], tables[C.POSTS], tables[C.ORDERS]
    invitations, campaigns = tables[C.INVITATIONS], tables[C.CAMPAIGNS]
    index = CreatorIndex.of(creators) if index is None else index
    of_creator = np.append(index.shards(n_shards), -1)  # code -1 (no such creator): no shard

    def shards(frame):  # unknown creators (not in the creators table) go nowhere, as locally
        return of_creator[index.codes(frame[C.CREATOR_ID])]

    post_shard, order_shard, inv_shard = shards(posts), shards(orders), shards(invitations)
    creator_shard = shards(creators)
    post_ids = posts[C.POST_ID].astype(object)
    categories = global_categories(tables)
    out = []
    for s in range(n_shards):
        o = orders[order_shard == s]
        referenced = post_ids.isin(pd.Series(o[C.POST_ID]).dropna().astype(object).unique()).to_numpy()
        shard = {
            C.CREATORS: creators[creator_shard == s],
            C.POSTS: posts[(post_shard == s) | referenced],
            C.ORDERS: o,
            C.INVITATIONS: invitations[inv_shard == s],
        }
        have = set(pd.Series(shard[C.POSTS][C.CATEGORY]).dropna().astype(str)) | set(
            pd.Series(shard[C.CREATORS][C.PRIMARY_CATEGORY]).dropna().astype(str)) | set(
            pd.Series(campaigns[C.CATEGORY]).dropna().astype(str))
        missing = [c for c in categories if c not in have]
        extra = pd.DataFrame({C.CAMPAIGN_ID: [f"{_PLACEHOLDER}{c}" for c in missing], C.CATEGORY: missing})
        shard[C.CAMPAIGNS] = (pd.concat([campaigns, extra.astype(campaigns.dtypes[[C.CAMPAIGN_ID, C.CATEGORY]])],
                                        ignore_index=True) if missing else campaigns)
        out.append(shard)
    return out


def months_of(as_of) -> list[int]:
    """The distinct month starts (µs) of decision times: the months whose peer tables are needed."""
    T = _us(pd.Series(as_of)) if len(as_of) else np.zeros(0, dtype=np.int64)
    return [int(m) for m in np.unique(E._month_floor(T))]


def peer_sample(index: CreatorIndex, month: int, cap: int | None = None) -> np.ndarray:
    """The month's peers as the local engine picks them: their codes, ascending (creator order).

    Everyone who joined before ``month``; when there are more than ``cap``, the first ``cap`` in
    the order of :func:`.engine._peer_hash` (ties by id), as :func:`.engine.prepare` orders them.
    ``cap`` defaults to :data:`.specs.PEER_CAP` (read at call time).
    """
    cap = S.PEER_CAP if cap is None else cap
    order = index.peer_order
    return np.sort(order[index.joined[order] < month][:cap])


def peer_inputs(mk: E.PreparedMarket, month: int, ids: np.ndarray) -> dict:
    """Peer-free :data:`.indices.SCORE_INPUTS` of this shard's peers ``ids`` at ``month``.

    Returns ``{"ids", "cat", "base"}``: the ids in this shard's creator order, their primary
    category codes (-1 when missing) and the values, as :func:`.engine._peer_tables` computes them.
    """
    code = mk.creator_ids.get_indexer(pd.Index(ids, dtype=object))
    if (code < 0).any():
        raise RuntimeError("a peer is not in this shard")
    code = np.sort(code).astype(np.int64)
    T = np.full(len(code), month, dtype=np.int64)
    cat = np.where(mk.primary[code] >= 0, mk.primary[code], E._NO_CAT) if len(code) else code
    base = E._base(mk, code, T, cat, keys=E._PEER_KEYS)
    return {"ids": np.asarray(mk.creator_ids[code], dtype=object), "cat": np.where(cat >= 0, cat, -1), "base": base}


def reduce_peers(peers: np.ndarray, n_cat: int, *parts: dict) -> PeerTables:
    """One month's :class:`.indices.PeerTables` from every shard's :func:`peer_inputs`.

    The rows are put in the order of ``peers`` (the month's peer ids in creator order, the
    local engine's), so the tables are those of the local engine whatever order the shards
    answer in. ``parts`` come last so that Dask resolves them when they are futures.
    """
    ids = np.concatenate([p["ids"] for p in parts])
    where = pd.Index(ids, dtype=object).get_indexer(pd.Index(peers, dtype=object))
    if len(ids) != len(peers) or (where < 0).any():
        raise RuntimeError("the shards' peers are not the month's peers")
    base = {k: np.concatenate([p["base"][k] for p in parts])[where] for k in parts[0]["base"]}
    cat = np.concatenate([p["cat"] for p in parts])[where]
    return PeerTables.build(base, cat=cat, n_cat=n_cat)


def shard_features(mk: E.PreparedMarket, decisions: pd.DataFrame, months: list[int],
                   *tables: PeerTables) -> pd.DataFrame:
    """:func:`.engine.build_features` of one shard's decisions with the market's peer ``tables``.

    ``tables[i]`` are the peer tables of month start ``months[i]`` (µs); they go into the shard
    market's peer cache, so no shard computes peer tables of its own.
    """
    for month, peer in zip(months, tables, strict=True):
        mk._peer_cache[(int(month), int(S.PEER_CAP))] = peer
    return E.build_features(mk, decisions)


# --------------------------------------------------------------------------- running the shards


class _Runner:
    """Runs the shard tasks on a Dask client, or here, one after the other, when there is none."""

    def __init__(self, client):
        self.client = client
        self.run = uuid.uuid4().hex[:8]  # unique task keys: runs may share a cluster
        self.futures = []

    def put(self, values: list, broadcast: bool = False) -> list:
        if self.client is None:
            return list(values)
        out = self.client.scatter(list(values), broadcast=broadcast, hash=False)
        self.futures.extend(out)
        return out

    def map(self, fn, args: list[tuple], label: str) -> list:
        """``fn(*a)`` for each ``a``; futures on a client (kept until :meth:`close`)."""
        if self.client is None:
            return [fn(*a) for a in args]
        out = [self.client.submit(fn, *a, key=f"creatorrank-{label}-{self.run}-{i}", pure=False)
               for i, a in enumerate(args)]
        self.futures.extend(out)
        return out

    def gather(self, values: list) -> list:
        return list(values) if self.client is None else list(self.client.gather(values))

    def close(self) -> None:
        for f in self.futures:
            f.release()
        self.futures = []


def sharded_features(tables: dict[str, pd.DataFrame], decisions: pd.DataFrame, client=None,
                     n_shards: int = 4, until=None) -> pd.DataFrame:
    """:func:`.engine.build_features` of ``decisions`` computed shard by shard.

    Parameters
    ----------
    tables : dict of DataFrame
        The clean contract tables.
    decisions : DataFrame
        As for :func:`.engine.build_features`.
    client : distributed.Client, optional
        Where the shards run (None: here, one after the other).
    n_shards : int
        Shards of creators.
    until : timestamp, optional
        Passed to each shard's :func:`.engine.prepare`.

    Returns
    -------
    DataFrame
        The decisions' rows in their order (a fresh RangeIndex) and every feature; equal to the
        local engine's. Decisions about creators outside the creators table get the features of
        an unknown creator, as locally.
    """
    decisions = decisions.reset_index(drop=True)
    months = months_of(decisions[C.AS_OF]) if len(decisions) else []
    index = CreatorIndex.of(tables[C.CREATORS])
    of_creator = index.shards(n_shards)
    parts = split_tables(tables, n_shards, index)
    live = [s for s in range(n_shards) if len(parts[s][C.CREATORS])]  # shards with creators
    if not live or not len(decisions):
        return E.build_features(tables, decisions)
    code = index.codes(decisions[C.CREATOR_ID])
    owner = np.where(code >= 0, of_creator[code], live[0])  # an unknown creator is unknown in every shard
    n_cat = len(global_categories(tables))
    run = _Runner(client)
    try:
        markets = dict(zip(live, run.map(E.prepare, [(d, until) for d in run.put([parts[s] for s in live])],
                                         "prepare")))
        del parts
        # The reduce: each shard's peers' inputs, then one task per month builds its tables.
        peer_tables = []
        for m in months:
            peers = peer_sample(index, m)
            inputs = run.map(peer_inputs, [(markets[s], m, index.ids[peers[of_creator[peers] == s]]) for s in live],
                             f"peers-{m}")
            peer_tables += run.map(reduce_peers, [(index.ids[peers], n_cat, *inputs)], f"peer-tables-{m}")
        rows = {s: np.flatnonzero(owner == s) for s in live}
        busy = [s for s in live if len(rows[s])]
        results = run.gather(run.map(shard_features, [(markets[s], decisions.iloc[rows[s]], months, *peer_tables)
                                                      for s in busy], "features"))
    finally:
        run.close()
    out = pd.concat(results, ignore_index=True)
    where = np.concatenate([rows[s] for s in busy])
    inverse = np.empty(len(where), dtype=np.int64)
    inverse[where] = np.arange(len(where))
    out = out.iloc[inverse].reset_index(drop=True)
    out.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
    return out


def training_decisions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every invitation as a decision at its campaign's ``created_at``, as :func:`.engine.training_matrix`."""
    inv = tables[C.INVITATIONS][[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID]]
    camp = tables[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.CREATED_AT, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    dec = inv.merge(camp, on=C.CAMPAIGN_ID, how="inner").rename(columns={C.CREATED_AT: C.AS_OF})
    dec = dec[[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    return dec.sort_values([C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID, C.INVITATION_ID], kind="stable").reset_index(drop=True)


def sharded_training_matrix(tables: dict[str, pd.DataFrame], client=None, n_shards: int = 4) -> pd.DataFrame:
    """:func:`.engine.training_matrix` computed shard by shard (same rows, order and values)."""
    dec = training_decisions(tables)
    until = pd.Timestamp(int(_us(dec[C.AS_OF]).max()) + 1, unit="us", tz="UTC") if len(dec) else None
    return sharded_features(tables, dec, client=client, n_shards=n_shards, until=until)


def sharded_snapshot(tables: dict[str, pd.DataFrame], as_of, category: str | None = None,
                     country: str | None = None, client=None, n_shards: int = 4) -> pd.DataFrame:
    """:func:`.engine.snapshot` computed shard by shard (same rows, order and values)."""
    ts = to_utc(as_of)
    t_us = int(_us(pd.Series([ts]))[0])
    creators = tables[C.CREATORS]
    ids = creators.loc[_us(creators[C.JOINED_AT]) < t_us, C.CREATOR_ID]
    ids = ids.sort_values(kind="stable").astype(object).to_numpy()  # creator order, as prepare sorts them
    n = len(ids)
    dec = pd.DataFrame({
        C.CREATOR_ID: pd.array(ids, dtype=E._STRING),
        C.AS_OF: pd.Series([ts] * n, dtype="datetime64[us, UTC]"),
        C.CATEGORY: pd.array([category] * n, dtype=E._STRING),
        C.COUNTRY: pd.array([country] * n, dtype=E._STRING),
    })
    until = pd.Timestamp(t_us + 1, unit="us", tz="UTC")
    return sharded_features(tables, dec, client=client, n_shards=n_shards, until=until)
