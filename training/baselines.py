"""Simple rankings a brand could use without a model, scored by the same evaluation code.

- ``random``: a seeded shuffle (the floor).
- ``followers``: biggest audience first (what most brands do).
- ``engagement_rate``: most engaging creators first.
- ``past_gmv``: creators who sold the most before the campaign first.

Each baseline reads one catalogue feature of the training matrix; a missing value ranks last.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# Baseline -> the catalogue feature it ranks by (creatorrank.features.specs).
BASELINE_FEATURES: dict[str, str] = {
    "followers": "followers",  # latest follower count before the decision
    "engagement_rate": "engagement_rate_90d",  # smoothed engagements per view, last 90 days
    "past_gmv": "gmv_365d",  # net GMV attributed in the last 365 days
}
BASELINES = ("random", *BASELINE_FEATURES)


def baseline_scores(frame: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    """Scores of every baseline for the rows of ``frame`` (higher ranks first).

    Parameters
    ----------
    frame : DataFrame
        Training-matrix rows (raw feature columns).
    seed : int
        Seed of the random baseline.

    Returns
    -------
    dict
        ``{baseline: scores}``; a baseline whose feature is absent is left out (logged).
    """
    out = {"random": np.random.default_rng(seed).random(len(frame))}
    for name, col in BASELINE_FEATURES.items():
        if col not in frame.columns:
            logger.warning("baseline %s skipped: feature %s is not in the data", name, col)
            continue
        out[name] = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out
