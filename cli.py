"""The ``creatorrank`` command line.

Each command is a thin shell over a plain function that the tests call directly. Heavy
libraries are imported inside the commands so ``creatorrank --help`` stays instant.
Logging is configured here, in the entry point, and nowhere else.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import List, Optional

import typer
from typer import TyperException

from .core import constants as C
from .core.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, CreatorRankError

app = typer.Typer(
    name="creatorrank",
    help="Open, explainable creator ranking: validate raw tables, build point-in-time features, "
    "train and promote lambdarank models, score campaigns and explain every score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DataOpt = typer.Option(..., "--data", help="Folder of raw tables (see docs/DATA_CONTRACT.md).")
# The Dask options every sharded command takes (checked together by _cluster_options).
SchedulerOpt = typer.Option(None, "--scheduler", help="Dask scheduler address (default: a local cluster).")
ShardsOpt = typer.Option(None, "--shards", min=1, help="Dask shards of creators (default: one per worker).")
WaveShardsOpt = typer.Option(None, "--wave-shards", min=1, help="Dask shards prepared at once (default: one per worker).")
ScratchOpt = typer.Option(None, "--scratch", help="Dask: folder for the data partitioned by shard, seen by every "
                          "worker; kept and reused while the data is unchanged (default: a temporary folder, "
                          "removed at the end).")
_STATE = {"debug": False}


def _finite(value: Optional[float]) -> Optional[float]:
    """Option callback: refuse nan and inf, which click's FLOAT type accepts."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="On an internal error print the full traceback too (or set CREATORRANK_DEBUG=1)."
    ),
) -> None:
    _STATE["debug"] = debug


def _say(message: str) -> None:
    typer.echo(message)


def _debug() -> bool:
    return _STATE["debug"] or os.environ.get("CREATORRANK_DEBUG", "") not in ("", "0")


def _one_line(text: str) -> str:
    """The contract is one line on stderr: join a multi-line message."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _log_dirs() -> list[Path]:
    """Where a crash log may go, best first: the XDG state folder, then the temp folder."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return [Path(state) / "creatorrank" / "logs", Path(tempfile.gettempdir()) / "creatorrank-logs"]


def _write_crash_log(exc: BaseException) -> Optional[Path]:
    """Write the traceback of an internal error to a log file; return its path (None if no folder
    could be written)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = (
        f"creatorrank internal error at {stamp}\n"
        f"command: {' '.join(sys.argv)}\n"
        f"python {sys.version.split()[0]}, pid {os.getpid()}, cwd {os.getcwd()}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    for folder in _log_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"internal-error-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def _fail(message: str, code: int, exc: Optional[BaseException] = None) -> typer.Exit:
    """Print ``message`` (after the traceback under --debug); return the Exit to raise."""
    if exc is not None and _debug():
        typer.echo("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip(), err=True)
    typer.echo(message, err=True)
    return typer.Exit(code)


def _os_error_line(exc: OSError) -> str:
    """One line naming the path a file-system error is about (name too long, disk full, no
    permission, read-only folder...)."""
    reason = exc.strerror or _one_line(str(exc)) or type(exc).__name__
    if exc.filename is not None:
        return f"error: {os.fsdecode(exc.filename)}: {reason}"
    return f"error: {reason}"


def _run(fn, *args, **kwargs):
    """Run a command body under the exit-code contract of core/errors.py.

    User errors (:class:`CreatorRankError`) and file-system errors exit 2 (3 when a quality
    gate refused) with one line; anything else is a bug: one line naming a log file that holds
    the traceback, exit 70. ``--debug`` (or ``CREATORRANK_DEBUG=1``) prints the traceback too.
    """
    try:
        return fn(*args, **kwargs)
    except (typer.Exit, typer.Abort, TyperException):
        raise  # typer.Exit(1) of validate, usage errors: typer owns these
    except CreatorRankError as exc:
        raise _fail(f"error: {_one_line(exc)}", exc.exit_code, exc) from None
    except KeyboardInterrupt as exc:
        raise _fail("interrupted", EXIT_INTERRUPTED, exc) from None
    except OSError as exc:
        raise _fail(_os_error_line(exc), EXIT_INPUT, exc) from None
    except Exception as exc:  # noqa: BLE001 -- the contract: no traceback, ever
        raise _internal(exc) from None


def _internal(exc: Exception) -> typer.Exit:
    """A bug: the traceback goes to a log file, the user gets one line naming it (exit 70)."""
    log = _write_crash_log(exc)
    first = _one_line(str(exc).split("\n", 1)[0]) if str(exc) else ""
    where = f"traceback in {log}" if log else "no log folder was writable; rerun with --debug"
    return _fail(f"internal error: {type(exc).__name__}: {first} ({where})", EXIT_INTERNAL, exc)


def _ts(text: Optional[str], option: str):
    """Parse a time option before any work, so a typo costs nothing (None stays None)."""
    if text is None:
        return None
    from .core.timeutil import parse_ts

    return parse_ts(text, option)


def _data(folder: Path) -> Path:
    """Check a data folder holds the contract tables before any work (train would set up its
    MLflow store first, score load a model)."""
    from .data.load import check_headers

    check_headers(folder)  # every missing table and column at once; headers and footers only
    return folder


def _out(target: Path, suffixes: Optional[tuple] = None, folder: bool = False, frame: bool = False) -> Path:
    """Check an output path before any work (core.io.check_output); ``frame``: a table file
    (.parquet or .csv, what core.io.write_frame writes)."""
    from .core.io import FRAME_SUFFIXES, check_output

    return check_output(target, suffixes=FRAME_SUFFIXES if frame else suffixes, folder=folder)


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the market into."),
    creators: int = typer.Option(10_000, "--creators", min=1, help="Number of creators."),
    campaigns: int = typer.Option(2_500, "--campaigns", min=1, help="Number of campaigns."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (same seed, same market)."),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
    rows_per_part: Optional[int] = typer.Option(
        None, "--rows-per-part", min=1,
        help="Write every table of more rows as a folder NAME/ of Parquet parts of at most this many rows."),
    creators_per_chunk: Optional[int] = typer.Option(
        None, "--creators-per-chunk", min=1,
        help="Draw and write posts and orders chunk by chunk of this many creators, as Parquet parts of "
             "OUT/posts/ and OUT/orders/, so memory is bounded by a chunk (default: one chunk up to "
             "200,000 creators, chunks of 50,000 above). The chunk size is part of the seed: same "
             "arguments, same files."),
) -> None:
    """Generate a synthetic market (contract tables plus the latent truth in OUT/truth/).

    The folder is written whole or not at all: built beside OUT, then swapped in. A market of
    several chunks logs one progress line per chunk.
    """

    def body():
        if fmt not in ("parquet", "csv"):
            raise CreatorRankError(f"--format must be parquet or csv, got '{fmt}'")
        if rows_per_part is not None and fmt != "parquet":
            raise CreatorRankError("--rows-per-part needs --format parquet")
        from .data.generate import check_market_target, creators_per_chunk_for, generate_into

        if fmt != "parquet" and creators_per_chunk_for(creators, creators_per_chunk) < creators:
            raise CreatorRankError(f"--format csv writes one chunk: pass --creators-per-chunk {creators} "
                                   "or use --format parquet")
        _out(out, folder=True)
        check_market_target(out)
        rows = generate_into(out, creators, campaigns, seed, fmt=fmt, rows_per_part=rows_per_part,
                             creators_per_chunk=creators_per_chunk)
        sizes = ", ".join(f"{n:,} {name}" for name, n in rows.items())
        _say(f"market written to {out}: {sizes}")

    _run(body)


@app.command()
def validate(
    data: Path = DataOpt,
    rejects: Optional[Path] = typer.Option(None, "--rejects", help="Write rejected rows (.csv or .parquet)."),
    now: Optional[str] = typer.Option(None, "--now", help="Reference time for 'nothing in the future' (default: now)."),
) -> None:
    """Check a data folder against the contract. Exit 0 clean, 1 rows rejected, 2 unusable input."""

    def body():
        when = _ts(now, "--now")
        if rejects is not None:
            _out(rejects, frame=True)
        _data(data)
        from .core.io import write_frame
        from .data.validate import validate_folder

        report = validate_folder(data, now=when)  # chunk by chunk; the same report as load_market's
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
    engine: str = typer.Option("local", "--engine", help="local or dask (sharded by creator)."),
    scheduler: Optional[str] = SchedulerOpt,
    shards: Optional[int] = ShardsOpt,
    wave_shards: Optional[int] = WaveShardsOpt,
    scratch: Optional[Path] = ScratchOpt,
) -> None:
    """Write a point-in-time snapshot of every creator's features as of a time."""

    def body():
        when = _ts(as_of, "--as-of")
        cluster = _cluster_options(engine, scheduler, shards, wave_shards, scratch)
        _out(out, frame=True)
        _data(data)
        from .core.io import write_frame
        from .data.validate import load_clean_tables
        from .features.engine import snapshot

        from .serving.briefs import canonical_code, known_codes

        if engine == "dask":  # workers read their shards' rows; the client holds creators and campaigns
            from .features.sharded import open_folder
            from .serving.dask_engine import snapshot_dask

            folder = open_folder(data, scratch=cluster["scratch"], wave_shards=wave_shards)
            country_code = canonical_code(country, known_codes({C.CREATORS: folder.creators}, C.COUNTRY))
            category_name = canonical_code(category, folder.known_categories()) if category is not None else None
            frame = snapshot_dask(folder, when, category=category_name, country=country_code, scheduler=scheduler,
                                  n_shards=shards)
        else:
            tables = load_clean_tables(data)
            # ISO codes and categories match case-insensitively, as in briefs ("vn" finds VN)
            country_code = canonical_code(country, known_codes(tables, C.COUNTRY))
            category_name = canonical_code(category, known_codes(tables, C.CATEGORY))
            frame = snapshot(tables, when, category=category_name, country=country_code)
        write_frame(frame, out)
        _say(f"{len(frame):,} creators as of {as_of} written to {out} "
             f"(feature set {frame.attrs.get('feature_set_version')})")

    _run(body)


@app.command()
def train(
    data: Path = DataOpt,
    config: Optional[Path] = typer.Option(None, "--config", help="Training config (YAML); defaults built in."),
    train_until: Optional[str] = typer.Option(None, "--train-until", help="Training cutoff (ISO-8601); default now."),
    trials: Optional[int] = typer.Option(None, "--trials", min=0, help="Optuna trials (0: fit configured parameters)."),
    engine: Optional[str] = typer.Option(None, "--engine",
                                         help="local or dask: build the training matrix sharded by creator on Dask "
                                              "(default: the config's engine)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Dask scheduler address (default: the config's, else a local cluster)."),
) -> None:
    """Train a lambdarank model on completed campaigns, track it in MLflow, register it as challenger."""

    def body():
        until = _ts(train_until, "--train-until")
        if engine is not None and engine not in ("local", "dask"):
            raise CreatorRankError(f"--engine must be local or dask, got '{engine}'")
        if scheduler is not None and engine == "local":
            raise CreatorRankError("--scheduler needs --engine dask")
        _data(data)
        from .training.commands import format_metrics, train as train_fn

        result = train_fn(data, config_path=config, train_until=until, trials=trials, engine=engine,
                          scheduler=scheduler)
        _say(f"run id:        {result.run_id}")
        _say(f"model version: {result.model_uri} (version {result.model_version})")
        _say(format_metrics(result))

    _run(body)


@app.command()
def evaluate(
    data: Path = DataOpt,
    model: str = typer.Option(..., "--model", help="Model URI, e.g. models:/creator-ranker@champion."),
    since: Optional[str] = typer.Option(None, "--since", help="Backtest campaigns created since this time."),
) -> None:
    """Backtest a model version on completed campaigns."""

    def body():
        start = _ts(since, "--since")
        _data(data)
        from .training.commands import evaluate as evaluate_fn, format_metrics

        _say(format_metrics(evaluate_fn(data, model, since=start)))

    _run(body)


@app.command()
def promote(
    data: Path = DataOpt,
    margin: Optional[float] = typer.Option(None, "--margin", callback=_finite,
                                           help="Required NDCG@10 gain over the champion."),
) -> None:
    """Compare challenger and champion on the latest campaigns; move 'champion' if the challenger wins."""

    def body():
        _data(data)
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
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Keep the best K per campaign."),
    active_days: int = typer.Option(90, "--active-days", min=1, help="Eligible creators posted within this many days."),
    any_country: bool = typer.Option(False, "--any-country", help="Do not require the brief's country."),
    same_category: bool = typer.Option(False, "--same-category", help="Only creators whose primary category is the brief's."),
    min_posts: int = typer.Option(1, "--min-posts", min=0,
                                  help="Minimum evidence: eligible creators have at least this many posts before the as-of."),
    engine: str = typer.Option("local", "--engine", help="local or dask (candidates and scores computed by creator "
                               "shard on the workers, each reading its shards of the data folder)."),
    scheduler: Optional[str] = SchedulerOpt,
    shards: Optional[int] = ShardsOpt,
    wave_shards: Optional[int] = WaveShardsOpt,
    scratch: Optional[Path] = ScratchOpt,
    target_roas: Optional[float] = typer.Option(None, "--target-roas",
                                                help="Target return on creator spend of the fair fee, for briefs "
                                                     "without their own target_roas (default 3)."),
    explore: int = typer.Option(0, "--explore", min=0,
                                help="Fill K places of each top list (--top, default 10) by Thompson sampling on score_sd."),
    explore_seed: int = typer.Option(0, "--explore-seed", help="Seed of the exploration draws (in the manifest)."),
    explore_draws: int = typer.Option(2000, "--explore-draws", min=1,
                                      help="Draws estimating each row's selection probability."),
) -> None:
    """Rank every candidate creator for campaign briefs with one model version."""

    def body():
        from .serving.score import score as score_fn

        if bool(campaign) == (briefs is not None):
            raise CreatorRankError("give either --campaign ID ... or --briefs FILE")
        when = _ts(as_of, "--as-of")
        cluster = _cluster_options(engine, scheduler, shards, wave_shards, scratch)
        _out(out, frame=True)
        _data(data)
        result = score_fn(
            data, model, out, campaign_ids=campaign or None, briefs=briefs, as_of=when, candidates=candidates,
            top=top, **cluster, active_days=active_days, same_country=not any_country,
            same_category=same_category, min_posts=min_posts, explore=explore, explore_seed=explore_seed,
            explore_draws=explore_draws, target_roas=target_roas,
        )
        _say(str(result))

    _run(body)


def _cluster_options(engine: str, scheduler, shards, wave_shards, scratch) -> dict:
    """The Dask options of a sharded command as keyword arguments (none for the local engine)."""
    if engine not in ("local", "dask"):
        raise CreatorRankError(f"--engine must be local or dask, got '{engine}'")
    if engine != "dask":
        if any(v is not None for v in (scheduler, shards, wave_shards, scratch)):
            raise CreatorRankError("--scheduler, --shards, --wave-shards and --scratch need --engine dask")
        return {}
    from .features.shard_files import check_scratch

    return {"engine": engine, "scheduler": scheduler, "n_shards": shards, "wave_shards": wave_shards,
            "scratch": check_scratch(scratch, "--scratch")}


@app.command()
def explain(
    scores: Path = typer.Option(..., "--scores", help="Scores file written by `creatorrank score` "
                                "(its manifest SCORES.manifest.json beside it records the briefs and the model)."),
    data: Path = DataOpt,
    out: Path = typer.Option(..., "--out", help="Folder for the HTML and JSON reports."),
    model: Optional[str] = typer.Option(None, "--model", help="Model URI (default: the version stamped in the scores)."),
    top: int = typer.Option(10, "--top", min=1, help="Creators explained per campaign."),
    all_creators: bool = typer.Option(False, "--all", help="Explain every scored creator (slower)."),
    engine: str = typer.Option("local", "--engine", help="local or dask (the workers read their shards of the "
                               "data folder and compute the candidates' features there; SHAP and pages run here)."),
    scheduler: Optional[str] = SchedulerOpt,
    shards: Optional[int] = ShardsOpt,
    wave_shards: Optional[int] = WaveShardsOpt,
    scratch: Optional[Path] = ScratchOpt,
) -> None:
    """Write one self-contained HTML report (and JSON) per campaign explaining its ranking."""

    def body():
        cluster = _cluster_options(engine, scheduler, shards, wave_shards, scratch)
        _out(out, folder=True)
        _data(data)
        from .serving.report import explain_campaigns

        pages = explain_campaigns(scores, data, out, model_uri=model, top=top, all_creators=all_creators, **cluster)
        _say(f"{len(pages)} reports written to {out}")

    _run(body)


@app.command()
def scorecard(
    data: Path = DataOpt,
    creator: str = typer.Option(..., "--creator", help="Creator id."),
    out: Path = typer.Option(..., "--out", help="Output HTML file (.html; a .json twin is written beside it)."),
    category: Optional[str] = typer.Option(None, "--category", help="Category to judge influence in."),
    model: Optional[str] = typer.Option(
        None, "--model", help="Model URI (default: models:/<registered_model>@champion of the training config)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Card as of this time (default: latest data)."),
    engine: str = typer.Option("local", "--engine", help="local or dask (the workers read their shards of the "
                               "data folder and compute the peers' features there)."),
    scheduler: Optional[str] = SchedulerOpt,
    shards: Optional[int] = ShardsOpt,
    wave_shards: Optional[int] = WaveShardsOpt,
    scratch: Optional[Path] = ScratchOpt,
) -> None:
    """Write a creator's own score card: indices, what they measure, what would move the rank."""

    def body():
        cluster = _cluster_options(engine, scheduler, shards, wave_shards, scratch)
        when = _ts(as_of, "--as-of")
        _out(out, (".html",))
        _data(data)
        from .serving.scorecard import scorecard as scorecard_fn

        path = scorecard_fn(data, creator, out, category=category, model_uri=model, as_of=when, **cluster)
        _say(f"score card written to {path}")

    _run(body)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="Folder for everything the demo writes."),
    creators: int = typer.Option(4_000, "--creators", min=1, help="Creators in the generated market."),
    campaigns: int = typer.Option(1_000, "--campaigns", min=1, help="Campaigns in the generated market."),
    seed: int = typer.Option(7, "--seed", min=0, help="Random seed."),
    trials: int = typer.Option(5, "--trials", min=0, help="Optuna trials."),
) -> None:
    """Run the whole pipeline on a generated market and print where each output went."""

    def body():
        _out(out, folder=True)
        from .pipeline import run_demo
        from .training.commands import format_metrics

        result = run_demo(out, creators=creators, campaigns=campaigns, seed=seed, trials=trials)
        _say("")
        _say("test campaigns, model against baselines:")
        _say(format_metrics(result.trained))
        _say(str(result.promotion))
        _say(f"scored with:         {result.model_uri}")
        _say("")
        for what, path in result.outputs.items():
            _say(f"{what:<20} {path}")
        _say(f"MLflow UI:           .venv/bin/mlflow ui --backend-store-uri sqlite:///{Path(out).resolve() / 'mlflow.db'}")
        _say(f"demo finished in {result.seconds:.0f} s")

    _run(body)


class _StderrHandler(logging.StreamHandler):
    """Log to whatever ``sys.stderr`` is at the time of the record (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _configure_logging() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
    level = os.environ.get("CREATORRANK_LOG_LEVEL", "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)


def main(argv: Optional[List[str]] = None) -> None:
    """Console-script entry point; always ends in ``SystemExit`` with a documented code."""
    _configure_logging()
    _STATE["debug"] = False
    try:
        code = app(args=argv, prog_name="creatorrank", standalone_mode=False)
    except typer.Abort:  # Ctrl-C while the options were parsed
        typer.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except TyperException as exc:  # usage errors: the usage line and the reason, exit 2
        show = getattr(exc, "show", None)
        show() if show else typer.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        code = EXIT_INPUT
    except typer.Exit as exc:
        code = exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 -- outside a command body (an option callback, typer itself)
        code = _internal(exc).exit_code
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
