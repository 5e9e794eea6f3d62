"""Batch scoring (`creatorrank score`): candidates, ranks, stamps, atomic output, Dask engine.

One small generated market and one quickly trained model (no tuning, few rounds, one thread)
serve the whole module.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError, InputError, ModelError

pytestmark = pytest.mark.model

TRAIN_UNTIL = "2026-01-01"
ALIAS_URI = f"models:/{C.REGISTERED_MODEL}@{C.CHAMPION}"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A generated market, its validated tables, a trained model as @champion (v1) and a v2."""
    from mlflow.tracking import MlflowClient

    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_market
    from fast_training import train_fast

    root = tmp_path_factory.mktemp("score")
    data = write_market(generate_market(400, 60, 3, posts_per_creator=40.0, invitees_per_campaign=25.0),
                        root / "market")
    result, tracking = train_fast(data, root, TRAIN_UNTIL)
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    client.set_registered_model_alias(C.REGISTERED_MODEL, C.CHAMPION, str(result.model_version))
    # A second version of the same model: lets a test move the alias during a run.
    src = client.get_model_version(C.REGISTERED_MODEL, str(result.model_version)).source
    v2 = int(client.create_model_version(C.REGISTERED_MODEL, src, run_id=result.run_id).version)
    tables, _ = load_market(data)
    return {
        "data": data,
        "tracking": tracking,
        "version": result.model_version,
        "v2": v2,
        "client": client,
        "tables": tables,
        "root": root,
    }


@pytest.fixture(scope="module")
def campaigns(env):
    """Two campaigns of the data with invitations: one mid-span (creators still join after it), the latest."""
    tables = env["tables"]
    inv = tables[C.INVITATIONS].groupby(C.CAMPAIGN_ID, observed=True).size()
    camp = tables[C.CAMPAIGNS]
    camp = camp[camp[C.CAMPAIGN_ID].isin(inv[inv >= 5].index)].sort_values(C.CREATED_AT)
    ids = camp[C.CAMPAIGN_ID].astype(str).tolist()
    return [ids[len(ids) * 3 // 5], ids[-1]]


@pytest.fixture(scope="module")
def scored(env, campaigns, tmp_path_factory):
    """The baseline run: two campaigns, eligible candidates, @champion, local engine."""
    from creatorrank.serving.score import score

    out = tmp_path_factory.mktemp("out") / "scores.parquet"
    result = score(env["data"], ALIAS_URI, out, campaign_ids=campaigns, tracking_uri=env["tracking"],
                   chunk_size=37)
    return result, pd.read_parquet(out)


def _score(env, out, **kwargs):
    from creatorrank.serving.score import score

    kwargs.setdefault("tracking_uri", env["tracking"])
    return score(env["data"], kwargs.pop("model_uri", ALIAS_URI), out, **kwargs)


def _same_scores(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns=[C.SCORED_AT]), b.drop(columns=[C.SCORED_AT]), check_exact=True)


def _brief_rows(env, ids) -> pd.DataFrame:
    camp = env["tables"][C.CAMPAIGNS]
    return camp[camp[C.CAMPAIGN_ID].isin(ids)].set_index(C.CAMPAIGN_ID)


# ---------------------------------------------------------------------------- output


def test_output_columns_order_ranks_and_percentiles(scored, env, campaigns):
    from creatorrank.features.specs import FEATURE_SET_VERSION, feature_names

    from creatorrank.features.specs import INDEX_NAMES

    result, frame = scored
    idx = [f for f in feature_names() if f in INDEX_NAMES]
    assert idx, "the catalogue has index features"
    evidence = [f"{i}_evidence" for i in idx if f"{i}_evidence" in feature_names()]
    assert list(frame.columns) == [C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE, C.RANK, C.TIES, C.PERCENTILE, C.CONFIDENCE,
                                   C.SCORE_SD,  # the model has bagged rankers (uncertainty.n_bags default)
                                   *idx, *evidence, C.POSTS_SEEN, C.INVITATIONS_SEEN, C.ORDERS_SEEN,
                                   *C.VALUE_COLUMNS,  # the model has a value model (value.enabled default)
                                   C.CATEGORY_POSTS_SEEN, C.MODEL_NAME, C.MODEL_VERSION, C.FEATURE_SET_VERSION,
                                   C.AS_OF, C.SCORED_AT]
    assert result.rows == len(frame) == result.candidates
    assert sorted(frame[C.CAMPAIGN_ID].unique()) == sorted(campaigns)
    assert frame[[C.CAMPAIGN_ID, C.RANK]].equals(frame[[C.CAMPAIGN_ID, C.RANK]].sort_values([C.CAMPAIGN_ID, C.RANK]))
    assert not frame.duplicated([C.CAMPAIGN_ID, C.CREATOR_ID]).any()
    created = _brief_rows(env, campaigns)[C.CREATED_AT]
    for cid, g in frame.groupby(C.CAMPAIGN_ID):
        assert g[C.RANK].tolist() == list(range(1, len(g) + 1))
        # Rank 1 is the best score; equal scores are ordered by creator_id.
        expect = g.sort_values([C.SCORE, C.CREATOR_ID], ascending=[False, True])[C.CREATOR_ID].tolist()
        assert g[C.CREATOR_ID].tolist() == expect
        assert g[C.PERCENTILE].iloc[0] == 100.0
        assert (np.diff(g[C.PERCENTILE].to_numpy()) <= 0).all()
        assert ((g[C.PERCENTILE] > 0) & (g[C.PERCENTILE] <= 100)).all()
        assert (g[C.AS_OF] == created[cid]).all()  # features as of the brief's created_at
    assert (frame[C.MODEL_NAME] == C.REGISTERED_MODEL).all()
    assert (frame[C.MODEL_VERSION] == env["version"]).all()
    assert (frame[C.FEATURE_SET_VERSION] == str(FEATURE_SET_VERSION)).all()
    assert frame[C.SCORED_AT].nunique() == 1
    assert frame[idx].notna().any().all()


def test_scores_equal_one_unchunked_feature_build(env, campaigns, scored):
    """Shards and the prepared market change nothing: same as one build_features over the raw tables."""
    from creatorrank.features.engine import build_features
    from creatorrank.training.mlflow_io import load_ranker

    _, frame = scored
    rows = frame[frame[C.CAMPAIGN_ID] == campaigns[0]]
    brief = _brief_rows(env, campaigns[:1]).iloc[0]
    decisions = pd.DataFrame({
        C.CREATOR_ID: rows[C.CREATOR_ID].to_numpy(), C.AS_OF: rows[C.AS_OF].to_numpy(),
        C.CAMPAIGN_ID: campaigns[0], C.CATEGORY: brief[C.CATEGORY], C.COUNTRY: brief[C.COUNTRY],
        C.BUDGET_USD: brief[C.BUDGET_USD],
    })
    feats = build_features(env["tables"], decisions)
    bundle = load_ranker(f"models:/{C.REGISTERED_MODEL}/{env['version']}", tracking_uri=env["tracking"])
    np.testing.assert_array_equal(bundle.predict(feats), rows[C.SCORE].to_numpy())
    idx = [c for c in frame.columns if c.startswith("idx_")]
    np.testing.assert_array_equal(feats[idx].to_numpy(), rows[idx].to_numpy())


def test_top_k_keeps_the_best_and_csv_output(env, campaigns, scored, tmp_path):
    _, full = scored
    out = tmp_path / "top.csv"
    result = _score(env, out, campaign_ids=campaigns, top=3)
    top = pd.read_csv(out)
    assert result.rows == len(top) == 3 * len(campaigns)
    expect = full[full[C.RANK] <= 3].reset_index(drop=True)
    assert top[C.CREATOR_ID].astype(str).tolist() == expect[C.CREATOR_ID].astype(str).tolist()
    np.testing.assert_allclose(top[C.SCORE], expect[C.SCORE], rtol=1e-12)
    np.testing.assert_allclose(top[C.PERCENTILE], expect[C.PERCENTILE])  # percentiles of the full set


def test_ties_confidence_and_category_evidence_columns(scored, env, campaigns):
    """ties counts equal scores over all candidates; confidence and category posts follow the raw tables."""
    from creatorrank.serving.ranking import confidence

    _, frame = scored
    tables = env["tables"]
    posts = tables[C.POSTS]
    briefs = _brief_rows(env, campaigns)
    for cid, g in frame.groupby(C.CAMPAIGN_ID):
        counts = g[C.SCORE].map(g[C.SCORE].value_counts())
        assert (g[C.TIES].to_numpy() == counts.to_numpy() - 1).all()
        assert g[C.TIES].dtype.kind == "i"
        brief = briefs.loc[cid]
        known = posts[posts[C.POSTED_AT] < brief[C.CREATED_AT]]
        in_cat = known[known[C.CATEGORY] == brief[C.CATEGORY]].groupby(C.CREATOR_ID, observed=True).size()
        expect = in_cat.reindex(g[C.CREATOR_ID].astype(str).to_numpy()).fillna(0).to_numpy()
        np.testing.assert_array_equal(g[C.CATEGORY_POSTS_SEEN].to_numpy(), expect)
        n_posts = known.groupby(C.CREATOR_ID, observed=True).size()
        np.testing.assert_array_equal(g[C.POSTS_SEEN].to_numpy(),
                                      n_posts.reindex(g[C.CREATOR_ID].astype(str).to_numpy()).fillna(0).to_numpy())
    assert (frame[C.CATEGORY_POSTS_SEEN] == 0).any() and (frame[C.CATEGORY_POSTS_SEEN] > 0).any()
    np.testing.assert_array_equal(frame[C.CONFIDENCE].to_numpy(dtype=object),
                                  confidence(frame[C.POSTS_SEEN], frame[C.INVITATIONS_SEEN], frame[C.ORDERS_SEEN]))
    assert frame[C.CONFIDENCE].nunique() >= 2


def test_manifest_records_the_run(scored, env, campaigns):
    import json

    from creatorrank.features.specs import FEATURE_SET_VERSION
    from creatorrank.serving.manifest import file_sha256, ids_sha256, manifest_path

    result, frame = scored
    doc = json.loads(manifest_path(result.path).read_text())
    assert {"manifest_version", "kind", "scores_file", "scores_sha256", "rows", "model", "engine", "scored_at",
            "candidates", "eligibility", "as_of", "top", "confidence_rules", "campaigns", "inputs"} <= set(doc)
    assert doc["scores_sha256"] == file_sha256(result.path) and doc["rows"] == len(frame)
    assert doc["model"] == {"uri": ALIAS_URI, "name": C.REGISTERED_MODEL, "version": env["version"],
                            "resolved_uri": f"models:/{C.REGISTERED_MODEL}/{env['version']}",
                            "feature_set_version": str(FEATURE_SET_VERSION)}
    assert doc["eligibility"] == {"active_days": 90, "same_country": True, "same_category": False, "min_posts": 1}
    assert doc["candidates"] == "eligible" and doc["top"] is None
    by_id = {c[C.CAMPAIGN_ID]: c for c in doc["campaigns"]}
    assert sorted(by_id) == sorted(campaigns)
    briefs = _brief_rows(env, campaigns)
    for cid, g in frame.groupby(C.CAMPAIGN_ID):
        entry = by_id[cid]
        assert entry["candidates"] == entry["rows"] == len(g)
        assert entry["candidates_sha256"] == ids_sha256(g[C.CREATOR_ID])
        assert pd.Timestamp(entry[C.AS_OF]) == briefs.loc[cid, C.CREATED_AT]
        assert entry[C.COUNTRY] == briefs.loc[cid, C.COUNTRY]
    tables = doc["inputs"]["tables"]
    assert set(tables) == set(C.TABLES) and all(f["sha256"] and f["size"] > 0 for fs in tables.values() for f in fs)


def test_min_posts_and_case_insensitive_country(env, campaigns, scored, tmp_path):
    """min_posts keeps thin-evidence creators out; a brief's "vn" finds the data's "VN" creators."""
    _, full = scored
    cid = campaigns[0]
    base = _brief_rows(env, [cid]).reset_index()
    lower = base.assign(**{C.CAMPAIGN_ID: "brief-lower", C.COUNTRY: base[C.COUNTRY].str.lower()})
    assert (lower[C.COUNTRY] != base[C.COUNTRY]).all()
    out = tmp_path / "lower.parquet"
    _score(env, out, briefs=_write_briefs(tmp_path / "lower.csv", lower))
    got = pd.read_parquet(out)
    mine = full[full[C.CAMPAIGN_ID] == cid]
    assert set(got[C.CREATOR_ID]) == set(mine[C.CREATOR_ID])
    np.testing.assert_array_equal(np.sort(got[C.SCORE].to_numpy()), np.sort(mine[C.SCORE].to_numpy()))

    threshold = int(mine[C.POSTS_SEEN].median()) + 1
    out = tmp_path / "min.parquet"
    _score(env, out, campaign_ids=[cid], min_posts=threshold)
    kept = pd.read_parquet(out)
    assert set(kept[C.CREATOR_ID]) == set(mine.loc[mine[C.POSTS_SEEN] >= threshold, C.CREATOR_ID])
    assert 0 < len(kept) < len(mine)
    with pytest.raises(CreatorRankError, match="min_posts"):
        _score(env, tmp_path / "x.parquet", campaign_ids=[cid], min_posts=-1)


# ---------------------------------------------------------------------------- candidates


def test_invited_candidates_are_exactly_the_invitations(env, campaigns, tmp_path):
    out = tmp_path / "inv.parquet"
    _score(env, out, campaign_ids=campaigns, candidates="invited")
    frame = pd.read_parquet(out)
    inv = env["tables"][C.INVITATIONS]
    for cid in campaigns:
        got = set(frame.loc[frame[C.CAMPAIGN_ID] == cid, C.CREATOR_ID].astype(str))
        assert got == set(inv.loc[inv[C.CAMPAIGN_ID] == cid, C.CREATOR_ID].astype(str))


def _expected_eligible(tables, brief, as_of, active_days=90, same_country=True, same_category=False):
    cr = tables[C.CREATORS]
    posts = tables[C.POSTS]
    recent = posts[(posts[C.POSTED_AT] < as_of) & (posts[C.POSTED_AT] >= as_of - pd.Timedelta(days=active_days))]
    keep = (cr[C.JOINED_AT] < as_of) & cr[C.CREATOR_ID].isin(recent[C.CREATOR_ID])
    if same_country:
        keep &= cr[C.COUNTRY] == brief[C.COUNTRY]
    if same_category:
        keep &= cr[C.PRIMARY_CATEGORY] == brief[C.CATEGORY]
    return set(cr.loc[keep.fillna(False), C.CREATOR_ID].astype(str))


def test_eligible_excludes_late_joiners_other_countries_and_inactive(env, campaigns, scored):
    _, frame = scored
    tables = env["tables"]
    cr = tables[C.CREATORS].set_index(C.CREATOR_ID)
    for cid, brief in _brief_rows(env, campaigns).iterrows():
        as_of = brief[C.CREATED_AT]
        got = set(frame.loc[frame[C.CAMPAIGN_ID] == cid, C.CREATOR_ID].astype(str))
        assert got == _expected_eligible(tables, brief, as_of)
        assert (cr.loc[list(got), C.JOINED_AT] < as_of).all()
        assert (cr.loc[list(got), C.COUNTRY] == brief[C.COUNTRY]).all()
        # The rules really bite on this market: each of them leaves someone out.
        assert (cr[C.COUNTRY] != brief[C.COUNTRY]).any()
        late = cr.index[cr[C.JOINED_AT] >= as_of]
        assert cid == campaigns[-1] or len(late), "the mid-span campaign has creators who joined after it"
        no_country = _expected_eligible(tables, brief, as_of, same_country=False)
        assert {c for c in no_country if cr.loc[c, C.COUNTRY] == brief[C.COUNTRY]} == got
        long_window = _expected_eligible(tables, brief, as_of, active_days=3650)
        assert got < long_window  # someone is inactive in the 90 days before as-of


def test_eligible_rules_are_configurable_and_as_of_overrides(env, campaigns, tmp_path):
    tables = env["tables"]
    brief = _brief_rows(env, campaigns[:1]).iloc[0]
    as_of = brief[C.CREATED_AT] + pd.Timedelta(days=30)
    out = tmp_path / "rules.parquet"
    _score(env, out, campaign_ids=campaigns[:1], as_of=as_of.isoformat(), active_days=30,
           same_country=False, same_category=True)
    frame = pd.read_parquet(out)
    assert set(frame[C.CREATOR_ID].astype(str)) == _expected_eligible(
        tables, brief, as_of, active_days=30, same_country=False, same_category=True)
    assert (frame[C.AS_OF] == as_of).all()


# ---------------------------------------------------------------------------- briefs


def _write_briefs(path: Path, rows: pd.DataFrame) -> Path:
    if path.suffix == ".csv":
        rows.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    else:
        rows.to_parquet(path, index=False)
    return path


def test_briefs_file_scores_campaigns_not_in_the_data(env, campaigns, tmp_path):
    base = _brief_rows(env, campaigns[:1]).reset_index()
    new = base.assign(**{C.CAMPAIGN_ID: "brief-new", C.BUDGET_USD: np.nan})
    briefs = _write_briefs(tmp_path / "briefs.csv", new)
    out = tmp_path / "b.parquet"
    result = _score(env, out, briefs=briefs)
    frame = pd.read_parquet(out)
    assert result.campaigns == ["brief-new"] and (frame[C.CAMPAIGN_ID] == "brief-new").all()
    brief = base.iloc[0]
    assert set(frame[C.CREATOR_ID].astype(str)) == _expected_eligible(env["tables"], brief, brief[C.CREATED_AT])


@pytest.mark.parametrize(
    "edit, expect",
    [
        (lambda f: f.assign(**{C.CREATED_AT: ["2025-01-01T00:00:00Z", "not a time"]}),
         ["row 2", "created_at", "not a time"]),
        (lambda f: f.drop(columns=[C.COUNTRY]), ["country"]),
        (lambda f: f.assign(**{C.CREATED_AT: ["2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]}),
         ["row 2", "starts_at"]),
        (lambda f: f.assign(**{C.BRAND_ID: ["b", None]}), ["row 2", "brand_id"]),
        (lambda f: f.iloc[:0], ["no rows"]),
    ],
    ids=["unparseable", "missing-column", "created-after-start", "missing-value", "empty"],
)
def test_bad_briefs_file_is_one_line_error_and_writes_nothing(env, campaigns, tmp_path, edit, expect):
    rows = _brief_rows(env, campaigns).reset_index()
    rows = rows.assign(**{c: rows[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c in (C.CREATED_AT, C.STARTS_AT, C.ENDS_AT)})
    path = tmp_path / "bad.csv"
    edit(rows).to_csv(path, index=False)
    out = tmp_path / "never.parquet"
    with pytest.raises(InputError) as err:
        _score(env, out, briefs=path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    for word in expect:
        assert word in msg
    assert not out.exists()


def test_empty_briefs_file(tmp_path):
    from creatorrank.serving.briefs import read_briefs

    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_briefs(tmp_path / "empty.csv")


def test_unknown_campaign_and_empty_candidates_write_nothing(env, campaigns, tmp_path):
    out = tmp_path / "never.parquet"
    with pytest.raises(CreatorRankError, match="unknown campaign id: nope-1") as err:
        _score(env, out, campaign_ids=[campaigns[0], "nope-1"])
    assert "\n" not in str(err.value)
    with pytest.raises(CreatorRankError, match=f"campaign {campaigns[0]}: no eligible creators"):
        _score(env, out, campaign_ids=campaigns[:1], as_of="2020-01-01")  # before anyone joined
    assert not out.exists()


# ---------------------------------------------------------------------------- model


def test_alias_is_resolved_once_and_its_version_stamped(env, campaigns, scored, tmp_path, monkeypatch):
    """The alias moves to v2 mid-run; the run still uses and stamps the version it resolved."""
    from mlflow.tracking import MlflowClient

    import creatorrank.serving.score as score_mod

    calls = []
    real_lookup = MlflowClient.get_model_version_by_alias

    def lookup(self, name, alias):
        calls.append(alias)
        return real_lookup(self, name, alias)

    real_shard = score_mod.score_shard

    def shard(context, bundle, decisions):
        env["client"].set_registered_model_alias(C.REGISTERED_MODEL, C.CHAMPION, str(env["v2"]))
        return real_shard(context, bundle, decisions)

    monkeypatch.setattr(MlflowClient, "get_model_version_by_alias", lookup)
    monkeypatch.setattr(score_mod, "score_shard", shard)
    try:
        out = tmp_path / "alias.parquet"
        result = _score(env, out, campaign_ids=campaigns, chunk_size=37)
    finally:
        env["client"].set_registered_model_alias(C.REGISTERED_MODEL, C.CHAMPION, str(env["version"]))
    assert calls == [C.CHAMPION]
    frame = pd.read_parquet(out)
    assert result.model_version == env["version"] != env["v2"]
    assert (frame[C.MODEL_VERSION] == env["version"]).all()
    _same_scores(frame, scored[1])


def test_model_from_another_feature_set_is_refused(env, campaigns, tmp_path, monkeypatch):
    import creatorrank.serving.score as score_mod

    real_load = score_mod.load_model

    def old_model(uri, tracking_uri=None):
        bundle = real_load(uri, tracking_uri)
        bundle.features = [*bundle.features[1:], "followers_legacy"]
        bundle.feature_set_version = "0-legacy"
        return bundle

    monkeypatch.setattr(score_mod, "load_model", old_model)
    out = tmp_path / "never.parquet"
    with pytest.raises(ModelError) as err:
        _score(env, out, campaign_ids=campaigns)
    msg = str(err.value)
    from creatorrank.features.specs import feature_names

    assert "missing followers_legacy" in msg and feature_names()[0] in msg.split("extra")[1]
    assert not out.exists()


def test_unknown_alias_is_a_model_error(env, campaigns, tmp_path):
    with pytest.raises(ModelError, match="nobody"):
        _score(env, tmp_path / "never.parquet", campaign_ids=campaigns,
               model_uri=f"models:/{C.REGISTERED_MODEL}@nobody")


# ---------------------------------------------------------------------------- output file


def test_rerun_gives_same_scores_and_replaces_the_file(env, campaigns, scored, tmp_path):
    out = tmp_path / "scores.parquet"
    _score(env, out, campaign_ids=campaigns, chunk_size=37)
    first = pd.read_parquet(out)
    inode = os.stat(out).st_ino
    _score(env, out, campaign_ids=campaigns, chunk_size=1000)  # other shards, same scores
    second = pd.read_parquet(out)
    assert os.stat(out).st_ino != inode  # a new file renamed over the old one
    _same_scores(first, second)
    _same_scores(first, scored[1])
    # No temporary files left: the scores and their manifest only.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "scores.parquet.manifest.json"]


def test_failure_midway_leaves_the_previous_file(env, campaigns, tmp_path, monkeypatch):
    import creatorrank.serving.score as score_mod

    out = tmp_path / "scores.parquet"
    _score(env, out, campaign_ids=campaigns)
    before = out.read_bytes()
    real_shard = score_mod.score_shard
    seen = []

    def failing(context, bundle, decisions):
        seen.append(1)
        if len(seen) == 2:
            raise RuntimeError("worker lost")
        return real_shard(context, bundle, decisions)

    monkeypatch.setattr(score_mod, "score_shard", failing)
    with pytest.raises(RuntimeError):
        _score(env, out, campaign_ids=campaigns, chunk_size=20)
    monkeypatch.setattr(score_mod, "score_shard", real_shard)

    def broken_write(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken_write)
    with pytest.raises(OSError):
        _score(env, out, campaign_ids=campaigns)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "scores.parquet.manifest.json"]
    from creatorrank.serving.manifest import read_manifest

    assert read_manifest(out)["rows"] == len(pd.read_parquet(out))  # the manifest still describes the file


def test_bad_arguments_fail_before_loading(env, campaigns, tmp_path):
    for kwargs, word in [
        ({"engine": "spark"}, "engine"),
        ({"candidates": "everyone"}, "candidates"),
        ({"top": 0}, "top"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"briefs": tmp_path / "b.csv"}, "exactly one"),
    ]:
        with pytest.raises(CreatorRankError, match=word):
            _score(env, tmp_path / "x.parquet", campaign_ids=campaigns, **kwargs)
    with pytest.raises(CreatorRankError, match="parquet or .csv"):
        _score(env, tmp_path / "x.json", campaign_ids=campaigns)


def test_command_line(env, campaigns, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from creatorrank.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["tracking"])
    out = tmp_path / "cli.parquet"
    args = ["score", "--data", str(env["data"]), "--model", ALIAS_URI, "--out", str(out), "--top", "2"]
    res = CliRunner().invoke(app, [*args, "--campaign", campaigns[0], "--campaign", campaigns[1]])
    assert res.exit_code == 0, res.output
    assert f"version {env['version']}" in res.output and len(pd.read_parquet(out)) == 4
    res = CliRunner().invoke(app, [*args, "--campaign", "nope-1"])
    assert res.exit_code == 2 and "unknown campaign id: nope-1" in res.output


# ---------------------------------------------------------------------------- dask


def test_dask_engine_is_identical_to_local(env, campaigns, scored, tmp_path):
    from distributed import LocalCluster

    out = tmp_path / "dask.parquet"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        # An address, as --scheduler gives it: the engine connects, scores and disconnects.
        result = _score(env, out, campaign_ids=campaigns, engine="dask", scheduler=cluster.scheduler_address,
                        chunk_size=37)
    assert result.engine == "dask"
    _same_scores(pd.read_parquet(out), scored[1])


@pytest.mark.slow
def test_dask_engine_with_worker_processes(env, campaigns, scored, tmp_path):
    """Workers in other processes: the prepared market and the model travel pickled, as to a real cluster."""
    from distributed import Client, LocalCluster

    out = tmp_path / "dask.parquet"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        _score(env, out, campaign_ids=campaigns, engine="dask", scheduler=client, chunk_size=37)
    _same_scores(pd.read_parquet(out), scored[1])


def test_dask_engine_starts_its_own_local_cluster(env, campaigns, scored, tmp_path):
    out = tmp_path / "dask.parquet"
    _score(env, out, campaign_ids=campaigns, engine="dask", chunk_size=37)
    _same_scores(pd.read_parquet(out), scored[1])
