"""One tie rule, one confidence rule, one candidate rule: serving/ranking.py and the eligibility filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C

pytestmark = pytest.mark.unit


def _parts():
    """Two campaigns; k1 has a three-way tie at the top (the real-data case: nine one-video creators on one score)."""
    k1 = pd.DataFrame({C.CAMPAIGN_ID: "k1", C.CREATOR_ID: ["e", "a", "d", "b", "c"],
                       C.SCORE: [0.5, 0.5, 0.1, 0.5, 0.2],
                       C.POSTS_SEEN: [1.0, 1.0, 30.0, 1.0, 6.0], C.INVITATIONS_SEEN: [0.0, 0.0, 4.0, 0.0, 0.0],
                       C.ORDERS_SEEN: [0.0, 0.0, 0.0, 0.0, 0.0]})
    k2 = pd.DataFrame({C.CAMPAIGN_ID: "k2", C.CREATOR_ID: ["x", "y"], C.SCORE: [0.3, 0.9],
                       C.POSTS_SEEN: [0.0, 25.0], C.INVITATIONS_SEEN: [0.0, 0.0], C.ORDERS_SEEN: [0.0, 12.0]})
    return [k1.iloc[:3], k2, k1.iloc[3:]]  # shards in any order


def test_ties_are_counted_and_rank_stays_deterministic():
    from creatorrank.serving.score import rank_scores

    frame = rank_scores(_parts())
    k1 = frame[frame[C.CAMPAIGN_ID] == "k1"]
    assert k1[C.CREATOR_ID].tolist() == ["a", "b", "e", "c", "d"]  # equal scores by creator id
    assert k1[C.RANK].tolist() == [1, 2, 3, 4, 5]
    assert k1[C.TIES].tolist() == [2, 2, 2, 0, 0]
    assert k1[C.PERCENTILE].tolist()[:3] == [100.0] * 3  # a tie shares its percentile
    assert k1[C.CONFIDENCE].tolist() == ["low", "low", "low", "medium", "high"]
    k2 = frame[frame[C.CAMPAIGN_ID] == "k2"]
    assert k2[C.CREATOR_ID].tolist() == ["y", "x"] and k2[C.TIES].tolist() == [0, 0]
    assert k2[C.CONFIDENCE].tolist() == ["high", "none"]
    top = rank_scores(_parts(), top=1)  # ties are counted before --top cuts
    assert top[C.TIES].tolist() == [2, 0]


def test_score_and_explain_share_one_tie_rule():
    from creatorrank.serving import explain, ranking, score

    assert explain.within_campaign_rank is ranking.within_campaign_rank
    frame = pd.concat(_parts(), ignore_index=True)
    rank = ranking.within_campaign_rank(frame[C.CAMPAIGN_ID].to_numpy(), frame[C.SCORE].to_numpy(),
                                        frame[C.CREATOR_ID].to_numpy())
    ranked = score.rank_scores(_parts())
    by_pair = dict(zip(zip(ranked[C.CAMPAIGN_ID], ranked[C.CREATOR_ID]), ranked[C.RANK]))
    assert [by_pair[(c, i)] for c, i in zip(frame[C.CAMPAIGN_ID], frame[C.CREATOR_ID])] == rank.tolist()


def test_tie_span_and_words():
    from creatorrank.serving.ranking import rank_label, rank_text, tie_counts, tie_span

    campaign = np.array(["k", "k", "k", "k", "j"])
    score = np.array([2.0, 1.0, 1.0, 1.0, 1.0])
    ties = tie_counts(campaign, score)
    assert ties.tolist() == [0, 2, 2, 2, 0]
    first, last = tie_span(campaign, score, np.array([1, 2, 3, 4, 1]), ties)
    assert first.tolist() == [1, 2, 2, 2, 1] and last.tolist() == [1, 4, 4, 4, 1]
    assert rank_text(3, 2, 2) == "tied with 2 others at rank 2-4"
    assert rank_text(1, 8, 1, of=269) == "tied with 8 others at rank 1-9 of 269"
    assert rank_text(5, 0) == "rank 5" and rank_label(3, 2, 2) == "2-4" and rank_label(7, 0) == "7"
    assert rank_text(2, 1, 1) == "tied with 1 other at rank 1-2"


def test_confidence_thresholds_and_evidence_words():
    from creatorrank.serving.ranking import (HIGH_INVITATIONS, HIGH_ORDERS, HIGH_POSTS, MEDIUM_POSTS, confidence,
                                             evidence_text)

    posts = [0, 0, 1, MEDIUM_POSTS - 1, MEDIUM_POSTS, HIGH_POSTS, HIGH_POSTS, HIGH_POSTS, np.nan]
    inv = [0, 2, 0, 9, 0, HIGH_INVITATIONS - 1, HIGH_INVITATIONS, 0, 0]
    orders = [0, 0, 0, 0, 0, HIGH_ORDERS - 1, 0, HIGH_ORDERS, 0]
    assert confidence(posts, inv, orders).tolist() == ["none", "low", "low", "low", "medium", "medium", "high",
                                                       "high", "none"]
    assert evidence_text(2, 0, 0) == "based on 2 posts"
    assert evidence_text(1, 1, 3) == "based on 1 post, 1 invitation and 3 orders"
    assert evidence_text(0, 0, 0) == "no history yet"


def test_thin_index_note_uses_the_feature_sets_evidence():
    from creatorrank.serving.ranking import thin_evidence_threshold, thin_index_note

    limit = thin_evidence_threshold("idx_content")
    assert limit > 1
    thin = {"idx_content": 60.0, "idx_content_evidence": 1.0, C.POSTS_SEEN: 1.0}
    assert thin_index_note(thin, "idx_content").startswith("based on 1 ")
    assert thin_index_note({"idx_content": 60.0, "idx_content_evidence": limit, C.POSTS_SEEN: 99.0}, "idx_content") is None
    assert thin_index_note({"idx_content": np.nan, "idx_content_evidence": 0.0}, "idx_content") is None  # missing, not thin
    # Older feature sets without idx_*_evidence: the nearest snapshot count stands in.
    assert thin_index_note({"idx_sales": 70.0, C.ORDERS_SEEN: 1.0}, "idx_sales") == "based on 1 order so far"


def test_eligibility_min_posts_category_posts_and_case_insensitive_codes(tiny):
    from creatorrank.serving.briefs import canonical_codes
    from creatorrank.serving.candidates import CandidateFinder, EligibilityRules

    tables = tiny
    as_of = pd.Timestamp("2024-06-30", tz="UTC")
    posts = tables[C.POSTS]
    known = posts[posts[C.POSTED_AT] < as_of]
    n_posts = known.groupby(C.CREATOR_ID, observed=True).size()
    brief = pd.Series({C.CAMPAIGN_ID: "kx", C.COUNTRY: "us", C.CATEGORY: "BEAUTY"})
    wide = CandidateFinder(tables, EligibilityRules(active_days=3650, same_country=True))
    ids = wide.eligible(brief, as_of)  # "us" finds the US creators
    cr = tables[C.CREATORS].set_index(C.CREATOR_ID)
    expect = sorted(c for c in n_posts.index if cr.loc[c, C.COUNTRY] == "US" and cr.loc[c, C.JOINED_AT] < as_of)
    assert list(ids) == expect and len(ids)
    most = int(n_posts.reindex(ids).max())
    strict = CandidateFinder(tables, EligibilityRules(active_days=3650, min_posts=most))
    assert list(strict.eligible(brief, as_of)) == [c for c in ids if n_posts[c] >= most]
    cat = known[known[C.CATEGORY].str.upper() == "BEAUTY"].groupby(C.CREATOR_ID, observed=True).size()
    np.testing.assert_array_equal(wide.category_posts(ids, "BEAUTY", as_of), cat.reindex(ids).fillna(0).to_numpy())
    assert np.isnan(wide.category_posts(ids, None, as_of)).all()
    briefs = pd.DataFrame({C.CAMPAIGN_ID: ["kx"], C.COUNTRY: ["gb"], C.CATEGORY: ["Food"]})
    fixed = canonical_codes(briefs, tables)
    assert fixed[C.COUNTRY].tolist() == ["GB"] and fixed[C.CATEGORY].tolist() == ["food"]
    assert canonical_codes(briefs.assign(**{C.COUNTRY: ["ZZ"]}), tables)[C.COUNTRY].tolist() == ["ZZ"]
