"""The ``creatorrank`` command line.

Each command is a thin shell over a plain function that the tests call directly. Heavy
libraries are imported inside the commands so ``creatorrank --help`` stays instant.
Logging is configured here, in the entry point, and nowhere else.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .core.errors import CreatorRankError

app = typer.Typer(
    name="creatorrank",
    help="Open, explainable creator ranking: validate raw tables, build point-in-time features, "
    "train and promote lambdarank models, score campaigns and explain every score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DataOpt = typer.Option(..., "--data", help="Folder of raw tables (see docs/DATA_CONTRACT.md).")


def _say(message: str) -> None:
    typer.echo(message)


def _run(fn, *args, **kwargs):
    """Run a command body; turn user errors into one line and a non-zero exit."""
    try:
        return fn(*args, **kwargs)
    except CreatorRankError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the market into."),
    creators: int = typer.Option(10_000, "--creators", help="Number of creators."),
    campaigns: int = typer.Option(2_500, "--campaigns", help="Number of campaigns."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same market)."),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
) -> None:
    """Generate a synthetic market (contract tables plus the latent truth in OUT/truth/)."""

    def body():
        from .data.generate import generate_market, write_market

        market = generate_market(creators, campaigns, seed)
        path = write_market(market, out, fmt=fmt)
        sizes = ", ".join(f"{len(f):,} {name}" for name, f in market.tables.items())
        _say(f"market written to {path}: {sizes}")

    _run(body)


@app.command()
def validate(
    data: Path = DataOpt,
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Write rejected rows (.csv or .parquet)."),
    now: Optional[str] = typer.Option(None, "--now", help="Reference time for 'nothing in the future' (default: now)."),
) -> None:
    """Check a data folder against the contract. Exit 0 clean, 1 rows rejected, 2 unusable input."""

    def body():
        from .core.io import write_frame
        from .data.validate import load_market

        _, report = load_market(data, now=now)
        _say(report.summary())
        if rejects is not None:
            write_frame(report.rejects, rejects)
            _say(f"rejects written to {rejects}")
        if not report.ok:
            _say(f"{len(report.rejects):,} rule violations; rejected rows are excluded downstream")
            raise typer.Exit(1)
        _say("clean")

    _run(body)


@app.command()
def features(
    data: Path = DataOpt,
    as_of: str = typer.Option(..., "--as-of", help="Decision time (ISO-8601, UTC)."),
    category: Optional[str] = typer.Option(None, "--category", help="Campaign category for match features."),
    country: Optional[str] = typer.Option(None, "--country", help="Campaign country for match features."),
    out: Path = typer.Option(..., "--out", help="Output file (.parquet or .csv)."),
) -> None:
    """Write a point-in-time snapshot of every creator's features as of a time."""

    def body():
        from .core.io import write_frame
        from .core.timeutil import parse_ts
        from .data.validate import load_clean_tables
        from .features.engine import snapshot

        tables = load_clean_tables(data)
        frame = snapshot(tables, parse_ts(as_of, "--as-of"), category=category, country=country)
        write_frame(frame, out)
        _say(f"{len(frame):,} creators as of {as_of} written to {out} "
             f"(feature set {frame.attrs.get('feature_set_version')})")

    _run(body)


@app.command()
def train(
    data: Path = DataOpt,
    config: Optional[Path] = typer.Option(None, "--config", help="Training config (YAML); defaults built in."),
    train_until: Optional[str] = typer.Option(None, "--train-until", help="Training cutoff (ISO-8601); default now."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Optuna trials (0: fit configured parameters)."),
) -> None:
    """Train a lambdarank model on completed campaigns, track it in MLflow, register it as challenger."""

    def body():
        from .training.commands import format_metrics, train as train_fn

        result = train_fn(data, config_path=config, train_until=train_until, trials=trials)
        _say(f"run id:        {result.run_id}")
        _say(f"model version: {result.model_uri} (version {result.model_version})")
        _say(format_metrics(result.metrics))

    _run(body)


@app.command()
def evaluate(
    data: Path = DataOpt,
    model: str = typer.Option(..., "--model", help="Model URI, e.g. models:/creator-ranker@champion."),
    since: Optional[str] = typer.Option(None, "--since", help="Backtest campaigns created since this time."),
) -> None:
    """Backtest a model version on completed campaigns."""

    def body():
        from .training.commands import evaluate as evaluate_fn, format_metrics

        _say(format_metrics(evaluate_fn(data, model, since=since)))

    _run(body)


@app.command()
def promote(
    data: Path = DataOpt,
    margin: Optional[float] = typer.Option(None, "--margin", help="Required NDCG@10 gain over the champion."),
) -> None:
    """Compare challenger and champion on the latest campaigns; move 'champion' if the challenger wins."""

    def body():
        from .training.commands import promote as promote_fn

        decision = promote_fn(data, margin=margin)
        _say(str(decision))

    _run(body)


@app.command()
def score(
    data: Path = DataOpt,
    model: str = typer.Option(..., "--model", help="Model URI, e.g. models:/creator-ranker@champion."),
    out: Path = typer.Option(..., "--out", help="Output file (.parquet or .csv)."),
    campaign: Optional[List[str]] = typer.Option(None, "--campaign", help="Campaign id in the data (repeatable)."),
    briefs: Optional[Path] = typer.Option(None, "--briefs", help="File of campaign briefs (contract campaign columns)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Feature time (default: each brief's created_at)."),
    candidates: str = typer.Option("eligible", "--candidates", help="eligible (all matching creators) or invited."),
    top: Optional[int] = typer.Option(None, "--top", help="Keep the best K per campaign."),
    active_days: int = typer.Option(90, "--active-days", help="Eligible creators posted within this many days."),
    any_country: bool = typer.Option(False, "--any-country", help="Do not require the brief's country."),
    same_category: bool = typer.Option(False, "--same-category", help="Only creators whose primary category is the brief's."),
    engine: str = typer.Option("local", "--engine", help="local or dask."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (default: a local cluster)."),
) -> None:
    """Rank every candidate creator for campaign briefs with one model version."""

    def body():
        from .serving.score import score as score_fn

        if bool(campaign) == (briefs is not None):
            raise CreatorRankError("give either --campaign ID ... or --briefs FILE")
        result = score_fn(
            data, model, out, campaign_ids=campaign or None, briefs=briefs, as_of=as_of, candidates=candidates,
            top=top, engine=engine, scheduler=scheduler, active_days=active_days, same_country=not any_country,
            same_category=same_category,
        )
        _say(str(result))

    _run(body)


@app.command()
def explain(
    scores: Path = typer.Option(..., "--scores", help="Scores file written by `creatorrank score`."),
    data: Path = DataOpt,
    out: Path = typer.Option(..., "--out", help="Folder for the HTML and JSON reports."),
    model: Optional[str] = typer.Option(None, "--model", help="Model URI (default: the version stamped in the scores)."),
    top: int = typer.Option(10, "--top", help="Creators explained per campaign."),
    all_creators: bool = typer.Option(False, "--all", help="Explain every scored creator (slower)."),
    briefs: Optional[Path] = typer.Option(None, "--briefs", help="Briefs file, for campaigns not in the data."),
) -> None:
    """Write one self-contained HTML report (and JSON) per campaign explaining its ranking."""

    def body():
        from .serving.report import explain_campaigns

        pages = explain_campaigns(scores, data, out, model_uri=model, top=top, all_creators=all_creators,
                                  briefs=briefs)
        _say(f"{len(pages)} reports written to {out}")

    _run(body)


@app.command()
def scorecard(
    data: Path = DataOpt,
    creator: str = typer.Option(..., "--creator", help="Creator id."),
    out: Path = typer.Option(..., "--out", help="Output HTML file."),
    category: Optional[str] = typer.Option(None, "--category", help="Category to judge influence in."),
    model: str = typer.Option("models:/creator-ranker@champion", "--model", help="Model URI."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Card as of this time (default: latest data)."),
) -> None:
    """Write a creator's own score card: indices, what they measure, what would move the rank."""

    def body():
        from .serving.scorecard import scorecard as scorecard_fn

        path = scorecard_fn(data, creator, out, category=category, model_uri=model, as_of=as_of)
        _say(f"score card written to {path}")

    _run(body)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for everything the demo writes."),
    creators: int = typer.Option(4_000, "--creators", help="Creators in the generated market."),
    campaigns: int = typer.Option(1_000, "--campaigns", help="Campaigns in the generated market."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
    trials: int = typer.Option(5, "--trials", help="Optuna trials."),
) -> None:
    """Run the whole pipeline on a generated market and print where each output went."""

    def body():
        from .pipeline import run_demo
        from .training.commands import format_metrics

        result = run_demo(out, creators=creators, campaigns=campaigns, seed=seed, trials=trials)
        _say("")
        _say("test campaigns, model against baselines:")
        _say(format_metrics(result.train_metrics))
        _say(str(result.promotion))
        _say("")
        for what, path in result.outputs.items():
            _say(f"{what:<20} {path}")
        _say(f"MLflow UI:           .venv/bin/mlflow ui --backend-store-uri sqlite:///{Path(out).resolve() / 'mlflow.db'}")
        _say(f"demo finished in {result.seconds:.0f} s")

    _run(body)


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=os.environ.get("CREATORRANK_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    app(args=argv, prog_name="creatorrank")


if __name__ == "__main__":  # pragma: no cover
    main()
