"""Model registry: register versions, move aliases, tag decisions (aliases, not stages)."""

from __future__ import annotations

import logging
from typing import Any

from ..core.errors import ModelError
from .mlflow_io import verify_logged_model

logger = logging.getLogger(__name__)


def register(client, model_uri: str, name: str, alias: str | None = None, tags: dict[str, Any] | None = None,
             bundle=None) -> int:
    """Register ``model_uri`` (e.g. ``runs:/ID/model``) as a new version of ``name``.

    The logged artifacts are read back and checked first
    (:func:`~creatorrank.training.mlflow_io.verify_logged_model`), so no version points at an
    incomplete model; the alias moves last, once the version and its tags exist.

    Parameters
    ----------
    client : MlflowClient
    model_uri : str
    name : str
        Registered model name (created when absent).
    alias : str, optional
        Alias pointed at the new version (e.g. ``challenger``).
    tags : dict, optional
        Version tags (values stringified).
    bundle : RankerBundle, optional
        The bundle just logged: the stored model file must be this one.

    Returns
    -------
    int
        The new version number.

    Raises
    ------
    ModelError
        The logged model is incomplete or altered (nothing registered).
    """
    import mlflow

    verify_logged_model(model_uri, bundle)
    mv = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in (tags or {}).items()})
    version = int(mv.version)
    if alias:
        client.set_registered_model_alias(name, alias, str(version))
    logger.info("registered %s version %d%s", name, version, f" as @{alias}" if alias else "")
    return version


def version_of(client, name: str, alias: str) -> int | None:
    """The version an alias points to, or None when the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_tags(client, name: str, version: int) -> dict[str, str]:
    """Tags of one version.

    Raises
    ------
    ModelError
        The version does not exist.
    """
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_model_version(name, str(version)).tags)
    except MlflowException:
        raise ModelError(f"model '{name}' has no version {version}") from None


def tag_version(client, name: str, version: int, tags: dict[str, Any]) -> None:
    """Set tags on one version (values stringified)."""
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def set_alias(client, name: str, alias: str, version: int) -> None:
    """Point ``alias`` at ``version``."""
    client.set_registered_model_alias(name, alias, str(version))
    logger.info("%s@%s -> version %d", name, alias, version)
