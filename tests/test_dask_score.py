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

from dask_parts import small_parts_market, two_workers
from fast_training import train_fast

from creatorrank.core import constants as C
from creatorrank.features import sharded as SH
from creatorrank.serving.dask_engine import score_by_creator_dask
from creatorrank.serving.shards import make_shards, prepare_context, score_shard

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A market written as parts (with rows validation rejects), a model trained on it, local scores."""
    from creatorrank.data.validate import load_clean_tables
    from creatorrank.serving.score import load_model

    root = tmp_path_factory.mktemp("dask_score")
    data = small_parts_market(root)
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
    return {"data": data, "tables": tables, "bundle": bundle, "shards": shards, "local": local,
            "tracking": tracking, "uri": f"models:/{C.REGISTERED_MODEL}/{result.model_version}"}


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers, one thread each."""
    with two_workers() as client:
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
    run = SH.Runner(None)
    market = SH.folder_shards(run, SH.open_folder(env["data"]), 2, None)
    sizes = [len(market.markets[s].creator_ids) for s in market.live]
    assert sum(sizes) == len(env["tables"][C.CREATORS]) and max(sizes) < len(env["tables"][C.CREATORS])


# ---------------------------------------------------------------------------- creatorrank score --engine dask


def _briefs(tables, n: int = 2) -> list[str]:
    """Campaigns with invitations: one mid-span, the latest ones."""
    inv = tables[C.INVITATIONS].groupby(C.CAMPAIGN_ID, observed=True).size()
    camp = tables[C.CAMPAIGNS]
    camp = camp[camp[C.CAMPAIGN_ID].isin(inv[inv >= 5].index)].sort_values(C.CREATED_AT, kind="stable")
    ids = camp[C.CAMPAIGN_ID].astype(str).tolist()
    return [ids[len(ids) // 2], *ids[-(n - 1):]]


@pytest.mark.parametrize("rules", [
    {"candidates": "eligible", "active_days": 45, "min_posts": 3},
    {"candidates": "eligible", "same_category": True, "same_country": False},
    {"candidates": "invited"},
])
def test_shard_candidates_union_is_the_market_candidates(env, rules):
    """Each shard searches its own creators; the union over the shards is the whole market's search."""
    from creatorrank.serving.candidates import CandidateFinder, EligibilityRules, shard_candidates

    tables, mode = env["tables"], rules.pop("candidates")
    rules = EligibilityRules(**rules)
    briefs = tables[C.CAMPAIGNS][tables[C.CAMPAIGNS][C.CAMPAIGN_ID].isin(_briefs(tables, 3))].reset_index(drop=True)
    times = [b[C.CREATED_AT] for _, b in briefs.iterrows()]
    finder = CandidateFinder(tables, rules)
    per_shard = [shard_candidates(t, briefs, times, rules, mode) for t in SH.split_tables(tables, 3)]
    for b, (_, brief) in enumerate(briefs.iterrows()):
        want = finder.eligible(brief, times[b]) if mode == "eligible" else finder.invited(brief)
        assert len(want) > 5
        got = np.concatenate([s[b][0] for s in per_shard])
        counts = np.concatenate([s[b][1] for s in per_shard])
        order = np.argsort(got)
        np.testing.assert_array_equal(got[order], want)
        np.testing.assert_array_equal(counts[order], finder.category_posts(want, brief[C.CATEGORY], times[b]))
        assert max(len(s[b][0]) for s in per_shard) < len(want)  # each shard found only its part


def _run_score(env, out, **kwargs):
    from creatorrank.serving.score import score

    return score(env["data"], env["uri"], out, tracking_uri=env["tracking"], chunk_size=29, **kwargs)


def _manifest_without_run(path):
    from creatorrank.serving.manifest import read_manifest

    doc = read_manifest(path)
    return {k: v for k, v in doc.items() if k not in ("engine", "scored_at", "scores_sha256")}


@pytest.mark.parametrize("kwargs", [
    {"active_days": 30, "min_posts": 2, "top": 25},
    {"candidates": "invited"},
])
def test_score_engine_dask_reads_shards_on_workers_and_equals_local(env, cluster, tmp_path, monkeypatch, kwargs):
    """``score --engine dask`` on a folder of parts with rejected rows: the client never loads the
    clean tables (workers read their shards, search their candidates and score them), and rows,
    order, scores, ranks and manifest equal ``--engine local``."""
    import creatorrank.serving.score as score_module

    campaigns = _briefs(env["tables"], 3)
    (tmp_path / "local").mkdir(), (tmp_path / "dask").mkdir()  # same file name: the manifests name it
    local = _run_score(env, tmp_path / "local" / "scores.parquet", campaign_ids=campaigns, **kwargs)

    def no_whole_tables(*_, **__):
        raise AssertionError("the dask engine loaded the whole clean tables on the client")

    monkeypatch.setattr(score_module, "load_clean_tables", no_whole_tables)
    dask = _run_score(env, tmp_path / "dask" / "scores.parquet", campaign_ids=campaigns, engine="dask",
                      scheduler=cluster, **kwargs)
    assert (dask.engine, dask.rows, dask.candidates) == ("dask", local.rows, local.candidates)
    a, b = (pd.read_parquet(tmp_path / e / "scores.parquet") for e in ("local", "dask"))
    assert len(a) > 30 and a[C.CATEGORY_POSTS_SEEN].notna().any()
    pd.testing.assert_frame_equal(a.drop(columns=[C.SCORED_AT]), b.drop(columns=[C.SCORED_AT]), check_exact=True)
    assert _manifest_without_run(tmp_path / "local" / "scores.parquet") == \
        _manifest_without_run(tmp_path / "dask" / "scores.parquet")


def test_score_engine_dask_refuses_an_empty_candidate_set_as_local(env, cluster, tmp_path):
    from creatorrank.core.errors import InputError

    campaigns = _briefs(env["tables"], 2)
    errors = []
    for engine in ("local", "dask"):
        with pytest.raises(InputError) as exc:
            # Before every creator joined: nobody is eligible for any brief.
            _run_score(env, tmp_path / f"{engine}.parquet", campaign_ids=campaigns, engine=engine, scheduler=cluster,
                       as_of=env["tables"][C.CREATORS][C.JOINED_AT].min())
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and f"campaign {campaigns[0]}: no eligible creators" in errors[0]
    assert not (tmp_path / "dask.parquet").exists()


@pytest.mark.parametrize("wave", [1, 3])
def test_score_in_waves_equals_local(env, cluster, wave):
    """At most ``wave`` creator shards prepared at once (read again from their files per pass): same scores."""
    from dataclasses import replace

    folder = replace(SH.open_folder(env["data"]), wave_shards=wave)
    got = score_by_creator_dask(folder, env["bundle"], env["shards"], scheduler=cluster, n_shards=3)
    _same(got, env["local"])
