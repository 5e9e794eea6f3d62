"""Features and the training matrix sharded by creator, with the peer tables as a reduce.

The sharded engine (creatorrank.features.sharded) must equal the local engine bit for bit: on a
``distributed.LocalCluster`` (threads, two workers) and in-process; with the peer sample
(specs.PEER_CAP) small enough that the month's peers are a hash sample; and through the CLI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generated_market import written_market

from creatorrank.core import constants as C
from creatorrank.features import engine as E
from creatorrank.features import sharded as SH
from creatorrank.features import specs as S
from creatorrank.features.indices import PeerTables
from cli_invoke import invoke, isolate
from dask_parts import two_workers, write_parts

pytestmark = pytest.mark.data

N_SHARDS = 3


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A small generated market: its folder, validated tables and local training matrix."""
    data, tables, _ = written_market(tmp_path_factory.mktemp("dask_features") / "market", 400, 60, 3,
                                     posts_per_creator=40.0, invitees_per_campaign=25.0)
    return {"data": data, "tables": tables, "matrix": E.training_matrix(tables)}


@pytest.fixture(scope="module")
def parts_market(market, tmp_path_factory):
    """The same market with its large tables as folders of Parquet parts and planted bad rows."""
    from creatorrank.data.validate import load_market

    data = write_parts(market["data"], tmp_path_factory.mktemp("dask_parts") / "market", rows=3000)
    tables, report = load_market(data)
    assert report.rejected_rows == 3  # the planted rows: the workers must leave them out too
    return {"data": data, "tables": tables, "matrix": E.training_matrix(tables)}


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers, one thread each."""
    with two_workers() as client:
        yield client


def _as_of(matrix: pd.DataFrame) -> pd.Timestamp:
    """A campaign time in the middle of the data: creators still join after it."""
    return matrix[C.AS_OF].sort_values().iloc[len(matrix) // 2]


def _category(tables) -> str:
    return str(tables[C.CAMPAIGNS][C.CATEGORY].dropna().iloc[0])


def test_training_matrix_on_dask_equals_local(market, cluster):
    got = SH.sharded_training_matrix(market["tables"], client=cluster, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, market["matrix"], check_exact=True)
    assert got.attrs["feature_set_version"] == S.FEATURE_SET_VERSION
    keys = [C.AS_OF, C.CAMPAIGN_ID, C.CREATOR_ID, C.INVITATION_ID]
    assert got[keys].equals(got[keys].sort_values(keys).reset_index(drop=True))


def test_snapshot_on_dask_equals_local(market, cluster):
    tables = market["tables"]
    as_of, category = _as_of(market["matrix"]), _category(tables)
    want = E.snapshot(tables, as_of, category=category, country="US")
    got = SH.sharded_snapshot(tables, as_of, category=category, country="US", client=cluster, n_shards=N_SHARDS)
    assert 0 < len(want) < len(tables[C.CREATORS])  # creators joined after as_of are left out
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_peer_sample_is_chosen_globally(market, monkeypatch):
    """With fewer sample places than peers, every shard uses the market's hash sample."""
    tables = market["tables"]
    as_of = _as_of(market["matrix"])
    month = SH.months_of(pd.Series([as_of]))[0]
    joined = int((E._us(tables[C.CREATORS][C.JOINED_AT]) < month).sum())
    monkeypatch.setattr(S, "PEER_CAP", joined // 2)
    assert len(SH.peer_sample(SH.CreatorIndex.of(tables[C.CREATORS]), month)) == joined // 2
    want = E.snapshot(tables, as_of, category=_category(tables))
    got = SH.sharded_snapshot(tables, as_of, category=_category(tables), client=None, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_shard_alone_gets_other_percentiles(market):
    """The reduce matters: one shard's creators ranked among themselves differ from the market's."""
    tables = market["tables"]
    as_of = _as_of(market["matrix"])
    shard = SH.split_tables(tables, N_SHARDS)[0]
    alone = E.snapshot(shard, as_of)
    whole = E.snapshot(tables, as_of).set_index(C.CREATOR_ID).loc[alone[C.CREATOR_ID]].reset_index()
    peer_cols = [c for c in alone.columns if c.endswith("_peer_pct") or c in S.INDEX_NAMES]
    assert peer_cols
    assert any(not np.array_equal(alone[c].to_numpy(), whole[c].to_numpy(), equal_nan=True) for c in peer_cols)


def test_split_tables_puts_each_creator_in_one_shard(market):
    tables = market["tables"]
    parts = SH.split_tables(tables, N_SHARDS)
    for name, key in ((C.CREATORS, C.CREATOR_ID), (C.INVITATIONS, C.INVITATION_ID), (C.ORDERS, C.ORDER_ID)):
        ids = pd.concat([p[name][key] for p in parts])
        assert sorted(ids.astype(str)) == sorted(tables[name][key].astype(str)), name
    sizes = [len(p[C.CREATORS]) for p in parts]
    assert min(sizes) > 0
    creators = tables[C.CREATORS][C.CREATOR_ID].astype(object).to_numpy()
    shuffled = creators[np.random.default_rng(1).permutation(len(creators))]
    by_id = dict(zip(creators, SH.shard_of(creators, N_SHARDS)))
    assert [by_id[c] for c in shuffled] == SH.shard_of(shuffled, N_SHARDS).tolist()  # a hash of the id only
    for p in parts:  # every shard codes categories as the whole market does
        assert E.prepare(p).categories == SH.global_categories(tables)


def test_peer_tables_do_not_depend_on_peer_order(market):
    """PeerTables.build gives the same tables whichever order the peers come in."""
    tables = market["tables"]
    mk = E.prepare(tables)
    month = SH.months_of(pd.Series([_as_of(market["matrix"])]))[0]
    ids = mk.creator_ids[SH.peer_sample(SH.CreatorIndex.of(tables[C.CREATORS]), month)]
    part = SH.peer_inputs(mk, month, ids)
    n_cat = len(mk.categories)
    p = np.random.default_rng(0).permutation(len(ids))
    a = PeerTables.build(part["base"], part["cat"], n_cat)
    b = PeerTables.build({k: v[p] for k, v in part["base"].items()}, part["cat"][p], n_cat)
    inputs = {k: part["base"][k] for k in part["base"]}
    sa, sb = a.score(inputs, part["cat"]), b.score(inputs, part["cat"])
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def test_cli_features_engine_dask_equals_local(market, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    as_of = _as_of(market["matrix"]).isoformat()
    args = ["features", "--data", market["data"], "--as-of", as_of]
    local = invoke([*args, "--out", tmp_path / "local.parquet"])
    dask = invoke([*args, "--out", tmp_path / "dask.parquet", "--engine", "dask"])
    assert (local.code, dask.code) == (0, 0), dask.err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask.parquet"),
                                  pd.read_parquet(tmp_path / "local.parquet"), check_exact=True)


@pytest.mark.parametrize("extra, says", [(["--engine", "spark"], "--engine"),
                                         (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
                                         (["--scratch", "scratch"], "--scratch"),
                                         (["--wave-shards", "2"], "--wave-shards")])
@pytest.mark.parametrize("command", ["features", "score"])
def test_cli_refuses_bad_engine_options(market, tmp_path, monkeypatch, extra, says, command):
    """Every sharded command checks its Dask options the same way, before any work."""
    isolate(monkeypatch, tmp_path)
    args = {"features": ["--as-of", "2024-01-01"], "score": ["--model", "models:/m/1", "--campaign", "c"]}[command]
    res = invoke([command, "--data", market["data"], *args, "--out", tmp_path / "f.parquet", *extra])
    assert res.code == 2
    assert len(res.err_lines) == 1 and says in res.err_lines[0]
    assert not (tmp_path / "f.parquet").exists()


def test_any_decisions_equal_local(market):
    """Decisions in any order: unknown creators, a time before anyone joined, repeated rows."""
    tables = market["tables"]
    creators = tables[C.CREATORS]
    first = E._us(creators[C.JOINED_AT]).min()
    rng = np.random.default_rng(3)
    pick = creators[C.CREATOR_ID].astype(object).to_numpy()[rng.integers(0, len(creators), 40)]
    times = market["matrix"][C.AS_OF].to_numpy()[rng.integers(0, len(market["matrix"]), 40)]
    dec = pd.DataFrame({
        C.CREATOR_ID: [*pick, "no-such-creator", pick[0], pick[0]],
        C.AS_OF: pd.to_datetime([*times, times[0], pd.Timestamp(first - 10**9 * 86400 * 40, unit="us", tz="UTC"),
                                 times[0]], utc=True),
    })
    want = E.build_features(tables, dec)
    got = SH.sharded_features(tables, dec, client=None, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


# --------------------------------------------------------------------------- workers read their shards


def test_workers_read_the_shards_split_tables_gives(parts_market):
    """Each shard read from the parts (rejected rows left out) is the split of the clean tables."""
    data, tables = parts_market["data"], parts_market["tables"]
    folder = SH.open_folder(data)
    assert sorted(folder.skip[C.POSTS]) and sorted(folder.skip[C.INVITATIONS])
    pd.testing.assert_frame_equal(folder.creators, tables[C.CREATORS], check_exact=True)
    pd.testing.assert_frame_equal(folder.campaigns, tables[C.CAMPAIGNS], check_exact=True)
    categories = SH.global_categories(tables)
    want = SH.split_tables(tables, N_SHARDS)
    read = [SH.read_shard(data, s, N_SHARDS, folder.skip) for s in range(N_SHARDS)]
    facts = [SH.shard_facts(r) for r in read]
    assert sorted(set().union(*(f["categories"] for f in facts))) == categories
    missing = {t: sorted(set().union(*(f["missing"][t] for f in facts))) for t in C.TABLES}
    assert not any(missing.values())  # the null count was in a rejected row: counts are int64
    for s in range(N_SHARDS):
        got = SH.settle_shard(read[s], categories, missing)
        for name in C.TABLES:
            pd.testing.assert_frame_equal(got[name], want[s][name].reset_index(drop=True), check_exact=True,
                                          obj=f"shard {s} {name}")


def test_training_matrix_read_by_workers_equals_local(parts_market, cluster):
    got = SH.training_matrix_from_folder(parts_market["data"], client=cluster, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, parts_market["matrix"], check_exact=True)
    assert got.attrs["feature_set_version"] == S.FEATURE_SET_VERSION
    here = SH.sharded_training_matrix(parts_market["data"], client=None, n_shards=2)  # a path: the same route
    pd.testing.assert_frame_equal(here, parts_market["matrix"], check_exact=True)


def test_snapshot_read_by_workers_equals_local(parts_market, cluster):
    tables = parts_market["tables"]
    as_of, category = _as_of(parts_market["matrix"]), _category(tables)
    want = E.snapshot(tables, as_of, category=category, country="US")
    got = SH.sharded_snapshot(SH.open_folder(parts_market["data"]), as_of, category=category, country="US",
                              client=cluster, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_cli_features_dask_reads_parts_on_workers(parts_market, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    category = _category(parts_market["tables"])
    args = ["features", "--data", parts_market["data"], "--as-of", _as_of(parts_market["matrix"]).isoformat(),
            "--category", category.lower(), "--country", "us"]  # codes match case-insensitively, as locally
    local = invoke([*args, "--out", tmp_path / "local.parquet"])
    dask = invoke([*args, "--out", tmp_path / "dask.parquet", "--engine", "dask"])
    assert (local.code, dask.code) == (0, 0), dask.err
    got = pd.read_parquet(tmp_path / "dask.parquet")
    assert (got[C.CATEGORY] == category).all() and (got[C.COUNTRY] == "US").all()
    pd.testing.assert_frame_equal(got, pd.read_parquet(tmp_path / "local.parquet"), check_exact=True)


def test_cli_features_dask_names_a_corrupt_part(parts_market, tmp_path, monkeypatch):
    import shutil

    isolate(monkeypatch, tmp_path)
    data = tmp_path / "market"
    shutil.copytree(parts_market["data"], data)
    bad = sorted((data / C.ORDERS).glob("*.parquet"))[1]
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    res = invoke(["features", "--data", data, "--as-of", "2025-06-01", "--out", tmp_path / "f.parquet",
                  "--engine", "dask"])
    assert res.code == 2
    assert len(res.err_lines) == 1 and str(bad) in res.err_lines[0]
    assert not (tmp_path / "f.parquet").exists()


def test_a_part_broken_after_validation_is_named_by_the_worker(parts_market, cluster, tmp_path):
    import shutil

    from creatorrank.core.errors import InputError

    data = tmp_path / "market"
    shutil.copytree(parts_market["data"], data)
    folder = SH.open_folder(data)
    bad = sorted((data / C.POSTS).rglob("*.parquet"))[-1]
    bad.write_bytes(b"PAR1 truncated PAR1")
    with pytest.raises(InputError) as err:
        SH.training_matrix_from_folder(folder, client=cluster, n_shards=N_SHARDS)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_training_matrix_with_worker_processes(market, parts_market):
    """Workers in other processes: shards, prepared markets and peer tables travel pickled."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local, distributed.Client(local) as client:
        got = SH.sharded_training_matrix(market["tables"], client=client, n_shards=N_SHARDS)
        read = SH.training_matrix_from_folder(parts_market["data"], client=client, n_shards=N_SHARDS)
    pd.testing.assert_frame_equal(got, market["matrix"], check_exact=True)
    pd.testing.assert_frame_equal(read, parts_market["matrix"], check_exact=True)
