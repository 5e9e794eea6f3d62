"""Explanations and score cards reuse the market's per-as-of snapshots (issue 15) and change nothing.

``explain`` rebuilds the features of a scores file and the score card those of a creator's
peers; both now go through :mod:`creatorrank.serving.snapshots` (one prepared market, one
``build_features`` call per as-of, creator-level values from the as-of's snapshot). The
features, SHAP values and card must be exactly those of the raw-table path.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from creatorrank.core import constants as C

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def market_model():
    """(clean tables, ranker fitted directly on their invitations, one thread)."""
    from fast_training import direct_ranker

    tables, _, bundle = direct_ranker(160, 30, 5, posts=20.0, invitees=20.0, num_leaves=7, rounds=15)
    return tables, bundle


def _decisions(tables) -> pd.DataFrame:
    """Four briefs over overlapping candidates: three share an as-of, one has its own."""
    ids = np.sort(tables[C.CREATORS][C.CREATOR_ID].astype(str).unique())
    end = pd.Timestamp(tables[C.POSTS][C.POSTED_AT].max()).floor("D")
    briefs = [("b0", "beauty", "US", 5_000.0, end, ids[:90]), ("b1", "food", "GB", np.nan, end, ids[40:]),
              ("b2", None, "US", 800.0, end, ids[::3]), ("b3", "tech", None, 2_000.0, end - pd.Timedelta(days=40),
                                                        ids[10:70])]
    parts = []
    for cid, cat, country, budget, when, cand in briefs:
        n = len(cand)
        parts.append(pd.DataFrame({
            C.CREATOR_ID: pd.array(cand, dtype="string[pyarrow]"),
            C.AS_OF: pd.Series([when] * n, dtype="datetime64[us, UTC]"),
            C.CAMPAIGN_ID: pd.array([cid] * n, dtype="string[pyarrow]"),
            C.CATEGORY: pd.array([cat] * n, dtype="string[pyarrow]"),
            C.COUNTRY: pd.array([country] * n, dtype="string[pyarrow]"),
            C.BUDGET_USD: np.full(n, budget),
        }))
    mixed = pd.concat(parts, ignore_index=True)
    return mixed.sample(frac=1.0, random_state=4).reset_index(drop=True)  # as-ofs interleaved


def test_brief_features_reuse_snapshots_and_match_the_raw_tables(market_model, monkeypatch):
    from creatorrank.features import engine
    from creatorrank.serving.snapshots import brief_features, market_for

    tables, _ = market_model
    dec = _decisions(tables)
    expected = engine.build_features(tables, dec)  # raw tables: every feature of every row computed
    assert_frame_equal(brief_features(tables, dec), expected, check_exact=True)

    market = market_for(tables, dec[C.AS_OF].unique())
    assert_frame_equal(brief_features(market, dec), expected, check_exact=True)
    as_ofs = {int(t.value // 1000) for t in dec[C.AS_OF].unique()}
    assert set(market._snapshots) == as_ofs  # one snapshot per as-of, kept on the market

    computed = []
    real = engine._values
    monkeypatch.setattr(engine, "_values", lambda mk, c_s, *a, **k: computed.append(len(c_s)) or real(mk, c_s, *a, **k))
    again = dec[dec[C.CAMPAIGN_ID] == "b1"].assign(**{C.CAMPAIGN_ID: "b9", C.CATEGORY: "beauty"})
    out = brief_features(market, again)  # another brief of a kept as-of: creator-level values from the snapshot
    assert computed == []
    assert_frame_equal(out, engine.build_features(tables, again), check_exact=True)


def test_explanations_are_identical_with_and_without_reuse(market_model):
    from creatorrank.features.engine import build_features
    from creatorrank.serving.explain import explain
    from creatorrank.serving.snapshots import brief_features

    tables, bundle = market_model
    dec = _decisions(tables)
    with_reuse = explain(bundle, brief_features(tables, dec), top=5)
    without = explain(bundle, build_features(tables, dec), top=5)
    for name in ("rows", "contributions", "families", "campaigns", "family_summary", "campaign_mean_contributions"):
        assert_frame_equal(getattr(with_reuse, name), getattr(without, name), check_exact=True)
    assert with_reuse.expected_value == without.expected_value
    assert len(with_reuse.rows) == 20 and np.abs(with_reuse.contributions.to_numpy()).sum() > 0


def _reference_group(tables, creators, creator_id, when, category, country):
    """The score card's creator and peers from the raw tables, with no market shared between them:
    the peers from a fresh snapshot, the creator's own row built on its own."""
    from creatorrank.features.engine import build_features, snapshot
    from creatorrank.serving.scorecard import _peer_group, card_decision

    snap = snapshot(tables, when, category=category, country=country)
    snap[C.CREATOR_ID] = snap[C.CREATOR_ID].astype(str)
    peers, label = _peer_group(snap, creators, creator_id, category, country)
    own = build_features(tables, card_decision(creator_id, when, category, country))
    own[C.CREATOR_ID] = own[C.CREATOR_ID].astype(str)
    return pd.concat([own, peers[peers[C.CREATOR_ID] != creator_id]], ignore_index=True).assign(
        **{C.CAMPAIGN_ID: "peers"}), label


def test_score_card_is_identical_with_and_without_reuse(market_model):
    from creatorrank.core.jsonio import dump_json
    from creatorrank.serving.pages import creator_history
    from creatorrank.serving.scorecard import card_document, card_group, default_as_of

    tables, bundle = market_model
    creators = tables[C.CREATORS]
    when = default_as_of(tables)
    late = creators.sort_values(C.JOINED_AT).iloc[-1]  # a card dated before they joined: a newcomer's row
    cases = [(str(creators.iloc[3][C.CREATOR_ID]), when), (str(late[C.CREATOR_ID]), pd.Timestamp(late[C.JOINED_AT]))]
    for creator_id, at in cases:
        me = creators[creators[C.CREATOR_ID].astype(str) == creator_id].iloc[0]
        category = None if pd.isna(me[C.PRIMARY_CATEGORY]) else str(me[C.PRIMARY_CATEGORY])
        country = str(me[C.COUNTRY])
        group, label = card_group(tables, creators, creator_id, at, category, country)
        ref_group, ref_label = _reference_group(tables, creators, creator_id, at, category, country)
        assert label == ref_label
        assert_frame_equal(group, ref_group, check_exact=True)
        history = creator_history(tables, pd.DataFrame({C.CREATOR_ID: [creator_id], C.AS_OF: [at]})).iloc[0]
        docs = [json.loads(dump_json(card_document(bundle, g, me, history, at, category, country, label)))
                for g in (group, ref_group)]
        for doc in docs:
            doc.pop("generated_at")
        assert docs[0] == docs[1]
        assert docs[0]["n_peers"] > 1 and docs[0]["indices"]
