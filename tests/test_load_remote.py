"""Tables on object storage: a data location given as a URI (``file://``, fsspec's ``memory://``)
reads, locates and validates exactly as the same files given as a local path; a scheme without
an installed filesystem is one InputError line naming the URI and the package to install."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from test_partitioned import generated, write_partitioned  # noqa: F401  (a module fixture)
from tiny_market import write_tables

from creatorrank.core import constants as C
from creatorrank.core.errors import InputError
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import RemotePath, locate_tables, read_rows, read_tables
from creatorrank.data.validate import validate_folder

pytestmark = pytest.mark.data
NOW = "2026-06-01"


def _memory_copy(folder: Path) -> str:
    """Every file below ``folder`` copied into fsspec's in-memory filesystem; its URI."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/market-{uuid.uuid4().hex[:8]}"
    for path in folder.rglob("*"):
        if path.is_file():
            fs.pipe(f"{root}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    return f"memory://{root}"


@pytest.fixture
def layouts(generated, tmp_path):  # noqa: F811
    """The same market as single files and as hive-partitioned parts (one table a CSV file)."""
    files = write_tables(generated, tmp_path / "files")
    parts = write_partitioned(generated, tmp_path / "parts", rows_per_part=400)
    (parts / "campaigns").rename(tmp_path / "unused")
    write_tables({C.CAMPAIGNS: generated[C.CAMPAIGNS]}, parts, fmt="csv")  # a CSV file beside folders
    return {"files": files, "parts": parts}


def _as_local(rejects: pd.DataFrame, uri: str, folder: Path) -> pd.DataFrame:
    return rejects.assign(file=rejects["file"].str.replace(uri, str(folder), regex=False))


@pytest.mark.parametrize("kind", ["files", pytest.param("parts", marks=pytest.mark.slow)])  # parts: ~10 s each
@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_uri_reads_and_validates_as_the_local_path(layouts, kind, scheme):
    folder = layouts[kind]
    uri = folder.resolve().as_uri() if scheme == "file" else _memory_copy(folder)
    local, remote = read_tables(folder), read_tables(uri)
    for name in C.TABLES:
        pd.testing.assert_frame_equal(remote[name], local[name])
        assert not remote[name].empty

    found = locate_tables(uri)
    assert all(isinstance(path, RemotePath) and str(path).startswith(uri) for path, _ in found.values())
    if kind == "parts":
        parts = found[C.POSTS][1]["parts"]
        assert len(parts) > 3 and all(str(p.path).startswith(f"{uri}/posts.parquet/month=") for p in parts)

    streamed, whole = validate_folder(uri, now=NOW), validate_folder(folder, now=NOW)
    assert not whole.ok and streamed.rejects["file"].str.startswith(uri + "/").all()
    pd.testing.assert_frame_equal(_as_local(streamed.rejects, uri, folder), whole.rejects)
    assert (streamed.rows_in, streamed.rows_out, streamed.notes) == (whole.rows_in, whole.rows_out, whole.notes)


def test_read_rows_of_a_uri_keeps_the_selected_rows_and_columns(layouts):
    folder = layouts["parts"]
    uri = _memory_copy(folder)
    path, options = locate_tables(uri)[C.ORDERS]
    skip = np.array([1, 5, 9])
    keep = lambda frame: frame[C.GMV_USD].to_numpy() > 10  # noqa: E731
    cols = [C.ORDER_ID, C.GMV_USD]
    remote = read_rows(path, CONTRACT[C.ORDERS], options, keep=keep, columns=cols, skip_rows=skip, rows=50,
                       keep_columns=[C.GMV_USD])
    lpath, loptions = locate_tables(folder)[C.ORDERS]
    local = read_rows(lpath, CONTRACT[C.ORDERS], loptions, keep=keep, columns=cols, skip_rows=skip, rows=50,
                      keep_columns=[C.GMV_USD])
    assert list(remote.columns) == cols and 0 < len(remote) < len(read_tables(folder)[C.ORDERS])
    pd.testing.assert_frame_equal(remote, local)


def test_missing_table_in_a_uri_names_the_uri(layouts, tmp_path):
    folder = tmp_path / "short"
    folder.mkdir()
    for path in layouts["files"].iterdir():
        if not path.name.startswith(C.ORDERS):
            (folder / path.name).write_bytes(path.read_bytes())
    uri = folder.resolve().as_uri()
    with pytest.raises(InputError) as err:
        read_tables(uri)
    assert str(err.value) == f"{uri}: table 'orders' not found (expected orders.parquet, orders.csv or a folder orders/ of Parquet parts)"
    with pytest.raises(InputError, match=r"data folder not found"):
        read_tables(uri + "/nowhere")


def test_scheme_without_installed_filesystem_is_one_line():
    pytest.importorskip("fsspec")
    pytest.importorskip("fsspec.implementations.memory")
    try:
        import ocifs  # noqa: F401
        pytest.skip("ocifs is installed")
    except ImportError:
        pass
    with pytest.raises(InputError) as err:
        read_tables("oci://bucket@namespace/market")
    assert str(err.value) == "oci://bucket@namespace/market: no filesystem for 'oci://' is installed (pip install ocifs)"
    with pytest.raises(InputError) as err:
        validate_folder("nosuch://bucket/market")
    message = str(err.value)
    assert "\n" not in message and message.startswith("nosuch://bucket/market: no filesystem knows 'nosuch://'")


def test_without_fsspec_the_error_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if fsspec were not installed
    monkeypatch.setitem(sys.modules, "fsspec.core", None)
    with pytest.raises(InputError) as err:
        read_tables("memory://market")
    assert str(err.value) == "memory://market: no filesystem for 'memory://' is installed (pip install fsspec)"
