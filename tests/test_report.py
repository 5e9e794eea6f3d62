"""Campaign reports (`creatorrank explain`) and creator score cards (`creatorrank scorecard`).

One small generated market, one quickly trained model (no tuning, few rounds, one thread,
a temporary sqlite MLflow store) and one scores file serve the whole module. The market
gets one extra creator who joined just before the campaigns and has no history at all, and
three "twins": identical creators with one identical post each, outside the first campaign's
category, so that they tie on one score with thin evidence and no post in the category.
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
TWINS = ["c-twin-a", "c-twin-b", "c-twin-c"]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Market folder (with a newcomer), tracking URI, model version and a scores file of three campaigns."""
    from creatorrank.core.io import write_frame
    from creatorrank.data.generate import generate_market, write_market
    from creatorrank.data.validate import load_market
    from creatorrank.serving.candidates import EligibilityRules
    from creatorrank.serving.score import (add_fair_fee, brief_target_roas, default_target_roas, load_model, rank_scores,
                                           score_shard, stamp, value_model, write_run_manifest)
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
    other_category = sorted(set(market.tables[C.POSTS][C.CATEGORY].dropna()) - {first[C.CATEGORY]})[0]
    twins = pd.DataFrame({
        C.CREATOR_ID: TWINS, C.COUNTRY: first[C.COUNTRY], C.PRIMARY_CATEGORY: other_category,
        C.JOINED_AT: first[C.CREATED_AT] - pd.Timedelta(days=200), C.RATE_CARD_USD: np.nan,
    })
    creators = market.tables[C.CREATORS]
    market.tables[C.CREATORS] = pd.concat([creators, newcomer.astype(creators.dtypes), twins.astype(creators.dtypes)],
                                          ignore_index=True)
    posts = market.tables[C.POSTS]
    twin_posts = pd.DataFrame({
        C.POST_ID: [f"p-{t}" for t in TWINS], C.CREATOR_ID: TWINS,
        C.POSTED_AT: first[C.CREATED_AT] - pd.Timedelta(days=20), C.CATEGORY: other_category, C.IS_SHOPPABLE: False,
        C.CAMPAIGN_ID: pd.NA, C.FOLLOWERS_AT_POST: 5000, C.VIEWS_7D: 900, C.LIKES_7D: 40, C.COMMENTS_7D: 3,
        C.SHARES_7D: 1,
    })
    market.tables[C.POSTS] = pd.concat([posts, twin_posts.astype(posts.dtypes)], ignore_index=True)
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
    scored_at = pd.Timestamp.now(tz="UTC").floor("us")
    frame = rank_scores(parts)
    roas = brief_target_roas(chosen, default_target_roas(None))  # the config's 3x: the briefs set none
    assert value_model(bundle) is not None, "train gives the bundle a value model (value.enabled)"
    creators = tables[C.CREATORS]
    frame = add_fair_fee(frame, creators.set_index(creators[C.CREATOR_ID].astype(str))[C.RATE_CARD_USD], roas)
    frame = stamp(frame, bundle, as_of, scored_at, uri)
    scores = write_frame(frame, root / "scores.parquet")
    # The manifest `score` would write. The newcomer campaign's set (invitees + the newcomer) is
    # not what "invited" finds in the data: for that campaign it reads like data changed since scoring.
    plan = [(brief, as_of[str(brief[C.CAMPAIGN_ID])], np.array(sorted(frame.loc[frame[C.CAMPAIGN_ID] == brief[C.CAMPAIGN_ID],
                                                                              C.CREATOR_ID].astype(str)), dtype=object))
            for _, brief in chosen.iterrows()]
    write_run_manifest(scores, frame, plan, bundle, uri, data, None, EligibilityRules(), "invited", None, None,
                       "local", scored_at, roas)
    return {"root": root, "data": data, "tracking": tracking, "uri": uri, "version": result.model_version,
            "scores": scores, "campaigns": [str(c) for c in chosen[C.CAMPAIGN_ID]],
            "newcomer_campaign": str(first[C.CAMPAIGN_ID]), "other_category": other_category,
            "first_category": str(first[C.CATEGORY])}


@pytest.fixture(scope="module")
def reports(env):
    """Reports of the scores file with the model stamped in it (top 5)."""
    from creatorrank.serving.report import explain_campaigns

    out = env["root"] / "reports"
    pages = explain_campaigns(env["scores"], env["data"], out, top=5, tracking_uri=env["tracking"])
    return out, pages


def _with_manifest(frame: pd.DataFrame, source: Path, path: Path) -> Path:
    """Write ``frame`` to ``path`` with the manifest of ``source`` re-stamped for it (as a re-run would)."""
    from creatorrank.serving.manifest import file_sha256, manifest_path

    frame.to_parquet(path)
    doc = json.loads(manifest_path(source).read_text())
    doc.update(scores_file=path.name, scores_sha256=file_sha256(path), rows=len(frame))
    manifest_path(path).write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def eligible_run(env):
    """A real `score` run (eligible candidates) of the newcomer campaign, where the three twins tie."""
    from creatorrank.serving.score import score

    out = env["root"] / "eligible.parquet"
    score(env["data"], env["uri"], out, campaign_ids=[env["newcomer_campaign"]], tracking_uri=env["tracking"])
    return out


def _external_refs(html: str) -> list[str]:
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""", html, flags=re.I)
    refs += re.findall(r"<script[^>]*\bsrc\s*=", html, flags=re.I)
    refs += re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", html, flags=re.I)
    return refs


def _ranking_from_html(html: str) -> list[tuple[str, int]]:
    return [(c, int(r)) for c, r in re.findall(r'<tr data-creator="([^"]+)" data-rank="(\d+)"', html)]


def _creator_sections(html: str) -> dict[str, str]:
    """Creator id -> the HTML of their section of a campaign page."""
    out = {}
    for chunk in html.split('<section class="card creator"')[1:]:
        body = chunk.split("</section>")[0]
        out[re.search(r"<h3>[^<]*?(\S+)</h3>", body).group(1)] = body
    return out


def _money(x: float) -> str:
    """Money as the pages write it: whole dollars from $100, cents below, "$0" for nothing."""
    return "$0" if x == 0 else (f"${x:,.0f}" if abs(x) >= 100 else f"${x:,.2f}")


def _expected_flag(rate: float, expected: float, p10: float, p90: float, roas: float, level: str) -> str | None:
    """The price-flag rule of docs/SCORES.md, written out."""
    if level == "none" or np.isnan(rate):
        return None
    if rate < min(p10, expected) / roas:
        return "under"
    return "over" if rate > max(p90, expected) / roas else "within"


def _value_checks(env, out: Path, scores: pd.DataFrame, roas: dict[str, float]) -> dict[str, int]:
    """Every campaign page of ``out`` shows each creator's value line and the top-K totals, from ``scores``."""
    manifest = json.loads((Path(str(env["scores"]) + ".manifest.json")).read_text())
    budgets = {c[C.CAMPAIGN_ID]: c[C.BUDGET_USD] for c in manifest["campaigns"]}
    creators = pd.read_parquet(env["data"] / "creators.parquet").set_index(C.CREATOR_ID)[C.RATE_CARD_USD]
    flags = {"under": 0, "within": 0, "over": 0, "thin": 0}
    for page in sorted(out.glob("campaign-*.html")):
        html = page.read_text(encoding="utf-8")
        doc = json.loads(page.with_suffix(".json").read_text())
        cid = doc["campaign_id"]
        sections = _creator_sections(html)
        mine = scores[scores[C.CAMPAIGN_ID] == cid].set_index(C.CREATOR_ID)
        shown = mine.sort_values(C.RANK).head(len(doc["creators"]))
        assert [c["creator_id"] for c in doc["creators"]] == list(shown.index)
        for c in doc["creators"]:
            row, v = mine.loc[c["creator_id"]], c["value"]
            e, lo, hi, fair = (float(row[k]) for k in (C.EXPECTED_GMV_USD, C.GMV_P10_USD, C.GMV_P90_USD, C.FAIR_FEE_USD))
            assert abs(fair - e / roas[cid]) < 1e-9 * max(1.0, e)  # the file's fair fee at the brief's target
            assert (v["expected_usd"], v["p10_usd"], v["p90_usd"], v["fair_fee_usd"]) == (e, lo, hi, fair)
            rate = float(creators.loc[c["creator_id"]])
            rate_words = (f"declared rate {_money(rate)}" if not np.isnan(rate) else "rate not declared")
            line = (f"expected {_money(e)} (80%: {_money(lo)}-{_money(hi)}); fair fee at {roas[cid]:g}x: "
                    f"{_money(fair)}; {rate_words}")
            body = sections[c["creator_id"]]
            assert str(escape(line)) in body, (line, body[:600])
            thin = c["confidence"] in ("low", "none")
            assert ("rests on little evidence" in body) == thin
            flags["thin"] += thin
            flag = _expected_flag(rate, e, lo, hi, roas[cid], c["confidence"])
            assert v["price_flag"] == flag
            assert ("may be under-priced" in body) == (flag == "under")
            assert ("over-priced for this kind of campaign" in body) == (flag == "over")
            if flag:
                flags[flag] += 1
        total_e = float(shown[C.EXPECTED_GMV_USD].sum())
        total_fee = float(shown[C.FAIR_FEE_USD].sum())
        budget = budgets[cid]
        assert f"Expected net GMV of the top {len(shown)} shown: {_money(total_e)} together." in html
        said = f"Their fair fees at {roas[cid]:g}x total {_money(total_fee)}: "
        if budget is None:
            assert said + "the brief gives no budget" in html
        elif total_fee <= budget:
            assert said + f"within budget ({_money(budget)}, {_money(budget - total_fee)} left)." in html
        else:
            assert said + f"over budget by {_money(total_fee - budget)} (budget {_money(budget)})." in html
        assert doc["value_summary"]["budget_status"] == (None if budget is None else
                                                         "within" if total_fee <= budget else "over")
        assert not re.search(r"\bnan\b", html, flags=re.I)
    return flags


def test_report_shows_expected_gmv_fair_fee_and_budget(env, reports):
    """The real value model's columns, as `score` writes them, on every page: per creator and per brief."""
    out, _ = reports
    scores = pd.read_parquet(env["scores"])
    manifest = json.loads((Path(str(env["scores"]) + ".manifest.json")).read_text())
    roas = {c[C.CAMPAIGN_ID]: c[C.TARGET_ROAS] for c in manifest["campaigns"]}
    assert set(roas.values()) == {3.0}  # the config's default: the briefs set none
    flags = _value_checks(env, out, scores, roas)
    assert flags["thin"] >= 1  # some creator shown rests on little evidence, and says so
    index = json.loads((out / "index.json").read_text())
    index_html = (out / "index.html").read_text()
    assert "Expected GMV" in index_html and "Fair fees" in index_html
    for row in index["campaigns"]:
        doc = json.loads((out / row["json"]).read_text())
        cells = (f'<td class="num">{row["value"]["expected_text"]}</td>', row["value"]["fair_fees_text"],
                 row["value"]["budget_text"])
        assert row["value"]["expected_text"] == _money(doc["value_summary"]["expected_total_usd"])
        assert all(str(escape(x)) in index_html or x in index_html for x in cells)


def _check_value_drivers(w: dict, expected: float, body: str) -> None:
    """Value drivers of one creator: their factors multiply back to ``expected``; the top 3 each way, in words in ``body``."""
    from creatorrank.serving.text import feature_text

    assert w is not None
    factors = [np.exp(c) for c in w["contributions"].values()]
    assert abs(np.log(w["level"] * np.exp(w["bias"]) * np.prod(factors)) - np.log(expected)) < 1e-6
    assert abs(w["base_usd"] - w["level"] * np.exp(w["bias"])) < 1e-9 * w["base_usd"]
    for side, sign in (("up", 1), ("down", -1)):
        shown = w[side]
        assert len(shown) <= 3
        effects = [d["effect"] for d in shown]
        assert all(sign * (e - 1) > 0 for e in effects) and effects == sorted(effects, reverse=sign > 0)
        for d in shown:
            assert abs(d["effect"] - np.exp(w["contributions"][d["feature"]])) < 1e-12
            assert d["effect_text"] == "x" + f"{d['effect']:,.2f}".rstrip("0").rstrip(".") != "x1"
            assert d["text"].startswith(feature_text(d["feature"]).label + ": ")  # the ranker's words
            assert f"{escape(d['text'])} <span class=\"fam\">{escape(d['family_title'])}, {d['effect_text']}</span>" in body
        # Nothing left out pushes harder than what is shown (up to the "x1" that is not worth showing).
        rest = [sign * c for f, c in w["contributions"].items() if f not in {d["feature"] for d in shown}]
        if len(shown) == 3:
            assert max(rest) <= sign * np.log(effects[-1]) + 1e-12
        else:
            assert max(rest) < np.log(1.01)
    assert w["up"] or w["down"]


def test_report_explains_each_expected_gmv_with_value_drivers(env, reports):
    """Each explained creator's expected GMV (the file's, as `score` wrote it) is explained by the value model's
    SHAP values: the top 3 factors up and down in the ranker's words, and all factors x exp(bias) x level give it."""
    out, _ = reports
    scores = pd.read_parquet(env["scores"]).astype({C.CAMPAIGN_ID: str, C.CREATOR_ID: str})
    scores = scores.set_index([C.CAMPAIGN_ID, C.CREATOR_ID])
    example = None
    for page in sorted(out.glob("campaign-*.html")):
        html = page.read_text(encoding="utf-8")
        doc = json.loads(page.with_suffix(".json").read_text())
        sections = _creator_sections(html)
        for c in doc["creators"]:
            expected = float(scores.loc[(doc["campaign_id"], c["creator_id"]), C.EXPECTED_GMV_USD])
            w = c["value_drivers"]
            _check_value_drivers(w, expected, sections[c["creator_id"]])
            assert str(escape(w["text"])) in sections[c["creator_id"]] and _money(expected) in w["text"]
            example = example or (w["up"] or w["down"])[0]
        assert "its pushes multiply" in html
    assert example is not None and example["effect_text"].startswith("x")


def test_report_flags_under_and_over_priced_creators_and_an_over_budget_brief(env, reports, tmp_path):
    """A sure forecast well above one creator's rate and a small one under another's (the same scores
    file with its value columns edited, as a surer value model would write them): the flags follow."""
    from creatorrank.serving.report import explain_campaigns

    scores = pd.read_parquet(env["scores"])
    creators = pd.read_parquet(env["data"] / "creators.parquet").set_index(C.CREATOR_ID)[C.RATE_CARD_USD]
    manifest = json.loads((Path(str(env["scores"]) + ".manifest.json")).read_text())
    budget = {c[C.CAMPAIGN_ID]: c[C.BUDGET_USD] for c in manifest["campaigns"]}
    cid = env["campaigns"][-1]
    top = scores[(scores[C.CAMPAIGN_ID] == cid) & (scores[C.RANK] <= 5) & (scores[C.CONFIDENCE] != "none")]
    priced = [c for c in top[C.CREATOR_ID] if creators.loc[c] > 0]
    assert len(priced) >= 2, "two of the top 5 declare a rate card"
    cheap, dear = priced[:2]
    edited = scores.copy()
    for who, (e, lo, hi) in {
        cheap: (max(12 * creators.loc[cheap], 6 * budget[cid]), None, None),  # sure: p10 half the mean
        dear: (3 * creators.loc[dear] / 8, 0.0, 3 * creators.loc[dear] / 4),
    }.items():
        at = (edited[C.CAMPAIGN_ID] == cid) & (edited[C.CREATOR_ID] == who)
        lo, hi = (e / 2, 2 * e) if lo is None else (lo, hi)
        edited.loc[at, [C.EXPECTED_GMV_USD, C.GMV_P10_USD, C.GMV_P90_USD, C.FAIR_FEE_USD, C.FEE_VS_RATE_CARD]] = [
            e, lo, hi, e / 3, creators.loc[who] / (e / 3)]
    path = _with_manifest(edited, env["scores"], tmp_path / "priced.parquet")
    out = tmp_path / "priced"
    explain_campaigns(path, env["data"], out, top=5, tracking_uri=env["tracking"])
    flags = _value_checks(env, out, edited, {c: 3.0 for c in env["campaigns"]})
    assert flags["under"] >= 1 and flags["over"] >= 1
    html = (out / f"campaign-{cid}.html").read_text()
    sections = _creator_sections(html)
    assert "may be under-priced" in sections[cheap] and "may be under-priced" not in sections[dear]
    assert "over-priced for this kind of campaign" in sections[dear]
    assert "over budget by $" in html and "within budget" not in html.split("Ranking</h2>")[0]
    # An expected GMV that is not the value model's own is not explained by it; the others still are.
    doc = json.loads((out / f"campaign-{cid}.json").read_text())
    drivers = {c["creator_id"]: c["value_drivers"] for c in doc["creators"]}
    assert drivers[cheap] is None and drivers[dear] is None
    assert any(w is not None for k, w in drivers.items() if k not in (cheap, dear))


def test_report_without_value_columns_shows_no_value(env, reports, tmp_path):
    """Scores of a model without a value model: the pages are the pages of before, no value, no 'nan', no '$0'."""
    from creatorrank.serving.report import explain_campaigns

    scores = pd.read_parquet(env["scores"]).drop(columns=list(C.VALUE_COLUMNS))
    path = _with_manifest(scores, env["scores"], tmp_path / "old.parquet")
    doc = json.loads((Path(str(path) + ".manifest.json")).read_text())
    doc["value"] = {"present": False}
    for c in doc["campaigns"]:
        c[C.TARGET_ROAS] = None
    Path(str(path) + ".manifest.json").write_text(json.dumps(doc))
    out = tmp_path / "old"
    explain_campaigns(path, env["data"], out, top=5, tracking_uri=env["tracking"])
    with_value = reports[0]
    for page in sorted(out.glob("campaign-*.html")):
        html = page.read_text(encoding="utf-8")
        doc = json.loads(page.with_suffix(".json").read_text())
        assert doc["value_summary"] is None and all(c["value"] is None for c in doc["creators"])
        assert all(c["value_drivers"] is None for c in doc["creators"])
        html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)  # what a reader sees, not the style sheet
        for word in ("Exp. GMV", "expected $", "Expected net GMV", "fair fee", "Fair fee", "worth", "under-priced",
                     "over-priced", "budget by", "within budget", "little evidence", "expected GMV", "Expected GMV",
                     "value-drivers"):
            assert word not in html, word
        assert not re.search(r"\bnan\b", html, flags=re.I)
        assert not re.search(r"\$0(?![\d.,])", html)  # no empty amount ("$0.00" drivers are real values)
        headers = re.findall(r"<th[^>]*>([^<]*)</th>", html.split('<table class="ranking">')[1].split("</thead>")[0])
        assert headers[:4] == ["Rank", "Creator", "vs avg", "Pctl"] and headers[-4:] == ["Evidence", "Posts", "Inv.",
                                                                                          "Orders"]
        assert len(headers) == 4 + 7 + 4
        # The same creators, ranks and drivers as the report with value columns.
        old = json.loads((with_value / page.with_suffix(".json").name).read_text())
        assert [(c["creator_id"], c["rank"], c["drivers_up"]) for c in old["creators"]] == [
            (c["creator_id"], c["rank"], c["drivers_up"]) for c in doc["creators"]]
    index_html = re.sub(r"<style>.*?</style>", "", (out / "index.html").read_text(), flags=re.S)
    assert "Expected GMV" not in index_html and "Fair fees" not in index_html and "budget" not in index_html
    assert all(row["value"] is None for row in json.loads((out / "index.json").read_text())["campaigns"])


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
    other = _with_manifest(scores.assign(**{C.FEATURE_SET_VERSION: "fs0-other"}), env["scores"], tmp_path / "other.parquet")
    with pytest.raises(ModelError, match="feature set fs0-other"):
        explain_campaigns(other, env["data"], tmp_path / "out", model_uri=env["uri"], tracking_uri=env["tracking"])
    changed = scores.copy()
    changed.loc[0, C.SCORE] += 0.5
    _with_manifest(changed, env["scores"], tmp_path / "changed.parquet")
    with pytest.raises(ModelError, match="does not reproduce"):
        explain_campaigns(tmp_path / "changed.parquet", env["data"], tmp_path / "out", tracking_uri=env["tracking"])
    # Without its manifest, or with one of other content, a scores file is refused in one line.
    scores.to_parquet(tmp_path / "bare.parquet")
    with pytest.raises(InputError, match="no manifest .*run `creatorrank score` again") as err:
        explain_campaigns(tmp_path / "bare.parquet", env["data"], tmp_path / "out", tracking_uri=env["tracking"])
    assert "\n" not in str(err.value)
    changed.loc[1, C.SCORE] += 0.25
    changed.to_parquet(tmp_path / "changed.parquet")  # edited after the manifest was written
    with pytest.raises(InputError, match="changed since"):
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
    _check_card_value(env, doc, html)

    as_of = pd.read_parquet(env["scores"]).loc[lambda f: f[C.CAMPAIGN_ID] == env["newcomer_campaign"], C.AS_OF].iloc[0]
    path = scorecard(env["data"], NEWCOMER, tmp_path / "new.html", model_uri=env["uri"], as_of=as_of,
                     tracking_uri=env["tracking"])
    html = path.read_text()
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["no_history"] and "Welcome" in html and "No posts, invitations or orders seen yet" in html
    _check_card_value(env, doc, html)
    assert doc["value"]["price_flag"] is None and "No price flag yet" in html  # a rate card, but nothing to judge by
    # Before joining there is nothing to compare at all: still a card, not a crash.
    joined = pd.Timestamp(as_of) - pd.Timedelta(days=10)
    assert scorecard(env["data"], NEWCOMER, tmp_path / "before.html", model_uri=env["uri"], as_of=joined,
                     tracking_uri=env["tracking"]).is_file()


def _check_card_value(env, doc: dict, html: str) -> None:
    """The card's value section: the value model's forecast of the card's row, the fair fee at 3x, the flag rule."""
    v = doc["value"]
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)  # what a reader sees
    creators = pd.read_parquet(env["data"] / "creators.parquet").set_index(C.CREATOR_ID)
    rate = float(creators.loc[doc["creator_id"], C.RATE_CARD_USD])
    assert 0 <= v["p10_usd"] <= v["p90_usd"] and v["expected_usd"] >= 0 and v["target_roas"] == 3.0
    assert abs(v["fair_fee_usd"] - v["expected_usd"] / 3.0) < 1e-9 * max(1.0, v["expected_usd"])
    assert (v["rate_card_usd"] is None) == np.isnan(rate) and (np.isnan(rate) or v["rate_card_usd"] == rate)
    campaign = f"a typical {doc['category'] + ' ' if doc['category'] else ''}campaign in {doc['country']}"
    rate_words = _money(rate) if not np.isnan(rate) else "not declared"
    headline = (f"What you are worth to {campaign}: {_money(v['p10_usd'])}-{_money(v['p90_usd'])}; a fair fee: "
                f"{_money(v['fair_fee_usd'])}; your rate card: {rate_words}.")
    assert v["headline"] == headline and str(escape(headline)) in html
    assert v["price_flag"] == _expected_flag(rate, v["expected_usd"], v["p10_usd"], v["p90_usd"], 3.0, doc["confidence"])
    assert ("You may be under-priced" in html) == (v["price_flag"] == "under")
    assert ("Over-priced for this kind of campaign" in html) == (v["price_flag"] == "over")
    assert str(escape(doc["history"]["text"])) in html.split("value-card")[1].split("</section>")[0]  # what it rests on
    assert ("rests on little evidence" in html) == (doc["confidence"] in ("low", "none"))
    assert not re.search(r"\bnan\b", html, flags=re.I)
    # Why the expected GMV is what it is: the value model's factors, in the card's value section.
    w = v["drivers"]
    assert w is not None
    factors = [np.exp(c) for c in w["contributions"].values()]
    assert abs(np.log(w["level"] * np.exp(w["bias"]) * np.prod(factors)) - np.log(v["expected_usd"])) < 1e-6
    section = html.split("value-card")[1].split("</section>")[0]
    assert len(w["up"]) <= 3 and len(w["down"]) <= 3 and (w["up"] or w["down"])
    for d in w["up"] + w["down"]:
        assert abs(d["effect"] - np.exp(w["contributions"][d["feature"]])) < 1e-12
        assert f"{escape(d['text'])} <span class=\"note\">{escape(d['family_title'])}, {d['effect_text']}</span>" in section
    assert all(d["effect"] > 1 for d in w["up"]) and all(d["effect"] < 1 for d in w["down"])


def test_scorecard_of_a_model_without_value_model_has_no_value_section(env, tmp_path, monkeypatch):
    """An older bundle (no value model): the card is the card of before, nothing of value, no 'nan', no '$0'."""
    import creatorrank.serving.scorecard as card_mod

    real = card_mod.load_model

    def older(*args, **kwargs):
        bundle = real(*args, **kwargs)
        bundle.value = None  # what a bundle registered before the value model loads as
        return bundle

    monkeypatch.setattr(card_mod, "load_model", older)
    path = card_mod.scorecard(env["data"], TWINS[0], tmp_path / "old.html", model_uri=env["uri"],
                              tracking_uri=env["tracking"])
    doc = json.loads(path.with_suffix(".json").read_text())
    html = re.sub(r"<style>.*?</style>", "", path.read_text(), flags=re.S)
    assert doc["value"] is None
    for word in ("worth", "fair fee", "rate card", "under-priced", "over-priced", "little evidence", "expected GMV",
                 "value-drivers"):
        assert word not in html, word
    assert not re.search(r"\bnan\b", html, flags=re.I) and not re.search(r"\$0(?![\d.,])", html)


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
    """The manifest says how many were scored and with which rules: the field is found again, never guessed."""
    from creatorrank.serving.report import explain_campaigns

    out, _ = reports
    scores = pd.read_parquet(env["scores"])
    kept = [c for c in env["campaigns"] if c != env["newcomer_campaign"]]
    cut = scores[(scores[C.RANK] <= 3) & scores[C.CAMPAIGN_ID].isin(kept)]  # like `creatorrank score --top 3`
    _with_manifest(cut, env["scores"], tmp_path / "top3.parquet")
    explain_campaigns(tmp_path / "top3.parquet", env["data"], tmp_path / "cut", top=3, tracking_uri=env["tracking"])
    for cid in kept:
        cut_doc = json.loads((tmp_path / "cut" / f"campaign-{cid}.json").read_text())
        full = json.loads((out / f"campaign-{cid}.json").read_text())
        assert cut_doc["n_candidates"] == full["n_candidates"] > 3 and "found again" in cut_doc["reference_note"]
        assert "could not be rebuilt" not in (tmp_path / "cut" / f"campaign-{cid}.html").read_text()
        assert abs(cut_doc["campaign_mean_score"] - full["campaign_mean_score"]) < 1e-9
        for a, b in zip(cut_doc["creators"], full["creators"]):
            assert a["creator_id"] == b["creator_id"] and abs(a["relative_score"] - b["relative_score"]) < 1e-9
    assert oct((tmp_path / "cut" / "index.html").stat().st_mode & 0o777) != oct(0o600)
    # A field the data no longer gives (here: a set the manifest's rules do not find) is an error, not a note.
    odd = scores[(scores[C.RANK] <= 3) & (scores[C.CAMPAIGN_ID] == env["newcomer_campaign"])]
    _with_manifest(odd, env["scores"], tmp_path / "odd.parquet")
    with pytest.raises(ModelError, match=f"campaign {env['newcomer_campaign']}: the data no longer gives"):
        explain_campaigns(tmp_path / "odd.parquet", env["data"], tmp_path / "odd", tracking_uri=env["tracking"])
    assert not (tmp_path / "odd").exists()


@pytest.fixture(scope="module")
def eligible_reports(env, eligible_run):
    """Every creator of the eligible run explained."""
    from creatorrank.serving.report import explain_campaigns

    out = env["root"] / "reports-eligible"
    pages = explain_campaigns(eligible_run, env["data"], out, all_creators=True, tracking_uri=env["tracking"])
    doc = json.loads(pages[0].with_suffix(".json").read_text())
    return pages[0].read_text(encoding="utf-8"), doc


def test_tied_scores_are_shown_as_ties_with_their_evidence(env, eligible_run, eligible_reports):
    html, doc = eligible_reports
    scores = pd.read_parquet(eligible_run)
    twins = scores[scores[C.CREATOR_ID].isin(TWINS)]
    assert len(twins) == 3 and twins[C.SCORE].nunique() == 1  # identical creators, one score
    assert (twins[C.TIES] >= 2).all()
    first = int(scores.loc[scores[C.SCORE] == twins[C.SCORE].iloc[0], C.RANK].min())
    ties = int(twins[C.TIES].iloc[0])
    assert twins[C.RANK].tolist() == list(range(first, first + 3))  # rank stays 1..n, ordered by creator id
    shown = {c["creator_id"]: c for c in doc["creators"]}
    for t in TWINS:
        c = shown[t]
        assert c["ties"] == ties and (c["rank_first"], c["rank_last"]) == (first, first + ties)
        assert c["rank_text"] == f"tied with {ties} others at rank {first}-{first + ties}"
        assert c["confidence"] == "low" and c["thin_evidence"] and c["evidence_text"] == "based on 1 post"
        assert c["category_posts"] == 0 and c["category_warning"] == f"no post in {env['first_category']} yet"
    assert f"tied with {ties} others at rank {first}-{first + ties}" in html
    assert f"no post in {env['first_category']} yet" in html and "thin evidence: based on 1 post" in html
    assert doc["tie_note"] and "could not be rebuilt" not in html
    # Everyone of the file is in the report; none is flagged for the category who has posted in it.
    assert len(doc["creators"]) == doc["n_candidates"] == len(scores)
    for c in doc["creators"]:
        assert (c["category_warning"] is not None) == (c["category_posts"] == 0)
        assert c["confidence"] == scores.set_index(C.CREATOR_ID).loc[c["creator_id"], C.CONFIDENCE]


def test_report_words_on_missing_and_small_values(env, eligible_run, eligible_reports):
    from creatorrank.features.specs import INDEX_NAMES

    html, doc = eligible_reports
    assert "no data yet" not in html and "50 is typical" not in html
    scores = pd.read_parquet(eligible_run)
    for idx in INDEX_NAMES:
        median = scores[idx].median()
        got = doc["index_medians"][idx]
        assert (got is None) if pd.isna(median) else abs(got - median) < 1e-9
    assert doc["index_median_text"] in html
    unknown = 0
    for c in doc["creators"]:
        for d in c["drivers_up"] + c["drivers_down"]:
            assert abs(d["contribution"]) >= 0.005  # nothing that prints as +0.00 / -0.00
            if d["value"] is None:
                unknown += 1
                assert "unknown" in d["text"] or "not declared" in d["text"], d["text"]
            if d["feature"] == "rate_card_usd" and d["value"] is None:
                assert d["text"].startswith("Declared price per sponsored post: not declared")
    assert "-0.00" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    assert unknown, "the twins' missing rate card is a driver somewhere"


def test_scorecard_ties_categories_and_countries(env, tmp_path):
    from creatorrank.serving.scorecard import scorecard

    path = scorecard(env["data"], TWINS[0], tmp_path / "twin.html", model_uri=env["uri"], tracking_uri=env["tracking"])
    doc = json.loads(path.with_suffix(".json").read_text())
    html = path.read_text()
    assert doc["ties"] >= 2 and f"tied with {doc['ties']} others at rank {doc['rank']}-{doc['rank'] + doc['ties']}" in html
    assert "#1 of" not in html and "50 is typical" not in html and "no data yet" not in html
    assert all(a["you"] != "not enough data yet" for a in doc["advice"])  # no advice built on missing values
    _check_card_value(env, doc, html)
    assert "You have not declared a rate card" in html and doc["value"]["price_flag"] is None  # the twins declare none
    with pytest.raises(CreatorRankError) as err:
        scorecard(env["data"], TWINS[0], tmp_path / "x.html", category="cosmetics", model_uri=env["uri"],
                  tracking_uri=env["tracking"])
    msg = str(err.value)
    assert "cosmetics" in msg and env["first_category"] in msg and "\n" not in msg
    assert not (tmp_path / "x.html").exists()
    upper = scorecard(env["data"], TWINS[0], tmp_path / "up.html", category=env["first_category"].upper(),
                      model_uri=env["uri"], tracking_uri=env["tracking"])
    assert json.loads(upper.with_suffix(".json").read_text())["category"] == env["first_category"]


def test_explain_output_is_checked_first_and_swapped_in_whole(env, reports, tmp_path, monkeypatch):
    import creatorrank.serving.report as report_mod

    out, _ = reports
    (tmp_path / "file").write_text("x")
    with pytest.raises(CreatorRankError, match="output path is a file"):
        report_mod.explain_campaigns(env["scores"], env["data"], tmp_path / "file", tracking_uri=env["tracking"])
    target = tmp_path / "reports"
    report_mod.explain_campaigns(env["scores"], env["data"], target, top=2, tracking_uri=env["tracking"])
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    real = report_mod.render_campaign
    calls = []

    def dying(doc, env=None):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed halfway through the pages
        return real(doc, env)

    monkeypatch.setattr(report_mod, "render_campaign", dying)
    with pytest.raises(KeyboardInterrupt):
        report_mod.explain_campaigns(env["scores"], env["data"], target, top=3, tracking_uri=env["tracking"])
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before  # the old folder, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "reports"]  # no half-built folder left


@pytest.mark.browser
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no headless Chromium at /usr/bin/chromium")
def test_ranking_table_fits_at_1280_px(eligible_reports, env, tmp_path):
    """The widest table (every creator, pills and all) fits its card at a 1280 px window: no sideways scroll."""
    html, _ = eligible_reports
    probe = ("<script>window.addEventListener('load',function(){var s=document.querySelector('.scroll');"
             "var t=s.querySelector('table');document.body.setAttribute('data-fit',"
             "t.scrollWidth+'/'+s.clientWidth);});</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
           "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'profile'}",
           "--window-size=1280,900", "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'data-fit="(\d+)/(\d+)"', proc.stdout)
    assert found, proc.stderr[-2000:]
    table, box = map(int, found.groups())
    assert 0 < table <= box, f"ranking table {table}px wide in a {box}px container"


def test_thin_indices_are_marked_in_the_table(eligible_reports):
    from creatorrank.serving.ranking import thin_evidence_threshold

    html, doc = eligible_reports
    marked = 0
    for c in doc["creators"]:
        for idx, note in c["index_thin"].items():
            value, evidence = c["indices"][idx], c["index_evidence"][idx]
            if value is None:
                assert note is None  # missing is "not enough data yet", not thin
            elif evidence is not None:
                assert (note is not None) == (evidence < thin_evidence_threshold(idx))
            if note:
                marked += 1
                assert f'title="thin evidence: {escape(note)}"' in html
    assert marked, "the twins' one post is thin evidence for their content indices"


def test_pages_are_their_json_documents_through_packaged_templates(reports):
    """Each page is its JSON twin rendered by the templates shipped as package data (no repo paths)."""
    from importlib import resources

    from creatorrank.serving import render

    out, _ = reports
    shipped = resources.files("creatorrank.serving").joinpath(render.TEMPLATE_DIR)
    names = {p.name for p in shipped.iterdir()}
    assert {"base.html.j2", render.CAMPAIGN_TEMPLATE, render.INDEX_TEMPLATE, render.CARD_TEMPLATE,
            "report.css", "card.css"} <= names
    assert set(render.environment().list_templates()) >= {render.CAMPAIGN_TEMPLATE, render.INDEX_TEMPLATE}
    pages = sorted(Path(out).glob("campaign-*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert render.render_campaign(json.loads(page.with_suffix(".json").read_text())) == html
        assert render.CSS.strip() in html  # the one style sheet, inlined


def test_signed_score_differences_never_print_minus_zero():
    from creatorrank.serving.render import signed

    assert [signed(x) for x in (-0.0007, 0.004, 0.0, -0.005001, 3.491, -1.2)] == [
        "0.00", "0.00", "0.00", "-0.01", "+3.49", "-1.20"]
