"""Creator-level features computed once per as-of and reused by every brief (issue 15).

``build_features`` on a kept :class:`PreparedMarket` with one as-of per call takes the
brief-independent values from the market's snapshot (:func:`engine.materialize`) and computes
only the category, country and budget features per brief; on raw tables it computes
everything, as before. Both must agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from creatorrank.core import constants as C
from creatorrank.data.generate import generate_market
from creatorrank.features import engine
from creatorrank.features import specs as S
from creatorrank.features.engine import build_features, prepare

from .random_market import random_market

pytestmark = pytest.mark.unit


def _briefs(tables, seed: int, n: int):
    """``n`` random briefs: 3 as-ofs shared by several, candidates overlapping, attributes often missing."""
    rng = np.random.default_rng(seed)
    ids = np.sort(tables[C.CREATORS][C.CREATOR_ID].astype(str).unique())
    cats = [*sorted(tables[C.CAMPAIGNS][C.CATEGORY].dropna().astype(str).unique()), "never-seen", None]
    countries = [*sorted(tables[C.CREATORS][C.COUNTRY].dropna().astype(str).unique())[:3], "ZZ", None]
    start, end = tables[C.POSTS][C.POSTED_AT].min(), tables[C.POSTS][C.POSTED_AT].max()
    span = (end - start).value // 1000
    as_ofs = [start + pd.Timedelta(microseconds=int(span * f)) for f in rng.uniform(0.3, 1.0, 3)]
    as_ofs.append(as_ofs[0].floor("D") + pd.offsets.MonthBegin(0))  # a month start
    for i in range(n):
        k = int(rng.integers(1, len(ids) + 1))
        cand = list(rng.choice(ids, size=k, replace=False))
        if i % 4 == 1:
            cand.append("no-such-creator")  # unknown creators get the empty history
        when = as_ofs[int(rng.integers(0, len(as_ofs)))]
        budget = np.nan if rng.random() < 0.3 else float(rng.uniform(100, 50_000))
        yield pd.DataFrame({
            C.CREATOR_ID: pd.array(cand, dtype="string[pyarrow]"),
            C.AS_OF: pd.Series([when] * len(cand), dtype="datetime64[us, UTC]"),
            C.CAMPAIGN_ID: f"b{i}",
            C.CATEGORY: pd.array([cats[int(rng.integers(0, len(cats)))]] * len(cand), dtype="string[pyarrow]"),
            C.COUNTRY: pd.array([countries[int(rng.integers(0, len(countries)))]] * len(cand), dtype="string[pyarrow]"),
            C.BUDGET_USD: np.full(len(cand), budget),
        })


@pytest.mark.parametrize("make", [lambda: generate_market(120, 30, seed=7).tables, lambda: random_market(11)],
                         ids=["generated", "adversarial"])
def test_reused_snapshot_is_bit_identical(make):
    tables = make()
    mk = prepare(tables)
    briefs = list(_briefs(tables, seed=3, n=14))
    as_ofs = {b[C.AS_OF].iloc[0] for b in briefs}
    assert len(as_ofs) < len(briefs)  # several briefs share an as-of
    for dec in briefs + briefs:  # the second round finds every creator in the snapshot
        reused = build_features(mk, dec)
        fresh = build_features(tables, dec)  # raw tables: everything computed for this call
        assert_frame_equal(reused, fresh, check_exact=True)
    assert 0 < len(mk._snapshots) <= engine.SNAPSHOT_AS_OFS
    # what was reused is what the snapshot holds: no brief-dependent value in it
    for codes, values in mk._snapshots.values():
        assert not set(values) & set(S.CATEGORY_FEATURES)
        assert np.all(np.diff(codes) > 0)


def test_several_as_ofs_in_one_call_agree_too():
    tables = generate_market(80, 20, seed=2).tables
    mk = prepare(tables)
    dec = pd.concat(list(_briefs(tables, seed=5, n=4)), ignore_index=True)
    assert dec[C.AS_OF].nunique() > 1
    assert_frame_equal(build_features(mk, dec), build_features(tables, dec), check_exact=True)


def test_brief_dependent_values_are_the_category_and_match_features():
    mk = prepare(generate_market(30, 10, seed=1).tables)
    brief = engine._brief_keys(mk)
    computed = set(engine.catalogue.computations())
    expected = (set(S.CATEGORY_FEATURES) | {"country_match", "budget_to_rate_card"}) & computed
    assert brief == expected


def test_snapshot_grows_with_new_creators_and_stays_bounded():
    tables = generate_market(60, 10, seed=4).tables
    mk = prepare(tables)
    ids = np.sort(tables[C.CREATORS][C.CREATOR_ID].astype(str).unique())
    base = pd.Timestamp("2025-06-01T12:00:00Z")

    def decisions(cand, when, category):
        return pd.DataFrame({C.CREATOR_ID: pd.array(list(cand), dtype="string[pyarrow]"),
                             C.AS_OF: pd.Series([when] * len(cand), dtype="datetime64[us, UTC]"),
                             C.CATEGORY: category})

    first = build_features(mk, decisions(ids[:20], base, "beauty"))
    (codes, _), = mk._snapshots.values()
    assert len(codes) == 20
    second = build_features(mk, decisions(ids[10:40], base, "food"))
    (codes, _), = mk._snapshots.values()
    assert len(codes) == 40  # the 10 shared creators were not added twice
    assert_frame_equal(second.iloc[:10].reset_index(drop=True).drop(columns=[C.CATEGORY, *S.CATEGORY_FEATURES]),
                       first.iloc[10:].reset_index(drop=True).drop(columns=[C.CATEGORY, *S.CATEGORY_FEATURES]),
                       check_exact=True)
    few_new = decisions(ids[:45], base, "tech")  # 5 creators not in the snapshot: only they are computed
    assert_frame_equal(build_features(mk, few_new), build_features(tables, few_new), check_exact=True)
    (codes, _), = mk._snapshots.values()
    assert len(codes) == 45
    for d in range(engine.SNAPSHOT_AS_OFS + 2):
        build_features(mk, decisions(ids[:5], base + pd.Timedelta(days=d + 1), None))
    assert len(mk._snapshots) == engine.SNAPSHOT_AS_OFS
    assert engine.snapshot_bytes(mk) > 0


def _brief(cand, when, category, country=None, budget=np.nan):
    return pd.DataFrame({C.CREATOR_ID: pd.array(list(cand), dtype="string[pyarrow]"),
                         C.AS_OF: pd.Series([when] * len(cand), dtype="datetime64[us, UTC]"),
                         C.CATEGORY: pd.array([category] * len(cand), dtype="string[pyarrow]"),
                         C.COUNTRY: pd.array([country] * len(cand), dtype="string[pyarrow]"),
                         C.BUDGET_USD: np.full(len(cand), budget)})


def test_category_snapshot_is_kept_per_as_of_and_category(monkeypatch):
    """Briefs of one category at one as-of share its category values; another as-of, category or
    market gets its own, and every result equals the one computed from scratch."""
    tables = generate_market(120, 30, seed=6).tables
    mk = prepare(tables)
    ids = np.sort(tables[C.CREATORS][C.CREATOR_ID].astype(str).unique())
    cats = sorted(tables[C.CAMPAIGNS][C.CATEGORY].dropna().astype(str).unique())[:2]
    t1, t2 = pd.Timestamp("2025-05-03T10:00:00Z"), pd.Timestamp("2025-09-20T18:30:00Z")
    got = {}
    for when in (t1, t2):
        build_features(mk, _brief(ids, when, None))  # fills the as-of's snapshot
        for category in (*cats, "never-seen", None):
            first = build_features(mk, _brief(ids[:60], when, category, "US", 5_000.0))
            more = build_features(mk, _brief(ids[40:], when, category, "GB"))  # 40 new creators computed
            for dec, frame in ((_brief(ids[:60], when, category, "US", 5_000.0), first),
                               (_brief(ids[40:], when, category, "GB"), more)):
                assert_frame_equal(frame, build_features(tables, dec), check_exact=True)
                assert_frame_equal(frame, build_features(mk, dec, reuse=False), check_exact=True)
            got[when, category] = first
    codes = [mk.categories.index(c) for c in cats] + [-1, -2]  # 2 categories, an unknown one, none
    assert set(mk._cat_snapshots) == {(t.value // 1000, c) for t in (t1, t2) for c in codes}
    cols = ["cat_post_share_365d", "cat_views_365d", S.CATEGORY_INDEX]
    assert not got[t1, cats[0]][cols].equals(got[t1, cats[1]][cols])  # the key's category matters
    assert not got[t1, cats[0]][cols].equals(got[t2, cats[0]][cols])  # and its as-of

    # a brief of a cached (as-of, category) computes no category value again
    def refuse(*args, **kwargs):
        raise AssertionError("category values recomputed")

    monkeypatch.setattr(engine, "_category_values", refuse)
    again = _brief(ids[10:90], t2, cats[1], "DE", 12_000.0)
    assert_frame_equal(build_features(mk, again), build_features(tables, again), check_exact=True)
    monkeypatch.undo()

    # one call mixing categories at one as-of, and another market with the same decisions
    mixed = pd.concat([_brief(ids[:30], t1, cats[0]), _brief(ids[20:70], t1, cats[1], "US"),
                       _brief(ids[60:], t1, None)], ignore_index=True)
    assert_frame_equal(build_features(mk, mixed), build_features(tables, mixed), check_exact=True)
    other = generate_market(120, 30, seed=8).tables
    omk = prepare(other)
    build_features(omk, _brief(ids, t1, None))
    dec = _brief(ids[:60], t1, cats[0], "US", 5_000.0)
    mine = build_features(omk, dec)
    assert_frame_equal(mine, build_features(other, dec), check_exact=True)
    assert not mine[cols].equals(got[t1, cats[0]][cols])


def test_category_snapshots_stay_bounded():
    tables = generate_market(40, 10, seed=9).tables
    mk = prepare(tables)
    ids = np.sort(tables[C.CREATORS][C.CREATOR_ID].astype(str).unique())
    base = pd.Timestamp("2025-06-01T12:00:00Z")
    for d in range(engine.CATEGORY_SNAPSHOTS + 3):
        build_features(mk, _brief(ids, base + pd.Timedelta(hours=d), mk.categories[0]))
    assert len(mk._cat_snapshots) == engine.CATEGORY_SNAPSHOTS
