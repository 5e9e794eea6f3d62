"""A data folder partitioned once by creator shard, so that each worker reads only its shard.

Why
---
Without this, every worker of a sharded run scans every part of posts, orders and invitations
to keep its shard's rows: at 100M posts and 16 shards that is 16 full scans (one shard's read
took over 20 minutes at scale L). :func:`partition` reads each input piece once, on the
cluster (one task per Parquet part, per bounded run of row groups of a single Parquet file, or
per CSV file), and writes its rows split by :func:`shard_of` of ``creator_id``::

    <root>/<table>/shard=<k>/part-<piece>.parquet      (hive style)

for creators, posts, orders and invitations (campaigns are small: every shard reads the whole
table from the data folder). :func:`read_shard_files` then reads ``<root>/<table>/shard=<k>/``
only.

What a file holds: the piece's rows as stored (the contract's columns, before coercion, hive
partition values filled in), validation's rejected rows left out, and
:data:`~creatorrank.core.constants.SOURCE_ROW`, the row's 1-based row in its table (rows
counted over the parts in path order, as validation counts them). The reader coerces the
rows exactly as :func:`creatorrank.data.load.kept_chunks` does and puts them in table order,
so a shard reads the same frames as a scan of the whole folder would give it.

Posts of another shard: validation does not require an order's post to be the order's
creator's, and a shard needs the posts its orders point at (an order's category is its
post's). After the split, each shard lists the posts its orders reference that it does not
hold; the shards holding them copy those rows into the asking shard's folder
(``part-x<shard>-<file>.parquet``; the reader orders every row by its source row).

Atomic and reusable: the partition is built in a hidden temporary folder and renamed into
place (``<scratch>/shards-<key>/``) once complete, so a half-written partition is never read.
``key`` digests the data folder (every table file's path, size and mtime), the rejected rows,
the number of shards and the file layout's version: a user's scratch folder
(``--scratch DIR``) is reused by a later run only when all of these are unchanged; a
default scratch (a fresh folder in the system temp dir) is removed when the run ends.
On a real cluster the scratch folder must be one path every worker (and the client) sees: a
shared filesystem (or a mounted object store).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError
from . import engine as E

LAYOUT_VERSION = 1  # bump when the files' layout or content changes: old partitions are not reused
SPLIT_TABLES = (C.CREATORS, C.POSTS, C.ORDERS, C.INVITATIONS)
_MANIFEST = "_manifest.json"  # '_': table_parts and pyarrow skip it
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """One unit of the partition step: a file (or some of its row groups) of one table.

    Attributes
    ----------
    path : str
        The Parquet part or file, or the CSV file.
    partition : dict
        Hive partition values of the part's path (for contract columns the file does not hold).
    row_groups : tuple of int, optional
        The Parquet row groups of this piece (None: the whole file).
    start : int
        Rows of the table before this piece (its first row is table row ``start + 1``).
    rows : int
        Rows in the piece (-1: a CSV file, counted when read).
    """

    path: str
    partition: dict
    row_groups: tuple | None
    start: int
    rows: int


@dataclass(frozen=True)
class ShardFiles:
    """A finished partition: where it is, for how many shards, and what to remove at the end."""

    root: str
    n_shards: int
    remove: str | None = None  # the default scratch folder (removed when the run ends)

    def folder(self, table: str, shard: int) -> Path:
        return Path(self.root) / table / f"shard={int(shard)}"


def shard_of(ids, n_shards: int) -> np.ndarray:
    """Shard of each creator id: a stable 64-bit hash modulo ``n_shards`` (same on every machine)."""
    return shard_modulo(E._peer_hash(ids), n_shards)


def shard_modulo(h: np.ndarray, n_shards: int) -> np.ndarray:
    """Shards of 64-bit creator hashes."""
    if n_shards < 1:
        raise ConfigError(f"n_shards must be at least 1 (got {n_shards})")
    return (h % np.uint64(n_shards)).astype(np.int64)


def pieces(located, max_rows: int | None = None) -> list[Piece]:
    """The pieces of a located table (:func:`creatorrank.data.load.locate_tables`), in table order.

    A folder gives one piece per part; a single Parquet file one piece per run of row groups
    of at most ``max_rows`` rows (default :data:`creatorrank.data.load.CHUNK_ROWS`; a larger
    row group is a piece alone); a CSV file one piece. Parquet footers only are read.
    """
    import pyarrow.parquet as pq

    from ..data.load import CHUNK_ROWS, reading

    path, options = located
    max_rows = max_rows or CHUNK_ROWS
    if not path.is_dir() and path.suffix != ".parquet":
        return [Piece(str(path), {}, None, 0, -1)]
    out, start = [], 0
    parts = options.get("parts")
    for part_path, partition in ([(p.path, p.partition) for p in parts] if parts else [(path, {})]):
        with reading(part_path, "Parquet part" if parts else "Parquet file"):
            meta = pq.read_metadata(part_path)
        sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        if parts or not sizes:
            out.append(Piece(str(part_path), dict(partition), None, start, meta.num_rows))
            start += meta.num_rows
            continue
        group, held = [], 0
        for g, n in enumerate(sizes):
            if group and held + n > max_rows:
                out.append(Piece(str(part_path), {}, tuple(group), start, held))
                start, group, held = start + held, [], 0
            group.append(g)
            held += n
        out.append(Piece(str(part_path), {}, tuple(group), start, held))
        start += held
    return out


def partition_key(data_dir, skip: dict, n_shards: int) -> str:
    """Digest of what a partition depends on (see the module docstring)."""
    from ..data.load import locate_tables

    found = locate_tables(data_dir)
    files = {}
    for table in SPLIT_TABLES:
        path, options = found[table]
        names = [p.path for p in options.get("parts") or []] or [path]
        files[table] = [(str(Path(p).resolve()), os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in names]
    digest = hashlib.sha256(json.dumps({"layout": LAYOUT_VERSION, "n_shards": int(n_shards), "files": files},
                                       sort_keys=True).encode())
    for table in SPLIT_TABLES:
        digest.update(table.encode() + np.asarray(skip.get(table, []), dtype=np.int64).tobytes())
    return digest.hexdigest()[:20]


# --------------------------------------------------------------------------- tasks (run on workers)


def _piece_table(piece: Piece, spec):
    """The piece's rows as stored (contract columns, partition values filled in), as Arrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..data.load import _with_partition, read_chunks, reading

    path = Path(piece.path)
    if piece.rows < 0:  # a CSV file: read (and coerced) as the loader reads it, whole
        _, _, frame = next(read_chunks(path, spec, {}))
        return pa.Table.from_pandas(frame, preserve_index=False)
    with reading(path, "Parquet part"):
        pf = pq.ParquetFile(path)
        stored = set(pf.schema_arrow.names)
        columns = [c for c in spec.column_names if c in stored]
        groups = list(piece.row_groups) if piece.row_groups is not None else list(range(pf.num_row_groups))
        table = pf.read_row_groups(groups, columns=columns) if groups else pf.schema_arrow.empty_table().select(columns)
    return _with_partition(table, piece.partition, spec)


def _coerced(table, spec, columns=None, source=None) -> pd.DataFrame:
    """:func:`creatorrank.data.load.coerce_table` of some contract columns of an Arrow table."""
    from ..data.load import coerce_table

    if columns is not None:
        spec = replace(spec, columns=tuple(spec.column(c) for c in columns))
        table = table.select(list(columns))
    return coerce_table(table, spec, source=source)


def _write(table, target: Path) -> None:
    """Write an Arrow table to ``target`` through a hidden temporary name (never half-written)."""
    import pyarrow.parquet as pq

    from ..core.io import atomic_path

    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def split_piece(build: str, table: str, index: int, piece: Piece, skip: np.ndarray, n_shards: int) -> dict:
    """Task: split one piece's rows by creator shard into ``<build>/<table>/shard=<k>/``.

    ``skip`` holds the piece's rejected rows (1-based table rows). The first piece of a table
    (``index`` 0) writes a file, possibly empty, for every shard, so that every shard's
    folder exists and an empty shard reads typed columns. Returns ``{"rows": rows kept}``.
    """
    import pyarrow as pa

    from ..data.contract import CONTRACT

    spec = CONTRACT[table]
    raw = _piece_table(piece, spec)
    n = raw.num_rows
    keep = np.ones(n, dtype=bool)
    local = np.asarray(skip, dtype=np.int64) - piece.start - 1
    keep[local[(local >= 0) & (local < n)]] = False
    raw = raw.append_column(C.SOURCE_ROW, pa.array(np.arange(piece.start + 1, piece.start + n + 1, dtype=np.int64)))
    if not keep.all():
        raw = raw.filter(pa.array(keep))
    ids = _coerced(raw, spec, [C.CREATOR_ID], source=piece.path)[C.CREATOR_ID].astype(object).to_numpy()
    codes, uniques = pd.factorize(ids)  # a creator has many rows: hash each id once
    shard = shard_of(np.asarray(uniques, dtype=object), n_shards)[codes] if len(uniques) else np.zeros(len(ids), np.int64)
    shard[codes < 0] = 0  # a missing id (validation rejects it) is no creator's: read back by none
    order = np.argsort(shard, kind="stable")  # rows of each shard stay in table order
    bounds = np.searchsorted(shard[order], np.arange(n_shards + 1))
    for k in range(n_shards):
        rows = order[bounds[k]:bounds[k + 1]]
        if len(rows) or index == 0:
            _write(raw.take(pa.array(rows, pa.int64())), Path(build) / table / f"shard={k}" / f"part-{index:06d}.parquet")
    return {"rows": int(raw.num_rows)}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith((".", "_")))


def _text_column(folder: Path, table: str, column: str):
    """One text column of every file of a shard folder as one Arrow ``large_string`` array, nulls dropped.

    Stored text is used as it is (the contract's coercion leaves text values unchanged); a file
    storing the column as another type is coerced as the loader coerces it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ..data.contract import CONTRACT

    out = []
    for f in _files(folder):
        col = pq.read_table(f, columns=[column]).column(0)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = col.cast(pa.large_string())
        else:
            text = _coerced(pa.table({column: col}), CONTRACT[table], [column], source=str(f))[column]
            col = pa.chunked_array([pa.array(text.astype(object).to_numpy(), pa.large_string(), from_pandas=True)])
        out += col.chunks
    return pc.drop_null(pa.chunked_array(out, pa.large_string()))


def foreign_posts(build: str, shard: int) -> np.ndarray:
    """Task: the post ids this shard's orders point at that its own posts do not hold (sorted)."""
    import pyarrow.compute as pc

    root = Path(build)
    wanted = pc.unique(_text_column(root / C.ORDERS / f"shard={shard}", C.ORDERS, C.POST_ID))
    held = _text_column(root / C.POSTS / f"shard={shard}", C.POSTS, C.POST_ID)
    missing = wanted.filter(pc.invert(pc.is_in(wanted, value_set=held))) if len(wanted) else wanted
    return np.sort(np.asarray(missing.to_pylist(), dtype=object))


def copy_posts(build: str, shard: int, wanted: dict) -> int:
    """Task: copy this shard's posts that other shards' orders point at into their folders.

    ``wanted``: ``{other shard: post ids}``. Returns the rows copied.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..data.contract import CONTRACT

    copied = 0
    for i, f in enumerate(_files(Path(build) / C.POSTS / f"shard={shard}")):
        table = pq.read_table(f)
        ids = pd.Index(_coerced(table, CONTRACT[C.POSTS], [C.POST_ID], source=str(f))[C.POST_ID].astype(object),
                       dtype=object)
        for other, posts in wanted.items():
            hit = ids.isin(posts)
            if hit.any():
                _write(table.filter(pa.array(np.asarray(hit, dtype=bool))),
                       Path(build) / C.POSTS / f"shard={other}" / f"part-x{shard:06d}-{i:06d}.parquet")
                copied += int(hit.sum())
    return copied


def read_shard_files(root: str, table: str, shard: int) -> pd.DataFrame:
    """One shard's rows of ``table`` from a partition, coerced as the loader coerces them, in table order.

    The same frame as :func:`creatorrank.data.load.read_rows` keeping those rows of the data
    folder (a fresh RangeIndex; counts ``Int64`` when a kept value is missing).
    """
    import pyarrow.parquet as pq

    from ..data.contract import CONTRACT

    spec = CONTRACT[table]
    frames, rows = [], []
    for f in _files(Path(root) / table / f"shard={int(shard)}"):
        t = pq.read_table(f)
        rows.append(t.column(C.SOURCE_ROW).to_numpy())
        frames.append(_coerced(t.drop_columns([C.SOURCE_ROW]), spec, source=str(f)))
    if not frames:
        raise RuntimeError(f"{root}: no shard files of {table} for shard {shard}")
    kept = [i for i, f in enumerate(frames) if len(f)]
    if not kept:
        out = frames[0].iloc[:0].reset_index(drop=True)
    else:
        out = pd.concat([frames[i] for i in kept], ignore_index=True) if len(kept) > 1 else frames[kept[0]]
        where = np.concatenate([rows[i] for i in kept])
        if len(where) > 1 and (np.diff(where) < 0).any():  # copied posts: back in table order
            out = out.iloc[np.argsort(where, kind="stable")]
        out = out.reset_index(drop=True)
    out.attrs = {}
    return out


def finish(build: str, final: str, manifest: dict) -> str:
    """Task: write the manifest and rename the built partition into place (or keep one already there)."""
    (Path(build) / _MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
    if os.path.isdir(final) and not is_complete(final):  # left by hand or a crash: never read, replaced
        stale = f"{build}.stale"
        os.rename(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(build, final)
    except OSError:  # another run finished the same partition first: use it, drop ours
        if not is_complete(final):
            raise
        shutil.rmtree(build, ignore_errors=True)
    return final


def is_complete(final: str) -> bool:
    """Task: whether a finished partition is at ``final`` (its manifest is written last)."""
    return (Path(final) / _MANIFEST).is_file()


def remove_tree(path: str) -> None:
    """Task: remove a folder (a failed build or the run's default scratch)."""
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- the step (client side)


def partition(run, data_dir, skip: dict, n_shards: int, scratch=None, max_rows: int | None = None) -> ShardFiles:
    """Partition a validated data folder by creator shard on ``run``'s workers (or reuse one).

    Parameters
    ----------
    run : .sharded.Runner
        Where the tasks run.
    data_dir : path-like
        The data folder (at the same path on every worker).
    skip : dict
        ``{table: sorted 1-based rows}`` validation rejected (left out of the files).
    n_shards : int
    scratch : path-like, optional
        Where the partition goes (every worker must see it). A partition already there for the
        same data, rejects and ``n_shards`` is reused. Default: a fresh folder in the system
        temp dir, removed when ``run`` closes.
    max_rows : int, optional
        Rows per piece of a single Parquet file (default :data:`creatorrank.data.load.CHUNK_ROWS`).
    """
    from ..data.load import locate_tables

    key = partition_key(data_dir, skip, n_shards)
    if scratch is None:
        base = remove = tempfile.mkdtemp(prefix="creatorrank-scratch-")
    else:
        base, remove = str(scratch), None
    final = os.path.join(base, f"shards-{key}")
    if run.gather(run.map(is_complete, [(final,)], "shard-files-ready"))[0]:
        return ShardFiles(final, int(n_shards), remove)
    build = os.path.join(base, f".shards-{key}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    found = locate_tables(data_dir)
    tasks = []
    for table in SPLIT_TABLES:
        rejected = np.asarray(skip.get(table, []), dtype=np.int64)
        for i, piece in enumerate(pieces(found[table], max_rows)):
            hi = np.inf if piece.rows < 0 else piece.start + piece.rows
            mine = rejected[(rejected > piece.start) & (rejected <= hi)]
            tasks.append((build, table, i, piece, mine, int(n_shards)))
    try:
        t0 = time.monotonic()
        kept = run.gather(run.map(split_piece, tasks, "split"))
        t1 = time.monotonic()
        logger.info("shard files: %d pieces split into %d shards in %.1f s", len(tasks), n_shards, t1 - t0)
        foreign = run.gather(run.map(foreign_posts, [(build, k) for k in range(n_shards)], "foreign-posts"))
        wanted = {k: ids for k, ids in enumerate(foreign) if len(ids)}
        copied = sum(run.gather(run.map(copy_posts, [(build, k, {o: w for o, w in wanted.items() if o != k})
                                                     for k in range(n_shards)], "copy-posts"))) if wanted else 0
        logger.info("shard files: %d posts of other shards' orders copied in %.1f s", copied, time.monotonic() - t1)
        manifest = {"key": key, "n_shards": int(n_shards), "data_dir": str(data_dir), "layout": LAYOUT_VERSION,
                    "rows": sum(k["rows"] for k in kept), "foreign_posts": int(copied)}
        final = run.gather(run.map(finish, [(build, final, manifest)], "shard-files-finish"))[0]
    except BaseException:
        run.gather(run.map(remove_tree, [(build,)], "shard-files-drop"))
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)
        raise
    return ShardFiles(final, int(n_shards), remove)


def check_scratch(path, what: str = "scratch"):
    """A usable scratch folder (created when missing) or None; one :class:`~creatorrank.core.errors.CreatorRankError` line otherwise."""
    from ..core.errors import CreatorRankError

    if path is None:
        return None
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CreatorRankError(f"{what} {path}: cannot create the folder ({exc.strerror or exc})") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise CreatorRankError(f"{what} {path}: not a writable folder")
    return str(path)
