"""The value model's expected GMV as the ranker's starting score (issue 14).

Lambdarank learns only the order within each past campaign's invitees, so on creators unlike
past invitees it extrapolates; the value model (:mod:`.value`) learns the money itself from
every invitation, declines included. The ranker therefore starts from ``w * log E[GMV]`` (its
LightGBM ``init_score``) and its trees learn the correction within campaigns. The weight ``w``
is chosen among ``value.ranker_prior_weights`` by validation NDCG, an observable criterion, so
a prior that does not help is not kept (``w = 0`` is the ranker alone).

The registered ranker is one booster: the value model's trees scaled by ``w`` followed by the
ranker's trees (:func:`merge_prior`), so its raw score, its SHAP values (additive over both
sets of trees) and its checksum keep their form. Bagged members keep only their own trees: the
prior is the same in every member and cancels out of ``score_sd``. The value trees are not
monotone-constrained (docs/VALUE.md), so neither is the merged ranker's score in those features.
Off by default (``[0]``): the merged booster holds the value model's trees (676 against the
ranker's 17-75 at S), and TreeSHAP costs grow with them (17x on the S benchmark's model).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ModelError

logger = logging.getLogger(__name__)

FIT_SPLITS = ("train", "validation")  # the splits LightGBM sees while fitting
_SCALED_RE = re.compile(r"^(leaf_value|internal_value)=(.*)$", re.M)


@dataclass
class PriorChoice:
    """The prior weight kept and the validation NDCG of each weight tried.

    Attributes
    ----------
    weight : float
        The kept weight (0: no prior).
    scores : dict
        ``{weight: validation NDCG@primary_k}`` of each fit tried.
    trees : dict
        ``{weight: trees at the early-stopping choice}``.
    """

    weight: float
    scores: dict[float, float] = field(default_factory=dict)
    trees: dict[float, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """What the bundle records about it (JSON-ready)."""
        return {"weight": self.weight, "validation": {str(w): s for w, s in self.scores.items()},
                "trees": {str(w): n for w, n in self.trees.items()}}


def prior_scores(value, X: np.ndarray) -> np.ndarray:
    """``log E[GMV]`` before calibration: the value booster's raw score (a sum of log means)."""
    if len(X) == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(value.booster_.predict(X, raw_score=True, num_threads=value._threads()), dtype=np.float64)


def set_prior(data, value, weight: float) -> None:
    """Set (``weight > 0``) or clear the training and validation splits' ``init_score``."""
    if weight and list(value.features_) != list(data.features):
        raise ModelError("value prior: the value model's features differ from the ranker's")
    for name in FIT_SPLITS:
        split = data[name]
        split.init_score = (float(weight) * prior_scores(value, data.X(name).to_numpy(np.float64))
                            if weight else None)


def scaled_text(booster, weight: float) -> str:
    """``booster``'s model text with every tree's output multiplied by ``weight``.

    Leaf and internal values scale together (SHAP reads both); ``tree_sizes`` is then stale,
    so the text is only for :func:`.value.merge_model_texts`, which recomputes it.
    """
    def scaled(match: re.Match) -> str:
        return f"{match.group(1)}=" + " ".join(repr(float(v) * weight) for v in match.group(2).split())

    head, sep, tail = booster.model_to_string().partition("end of trees")
    return _SCALED_RE.sub(scaled, head) + sep + tail


def merge_prior(value, weight: float, booster):
    """One booster scoring ``weight * log E[GMV] + ranker``: the scaled value trees, then ``booster``'s."""
    if not weight:
        return booster
    from .value import merge_model_texts

    return merge_model_texts([scaled_text(value.booster_, float(weight)), booster.model_to_string()])


def choose_prior(data, config, value, fit, overrides: dict[str, Any] | None = None) -> PriorChoice:
    """Fit the ranker from each configured prior weight; keep the best by validation NDCG.

    ``fit`` is the ranker's fitting function (:func:`.train.fit_ranker`). Ties go to the smaller
    weight (the simpler model). The splits are left with the kept weight's ``init_score``.
    """
    weights = sorted({float(w) for w in config.value.ranker_prior_weights})
    choice = PriorChoice(weights[0])
    if len(weights) == 1:
        set_prior(data, value, weights[0])
        return choice
    for w in weights:
        set_prior(data, value, w)
        result = fit(data, config, overrides)
        choice.scores[w], choice.trees[w] = float(result.best_score), int(result.best_iteration)
    choice.weight = max(weights, key=lambda w: (np.nan_to_num(choice.scores[w], nan=-np.inf), -w))
    set_prior(data, value, choice.weight)
    logger.info("value prior: weight %g kept (validation %s)", choice.weight,
                ", ".join(f"{w:g}: {s:.4f}" for w, s in choice.scores.items()))
    return choice
