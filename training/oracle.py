"""The generator's oracle: how close a model comes to the best possible ranking.

A generated market writes each invitation's expected net GMV (``truth/invitation_truth.parquet``).
Ranking by it is the best any ranker could do, so the share of the gap between the best baseline
and the oracle that a model closes is the honest quality figure on generated data. Real markets
have no truth file: production commands (``train``, ``evaluate``, ``promote``) never read it; the
demo, the benchmarks and the notebooks call :func:`with_oracle` on what ``train`` returned.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import constants as C
from .commands import TrainResult
from .config import TrainingConfig
from .metrics import compare_rankers, gap_closed
from .value import spearman_with

ORACLE_ROW = "oracle"
TRUTH_FILE = Path("truth") / "invitation_truth.parquet"


def read_truth(data_dir: str | os.PathLike) -> pd.Series | None:
    """The generator's ``expected_gmv`` per invitation id, when the folder has it (else None)."""
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


def with_oracle(result: TrainResult, data_dir: str | os.PathLike,
                config: TrainingConfig | None = None) -> TrainResult:
    """``result`` with an ``oracle`` row in its test metrics, ``gap_closed`` and, with a value model,
    ``value.spearman_oracle`` (expected GMV against the generator's) filled in.

    The oracle is scored on the same test rows and graded with the same metrics as the model
    and the baselines (``compare_rankers`` grades each ranker on its own, so the other rows do
    not change). Without a truth file (real data) ``result`` comes back unchanged.

    Parameters
    ----------
    result : TrainResult
        What :func:`creatorrank.training.commands.train` returned (its ``data`` holds the splits).
    data_dir : path-like
        The market folder the model was trained on.
    config : TrainingConfig, optional
        The training config (its k, GMV k, label gains, primary k); default: the defaults.
    """
    cfg = config or TrainingConfig()
    test = result.data["test"].frame
    oracle = oracle_scores(test, read_truth(data_dir))
    if oracle is None:
        return result
    row, per_campaign = compare_rankers(test, {ORACLE_ROW: oracle}, cfg.evaluation.k, cfg.evaluation.gmv_k,
                                        cfg.label.evaluation_gains())
    metrics = pd.concat([result.metrics, row[result.metrics.columns]])
    value = result.value
    if value is not None:  # the value model's Spearman with the generator's expected net GMV
        value = copy.copy(value)
        value.spearman_oracle = spearman_with(value.expected, oracle)
    return dataclasses.replace(
        result, metrics=metrics, per_campaign=pd.concat([result.per_campaign, per_campaign], ignore_index=True),
        gap_closed=gap_closed(metrics, f"ndcg@{cfg.evaluation.primary_k}"), value=value)
