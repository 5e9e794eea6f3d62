"""The training commands as plain functions: ``train``, ``evaluate``, ``promote``.

The CLI (``creatorrank train|evaluate|promote``) and the tests call these directly. They
log progress through ``logging.getLogger(__name__)`` and never configure logging.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ConfigError, ModelError
from .config import LabelConfig, TrainingConfig, load_config
from .metrics import compare_rankers, gap_closed

logger = logging.getLogger(__name__)

MODEL_ROW = "model"
ORACLE_ROW = "oracle"
TRUTH_FILE = Path("truth") / "invitation_truth.parquet"


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
        Test-campaign metric means, one row per ranker: ``model``, the baselines and, when
        the data folder holds the generator's truth, ``oracle``. Columns ``ndcg@k``,
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
        the model (NaN without truth).
    data : RankingData
        The splits the model was trained and tested on.
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
    from ..data.validate import load_clean_tables

    tables = load_clean_tables(data_dir)
    logger.info("loaded %s: %s", data_dir, ", ".join(f"{len(t):,} {n}" for n, t in tables.items()))
    return tables


def _training_matrix(tables) -> pd.DataFrame:
    from ..features.engine import training_matrix

    logger.info("building point-in-time features")
    return training_matrix(tables)


def read_truth(data_dir) -> pd.Series | None:
    """The generator's ``expected_gmv`` per invitation id, when the folder has it."""
    path = Path(data_dir) / TRUTH_FILE
    if not path.is_file():
        return None
    truth = pd.read_parquet(path, columns=[C.INVITATION_ID, C.EXPECTED_GMV])
    return truth.set_index(truth[C.INVITATION_ID].astype(str))[C.EXPECTED_GMV]


def oracle_scores(frame: pd.DataFrame, truth: pd.Series | None) -> np.ndarray | None:
    """The generator's expected net GMV of each row (the best possible ranking), if known."""
    if truth is None:
        return None
    oracle = frame[C.INVITATION_ID].astype(str).map(truth).to_numpy(dtype=np.float64, na_value=np.nan)
    return None if np.isnan(oracle).all() else oracle


def score_rankers(frame: pd.DataFrame, model_scores: dict[str, np.ndarray], seed: int,
                  truth: pd.Series | None) -> dict[str, np.ndarray]:
    """Scores of the given models, every baseline and (with truth) the oracle for the same rows."""
    from .baselines import baseline_scores

    scores = {**model_scores, **baseline_scores(frame, seed)}
    oracle = oracle_scores(frame, truth)
    if oracle is not None:
        scores[ORACLE_ROW] = oracle
    return scores


def _study_name(config: TrainingConfig, data_digest: str) -> str:
    import hashlib
    import json

    cfg = config.model_dump(mode="json")
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

    Returns
    -------
    TrainResult
    """
    import mlflow
    import yaml

    from ..features.specs import FEATURE_SET_VERSION
    from .dataset import build_dataset
    from .model import log_bundle
    from .registry import register
    from .tracking import ensure_experiment, flatten, log_evaluation, log_lineage, metric_key, study_storage, use_tracking
    from .train import fit_ranker, make_bundle
    from .tune import tune

    cfg = _config(config_path, config)
    n_trials = cfg.tuning.trials if trials is None else int(trials)
    if n_trials < 0:
        raise ConfigError(f"trials must be >= 0, got {n_trials}")
    client = use_tracking(tracking_uri)
    experiment_id = ensure_experiment(client, cfg.experiment_name)
    tables = _load_tables(data_dir)
    if matrix is None:
        matrix = _training_matrix(tables)
    data = build_dataset(tables, cfg, train_until, matrix=matrix)
    digest = data.digest()
    truth = read_truth(data_dir)
    primary = f"ndcg@{cfg.evaluation.primary_k}"

    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{data.cutoff:%Y%m%dT%H%M}") as run, \
            tempfile.TemporaryDirectory(prefix="creatorrank-train-") as tmp:
        work = Path(tmp)
        run_id = run.info.run_id
        mlflow.set_tags({"creatorrank.command": "train", C.FEATURE_SET_VERSION: str(FEATURE_SET_VERSION),
                         "data_digest": digest, "config_digest": cfg.digest()})
        params = {k: (str(v)[:500]) for k, v in flatten(cfg.model_dump(mode="json")).items()
                  if not k.startswith("tuning.search_space")}
        params.update({"trials": n_trials, "train_until": data.cutoff.isoformat(), "n_features": len(data.features),
                       C.FEATURE_SET_VERSION: str(FEATURE_SET_VERSION), "data_dir": str(Path(data_dir).resolve())})
        mlflow.log_params(params)
        mlflow.log_metrics({f"data.{k}": v for k, v in data.summary().items()})
        (work / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        mlflow.log_artifact(str(work / "config.yaml"))
        log_lineage(data, source=str(Path(data_dir).resolve()))

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
        fit = fit_ranker(data, cfg, best_params)
        bundle = make_bundle(fit, data, cfg, metadata={"data_digest": digest, "run_id": run_id})
        mlflow.log_metrics({"best_iteration": fit.best_iteration, f"validation.{metric_key(primary)}": fit.best_score})

        test = data["test"].frame
        scores = score_rankers(test, {MODEL_ROW: bundle.predict(test)}, cfg.evaluation.random_seed, truth)
        summary, per_campaign = compare_rankers(
            test, scores, cfg.evaluation.k, cfg.evaluation.gmv_k, cfg.label.gains()
        )
        closed = gap_closed(summary, primary)
        summary.attrs["gap_closed"] = closed
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
        }
        version = register(client, info.model_uri, cfg.registered_model, alias=C.CHALLENGER, tags=tags)
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
        gap_closed=closed,
        data=data,
    )


# --------------------------------------------------------------------- evaluate


def _complete_frame(tables, label: LabelConfig, settle_days: int, matrix: pd.DataFrame | None,
                    cutoff=None) -> pd.DataFrame:
    from .dataset import labelled_matrix, resolve_cutoff, sort_queries

    if matrix is None:
        matrix = _training_matrix(tables)
    frame, _ = labelled_matrix(tables, label, resolve_cutoff(tables, cutoff), settle_days, matrix)
    return sort_queries(frame)[0]


def _evaluate_bundles(frame: pd.DataFrame, bundles: dict[str, Any], config: TrainingConfig,
                      truth: pd.Series | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every bundle, the baselines and the oracle on the same rows, graded as the first bundle was trained."""
    scores = score_rankers(frame, {name: b.predict(frame) for name, b in bundles.items()},
                           config.evaluation.random_seed, truth)
    gains = LabelConfig.model_validate(next(iter(bundles.values())).label).gains()
    return compare_rankers(frame, scores, config.evaluation.k, config.evaluation.gmv_k, gains)


def evaluate(
    data_dir: str | os.PathLike,
    model_uri: str,
    since: str | pd.Timestamp | None = None,
    tracking_uri: str | None = None,
    *,
    config_path: str | os.PathLike | None = None,
    config: TrainingConfig | None = None,
    matrix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Backtest a model on the complete campaigns created since ``since``.

    Parameters
    ----------
    data_dir : path-like
    model_uri : str
        e.g. ``models:/creator-ranker@champion`` (resolved to a version once).
    since : str or Timestamp, optional
        Only campaigns created at or after this time (default: every complete campaign).
    tracking_uri : str, optional
    config_path, config : optional
        Evaluation cut-offs and seeds; labels follow the model's own grading.
    matrix : DataFrame, optional
        Precomputed training matrix.

    Returns
    -------
    DataFrame
        One row per ranker (``model``, baselines, ``oracle`` with truth); ``attrs`` holds
        ``model_version``, ``model_uri``, ``per_campaign`` and ``gap_closed``.

    Raises
    ------
    ModelError
        Unknown model, or no complete campaign since ``since``.
    """
    from ..features.specs import FEATURE_SET_VERSION
    from .dataset import to_cutoff
    from .model import load_ranker

    cfg = _config(config_path, config)
    bundle = load_ranker(model_uri, tracking_uri)
    if str(bundle.feature_set_version) != str(FEATURE_SET_VERSION):
        logger.warning("model was trained on feature set %s, the catalogue is %s",
                       bundle.feature_set_version, FEATURE_SET_VERSION)
    tables = _load_tables(data_dir)
    label = LabelConfig.model_validate(bundle.label)
    frame = _complete_frame(tables, label, cfg.label_settle_days, matrix)
    if since is not None:
        frame = frame[frame[C.AS_OF] >= to_cutoff(since)].reset_index(drop=True)
    if frame.empty:
        raise ModelError(f"no complete campaign{' since ' + str(since) if since else ''} to evaluate on")
    summary, per_campaign = _evaluate_bundles(frame, {MODEL_ROW: bundle}, cfg, read_truth(data_dir))
    summary.attrs.update(model_uri=bundle.model_uri or model_uri, model_version=bundle.model_version,
                         per_campaign=per_campaign,
                         gap_closed=gap_closed(summary, f"ndcg@{cfg.evaluation.primary_k}"))
    logger.info("evaluated %s on %d campaign(s)", bundle.model_uri or model_uri, frame[C.CAMPAIGN_ID].nunique())
    return summary


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
    """Move ``champion`` to the challenger if it is at least as good on the same campaigns.

    Both versions are scored on the same complete campaigns: those created at or after the
    later of the two models' hold-out starts (neither trained on them), or, when fewer than
    ``promotion.min_campaigns`` remain, the ``promotion.recent_campaigns`` most recent ones.
    The challenger wins when its mean NDCG@primary_k >= the champion's + ``margin``. Both
    versions are tagged with the decision, the scores and the reason. Without a champion
    the challenger becomes champion.

    Parameters
    ----------
    data_dir : path-like
    margin : float, optional
        Required gain over the champion (default ``promotion.margin``; negative tolerates
        a small loss).
    tracking_uri : str, optional

    Returns
    -------
    PromotionDecision

    Raises
    ------
    ModelError
        No challenger registered.
    """
    from .model import load_ranker
    from .registry import set_alias, tag_version, version_of
    from .tracking import metric_key, use_tracking

    cfg = _config(config_path, config)
    margin = cfg.promotion.margin if margin is None else float(margin)
    name = cfg.registered_model
    metric = f"ndcg@{cfg.evaluation.primary_k}"
    client = use_tracking(tracking_uri)
    challenger = version_of(client, name, C.CHALLENGER)
    if challenger is None:
        raise ModelError(f"model '{name}' has no @{C.CHALLENGER} version: run `creatorrank train` first")
    champion = version_of(client, name, C.CHAMPION)
    now = pd.Timestamp.now(tz="UTC").isoformat()

    if champion is None:
        reason = f"version {challenger} is the first model: no champion to compare with"
        set_alias(client, name, C.CHAMPION, challenger)
        tag_version(client, name, challenger, {"promotion.decision": "promoted", "promotion.reason": reason,
                                               "promotion.at": now})
        logger.info(reason)
        return PromotionDecision(True, challenger, None, metric, float("nan"), float("nan"), margin, 0, reason)
    if champion == challenger:
        reason = f"version {challenger} is already the champion"
        return PromotionDecision(False, challenger, champion, metric, float("nan"), float("nan"), margin, 0, reason)

    bundles = {
        "challenger": load_ranker(f"models:/{name}/{challenger}", tracking_uri),
        "champion": load_ranker(f"models:/{name}/{champion}", tracking_uri),
    }
    tables = _load_tables(data_dir)
    label = LabelConfig.model_validate(bundles["challenger"].label)
    frame = _complete_frame(tables, label, cfg.label_settle_days, matrix)
    frame, window = _comparison_window(frame, bundles, cfg)
    summary, _ = _evaluate_bundles(frame, bundles, cfg, read_truth(data_dir))
    ch_score, champ_score = float(summary.loc["challenger", metric]), float(summary.loc["champion", metric])
    n = int(summary.loc["challenger", "campaigns"])
    promoted = ch_score >= champ_score + margin
    cmp = ">=" if promoted else "<"
    reason = (f"challenger v{challenger} {metric} {ch_score:.4f} {cmp} champion v{champion} "
              f"{champ_score:.4f} + margin {margin:g} on {n} campaigns ({window})")
    if promoted:
        set_alias(client, name, C.CHAMPION, challenger)
    common = {"promotion.at": now, "promotion.metric": metric, "promotion.margin": margin,
              "promotion.campaigns": n, "promotion.reason": reason}
    tag_version(client, name, challenger, {**common, "promotion.decision": "promoted" if promoted else "rejected",
                                           f"promotion.{metric_key(metric)}": f"{ch_score:.6f}",
                                           "promotion.compared_with": champion})
    tag_version(client, name, champion, {**common, "promotion.decision": "replaced" if promoted else "kept",
                                         f"promotion.{metric_key(metric)}": f"{champ_score:.6f}",
                                         "promotion.compared_with": challenger})
    logger.info(reason)
    return PromotionDecision(promoted, challenger, champion, metric, ch_score, champ_score, margin, n, reason, summary)


def _comparison_window(frame: pd.DataFrame, bundles: dict[str, Any], cfg: TrainingConfig) -> tuple[pd.DataFrame, str]:
    """Campaigns neither model trained on, or else the most recent ones."""
    starts = [pd.Timestamp(b.metadata["holdout_from"]) for b in bundles.values() if b.metadata.get("holdout_from")]
    if starts:
        start = max(starts)
        unseen = frame[frame[C.AS_OF] >= start]
        if unseen[C.CAMPAIGN_ID].nunique() >= cfg.promotion.min_campaigns:
            return unseen.reset_index(drop=True), f"campaigns created since {start:%Y-%m-%d}, unseen by both"
    created = frame.groupby(C.CAMPAIGN_ID, sort=False)[C.AS_OF].first().sort_values(kind="stable")
    recent = created.index[-cfg.promotion.recent_campaigns:]
    return (frame[frame[C.CAMPAIGN_ID].isin(recent)].reset_index(drop=True),
            f"the {len(recent)} most recent complete campaigns")


# ------------------------------------------------------------------------ print


def format_metrics(df: pd.DataFrame) -> str:
    """A metrics table (from :func:`train` or :func:`evaluate`) as aligned text.

    Rows are rankers, columns the metrics (4 decimals) and campaign counts; a closing line
    states how many campaigns had no sales (left out of the means) and, with an oracle,
    the share of the gap to it that the model closed.
    """
    if df is None or df.empty:
        return "(no metrics)"
    table = df.copy()
    table.index.name = None  # the index holds ranker names; its name would print as a stray row
    counts = [c for c in ("campaigns", "no_positive") if c in table.columns]
    for c in counts:
        table[c] = table[c].astype(int)
    text = table.to_string(float_format=lambda v: f"{v:.4f}")
    notes = []
    if "no_positive" in table.columns and len(table):
        notes.append(f"{int(table['no_positive'].iloc[0])} campaign(s) without any net GMV are left out of the means")
    closed = df.attrs.get("gap_closed")
    if closed is not None and not (isinstance(closed, float) and np.isnan(closed)):
        notes.append(f"model closes {closed:.0%} of the gap between the best baseline and the oracle")
    version = df.attrs.get("model_version")
    if version is not None:
        notes.insert(0, f"model version {version}")
    return text + ("\n" + "\n".join(notes) if notes else "")
