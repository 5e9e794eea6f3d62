"""Where runs, models and studies are stored, and what a training run records.

Default store: ``sqlite:///mlflow.db`` in the working folder, unless ``MLFLOW_TRACKING_URI``
is set or a URI is passed. With a sqlite store, artifacts go to ``mlartifacts/`` and the
Optuna study to ``optuna.db``, both beside the database file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_DB = "mlflow.db"
STUDY_DB = "optuna.db"
ARTIFACT_DIR = "mlartifacts"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The tracking URI: the argument, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    if tracking_uri:
        return str(tracking_uri)
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / DEFAULT_DB).as_posix()}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


def use_tracking(tracking_uri: str | None = None):
    """Point MLflow (tracking and registry) at the store and create it once.

    Creating the sqlite schema is done here, by one process, before any run writes to it
    (concurrent first writers would race on the migrations).

    Returns
    -------
    mlflow.tracking.MlflowClient
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments(max_results=1)  # creates/migrates the schema now
    return client


def ensure_experiment(client, name: str) -> str:
    """The experiment id of ``name``, created (artifacts beside a sqlite DB) if absent."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    db = sqlite_path(client.tracking_uri)
    location = (db.parent / ARTIFACT_DIR).resolve().as_uri() if db is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by another process
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def study_storage(tracking_uri: str) -> str:
    """sqlite URL of the Optuna study store: beside the tracking DB, else in the working folder."""
    db = sqlite_path(tracking_uri)
    folder = db.parent if db is not None else Path.cwd()
    return f"sqlite:///{(folder / STUDY_DB).as_posix()}"


def metric_key(name: str) -> str:
    """An MLflow-safe metric name: ``ndcg@10`` becomes ``ndcg_at_10``."""
    return name.replace("@", "_at_")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict to dotted keys (lists kept as their JSON text)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def log_summary_metrics(summary: pd.DataFrame, prefix: str = "test") -> None:
    """Log every ranker's metric means as ``<prefix>.<ranker>.<metric>``."""
    import mlflow

    metrics = {}
    for model, row in summary.iterrows():
        for col, value in row.items():
            if pd.notna(value):
                metrics[f"{prefix}.{model}.{metric_key(col)}"] = float(value)
    mlflow.log_metrics(metrics)


def log_frame(frame: pd.DataFrame, artifact_file: str, workdir: Path) -> None:
    """Log a DataFrame as a CSV artifact."""
    import mlflow

    path = workdir / Path(artifact_file).name
    frame.to_csv(path, index=False)
    folder = str(Path(artifact_file).parent) if Path(artifact_file).parent != Path(".") else None
    mlflow.log_artifact(str(path), artifact_path=folder)


def log_lineage(data, source: str, schema_rows: int = 1000) -> None:
    """Record each split as an MLflow dataset input (digest, schema, row count, source folder).

    The digest hashes the whole split and the schema is inferred from its first
    ``schema_rows`` rows: MLflow's own digest and schema inference visit every value in
    Python, minutes for a million-row split.
    """
    import hashlib
    import warnings

    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature

    from ..core import constants as C

    for name, split in data.splits.items():
        frame = split.frame
        view = pd.concat(
            [
                frame[[C.INVITATION_ID, C.CAMPAIGN_ID]].astype(object),
                frame[[C.OUTCOME_GMV, C.LABEL]].astype(np.float64),
                data.X(name),
            ],
            axis=1,
        )
        with warnings.catch_warnings():  # mlflow: "source can be interpreted in multiple ways"
            warnings.simplefilter("ignore", UserWarning)
            digest = hashlib.sha256(pd.util.hash_pandas_object(view, index=False).to_numpy().tobytes()).hexdigest()
            ds = from_pandas(view, source=source, name=f"{name}-campaigns", targets=C.LABEL, digest=digest[:8])
            ds.__dict__["schema"] = infer_signature(view.head(schema_rows)).inputs  # the cached property
        mlflow.log_input(ds, context=name)


def log_evaluation(summary: pd.DataFrame, per_campaign: pd.DataFrame, bundle, ks: list[int], workdir: Path,
                   shap_sample: pd.DataFrame | None = None) -> None:
    """Log test metrics, evaluation tables and plots to the active run.

    Metrics ``test.<ranker>.<metric>`` (and ``test.gap_closed.*`` with an oracle); CSVs under
    ``evaluation/`` (metric means, per-campaign metrics, feature importance); PNGs under
    ``plots/`` (NDCG@k of the model vs baselines, feature importance, SHAP summary of
    ``shap_sample`` when given).
    """
    import mlflow

    log_summary_metrics(summary, "test")
    closed = summary.attrs.get("gap_closed")
    if closed is not None and not np.isnan(closed):
        mlflow.log_metric("test.gap_closed", float(closed))
    log_frame(summary.reset_index(), "evaluation/test_metrics.csv", workdir)
    log_frame(per_campaign, "evaluation/test_per_campaign.csv", workdir)
    importance = bundle.feature_importance()
    log_frame(importance, "evaluation/feature_importance.csv", workdir)
    plots = [plot_ndcg(summary, workdir / "ndcg_vs_baselines.png", ks),
             plot_importance(importance, workdir / "feature_importance.png")]
    if shap_sample is not None:
        plots.append(plot_shap(bundle, shap_sample, workdir / "shap_summary.png"))
    for path in plots:
        mlflow.log_artifact(str(path), artifact_path="plots")


# ------------------------------------------------------------------------- plots


def _pyplot():
    # No matplotlib.use(): switching the backend is process-wide and would stop a notebook's
    # inline figures; without a display pyplot falls back to Agg by itself.
    import matplotlib.pyplot as plt

    return plt


def plot_ndcg(summary: pd.DataFrame, path: Path, ks: list[int]) -> Path:
    """Grouped bars: NDCG@k of the model and of every baseline."""
    plt = _pyplot()
    cols = [f"ndcg@{k}" for k in ks if f"ndcg@{k}" in summary.columns]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(1, len(summary))
    x = np.arange(len(cols))
    for i, (name, row) in enumerate(summary.iterrows()):
        ax.bar(x + i * width, row[cols].to_numpy(dtype=float), width, label=str(name))
    ax.set_xticks(x + width * (len(summary) - 1) / 2, cols)
    ax.set_ylabel("mean NDCG on test campaigns")
    ax.set_ylim(0, 1)
    ax.set_title("Model vs baselines")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_importance(importance: pd.DataFrame, path: Path, top: int = 25) -> Path:
    """Horizontal bars of total gain per feature (top ``top``)."""
    plt = _pyplot()
    imp = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, max(3, 0.28 * len(imp) + 1)))
    ax.barh(imp["feature"], imp["gain"])
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_shap(bundle, X: pd.DataFrame, path: Path) -> Path:
    """SHAP summary (beeswarm) of the bundle's booster on the rows of ``X`` (encoded)."""
    import warnings

    with warnings.catch_warnings():  # shap's colour maps use soon-deprecated matplotlib calls
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    plt = _pyplot()
    explainer = shap.TreeExplainer(bundle.booster)
    values = explainer.shap_values(X)
    plt.figure()
    shap.summary_plot(values, X, show=False, max_display=20)
    plt.gcf().tight_layout()
    plt.savefig(path, dpi=100)
    plt.close("all")
    return path
