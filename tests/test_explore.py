"""Thompson-sampling exploration of top lists (serving/explore.py): probabilities, ties, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError

pytestmark = pytest.mark.unit


def pool(n: int = 40, briefs: int = 2, seed: int = 0, sd_scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(briefs):
        rows.append(pd.DataFrame({C.CAMPAIGN_ID: f"c{b}", C.CREATOR_ID: [f"u{i:03d}" for i in range(n)],
                                  C.SCORE: rng.normal(size=n), C.SCORE_SD: sd_scale * rng.uniform(0.1, 1.5, n)}))
    return pd.concat(rows, ignore_index=True)


def test_kept_rows_have_probability_one_and_expected_explored_is_k() -> None:
    from creatorrank.serving.explore import brief_summary, explore

    frame = pool()
    out = explore(frame, k=3, seed=5, draws=500, top=10)
    assert len(out) == len(frame)
    for cid, rows in out.groupby(C.CAMPAIGN_ID):
        best7 = rows.sort_values([C.SCORE, C.CREATOR_ID], ascending=[False, True]).head(7)
        kept = rows[rows[C.LIST_POSITION].notna() & ~rows[C.EXPLORED]]
        assert set(kept[C.CREATOR_ID]) == set(best7[C.CREATOR_ID])
        assert (kept[C.SELECTION_PROBABILITY] == 1.0).all()
        rest = rows[~rows[C.CREATOR_ID].isin(best7[C.CREATOR_ID])]
        assert rest[C.SELECTION_PROBABILITY].sum() == pytest.approx(3.0)  # every draw picks exactly K
        assert rest[C.SELECTION_PROBABILITY].between(0, 1).all()
        assert int(rows[C.EXPLORED].sum()) == 3
        assert sorted(rows[C.LIST_POSITION].dropna().astype(int)) == list(range(1, 11))
        assert (rows[C.SELECTION_PROBABILITY][rows[C.EXPLORED]] > 0).all()
    summary = brief_summary(out, k=3, seed=5, draws=500)
    assert all(s["expected_explored"] == pytest.approx(3.0) and s["listed"] == 10 and s["explored"] == 3
               and (s["k"], s["seed"], s["draws"]) == (3, 5, 500) for s in summary.values())


def test_zero_spread_picks_the_next_best_with_the_tie_rule() -> None:
    from creatorrank.serving.explore import explore

    frame = pd.DataFrame({C.CAMPAIGN_ID: "c", C.CREATOR_ID: ["e", "d", "c", "b", "a", "f"],
                          C.SCORE: [5.0, 4.0, 3.0, 3.0, 3.0, 1.0], C.SCORE_SD: 0.0})
    out = explore(frame, k=3, seed=1, draws=50, top=4, cut=True)
    # kept: e (best); explored: the next three by score, equal scores by creator id: d, then a, b (not c)
    assert out[C.CREATOR_ID].tolist() == ["e", "d", "a", "b"]
    assert out[C.EXPLORED].tolist() == [False, True, True, True]
    np.testing.assert_allclose(out[C.SELECTION_PROBABILITY], 1.0)


def test_reproducible_with_the_seed_and_per_brief() -> None:
    from creatorrank.serving.explore import explore

    frame = pool()
    a = explore(frame, k=4, seed=9, draws=300, top=10)
    b = explore(frame, k=4, seed=9, draws=300, top=10)
    pd.testing.assert_frame_equal(a, b)
    c = explore(frame, k=4, seed=10, draws=300, top=10)
    assert not np.allclose(a[C.SELECTION_PROBABILITY], c[C.SELECTION_PROBABILITY])
    alone = explore(frame[frame[C.CAMPAIGN_ID] == "c1"], k=4, seed=9, draws=300, top=10)
    pd.testing.assert_frame_equal(alone, a[a[C.CAMPAIGN_ID] == "c1"].reset_index(drop=True))


def test_more_uncertain_rows_are_explored_more_often() -> None:
    from creatorrank.serving.explore import explore

    n = 30
    frame = pd.DataFrame({C.CAMPAIGN_ID: "c", C.CREATOR_ID: [f"u{i:02d}" for i in range(n)],
                          C.SCORE: np.r_[np.full(5, 10.0), np.zeros(n - 5)],
                          C.SCORE_SD: np.r_[np.zeros(5), np.full(12, 0.1), np.full(13, 2.0)]})
    out = explore(frame, k=2, seed=0, draws=1000, top=7).set_index(C.CREATOR_ID)
    p = out[C.SELECTION_PROBABILITY]
    assert p[[f"u{i:02d}" for i in range(17, 30)]].mean() > p[[f"u{i:02d}" for i in range(5, 17)]].mean()


def test_small_pools_and_bad_arguments() -> None:
    from creatorrank.serving.explore import explore

    frame = pool(n=5, briefs=1)
    out = explore(frame, k=3, seed=0, draws=100, top=10)  # 5 rows: all listed, nothing left to explore
    assert out[C.LIST_POSITION].notna().all() and (out[C.SELECTION_PROBABILITY] == 1.0).all()
    with pytest.raises(CreatorRankError, match="explore"):
        explore(frame, k=11, seed=0, top=10)
    with pytest.raises(CreatorRankError, match="score_sd"):
        explore(frame.drop(columns=C.SCORE_SD), k=1, seed=0)


@pytest.mark.slow
@pytest.mark.model
def test_simulation_is_reproducible_and_explores_k_per_brief(tmp_path) -> None:
    from benchmarks.bench_explore import simulate

    kw = dict(creators=600, campaigns=150, rounds=2, briefs=3, top=5, explore_k=2, n_bags=3, trees=10, draws=100,
              seed=1, threads=1, history=20)
    a, b = simulate(**kw), simulate(**kw)
    assert a["policies"] == b["policies"]
    for row in a["policies"]["explore"]:
        assert row["explored"] == 2 * row["briefs"] and 0.0 <= row["capture"] <= 1.0
    assert all(row["explored"] == 0 for row in a["policies"]["greedy"])
    assert a["policies"]["explore"][1]["labelled_rows"] == a["policies"]["explore"][0]["labelled_rows"] + 5 * 3
