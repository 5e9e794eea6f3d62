"""Scoring sharded by creator on Dask: no market-wide broadcast, results equal the local engine.

:func:`creatorrank.serving.dask_engine.score_by_creator_dask` splits every shard of candidates by
creator, lets each worker prepare only its creators (reading their rows from a folder of Parquet
parts itself, or receiving them from the client) and builds the peer tables as the features
path's reduce. Its results must equal ``score_shard(prepare_context(tables, ...))`` bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dask_parts import write_parts
from fast_training import train_fast

from creatorrank.core import constants as C
from creatorrank.features import sharded as SH
from creatorrank.serving.dask_engine import score_by_creator_dask
from creatorrank.serving.shards import make_shards, prepare_context, score_shard

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A market written as parts (with rows validation rejects), a model trained on it, local scores."""
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.serving.score import load_model

    root = tmp_path_factory.mktemp("dask_score")
    single = write_market(generate_market(400, 60, 3, posts_per_creator=40.0, invitees_per_campaign=25.0),
                          root / "single")
    data = write_parts(single, root / "market", rows=3000)
    result, tracking = train_fast(data, root, "2026-01-01")
    bundle = load_model(f"models:/{C.REGISTERED_MODEL}/{result.model_version}", tracking)
    tables = load_clean_tables(data)
    camp = tables[C.CAMPAIGNS].sort_values(C.CREATED_AT, kind="stable")
    creators = tables[C.CREATORS]
    plan = []
    for k in (len(camp) // 2, len(camp) - 1):  # mid-span (creators still join after it) and the latest
        brief = camp.iloc[k]
        when = brief[C.CREATED_AT]
        ids = np.sort(creators.loc[creators[C.JOINED_AT] < when, C.CREATOR_ID].astype(object).to_numpy())
        plan.append((brief, when, ids))
    shards = [s.decisions for s in make_shards(plan, 37)]
    context = prepare_context(tables, [when for _, when, _ in plan])
    local = [score_shard(context, bundle, d) for d in shards]
    return {"data": data, "tables": tables, "bundle": bundle, "shards": shards, "local": local}


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local, distributed.Client(local) as client:
        yield client


def _same(got: list[pd.DataFrame], want: list[pd.DataFrame]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        pd.testing.assert_frame_equal(g, w, check_exact=True, obj=f"shard {i}")


def test_workers_read_parts_and_score_as_local(env, cluster):
    folder = SH.open_folder(env["data"])
    got = score_by_creator_dask(folder, env["bundle"], env["shards"], scheduler=cluster, n_shards=3)
    _same(got, env["local"])
    assert sum(len(g) for g in got) > 300  # two briefs' candidates, several shards each


def test_tables_split_on_the_client_score_as_local(env, cluster):
    got = score_by_creator_dask(env["tables"], env["bundle"], env["shards"], scheduler=cluster)  # one shard per worker
    _same(got, env["local"])


def test_each_worker_prepares_only_its_creators(env):
    """Nothing market-wide is prepared on a worker: each shard's market holds its creators only."""
    run = SH._Runner(None)
    market = SH.folder_shards(run, SH.open_folder(env["data"]), 2, None)
    sizes = [len(market.markets[s].creator_ids) for s in market.live]
    assert sum(sizes) == len(env["tables"][C.CREATORS]) and max(sizes) < len(env["tables"][C.CREATORS])
