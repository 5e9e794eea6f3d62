"""Read a folder of raw tables (Parquet or CSV) and coerce them to the contract's types.

A table is one file (``NAME.parquet``, ``NAME.csv``) or one folder of Parquet parts (``NAME/``,
``NAME.parquet/``, hive partitions allowed; see :func:`table_parts`), read part by part with only
the contract's columns; its rows are the parts' rows in path order. The data folder may be a URI
on object storage or any pyarrow / fsspec file system (:func:`remote_path`).

Structural problems stop the load with one :class:`InputError` line naming the file (the part
file, in a folder): a missing folder or table file, a table both a file and a folder, an empty
table folder or one holding a file that is not a part, a file that cannot be read (not UTF-8,
corrupt Parquet, not a CSV at all), missing required columns (every one of every table, in one
message), a Parquet column whose storage type cannot hold the contract's type (timestamps stored
as numbers).

Values that cannot be read as their column's type never stop the load and are never changed
(no truncated counts, no rounded ids, no guessed dates; only nanoseconds are cut to the
contract's microseconds): they become null and are recorded in ``attrs`` so validation
rejects the row with a reason:

- ``attrs["unparsed"]``: ``{column: mask}`` of values that are not of the column's type
  (``"12.5"`` in a count, ``"lots"`` in a float, ``12.5`` as an id);
- ``attrs["nonfinite"]``: ``{column: mask}`` of float values that are not finite
  (``inf``, ``nan``, ``1e400``);
- ``attrs["bad_text"]``: ``{column: Series}`` the offending values as text, indexed by row.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core import constants as C
from ..core.errors import CreatorRankError, InputError
from .contract import BOOL, CONTRACT, FLOAT, INT, STRING, TIMESTAMP, Table

ID_DTYPE = pd.StringDtype("pyarrow")
TS_DTYPE = "datetime64[us, UTC]"
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
EXACT_INT = 2**53  # every integer below this is exact in a float64: larger "whole" floats are refused
_INT64_MAX = 2**63 - 1
_HEAD_BYTES = 1 << 20  # the decoded head must hold the header row
# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# What reading a file may raise; each becomes one InputError line.
READ_ERRORS = (OSError, ValueError, UnicodeError, csv.Error, EOFError, OverflowError, pa.ArrowException)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its class name when it has none), shortened."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else exc.__class__.__name__
    return line if len(line) <= 200 else line[:197] + "..."


@contextmanager
def reading(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Turn any error raised while reading ``path`` into one :class:`InputError` line.

    The message is ``"{path}: unreadable {what} ({first line of the cause})"``; a
    :class:`CreatorRankError` raised inside passes through unchanged.
    """
    try:
        yield
    except CreatorRankError:
        raise
    except READ_ERRORS as exc:
        raise InputError(f"{path}: unreadable {what} ({first_line(exc)})") from None


def _data_folder(data_dir: "str | os.PathLike | RemotePath") -> "Path | RemotePath":
    data_dir = data_dir if isinstance(data_dir, RemotePath) else (
        remote_path(data_dir) if is_uri(data_dir) else Path(data_dir))
    try:
        found = data_dir.is_dir()
    except (OSError, pa.ArrowException) as exc:  # e.g. a name too long for the file system, a bucket refused
        raise InputError(f"{data_dir}: data folder not usable ({first_line(exc)})") from None
    if not found:
        raise InputError(f"{data_dir}: data folder not found")
    return data_dir


# --------------------------------------------------------------------------- object storage

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# The package that gives fsspec a scheme pyarrow has no filesystem of its own for.
_FSSPEC_PACKAGES = {"memory": "fsspec", "http": "aiohttp", "https": "aiohttp", "ftp": "fsspec", "sftp": "paramiko",
                    "ssh": "paramiko", "github": "fsspec", "zip": "fsspec", "s3": "s3fs", "s3a": "s3fs",
                    "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "abfss": "adlfs", "az": "adlfs",
                    "adl": "adlfs", "hf": "huggingface_hub", "oci": "ocifs", "box": "boxfs",
                    "dropbox": "dropboxdrivefs", "webhdfs": "fsspec"}


def is_uri(location) -> bool:
    """Whether a data location is a URI (``scheme://...``) rather than a local path."""
    return isinstance(location, str) and bool(_URI.match(location))


def _filesystem(uri: str):
    """``(pyarrow filesystem, path in it)`` of a URI: pyarrow's own filesystems first (``file``,
    ``s3``, ``gs``, ``abfs``, ``hdfs``), else fsspec's (``memory`` and any scheme whose fsspec
    package is installed), wrapped for pyarrow. One InputError line when neither has one."""
    import pyarrow.fs as pafs

    scheme = uri.split("://", 1)[0].lower()
    try:
        return pafs.FileSystem.from_uri(uri)
    except pa.ArrowInvalid as exc:
        if "Unrecognized filesystem type" not in str(exc):
            raise InputError(f"{uri}: data location not usable ({first_line(exc)})") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{uri}: data location not usable ({first_line(exc)})") from None
    package = _FSSPEC_PACKAGES.get(scheme)
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        also = f" and {package}" if package and package != "fsspec" else ""
        raise InputError(f"{uri}: no filesystem for '{scheme}://' is installed (pip install fsspec{also})") from None
    try:
        fs, path = url_to_fs(uri)
    except ImportError as exc:
        hint = f"pip install {package}" if package else f"fsspec: {first_line(exc)}"
        raise InputError(f"{uri}: no filesystem for '{scheme}://' is installed ({hint})") from None
    except ValueError as exc:  # "Protocol not known"
        raise InputError(f"{uri}: no filesystem knows '{scheme}://' ({first_line(exc)})") from None
    except (OSError, RuntimeError) as exc:
        raise InputError(f"{uri}: data location not usable ({first_line(exc)})") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


class RemotePath:
    """A file or folder on a pyarrow filesystem (object storage, ``file://``, fsspec), with the
    few :class:`~pathlib.Path` methods the loader uses; shown as its URI.

    Parameters
    ----------
    fs : pyarrow.fs.FileSystem
    path : str
        The path inside ``fs`` (``bucket/key`` for object storage).
    uri : str
        What messages show for ``path``.
    """

    def __init__(self, fs, path: str, uri: str):
        self.fs, self.path, self.uri = fs, path.rstrip("/") or "/", uri.rstrip("/")

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"RemotePath({self.uri!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RemotePath) and (self.uri, self.path) == (other.uri, other.path)

    def __hash__(self) -> int:
        return hash(self.uri)

    def __truediv__(self, name: str) -> "RemotePath":
        return RemotePath(self.fs, f"{self.path.rstrip('/')}/{name}", f"{self.uri}/{name}")

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    def relative_to(self, other: "RemotePath") -> PurePosixPath:
        return PurePosixPath(self.path).relative_to(other.path)

    def _type(self):
        return self.fs.get_file_info(self.path).type

    def is_dir(self) -> bool:
        import pyarrow.fs as pafs

        return self._type() == pafs.FileType.Directory

    def is_file(self) -> bool:
        import pyarrow.fs as pafs

        return self._type() == pafs.FileType.File

    def open(self, mode: str = "rb"):
        """A seekable binary reader (only reading is supported)."""
        if mode != "rb":
            raise ValueError(f"{self.uri}: only 'rb' is supported")
        return self.fs.open_input_file(self.path)

    def files(self) -> list["RemotePath"]:
        """Every file below this folder (recursively)."""
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=True))
        base = self.path.rstrip("/")
        return [self / PurePosixPath(i.path).relative_to(base).as_posix() for i in infos if i.type == pafs.FileType.File]


def remote_path(uri: str) -> RemotePath:
    """The :class:`RemotePath` of a URI (see :func:`_filesystem` for the schemes)."""
    fs, path = _filesystem(uri)
    return RemotePath(fs, path, uri)


def _source(path) -> dict:
    """pyarrow's arguments for reading ``path``: ``{"source": ..., "filesystem": ...}``."""
    if isinstance(path, RemotePath):
        return {"source": path.path, "filesystem": path.fs}
    return {"source": str(path), "filesystem": None}


def table_path(data_dir: str | os.PathLike, table: str) -> Path:
    """Return the file or folder holding ``table``; raise when none or more than one does.

    A table is one file, ``NAME.parquet`` or ``NAME.csv`` (Parquet wins when both exist), or
    one folder of Parquet parts, ``NAME/`` or ``NAME.parquet/``. A folder beside a file of the
    same table (or both folders) is ambiguous: one error names both.
    """
    data_dir = _data_folder(data_dir)
    csv_folder = data_dir / f"{table}.csv"
    if csv_folder.is_dir():
        raise InputError(f"{csv_folder}: is a folder, not a file (a folder of Parquet parts is named "
                         f"{table}/ or {table}.parquet/)")
    folders = [p for p in (data_dir / table, data_dir / f"{table}.parquet") if p.is_dir()]
    files = [p for p in (data_dir / f"{table}.parquet", csv_folder) if p.is_file()]
    if folders and len(folders) + len(files) > 1:
        first, second = [*folders, *files][:2]
        raise InputError(f"table '{table}' is both {first} and {second}: keep one")
    if folders or files:
        return (folders or files)[0]
    raise InputError(f"{data_dir}: table '{table}' not found (expected {table}.parquet, {table}.csv "
                     f"or a folder {table}/ of Parquet parts)")


# --------------------------------------------------------------------------- folders of parts

_SKIPPED = (".", "_")  # hidden files and writer markers (_SUCCESS, _metadata), as pyarrow skips them
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Part:
    """One Parquet part of a table folder and the hive partition values of its path."""

    path: Path
    partition: dict


def table_parts(folder: Path) -> list[Part]:
    """The Parquet parts of a table folder, in path order (folder by folder, names sorted).

    Every file below ``folder`` must be a ``.parquet`` part, except names starting with ``.`` or
    ``_``. A sub-folder ``KEY=VALUE`` (hive style) gives its parts the value ``VALUE`` (URL-decoded;
    ``__HIVE_DEFAULT_PARTITION__`` is null) for column ``KEY``; other sub-folders only group parts.

    Raises
    ------
    InputError
        The folder holds no part, or a file that is not a ``.parquet`` part (named).
    """
    from urllib.parse import unquote

    found = []
    if isinstance(folder, RemotePath):
        with reading(folder, "table folder"):
            listed = folder.files()
        found = [p for p in listed if not any(s.startswith(_SKIPPED) for s in p.relative_to(folder).parts)]
    else:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(_SKIPPED))
            found += [Path(root) / name for name in files if not name.startswith(_SKIPPED)]
    found.sort(key=lambda p: p.relative_to(folder).parts)
    other = next((p for p in found if p.suffix != ".parquet"), None)
    if other is not None:
        raise InputError(f"{other}: not a Parquet part (every file in the table folder {folder} must be "
                         "a .parquet part; names starting with '.' or '_' are skipped)")
    if not found:
        raise InputError(f"{folder}: table folder holds no Parquet parts (*.parquet)")
    parts = []
    for path in found:
        keys = {}
        for segment in path.relative_to(folder).parts[:-1]:
            if "=" in segment:
                key, value = segment.split("=", 1)
                keys[unquote(key)] = None if value == _HIVE_NULL else unquote(value)
        parts.append(Part(path, keys))
    return parts


def _part_names(part: Part) -> list[str]:
    """Column names of a part: its footer's, then partition keys the file does not hold."""
    import pyarrow.parquet as pq

    try:
        src = _source(part.path)
        names = list(pq.read_schema(src["source"], filesystem=src["filesystem"]).names)
    except READ_ERRORS as exc:
        raise InputError(f"{part.path}: not a readable Parquet file ({first_line(exc)})") from None
    return names + [k for k in part.partition if k not in names]


def _read_part(part: Part, spec: Table) -> pa.Table:
    """The contract's columns of one part (projected: nothing else is read); a partition value
    stands for a column the file does not hold, as text coerced like any other."""
    import pyarrow.dataset as ds

    with reading(part.path, "Parquet part"):
        fragment = next(ds.dataset(**_source(part.path), format="parquet").get_fragments())
        stored = set(fragment.physical_schema.names)
        table = fragment.to_table(columns=[c for c in spec.column_names if c in stored])
    return _with_partition(table, part.partition, spec)


def _with_partition(table: pa.Table, partition: dict, spec: Table) -> pa.Table:
    """The contract's columns in contract order, partition values standing in for absent ones."""
    for name in spec.column_names:
        if name not in table.column_names:
            table = table.append_column(name, pa.array([partition[name]] * table.num_rows, pa.large_string()))
    return table.select(spec.column_names)


def _batches(path: Path, partition: dict, spec: Table, rows: int) -> Iterator[pa.Table]:
    """One Parquet file (a part or a whole table) in batches of at most ``rows`` rows; at least
    one batch (empty for a file without rows). Read errors name the file."""
    import pyarrow.dataset as ds

    with reading(path, "Parquet file"):
        fragment = next(ds.dataset(**_source(path), format="parquet").get_fragments())
        columns = [c for c in spec.column_names if c in set(fragment.physical_schema.names)]
        # One batch read ahead, not 16: a few columns of 16 batches of a large part are hundreds of MB.
        batches = fragment.to_batches(columns=columns, batch_size=rows, batch_readahead=1, fragment_readahead=1)
    pending, held, empty = [], 0, True
    while True:
        with reading(path, "Parquet file"):
            batch = next(batches, None)
        if batch is not None:
            pending.append(batch)
            held += batch.num_rows
        if pending and (batch is None or held >= rows):  # the scanner's batches may be small: join them
            empty = False
            yield _with_partition(pa.Table.from_batches(pending), partition, spec)
            pending, held = [], 0
        if batch is None:
            break
    if empty:
        with reading(path, "Parquet file"):
            yield _with_partition(fragment.to_table(columns=columns), partition, spec)


CHUNK_ROWS = 1_000_000  # rows coerced at once when a table is read in chunks


def read_chunks(path: Path, spec: Table, options: dict, columns: list[str] | None = None,
                rows: int | None = None) -> Iterator[tuple[str, int, pd.DataFrame]]:
    """Read a located table in coerced chunks, in row order, holding one chunk at a time.

    Parameters
    ----------
    path, options
        A table's file or folder and its reader options (:func:`locate_tables`).
    columns : list of str, optional
        Read only these contract columns (default: all of them).
    rows : int, optional
        At most this many rows per chunk of a Parquet file or part (default :data:`CHUNK_ROWS`).

    Yields
    ------
    file, start, frame
        The file (the part, in a folder) the chunk comes from, the 0-based row of that file
        the chunk starts at, and the coerced chunk (as :func:`coerce_table` returns it). A CSV
        file is one chunk.
    """
    rows = rows or CHUNK_ROWS
    if columns is not None:
        spec = replace(spec, columns=tuple(spec.column(c) for c in columns))
    if not path.is_dir() and path.suffix != ".parquet":
        yield str(path), 0, _read_file(path, spec, options)
        return
    for part in options.get("parts") or [Part(path, {})]:
        start = 0
        for raw in _batches(part.path, part.partition, spec, rows):
            yield str(part.path), start, coerce_table(raw, spec, source=str(part.path))
            start += raw.num_rows


def read_rows(path: Path, spec: Table, options: dict, keep=None, columns: list[str] | None = None,
              skip_rows: np.ndarray | None = None, rows: int | None = None,
              keep_columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of a located table that ``keep`` selects, read chunk by chunk (bounded memory).

    Holds one chunk (:func:`read_chunks`) plus the rows kept so far: a worker reads its shard's
    rows of a table far larger than its memory this way.

    Parameters
    ----------
    path, options, columns, rows
        As for :func:`read_chunks`.
    keep : callable, optional
        ``keep(chunk) -> bool array``: the chunk's rows to keep (default: all).
    skip_rows : int array, optional
        Sorted 1-based table rows to leave out whatever ``keep`` says (validation's rejects,
        ``ValidationReport.rejects["row"]``: rows counted over the parts in path order).
    keep_columns : list of str, optional
        The columns ``keep`` reads: then only they are coerced for every row of a Parquet
        chunk, the others for the kept rows only (see :func:`kept_chunks`).

    Returns
    -------
    DataFrame
        The kept rows in table order (a fresh RangeIndex, no ``attrs``), typed as
        :func:`coerce_table` types them; counts are ``Int64`` when any kept value is missing.
    """
    frames = [frame for frame in kept_chunks(path, spec, options, keep, columns, skip_rows, rows, keep_columns)]
    empty = frames[0].iloc[:0]
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [empty])[0].reset_index(drop=True)
    out.attrs = {}
    return out


def kept_chunks(path: Path, spec: Table, options: dict, keep=None, columns: list[str] | None = None,
                skip_rows: np.ndarray | None = None, rows: int | None = None,
                keep_columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """The kept rows of each chunk, one chunk at a time (see :func:`read_rows`); at least one
    (possibly empty) frame, without ``attrs``.

    With ``keep_columns`` (the columns ``keep`` reads), a Parquet chunk's other columns are
    coerced for its kept rows only: coercion is value by value, so the rows are the same, at a
    fraction of the cost when few rows are kept (a worker keeping one shard of n).
    """
    row = 0
    skip_rows = np.asarray([] if skip_rows is None else skip_rows, dtype=np.int64)
    if columns is not None:
        spec = replace(spec, columns=tuple(spec.column(c) for c in columns))
    for raw, frame in _raw_chunks(path, spec, options, rows, keep is not None and keep_columns is not None):
        n = len(frame) if raw is None else raw.num_rows
        if keep is None:
            mask = np.ones(n, dtype=bool)
        elif raw is None:
            mask = np.array(keep(frame), dtype=bool)  # a writable copy
        else:
            key_spec = replace(spec, columns=tuple(spec.column(c) for c in keep_columns))
            mask = np.array(keep(coerce_table(raw.select(list(keep_columns)), key_spec, source=frame)), dtype=bool)
        lo, hi = np.searchsorted(skip_rows, [row + 1, row + n + 1])
        mask[skip_rows[lo:hi] - row - 1] = False
        row += n
        if raw is not None:  # coerce only the kept rows
            frame = coerce_table(raw if mask.all() else raw.filter(pa.array(mask)), spec, source=frame)
            mask = np.ones(len(frame), dtype=bool)
        frame.attrs = {}
        yield frame if mask.all() else frame[mask]


def _raw_chunks(path: Path, spec: Table, options: dict, rows: int | None, raw: bool):
    """``(None, coerced chunk)`` as :func:`read_chunks` gives them, or with ``raw`` and a Parquet
    table ``(Arrow chunk, its file's name)`` before coercion."""
    if not raw or (not path.is_dir() and path.suffix != ".parquet"):
        for _, _, frame in read_chunks(path, spec, options, rows=rows):
            yield None, frame
        return
    for part in options.get("parts") or [Part(path, {})]:
        for chunk in _batches(part.path, part.partition, spec, rows or CHUNK_ROWS):
            yield chunk, str(part.path)


def _read_parts(folder: Path, spec: Table, parts: list[Part]) -> pd.DataFrame:
    """Read and coerce every part, one at a time, into one frame (rows in part order).

    ``attrs["parts"]`` lists ``(part path, rows)``; the masks and texts of unreadable values are
    shifted to the rows of the whole table.
    """
    frames = [coerce_table(_read_part(part, spec), spec, source=str(part.path)) for part in parts]
    sizes = [len(f) for f in frames]
    starts = np.cumsum([0, *sizes[:-1]])
    n = int(sum(sizes))
    merged: dict[str, dict] = {"unparsed": {}, "nonfinite": {}, "bad_text": {}}
    for frame, start in zip(frames, starts):
        for kind in ("unparsed", "nonfinite"):
            for col, mask in frame.attrs[kind].items():
                whole = merged[kind].setdefault(col, np.zeros(n, bool))
                whole[start:start + len(frame)] = mask
        for col, text in frame.attrs["bad_text"].items():
            merged["bad_text"].setdefault(col, []).append(pd.Series(text.to_numpy(), index=text.index + start, dtype=object))
        frame.attrs = {}  # pandas compares attrs holding arrays badly when concatenating
    merged["bad_text"] = {col: pd.concat(texts) for col, texts in merged["bad_text"].items()}
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame.attrs.update(merged, path=str(folder), parts=[(str(p.path), size) for p, size in zip(parts, sizes)])
    return frame


# --------------------------------------------------------------------------- CSV text and header


def _not_text(path: Path, encoding: str, offset: int, head: bytes | None = None, line: int | None = None) -> InputError:
    if line is None and head is not None and encoding == "utf-8":
        line = head.count(b"\n", 0, offset) + 1
    where = f"byte {offset:,}" + (f", line {line:,}" if line is not None else "")
    return InputError(
        f"{path}: not {encoding.upper()} text (first bad byte at {where}); "
        "save the file as UTF-8 (latin-1 or Windows-1252 exports are not read)"
    )


def _sniff(path: Path) -> tuple[str, str, bool]:
    """Encoding, decoded head of a CSV file, and whether the head is the whole file.

    A byte-order mark decides the encoding (UTF-8, UTF-16, UTF-32); without one the file must
    be UTF-8. NUL bytes without a BOM mean UTF-16 without a BOM, or not text at all.
    """
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES + 1)
    whole = len(head) <= _HEAD_BYTES
    head = head[:_HEAD_BYTES]
    if not head:
        raise InputError(f"{path}: file is empty (expected a header row)")
    encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), None)
    if encoding is None:
        nul = head.find(b"\x00")
        if nul >= 0:
            raise InputError(
                f"{path}: not a text CSV (a NUL byte at byte {nul:,}: UTF-16 without a byte-order mark, "
                "or binary data); save the file as UTF-8"
            )
        encoding = "utf-8"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        raise _not_text(path, encoding, exc.start, head) from None
    return encoding, text.removeprefix("\ufeff"), whole


def _csv_header(path: Path) -> tuple[list[str], dict]:
    """Header names of a CSV file, and the reader options found on the way."""
    encoding, text, whole = _sniff(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in reader if row), [])  # the reader skips blank lines too
    # A header-only file without a final newline trips pyarrow ("Empty CSV file"): note it.
    has_rows = not whole or any(row for row in reader)  # ",,,," is a row (of nulls), "" is not
    return header, {"encoding": encoding, "has_rows": has_rows}


def _utf8_error_at(path: Path) -> tuple[int, int] | None:
    """Byte offset and line of the first byte that is not UTF-8, read in blocks (None: all valid)."""
    offset, line, pending = 0, 1, b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(1 << 24)
            data = pending + block
            if not data:
                return None
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                if not (block and exc.reason == "unexpected end of data"):
                    return offset + exc.start, line + data.count(b"\n", 0, exc.start)
                good = exc.start  # a character cut by the block boundary: finish it with the next block
            line += data.count(b"\n", 0, good)
            offset += good
            pending = data[good:]
            if not block:
                return None


def _read_csv(path: Path, spec: Table, encoding: str = "utf-8", has_rows: bool = True) -> pa.Table:
    """The contract's columns of a CSV file, all as text (nothing is guessed)."""
    import pyarrow.csv as pcsv

    if not has_rows:
        return pa.table({name: pa.array([], pa.large_string()) for name in spec.column_names})
    try:
        return pcsv.read_csv(
            path.open("rb") if isinstance(path, RemotePath) else path,
            read_options=pcsv.ReadOptions(encoding="utf8" if encoding == "utf-8" else encoding),
            # quoted values may hold newlines; costs little and never splits a row silently
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.large_string() for name in spec.column_names},
                include_columns=spec.column_names,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        if "invalid UTF8" in str(exc) and encoding == "utf-8":
            where = _utf8_error_at(path)
            if where is not None:
                raise _not_text(path, "utf-8", where[0], line=where[1]) from None
        raise InputError(f"{path}: unreadable CSV ({first_line(exc)})") from None
    except READ_ERRORS as exc:
        raise InputError(f"{path}: unreadable CSV ({first_line(exc)})") from None


# --------------------------------------------------------------------------- files


def _header(path: Path) -> tuple[list[str], dict]:
    """Column names of a table file (only its header or footer is read) and reader options."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            src = _source(path)
            return list(pq.read_schema(src["source"], filesystem=src["filesystem"]).names), {}
        except READ_ERRORS as exc:
            raise InputError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    with reading(path, "CSV file"):
        return _csv_header(path)


def _header_problems(path: Path, spec: Table, names: list[str]) -> list[str]:
    """What is wrong with a header: missing and repeated required columns (one message each)."""
    problems = []
    missing = [c for c in spec.column_names if c not in names]
    if missing:
        word = "column" if len(missing) == 1 else "columns"
        listed = ", ".join(f"'{c}'" for c in missing)
        near = [n for n in names if n not in spec.column_names and n.strip().lower() in missing]
        hint = f" (found {', '.join(repr(n) for n in near)}: names must match exactly)" if near else ""
        problems.append(f"{path}: table '{spec.name}' is missing required {word} {listed}{hint}")
    repeated = [c for c in spec.column_names if names.count(c) > 1]
    if repeated:
        listed = ", ".join(f"'{c}'" for c in repeated)
        problems.append(f"{path}: table '{spec.name}' has column {listed} more than once")
    return problems


_SHOWN_PARTS = 3  # a folder of a thousand bad parts: name the first few, count the rest


def _checked(path: Path, spec: Table) -> tuple[dict, list[str]]:
    """Reader options and header problems of a table file or folder (headers and footers only).

    A folder's every part is checked; problems name the part file and column.
    """
    if not path.is_dir():
        names, options = _header(path)
        return options, _header_problems(path, spec, names)
    parts = table_parts(path)
    bad: list[list[str]] = []
    for part in parts:
        try:
            found = _header_problems(part.path, spec, _part_names(part))
        except InputError as exc:
            found = [str(exc)]
        if found:
            bad.append(found)
    problems = [p for found in bad[:_SHOWN_PARTS] for p in found]
    if len(bad) > _SHOWN_PARTS:
        problems.append(f"{path}: {len(bad) - _SHOWN_PARTS:,} more parts of table '{spec.name}' with such problems")
    return {"parts": parts}, problems


def _read_file(path: Path, spec: Table, options: dict) -> pd.DataFrame:
    """Read the contract's columns of one (header-checked) file or folder and coerce them."""
    if path.is_dir():
        return _read_parts(path, spec, options["parts"])
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        with reading(path, "Parquet file"):
            src = _source(path)
            raw = pq.read_table(src["source"], columns=spec.column_names, filesystem=src["filesystem"])
    else:
        raw = _read_csv(path, spec, **options)
    frame = coerce_table(raw, spec, source=str(path))
    frame.attrs["path"] = str(path)
    return frame


def read_table(data_dir: str | os.PathLike, table: str) -> pd.DataFrame:
    """Read and coerce one contract table from ``data_dir``."""
    spec = CONTRACT[table]
    path = table_path(data_dir, table)
    options, problems = _checked(path, spec)
    if problems:
        raise InputError("; ".join(problems))
    return _read_file(path, spec, options)


def read_tables(data_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read and coerce all five contract tables (no rule checks; see :mod:`.validate`).

    Every table's file and header is checked first (:func:`check_headers`), so one error
    names every missing table, unreadable header and missing column at once.
    """
    found = _headers(data_dir)
    return {name: _read_file(path, CONTRACT[name], options) for name, (path, options) in found.items()}


def locate_tables(data_dir: str | os.PathLike) -> dict[str, tuple[Path, dict]]:
    """``{table: (file or folder, reader options)}`` once every table's header is fine.

    ``data_dir`` is a local folder or a URI (``file://``, ``s3://``, ``gs://``, ``abfs://``,
    ``hdfs://`` through pyarrow's file systems; ``memory://`` and other schemes through fsspec):
    then the paths are :class:`RemotePath` objects, which every reader here accepts.

    Raises
    ------
    InputError
        One line listing every problem of every table (as :func:`check_headers`).
    """
    return _headers(data_dir)


def check_headers(data_dir: str | os.PathLike) -> None:
    """Check that every contract table's file exists and its header holds the required columns.

    Reads only CSV headers and Parquet footers, every part's for a folder (cheap: a pre-flight
    check before any work).

    Raises
    ------
    InputError
        One line listing every problem of every table, separated by ``"; "``.
    """
    _headers(data_dir)


def _headers(data_dir: str | os.PathLike) -> dict[str, tuple[Path, dict]]:
    """``{table: (path, reader options)}`` once every header is fine; else one InputError."""
    data_dir = _data_folder(data_dir)  # a URI's filesystem is resolved once
    found: dict[str, tuple[Path, dict]] = {}
    problems: list[str] = []
    for name in C.TABLES:
        try:
            path = table_path(data_dir, name)
            options, found_problems = _checked(path, CONTRACT[name])
        except InputError as exc:
            problems.append(str(exc))
            continue
        problems += found_problems
        found[name] = (path, options)
    if problems:
        raise InputError("; ".join(problems))
    return found


# --------------------------------------------------------------------------- coercion


class _Unsupported(Exception):
    """A column's storage type cannot hold the contract's type (a structural problem)."""

    def __init__(self, found: pa.DataType, expected: str):
        super().__init__(f"is stored as {found}; expected {expected}")


@dataclass
class _Coerced:
    values: pd.Series
    bad: np.ndarray | None = None  # not of the column's type
    nonfinite: np.ndarray | None = None  # a float that is not finite


_TARGET = {
    STRING: pa.large_string(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    FLOAT: pa.float64(),
    INT: pa.int64(),
    BOOL: pa.bool_(),
}
_PANDAS = {pa.large_string(): ID_DTYPE, pa.string(): ID_DTYPE, pa.bool_(): pd.BooleanDtype()}


def _mask(values) -> np.ndarray:
    """A boolean Arrow array (nulls: False) as a numpy array."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _to_pandas(arr: pa.ChunkedArray, dtype: str) -> pd.Series:
    """An Arrow column already of the contract's Arrow type as a pandas Series of its dtype."""
    if dtype == INT and arr.null_count:
        return pd.Series(arr.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
    series = pd.Series(arr.to_pandas(types_mapper=_PANDAS.get))
    return series.astype(TS_DTYPE) if dtype == TIMESTAMP else series


def _whole(x: pa.ChunkedArray) -> pa.ChunkedArray:
    """Finite floats without a fraction that a float64 holds exactly."""
    return pc.and_(pc.and_(pc.is_finite(x), pc.equal(pc.floor(x), x)), pc.less(pc.abs(x), float(EXACT_INT)))


def _float_text(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Parse trimmed text as float64: Arrow in one pass, else per value (unreadable: null)."""
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        values = pd.to_numeric(pd.Series(text.to_numpy(zero_copy_only=False), dtype=object), errors="coerce")
        return pa.chunked_array([pa.array(values.to_numpy(dtype=float), from_pandas=True)])


def _to_string(arr: pa.ChunkedArray) -> _Coerced:
    t = arr.type
    if _is_text(t):
        return _Coerced(_to_pandas(pc.cast(arr, pa.large_string()), STRING))
    if pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0):
        return _Coerced(_to_pandas(pc.cast(arr, pa.large_string()), STRING))
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        # ids written as floats by some exporters: 12.0 -> "12"; 12.5 is no id
        x = pc.cast(arr, pa.float64(), safe=False)
        whole = _whole(x)
        ints = pc.cast(pc.if_else(whole, x, None), pa.int64())
        bad = _mask(pc.and_(pc.is_valid(x), pc.invert(whole)))
        return _Coerced(_to_pandas(pc.cast(ints, pa.large_string()), STRING), bad=bad if bad.any() else None)
    raise _Unsupported(t, "text (or whole numbers)")


def _to_timestamp(arr: pa.ChunkedArray) -> _Coerced:
    t = arr.type
    target = _TARGET[TIMESTAMP]
    if pa.types.is_timestamp(t):
        # naive values are UTC (the contract's rule); nanoseconds are cut to microseconds
        return _Coerced(_to_pandas(pc.cast(arr, target, safe=t.unit != "ns"), TIMESTAMP))
    if pa.types.is_date(t):
        return _Coerced(_to_pandas(pc.cast(pc.cast(arr, pa.timestamp("us")), target), TIMESTAMP))
    if not _is_text(t):
        raise _Unsupported(t, "a timestamp (a Parquet timestamp, or ISO-8601 text; numbers are not read as epoch times)")
    text = pc.utf8_trim_whitespace(pc.cast(arr, pa.large_string()))
    for attempt in (target, pa.timestamp("us")):  # all with a zone offset, then all naive
        try:
            return _Coerced(_to_pandas(pc.cast(pc.cast(text, attempt), target), TIMESTAMP))
        except pa.ArrowInvalid:
            pass
    # mixed, or unreadable values: per value (pandas reads offsets and naive times alike)
    series = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
    bad = series.notna().to_numpy() & parsed.isna().to_numpy()
    return _Coerced(parsed.astype(TS_DTYPE), bad=bad if bad.any() else None)


def _to_float(arr: pa.ChunkedArray) -> _Coerced:
    t = arr.type
    nan_text = None
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
        x = pc.cast(arr, pa.float64(), safe=False)
        bad = None
    elif _is_text(t):
        text = pc.utf8_trim_whitespace(pc.cast(arr, pa.large_string()))
        x = _float_text(text)
        nan_text = pc.match_substring_regex(text, r"(?i)^[+-]?nan$")
        bad = _mask(pc.and_(pc.is_valid(text), pc.is_null(x)))
    else:
        raise _Unsupported(t, "a number")
    nonfinite = pc.fill_null(pc.invert(pc.is_finite(x)), False)  # null is missing, not "not finite"
    if nan_text is not None:  # pandas' fallback reads "nan" as null: still a value that is not a number
        nonfinite = pc.or_(nonfinite, nan_text)
        bad = bad & ~_mask(nan_text)
    nonfinite = _mask(nonfinite)
    values = _to_pandas(x, FLOAT)
    if nonfinite.any():  # not a number: null here, rejected by validation with the text
        values = values.mask(nonfinite)
    return _Coerced(values, bad=bad if bad is not None and bad.any() else None, nonfinite=nonfinite if nonfinite.any() else None)


def _to_int(arr: pa.ChunkedArray) -> _Coerced:
    t = arr.type
    if pa.types.is_integer(t):
        if t == pa.uint64():
            too_big = pc.greater(arr, pa.scalar(_INT64_MAX, pa.uint64()))
            arr = pc.if_else(too_big, None, arr)
            bad = _mask(too_big)
            return _Coerced(_to_pandas(pc.cast(arr, pa.int64()), INT), bad=bad if bad.any() else None)
        return _Coerced(_to_pandas(pc.cast(arr, pa.int64()), INT))
    if _is_text(t):
        text = pc.utf8_trim_whitespace(pc.cast(arr, pa.large_string()))
        if not pc.any(pc.match_substring(text, "x", ignore_case=True)).as_py():  # Arrow reads "0x10" as 16
            try:
                return _Coerced(_to_pandas(pc.cast(text, pa.int64()), INT))
            except (pa.ArrowInvalid, OverflowError):
                pass
        # not all plain integers: exact where they are, else whole floats ("12.0", "1e3")
        plain = pc.match_substring_regex(text, r"^[+-]?[0-9]{1,18}$")
        exact = pc.cast(pc.if_else(plain, pc.replace_substring_regex(text, r"^\+", ""), None), pa.int64())
        x = _float_text(pc.if_else(plain, None, text))
        valid = pc.is_valid(text)
    elif pa.types.is_floating(t) or pa.types.is_decimal(t):
        x = pc.cast(arr, pa.float64(), safe=False)
        plain = exact = None
        valid = pc.is_valid(arr)
    else:
        raise _Unsupported(t, "a whole number")
    whole = _whole(x)
    from_float = pc.cast(pc.if_else(whole, x, None), pa.int64())
    values = from_float if plain is None else pc.if_else(plain, exact, from_float)
    bad = _mask(pc.and_(valid, pc.is_null(values)))
    return _Coerced(_to_pandas(values, INT), bad=bad if bad.any() else None)


def _to_bool(arr: pa.ChunkedArray) -> _Coerced:
    t = arr.type
    if pa.types.is_boolean(t):
        return _Coerced(_to_pandas(arr, BOOL))
    if _is_text(t):
        text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(arr, pa.large_string())))
        yes = pc.is_in(text, value_set=pa.array(_TRUE, pa.large_string()))
        no = pc.is_in(text, value_set=pa.array(_FALSE, pa.large_string()))
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        yes, no = pc.equal(arr, 1), pc.equal(arr, 0)
    else:
        raise _Unsupported(t, "true/false")
    values = pc.if_else(yes, True, pc.if_else(no, False, None))
    bad = _mask(pc.and_(pc.is_valid(arr), pc.is_null(values)))
    return _Coerced(_to_pandas(values, BOOL), bad=bad if bad.any() else None)


_COERCE = {STRING: _to_string, TIMESTAMP: _to_timestamp, FLOAT: _to_float, INT: _to_int, BOOL: _to_bool}


def _coerce(arr: pa.ChunkedArray, dtype: str) -> _Coerced:
    """Coerce one Arrow column; values that are not of the type become null (flagged)."""
    if pa.types.is_dictionary(arr.type):
        arr = pc.cast(arr, arr.type.value_type)
    if pa.types.is_null(arr.type):  # all null (an empty column written by pandas)
        return _Coerced(_to_pandas(pa.chunked_array([pa.nulls(len(arr), _TARGET[dtype])]), dtype))
    if dtype not in _COERCE:
        raise ValueError(f"unknown contract dtype {dtype}")
    return _COERCE[dtype](arr)


def _as_arrow(series: pd.Series) -> pa.ChunkedArray:
    """A pandas column as Arrow (pandas NaN is missing); mixed Python objects are read as text."""
    try:
        if isinstance(series.dtype, pd.DatetimeTZDtype):  # as UTC wall times (pyarrow would warn)
            naive = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            arr = pa.array(naive, from_pandas=True)
            arr = pc.cast(arr, pa.timestamp(arr.type.unit, tz="UTC"))
        else:
            arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(series.astype(ID_DTYPE))
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _text_of(arr: pa.ChunkedArray, rows: np.ndarray) -> pd.Series:
    """The original values at ``rows`` as text (for messages), indexed by row."""
    taken = arr.take(pa.array(rows, pa.int64()))
    if pa.types.is_dictionary(taken.type):
        taken = pc.cast(taken, taken.type.value_type)
    text = pc.cast(taken, pa.large_string()).to_numpy(zero_copy_only=False)
    return pd.Series(text, index=rows, dtype=object)


def coerce_table(raw: pd.DataFrame | pa.Table, spec: Table, source: str | None = None) -> pd.DataFrame:
    """Coerce raw columns to the contract's types without changing any value.

    Parameters
    ----------
    raw : DataFrame or pyarrow.Table
        Holds at least the contract's columns (extra ones are ignored). In a DataFrame, NaN
        is missing; in an Arrow table (a Parquet file), NaN is a value that is not a number.
    spec : Table
        The contract table.
    source : str, optional
        What an error names first (the file path).

    Returns
    -------
    DataFrame
        The contract's columns in contract order: strings ``string[pyarrow]``, timestamps
        ``datetime64[us, UTC]``, floats ``float64``, counts ``int64`` (``Int64`` when a value is
        missing or unreadable), booleans ``boolean``. ``attrs["unparsed"]``,
        ``attrs["nonfinite"]`` and ``attrs["bad_text"]`` describe values that could not be
        read (see the module docstring).

    Raises
    ------
    InputError
        A column whose storage type cannot hold the contract's type (for example timestamps
        stored as int64), naming the source, table and column.
    """
    out: dict[str, pd.Series] = {}
    unparsed: dict[str, np.ndarray] = {}
    nonfinite: dict[str, np.ndarray] = {}
    bad_text: dict[str, pd.Series] = {}
    problems: list[str] = []
    for col in spec.columns:
        arr = raw.column(col.name) if isinstance(raw, pa.Table) else _as_arrow(raw[col.name])
        try:
            res = _coerce(arr, col.dtype)
        except _Unsupported as exc:
            problems.append(f"column '{col.name}' {exc}")
            continue
        except (pa.ArrowException, ValueError, OverflowError) as exc:  # e.g. a timestamp out of range
            problems.append(f"column '{col.name}' cannot be read as {col.dtype} ({first_line(exc)})")
            continue
        out[col.name] = res.values
        for masks, mask in ((unparsed, res.bad), (nonfinite, res.nonfinite)):
            if mask is not None:
                masks[col.name] = mask
        if res.bad is not None or res.nonfinite is not None:
            either = np.zeros(len(arr), bool) if res.bad is None else res.bad.copy()
            if res.nonfinite is not None:
                either |= res.nonfinite
            bad_text[col.name] = _text_of(arr, np.flatnonzero(either))
    if problems:
        where = f"{source}: " if source else ""
        raise InputError(f"{where}table '{spec.name}': " + "; ".join(problems))
    frame = pd.DataFrame(out)
    frame.attrs.update(unparsed=unparsed, nonfinite=nonfinite, bad_text=bad_text)
    return frame
