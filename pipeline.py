"""The whole pipeline end to end on a generated market: what ``make demo`` runs.

Each step calls the same plain function as its CLI command, so the demo exercises exactly
what a user runs. Every output path is printed as it is written.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .core import constants as C
from .core.errors import RefusedError
from .core.io import write_frame
from .data.generate import generate_market, write_market
from .data.validate import load_market
from .features.engine import snapshot
from .serving.report import explain_campaigns
from .serving.score import score
from .serving.scorecard import scorecard
from .training.commands import promote, train
from .training.config import champion_uri
from .training.oracle import with_oracle

log = logging.getLogger(__name__)

DEMO_BRIEFS = (
    # campaign_id, brand_id, category, country, budget_usd
    ("brief-beauty-us", "demo-brand-1", "beauty", "US", 20_000.0),
    ("brief-food-gb", "demo-brand-2", "food", "GB", 8_000.0),
    ("brief-tech-us", "demo-brand-3", "tech", "US", 15_000.0),
)


@dataclass
class DemoResult:
    """Where the demo wrote each output."""

    outputs: dict[str, Path] = field(default_factory=dict)
    trained: object = None  # the TrainResult (metrics, quality gate, version)
    promotion: object = None  # the PromotionDecision, or the RefusedError when the gate refused
    model_uri: str = ""  # the version that scored the briefs
    seconds: float = 0.0


def _write_briefs(tables, path: Path):
    """Three new briefs created just after the market's last fact (none exists in the data).

    Returns the file and the briefs' creation time (their decision time).
    """
    created = tables[C.POSTS][C.POSTED_AT].max().ceil("D")
    frame = pd.DataFrame(
        [
            {
                C.CAMPAIGN_ID: cid,
                C.BRAND_ID: brand,
                C.CATEGORY: cat,
                C.COUNTRY: country,
                C.CREATED_AT: created,
                C.STARTS_AT: created + pd.Timedelta(days=7),
                C.ENDS_AT: created + pd.Timedelta(days=37),
                C.BUDGET_USD: budget,
            }
            for cid, brand, cat, country, budget in DEMO_BRIEFS
        ]
    )
    return write_frame(frame, path), created


def run_demo(
    out: str | os.PathLike = "demo",
    creators: int = 4_000,
    campaigns: int = 1_000,
    seed: int = 7,
    trials: int = 5,
    top: int = 10,
) -> DemoResult:
    """Generate a market and run validate, features, train, promote, score, explain, scorecard.

    Parameters
    ----------
    out : path-like
        Folder for everything the demo writes (market, MLflow store, scores, reports).
    creators, campaigns, seed : int
        Size and seed of the generated market.
    trials : int
        Optuna trials for the training step.
    top : int
        Creators explained per campaign.
    """
    t0 = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tracking_uri = f"sqlite:///{out / 'mlflow.db'}"
    result = DemoResult()
    say = result.outputs.__setitem__

    log.info("1/7 generating a market of %d creators and %d campaigns (seed %d)", creators, campaigns, seed)
    market_dir = write_market(generate_market(creators, campaigns, seed), out / "market")
    say("market", market_dir)

    log.info("2/7 validating the raw tables")
    tables, report = load_market(market_dir)
    log.info("validation:\n%s", report.summary())
    if not report.ok:
        rejects = write_frame(report.rejects, out / "rejects.csv")
        say("rejected rows", rejects)

    briefs, as_of = _write_briefs(tables, out / "briefs.csv")
    say("briefs", briefs)

    log.info("3/7 feature snapshot of every creator as of %s", as_of)
    snap = snapshot(tables, as_of, category="beauty", country="US")
    say("feature snapshot", write_frame(snap, out / "features_snapshot.parquet"))

    log.info("4/7 training (%d Optuna trials), tracked in %s", trials, tracking_uri)
    # A generated market has the generator's truth: the demo shows how much of the gap between
    # the best baseline and the oracle the model closes (train itself never reads the truth).
    result.trained = with_oracle(train(market_dir, trials=trials, tracking_uri=tracking_uri), market_dir)
    say("MLflow store", out / "mlflow.db")

    log.info("5/7 promotion")
    try:
        result.promotion = promote(market_dir, tracking_uri=tracking_uri)
        model_uri = champion_uri()
    except RefusedError as refused:  # the gate is part of the demo: show it, score with the challenger
        result.promotion = refused
        model_uri = result.trained.model_uri
    log.info("%s", result.promotion)
    result.model_uri = model_uri

    log.info("6/7 scoring every eligible creator for %d new briefs", len(DEMO_BRIEFS))
    scores_path = out / "scores.parquet"
    score(market_dir, model_uri, scores_path, briefs=briefs, tracking_uri=tracking_uri)
    say("scores", scores_path)

    log.info("7/7 explaining the top %d per brief and writing a creator's score card", top)
    explain_campaigns(scores_path, market_dir, out / "reports", model_uri=model_uri, top=top,
                      tracking_uri=tracking_uri)
    say("campaign reports", out / "reports" / "index.html")
    scores = pd.read_parquet(scores_path)
    best = scores.sort_values([C.CAMPAIGN_ID, C.RANK]).iloc[0]
    card = scorecard(market_dir, best[C.CREATOR_ID], out / f"scorecard_{best[C.CREATOR_ID]}.html",
                     category=DEMO_BRIEFS[0][2] if best[C.CAMPAIGN_ID] == DEMO_BRIEFS[0][0] else None,
                     model_uri=model_uri, tracking_uri=tracking_uri)
    say("creator score card", card)
    result.seconds = time.perf_counter() - t0
    return result
