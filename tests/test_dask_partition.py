"""A data folder partitioned once by creator shard (features/shard_files.py).

Each shard read from its own files must be the shard a scan of the whole folder gives (rejected
rows left out, table order, the posts its orders point at, even another shard's), the
partition is built atomically, reused only for unchanged data, and a default scratch is
removed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generated_market import written_market

from creatorrank.core import constants as C
from creatorrank.features import engine as E
from creatorrank.features import shard_files as F
from creatorrank.features import sharded as SH
from dask_parts import two_workers, write_parts

pytestmark = pytest.mark.data

N_SHARDS = 3
SPLIT = (C.CREATORS, C.POSTS, C.ORDERS, C.INVITATIONS)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """A small market as folders of parts with planted rejected rows; creators one file of many row groups."""
    base = tmp_path_factory.mktemp("dask_partition")
    data, _, _ = written_market(base / "market", 300, 40, 5, posts_per_creator=30.0, invitees_per_campaign=20.0)
    folder = write_parts(data, base / "parts", rows=2500)
    creators = pq.read_table(folder / f"{C.CREATORS}.parquet")
    pq.write_table(creators, folder / f"{C.CREATORS}.parquet", row_group_size=40)  # pieces of row groups
    return folder


def _foreign_order(src: Path, dst: Path) -> tuple[Path, str]:
    """A copy of ``src`` where one order points at a post of a creator of another shard."""
    shutil.copytree(src, dst)
    posts = pd.concat([pd.read_parquet(p) for p in sorted((dst / C.POSTS).rglob("*.parquet"))])
    part = sorted((dst / C.ORDERS).glob("*.parquet"))[0]
    orders = pq.read_table(part)
    frame = orders.to_pandas()
    row = int(np.flatnonzero(frame[C.POST_ID].notna().to_numpy())[0])
    mine = SH.shard_of(np.array([frame[C.CREATOR_ID].iloc[row]], dtype=object), N_SHARDS)[0]
    post_shard = SH.shard_of(posts[C.CREATOR_ID].astype(object).to_numpy(), N_SHARDS)
    other = posts[(post_shard != mine) & (posts[C.POST_ID] != "ghost-post")].iloc[0]
    ids = orders.column(C.POST_ID).to_pylist()
    ids[row] = other[C.POST_ID]
    orders = orders.set_column(orders.schema.get_field_index(C.POST_ID), C.POST_ID,
                               pa.array(ids, orders.schema.field(C.POST_ID).type))
    pq.write_table(orders, part)
    return dst, str(other[C.POST_ID])


def _same_shards(folder: SH.FolderMarket, root: str) -> None:
    """Every shard read from the partition equals the shard a scan of the folder reads."""
    for s in range(N_SHARDS):
        scan = SH.read_shard(folder.data_dir, s, N_SHARDS, folder.skip)
        files = SH.read_shard(folder.data_dir, s, N_SHARDS, folder.skip, files=root)
        for name in C.TABLES:
            pd.testing.assert_frame_equal(files[name], scan[name], check_exact=True, obj=f"shard {s} {name}")


def test_pieces_follow_parts_and_row_groups(parts):
    from creatorrank.data.load import locate_tables

    found = locate_tables(parts)
    posts = F.pieces(found[C.POSTS])
    assert [p.path for p in posts] == [str(p.path) for p in found[C.POSTS][1]["parts"]]
    assert posts[0].partition == {"batch": "0"} and posts[1].start == posts[0].rows
    creators = F.pieces(found[C.CREATORS], max_rows=100)  # row groups of 40: two per piece
    assert [p.row_groups for p in creators[:2]] == [(0, 1), (2, 3)]
    assert sum(p.rows for p in creators) == pq.read_metadata(parts / f"{C.CREATORS}.parquet").num_rows


def test_shard_files_read_as_a_scan_of_the_folder(parts, tmp_path):
    folder = SH.open_folder(parts)
    assert len(folder.skip[C.POSTS]) and len(folder.skip[C.INVITATIONS])  # rejected rows stay out
    files = F.partition(SH.Runner(None), parts, folder.skip, N_SHARDS, scratch=tmp_path, max_rows=100)
    assert Path(files.root).parent == tmp_path and files.remove is None
    for table in SPLIT:  # one folder per shard, hive style; every row's source row is kept
        rows = np.concatenate([pq.read_table(f, columns=[C.SOURCE_ROW]).column(0).to_numpy()
                               for k in range(N_SHARDS) for f in sorted(files.folder(table, k).glob("*.parquet"))])
        assert not np.isin(folder.skip[table], rows).any()
        assert len(np.unique(rows)) == len(rows)
    _same_shards(folder, files.root)


def test_an_order_pointing_at_another_shards_post_gets_it(parts, tmp_path):
    data, post = _foreign_order(parts, tmp_path / "market")
    folder = SH.open_folder(data)
    files = F.partition(SH.Runner(None), data, folder.skip, N_SHARDS, scratch=tmp_path / "scratch")
    copies = [k for k in range(N_SHARDS) if list(files.folder(C.POSTS, k).glob("part-x*.parquet"))]
    assert len(copies) == 1  # the post was copied into the order's shard
    got = SH.read_shard(data, copies[0], N_SHARDS, folder.skip, files=files.root)
    assert post in set(got[C.POSTS][C.POST_ID]) and post in set(got[C.ORDERS][C.POST_ID])
    _same_shards(folder, files.root)
    from creatorrank.data.validate import load_market

    tables, _ = load_market(data)
    got = SH.training_matrix_from_folder(folder, client=None, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, E.training_matrix(tables), check_exact=True)


def test_partition_is_reused_only_for_unchanged_data(parts, tmp_path):
    data = tmp_path / "market"
    shutil.copytree(parts, data)
    folder = SH.open_folder(data)
    first = F.partition(SH.Runner(None), data, folder.skip, N_SHARDS, scratch=tmp_path / "s")
    stamp = os.stat(next(first.folder(C.POSTS, 0).glob("*.parquet"))).st_mtime_ns
    again = F.partition(SH.Runner(None), data, folder.skip, N_SHARDS, scratch=tmp_path / "s")
    assert again.root == first.root
    assert os.stat(next(again.folder(C.POSTS, 0).glob("*.parquet"))).st_mtime_ns == stamp  # not rewritten
    other = F.partition(SH.Runner(None), data, folder.skip, N_SHARDS + 1, scratch=tmp_path / "s")
    assert other.root != first.root
    invitations = sorted((data / C.INVITATIONS).glob("*.parquet"))[0]
    os.utime(invitations, ns=(stamp, stamp + 10**9))  # a table changed: a new partition
    changed = F.partition(SH.Runner(None), data, folder.skip, N_SHARDS, scratch=tmp_path / "s")
    assert changed.root != first.root
    skip = {**folder.skip, C.ORDERS: np.array([1], dtype=np.int64)}  # other rejects (another "now")
    assert F.partition_key(data, skip, N_SHARDS) != F.partition_key(data, folder.skip, N_SHARDS)
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]  # no build left behind


def test_a_half_built_partition_is_never_read(parts, tmp_path):
    folder = SH.open_folder(parts)
    key = F.partition_key(parts, folder.skip, N_SHARDS)
    half = tmp_path / f"shards-{key}" / C.POSTS / "shard=0"
    half.mkdir(parents=True)
    (half / "part-000000.parquet").write_bytes(b"PAR1 half written")  # no manifest: not complete
    files = F.partition(SH.Runner(None), parts, folder.skip, N_SHARDS, scratch=tmp_path)
    assert F.is_complete(files.root)
    _same_shards(folder, files.root)


def test_default_scratch_is_removed_when_the_run_ends(parts):
    folder = SH.open_folder(parts)
    run = SH.Runner(None)
    files = SH.shard_files(run, folder, N_SHARDS)
    assert SH.shard_files(run, folder, N_SHARDS) is files  # once per run
    assert files.remove is not None and Path(files.root).is_dir()
    run.close()
    assert not Path(files.remove).exists()


def test_partition_on_a_cluster_equals_local(parts, tmp_path):
    from creatorrank.data.validate import load_market

    tables, _ = load_market(parts)
    want = E.training_matrix(tables)
    folder = replace(SH.open_folder(parts), scratch=str(tmp_path))
    with two_workers() as client:
        got = SH.training_matrix_from_folder(folder, client=client, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert [p.name for p in tmp_path.iterdir()] == [f"shards-{F.partition_key(parts, folder.skip, N_SHARDS)}"]


def test_snapshot_in_waves_equals_local(parts):
    """One shard prepared at a time (in-process): the snapshot and every shard's peer inputs are the same."""
    from creatorrank.data.validate import load_market

    tables, _ = load_market(parts)
    when = tables[C.CAMPAIGNS][C.CREATED_AT].sort_values().iloc[len(tables[C.CAMPAIGNS]) // 2]
    want = E.snapshot(tables, when, country="US")
    folder = replace(SH.open_folder(parts), wave_shards=1)
    got = SH.sharded_snapshot(folder, when, country="US", client=None, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_cli_features_with_scratch_and_waves(parts, tmp_path, monkeypatch):
    """--scratch keeps the partition for the next run (reused, same result); --wave-shards gives the same snapshot."""
    from cli_invoke import invoke, isolate

    isolate(monkeypatch, tmp_path)
    args = ["features", "--data", parts, "--as-of", "2025-06-01", "--engine", "dask"]
    local = invoke(["features", "--data", parts, "--as-of", "2025-06-01", "--out", tmp_path / "local.parquet"])
    first = invoke([*args, "--out", tmp_path / "a.parquet", "--shards", "3", "--scratch", tmp_path / "s"])
    kept = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert (local.code, first.code) == (0, 0), first.err
    assert len(kept) == 1 and kept[0].startswith("shards-")
    stamp = os.stat(next((tmp_path / "s" / kept[0] / C.POSTS / "shard=0").glob("*.parquet"))).st_mtime_ns
    again = invoke([*args, "--out", tmp_path / "b.parquet", "--shards", "3", "--scratch", tmp_path / "s",
                    "--wave-shards", "1"])
    assert again.code == 0, again.err
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == kept
    assert os.stat(next((tmp_path / "s" / kept[0] / C.POSTS / "shard=0").glob("*.parquet"))).st_mtime_ns == stamp
    want = pd.read_parquet(tmp_path / "local.parquet")
    for name in ("a.parquet", "b.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / name), want, check_exact=True)


def test_cli_features_refuses_an_unusable_scratch(parts, tmp_path, monkeypatch):
    from cli_invoke import invoke, isolate

    isolate(monkeypatch, tmp_path)
    (tmp_path / "file").write_text("not a folder")
    res = invoke(["features", "--data", parts, "--as-of", "2025-06-01", "--engine", "dask", "--out",
                  tmp_path / "f.parquet", "--scratch", tmp_path / "file" / "sub"])
    assert res.code == 2 and len(res.err_lines) == 1 and "--scratch" in res.err_lines[0]
    assert not (tmp_path / "f.parquet").exists()
