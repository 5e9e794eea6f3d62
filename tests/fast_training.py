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
