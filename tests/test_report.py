"""Campaign reports (`creatorrank explain`) and creator score cards (`creatorrank scorecard`).

One small generated market, one quickly trained model (no tuning, few rounds, one thread,
a temporary sqlite MLflow store) and one scores file serve the whole module. The market
gets one extra creator who joined just before the campaigns and has no history at all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError, InputError, ModelError

pytestmark = pytest.mark.model

TRAIN_UNTIL = "2026-01-01"
NEWCOMER = "c-new"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Market folder (with a newcomer), tracking URI, model version and a scores file of three campaigns."""
    from creatorrank.core.io import write_frame
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_market
    from creatorrank.serving.score import load_model, rank_scores, score_shard, stamp
    from fast_training import train_fast

    root = tmp_path_factory.mktemp("report")
    market = generate_market(400, 60, 5, posts_per_creator=40.0, invitees_per_campaign=25.0)
    campaigns = market.tables[C.CAMPAIGNS].sort_values(C.CREATED_AT)
    chosen = campaigns.tail(3)
    first = chosen.iloc[0]
    newcomer = pd.DataFrame({
        C.CREATOR_ID: [NEWCOMER], C.COUNTRY: [first[C.COUNTRY]], C.PRIMARY_CATEGORY: [first[C.CATEGORY]],
        C.JOINED_AT: [first[C.CREATED_AT] - pd.Timedelta(days=2)], C.RATE_CARD_USD: [150.0],
    })
    market.tables[C.CREATORS] = pd.concat([market.tables[C.CREATORS], newcomer.astype(market.tables[C.CREATORS].dtypes)],
                                          ignore_index=True)
    data = write_market(market, root / "market")
    result, tracking = train_fast(data, root, TRAIN_UNTIL)
    uri = f"models:/{C.REGISTERED_MODEL}/{result.model_version}"

    # Candidates: each campaign's invitees, plus the newcomer in the first campaign.
    tables, _ = load_market(data)
    bundle = load_model(uri, tracking)
    parts, as_of = [], {}
    for _, brief in chosen.iterrows():
        ids = sorted(tables[C.INVITATIONS].loc[tables[C.INVITATIONS][C.CAMPAIGN_ID] == brief[C.CAMPAIGN_ID],
                                               C.CREATOR_ID].astype(str).unique())
        if brief[C.CAMPAIGN_ID] == first[C.CAMPAIGN_ID]:
            ids.append(NEWCOMER)
        when = brief[C.CREATED_AT]
        n = len(ids)
        decisions = pd.DataFrame({
            C.CREATOR_ID: pd.array(ids, dtype=pd.StringDtype("pyarrow")),
            C.AS_OF: pd.Series([when] * n, dtype="datetime64[us, UTC]"),
            C.CAMPAIGN_ID: pd.array([brief[C.CAMPAIGN_ID]] * n, dtype=pd.StringDtype("pyarrow")),
            C.CATEGORY: pd.array([brief[C.CATEGORY]] * n, dtype=pd.StringDtype("pyarrow")),
            C.COUNTRY: pd.array([brief[C.COUNTRY]] * n, dtype=pd.StringDtype("pyarrow")),
            C.BUDGET_USD: np.full(n, brief[C.BUDGET_USD], dtype=np.float64),
        })
        parts.append(score_shard(tables, bundle, decisions))
        as_of[str(brief[C.CAMPAIGN_ID])] = when
    frame = stamp(rank_scores(parts), bundle, as_of, pd.Timestamp.now(tz="UTC").floor("us"), uri)
    scores = write_frame(frame, root / "scores.parquet")
    return {"root": root, "data": data, "tracking": tracking, "uri": uri, "version": result.model_version,
            "scores": scores, "campaigns": [str(c) for c in chosen[C.CAMPAIGN_ID]], "newcomer_campaign": str(first[C.CAMPAIGN_ID])}


@pytest.fixture(scope="module")
def reports(env):
    """Reports of the scores file with the model stamped in it (top 5)."""
    from creatorrank.serving.report import explain_campaigns

    out = env["root"] / "reports"
    pages = explain_campaigns(env["scores"], env["data"], out, top=5, tracking_uri=env["tracking"])
    return out, pages


def _external_refs(html: str) -> list[str]:
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""", html, flags=re.I)
    refs += re.findall(r"<script[^>]*\bsrc\s*=", html, flags=re.I)
    refs += re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", html, flags=re.I)
    return refs


def _ranking_from_html(html: str) -> list[tuple[str, int]]:
    return [(c, int(r)) for c, r in re.findall(r'<tr data-creator="([^"]+)" data-rank="(\d+)"', html)]


def test_reports_are_self_contained_and_json_matches_html(env, reports):
    out, pages = reports
    assert sorted(p.name for p in pages) == sorted(f"campaign-{c}.html" for c in env["campaigns"])
    assert (out / "index.html").is_file()
    index = (out / "index.html").read_text()
    assert not _external_refs(index)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not _external_refs(html), _external_refs(html)[:3]
        assert "<svg" in html and "<style>" in html
        doc = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
        assert doc["campaign_id"] in html
        assert f'href="{page.name}"' in index
        # Stamps on every page: model version, feature set, data as-of.
        assert f"v{env['version']}" in html and doc["feature_set_version"] in html and doc["as_of_text"] in html
        assert doc["model_version"] == env["version"]
        ranking = [(c["creator_id"], c["rank"]) for c in doc["creators"]]
        assert ranking == _ranking_from_html(html)
        assert [r for _, r in ranking] == list(range(1, len(ranking) + 1)) and len(ranking) == 5
        for c in doc["creators"]:
            assert abs(sum(c["contributions"].values()) - c["relative_score"]) < 1e-6
            assert abs(sum(c["families"].values()) - c["relative_score"]) < 1e-6
            assert c["history"]["text"]
            for d in c["drivers_up"]:
                assert d["contribution"] > 0 and str(escape(d["text"])) in html
            for d in c["drivers_down"]:
                assert d["contribution"] < 0
        assert doc["n_candidates"] >= doc["n_explained"]
        shares = [f["mean_abs_contribution"] for f in doc["family_drivers"]]
        assert shares == sorted(shares, reverse=True)
    index_doc = json.loads((out / "index.json").read_text())
    assert sorted(c["campaign_id"] for c in index_doc["campaigns"]) == sorted(env["campaigns"])


def test_report_explains_a_creator_without_history(env):
    from creatorrank.serving.report import explain_campaigns

    out = env["root"] / "reports-all"
    explain_campaigns(env["scores"], env["data"], out, model_uri=env["uri"], all_creators=True,
                      tracking_uri=env["tracking"])
    name = f"campaign-{env['newcomer_campaign']}"
    doc = json.loads((out / f"{name}.json").read_text())
    assert len(doc["creators"]) == doc["n_candidates"]  # --all explains everyone
    new = next(c for c in doc["creators"] if c["creator_id"] == NEWCOMER)
    assert (new["history"]["posts"], new["history"]["invitations"], new["history"]["orders"]) == (0, 0, 0)
    assert new["history"]["first_activity"] is None
    assert "No posts, invitations or orders seen yet" in new["history"]["text"]
    assert abs(sum(new["contributions"].values()) - new["relative_score"]) < 1e-6
    html = (out / f"{name}.html").read_text()
    assert "no history yet" in html and NEWCOMER in html


def test_report_refuses_a_feature_set_mismatch_and_changed_scores(env, tmp_path):
    from creatorrank.serving.report import explain_campaigns

    scores = pd.read_parquet(env["scores"])
    other = scores.assign(**{C.FEATURE_SET_VERSION: "fs0-other"})
    other.to_parquet(tmp_path / "other.parquet")
    with pytest.raises(ModelError, match="feature set fs0-other"):
        explain_campaigns(tmp_path / "other.parquet", env["data"], tmp_path / "out", tracking_uri=env["tracking"])
    changed = scores.copy()
    changed.loc[0, C.SCORE] += 0.5
    changed.to_parquet(tmp_path / "changed.parquet")
    with pytest.raises(ModelError, match="does not reproduce"):
        explain_campaigns(tmp_path / "changed.parquet", env["data"], tmp_path / "out", tracking_uri=env["tracking"])
    with pytest.raises(InputError, match="not found"):
        explain_campaigns(tmp_path / "missing.parquet", env["data"], tmp_path / "out", tracking_uri=env["tracking"])
    assert not (tmp_path / "out").exists()  # nothing written on refusal


def test_scorecard_unknown_creator_is_one_line_error(env, tmp_path):
    from creatorrank.serving.scorecard import scorecard

    with pytest.raises(CreatorRankError) as info:
        scorecard(env["data"], "nobody-42", tmp_path / "card.html", model_uri=env["uri"], tracking_uri=env["tracking"])
    assert "nobody-42" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "card.html").exists()


def test_scorecards_for_an_active_creator_and_a_newcomer(env, tmp_path):
    from creatorrank.serving.scorecard import scorecard

    scores = pd.read_parquet(env["scores"])
    best = str(scores.sort_values([C.CAMPAIGN_ID, C.RANK])[C.CREATOR_ID].iloc[0])
    path = scorecard(env["data"], best, tmp_path / "best.html", model_uri=env["uri"], tracking_uri=env["tracking"])
    html = path.read_text()
    doc = json.loads(path.with_suffix(".json").read_text())
    assert not _external_refs(html)
    assert doc["creator_id"] == best and 1 <= doc["rank"] <= doc["n_peers"]
    assert len(doc["indices"]) == 7 and all(x["measures"] and x["how"] for x in doc["indices"])
    assert f"v{env['version']}" in html and doc["feature_set_version"] in html and doc["as_of_text"] in html
    for a in doc["advice"]:
        assert a["rank_after"] <= a["rank_now"] and a["score_gain"] > 0 and str(escape(a["text"])) in html

    as_of = pd.read_parquet(env["scores"]).loc[lambda f: f[C.CAMPAIGN_ID] == env["newcomer_campaign"], C.AS_OF].iloc[0]
    path = scorecard(env["data"], NEWCOMER, tmp_path / "new.html", model_uri=env["uri"], as_of=as_of,
                     tracking_uri=env["tracking"])
    html = path.read_text()
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["no_history"] and "Welcome" in html and "No posts, invitations or orders seen yet" in html
    # Before joining there is nothing to compare at all: still a card, not a crash.
    joined = pd.Timestamp(as_of) - pd.Timedelta(days=10)
    assert scorecard(env["data"], NEWCOMER, tmp_path / "before.html", model_uri=env["uri"], as_of=joined,
                     tracking_uri=env["tracking"]).is_file()


def test_cli_explain_and_scorecard(env, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from creatorrank.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["tracking"])
    runner = CliRunner()
    res = runner.invoke(app, ["explain", "--scores", str(env["scores"]), "--data", str(env["data"]), "--top", "2",
                              "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli" / "index.html").is_file()
    res = runner.invoke(app, ["scorecard", "--data", str(env["data"]), "--creator", "nobody-42", "--model", env["uri"],
                              "--out", str(tmp_path / "x.html")])
    assert res.exit_code != 0 and "nobody-42" in res.output and "Traceback" not in res.output


def _screenshot(page: Path, tmp_path: Path, name: str) -> tuple[Path, str]:
    shot = tmp_path / f"{name}.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / ('profile-' + name)}", f"--screenshot={shot}", "--window-size=1200,2000",
           "--enable-logging=stderr", "--v=0", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return shot, proc.stderr


@pytest.mark.browser
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no headless Chromium at /usr/bin/chromium")
def test_pages_render_in_a_browser(env, reports, tmp_path):
    from creatorrank.serving.scorecard import scorecard

    out, pages = reports
    card = scorecard(env["data"], NEWCOMER, tmp_path / "card.html", model_uri=env["uri"], tracking_uri=env["tracking"])
    for name, page in (("campaign", pages[0]), ("index", out / "index.html"), ("card", card)):
        shot, stderr = _screenshot(page, tmp_path, name)
        assert shot.is_file() and shot.stat().st_size > 10_000, stderr[-2000:]
        console = [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
        assert not console, console


def test_a_top_cut_scores_file_is_compared_with_the_whole_field(env, reports, tmp_path):
    from creatorrank.serving.report import explain_campaigns

    out, _ = reports
    scores = pd.read_parquet(env["scores"])
    scores[scores[C.RANK] <= 3].to_parquet(tmp_path / "top3.parquet")  # like `creatorrank score --top 3`
    explain_campaigns(tmp_path / "top3.parquet", env["data"], tmp_path / "cut", top=3, tracking_uri=env["tracking"])
    for cid in env["campaigns"]:
        cut = json.loads((tmp_path / "cut" / f"campaign-{cid}.json").read_text())
        full = json.loads((out / f"campaign-{cid}.json").read_text())
        if cid == env["newcomer_campaign"]:  # a newcomer nobody invited: the field cannot be rebuilt
            assert cut["n_candidates"] == 3 and "could not be rebuilt" in cut["reference_note"]
            continue
        assert cut["n_candidates"] == full["n_candidates"] > 3 and "rebuilt" in cut["reference_note"]
        assert abs(cut["campaign_mean_score"] - full["campaign_mean_score"]) < 1e-9
        for a, b in zip(cut["creators"], full["creators"]):
            assert a["creator_id"] == b["creator_id"] and abs(a["relative_score"] - b["relative_score"]) < 1e-9
    assert oct((tmp_path / "cut" / "index.html").stat().st_mode & 0o777) != oct(0o600)
