"""Optuna search over LightGBM parameters: seeded TPE, one job, median pruning, resumable.

Each trial fits on the train split and is scored by validation NDCG@``primary_k`` at its best
iteration. The first trial of a new study is the configured parameter set, so tuning never
ends below the untuned model on validation. :class:`PruningCallback` reports the metric every
few boosting rounds so the median pruner can stop a hopeless trial early. The study lives in a
sqlite file, created under the same lock as the MLflow store: running the same training again
(same config and data) continues the same study and runs only the trials still missing.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Callable

from .config import SearchRange, TrainingConfig
from .dataset import RankingData
from .tracking import sqlite_path, store_lock
from .train import VALID_NAME, FitResult, fit_ranker, lgb_params, make_datasets

logger = logging.getLogger(__name__)


class PruningCallback:
    """LightGBM callback reporting a validation metric to an Optuna trial.

    The contract of ``optuna_integration.LightGBMPruningCallback`` (not installed here):
    ``metric`` must be the exact LightGBM metric name, e.g. ``"ndcg@10"``, else the first
    round raises ``ValueError``. Unlike it, the metric is reported (and pruning checked)
    every ``interval`` rounds only: each report is a write to the sqlite study (~40 ms), which
    would otherwise cost more than the boosting round itself. All trials report at the same
    steps, so the median pruner still compares like with like.

    Parameters
    ----------
    trial : optuna.Trial
    metric : str
    valid_name : str
        Name of the validation set in ``lgb.train``.
    interval : int
        Report every this many boosting rounds.
    """

    order = 20  # after early stopping's bookkeeping (LightGBM sorts callbacks by ``order``)

    def __init__(self, trial, metric: str, valid_name: str = VALID_NAME, interval: int = 10):
        self.trial = trial
        self.metric = metric
        self.valid_name = valid_name
        self.interval = max(1, int(interval))
        self.last: tuple[int, float] | None = None  # (round, value) last reported

    def __call__(self, env) -> None:
        import optuna

        for entry in env.evaluation_result_list:
            if entry[0] == self.valid_name and entry[1] == self.metric:
                if (env.iteration + 1) % self.interval:
                    return
                self.last = (env.iteration + 1, float(entry[2]))
                self.trial.report(self.last[1], step=self.last[0])
                if self.trial.should_prune():
                    raise optuna.TrialPruned(f"trial {self.trial.number} pruned at iteration {env.iteration}")
                return
        raise ValueError(f"metric {self.metric!r} on {self.valid_name!r} not found in LightGBM's evaluation results")


DATASET_PARAMS = ("max_bin",)  # fixed once a LightGBM Dataset is constructed


def configured_point(config: TrainingConfig) -> dict[str, Any]:
    """The configured LightGBM parameters, clipped into the search space (the first trial)."""
    out: dict[str, Any] = {}
    for name, r in config.tuning.search_space.items():
        value = min(max(float(getattr(config.lightgbm, name)), r.low), r.high)
        out[name] = int(round(value)) if r.type == "int" else value
    return out


def suggest(trial, space: dict[str, SearchRange]) -> dict[str, Any]:
    """Sample one parameter set from the search space."""
    out: dict[str, Any] = {}
    for name in sorted(space):
        r = space[name]
        if r.type == "int":
            out[name] = trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
        else:
            out[name] = trial.suggest_float(name, r.low, r.high, log=r.log)
    return out


@dataclass
class TuneResult:
    """Outcome of a study.

    Attributes
    ----------
    best_params : dict
        Tuned parameters of the best trial ({} when no trial finished).
    best_value : float
    trials_run : int
        Trials run by this call (excluding ones resumed from storage).
    trials_total : int
        Finished (complete or pruned) trials in the study.
    study_name : str
    """

    best_params: dict[str, Any]
    best_value: float
    trials_run: int
    trials_total: int
    study_name: str


def _storage_lock(storage: str):
    """The store lock of a ``sqlite:///`` Optuna storage (see :func:`.tracking.store_lock`), else a no-op."""
    db = sqlite_path(storage)
    if db is None:
        return contextlib.nullcontext()
    db.parent.mkdir(parents=True, exist_ok=True)
    return store_lock(db)


def tune(
    data: RankingData,
    config: TrainingConfig,
    storage: str,
    study_name: str,
    n_trials: int | None = None,
    on_trial: Callable[[Any, dict[str, Any], FitResult | None], None] | None = None,
) -> TuneResult:
    """Run (or resume) the study until it holds ``n_trials`` finished trials or times out.

    Parameters
    ----------
    data : RankingData
    config : TrainingConfig
    storage : str
        Optuna storage URL (``sqlite:///.../optuna.db``).
    study_name : str
        Same name, same study: reruns continue it.
    n_trials : int, optional
        Target number of finished trials (default ``config.tuning.trials``).
    on_trial : callable, optional
        ``on_trial(trial, params, fit_or_None)`` after each trial (None when pruned; the
        trial's user attributes ``pruned_at`` and ``last_value`` then say where).

    Returns
    -------
    TuneResult
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tcfg = config.tuning
    n_trials = tcfg.trials if n_trials is None else n_trials
    metric = f"ndcg@{config.evaluation.primary_k}"
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    with _storage_lock(storage):  # concurrent first users of a sqlite file would race on its schema
        study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=tcfg.seed),
            pruner=optuna.pruners.MedianPruner(
                n_startup_trials=tcfg.pruner_startup_trials, n_warmup_steps=tcfg.pruner_warmup_steps
            ),
            load_if_exists=True,
        )
        done = len(study.get_trials(deepcopy=False, states=finished))
        if not done and not study.trials:
            study.enqueue_trial(configured_point(config))  # tuning never ends worse than the config
    remaining = max(0, n_trials - done)
    if done:
        logger.info("study %s resumed with %d finished trial(s); %d to run", study_name, done, remaining)
    # Bin the data once for all trials, unless the search changes how it is binned.
    rebin = any(name in DATASET_PARAMS for name in tcfg.search_space)
    datasets = None if rebin else make_datasets(data, lgb_params(config, data))

    def objective(trial) -> float:
        params = suggest(trial, tcfg.search_space)
        pruning = PruningCallback(trial, metric, interval=tcfg.report_every)
        try:
            fit = fit_ranker(data, config, params, callbacks=[pruning], datasets=datasets)
        except optuna.TrialPruned:
            if pruning.last is not None:
                trial.set_user_attr("pruned_at", pruning.last[0])
                trial.set_user_attr("last_value", pruning.last[1])
            logger.info("trial %d pruned at round %s", trial.number, pruning.last and pruning.last[0])
            if on_trial:
                on_trial(trial, params, None)
            raise
        trial.set_user_attr("best_iteration", fit.best_iteration)
        if on_trial:
            on_trial(trial, params, fit)
        logger.info("trial %d: validation %s %.4f (%d trees)", trial.number, metric, fit.best_score, fit.best_iteration)
        return fit.best_score

    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=tcfg.timeout_s, n_jobs=1, gc_after_trial=False)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    total = len(study.get_trials(deepcopy=False, states=finished))
    if not complete:
        logger.warning("no tuning trial completed: using the configured parameters")
        return TuneResult({}, float("nan"), total - done, total, study_name)
    best = study.best_trial
    return TuneResult(dict(best.params), float(best.value), total - done, total, study_name)
