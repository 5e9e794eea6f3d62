"""MLflow I/O of the ranker bundle: log it as a pyfunc model, resolve registry URIs, load it back.

Kept apart from :mod:`.model` (the bundle itself, no MLflow) so that code which only scores
with a bundle never imports MLflow; mlflow is imported inside the functions that use it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import ModelError
from .model import BOOSTER_FILE, MODEL_ARTIFACT_PATH, PYFUNC_ARTIFACT, RankerBundle
from .tracking import use_tracking


def input_example(bundle: RankerBundle, frame: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """A few encoded rows: every column float64 (an int column with NaN would break the signature)."""
    return bundle.encode(frame.head(rows)).astype(np.float64).reset_index(drop=True)


def log_bundle(bundle: RankerBundle, example_frame: pd.DataFrame, workdir: str | os.PathLike,
               name: str = MODEL_ARTIFACT_PATH):
    """Log the bundle to the active MLflow run as a pyfunc model.

    The pyfunc takes the encoded all-float matrix (:meth:`RankerBundle.encode`) and returns
    raw scores. Its signature and input example are inferred from ``example_frame``. The
    bundle's value model (``bundle.value``) is saved into the same artifact folder, so the
    logged model, and the version registered from it, hold both.

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    import lightgbm as lgb
    import mlflow
    from mlflow.models import infer_signature

    from .pyfunc import RankerPyfunc  # subclasses mlflow's PythonModel: imports mlflow

    folder = bundle.save(Path(workdir) / PYFUNC_ARTIFACT)
    example = input_example(bundle, example_frame)
    signature = infer_signature(example, bundle.predict(example))
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=RankerPyfunc(),
        artifacts={PYFUNC_ARTIFACT: str(folder)},
        signature=signature,
        input_example=example,
        pip_requirements=[
            f"lightgbm=={lgb.__version__}",
            f"mlflow=={mlflow.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    )


_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)/?$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")


def resolve_model_uri(model_uri: str, client=None) -> tuple[str, str | None, int | None]:
    """Resolve an alias URI to a fixed version URI, once.

    Returns
    -------
    uri : str
        ``models:/NAME/VERSION`` for registry URIs, else ``model_uri`` unchanged.
    name : str or None
    version : int or None

    Raises
    ------
    ModelError
        Unknown registered model, alias or version.
    """
    from mlflow.exceptions import MlflowException

    if client is None:
        client = use_tracking()
    m = _ALIAS_URI.match(model_uri)
    if m:
        name, alias = m["name"], m["alias"]
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise ModelError(f"{model_uri}: no version of model '{name}' has alias '{alias}'") from None
        return f"models:/{name}/{mv.version}", name, int(mv.version)
    m = _VERSION_URI.match(model_uri)
    if m:
        name, version = m["name"], int(m["version"])
        try:
            client.get_model_version(name, str(version))
        except MlflowException:
            raise ModelError(f"{model_uri}: model '{name}' has no version {version}") from None
        return model_uri, name, version
    if model_uri.startswith("models:/"):
        raise ModelError(f"{model_uri}: expected models:/NAME/VERSION or models:/NAME@ALIAS")
    return model_uri, None, None


def load_ranker(model_uri: str, tracking_uri: str | None = None) -> RankerBundle:
    """Load a ranker from MLflow, resolving an alias to a version number once.

    Parameters
    ----------
    model_uri : str
        ``models:/creator-ranker@champion``, ``models:/creator-ranker/3``, ``runs:/ID/model``
        or a local pyfunc folder.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` in the working folder.

    Returns
    -------
    RankerBundle
        With ``model_name``, ``model_version`` (the resolved number; None outside the
        registry) and ``model_uri`` (the fixed ``models:/NAME/VERSION``) set, so every
        score can be stamped with the version that produced it even if the alias moves.

    Raises
    ------
    ModelError
        Unknown model, alias or version, or not a creatorrank model.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = use_tracking(tracking_uri)
    uri, name, version = resolve_model_uri(model_uri, client)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"{model_uri}: cannot load model ({str(exc).splitlines()[0]})") from None
    folder = Path(local) / "artifacts" / PYFUNC_ARTIFACT
    bundle = RankerBundle.load(folder)
    bundle.model_name, bundle.model_version, bundle.model_uri = name, version, uri
    return bundle


def verify_logged_model(model_uri: str, bundle: RankerBundle | None = None) -> None:
    """Check a logged pyfunc model's artifacts before it is registered.

    Downloads the model (``MLmodel`` and the bundle), verifies every bundle file against
    its recorded checksum (:meth:`RankerBundle.load`) and, when ``bundle`` is given, that
    the stored model file (and value model, :mod:`.value`) is the one just trained.

    Raises
    ------
    ModelError
        An artifact is missing, incomplete or altered.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="creatorrank-verify-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        except (MlflowException, OSError) as exc:
            raise ModelError(f"{model_uri}: logged model cannot be read back ({str(exc).splitlines()[0]})") from None
        if not (local / "MLmodel").is_file():
            raise ModelError(f"{model_uri}: logged model is incomplete (no MLmodel file)")
        folder = local / "artifacts" / PYFUNC_ARTIFACT
        loaded = RankerBundle.load(folder)
        stored = (folder / BOOSTER_FILE).read_text(encoding="utf-8")
        if bundle is not None and stored != bundle.booster.model_to_string():
            raise ModelError(f"{model_uri}: logged model differs from the trained one")
        if bundle is not None and (loaded.value is None) != (bundle.value is None):
            differs = "lacks the value model it was trained with" if loaded.value is None else \
                "has a value model the trained one lacks"
            raise ModelError(f"{model_uri}: logged model {differs}")
        if bundle is not None and bundle.value is not None and loaded.value.digest() != bundle.value.digest():
            raise ModelError(f"{model_uri}: logged value model differs from the trained one")
