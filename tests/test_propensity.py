"""Inverse-propensity weights: the sampled non-invited pool, the invitation model, the row weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from generated_market import written_market

from creatorrank.core import constants as C

pytestmark = pytest.mark.model

N_CREATORS, N_CAMPAIGNS, SEED = 1200, 200, 4


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """Validated tables of a small generated market and its training matrix."""
    from creatorrank.features.engine import training_matrix

    _, tables, _ = written_market(tmp_path_factory.mktemp("ipw_market"), N_CREATORS, N_CAMPAIGNS, SEED)
    return tables, training_matrix(tables)


def _config(**propensity):
    from creatorrank.training.config import TrainingConfig

    cfg = TrainingConfig()
    cfg.lightgbm.num_threads = 1
    cfg.lightgbm.num_boost_round, cfg.lightgbm.early_stopping_rounds = 30, 10
    cfg.propensity.enabled = True
    cfg.propensity.num_boost_round = 40
    for key, value in propensity.items():
        setattr(cfg.propensity, key, value)
    return cfg


def test_negatives_are_eligible_not_invited_and_drawn_the_same_every_time(market) -> None:
    from creatorrank.training.propensity import sample_negatives

    tables, matrix = market
    frame = matrix[matrix[C.CAMPAIGN_ID].isin(matrix[C.CAMPAIGN_ID].unique()[:30])]
    cfg = _config(negatives_per_invitee=1.5).propensity
    neg, share = sample_negatives(tables, frame, cfg, seed=1)
    again, _ = sample_negatives(tables, frame.iloc[::-1], cfg, seed=1)  # row order does not matter
    key = [C.CAMPAIGN_ID, C.CREATOR_ID]
    pd.testing.assert_frame_equal(neg.sort_values(key).reset_index(drop=True),
                                  again.sort_values(key).reset_index(drop=True))
    cr = tables[C.CREATORS].set_index(C.CREATOR_ID)
    camps = tables[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)
    invited = set(zip(tables[C.INVITATIONS][C.CAMPAIGN_ID], tables[C.INVITATIONS][C.CREATOR_ID]))
    assert len(neg) > 0
    assert not any(pair in invited for pair in zip(neg[C.CAMPAIGN_ID], neg[C.CREATOR_ID]))
    assert (cr.loc[neg[C.CREATOR_ID], C.COUNTRY].to_numpy() == camps.loc[neg[C.CAMPAIGN_ID], C.COUNTRY].to_numpy()).all()
    assert (cr.loc[neg[C.CREATOR_ID], C.JOINED_AT].to_numpy() < neg[C.AS_OF].to_numpy()).all()
    assert (neg[C.AS_OF].to_numpy() == camps.loc[neg[C.CAMPAIGN_ID], C.CREATED_AT].to_numpy()).all()
    per = neg.groupby(C.CAMPAIGN_ID).size().reindex(share.index, fill_value=0)
    want = np.minimum(np.ceil(share["invitees"] * 1.5), share["pool"])
    assert (per.to_numpy() == want.to_numpy()).all()
    assert ((share["share"] > 0) & (share["share"] <= 1)).all()
    other, _ = sample_negatives(tables, frame, cfg, seed=2)
    assert not other[key].equals(neg[key])


@pytest.mark.slow
def test_rarely_invited_creators_weigh_more_and_weights_follow_the_method(market) -> None:
    from creatorrank.training.dataset import build_dataset

    tables, matrix = market
    data = build_dataset(tables, _config(method="self_normalised", clip=1e6), matrix=matrix)
    train = data["train"]
    w, p = train.weight, data.propensity.propensity
    assert w is not None and len(w) == len(train.frame) and np.isfinite(w).all() and (w > 0).all()
    assert data["validation"].weight is None and data["test"].weight is None  # graded as seen
    means = pd.Series(w).groupby(train.frame[C.CAMPAIGN_ID].to_numpy()).mean()
    np.testing.assert_allclose(means.to_numpy(), 1.0, rtol=1e-9)  # self-normalised per campaign
    assert ((p > 0) & (p <= 1)).all() and data.propensity.auc > 0.55  # brands' choice is predictable
    # Brands invite big accounts: the smaller half of the invitees carries the larger weights.
    followers = train.frame["followers"].to_numpy(float)
    small = followers < np.nanmedian(followers)
    assert w[small].mean() > w[~small & ~np.isnan(followers)].mean()

    clipped = build_dataset(tables, _config(method="clip", clip=3.0), matrix=matrix)
    np.testing.assert_allclose(clipped["train"].weight, np.minimum(1.0 / clipped.propensity.propensity, 3.0))
    assert clipped["train"].weight.max() <= 3.0
    same = build_dataset(tables, _config(method="clip", clip=3.0), matrix=matrix)
    np.testing.assert_array_equal(same["train"].weight, clipped["train"].weight)  # deterministic
    assert same.digest() == clipped.digest() != build_dataset(tables, _config(enabled=False), matrix=matrix).digest()


def test_weights_reach_lightgbm_and_change_the_model(market) -> None:
    from creatorrank.training.dataset import build_dataset
    from creatorrank.training.train import fit_ranker, lgb_params, make_datasets

    tables, matrix = market
    cfg = _config(method="clip", clip=5.0)
    data = build_dataset(tables, cfg, matrix=matrix)
    train_set, valid_set = make_datasets(data, lgb_params(cfg, data))
    train_set.construct(), valid_set.construct()
    np.testing.assert_allclose(train_set.get_weight(), data["train"].weight, rtol=1e-6)  # LightGBM holds float32
    assert valid_set.get_weight() is None
    assert data.summary()["propensity.negatives"] > 0 and 0.5 < data.summary()["propensity.auc"] <= 1.0
    plain = build_dataset(tables, _config(enabled=False), matrix=matrix)
    assert plain["train"].weight is None and "propensity.auc" not in plain.summary()
    weighted = fit_ranker(data, cfg).booster.predict(data.X("test").to_numpy(np.float64))
    unweighted = fit_ranker(plain, _config(enabled=False)).booster.predict(plain.X("test").to_numpy(np.float64))
    assert not np.allclose(weighted, unweighted)
