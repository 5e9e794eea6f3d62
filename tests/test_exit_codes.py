"""The one exit-code contract (core/errors.py, docs/RELIABILITY.md), end to end through the CLI.

Every case here gave a traceback once (issue 12 §2). Each now ends in one line on stderr and a
documented code: 0 ok, 1 validate rejected rows, 2 bad input/usage, 3 refused, 70 internal error
(one line naming a log that holds the traceback), 130 interrupted. Most cases run in-process
through ``creatorrank.cli.main``; a few run as subprocesses to prove no traceback text reaches
stderr of a real process.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pandas as pd
import pytest

from cli_invoke import DOCUMENTED_CODES, cli_env, invoke, isolate, run_subprocess, unwritable_dir
from tiny_market import tiny_tables, write_tables

from creatorrank.core import constants as C
from creatorrank.core.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK

pytestmark = pytest.mark.unit

LONG = "n" * 300  # longer than NAME_MAX (255): Errno 36 from the file system
INTERNAL = re.compile(r"^internal error: (\w+): (.*) \(traceback in (.+)\)$")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    """Crash logs and MLflow under the test's folder; INFO logs off so stderr holds the error only."""
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def market(tmp_path) -> Path:
    """The tiny hand-made market as Parquet (valid by contract)."""
    return write_tables(tiny_tables(), tmp_path / "market")


@pytest.fixture
def csv_market(tmp_path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "csv_market", fmt="csv")


def one_error(res, code: int, *words: str) -> str:
    """Assert exit ``code``, exactly one line on stderr, no traceback, and the words in it."""
    assert res.code == code, (res.code, res.err)
    assert "Traceback" not in res.err and "Traceback" not in res.out
    assert len(res.err_lines) == 1, res.err
    line = res.err_lines[0]
    for word in words:
        assert word in line, (word, line)
    return line


def usage_error(res, *words: str) -> None:
    """Usage errors are typer's: a usage line and the reason, exit 2, no traceback."""
    assert res.code == EXIT_INPUT, (res.code, res.err)
    assert "Traceback" not in res.err
    for word in words:
        assert word in res.err, (word, res.err)


# ---------------------------------------------------------------------------- usage


def test_usage_errors_exit_2():
    usage_error(invoke(["no-such-command"]), "No such command")
    usage_error(invoke(["generate"]), "--out")
    usage_error(invoke(["generate", "--out", "x", "--creators", "many"]), "--creators")
    usage_error(invoke(["generate", "--out", "x", "--creators", "0"]), "--creators")
    usage_error(invoke(["score", "--data", "d", "--model", "m", "--out", "s.csv", "--top", "-1"]), "--top")
    usage_error(invoke(["train", "--data", "d", "--trials", "-3"]), "--trials")
    usage_error(invoke(["validate", "--data", "d", "--bogus"]), "--bogus")
    assert invoke([]).code == EXIT_INPUT  # no arguments: the help, as a usage error
    assert invoke(["--help"]).code == EXIT_OK


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "-1e999"])
def test_non_finite_margin_is_refused(value):
    usage_error(invoke(["promote", "--data", "d", "--margin", value]), "--margin", "finite")


def test_cli_runner_gives_the_same_codes(market):
    """Other tests drive the app through typer's CliRunner: the contract holds there too."""
    from typer.testing import CliRunner

    from creatorrank.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["validate", "--data", str(market), "--now", "notadate"])
    assert res.exit_code == EXIT_INPUT and "--now" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["promote", "--data", str(market), "--margin", "nan"])
    assert res.exit_code == EXIT_INPUT and "finite" in res.output


# ---------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--now", "notadate"],
        ["validate", "--now", "April 1 2017"],
        ["features", "--as-of", "yesterday", "--out", "f.parquet"],
        ["train", "--train-until", "2025-13-45"],
        ["evaluate", "--model", "models:/x/1", "--since", "soon"],
        ["score", "--model", "models:/x/1", "--campaign", "k1", "--as-of", "1/4/2017", "--out", "s.parquet"],
        ["scorecard", "--creator", "c1", "--as-of", "tomorrow", "--out", "c.html"],
    ],
    ids=["validate-now", "validate-now-words", "features-as-of", "train-until", "evaluate-since", "score-as-of",
         "scorecard-as-of"],
)
def test_bad_time_option_is_one_line_naming_it(args, market, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    option = next(a for a in args if a in ("--now", "--as-of", "--train-until", "--since"))
    line = one_error(invoke([args[0], "--data", market, *args[1:]]), EXIT_INPUT, option, "ISO-8601")
    assert line.startswith("error: ")
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob("*.html"))  # nothing written


def test_rejected_rows_exit_1_and_are_written(tmp_path):
    tables = tiny_tables()
    tables[C.ORDERS].loc[0, C.GMV_USD] = -5.0
    folder = write_tables(tables, tmp_path / "dirty")
    res = invoke(["validate", "--data", folder, "--rejects", tmp_path / "rejects.csv"])
    assert res.code == 1 and res.err == "", res.err
    assert "rule violations" in res.out and len(pd.read_csv(tmp_path / "rejects.csv")) == 1


def test_valid_now_is_accepted(market):
    res = invoke(["validate", "--data", market, "--now", "2030-01-01T00:00:00Z"])
    assert res.code == EXIT_OK and "clean" in res.out, res.err


# ---------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "args",
    [
        ["features", "--data", "{market}", "--as-of", "2024-06-01", "--out", "{long}.parquet"],
        ["validate", "--data", "{market}", "--rejects", "{long}.csv"],
        ["score", "--data", "{market}", "--model", "models:/x/1", "--campaign", "k1", "--out", "{long}.parquet"],
        ["explain", "--scores", "s.parquet", "--data", "{market}", "--out", "{long}"],
        ["scorecard", "--data", "{market}", "--creator", "c1", "--out", "{long}.html"],
        ["generate", "--out", "{long}", "--creators", "5", "--campaigns", "2"],
        ["generate", "--out", "{tmp}/{long}/market", "--creators", "5", "--campaigns", "2"],
        ["demo", "--out", "{tmp}/{long}"],
        ["validate", "--data", "{long}"],
        ["validate", "--data", "{tmp}/{long}/market"],
        ["features", "--data", "{long}", "--as-of", "2024-06-01", "--out", "f.parquet"],
        ["train", "--data", "{long}", "--trials", "0"],
    ],
    ids=["features-out", "validate-rejects", "score-out", "explain-out", "scorecard-out", "generate-out",
         "generate-out-parent", "demo-out", "validate-data", "validate-data-parent", "features-data", "train-data"],
)
def test_over_long_path_is_one_line_naming_it(args, market, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    filled = [a.format(market=market, long=LONG, tmp=tmp_path) for a in args]
    line = one_error(invoke(filled), EXIT_INPUT, LONG)
    assert line.startswith("error: ") and "too long" in line.lower()


def test_missing_output_folder_is_created(market, tmp_path):
    rejects = tmp_path / "new" / "deeper" / "rejects.csv"
    res = invoke(["validate", "--data", market, "--rejects", rejects])
    assert res.code == EXIT_OK, res.err
    assert rejects.is_file()
    out = tmp_path / "fresh" / "nested" / "market"
    res = invoke(["generate", "--out", out, "--creators", "5", "--campaigns", "2"])
    assert res.code == EXIT_OK, res.err
    assert {p.name for p in out.iterdir()} == {f"{t}.parquet" for t in C.TABLES} | {"truth"}


@pytest.mark.parametrize(
    "args",
    [
        ["features", "--data", "{missing}", "--as-of", "2024-06-01", "--out", "{ro}/f.parquet"],
        ["validate", "--data", "{missing}", "--rejects", "{ro}/rejects.csv"],
        ["score", "--data", "{missing}", "--model", "models:/x/1", "--campaign", "k1", "--out", "{ro}/s.parquet"],
        ["explain", "--scores", "{missing}/s.parquet", "--data", "{missing}", "--out", "{ro}/reports"],
        ["scorecard", "--data", "{missing}", "--creator", "c1", "--out", "{ro}/card.html"],
        ["generate", "--out", "{ro}/market", "--creators", "5", "--campaigns", "2"],
        ["demo", "--out", "{ro}/demo"],
        ["features", "--data", "{missing}", "--as-of", "2024-06-01", "--out", "{ro}/sub/f.parquet"],
    ],
    ids=lambda a: a[0] + ("-sub" if "/sub/" in a[-1] else ""),
)
def test_unwritable_output_is_refused_before_any_work(args, tmp_path):
    """The output is checked first: with a missing data folder too, the error is about the output."""
    ro = unwritable_dir(tmp_path)
    if ro is None:
        pytest.skip("no folder here refuses writes")
    filled = [a.format(missing=tmp_path / "no-such-data", ro=ro) for a in args]
    line = one_error(invoke(filled), EXIT_INPUT, str(ro))
    assert "no-such-data" not in line


def test_output_path_of_the_wrong_kind(market, tmp_path):
    (tmp_path / "a-folder.parquet").mkdir()
    one_error(invoke(["features", "--data", market, "--as-of", "2024-06-01", "--out", tmp_path / "a-folder.parquet"]),
              EXIT_INPUT, "a-folder.parquet", "folder")
    one_error(invoke(["validate", "--data", market, "--rejects", tmp_path / "r.json"]), EXIT_INPUT, "r.json", ".csv")
    one_error(invoke(["scorecard", "--data", market, "--creator", "c1", "--out", tmp_path / "card.txt"]),
              EXIT_INPUT, "card.txt", ".html")
    (tmp_path / "a-file").write_text("x")
    one_error(invoke(["generate", "--out", tmp_path / "a-file", "--creators", "5", "--campaigns", "2"]),
              EXIT_INPUT, "a-file")
    assert (tmp_path / "a-file").read_text() == "x"


def test_generate_never_replaces_a_folder_of_other_files(tmp_path, monkeypatch):
    """The market folder is swapped in whole, so it must not land on a folder of other files."""
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    one_error(invoke(["generate", "--out", keep, "--creators", "5", "--campaigns", "2"]), EXIT_INPUT,
              str(keep), "notes.txt")
    assert (keep / "notes.txt").read_text() == "precious"
    monkeypatch.chdir(keep)
    one_error(invoke(["generate", "--out", ".", "--creators", "5", "--campaigns", "2"]), EXIT_INPUT, "current folder")


def test_file_system_error_mid_work_names_the_path(market, tmp_path, monkeypatch):
    """Disk full (or any OSError) while writing: one line naming the file, exit 2."""
    import creatorrank.data.generate as generate

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "m" / "posts.parquet"))

    monkeypatch.setattr(generate, "write_market", full)
    one_error(invoke(["generate", "--out", tmp_path / "m", "--creators", "5", "--campaigns", "2"]), EXIT_INPUT,
              "posts.parquet", "No space left")


# ---------------------------------------------------------------------------- config


def test_config_that_is_not_utf8(market, tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("experiment_name: caf\xe9\n".encode("latin-1"))
    line = one_error(invoke(["train", "--data", market, "--config", bad, "--trials", "0"]), EXIT_INPUT,
                     "latin1.yaml")
    assert line.startswith("error: ")
    assert not (tmp_path / "mlflow.db").exists()  # refused before the store is touched


def test_config_that_is_missing(market, tmp_path):
    one_error(invoke(["train", "--data", market, "--config", tmp_path / "none.yaml"]), EXIT_INPUT, "none.yaml")


# ---------------------------------------------------------------------------- loader (helper A's fixes)


def _validate(folder: Path):
    return invoke(["validate", "--data", folder, "--now", "2030-01-01"])


def _documented_outcome(res, table: str, column: str | None = None) -> None:
    """A bad file is read (0/1) or refused in one line naming the file (and column): never a crash."""
    assert res.code in (0, 1, EXIT_INPUT), (res.code, res.err)
    assert "Traceback" not in res.err + res.out
    if res.code == EXIT_INPUT:
        one_error(res, EXIT_INPUT, table, *([column] if column else []))


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_csv_in_another_encoding(csv_market, encoding):
    path = csv_market / f"{C.CREATORS}.csv"
    text = path.read_text(encoding="utf-8").replace(",c1,", ",c\u00e91,").replace("\nc1,", "\nc\u00e91,")
    path.write_bytes(text.encode(encoding))
    res = _validate(csv_market)
    assert res.code != 0 or encoding == "latin-1", res.out  # UTF-16 bytes are never a clean table
    _documented_outcome(res, f"{C.CREATORS}.csv")


def test_parquet_with_corrupt_pages(tmp_path):
    """A readable footer over damaged data pages: one line naming the file, exit 2."""
    from creatorrank.data.generate import generate_market, write_market

    folder = write_market(generate_market(60, 10, 1, posts_per_creator=50.0), tmp_path / "m")
    path = folder / f"{C.POSTS}.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle - 2000: middle + 2000] = bytes(range(256)) * 15 + bytes(160)
    path.write_bytes(bytes(data))
    pd.read_parquet(path, columns=[])  # the footer still reads: the damage is in the pages
    one_error(_validate(folder), EXIT_INPUT, f"{C.POSTS}.parquet")


def test_float_ids_with_fractions(market):
    path = market / f"{C.CREATORS}.parquet"
    frame = pd.read_parquet(path)
    frame[C.CREATOR_ID] = [1.5, 2.0, 3.25]
    frame.to_parquet(path, index=False)
    res = _validate(market)
    assert res.code != 0, res.out  # ids that match no posts, or refused: never clean
    _documented_outcome(res, f"{C.CREATORS}.parquet", C.CREATOR_ID)


def test_int64_timestamps_in_parquet(market):
    path = market / f"{C.POSTS}.parquet"
    frame = pd.read_parquet(path)
    frame[C.POSTED_AT] = frame[C.POSTED_AT].astype("datetime64[us, UTC]").astype("int64")
    frame.to_parquet(path, index=False)
    _documented_outcome(_validate(market), f"{C.POSTS}.parquet", C.POSTED_AT)


# ---------------------------------------------------------------------------- internal errors


def _boom(*_args, **_kwargs):
    raise ZeroDivisionError("boom in the generator\nsecond line of detail")


def test_internal_error_is_one_line_and_a_log(tmp_path, monkeypatch):
    import creatorrank.data.generate as generate

    monkeypatch.setattr(generate, "generate_market", _boom)
    line = one_error(invoke(["generate", "--out", tmp_path / "m", "--creators", "5", "--campaigns", "2"]),
                     EXIT_INTERNAL)
    match = INTERNAL.match(line)
    assert match, line
    assert match[1] == "ZeroDivisionError" and match[2] == "boom in the generator"
    log = Path(match[3])
    assert log.parent == tmp_path / "state" / "creatorrank" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "_boom" in text and "second line of detail" in text
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("how", ["option", "env"])
def test_debug_prints_the_traceback(tmp_path, monkeypatch, how):
    import creatorrank.data.generate as generate

    monkeypatch.setattr(generate, "generate_market", _boom)
    args = ["generate", "--out", tmp_path / "m", "--creators", "5", "--campaigns", "2"]
    if how == "env":
        monkeypatch.setenv("CREATORRANK_DEBUG", "1")
    res = invoke(["--debug", *args] if how == "option" else args)
    assert res.code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in res.err and "_boom" in res.err
    assert INTERNAL.match(res.err_lines[-1])
    # The flag does not stick to the next command of the same process.
    monkeypatch.delenv("CREATORRANK_DEBUG", raising=False)
    assert "Traceback" not in invoke(args).err


def test_crash_log_falls_back_to_the_temp_folder(tmp_path, monkeypatch):
    import tempfile

    import creatorrank.data.generate as generate

    monkeypatch.setattr(generate, "generate_market", _boom)
    (tmp_path / "state-is-a-file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-is-a-file"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    line = one_error(invoke(["generate", "--out", tmp_path / "m"]), EXIT_INTERNAL)
    log = Path(INTERNAL.match(line)[3])
    assert log.parent == tmp_path / "tmp" / "creatorrank-logs" and "ZeroDivisionError" in log.read_text()


def test_interrupt_exits_130(tmp_path, monkeypatch):
    import creatorrank.data.generate as generate

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate, "generate_market", interrupted)
    assert one_error(invoke(["generate", "--out", tmp_path / "m"]), EXIT_INTERRUPTED) == "interrupted"


# ---------------------------------------------------------------------------- real processes


@pytest.mark.parametrize(
    "case",
    ["now", "long-out", "margin", "config", "internal"],
)
def test_no_traceback_reaches_a_real_stderr(case, market, tmp_path):
    env = cli_env(tmp_path)
    code = None
    if case == "now":
        args, want = ["validate", "--data", market, "--now", "notadate"], EXIT_INPUT
    elif case == "long-out":
        args, want = ["features", "--data", market, "--as-of", "2024-06-01", "--out", f"{LONG}.csv"], EXIT_INPUT
    elif case == "margin":
        args, want = ["promote", "--data", market, "--margin", "nan"], EXIT_INPUT
    elif case == "config":
        bad = tmp_path / "bad.yaml"
        bad.write_bytes(b"\xff\xfeexperiment_name: x\n")
        args, want = ["train", "--data", market, "--config", bad], EXIT_INPUT
    else:
        code = ("import sys, creatorrank.data.generate as g\n"
                "def boom(*a, **k): raise RuntimeError('simulated bug')\n"
                "g.generate_market = boom\n"
                "from creatorrank.cli import main\n"
                "main(sys.argv[1:])\n")
        args, want = ["generate", "--out", tmp_path / "m"], EXIT_INTERNAL
    res = run_subprocess(args, env, cwd=tmp_path, code=code)
    assert res.code == want, res.err
    assert res.code in DOCUMENTED_CODES
    assert "Traceback" not in res.err and "Traceback" not in res.out
    if case != "margin":  # usage errors print typer's usage line too
        assert len(res.err_lines) == 1, res.err
    if case == "internal":
        assert "simulated bug" in Path(INTERNAL.match(res.err_lines[0])[3]).read_text()
