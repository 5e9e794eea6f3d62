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

Where a shard's rows come from: the clean tables in memory, split on the client
(:func:`split_tables`), or a data folder (the client validates it in bounded memory and holds
only the creators and campaigns tables, :func:`open_folder`). A folder is first partitioned by
shard on the cluster, one task per input piece (:func:`shard_files`,
:mod:`.shard_files`), then each worker reads only its shard's files (:func:`read_shard`). The
category list and the count columns' types are a reduce over the shards (:func:`shard_facts`,
:func:`settle_shard`). Below the reading step both run the same code (:class:`_Shards`); the
training matrix of a folder builds each shard's decisions on its worker
(:func:`training_matrix_from_folder`), and :func:`labelled_from_folder` labels them there too,
from the shard's own orders and invitations.

Waves: a folder's shards are prepared at most ``wave_shards`` at a time (:func:`read_folder`):
a pass over the waves for the peer inputs, the reduce, then a second pass for the features,
each wave read again from its shard files and let go after it. When one wave covers every
shard, the shards are read and prepared once and kept for the run.

``client`` is a ``distributed.Client`` (tasks run on its workers, each shard's prepared market
stays on the worker that built it) or None (shards run one after the other in this process:
the same code, for tests and small markets). Dask is never imported here.
"""

from __future__ import annotations

import logging
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
from .shard_files import shard_modulo, shard_of

logger = logging.getLogger(__name__)
_PLACEHOLDER = "\x00creatorrank-category-"  # campaign ids of the placeholder rows: no real id starts so


def shard_owner(index: "CreatorIndex", of_creator: np.ndarray, live: list[int], creator_ids) -> np.ndarray:
    """Shard of each creator id (``of_creator``: :meth:`CreatorIndex.shards`); an unknown creator
    is unknown in every shard, so it goes to the first live one."""
    code = index.codes(creator_ids)
    return np.where(code >= 0, of_creator[np.maximum(code, 0)], live[0])


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
        return shard_modulo(self.hash, n_shards)

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
        shard[C.CAMPAIGNS] = campaigns
        out.append(with_categories(shard, categories))
    return out


def with_categories(shard: dict[str, pd.DataFrame], categories: list[str]) -> dict[str, pd.DataFrame]:
    """``shard`` with one placeholder campaign row per market category it would otherwise lack.

    The placeholder rows carry only a campaign id no real one starts with and the category;
    no order or invitation references them, so they only make :func:`.engine.prepare` code the
    shard's categories as the whole market does.
    """
    campaigns = shard[C.CAMPAIGNS]
    have = set(global_categories(shard))
    missing = [c for c in categories if c not in have]
    if not missing:
        return shard
    extra = pd.DataFrame({C.CAMPAIGN_ID: [f"{_PLACEHOLDER}{c}" for c in missing], C.CATEGORY: missing})
    return {**shard, C.CAMPAIGNS: pd.concat([campaigns, extra.astype(campaigns.dtypes[[C.CAMPAIGN_ID, C.CATEGORY]])],
                                            ignore_index=True)}


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
    return E.build_features(use_peer_tables(mk, months, tables), decisions)


def use_peer_tables(mk: E.PreparedMarket, months: list[int], tables) -> E.PreparedMarket:
    """Put the market's peer ``tables`` of month starts ``months`` into a shard market's peer cache."""
    for month, peer in zip(months, tables, strict=True):
        mk._peer_cache[(int(month), int(S.PEER_CAP))] = peer
    return mk


# --------------------------------------------------------------------------- running the shards


class Runner:
    """Runs the shard tasks on a Dask client, or here, one after the other, when there is none.

    A run's shard files (:func:`shard_files`) are made once and removed, when they are the
    default scratch, by :meth:`close`.
    """

    def __init__(self, client):
        self.client = client
        self.run = uuid.uuid4().hex[:8]  # unique task keys: runs may share a cluster
        self.futures = []
        self.calls = 0
        self.files = {}  # (data folder, n_shards) -> shard_files.ShardFiles of this run

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
        self.calls += 1  # keys unique per call: a label is mapped again in every wave
        out = [self.client.submit(fn, *a, key=f"creatorrank-{label}-{self.run}-{self.calls}-{i}", pure=False)
               for i, a in enumerate(args)]
        self.futures.extend(out)
        return out

    def workers(self) -> int | None:
        """Workers of the client (None without one)."""
        if self.client is None:
            return None
        return len(self.client.scheduler_info().get("workers", {})) or None

    def wait(self, values: list) -> None:
        """Block until the tasks of ``values`` ran (a wave's markets are let go before the next is made)."""
        if self.client is not None and values:
            from distributed import wait

            wait(values)

    def gather(self, values: list) -> list:
        return list(values) if self.client is None else list(self.client.gather(values))

    def release(self, values) -> None:
        """Let go of some futures now (their tasks' results are no longer needed here)."""
        if self.client is None:
            return
        gone = {id(v) for v in values}
        for v in values:
            v.release()
        self.futures = [f for f in self.futures if id(f) not in gone]

    def close(self) -> None:
        import shutil

        for f in self.futures:
            f.release()
        self.futures = []
        for files in self.files.values():
            if files.remove is not None:
                shutil.rmtree(files.remove, ignore_errors=True)
        self.files = {}




# --------------------------------------------------------------------------- shards read from a data folder

@dataclass(frozen=True)
class FolderMarket:
    """A validated data folder as the client of a sharded run holds it: the small tables only.

    Build it with :func:`open_folder`. Workers read their shards' rows of posts, orders and
    invitations themselves (:func:`read_shard`); the client never holds those tables.

    Attributes
    ----------
    data_dir : str
        The data folder, at the same path on every worker.
    skip : dict
        ``{table: sorted 1-based rows}`` that validation rejected (left out by every reader).
    creators, campaigns : DataFrame
        The clean creators and campaigns tables (whole: the creator index, the peer sample,
        the snapshot's creators and the briefs need them).
    scratch : str, optional
        Where a run partitions the folder by shard (:mod:`.shard_files`; every worker must
        see it; a partition there is reused while the data is unchanged). None: a fresh
        folder in the system temp dir, removed when the run ends.
    wave_shards : int, optional
        Shards prepared at once on the workers (:func:`read_folder`; default one per worker).
    """

    data_dir: str
    skip: dict
    creators: pd.DataFrame
    campaigns: pd.DataFrame
    scratch: str | None = None
    wave_shards: int | None = None

    @cached_property
    def index(self) -> CreatorIndex:
        return CreatorIndex.of(self.creators)

    def known_categories(self) -> list[str]:
        """The categories :func:`creatorrank.serving.briefs.known_codes` finds in the clean tables:
        creators' primary categories and the posts' categories (one projected pass over posts)."""
        from ..data.contract import CONTRACT
        from ..data.load import kept_chunks, locate_tables

        path, options = locate_tables(self.data_dir)[C.POSTS]
        found = set(self.creators[C.PRIMARY_CATEGORY].dropna().astype(str).unique())
        for chunk in kept_chunks(path, CONTRACT[C.POSTS], options, columns=[C.CATEGORY], skip_rows=self.skip[C.POSTS]):
            found.update(chunk[C.CATEGORY].dropna().astype(str).unique())
        return sorted(found)


def open_folder(data_dir, now=None, scratch=None, wave_shards: int | None = None) -> FolderMarket:
    """Validate a data folder in bounded memory and read its small tables, for a sharded run.

    Validation is :func:`creatorrank.data.validate.validate_folder` (chunk by chunk, the same
    rules and rejects as ``creatorrank validate``); the rejected rows are left out by every
    reader, on the client and on the workers, so a sharded run sees exactly the clean tables
    the local engine sees. Structural problems raise one :class:`~creatorrank.core.errors.InputError`
    line naming the file. ``scratch``, ``wave_shards``: see :class:`FolderMarket`.
    """
    from ..data.contract import CONTRACT
    from ..data.load import locate_tables
    from ..data.validate import validate_folder

    report = validate_folder(data_dir, now=now)
    if not report.ok:
        logger.warning(
            "%d rows rejected by validation and excluded (run `creatorrank validate --data %s` for details)",
            report.rejected_rows, data_dir)
    rejects = report.rejects
    skip = {t: np.unique(rejects.loc[rejects["table"] == t, "row"].to_numpy(np.int64)) for t in C.TABLES}
    found = locate_tables(data_dir)
    small = {t: settle_counts(_read(found[t], CONTRACT[t], skip[t]), t) for t in (C.CREATORS, C.CAMPAIGNS)}
    return FolderMarket(str(data_dir), skip, small[C.CREATORS], small[C.CAMPAIGNS],
                        None if scratch is None else str(scratch), wave_shards)


def _read(located, spec, skip, keep=None, keep_columns=(C.CREATOR_ID,)) -> pd.DataFrame:
    from ..data.load import read_rows

    path, options = located
    return read_rows(path, spec, options, keep=keep, skip_rows=skip, keep_columns=list(keep_columns))


def read_shard(data_dir, shard: int, n_shards: int, skip: dict, files: str | None = None) -> dict[str, pd.DataFrame]:
    """One shard's rows, read on a worker (bounded memory).

    With ``files`` (the root of the folder's partition by shard, :func:`shard_files`), the
    shard's creators, posts, orders and invitations are read from its own files only
    (:func:`.shard_files.read_shard_files`: rejected rows already left out, the posts its
    orders point at copied in) and the campaigns from the data folder. Without, every table
    is scanned chunk by chunk (part by part, at most :data:`creatorrank.data.load.CHUNK_ROWS`
    rows at a time) with the contract's columns only, keeping the shard's creators
    (:func:`shard_of`) and their posts, orders and invitations, the posts their orders point
    at, and the whole campaigns table; validation's rejected rows (``skip``) are left out.
    Both give the same frames. Counts are not settled yet (:func:`settle_shard`).
    """
    from ..data.contract import CONTRACT
    from ..data.load import locate_tables

    found = locate_tables(data_dir)
    if files is not None:
        return _read_shard_files(files, shard, found, skip)
    out = {C.CREATORS: _read(found[C.CREATORS], CONTRACT[C.CREATORS], skip[C.CREATORS],
                             keep=lambda f: shard_of(f[C.CREATOR_ID].astype(object).to_numpy(), n_shards) == shard)}
    mine = out[C.CREATORS][C.CREATOR_ID]

    def own(frame):
        return frame[C.CREATOR_ID].isin(mine).to_numpy(dtype=bool, na_value=False)

    out[C.ORDERS] = _read(found[C.ORDERS], CONTRACT[C.ORDERS], skip[C.ORDERS], keep=own)
    referenced = pd.Series(out[C.ORDERS][C.POST_ID]).dropna().unique()
    out[C.POSTS] = _read(found[C.POSTS], CONTRACT[C.POSTS], skip[C.POSTS], keep=lambda f: own(f) | f[C.POST_ID].isin(
        referenced).to_numpy(dtype=bool, na_value=False), keep_columns=(C.CREATOR_ID, C.POST_ID))
    out[C.INVITATIONS] = _read(found[C.INVITATIONS], CONTRACT[C.INVITATIONS], skip[C.INVITATIONS], keep=own)
    out[C.CAMPAIGNS] = _read(found[C.CAMPAIGNS], CONTRACT[C.CAMPAIGNS], skip[C.CAMPAIGNS])
    return out


def _read_shard_files(files: str, shard: int, found: dict, skip: dict) -> dict[str, pd.DataFrame]:
    """:func:`read_shard` from a partition by shard (rows of unknown creators left out, as a scan does)."""
    from ..data.contract import CONTRACT
    from .shard_files import read_shard_files

    out = {C.CREATORS: read_shard_files(files, C.CREATORS, shard)}
    mine = out[C.CREATORS][C.CREATOR_ID]
    orders = read_shard_files(files, C.ORDERS, shard)
    out[C.ORDERS] = _kept(orders, orders[C.CREATOR_ID].isin(mine))
    referenced = pd.Series(out[C.ORDERS][C.POST_ID]).dropna().unique()
    posts = read_shard_files(files, C.POSTS, shard)
    out[C.POSTS] = _kept(posts, posts[C.CREATOR_ID].isin(mine) | posts[C.POST_ID].isin(referenced))
    invitations = read_shard_files(files, C.INVITATIONS, shard)
    out[C.INVITATIONS] = _kept(invitations, invitations[C.CREATOR_ID].isin(mine))
    out[C.CAMPAIGNS] = _read(found[C.CAMPAIGNS], CONTRACT[C.CAMPAIGNS], skip[C.CAMPAIGNS])
    return out


def _kept(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """The rows of ``mask`` (missing: not kept) with a fresh RangeIndex; the frame itself when all are."""
    mask = np.asarray(mask.to_numpy(dtype=bool, na_value=False) if hasattr(mask, "to_numpy") else mask, dtype=bool)
    return frame if mask.all() else frame[mask].reset_index(drop=True)


def shard_files(run: Runner, folder: FolderMarket, n_shards: int):
    """The folder's partition by shard for this run (:func:`.shard_files.partition`, made once per run).

    Made on the workers (one task per input piece), under ``folder.scratch`` (reused there
    when unchanged) or a default scratch folder that :meth:`Runner.close` removes.
    """
    from .shard_files import partition

    key = (folder.data_dir, int(n_shards))
    if key not in run.files:
        run.files[key] = partition(run, folder.data_dir, folder.skip, n_shards, scratch=folder.scratch)
    return run.files[key]


def _count_columns(table: str) -> list[str]:
    from ..data.contract import CONTRACT, INT

    return [c.name for c in CONTRACT[table].columns if c.dtype == INT]


def shard_facts(tables: dict[str, pd.DataFrame]) -> dict:
    """What the client reduces over the shards read from a folder: creators, categories and
    the count columns holding a missing value (``{table: [column]}``)."""
    return {"creators": len(tables[C.CREATORS]), "categories": global_categories(tables),
            "missing": {t: [c for c in _count_columns(t) if c in tables[t] and tables[t][c].isna().any()]
                        for t in C.TABLES}}


def settle_counts(frame: pd.DataFrame, table: str, missing=None) -> pd.DataFrame:
    """Count columns typed as validation types the whole clean table: ``Int64`` when the
    table holds a missing value (``missing``: those columns; default: this frame's), else int64."""
    cols = _count_columns(table)
    missing = {c for c in cols if frame[c].isna().any()} if missing is None else set(missing)
    want = {c: ("Int64" if c in missing else "int64") for c in cols if c in frame}
    change = {c: d for c, d in want.items() if str(frame[c].dtype) != d}
    return frame.astype(change) if change else frame


def settle_shard(tables: dict[str, pd.DataFrame], categories: list[str], missing: dict) -> dict[str, pd.DataFrame]:
    """A shard read from a folder as :func:`split_tables` would give it: counts typed as the
    whole market's (``missing``, from :func:`shard_facts`) and the market's ``categories``."""
    return with_categories({t: settle_counts(f, t, missing[t]) for t, f in tables.items()}, categories)


def decision_times(decisions: pd.DataFrame) -> dict:
    """Rows, decision months and the latest decision time (µs, None without rows) of a frame."""
    n = len(decisions)
    return {"rows": n, "months": months_of(decisions[C.AS_OF]) if n else [],
            "latest": int(_us(decisions[C.AS_OF]).max()) if n else None}


# --------------------------------------------------------------------------- the shared run


class _Shards:
    """Prepared shards of creators on a runner, and the peer tables as their reduce.

    Below the reading step both sources (tables in memory, a data folder read by the workers)
    share this: the same markets, the same peer reduce, the same feature tasks.

    Waves: with ``markets`` (every live shard's prepared market, kept for the run) all shards
    are at once on the workers. With ``make`` instead, at most ``wave`` shards are prepared at
    a time: ``make(shards) -> {shard: prepared market}`` builds a wave's markets (read again
    from the shard files), which are let go once the wave's tasks ran. The peer reduce is then
    a pass of its own over every wave, and the features a second one: the same tables and
    features as with every shard kept.
    """

    def __init__(self, run: Runner, index: CreatorIndex, n_shards: int, live: list[int], markets: dict, n_cat: int,
                 make=None, wave: int | None = None):
        self.run, self.index, self.n_shards, self.live = run, index, n_shards, live
        self.markets, self.n_cat, self.make = markets, n_cat, make
        self.wave = max(1, int(wave)) if wave else max(1, len(live))
        self.of_creator = index.shards(n_shards)

    def owner(self, creator_ids) -> np.ndarray:
        """Shard of each decision's creator (:func:`shard_owner`)."""
        return shard_owner(self.index, self.of_creator, self.live, creator_ids)

    def decision_features(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """:func:`.engine.build_features` of ``decisions`` (a fresh RangeIndex), each row computed
        on its creator's shard and put back in the decisions' order."""
        owner = self.owner(decisions[C.CREATOR_ID])
        rows = {s: np.flatnonzero(owner == s) for s in self.live}
        busy = [s for s in self.live if len(rows[s])] or self.live[:1]
        months = months_of(decisions[C.AS_OF]) if len(decisions) else []
        out = in_order(self.features({s: decisions.iloc[rows[s]] for s in busy}, months), [rows[s] for s in busy])
        out.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
        return out

    def waves(self, shards: list[int]):
        """Yield ``(wave, {shard: market})`` over ``shards``: all at once when the markets are kept,
        else waves of at most :attr:`wave` shards made by :attr:`make` and released after the body."""
        shards = list(shards)
        if self.make is None:
            yield shards, self.markets
            return
        for i in range(0, len(shards), self.wave):
            part = shards[i:i + self.wave]
            markets = self.make(part)
            try:
                yield part, markets
            finally:
                self.run.release(list(markets.values()))

    def peer_tables(self, months: list[int]) -> list:
        """The :class:`.indices.PeerTables` of each month (futures on a client): the reduce."""
        peers = {m: peer_sample(self.index, m) for m in months}
        inputs = {m: [] for m in months}
        for part, markets in self.waves(self.live):
            wave = []
            for m in months:
                p = peers[m]
                wave += self.run.map(peer_inputs, [(markets[s], m, self.index.ids[p[self.of_creator[p] == s]])
                                                   for s in part], f"peers-{m}")
                inputs[m] += wave[len(wave) - len(part):]
            if self.make is not None:
                self.run.wait(wave)  # this wave's markets go before the next wave's are made
        out = []
        for m in months:
            out += self.run.map(reduce_peers, [(self.index.ids[peers[m]], self.n_cat, *inputs[m])], f"peer-tables-{m}")
        self.run.release([f for m in months for f in inputs[m]])  # held by the reduce tasks until they ran
        return out

    def features(self, decisions: dict, months: list[int]) -> list[pd.DataFrame]:
        """:func:`shard_features` of ``{shard: decisions}`` (frames or futures), gathered in that order."""
        return self.each(list(decisions), decisions.get, months)

    def each(self, shards: list[int], decisions, months: list[int], then=None, peer: list | None = None) -> list:
        """:func:`shard_features` of ``decisions(shard)`` for each of ``shards``, gathered wave by wave,
        in the order of ``shards``.

        ``decisions`` is called inside the shard's wave (after its market was made).
        ``then(shard, future) -> future`` chains a task on each result, in the same wave. ``peer``:
        the months' peer tables when already reduced (:meth:`peer_tables`).
        """
        peer = self.peer_tables(months) if peer is None else peer
        out = {}
        for part, markets in self.waves(shards):
            results = self.run.map(shard_features, [(markets[s], decisions(s), months, *peer) for s in part],
                                   "features")
            if then is not None:
                results = [then(s, r) for s, r in zip(part, results)]
            out.update(zip(part, self.run.gather(results)))
            self.run.release(results)
        return [out[s] for s in shards]

    def feature_tasks(self, decisions: dict, months: list[int]) -> list:
        """:meth:`features` left on the workers (futures on a client), in the order of ``decisions``
        (every market kept: no waves)."""
        if self.make is not None:
            raise RuntimeError("feature_tasks needs every shard's market kept (no waves)")
        peer = self.peer_tables(months)
        return self.run.map(shard_features, [(self.markets[s], d, months, *peer) for s, d in decisions.items()],
                            "features")


def memory_shards(run: Runner, tables: dict[str, pd.DataFrame], n_shards: int, until) -> _Shards | None:
    """Shards split on the client and sent to the workers (None: no shard has creators)."""
    index = CreatorIndex.of(tables[C.CREATORS])
    parts = split_tables(tables, n_shards, index)
    live = [s for s in range(n_shards) if len(parts[s][C.CREATORS])]
    if not live:
        return None
    markets = dict(zip(live, run.map(E.prepare, [(d, until) for d in run.put([parts[s] for s in live])], "prepare")))
    return _Shards(run, index, n_shards, live, markets, len(global_categories(tables)))


@dataclass
class FolderShards:
    """A data folder's shards after the first read (:func:`read_folder`): what is known of them.

    Attributes
    ----------
    folder : FolderMarket
    n_shards : int
    live : list of int
        Shards with creators (shard 0 when none has any).
    n_cat : int
        The market's number of categories.
    categories, missing
        The market's categories and count columns with a missing value (:func:`settle_shard`).
    root : str
        The partition by shard the workers read (:func:`shard_files`).
    wave : int
        Shards prepared at once; every live shard when ``wave >= len(live)`` (then ``kept``).
    kept : dict or None
        ``{shard: settled tables}`` (futures) when all shards stay on the workers; None in waves.
    facts : list of dict
        Each shard's :func:`shard_facts` (with the ``more`` of :func:`read_folder`).
    """

    folder: FolderMarket
    n_shards: int
    live: list
    n_cat: int
    categories: list
    missing: dict
    root: str
    wave: int
    kept: dict | None
    facts: list

    @property
    def waves(self) -> bool:
        return self.kept is None

    def settle(self, run: Runner, shards: list[int]) -> dict:
        """``{shard: settled tables}`` (futures): the kept ones, or read again from the shard files."""
        if self.kept is not None:
            return {s: self.kept[s] for s in shards}
        raw = run.map(read_shard, [(self.folder.data_dir, s, self.n_shards, self.folder.skip, self.root)
                                   for s in shards], "read")
        settled = run.map(settle_shard, [(r, self.categories, self.missing) for r in raw], "settle")
        run.release(raw)
        return dict(zip(shards, settled))

    def each_wave(self, run: Runner, shards: list[int]):
        """Yield ``(wave, {shard: settled tables})`` in waves (all at once when kept); released after."""
        if self.kept is not None:
            yield list(shards), self.settle(run, shards)
            return
        for i in range(0, len(shards), self.wave):
            part = list(shards[i:i + self.wave])
            settled = self.settle(run, part)
            try:
                yield part, settled
            finally:
                run.release(list(settled.values()))


def read_folder(run: Runner, folder: FolderMarket, n_shards: int, wave: int | None = None, more=None) -> FolderShards:
    """Every shard read by the workers from the folder's shard files; categories and count types reduced.

    Parameters
    ----------
    run, folder, n_shards
    wave : int, optional
        Shards read (and later prepared) at once (default ``folder.wave_shards``, else one per
        worker). When it covers every shard, the settled shards stay on the workers for the run
        (one read); else each pass reads its wave again from the shard files.
    more : callable, optional
        ``more(raw shard) -> dict``, computed in the same read and merged into the shard's facts.
    """
    if n_shards < 1:
        raise ConfigError(f"n_shards must be at least 1 (got {n_shards})")
    root = shard_files(run, folder, n_shards).root
    wave = int(wave or folder.wave_shards or run.workers() or n_shards)
    if wave < 1:
        raise ConfigError(f"wave_shards must be at least 1 (got {wave})")
    everything = wave >= n_shards
    raw, facts = {}, []
    for i in range(0, n_shards, n_shards if everything else wave):
        part = list(range(i, min(n_shards, i + (n_shards if everything else wave))))
        got = run.map(read_shard, [(folder.data_dir, s, n_shards, folder.skip, root) for s in part], "read")
        facts += run.gather(run.map(_facts, [(r, more) for r in got], "facts"))
        if everything:
            raw.update(zip(part, got))
        else:
            run.release(got)
    live = [s for s in range(n_shards) if facts[s]["creators"]] or [0]
    # Every clean post, creator and campaign is in some shard (validation rejects posts of unknown creators).
    categories = sorted(set().union(*(f["categories"] for f in facts)))
    missing = {t: sorted(set().union(*(f["missing"][t] for f in facts))) for t in C.TABLES}
    kept = None
    if everything:
        kept = dict(zip(live, run.map(settle_shard, [(raw[s], categories, missing) for s in live], "settle")))
        run.release(list(raw.values()))
    return FolderShards(folder, n_shards, live, len(categories), categories, missing, root, wave, kept, facts)


def _facts(tables: dict, more=None) -> dict:
    """Task: :func:`shard_facts`, with ``more(tables)`` merged in."""
    out = shard_facts(tables)
    if more is not None:
        out.update(more(tables))
    return out


def prepare_shards(run: Runner, read: FolderShards, until) -> _Shards:
    """The folder's shards prepared on the workers (events before ``until``): kept, or made per wave."""
    if not read.waves:
        markets = dict(zip(read.live, run.map(E.prepare, [(read.kept[s], until) for s in read.live], "prepare")))
        run.release(list(read.kept.values()))
        return _Shards(run, read.folder.index, read.n_shards, read.live, markets, read.n_cat)

    def make(part):
        settled = read.settle(run, part)
        markets = run.map(E.prepare, [(settled[s], until) for s in part], "prepare")
        run.release(list(settled.values()))
        return dict(zip(part, markets))

    return _Shards(run, read.folder.index, read.n_shards, read.live, {}, read.n_cat, make=make, wave=read.wave)


def folder_shards(run: Runner, folder: FolderMarket, n_shards: int, until, wave: int | None = None) -> _Shards:
    """Shards read from the data folder by the workers and prepared there (events before ``until``),
    at most ``wave`` at a time (see :func:`read_folder`)."""
    return prepare_shards(run, read_folder(run, folder, n_shards, wave), until)


def in_order(frames: list[pd.DataFrame], rows: list[np.ndarray]) -> pd.DataFrame:
    """Concatenate the shards' results and put the rows back in the decisions' order."""
    out = pd.concat(frames, ignore_index=True)
    where = np.concatenate(rows)
    inverse = np.empty(len(where), dtype=np.int64)
    inverse[where] = np.arange(len(where))
    return out.iloc[inverse].reset_index(drop=True)


def sharded_features(tables, decisions: pd.DataFrame, client=None, n_shards: int = 4, until=None) -> pd.DataFrame:
    """:func:`.engine.build_features` of ``decisions`` computed shard by shard.

    Parameters
    ----------
    tables : dict of DataFrame or FolderMarket
        The clean contract tables (split here, each shard sent to its worker), or a validated
        data folder (:func:`open_folder`: each worker reads its shards' rows itself).
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
    in_memory = not isinstance(tables, FolderMarket)
    if in_memory and not len(decisions):
        return E.build_features(tables, decisions)
    run = Runner(client)
    try:
        shards = memory_shards(run, tables, n_shards, until) if in_memory else folder_shards(run, tables, n_shards, until)
        if shards is None:  # no shard has creators: every decision is about an unknown creator
            return E.build_features(tables, decisions)
        return shards.decision_features(decisions)
    finally:
        run.close()


def training_decisions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every invitation as a decision at its campaign's ``created_at``, as :func:`.engine.training_matrix`."""
    inv = tables[C.INVITATIONS][[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID]]
    camp = tables[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.CREATED_AT, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    dec = inv.merge(camp, on=C.CAMPAIGN_ID, how="inner").rename(columns={C.CREATED_AT: C.AS_OF})
    dec = dec[[C.INVITATION_ID, C.CAMPAIGN_ID, C.CREATOR_ID, C.AS_OF, C.CATEGORY, C.COUNTRY, C.BUDGET_USD]]
    return dec.sort_values(TRAINING_ORDER, kind="stable").reset_index(drop=True)


TRAINING_ORDER = [C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID, C.INVITATION_ID]  # the training matrix's row order


def sharded_training_matrix(tables, client=None, n_shards: int = 4) -> pd.DataFrame:
    """:func:`.engine.training_matrix` computed shard by shard (same rows, order and values).

    ``tables``: the clean tables in memory, a :class:`FolderMarket` or a data folder's path
    (then as :func:`training_matrix_from_folder`).
    """
    if not isinstance(tables, dict):
        return training_matrix_from_folder(tables, client=client, n_shards=n_shards)
    dec = training_decisions(tables)
    until = pd.Timestamp(int(_us(dec[C.AS_OF]).max()) + 1, unit="us", tz="UTC") if len(dec) else None
    return sharded_features(tables, dec, client=client, n_shards=n_shards, until=until)


def training_matrix_from_folder(data_dir, client=None, n_shards: int = 4, now=None) -> pd.DataFrame:
    """:func:`.engine.training_matrix` of a data folder, each worker reading its shards' rows.

    Parameters
    ----------
    data_dir : path-like or FolderMarket
        The data folder (tables as files or folders of Parquet parts), at the same path on
        every worker; validated here in bounded memory (:func:`open_folder`) unless a
        :class:`FolderMarket` is given.
    client : distributed.Client, optional
        Where the shards run (None: here, one after the other).
    n_shards : int
        Shards of creators.
    now : timestamp, optional
        Validation's "now" (default: the current time, as ``load_clean_tables``).

    Returns
    -------
    DataFrame
        Equal to ``engine.training_matrix(load_clean_tables(data_dir))`` bit for bit, same row
        order. The client holds the creators and campaigns tables and the gathered matrix;
        each shard's decisions are built on its worker from its own invitations.
    """
    folder = data_dir if isinstance(data_dir, FolderMarket) else open_folder(data_dir, now=now)
    run = Runner(client)
    try:
        _, results = _folder_rows(run, folder, n_shards)
    finally:
        run.close()
    return _training_rows(results)


def labelled_from_folder(data_dir, labels, client=None, n_shards: int = 4, now=None) -> tuple:
    """The labelled training rows of a data folder, each worker labelling its own shard's rows.

    Parameters
    ----------
    data_dir : path-like or FolderMarket
        As for :func:`training_matrix_from_folder`.
    labels : object
        How rows are labelled (:class:`creatorrank.training.dataset.Labeller`; picklable):
        ``labels.cutoff(end)`` on the client, with the market's last fact (the latest of every
        shard's :func:`.data.timeline.data_end`); then, on each shard's worker,
        ``labels.outcomes(shard tables, cutoff)`` before the shard is prepared and
        ``labels.rows(shard matrix, outcomes)``, which returns ``(frame, extra)``. A
        campaign's orders by a creator are in that creator's shard, so a shard labels its
        invitations as the whole market would.
    client, n_shards, now
        As for :func:`training_matrix_from_folder`.

    Returns
    -------
    cutoff : Timestamp
    frame : DataFrame
        The shards' labelled frames in the training matrix's row order (a fresh RangeIndex).
    extras : list
        Each shard's ``extra``, in shard order.

    The client holds the creators and campaigns tables and the gathered labelled rows only;
    the posts, orders and invitations are read on the workers.
    """
    folder = data_dir if isinstance(data_dir, FolderMarket) else open_folder(data_dir, now=now)
    run = Runner(client)
    try:
        cutoff, results = _folder_rows(run, folder, n_shards, labels)
    finally:
        run.close()
    extras = [extra for _, extra in results]
    frames = [frame for frame, _ in results]
    del results
    return cutoff, _training_rows(frames), extras


def _folder_rows(run: Runner, folder: FolderMarket, n_shards: int, labels=None) -> tuple:
    """Each busy shard's training-matrix rows, built (and labelled, with ``labels``) on its worker.

    Returns the cutoff (None without ``labels``) and the gathered results, in shard order. The
    cutoff and the decision times are reduced from the first read (:func:`_training_facts`);
    in waves, each wave's shards are read again, labelled and prepared (:func:`read_folder`).
    """
    read = read_folder(run, folder, n_shards, more=_training_facts)
    live = read.live
    cutoff = None
    if labels is not None:  # the cutoff is a reduce; outcomes come before preparing drops the shard's tables
        ends = [read.facts[s]["end"] for s in live if read.facts[s]["end"] is not None]
        cutoff = labels.cutoff(max(ends) if ends else None)
    times = {s: read.facts[s]["times"] for s in live}
    months = sorted(set().union(*(t["months"] for t in times.values())))
    latest = [t["latest"] for t in times.values() if t["latest"] is not None]
    until = pd.Timestamp(max(latest) + 1, unit="us", tz="UTC") if latest else None
    busy = [s for s in live if times[s]["rows"]] or live[:1]
    if not read.waves:
        return cutoff, _kept_rows(run, read, labels, cutoff, until, busy, months)
    side, labelling = {}, []  # the wave's decisions and outcomes (feature pass), from its settled tables

    def make(part):
        settled = read.settle(run, part)
        for s in part if labelling else ():
            side[s] = run.map(training_decisions, [(settled[s],)], "decisions")
            if labels is not None:
                side[s] += run.map(labels.outcomes, [(settled[s], cutoff)], "outcomes")
        markets = run.map(E.prepare, [(settled[s], until) for s in part], "prepare")
        run.release(list(settled.values()))
        return dict(zip(part, markets))

    def then(s, matrix):
        done = matrix if labels is None else run.map(labels.rows, [(matrix, side[s][1])], "labels")[0]
        run.release(side.pop(s) + ([matrix] if labels is not None else []))  # held by the tasks until they ran
        return done

    shards = _Shards(run, folder.index, n_shards, live, {}, read.n_cat, make=make, wave=read.wave)
    peer = shards.peer_tables(months)
    labelling.append(True)
    return cutoff, shards.each(busy, lambda s: side[s][0], months, then=then, peer=peer)


def _kept_rows(run: Runner, read: FolderShards, labels, cutoff, until, busy: list[int], months: list[int]) -> list:
    """:func:`_folder_rows` with every shard kept on the workers (one read, one preparation each)."""
    settled = read.kept
    outcomes = None
    if labels is not None:
        outcomes = dict(zip(read.live, run.map(labels.outcomes, [(settled[s], cutoff) for s in read.live],
                                               "outcomes")))
    dec = dict(zip(busy, run.map(training_decisions, [(settled[s],) for s in busy], "decisions")))
    shards = prepare_shards(run, read, until)
    rows = shards.feature_tasks(dec, months)
    if labels is not None:  # a task keeps its inputs until it ran: the workers drop each shard's matrix then
        matrices, rows = rows, run.map(labels.rows, [(r, outcomes[s]) for s, r in zip(busy, rows)], "labels")
        run.release([*matrices, *outcomes.values()])
    return run.gather(rows)


def _training_facts(tables: dict) -> dict:
    """What the training matrix reduces from a shard's first read: its last fact and decision times."""
    from ..data.timeline import data_end

    end = data_end(tables)
    return {"end": None if end is None else pd.Timestamp(end), "times": decision_times(training_decisions(tables))}


def _training_rows(results: list[pd.DataFrame]) -> pd.DataFrame:
    """The shards' rows as one frame in the training matrix's row order.

    Empties ``results``: the shards' frames are let go once joined, so the client holds at most
    two copies of the rows (joined and sorted), not three.
    """
    out = pd.concat(results, ignore_index=True)
    n = len(results)
    results.clear()
    out = out.sort_values(TRAINING_ORDER, kind="stable", ignore_index=True) if n > 1 else out
    out.attrs["feature_set_version"] = S.FEATURE_SET_VERSION
    return out


def snapshot_decisions(creators: pd.DataFrame, as_of, category: str | None = None,
                       country: str | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The decisions of :func:`.engine.snapshot` (creators who joined before ``as_of``, in
    creator order) and the ``until`` of their preparation."""
    ts = to_utc(as_of)
    t_us = int(_us(pd.Series([ts]))[0])
    ids = creators.loc[_us(creators[C.JOINED_AT]) < t_us, C.CREATOR_ID]
    ids = ids.sort_values(kind="stable").astype(object).to_numpy()  # creator order, as prepare sorts them
    n = len(ids)
    dec = pd.DataFrame({
        C.CREATOR_ID: pd.array(ids, dtype=E._STRING),
        C.AS_OF: pd.Series([ts] * n, dtype="datetime64[us, UTC]"),
        C.CATEGORY: pd.array([category] * n, dtype=E._STRING),
        C.COUNTRY: pd.array([country] * n, dtype=E._STRING),
    })
    return dec, pd.Timestamp(t_us + 1, unit="us", tz="UTC")


def sharded_snapshot(tables, as_of, category: str | None = None,
                     country: str | None = None, client=None, n_shards: int = 4) -> pd.DataFrame:
    """:func:`.engine.snapshot` computed shard by shard (same rows, order and values).

    ``tables``: the clean tables in memory or a :class:`FolderMarket` (workers read their shards).
    """
    creators = tables.creators if isinstance(tables, FolderMarket) else tables[C.CREATORS]
    dec, until = snapshot_decisions(creators, as_of, category, country)
    return sharded_features(tables, dec, client=client, n_shards=n_shards, until=until)
