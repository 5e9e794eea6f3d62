"""Where runs, models and studies are stored, and what a training run records.

Default store: ``sqlite:///mlflow.db`` in the working folder, unless ``MLFLOW_TRACKING_URI``
is set or a URI is passed. With a sqlite store, artifacts go to ``mlartifacts/`` and the
Optuna study to ``optuna.db``, both beside the database file.

Opening a sqlite store (:func:`open_store`, called by :func:`use_tracking`, which every
command goes through) is safe against concurrent first use and against kills:

- the schema is created and migrated by one process at a time, under an exclusive
  ``flock`` on ``<db>.lock``, into a temporary file renamed into place only once the
  migrations are complete (a kill mid-creation leaves no half-made store);
- an existing store must be at MLflow's schema head; a half-made one left by an older
  crash is repaired when it holds no runs, else reported in one line;
- runs whose process died (``kill -9``) are marked FAILED (:func:`recover_dead_runs`), with
  their logged-but-unregistered models marked FAILED too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ModelError

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


LOCK_SUFFIX = ".lock"
LOCK_TIMEOUT_S = 600.0
TAG_PID = "creatorrank.pid"
TAG_HOST = "creatorrank.host"
TAG_PROCESS_START = "creatorrank.process_start"
TAG_RECOVERED = "creatorrank.recovered"
TAG_UNREGISTERED = "creatorrank.unregistered_model"

_OPENED: set[tuple[str, int, int]] = set()  # (path, device, inode) verified by this process
_RECOVERED: set[str] = set()  # tracking URIs whose dead runs this process has looked for


def use_tracking(tracking_uri: str | None = None):
    """Point MLflow (tracking and registry) at the store, opened with :func:`open_store`.

    Every command that reads or writes the store comes through here. Runs of dead
    processes are marked FAILED once per process and store (:func:`recover_dead_runs`).

    Returns
    -------
    mlflow.tracking.MlflowClient

    Raises
    ------
    ModelError
        The store cannot be created, or is damaged (one line saying what to do).
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    open_store(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if uri not in _RECOVERED:
        _RECOVERED.add(uri)
        try:
            recover_dead_runs(client)
        except MlflowException as exc:  # best effort: never stop a command over another run's leftovers
            logger.warning("could not check for runs left RUNNING: %s", str(exc).splitlines()[0])
    return client


def open_store(tracking_uri: str | None = None) -> bool:
    """Make a sqlite store usable before any MLflow client touches it.

    Under an exclusive lock on ``<db>.lock``: a missing (or empty) database is created and
    migrated to MLflow's schema head in a temporary file, then renamed into place; an
    existing one is checked to be at the head. Other URIs (a tracking server) are left to
    MLflow.

    Parameters
    ----------
    tracking_uri : str, optional
        Default: :func:`resolve_tracking_uri`.

    Returns
    -------
    bool
        True when this process had not opened this database file before (a sqlite store).

    Raises
    ------
    ModelError
        The folder is not writable, the lock is held too long, or the database is damaged,
        not an MLflow store, or of an older schema.
    """
    db = sqlite_path(resolve_tracking_uri(tracking_uri))
    if db is None:
        return False
    key = _file_key(db)
    if key is not None and key in _OPENED:
        return False
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{db.parent}: cannot create the MLflow store folder ({exc.strerror})") from None
    with store_lock(db):
        state, detail = inspect_store(db)
        if state == "missing":
            _create_store(db)
        elif state == "broken-empty":
            aside = db.with_name(f"{db.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
            _forget_engines(f"sqlite:///{db.as_posix()}")
            os.replace(db, aside)
            _drop_journals(db)
            logger.warning("%s was half-made (%s) and held no runs: moved to %s and created anew", db, detail, aside)
            _create_store(db)
        elif state != "ok":
            raise ModelError(f"{db}: {detail}")
    key = _file_key(db)
    if key is not None:
        _OPENED.add(key)
    return True


def _file_key(db: Path) -> tuple[str, int, int] | None:
    try:
        st = db.stat()
    except OSError:
        return None
    return (str(db.resolve()), st.st_dev, st.st_ino)


@contextlib.contextmanager
def store_lock(db: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``<db>.lock`` (released when the process dies).

    Raises
    ------
    ModelError
        The lock could not be taken within ``timeout_s`` seconds, or the lock file cannot
        be created.
    """
    import fcntl

    import errno

    path = db.with_name(db.name + LOCK_SUFFIX)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and db.is_file():
            logger.debug("%s: read-only folder, store opened without its lock", db)  # nobody can create it here
            yield path
            return
        raise ModelError(f"{path}: cannot create the MLflow store lock ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ModelError(f"{path}: another process has held the MLflow store lock for over "
                                     f"{timeout_s:.0f} s") from None
                time.sleep(0.05)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _schema_head() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def _expected_tables() -> set[str]:
    from mlflow.store.db.utils import Base  # importing utils registers every MLflow table

    return set(Base.metadata.tables)


def inspect_store(db: Path) -> tuple[str, str]:
    """Classify a sqlite file: ``missing``, ``ok``, ``broken-empty`` or ``bad`` (with why).

    ``missing``: no file, or an empty one. ``ok``: every MLflow table is there and the
    schema is at the installed MLflow's head. ``broken-empty``: not ``ok`` but holding no
    run, experiment of its own or registered model (safe to recreate). ``bad``: anything
    else; the detail says what to do.
    """
    import sqlite3

    if not db.exists() or db.stat().st_size == 0:
        return "missing", ""
    try:
        con = sqlite3.connect(str(db), timeout=30)
    except sqlite3.Error as exc:
        return "bad", f"cannot open the MLflow store ({exc})"
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if "alembic_version" in tables:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        records = sum(_count(con, t, tables) for t in ("runs", "registered_models", "model_versions"))
        records += max(0, _count(con, "experiments", tables) - 1)  # the Default experiment
    except sqlite3.DatabaseError as exc:
        return "bad", f"not an MLflow store ({exc}); move it aside or point MLFLOW_TRACKING_URI elsewhere"
    finally:
        con.close()
    head = _schema_head()
    leftovers = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
    missing = sorted(_expected_tables() - tables)
    if not tables:
        return "missing", ""
    if revision == head and not missing and not leftovers:
        return "ok", ""
    why = (f"schema at {revision or 'no revision'}, expected {head}"
           + (f", {len(missing)} table(s) missing" if missing else "")
           + (f", leftover {leftovers[0]}" if leftovers else ""))
    if records == 0:
        return "broken-empty", why
    if revision is not None and not leftovers and not missing and _is_known_revision(revision):
        return "bad", (f"MLflow store schema {revision} is older than this MLflow's {head}: back it up, then run "
                       f"`mlflow db upgrade sqlite:///{db}`")
    return "bad", (f"MLflow store is half-made ({why}) and holds {records} record(s): restore a backup, "
                   f"or move it aside to start a new store")


def _count(con, table: str, tables: set[str]) -> int:
    if table not in tables:
        return 0
    return int(con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


def _is_known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def _forget_engines(uri: str) -> None:
    """Close MLflow's cached engines of ``uri`` (they would keep using a file moved aside)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    for store in (TrackingStore, RegistryStore):
        engine = store._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


def _drop_journals(db: Path) -> None:
    for suffix in ("-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            db.with_name(db.name + suffix).unlink()


def _create_store(db: Path) -> None:
    """Create and migrate the schema in a temporary file, then rename it into place.

    MLflow's own stores do the work (tables, alembic migrations to the head, the Default
    experiment); their engines on the temporary file are closed before the rename.
    """
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    for stale in db.parent.glob(f".{db.name}.*.creating*"):  # a killed creator's; we hold the lock
        stale.unlink(missing_ok=True)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.creating")
    tmp_uri = f"sqlite:///{tmp.as_posix()}"
    started = time.monotonic()
    logger.info("creating the MLflow store %s", db)
    try:
        TrackingStore(tmp_uri, (db.parent / ARTIFACT_DIR).resolve().as_uri())
        RegistryStore(tmp_uri)
        _forget_engines(tmp_uri)
        state, detail = inspect_store(tmp)
        if state != "ok":
            raise ModelError(f"{db}: creating the MLflow store failed ({detail})")
        _drop_journals(db)  # a stale journal of an older file must never be replayed onto the new one
        os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)
        _drop_journals(tmp)
    logger.info("created the MLflow store %s in %.1f s", db, time.monotonic() - started)


# ------------------------------------------------------------------ runs that died


def _proc_stat(pid: int) -> list[str]:
    """Fields 3.. of ``/proc/<pid>/stat`` ([] where /proc is absent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rsplit(")", 1)[1].split()  # the command name in parentheses may hold spaces


def process_start(pid: int) -> str:
    """Start time of process ``pid`` in clock ticks since boot ("" where /proc is absent)."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22


def process_alive(pid: int, started: str = "") -> bool:
    """Whether ``pid`` runs on this host and (when known) is the process started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    fields = _proc_stat(pid)
    if fields and fields[0] == "Z":
        return False  # killed, not yet reaped
    if started and fields and process_start(pid) != started:
        return False  # the pid was reused
    return True


def run_tags() -> dict[str, str]:
    """Tags that let a later process tell whether this run's process is still alive."""
    pid = os.getpid()
    return {TAG_PID: str(pid), TAG_HOST: socket.gethostname(), TAG_PROCESS_START: process_start(pid)}


def recover_dead_runs(client) -> list[str]:
    """Mark FAILED the RUNNING runs whose process died on this host, and their nested runs.

    A run records its pid, host and process start time (:func:`run_tags`). Its logged but
    unregistered models are marked FAILED as well and named in the run's
    ``creatorrank.unregistered_model`` tag. Runs of other hosts, and runs without these
    tags, are left alone.

    Returns
    -------
    list of str
        Ids of the runs marked FAILED.
    """
    from mlflow.entities import ViewType

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiments:
        return []
    running = client.search_runs(experiments, "attributes.status = 'RUNNING'", run_view_type=ViewType.ALL,
                                 max_results=10_000)
    if not running:
        return []
    host = socket.gethostname()
    dead: dict[str, str] = {}
    for run in running:
        tags = run.data.tags
        if tags.get(TAG_HOST) == host and tags.get(TAG_PID, "").isdigit():
            pid = int(tags[TAG_PID])
            if not process_alive(pid, tags.get(TAG_PROCESS_START, "")):
                dead[run.info.run_id] = f"process {pid} on {host} died"
    for run in running:  # nested trial runs of a dead parent
        parent = run.data.tags.get("mlflow.parentRunId")
        if run.info.run_id not in dead and parent in dead:
            dead[run.info.run_id] = f"its parent run {parent} died"
    for run_id, why in dead.items():
        _mark_failed(client, run_id, why)
    return list(dead)


def _mark_failed(client, run_id: str, why: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.set_tag(run_id, TAG_RECOVERED, f"{why}; marked FAILED at {stamp}")
    client.set_terminated(run_id, status="FAILED")
    orphans = unregistered_models(client, run_id)
    for model_id in orphans:
        _fail_logged_model(client, model_id)
    if orphans:
        client.set_tag(run_id, TAG_UNREGISTERED, ",".join(orphans))
    logger.warning("run %s was left RUNNING (%s): marked FAILED%s", run_id, why,
                   f"; its unregistered model(s) {', '.join(orphans)} marked FAILED" if orphans else "")


def unregistered_models(client, run_id: str) -> list[str]:
    """Ids of the models logged by ``run_id`` that no registered version points at."""
    run = client.get_run(run_id)
    logged = [m.model_id for m in (run.outputs.model_outputs if run.outputs else [])]
    if not logged:
        return []
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    registered = {getattr(v, "model_id", None) for v in versions}
    return [m for m in logged if m not in registered]


def _fail_logged_model(client, model_id: str) -> None:
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)


@contextlib.contextmanager
def tracked_run(experiment_id: str, run_name: str) -> Iterator[Any]:
    """An MLflow run that never stays RUNNING when this process stops.

    It ends FINISHED on success, KILLED on Ctrl-C or SIGTERM (turned into
    ``KeyboardInterrupt`` while the run is open: the CLI exits 130), FAILED on any other
    error. It is tagged with :func:`run_tags`, so a ``kill -9`` is caught by the next
    :func:`recover_dead_runs`.

    Yields
    ------
    mlflow.ActiveRun
    """
    import mlflow

    run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags())
    status = "FAILED"
    with _sigterm_as_interrupt():
        try:
            yield run
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            while mlflow.active_run() is not None and mlflow.active_run().info.run_id != run.info.run_id:
                mlflow.end_run(status=status if status != "FINISHED" else "FAILED")  # a nested run left open
            mlflow.end_run(status=status)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` (main thread only; the old handler is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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

    Metrics ``test.<ranker>.<metric>`` (the model and the baselines); CSVs under
    ``evaluation/`` (metric means, per-campaign metrics, feature importance); PNGs under
    ``plots/`` (NDCG@k of the model vs baselines, feature importance, SHAP summary of
    ``shap_sample`` when given).
    """
    import mlflow

    log_summary_metrics(summary, "test")
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
