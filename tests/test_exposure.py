"""Exposure of creator groups in top-k lists against merit (training/exposure.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C

pytestmark = pytest.mark.unit


def test_groups_read_catalogue_features_and_tier_edges() -> None:
    from creatorrank.features.specs import get_specs
    from creatorrank.training.exposure import DAYS_SINCE_JOINED, FOLLOWERS, follower_tier, tenure

    assert [s.name for s in get_specs([FOLLOWERS, DAYS_SINCE_JOINED])] == [FOLLOWERS, DAYS_SINCE_JOINED]
    tiers = follower_tier([0, 9_999, 10_000, 99_999, 100_000, 499_999, 500_000, 999_999, 1_000_000, np.nan])
    assert tiers.tolist() == ["nano", "nano", "micro", "micro", "mid", "mid", "macro", "macro", "mega", "unknown"]
    assert tenure([0, 89.9, 90, np.nan]).tolist() == ["new", "new", "established", "unknown"]


def pool(seed: int = 0, briefs: int = 3, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for b in range(briefs):
        parts.append(pd.DataFrame({C.CAMPAIGN_ID: f"c{b}", C.CREATOR_ID: [f"u{i}" for i in range(n)],
                                   "followers": 10 ** rng.uniform(3, 6.5, n), "days_since_joined": rng.uniform(0, 700, n),
                                   C.COUNTRY: rng.choice(["US", "DE", "ID"], n)}))
    return pd.concat(parts, ignore_index=True)


def test_shares_sum_to_one_and_a_big_first_ranking_overexposes_big_creators() -> None:
    from creatorrank.serving.ranking import within_campaign_rank
    from creatorrank.training.exposure import exposure

    frame = pool()
    merit = np.ones(len(frame))  # every creator equally good
    rank = within_campaign_rank(frame[C.CAMPAIGN_ID].to_numpy(), frame["followers"].to_numpy(),
                                frame[C.CREATOR_ID].to_numpy())
    result = exposure(frame, rank, k=5, merit=merit)
    for dim, part in result.table.groupby("dimension"):
        assert part["exposure_share"].sum() == pytest.approx(1.0)
        assert part["pool_share"].sum() == pytest.approx(1.0)
        assert part["merit_share"].sum() == pytest.approx(1.0)
    tiers = result.table[result.table["dimension"] == "tier"].set_index("group")
    assert tiers.loc["nano", "exposure_share"] == 0.0
    big = tiers.index.intersection(["macro", "mega"])
    assert tiers.loc[big, "exposure_to_merit"].max() > 1.5
    np.testing.assert_allclose(tiers["merit_share"], tiers["pool_share"])  # equal merit: merit share = pool share
    assert len(result.lines()) == len(result.table) and result.briefs == 3
    assert "exposure.tier.nano" in result.to_dict()


def test_position_weights_and_missing_merit() -> None:
    from creatorrank.training.exposure import exposure

    frame = pd.DataFrame({C.CAMPAIGN_ID: "c", C.CREATOR_ID: ["a", "b", "c"], "followers": [5e3, 5e4, 5e6],
                          "days_since_joined": [10, 400, 400], C.COUNTRY: "US"})
    result = exposure(frame, [1, 2, 3], k=2)
    t = result.table.set_index(["dimension", "group"])
    w1, w2 = 1.0, 1.0 / np.log2(3.0)
    assert t.loc[("tier", "nano"), "exposure_share"] == pytest.approx(w1 / (w1 + w2))
    assert t.loc[("tier", "mega"), "exposure_share"] == 0.0
    assert t["merit_share"].isna().all() and t["exposure_to_merit"].isna().all()
    zero = exposure(frame, [1, 2, 3], k=2, merit=[0.0, 1.0, 0.0])
    z = zero.table.set_index(["dimension", "group"])
    assert np.isnan(z.loc[("tier", "nano"), "exposure_to_merit"])  # no merit: no ratio, never infinity


def test_missing_tiers_notes() -> None:
    from creatorrank.training.exposure import missing_tiers

    top = pd.DataFrame({C.CAMPAIGN_ID: "c1", "followers": [2e5, 3e5, 1.2e6]})
    assert missing_tiers(top) == ["no creator under 100k followers in the top 3"]
    assert missing_tiers(top.assign(followers=[5e3, 3e5, 1.2e6])) == []
    two = pd.concat([top, pd.DataFrame({C.CAMPAIGN_ID: "c2", "followers": [2e6, np.nan]})])
    assert missing_tiers(two) == ["campaign c1: no creator under 100k followers in the top 3",
                                  "campaign c2: no creator under 1M followers in the top 2"]
    assert missing_tiers(top.assign(followers=np.nan)) == []


def test_report_notes_a_top_list_without_small_creators() -> None:
    from creatorrank.serving.report import add_tier_notes

    top = pd.DataFrame({C.CAMPAIGN_ID: ["a"] * 3 + ["b"] * 2,
                        "followers": [250_000.0, 120_000.0, 900_000.0, 5_000.0, 2e6]})
    notes = add_tier_notes({"a": "The scores file lists the top 3."}, top)
    assert notes["a"] == "The scores file lists the top 3. No creator under 100k followers in the top 3."
    assert "b" not in notes  # a nano creator is listed: nothing to say
    assert add_tier_notes({}, top.iloc[:0]) == {}
