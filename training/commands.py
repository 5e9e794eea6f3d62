"""The training commands as plain functions: ``train``, ``evaluate``, ``promote``.

The CLI (``creatorrank train|evaluate|promote``) and the tests call these directly. They
log progress through ``logging.getLogger(__name__)`` and never configure logging.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError, ModelError, RefusedError
from ..data.validate import load_clean_tables
from ..features.engine import training_matrix
from ..features.specs import FEATURE_SET_VERSION
from .baselines import baseline_scores
from .config import LabelConfig, TrainingConfig, load_config
from .dataset import (PROPENSITY_NEEDS_TABLES, build_dataset, complete_campaigns, labelled_matrix, resolve_cutoff,
                      sort_queries, to_cutoff, when)
from .mlflow_io import load_ranker, log_bundle
from .registry import register, set_alias, tag_version, version_of, version_tags
from .tracking import (ensure_experiment, flatten, log_evaluation, log_lineage, metric_key, study_storage,
                       tracked_run, use_tracking)
from .metrics import QualityGate, compare_rankers, quality_gate
from .dask_train import ENGINES, assemble_labelled, fit_ranker_dask, learner_metadata
from .train import fit_ranker, fit_value, make_bundle
from .value_prior import PriorChoice, choose_prior, merge_prior
from .tune import tune
from .value import ValueEvaluation, calibrate_on, evaluate_value

logger = logging.getLogger(__name__)

MODEL_ROW = "model"
POSITIVE_TAG = "train.positive_campaigns"  # training campaigns with a positive outcome (bundle meta + tag)


@dataclass
class TrainResult:
    """What one training produced.

    Attributes
    ----------
    run_id : str
        MLflow parent run.
    model_uri : str
        ``models:/creator-ranker/VERSION``.
    model_version : int
        Registered version (alias ``challenger`` points at it).
    metrics : DataFrame
        Test-campaign metric means, one row per ranker: ``model`` and the baselines (and
        ``oracle`` once :func:`creatorrank.training.oracle.with_oracle` added it). Columns ``ndcg@k``,
        ``map@k``, ``gmv@k``, ``campaigns`` (with a positive), ``no_positive``.
    no_positive_campaigns : int
        Test campaigns without any net GMV (left out of the means).
    per_campaign : DataFrame
        Metrics of every test campaign and ranker.
    best_params : dict
        Tuned parameters ({} without tuning).
    best_iteration : int
    gap_closed : float
        Share of the NDCG@primary_k gap between the best baseline and the oracle closed by
        the model: NaN unless :func:`creatorrank.training.oracle.with_oracle` filled it
        (generated markets only; ``train`` never reads the generator's truth).
    data : RankingData
        The splits the model was trained and tested on.
    gate : QualityGate
        Whether the model beats each baseline on the test campaigns, with the paired
        bootstrap interval of (model - best baseline) NDCG@primary_k
        (:func:`creatorrank.training.metrics.quality_gate`).
    warnings : list of str
        What the user must know about these numbers (e.g. too few test campaigns to tell).
    value : ValueEvaluation or None
        The value model on the test campaigns (forecast / realized, interval coverage,
        Spearman; level fitted on validation): None with ``value.enabled: false``.
    """

    run_id: str
    model_uri: str
    model_version: int
    metrics: pd.DataFrame
    no_positive_campaigns: int
    per_campaign: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    best_params: dict[str, Any] = field(default_factory=dict)
    best_iteration: int = 0
    gap_closed: float = float("nan")
    data: Any = field(repr=False, default=None)
    gate: QualityGate | None = None
    warnings: list[str] = field(default_factory=list)
    value: ValueEvaluation | None = field(repr=False, default=None)

    @property
    def beats_baselines(self) -> bool:
        return bool(self.gate and self.gate.beats_baselines)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured, and on which campaigns.

    Attributes
    ----------
    metrics : DataFrame
        One row per ranker (``model`` and the baselines), as in
        :class:`TrainResult`.
    per_campaign : DataFrame
        Metrics of every evaluated campaign and ranker.
    window : str
        Which campaigns were evaluated, in words (printed).
    since : Timestamp
        Campaigns created at or after this time were evaluated.
    model_uri : str
    model_version : int or None
    cutoff : Timestamp or None
        The model's training cutoff (None when the model does not record it).
    in_sample : bool
        The window holds campaigns the model was fitted on (training or validation campaigns,
        or, when the model does not record its hold-out start, any campaign complete at its
        cutoff): its numbers are not an out-of-sample test.
    campaigns : int
        Campaigns evaluated (with or without a positive outcome).
    gate : QualityGate
        Model against each baseline on these campaigns, with the bootstrap interval.
    warnings : list of str
    value : ValueEvaluation or None
        The model's value model on these campaigns (None when it has none).
    run_id : str or None
        The MLflow run this backtest was tracked in (``kind=backtest``).
    """

    metrics: pd.DataFrame
    per_campaign: pd.DataFrame = field(repr=False)
    window: str
    since: pd.Timestamp | None
    model_uri: str
    model_version: int | None
    cutoff: pd.Timestamp | None
    in_sample: bool
    campaigns: int
    gate: QualityGate | None = None
    warnings: list[str] = field(default_factory=list)
    value: ValueEvaluation | None = field(repr=False, default=None)
    run_id: str | None = None

    @property
    def beats_baselines(self) -> bool:
        return bool(self.gate and self.gate.beats_baselines)

    @property
    def delta_ci(self) -> tuple[float, float]:
        """Bootstrap interval of (model - best baseline) on the primary metric."""
        best = self.gate.best if self.gate else None
        return (best.ci_low, best.ci_high) if best else (float("nan"), float("nan"))


@dataclass
class PromotionDecision:
    """Outcome of :func:`promote`.

    Attributes
    ----------
    promoted : bool
        The challenger is champion now.
    challenger_version, champion_version : int or None
        Versions compared (``champion_version``: the champion before the decision).
    metric : str
    challenger_score, champion_score : float
        Mean ``metric`` on the comparison campaigns (NaN when not evaluated).
    margin : float
    campaigns : int
        Comparison campaigns with a positive outcome.
    reason : str
    """

    promoted: bool
    challenger_version: int | None
    champion_version: int | None
    metric: str
    challenger_score: float
    champion_score: float
    margin: float
    campaigns: int
    reason: str
    metrics: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def new_champion_version(self) -> int | None:
        return self.challenger_version if self.promoted else self.champion_version

    def __str__(self) -> str:
        verdict = "promoted" if self.promoted else "kept champion"
        return f"{verdict}: {self.reason} (champion is now version {self.new_champion_version})"


# ---------------------------------------------------------------------- helpers


def _config(config_path, config: TrainingConfig | None) -> TrainingConfig:
    return config if config is not None else load_config(config_path)


def _load_tables(data_dir) -> dict[str, pd.DataFrame]:
    tables = load_clean_tables(data_dir)
    logger.info("loaded %s: %s", data_dir, ", ".join(f"{len(t):,} {n}" for n, t in tables.items()))
    return tables


def _training_matrix(tables) -> pd.DataFrame:
    logger.info("building point-in-time features")
    return training_matrix(tables)


def score_rankers(frame: pd.DataFrame, model_scores: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Scores of the given models and every baseline for the same rows."""
    return {**model_scores, **baseline_scores(frame, seed)}


def judge(per_campaign: pd.DataFrame, cfg: TrainingConfig, model: str = MODEL_ROW) -> QualityGate:
    """The quality gate of ``model`` against every baseline on NDCG@primary_k (see :func:`quality_gate`).

    Resamples and the "too few to tell" threshold come from ``evaluation.bootstrap_resamples``
    and ``evaluation.min_campaigns_to_tell``; the bootstrap is seeded with ``evaluation.random_seed``.
    """
    ev = cfg.evaluation
    return quality_gate(
        per_campaign, f"ndcg@{ev.primary_k}", model,
        n_resamples=ev.bootstrap_resamples,
        seed=int(ev.random_seed),
        min_campaigns=ev.min_campaigns_to_tell,
    )


def _report_gate(gate: QualityGate, what: str) -> list[str]:
    """Log the gate's verdict and return its warnings (one line each)."""
    logger.info("%s: %s", what, gate.verdict())
    warnings = [] if gate.warning() is None else [f"{what}: {gate.warning()}"]
    if not gate.beats_baselines:
        warnings.append(f"{what}: {gate.verdict()}")
    for line in warnings:
        logger.warning("%s", line)
    return warnings


def _study_name(config: TrainingConfig, data_digest: str) -> str:
    cfg = config.result_dump()  # where the work runs does not change the study
    cfg["tuning"] = {k: v for k, v in cfg["tuning"].items() if k not in ("trials", "timeout_s")}
    key = hashlib.sha256((json.dumps(cfg, sort_keys=True) + data_digest).encode()).hexdigest()[:12]
    return f"{config.registered_model}-{key}"


def _log_trial(trial, params, fit) -> None:
    import mlflow

    parent = mlflow.active_run()
    with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True,
                          experiment_id=parent.info.experiment_id if parent else None):
        mlflow.log_params(params)
        mlflow.set_tag("optuna.trial", trial.number)
        if fit is None:
            mlflow.set_tag("optuna.state", "pruned")
            attrs = trial.user_attrs
            if "last_value" in attrs:
                mlflow.log_metric("validation.ndcg_last", attrs["last_value"], step=int(attrs["pruned_at"]))
        else:
            mlflow.set_tag("optuna.state", "complete")
            mlflow.log_metric("validation.ndcg", fit.best_score)
            mlflow.log_metric("best_iteration", fit.best_iteration)


# ------------------------------------------------------------------------ train


def train(
    data_dir: str | os.PathLike,
    config_path: str | os.PathLike | None = None,
    train_until: str | pd.Timestamp | None = None,
    trials: int | None = None,
    tracking_uri: str | None = None,
    *,
    config: TrainingConfig | None = None,
    matrix: pd.DataFrame | None = None,
    engine: str | None = None,
    scheduler: Any = None,
) -> TrainResult:
    """Train a ranker on completed campaigns, track it in MLflow, register it as challenger.

    Parameters
    ----------
    data_dir : path-like
        Folder of raw contract tables.
    config_path : path-like, optional
        YAML/JSON training config (defaults otherwise).
    train_until : str or Timestamp, optional
        Cutoff: train on campaigns whose ``ends_at + label_settle_days`` is before it.
        Default: now, or the end of the data when that is earlier.
    trials : int, optional
        Optuna trials (default ``tuning.trials``); 0 fits the configured parameters.
    tracking_uri : str, optional
        MLflow store (default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    config : TrainingConfig, optional
        An already loaded config (wins over ``config_path``).
    matrix : DataFrame, optional
        A precomputed training matrix of ``data_dir`` (skips feature building).
    engine : {"local", "dask"}, optional
        Where the training matrix is built (default the config's ``engine``): ``dask`` builds
        and labels it by creator shard on a Dask cluster, each worker reading its rows of the
        data folder, the client holding only the creators, the campaigns and the labelled rows
        (the same rows, so the same model with ``dask.learner: local``; ``propensity.enabled``
        is refused). See :mod:`creatorrank.training.dask_train`.
    scheduler : str, Client or None
        Dask scheduler address or client (default the config's ``dask.scheduler``; none: a
        LocalCluster for the run), for ``engine: dask`` or ``dask.learner: dask``.

    Returns
    -------
    TrainResult
        With the quality gate: whether the model beats each baseline on the test campaigns
        (paired bootstrap interval of model minus best baseline), also tagged on the run and
        the registered version (``beats_baselines``, ``beats.<baseline>``, ``delta_ci_low``...).

    Raises
    ------
    InputError
        No complete campaign before the cutoff, none with a positive outcome, or too few to
        give train, validation and test one each: raised before a run is started or anything
        is registered.
    """
    cfg = _config(config_path, config)
    engine = cfg.engine if engine is None else str(engine)
    if engine not in ENGINES:
        raise ConfigError(f"engine must be local or dask, got {engine!r}")
    if engine == "dask" and matrix is None and cfg.propensity.enabled:
        raise ConfigError(PROPENSITY_NEEDS_TABLES)
    if engine == "local" and cfg.dask.learner == "local":
        if scheduler is not None:  # the config's dask.scheduler is simply unused here
            raise ConfigError("a Dask scheduler needs engine dask (or dask.learner: dask)")
        return _train_run(data_dir, cfg, train_until, trials, tracking_uri, matrix, engine, None)
    scheduler = cfg.dask.scheduler if scheduler is None else scheduler
    from ..serving.dask_engine import dask_client

    with dask_client(scheduler) as dask:
        return _train_run(data_dir, cfg, train_until, trials, tracking_uri, matrix, engine, dask)


def _train_run(data_dir, cfg: TrainingConfig, train_until, trials, tracking_uri, matrix, engine: str,
               dask) -> TrainResult:
    """:func:`train`'s body; ``dask`` is the Dask client (None when nothing runs on Dask)."""
    import mlflow
    import yaml

    n_trials = cfg.tuning.trials if trials is None else int(trials)
    if n_trials < 0:
        raise ConfigError(f"trials must be >= 0, got {n_trials}")
    client = use_tracking(tracking_uri)
    experiment_id = ensure_experiment(client, cfg.experiment_name)
    if matrix is None and engine == "dask":  # the client never loads posts, orders or invitations
        logger.info("building and labelling point-in-time features on Dask, sharded by creator")
        small, labelled = assemble_labelled(data_dir, cfg, train_until, dask, cfg.dask.n_shards)
        data = build_dataset(small, cfg, labelled=labelled)  # stops here when nothing can be learned
    else:
        tables = _load_tables(data_dir)
        matrix = _training_matrix(tables) if matrix is None else matrix
        data = build_dataset(tables, cfg, train_until, matrix=matrix)  # stops here when nothing can be learned
    digest = data.digest()
    n_positive = int(data.summary()["train_positive_campaigns"])
    primary = f"ndcg@{cfg.evaluation.primary_k}"

    with tracked_run(experiment_id, f"train-{data.cutoff:%Y%m%dT%H%M}") as run, \
            tempfile.TemporaryDirectory(prefix="creatorrank-train-") as tmp:
        work = Path(tmp)
        run_id = run.info.run_id
        mlflow.set_tags({"creatorrank.command": "train", C.FEATURE_SET_VERSION: str(FEATURE_SET_VERSION),
                         "data_digest": digest, "config_digest": cfg.digest()})
        params = {k: (str(v)[:500]) for k, v in flatten(cfg.model_dump(mode="json")).items()
                  if not k.startswith("tuning.search_space")}
        params.update({"trials": n_trials, "train_until": data.cutoff.isoformat(), "n_features": len(data.features),
                       C.FEATURE_SET_VERSION: str(FEATURE_SET_VERSION), "data_dir": str(Path(data_dir).resolve()),
                       "engine": engine})
        mlflow.log_params(params)
        mlflow.log_metrics({f"data.{k}": v for k, v in data.summary().items()})
        (work / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        mlflow.log_artifact(str(work / "config.yaml"))
        log_lineage(data, source=str(Path(data_dir).resolve()))

        value_model, prior = _value_prior(data, cfg) if cfg.value.enabled else (None, None)
        best_params: dict[str, Any] = {}
        if n_trials > 0:
            storage = study_storage(client.tracking_uri)
            result = tune(data, cfg, storage, _study_name(cfg, digest), n_trials, on_trial=_log_trial)
            best_params = result.best_params
            mlflow.set_tag("optuna.study", result.study_name)
            mlflow.log_metric("tuning.trials_total", result.trials_total)
            if best_params:
                mlflow.log_params({f"best.{k}": v for k, v in best_params.items()})
                mlflow.log_metric(f"validation.best_trial.{metric_key(primary)}", result.best_value)
        logger.info("fitting the final model%s", " with the best trial's parameters" if best_params else "")
        meta = {"data_digest": digest, "run_id": run_id, POSITIVE_TAG: n_positive}
        if cfg.dask.learner == "dask":  # value model and bags below stay on the local learner
            fit = fit_ranker_dask(data, cfg, dask, best_params)
            meta.update(learner_metadata(cfg, fit, dask))
        else:
            fit = fit_ranker(data, cfg, best_params)
        weight = prior.weight if prior is not None else 0.0
        if prior is not None:
            meta["value_prior"] = prior.metadata()
        bundle = make_bundle(fit, data, cfg, metadata=meta)
        bundle.booster = merge_prior(value_model, weight, fit.booster)
        mlflow.log_metrics({"best_iteration": fit.best_iteration, f"validation.{metric_key(primary)}": fit.best_score})
        if cfg.uncertainty.n_bags:
            from .uncertainty import fit_bags

            logger.info("fitting %d bagged rankers for score_sd", cfg.uncertainty.n_bags)
            # Members keep only their own trees: the prior is the same in every member, so it
            # cancels out of score_sd (the spread of each member's score around its campaign mean).
            bundle.bags = fit_bags(data, fit.params, fit.best_iteration, cfg.uncertainty.n_bags, cfg.lightgbm.seed)
            bundle.metadata["bags"] = {"n_bags": cfg.uncertainty.n_bags, "seed": cfg.lightgbm.seed,
                                       "num_rounds": fit.best_iteration}

        test = data["test"].frame
        value_eval = _train_value(data, cfg, bundle, work, value_model) if value_model is not None else None
        scores = score_rankers(test, {MODEL_ROW: bundle.predict(test)}, cfg.evaluation.random_seed)
        summary, per_campaign = compare_rankers(
            test, scores, cfg.evaluation.k, cfg.evaluation.gmv_k, cfg.label.evaluation_gains()
        )
        gate = judge(per_campaign, cfg)
        warnings = _report_gate(gate, "test campaigns")
        mlflow.set_tags({**gate.tags(), POSITIVE_TAG: n_positive})
        mlflow.log_metrics({f"test.{k}": v for k, v in gate.metrics().items()})
        shap_sample = None
        if cfg.evaluation.shap_rows > 0 and len(test):
            shap_sample = data.X("test").sample(n=min(cfg.evaluation.shap_rows, len(test)), random_state=0)
        log_evaluation(summary, per_campaign, bundle, cfg.evaluation.k, work, shap_sample)

        info = log_bundle(bundle, test, work)
        tags = {
            C.FEATURE_SET_VERSION: str(FEATURE_SET_VERSION),
            "data_digest": digest,
            "train_until": data.cutoff.isoformat(),
            "holdout_from": data.holdout_from.isoformat(),
            f"test.{metric_key(primary)}": f"{summary.loc[MODEL_ROW, primary]:.6f}",
            POSITIVE_TAG: n_positive,
            **gate.tags(),
            "value_model": "yes" if bundle.value is not None else "no",
            **({k: f"{v:.6f}" for k, v in value_eval.metrics().items()} if value_eval is not None else {}),
        }
        version = register(client, info.model_uri, cfg.registered_model, alias=C.CHALLENGER, tags=tags,
                           bundle=bundle)
        mlflow.set_tag("registered_version", version)

    n_empty = int(summary.loc[MODEL_ROW, "no_positive"])
    logger.info("test %s: model %.4f; %d test campaign(s) without sales left out",
                primary, summary.loc[MODEL_ROW, primary], n_empty)
    return TrainResult(
        run_id=run_id,
        model_uri=f"models:/{cfg.registered_model}/{version}",
        model_version=version,
        metrics=summary,
        no_positive_campaigns=n_empty,
        per_campaign=per_campaign,
        best_params=best_params,
        best_iteration=fit.best_iteration,
        data=data,
        gate=gate,
        warnings=warnings,
        value=value_eval,
    )


def _value_prior(data, cfg: TrainingConfig):
    """The value model, fitted first, and the ranker's prior weight chosen from it (:mod:`.value_prior`).

    The dask learner has no prior (it fits one configuration, without early stopping): weight 0.
    """
    import mlflow

    logger.info("fitting the value model (%s)", "funnel" if cfg.value.funnel else
                f"tweedie, variance power {cfg.value.tweedie_variance_power:g}")
    model = fit_value(data, cfg)
    if cfg.dask.learner == "dask":
        if any(cfg.value.ranker_prior_weights):
            logger.warning("value prior: not used with dask.learner: dask (the ranker starts from 0)")
        return model, PriorChoice(0.0)
    prior = choose_prior(data, cfg, model, fit_ranker)
    mlflow.log_metrics({"value_prior.weight": prior.weight,
                        **{f"value_prior.validation.{w:g}": v for w, v in prior.scores.items() if not np.isnan(v)}})
    return model, prior


def _train_value(data, cfg: TrainingConfig, bundle, work: Path, model) -> ValueEvaluation:
    """Judge the fitted value model on the test campaigns, attach it to ``bundle`` and log it.

    The test numbers are those of the model calibrated on the validation campaigns (the test
    campaigns are after them in time, never a random split). With ``value.recalibrate_latest``
    the level and the interval of the model that is registered are then refitted on the
    validation and test campaigns, the latest settled ones before the cutoff (docs/VALUE.md).
    """
    import mlflow

    from .tracking import log_frame

    test = data["test"].frame
    value_eval = evaluate_value(model, test, f"{data['test'].n_campaigns:,} test campaigns")
    for line in value_eval.lines():
        logger.info("%s", line)
    logged = {**value_eval.metrics(), "value_best_iteration": float(model.best_iteration_),
              "value_level_validation": model.level_,
              **{f"value_trees.{stage['name']}": float(stage["best_iteration"]) for stage in model.stages_}}
    bundle.metadata["value_calibration_validation"] = dict(model.calibration_)
    if cfg.value.recalibrate_latest:
        latest = pd.concat([data["validation"].frame, test], ignore_index=True)
        calibrate_on(model, latest, cfg.value.calibration_days, "validation and test")
        value_eval.recalibrated = dict(model.calibration_)
        logger.info("value model: level %.3f (refitted on %s)", model.level_, model.calibration_["on"])
    logged["value_level"] = model.level_
    bundle.metadata["value_calibration"] = dict(model.calibration_)
    bundle.value = model
    mlflow.log_metrics({k: v for k, v in logged.items() if not np.isnan(v)})
    log_frame(value_eval.per_campaign, "value_per_campaign.csv", work)
    return value_eval


# --------------------------------------------------------------------- evaluate


def _complete_frame(tables, label: LabelConfig, settle_days: int, matrix: pd.DataFrame | None,
                    cutoff=None) -> pd.DataFrame:
    if matrix is None:
        matrix = _training_matrix(tables)
    frame, _ = labelled_matrix(tables, label, resolve_cutoff(tables, cutoff), settle_days, matrix)
    return sort_queries(frame)[0]


def _evaluate_bundles(frame: pd.DataFrame, bundles: dict[str, Any],
                      config: TrainingConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every bundle and the baselines on the same rows, graded as the first bundle was trained."""
    scores = score_rankers(frame, {name: b.predict(frame) for name, b in bundles.items()},
                           config.evaluation.random_seed)
    gains = LabelConfig.model_validate(next(iter(bundles.values())).label).evaluation_gains()
    return compare_rankers(frame, scores, config.evaluation.k, config.evaluation.gmv_k, gains)


def model_cutoff(bundle, tracking_uri: str | None = None) -> pd.Timestamp | None:
    """The training cutoff a model records: its bundle's ``cutoff``, else its version tag ``train_until``."""
    value = (bundle.metadata or {}).get("cutoff")
    if not value and bundle.model_name and bundle.model_version is not None:
        value = version_tags(use_tracking(tracking_uri), bundle.model_name, bundle.model_version).get("train_until")
    if not value:
        return None
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _window(frame: pd.DataFrame, tables, start: pd.Timestamp | None, explicit: bool,
            cutoff: pd.Timestamp | None, bundle, settle_days: int) -> tuple[str, bool, list[str]]:
    """Describe the evaluated campaigns; flag those the model was built from (in-sample)."""

    n = int(frame[C.CAMPAIGN_ID].nunique())
    if cutoff is None:
        return (f"{n} complete campaign(s){' created since ' + when(start) if start is not None else ''}", True,
                ["the model records no training cutoff: the window may hold campaigns it was trained on (in-sample)"])
    if not explicit:
        window = f"{n} complete campaign(s) created since the model's training cutoff {when(cutoff)} (out of sample)"
        return window, False, []
    window = f"{n} complete campaign(s) created since {when(start)} (since given)"
    ids = frame[C.CAMPAIGN_ID].astype(str).unique()
    seen_ids = set(complete_campaigns(tables[C.CAMPAIGNS], cutoff, settle_days)[C.CAMPAIGN_ID].astype(str))
    seen = [i for i in ids if i in seen_ids]
    if not seen:
        return window + ", none complete at the model's training cutoff (out of sample)", False, []
    holdout = (bundle.metadata or {}).get("holdout_from")
    fitted = ""
    if holdout:
        created = frame.groupby(frame[C.CAMPAIGN_ID].astype(str), sort=False)[C.AS_OF].first()
        n_fit = int((created.loc[seen] < pd.Timestamp(holdout)).sum())
        if n_fit == 0:  # only its own held-out test campaigns: out of sample, but not news
            return (window + f", {len(seen)} of them the model's own test campaigns", False,
                    [f"the window starts before the model's training cutoff {when(cutoff)}: {len(seen)} of {n} "
                     "campaigns are its own test campaigns (held out from fitting, already reported by train)"])
        fitted = f" ({n_fit} fitted on, {len(seen) - n_fit} its own test campaigns)"
    warning = (f"the window overlaps the model's training data: {len(seen)} of {n} campaigns were complete at its "
               f"training cutoff {when(cutoff)}{fitted}; these numbers are in-sample")
    return window + ", IN-SAMPLE", True, [warning]


def evaluate(
    data_dir: str | os.PathLike,
    model_uri: str,
    since: str | pd.Timestamp | None = None,
    tracking_uri: str | None = None,
    *,
    config_path: str | os.PathLike | None = None,
    config: TrainingConfig | None = None,
    matrix: pd.DataFrame | None = None,
) -> EvaluationResult:
    """Backtest a model on complete campaigns, by default those created after its training cutoff.

    Parameters
    ----------
    data_dir : path-like
    model_uri : str
        e.g. ``models:/creator-ranker@champion`` (resolved to a version once).
    since : str or Timestamp, optional
        Only campaigns created at or after this time. Default: the model's training cutoff
        (bundle ``cutoff``, else the version tag ``train_until``), so that the numbers are out of
        sample. An earlier ``since`` may include campaigns the model was fitted on: the result
        is then flagged ``in_sample`` and a warning says how many (its own held-out test
        campaigns are named in a warning but are not in-sample).
    tracking_uri : str, optional
    config_path, config : optional
        Evaluation cut-offs and seeds; labels follow the model's own grading.
    matrix : DataFrame, optional
        Precomputed training matrix.

    Returns
    -------
    EvaluationResult
        Metrics of the model and the baselines, the window, the in-sample flag and the
        quality gate (beats each baseline? bootstrap interval of the difference).

    Raises
    ------
    ModelError
        Unknown model, or no complete campaign in the window.
    """
    cfg = _config(config_path, config)
    bundle = load_ranker(model_uri, tracking_uri)
    if str(bundle.feature_set_version) != str(FEATURE_SET_VERSION):
        logger.warning("model was trained on feature set %s, the catalogue is %s",
                       bundle.feature_set_version, FEATURE_SET_VERSION)
    cutoff = model_cutoff(bundle, tracking_uri)
    start = to_cutoff(since) if since is not None else cutoff
    tables = _load_tables(data_dir)
    label = LabelConfig.model_validate(bundle.label)
    frame = _complete_frame(tables, label, cfg.label_settle_days, matrix)
    if start is not None:
        frame = frame[frame[C.AS_OF] >= start].reset_index(drop=True)
    if frame.empty:
        if since is None and cutoff is not None:
            raise ModelError(
                f"no complete campaign created since the model's training cutoff {when(cutoff)} to evaluate on "
                f"(a campaign is complete {cfg.label_settle_days} days after it ends); pass --since to backtest "
                "earlier campaigns (in-sample)")
        raise ModelError(f"no complete campaign{' created since ' + when(start) if start is not None else ''} "
                         "to evaluate on")
    window, in_sample, warnings = _window(frame, tables, start, since is not None, cutoff, bundle,
                                          cfg.label_settle_days)
    for line in warnings:
        logger.warning("%s", line)
    summary, per_campaign = _evaluate_bundles(frame, {MODEL_ROW: bundle}, cfg)
    gate = judge(per_campaign, cfg)
    warnings += _report_gate(gate, "evaluated campaigns")
    value_eval = None
    if bundle.value is not None:
        value_eval = evaluate_value(bundle.value, frame, window)
        for line in value_eval.lines():
            logger.info("%s", line)
    else:
        logger.info("the model has no value model: no expected-GMV calibration to report")
    uri = bundle.model_uri or model_uri
    logger.info("evaluated %s on %s", uri, window)
    result = EvaluationResult(
        metrics=summary, per_campaign=per_campaign, window=window, since=start, model_uri=uri,
        model_version=bundle.model_version, cutoff=cutoff, in_sample=in_sample,
        campaigns=int(frame[C.CAMPAIGN_ID].nunique()), gate=gate,
        warnings=warnings, value=value_eval,
    )
    result.run_id = _log_backtest(result, cfg, tracking_uri)
    return result


def _log_backtest(result: EvaluationResult, cfg: TrainingConfig, tracking_uri: str | None) -> str:
    """Track a backtest as its own MLflow run: metrics ``eval.<ranker>.<metric>``, the gate, the value model.

    The run sits in the training experiment, tagged with the model version it judged, so a
    version's training run and every later backtest of it can be listed side by side.
    """
    import mlflow

    from .tracking import log_frame, log_summary_metrics

    client = use_tracking(tracking_uri)
    experiment = ensure_experiment(client, cfg.experiment_name)
    name = f"evaluate {result.model_uri}" + (f" v{result.model_version}" if result.model_version else "")
    with tracked_run(experiment, name) as run, \
            tempfile.TemporaryDirectory(prefix="creatorrank-evaluate-") as tmp:
        tags = {"kind": "backtest", "model_uri": str(result.model_uri), "window": result.window,
                "in_sample": str(bool(result.in_sample)).lower(), "campaigns": str(result.campaigns)}
        if result.model_version is not None:
            tags["model_version"] = str(result.model_version)
        if result.gate is not None:
            tags.update(result.gate.tags())
        mlflow.set_tags(tags)
        log_summary_metrics(result.metrics, "eval")
        log_frame(result.per_campaign, "evaluation/per_campaign.csv", Path(tmp))
        if result.value is not None:
            mlflow.log_metrics(result.value.metrics("eval."))
            log_frame(result.value.per_campaign, "evaluation/value_per_campaign.csv", Path(tmp))
        return run.info.run_id


# ---------------------------------------------------------------------- promote


def promote(
    data_dir: str | os.PathLike,
    margin: float | None = None,
    tracking_uri: str | None = None,
    *,
    config_path: str | os.PathLike | None = None,
    config: TrainingConfig | None = None,
    matrix: pd.DataFrame | None = None,
) -> PromotionDecision:
    """Move ``champion`` to the challenger if it beats the baselines and is at least as good as the champion.

    The challenger (and the champion, if any) is scored on the same complete campaigns: those
    created at or after the later of the models' hold-out starts (neither trained on them),
    or, when fewer than ``promotion.min_campaigns`` remain, the ``promotion.recent_campaigns``
    most recent ones. Quality gates come first, the first model included: the challenger is
    refused (:class:`RefusedError`, exit 3, registry aliases unchanged, version tagged
    ``promotion=refused`` with the reason) when it was trained on data without a positive
    outcome, when its NDCG@primary_k is NaN, or, unless ``promotion.require_beat_baselines``
    is false, when it is not shown to beat every baseline on these campaigns (paired
    bootstrap, see :func:`creatorrank.training.metrics.quality_gate`). Past the gates, without
    a champion the challenger becomes champion; otherwise it wins when its mean
    NDCG@primary_k >= the champion's + ``margin``. Both versions are tagged with the decision.

    Parameters
    ----------
    data_dir : path-like
    margin : float, optional
        Required gain over the champion (default ``promotion.margin``; negative tolerates
        a small loss). Must be finite.
    tracking_uri : str, optional

    Returns
    -------
    PromotionDecision

    Raises
    ------
    ModelError
        No challenger registered.
    ConfigError
        A non-finite margin.
    RefusedError
        A quality gate refused the challenger.
    """
    cfg = _config(config_path, config)
    margin = _finite_margin(cfg.promotion.margin if margin is None else margin,
                            "promotion.margin" if margin is None else "--margin")
    name = cfg.registered_model
    metric = f"ndcg@{cfg.evaluation.primary_k}"
    client = use_tracking(tracking_uri)
    challenger = version_of(client, name, C.CHALLENGER)
    if challenger is None:
        raise ModelError(f"model '{name}' has no @{C.CHALLENGER} version: run `creatorrank train` first")
    champion = version_of(client, name, C.CHAMPION)
    now = pd.Timestamp.now(tz="UTC").isoformat()
    if champion == challenger:
        reason = f"version {challenger} is already the champion"
        return PromotionDecision(False, challenger, champion, metric, float("nan"), float("nan"), margin, 0, reason)

    bundles = {"challenger": load_ranker(f"models:/{name}/{challenger}", tracking_uri)}
    if champion is not None:
        bundles["champion"] = load_ranker(f"models:/{name}/{champion}", tracking_uri)
    tables = _load_tables(data_dir)
    label = LabelConfig.model_validate(bundles["challenger"].label)
    frame = _complete_frame(tables, label, cfg.label_settle_days, matrix)
    frame, window = _comparison_window(frame, bundles, cfg)
    summary, per_campaign = _evaluate_bundles(frame, bundles, cfg)
    ch_score = float(summary.loc["challenger", metric])
    n = int(summary.loc["challenger", "campaigns"])
    gate = judge(per_campaign, cfg, "challenger")
    common = {"promotion.at": now, "promotion.metric": metric, "promotion.margin": margin,
              "promotion.campaigns": n, "promotion.window": window, **gate.tags("promotion.")}

    refusal = _refusal(client, name, challenger, bundles["challenger"], ch_score, gate, cfg, window)
    if refusal:
        tag_version(client, name, challenger, {**common, "promotion": "refused", "promotion.decision": "refused",
                                               "promotion.reason": refusal,
                                               f"promotion.{metric_key(metric)}": f"{ch_score:.6f}"})
        logger.warning("%s", refusal)
        raise RefusedError(refusal)

    if champion is None:
        reason = f"version {challenger} is the first model and {gate.verdict().removeprefix('model ')} ({window})"
        set_alias(client, name, C.CHAMPION, challenger)
        tag_version(client, name, challenger, {**common, "promotion": "promoted", "promotion.decision": "promoted",
                                               "promotion.reason": reason,
                                               f"promotion.{metric_key(metric)}": f"{ch_score:.6f}"})
        logger.info(reason)
        return PromotionDecision(True, challenger, None, metric, ch_score, float("nan"), margin, n, reason, summary)

    champ_score = float(summary.loc["champion", metric])
    promoted = ch_score >= champ_score + margin
    cmp = ">=" if promoted else "<"
    reason = (f"challenger v{challenger} {metric} {ch_score:.4f} {cmp} champion v{champion} "
              f"{champ_score:.4f} + margin {margin:g} on {n} campaigns ({window})")
    if promoted:
        set_alias(client, name, C.CHAMPION, challenger)
    common["promotion.reason"] = reason
    tag_version(client, name, challenger, {**common, "promotion": "promoted" if promoted else "not_promoted",
                                           "promotion.decision": "promoted" if promoted else "rejected",
                                           f"promotion.{metric_key(metric)}": f"{ch_score:.6f}",
                                           "promotion.compared_with": champion})
    tag_version(client, name, champion, {**common, "promotion.decision": "replaced" if promoted else "kept",
                                         f"promotion.{metric_key(metric)}": f"{champ_score:.6f}",
                                         "promotion.compared_with": challenger})
    logger.info(reason)
    return PromotionDecision(promoted, challenger, champion, metric, ch_score, champ_score, margin, n, reason, summary)


def _finite_margin(value, option: str) -> float:
    """The margin as a finite float (``nan`` or ``inf`` would make every comparison meaningless)."""
    try:
        margin = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be a number, got {value!r}") from None
    if not math.isfinite(margin):
        raise ConfigError(f"{option} must be a finite number, got {value!r}")
    return margin


def _refusal(client, name: str, version: int, bundle, score: float, gate: QualityGate,
             cfg: TrainingConfig, window: str) -> str | None:
    """Why the challenger must not become champion, or None when every quality gate passes."""

    who = f"challenger v{version}"
    tags = version_tags(client, name, version)
    positive = tags.get(POSITIVE_TAG, (bundle.metadata or {}).get(POSITIVE_TAG))
    if positive is not None and int(float(positive)) == 0:
        return f"refused: {who} was trained on data without a positive outcome (no campaign sold): nothing was learned"
    test_score = tags.get(f"test.{metric_key(gate.metric)}")
    if test_score is not None and np.isnan(float(test_score)):
        return f"refused: {who} has no test {gate.metric} (NaN: no test campaign with a positive outcome)"
    if np.isnan(score):
        return (f"refused: {who} {gate.metric} is NaN on the comparison campaigns ({window}): none has a positive "
                "outcome, so nothing shows that it ranks well")
    if cfg.promotion.require_beat_baselines and not gate.beats_baselines:
        warning = f"; {gate.warning()}" if gate.warning() else ""
        return (f"refused: {who} {gate.verdict().removeprefix('model ')} ({window}){warning} "
                "(promotion.require_beat_baselines: false allows it)")
    return None


def _comparison_window(frame: pd.DataFrame, bundles: dict[str, Any], cfg: TrainingConfig) -> tuple[pd.DataFrame, str]:
    """Campaigns neither model trained on, or else the most recent ones."""
    starts = [pd.Timestamp(b.metadata["holdout_from"]) for b in bundles.values() if b.metadata.get("holdout_from")]
    if starts:
        start = max(starts)
        unseen = frame[frame[C.AS_OF] >= start]
        if unseen[C.CAMPAIGN_ID].nunique() >= cfg.promotion.min_campaigns:
            unseen_by = "both" if len(bundles) > 1 else "the model"
            return unseen.reset_index(drop=True), f"campaigns created since {start:%Y-%m-%d}, unseen by {unseen_by}"
    created = frame.groupby(C.CAMPAIGN_ID, sort=False)[C.AS_OF].first().sort_values(kind="stable")
    recent = created.index[-cfg.promotion.recent_campaigns:]
    return (frame[frame[C.CAMPAIGN_ID].isin(recent)].reset_index(drop=True),
            f"the {len(recent)} most recent complete campaigns: fewer than {cfg.promotion.min_campaigns} unseen, "
            "so some may be in-sample")


# ------------------------------------------------------------------------ print


def format_metrics(result) -> str:
    """Metrics of :func:`train` or :func:`evaluate` as aligned text, with what they mean.

    Parameters
    ----------
    result : TrainResult, EvaluationResult or DataFrame
        A result prints its window (evaluate), in-sample warning, the verdict against each
        baseline with the bootstrap interval, and its warnings; a bare metrics table prints
        the table and the notes below.

    Rows are rankers, columns the metrics (4 decimals) and campaign counts; a closing line
    states how many campaigns had no sales (left out of the means) and, with an oracle,
    the share of the gap to it that the model closed. A result with a value model adds its
    calibration: forecast / realized net GMV, interval coverage, Spearman (docs/VALUE.md).
    """
    df = result if isinstance(result, pd.DataFrame) or result is None else result.metrics
    if df is None or df.empty:
        return "(no metrics)"
    table = df.copy()
    table.index.name = None  # the index holds ranker names; its name would print as a stray row
    counts = [c for c in ("campaigns", "no_positive") if c in table.columns]
    for c in counts:
        table[c] = table[c].astype(int)
    text = table.to_string(float_format=lambda v: f"{v:.4f}")
    head, notes = [], []
    frame_only = isinstance(result, pd.DataFrame)
    version = df.attrs.get("model_version") if frame_only else getattr(result, "model_version", None)
    if isinstance(result, EvaluationResult):
        head.append(f"model version {version} on {result.window}")
    elif version is not None and frame_only:
        notes.append(f"model version {version}")
    if "no_positive" in table.columns and len(table):
        notes.append(f"{int(table['no_positive'].iloc[0])} campaign(s) without any net GMV are left out of the means")
    closed = df.attrs.get("gap_closed") if frame_only else getattr(result, "gap_closed", None)
    if closed is not None and not (isinstance(closed, float) and np.isnan(closed)):
        notes.append(f"model closes {closed:.0%} of the gap between the best baseline and the oracle")
    gate = getattr(result, "gate", None)
    if gate is not None:
        notes.extend(gate.lines())
    value = getattr(result, "value", None)
    if value is not None:
        notes.extend(value.lines())
    from_gate = [t for t in (gate.verdict(), gate.warning()) if t] if gate is not None else []
    for line in getattr(result, "warnings", []):
        if not any(t in line for t in from_gate):  # the gate's own lines are printed above
            notes.append(f"warning: {line}")
    return "\n".join([*head, text, *notes])
