"""Dask test helpers: a data folder of Parquet parts with rows validation rejects, a two-worker cluster."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from creatorrank.core import constants as C


def write_parts(src: Path, dst: Path, rows: int) -> Path:
    """Copy a written market (one Parquet file per table) into ``dst`` as folders of parts.

    Posts go into hive-style sub-folders (``posts/batch=K/part-N.parquet``; ``batch`` is no
    contract column, so it only groups parts), orders and invitations into plain part folders,
    creators and campaigns stay single files. Rows validation rejects are planted: a post of an
    unknown creator, an invitation to an unknown campaign, and a post whose ``likes_7d`` is
    missing (its part reads as ``Int64``; the clean table is int64).
    """
    dst.mkdir(parents=True)
    for name in C.TABLES:
        table = pq.read_table(src / f"{name}.parquet")
        if name == C.POSTS:
            ghost = table.slice(0, 1).to_pydict()
            ghost[C.POST_ID], ghost[C.CREATOR_ID] = ["ghost-post"], ["no-such-creator"]
            likes = table.column(C.LIKES_7D).to_pylist()
            likes[len(likes) // 2] = None
            table = table.set_column(table.schema.get_field_index(C.LIKES_7D), C.LIKES_7D,
                                     pa.array(likes, table.schema.field(C.LIKES_7D).type))
            table = pa.concat_tables([table, pa.table(ghost, schema=table.schema)])
        if name == C.INVITATIONS:
            ghost = table.slice(0, 1).to_pydict()
            ghost[C.INVITATION_ID], ghost[C.CAMPAIGN_ID] = ["ghost-invitation"], ["no-such-campaign"]
            table = pa.concat_tables([table.slice(0, table.num_rows // 2), pa.table(ghost, schema=table.schema),
                                      table.slice(table.num_rows // 2)])
        if name in (C.CREATORS, C.CAMPAIGNS):
            pq.write_table(table, dst / f"{name}.parquet")
            continue
        for k, start in enumerate(range(0, table.num_rows, rows)):
            folder = dst / name / (f"batch={k % 3}" if name == C.POSTS else "")
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(start, rows), folder / f"part-{k:05d}.parquet")
    return dst


def small_parts_market(root: Path) -> Path:
    """The small generated market of the Dask scoring tests, written as Parquet parts of 3,000 rows."""
    from creatorrank.data.generate import generate_market, write_market

    single = write_market(generate_market(400, 60, 3, posts_per_creator=40.0, invitees_per_campaign=25.0),
                          root / "single")
    return write_parts(single, root / "market", rows=3000)


@contextlib.contextmanager
def two_workers():
    """A ``distributed.Client`` on two in-process workers, one thread each (skips without distributed)."""
    import pytest

    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local, distributed.Client(local) as client:
        yield client
