"""The trained ranker as one object: booster, feature names, encodings, version stamps.

A :class:`RankerBundle` is what scoring needs and nothing else. It saves to a folder
(``model.txt``, LightGBM's text format, and ``bundle.json``; with a value model also
``value_model.txt`` and ``value.json``, see :mod:`.value`), travels inside an MLflow
pyfunc model (see :mod:`creatorrank.training.pyfunc`), and comes back with
:func:`load_ranker` from a registry URI such as ``models:/creator-ranker@champion``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ModelError
from ..core.io import write_text
from .encoding import category_lookups, encode_matrix
from .integrity import check_model_text, decode_text, file_digest, read_bytes, trim_booster, verify_digest  # noqa: F401

BOOSTER_FILE = "model.txt"
META_FILE = "bundle.json"
PYFUNC_ARTIFACT = "bundle"
MODEL_ARTIFACT_PATH = "model"


@dataclass
class RankerBundle:
    """A trained lambdarank model and everything needed to score with it.

    Attributes
    ----------
    booster : lightgbm.Booster
        Holds exactly the trees used for prediction (trimmed to the best iteration).
    features : list of str
        Input columns, in the booster's order.
    categories : dict
        Category values per categorical feature; a value's code is its index.
    feature_set_version : str
        Version of the feature catalogue the model was trained with.
    label : dict
        The label grading (``LabelConfig`` as a dict) that defined relevance.
    params : dict
        LightGBM parameters of the fit.
    metadata : dict
        Lineage: config digest, data digest, cutoff, hold-out start, best iteration.
    model_name, model_version, model_uri
        Set by :func:`load_ranker` to the registry entry the bundle came from
        (``model_version`` is the resolved number, never an alias).
    value : ValueModel or None
        The expected-GMV model trained with the ranker (:mod:`.value`); None in bundles
        trained without one (``value.enabled: false``, or saved before value models existed).
    """

    booster: Any
    features: list[str]
    categories: dict[str, list[str]]
    feature_set_version: str
    label: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    model_name: str | None = None
    model_version: int | None = None
    model_uri: str | None = None
    value: Any = None
    bags: list | None = None

    @property
    def categorical(self) -> list[str]:
        return [f for f in self.features if f in self.categories]

    @property
    def num_threads(self) -> int:
        """Prediction threads: the trained ``num_threads``, at most the machine's CPUs.

        Scores do not depend on it (each row's prediction is independent of the others).
        """
        return max(1, min(int(self.params.get("num_threads", 1) or 1), os.cpu_count() or 1))

    def encode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The all-float model matrix of ``frame`` as a frame (the pyfunc's input; see :mod:`.encoding`)."""
        return pd.DataFrame(self.encode_matrix(frame), index=frame.index, columns=self.features, copy=False)

    def encode_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The model matrix of ``frame`` as a float64 array (what the booster reads; no frame built).

        The category lookups are built once per bundle (rebuilt if ``categories`` is replaced).
        """
        cached = self.__dict__.get("_lookups")
        if cached is None or cached[0] is not self.categories:
            cached = self.__dict__["_lookups"] = (self.categories, category_lookups(self.categories))
        return encode_matrix(frame, self.features, self.categories, cached[1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw lambdarank scores (comparable within one campaign only).

        Parameters
        ----------
        frame : DataFrame
            Feature columns, raw (categorical as strings) or already encoded; extra
            columns are ignored.

        Returns
        -------
        ndarray of float64
        """
        X = self.encode_matrix(frame)
        if len(X) == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster.predict(X, num_threads=self.num_threads), dtype=np.float64)

    def feature_importance(self) -> pd.DataFrame:
        """Total gain and split count per feature, largest gain first."""
        return (
            pd.DataFrame(
                {
                    "feature": self.features,
                    "gain": self.booster.feature_importance(importance_type="gain"),
                    "splits": self.booster.feature_importance(importance_type="split"),
                }
            )
            .sort_values(["gain", "feature"], ascending=[False, True])
            .reset_index(drop=True)
        )

    def meta(self) -> dict[str, Any]:
        """Everything but the booster, JSON-ready."""
        return {
            "features": self.features,
            "categories": self.categories,
            "feature_set_version": self.feature_set_version,
            "label": self.label,
            "params": self.params,
            "metadata": self.metadata,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``model.txt`` and ``bundle.json`` into folder ``path`` (created).

        ``bundle.json`` records the sha256 and size of ``model.txt`` (and of the value model's
        files) under ``files``; :meth:`load` checks them before LightGBM reads a file.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_text(path / BOOSTER_FILE, self.booster.model_to_string())
        meta = self.meta()
        meta[FILES_KEY] = {BOOSTER_FILE: file_digest((path / BOOSTER_FILE).read_bytes())}  # the bytes on disk
        if self.value is not None:
            meta[FILES_KEY].update(self.value.save(path))
        if self.bags:  # bagged rankers for score_sd (training/uncertainty.py)
            from .uncertainty import save_bags

            meta[FILES_KEY].update(save_bags(self.bags, path, self.metadata.get("bags")))
        write_text(path / META_FILE, json.dumps(meta, indent=2, sort_keys=True, default=str))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RankerBundle":
        """Read a bundle folder written by :meth:`save`, checking it before LightGBM sees it.

        The model file must match the checksum and size recorded in ``bundle.json``; a
        bundle saved before checksums were recorded gets a structural check of
        ``model.txt`` instead (:func:`check_model_text`). The value model is loaded when the
        bundle records its files (or, in an unchecksummed bundle, holds them); else ``value`` is None.

        Raises
        ------
        ModelError
            A file is missing, truncated, altered or unreadable (one line naming it).
        """
        import lightgbm as lgb

        path = Path(path)
        if not (path / BOOSTER_FILE).is_file() or not (path / META_FILE).is_file():
            raise ModelError(f"{path}: not a creatorrank model bundle (expected {BOOSTER_FILE} and {META_FILE})")
        meta = read_meta(path / META_FILE)
        raw = read_bytes(path / BOOSTER_FILE)
        expected = meta.get(FILES_KEY, {}).get(BOOSTER_FILE)
        if expected is not None:
            verify_digest(path / BOOSTER_FILE, raw, expected)
        text = decode_text(path / BOOSTER_FILE, raw)
        check_model_text(path / BOOSTER_FILE, text)
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unreadable"
            raise ModelError(f"{path / BOOSTER_FILE}: LightGBM cannot read the model ({first})") from None
        return cls(
            booster=booster,
            features=list(meta["features"]),
            categories={k: list(v) for k, v in meta["categories"].items()},
            feature_set_version=meta["feature_set_version"],
            label=meta["label"],
            params=meta.get("params", {}),
            metadata=meta.get("metadata", {}),
            value=_load_value(path, meta.get(FILES_KEY, {})),
            bags=_load_bags(path, meta.get(FILES_KEY, {})),
        )


def _load_value(path: Path, files: dict[str, Any]):
    """The bundle's value model, or None when it has none (checked like ``model.txt``)."""
    from .value import VALUE_BOOSTER_FILE, VALUE_META_FILE, ValueModel

    recorded = VALUE_BOOSTER_FILE in files or VALUE_META_FILE in files
    if not recorded and (files or not (path / VALUE_BOOSTER_FILE).is_file()):
        return None
    return ValueModel.load(path, files)


def _load_bags(path: Path, files: dict[str, Any]):
    """The bundle's bagged rankers (checked like ``model.txt``), or None when it records none."""
    from .uncertainty import BAGS_DIR, BAGS_META, has_bags, load_bags

    if f"{BAGS_DIR}/{BAGS_META}" not in files and (files or not has_bags(path)):
        return None
    return load_bags(path, files)


# --------------------------------------------------------------- file integrity

FILES_KEY = "files"
_META_KEYS = ("features", "categories", "feature_set_version", "label")


def read_meta(path: Path) -> dict[str, Any]:
    """The bundle's ``bundle.json``, checked to be a mapping with the keys :meth:`RankerBundle.load` needs."""
    try:
        meta = json.loads(decode_text(path, read_bytes(path)))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: damaged bundle metadata (not JSON: {exc.msg} at line {exc.lineno})") from None
    if not isinstance(meta, dict) or any(k not in meta for k in _META_KEYS):
        raise ModelError(f"{path}: damaged bundle metadata (expected the keys {', '.join(_META_KEYS)})")
    files = meta.get(FILES_KEY, {})
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise ModelError(f"{path}: damaged bundle metadata ('{FILES_KEY}' must map file names to checksums)")
    return meta
