"""A small, quick, single-threaded training for tests that need a registered model."""

from __future__ import annotations

from pathlib import Path

FAST = {
    "lightgbm": {"num_threads": 1, "num_boost_round": 25, "early_stopping_rounds": 10, "min_data_in_leaf": 5},
    "evaluation": {"shap_rows": 0},
    "tuning": {"trials": 0},
}


def train_fast(data, root: Path, train_until):
    """Train on ``data`` with MLflow in ``root/mlflow.db``; return (TrainResult, tracking URI)."""
    from creatorrank.training.commands import train
    from creatorrank.training.config import config_from_dict

    tracking = f"sqlite:///{(Path(root) / 'mlflow.db').as_posix()}"
    result = train(data, train_until=train_until, trials=0, tracking_uri=tracking, config=config_from_dict(FAST))
    return result, tracking


def direct_ranker(n_creators: int, n_campaigns: int, seed: int, *, posts: float, invitees: float, num_leaves: int,
                  rounds: int, learning_rate: float | None = None):
    """A generated market and a LightGBM ranker fitted straight on its invitations (no MLflow, one thread).

    Returns
    -------
    (tables, frame, bundle)
        The clean tables, the labelled training matrix sorted by campaign and creator, and the bundle.
    """
    import lightgbm as lgb
    import pandas as pd

    from creatorrank.core import constants as C
    from creatorrank.data.generate import generate_market
    from creatorrank.data.validate import validate_tables
    from creatorrank.features.engine import training_matrix
    from creatorrank.features.specs import FEATURE_SET_VERSION, feature_names
    from creatorrank.training.config import LabelConfig
    from creatorrank.training.dataset import categorical_features, labelled_matrix
    from creatorrank.training.encoding import fit_categories
    from creatorrank.training.model import RankerBundle

    market = generate_market(n_creators, n_campaigns, seed, posts_per_creator=posts, invitees_per_campaign=invitees)
    tables, _ = validate_tables(market.tables, now="2026-06-01")
    frame, _ = labelled_matrix(tables, LabelConfig(), pd.Timestamp("2026-06-01", tz="UTC"), matrix=training_matrix(tables))
    frame = frame.sort_values([C.CAMPAIGN_ID, C.CREATOR_ID], kind="stable").reset_index(drop=True)
    features = feature_names()
    categories = fit_categories(frame, categorical_features(features))
    params = dict(objective="lambdarank", num_leaves=num_leaves, min_data_in_leaf=5, num_threads=1, verbosity=-1, seed=1)
    if learning_rate is not None:
        params["learning_rate"] = learning_rate
    bundle = RankerBundle(booster=None, features=features, categories=categories,
                          feature_set_version=FEATURE_SET_VERSION, label={}, params=params)
    ds = lgb.Dataset(bundle.encode_matrix(frame), frame[C.LABEL].to_numpy(),
                     group=frame.groupby(C.CAMPAIGN_ID, sort=False).size().to_numpy(), feature_name=features,
                     categorical_feature=[features.index(c) for c in categories])
    bundle.booster = lgb.train(params, ds, num_boost_round=rounds)
    return tables, frame, bundle
