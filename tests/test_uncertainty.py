"""Bagged rankers and score_sd (training/uncertainty.py): reproducible, positive on thin data, files checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import ModelError

PARAMS = {"objective": "lambdarank", "num_threads": 1, "deterministic": True, "force_row_wise": True,
          "min_data_in_leaf": 3, "num_leaves": 7, "learning_rate": 0.1, "verbosity": -1, "seed": 1,
          "bagging_fraction": 0.8, "bagging_freq": 1, "label_gain": [0, 1, 3, 7]}


def thin_data(n_campaigns: int = 12, per: int = 8, seed: int = 0):
    """A small RankingData: label grows with f1, noisy; few campaigns (thin evidence)."""
    from creatorrank.training.dataset import RankingData, RankingSplit

    rng = np.random.default_rng(seed)
    n = n_campaigns * per
    f1, f2 = rng.normal(size=n), rng.normal(size=n)
    label = np.clip(np.round(1.5 + f1 + 0.7 * rng.normal(size=n)), 0, 3).astype(np.int32)
    frame = pd.DataFrame({C.CAMPAIGN_ID: np.repeat([f"c{i:02d}" for i in range(n_campaigns)], per),
                          C.CREATOR_ID: [f"u{i:03d}" for i in range(n)], "f1": f1, "f2": f2, C.LABEL: label})
    split = RankingSplit("train", frame, np.full(n_campaigns, per))
    return RankingData({"train": split}, ["f1", "f2"], [], {}, pd.Timestamp("2025-01-01", tz="UTC"))


@pytest.mark.unit
def test_spread_ignores_a_members_shift_within_a_campaign() -> None:
    from creatorrank.training.uncertainty import spread

    campaign = np.array(["a", "a", "a", "b", "b"])
    members = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 4.0], [0.0, 5.0], [1.0, 6.0]])  # member 2 = member 1 + shift
    np.testing.assert_allclose(spread(members, campaign), 0.0, atol=1e-12)
    members[0, 1] += 3.0  # one member now disagrees about one row
    sd = spread(members, campaign)
    assert (sd[:3] > 0).all() and np.allclose(sd[3:], 0.0)


@pytest.mark.unit
def test_bootstrap_draws_whole_campaigns() -> None:
    from creatorrank.training.uncertainty import bootstrap_campaigns

    group = np.array([2, 3, 1])
    rows, sizes = bootstrap_campaigns(group, np.random.default_rng(0))
    assert sizes.sum() == len(rows) and len(sizes) == 3
    blocks = {2: [0, 1], 3: [2, 3, 4], 1: [5]}
    at = 0
    for s in sizes:
        assert rows[at:at + s].tolist() == blocks[int(s)]
        at += s


@pytest.mark.model
def test_bags_are_reproducible_with_the_seed_and_spread_on_thin_data() -> None:
    from creatorrank.training.uncertainty import fit_bags, score_spread

    data = thin_data()
    X = data.X("train").to_numpy()
    camp = data["train"].frame[C.CAMPAIGN_ID].to_numpy()
    sd1 = score_spread(fit_bags(data, PARAMS, 20, n_bags=4, seed=7), X, camp)
    sd2 = score_spread(fit_bags(data, PARAMS, 20, n_bags=4, seed=7), X, camp)
    sd3 = score_spread(fit_bags(data, PARAMS, 20, n_bags=4, seed=8), X, camp)
    np.testing.assert_array_equal(sd1, sd2)
    assert not np.allclose(sd1, sd3)
    assert (sd1 >= 0).all() and sd1.mean() > 0
    with pytest.raises(ValueError):
        fit_bags(data, PARAMS, 20, n_bags=1)


@pytest.mark.model
def test_bags_round_trip_and_damaged_files_raise_model_error(tmp_path) -> None:
    from creatorrank.training.uncertainty import BAGS_DIR, fit_bags, has_bags, load_bags, save_bags, score_spread

    data = thin_data()
    X = data.X("train").to_numpy()
    camp = data["train"].frame[C.CAMPAIGN_ID].to_numpy()
    bags = fit_bags(data, PARAMS, 10, n_bags=3, seed=1)
    digests = save_bags(bags, tmp_path, {"n_bags": 3, "seed": 1, "num_rounds": 10})
    assert has_bags(tmp_path)
    loaded = load_bags(tmp_path, digests)
    np.testing.assert_allclose(score_spread(loaded, X, camp), score_spread(bags, X, camp))

    target = tmp_path / BAGS_DIR / "bag_01.txt"
    text = target.read_bytes()
    target.write_bytes(text[: len(text) // 2])  # truncated: refused before LightGBM reads it
    with pytest.raises(ModelError, match="bag_01.txt"):
        load_bags(tmp_path, digests)
    target.write_bytes(text)
    meta = tmp_path / BAGS_DIR / "bags.json"
    meta.write_text(meta.read_text().replace('"seed": 1', '"seed": 2'))
    with pytest.raises(ModelError, match="bags.json"):
        load_bags(tmp_path, digests)


@pytest.mark.model
def test_shard_hooks_give_the_same_spread_as_one_pass() -> None:
    from creatorrank.training.uncertainty import add_member_scores, add_score_sd, fit_bags, score_spread

    data = thin_data()
    X = data.X("train").to_numpy()
    frame = data["train"].frame[[C.CAMPAIGN_ID, C.CREATOR_ID]].reset_index(drop=True)
    bags = fit_bags(data, PARAMS, 10, n_bags=3, seed=2)
    cuts = [0, 13, 50, len(frame)]  # shards split campaigns
    parts = [add_member_scores(frame.iloc[a:b].copy(), bags, X[a:b]) for a, b in zip(cuts, cuts[1:])]
    done = pd.concat(add_score_sd(parts), ignore_index=True)
    assert list(done.columns) == [C.CAMPAIGN_ID, C.CREATOR_ID, C.SCORE_SD]
    np.testing.assert_allclose(done[C.SCORE_SD], score_spread(bags, X, frame[C.CAMPAIGN_ID].to_numpy()))
