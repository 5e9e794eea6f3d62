"""Property-based fuzzing of the command line's options (hypothesis), in-process.

Whatever text or number a user passes for a time, a margin, a count or a path, the command
ends with a documented exit code (never 70: option values are input, not bugs) and stderr
never holds a traceback. The runs are cheap on purpose: options are checked before any work,
so each example either fails on the option or on a missing data folder right after it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_invoke import invoke, isolate
from tiny_market import tiny_tables, write_tables

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
USER_CODES = {0, 1, 2}  # ok, rows rejected, bad input: what option values may lead to

NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "Infinity", "1e400", "-0", "0x10", "1_000", "", " 3", "1e-400"]),
)
TIMES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["2025-06-01", "2025-06-01T00:00:00Z", "2025-02-30", "9999-12-31T23:59:59+14:00",
                     "0001-01-01", "2025-06-01T25:00", "now", "today", "1/4/2017", "April 1 2017", "NaT", "",
                     "2025-06-01 12:00+02:00", "2262-04-12", "1677-09-21"]),
)
ODD_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=60)
PATHS = st.one_of(
    ODD_TEXT,
    st.builds(lambda a, b: f"{a}/{b}", ODD_TEXT, ODD_TEXT),
    st.sampled_from(["", ".", "..", "/", "//", "~", "-", "--", " ", "a" * 300, "x/" * 50, "\t", "*.parquet",
                     "f.PARQUET", "f.parquet/", ".parquet", "nul\x00byte.csv", "\u202e.csv", "ф.csv"]),
)
# Outputs stay under the test's folder: a fuzzed absolute path would create folders anywhere.
OUT_PATHS = PATHS.map(lambda p: p.lstrip("/"))


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return write_tables(tiny_tables(), tmp_path_factory.mktemp("fuzz") / "market")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path, log_level="ERROR")
    monkeypatch.chdir(tmp_path)  # relative output paths land here


def check(args: list, codes: set[int] = USER_CODES):
    res = invoke(args)
    assert res.code in codes, (args, res.code, res.err)
    assert "Traceback" not in res.err and "Traceback" not in res.out, (args, res.err)
    if res.code not in (0, 1):
        assert res.err_lines, (args, "a failure must say why")
    return res


@FUZZ
@given(now=TIMES)
def test_validate_now(market, now):
    res = check(["validate", "--data", market, "--now", now])
    if res.code == 2 and not now.startswith("-"):
        assert "--now" in res.err


@FUZZ
@given(as_of=TIMES, out=OUT_PATHS)
def test_features_as_of_and_out(as_of, out):
    check(["features", "--data", "no-such-data", "--as-of", as_of, "--out", out])


@FUZZ
@given(margin=NUMBERS)
def test_promote_margin(margin):
    res = check(["promote", "--data", "no-such-data", "--margin", margin], codes={2})
    assert "Traceback" not in res.err


@FUZZ
@given(top=NUMBERS, as_of=st.one_of(st.none(), TIMES), active=NUMBERS)
def test_score_top_as_of_active_days(top, as_of, active):
    args = ["score", "--data", "no-such-data", "--model", "models:/creator-ranker/1", "--campaign", "k1",
            "--top", top, "--active-days", active, "--out", "s.parquet"]
    check(args + ([] if as_of is None else ["--as-of", as_of]), codes={2})


@FUZZ
@given(creators=NUMBERS, campaigns=NUMBERS, seed=NUMBERS)
def test_generate_counts(creators, campaigns, seed):
    """The target is an existing file, so valid counts fail on it right after parsing."""
    with tempfile.NamedTemporaryFile(dir=".") as taken:
        check(["generate", "--out", taken.name, "--creators", creators, "--campaigns", campaigns, "--seed", seed],
              codes={2})


@FUZZ
@given(trials=NUMBERS, until=st.one_of(st.none(), TIMES))
def test_train_trials_and_until(trials, until):
    args = ["train", "--data", "no-such-data", "--trials", trials]
    check(args + ([] if until is None else ["--train-until", until]), codes={2})


@FUZZ
@given(path=PATHS, out=OUT_PATHS)
def test_odd_paths(market, path, out):
    check(["validate", "--data", path])
    check(["validate", "--data", market, "--rejects", out])
    check(["explain", "--scores", path, "--data", "no-such-data", "--out", out], codes={2})
    check(["scorecard", "--data", path, "--creator", path or "c1", "--out", f"{out}.html"], codes={2})
