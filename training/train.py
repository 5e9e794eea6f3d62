"""Fit one LightGBM lambdarank model with early stopping on validation NDCG@k."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import constants as C
from ..core.errors import ConfigError
from ..features.specs import FEATURE_SET_VERSION, get_specs
from .config import TrainingConfig
from .dataset import RankingData
from .model import RankerBundle, trim_booster
from .value import ValueModel, calibrate_on, model_from_config

logger = logging.getLogger(__name__)

VALID_NAME = "validation"


def monotone_constraints(features: list[str], categorical: list[str]) -> list[int]:
    """Per feature: the catalogue ``direction`` (+1/-1/0); categorical features are free (0)."""
    out = []
    for spec in get_specs(features):
        out.append(0 if spec.name in categorical else int(np.sign(spec.direction)))
    return out


def lgb_params(config: TrainingConfig, data: RankingData, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """LightGBM parameters for ``lgb.train``: configured ones, ``overrides``, metric, gains, constraints."""
    params = config.lightgbm.params()
    params.update(overrides or {})
    # The configured threads, never more than the machine has (results do not depend on it:
    # deterministic=True and force_row_wise fix the histogram order).
    params["num_threads"] = max(1, min(int(params.get("num_threads", 1)), os.cpu_count() or 1))
    params["metric"] = "ndcg"
    params["eval_at"] = [config.evaluation.primary_k]
    params["label_gain"] = config.label.gains()
    params["feature_pre_filter"] = False  # tuning changes min_data_in_leaf on the same binned data
    if config.monotone_constraints:
        params["monotone_constraints"] = monotone_constraints(data.features, data.categorical)
    return params


def make_datasets(data: RankingData, params: dict[str, Any]):
    """LightGBM training and validation Datasets (binned once, reusable across fits)."""
    import lightgbm as lgb

    ds_params = {k: params[k] for k in ("max_bin", "seed", "verbosity", "num_threads", "feature_pre_filter") if k in params}
    common = dict(feature_name=list(data.features), categorical_feature=list(data.categorical),
                  free_raw_data=False, params=ds_params)
    # inverse-propensity weights and the value prior's starting scores, when configured
    train = lgb.Dataset(data.X("train").to_numpy(np.float64), label=data.y("train"), group=data["train"].group,
                        weight=data["train"].weight, init_score=data["train"].init_score, **common)
    valid = lgb.Dataset(
        data.X("validation").to_numpy(np.float64), label=data.y("validation"), group=data["validation"].group,
        init_score=data["validation"].init_score, reference=train, **common,
    )
    return train, valid


@dataclass
class FitResult:
    """A fitted booster and how it got there.

    Attributes
    ----------
    booster : lightgbm.Booster
        Trimmed to ``best_iteration`` trees.
    best_iteration : int
    best_score : float
        Validation NDCG@primary_k at ``best_iteration``.
    params : dict
    evals : dict
        Validation metric per iteration.
    """

    booster: Any
    best_iteration: int
    best_score: float
    params: dict[str, Any]
    evals: dict[str, Any] = field(default_factory=dict)


def fit_ranker(
    data: RankingData,
    config: TrainingConfig,
    overrides: dict[str, Any] | None = None,
    callbacks: list | None = None,
    datasets=None,
) -> FitResult:
    """Train on the train split, stop early on validation NDCG@``primary_k``.

    Parameters
    ----------
    data : RankingData
    config : TrainingConfig
    overrides : dict, optional
        Parameters replacing configured ones (e.g. a trial's sample).
    callbacks : list, optional
        Extra LightGBM callbacks (e.g. Optuna pruning).
    datasets : tuple, optional
        ``(train, valid)`` from :func:`make_datasets`, to skip re-binning.

    Returns
    -------
    FitResult
    """
    import lightgbm as lgb

    params = lgb_params(config, data, overrides)
    metric = f"ndcg@{config.evaluation.primary_k}"
    if len(data["train"]) == 0 or len(data["validation"]) == 0:
        raise ConfigError("training and validation splits must both hold campaigns")
    train_set, valid_set = datasets if datasets is not None else make_datasets(data, params)
    evals: dict[str, Any] = {}
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.lightgbm.num_boost_round,
        valid_sets=[valid_set],
        valid_names=[VALID_NAME],
        callbacks=[
            lgb.early_stopping(config.lightgbm.early_stopping_rounds, first_metric_only=True, verbose=False),
            lgb.record_evaluation(evals),
            *(callbacks or []),
        ],
    )
    best = booster.best_iteration or booster.current_iteration()
    curve = evals.get(VALID_NAME, {}).get(metric, [])
    score = float(curve[best - 1]) if curve else float("nan")
    logger.info("fitted %d trees (best iteration %d), validation %s %.4f", booster.current_iteration(), best, metric, score)
    return FitResult(trim_booster(booster, best), best, score, params, evals)


def make_bundle(fit: FitResult, data: RankingData, config: TrainingConfig, metadata: dict[str, Any] | None = None) -> RankerBundle:
    """Wrap a fit with its feature names, encodings and version stamps."""
    meta = {
        "best_iteration": fit.best_iteration,
        "validation_score": fit.best_score,
        "config_digest": config.digest(),
        "cutoff": data.cutoff.isoformat(),
        "holdout_from": data.holdout_from.isoformat(),
    }
    meta.update(metadata or {})
    return RankerBundle(
        booster=fit.booster,
        features=list(data.features),
        categories=dict(data.categories),
        feature_set_version=str(FEATURE_SET_VERSION),
        label=config.label.model_dump(mode="json"),
        params={k: v for k, v in fit.params.items() if k not in ("label_gain", "monotone_constraints")},
        metadata=meta,
    )


def fit_value(data: RankingData, config: TrainingConfig) -> ValueModel:
    """Fit the value model on a :class:`~creatorrank.training.dataset.RankingData`.

    Trains on the train split with early stopping on validation, and fits the level and the
    interval on the validation campaigns (the latest ``value.calibration_days`` of them).
    With ``value.funnel`` the mean is the product of the funnel's stages (accepted, delivered,
    GMV if delivered), each fitted on the rows that reached it.
    Monotone constraints follow the ranker's (``monotone_constraints``) in the single-model
    variant only: the stages are unconstrained. See
    :mod:`creatorrank.training.value` and docs/VALUE.md.
    """
    model = model_from_config(config)
    train, valid = data["train"].frame, data["validation"].frame
    if len(train) == 0 or len(valid) == 0:
        raise ConfigError("value model: training and validation splits must both hold campaigns")
    # The catalogue's directions say what makes a creator *relevant*; a funnel stage can go the other
    # way (big accounts sell more but accept less), and constraining the stages cost 0.04 of
    # eligible capture on the S benchmark. Only the single-model variant follows the ranker's.
    monotone = (monotone_constraints(data.features, data.categorical)
                if config.monotone_constraints and not config.value.funnel else None)
    stages = None
    if config.value.funnel:  # one model per stage of the invitation funnel (training/value.py)
        cols = [C.OUTCOME_ACCEPTED, C.OUTCOME_DELIVERED]
        stages = (train[cols].to_numpy(bool), valid[cols].to_numpy(bool))
    model.fit(data.X("train"), train[C.OUTCOME_GMV].to_numpy(), data.X("validation"),
              valid[C.OUTCOME_GMV].to_numpy(), valid[C.CAMPAIGN_ID].to_numpy(), data.features, data.categories,
              data.categorical, monotone, stages)
    return calibrate_on(model, valid, config.value.calibration_days, "validation")
