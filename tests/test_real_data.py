"""Real and sparse data through the command line: no crash, no index resting on nothing (issue 11).

The YouTube market (``real_market.py``: real trending videos, campaigns simulated on top) and
the sparse generated markets (``sparse_market.py``, the probe's four legal edge cases among
them) go through ``validate``, ``features``, ``train``, ``score``, ``explain`` and ``scorecard``
in-process, through the Typer app. Every command must end in a documented exit code with no
traceback; the outputs must follow the rules of issue 11, each assertion naming its rule.

Evidence behind each index (a creator with none of it must get a missing index):

=========================  =============================================================
``idx_cooperation``        ``invitations_seen`` (answers to invitations)
``idx_reliability``        ``invitations_seen`` (deliveries of accepted invitations)
``idx_content``            ``posts_seen`` (engagement and views of posts)
``idx_authenticity``       ``posts_seen`` (engagement and follower counts of posts)
``idx_sales``              ``posts_seen`` + ``orders_seen`` (no post and no order: nothing)
=========================  =============================================================
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

import pandas as pd
import pytest
from creatorrank.core import constants as C
from creatorrank.features import specs as S

import real_market as RM
from cli_invoke import invoke
import sparse_market as SM

pytestmark = pytest.mark.data

MODEL_URI = f"models:/{C.REGISTERED_MODEL}@{C.CHALLENGER}"
# A small single-threaded training: the rules, not the model's quality, are under test here.
FAST_CONFIG = """\
lightgbm: {num_threads: 1, num_boost_round: 25, early_stopping_rounds: 10, min_data_in_leaf: 5}
evaluation: {shap_rows: 0}
tuning: {trials: 0}
"""
EVIDENCE = {
    "idx_cooperation": (C.INVITATIONS_SEEN,),
    "idx_reliability": (C.INVITATIONS_SEEN,),
    "idx_content": (C.POSTS_SEEN,),
    "idx_authenticity": (C.POSTS_SEEN,),
    "idx_sales": (C.POSTS_SEEN, C.ORDERS_SEEN),
}
INVITATION_RATES = ("response_rate", "acceptance_rate", "ignored_share", "delivery_rate", "on_time_rate",
                    "first_pass_rate")
YT_AS_OF = "2017-11-01T00:00:00Z"
# Log records (creatorrank's "HH:MM:SS LEVEL", MLflow's "YYYY/MM/DD HH:MM:SS LEVEL") are not the message.
LOG_LINE = re.compile(r"^(\d{4}/\d\d/\d\d )?\d\d:\d\d:\d\d(,\d+)? (DEBUG|INFO|WARNING) ")


# --------------------------------------------------------------------------- the command line


@dataclass
class Ran:
    """What one command did: exit code, stdout, stderr (with the log records main() sends there)."""

    exit_code: int
    stdout: str
    stderr: str


def cli(*args, ok=(0,)) -> Ran:
    """Run one command in-process; fail on any traceback, internal error or unexpected exit.

    ``creatorrank.cli.main`` sends log records to stderr, but under pytest the root logger
    already has handlers (logging.basicConfig then does nothing): a handler in main()'s format
    collects them here and they count as stderr.
    """
    argv = [str(a) for a in args]
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        res = invoke(argv)  # through main(): any exception is an exit code, never a traceback
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    ran = Ran(res.code, res.out, res.err + logs.getvalue())
    said = f"`creatorrank {' '.join(argv)}` -> exit {ran.exit_code}\nstdout: {ran.stdout[-2000:]}\nstderr: {ran.stderr[-2000:]}"
    assert "Traceback" not in ran.stdout + ran.stderr, f"issue 11 §1 (never a traceback): {said}"
    assert ran.exit_code != 70 and "internal error" not in ran.stderr, (
        f"issue 11 §1 (legal input must not crash): internal error (exit 70)\n{said}")
    assert ran.exit_code in ok, f"unexpected exit code (allowed {ok}): {said}"
    if ran.exit_code not in (0, 1):
        lines = [line for line in ran.stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]
        assert len(lines) == 1, f"a refusal is one line on stderr: {said}"
    return ran


@pytest.fixture(scope="module")
def mlflow_env(tmp_path_factory):
    """A folder with the fast config and the module's MLflow sqlite store (MLFLOW_TRACKING_URI)."""
    root = tmp_path_factory.mktemp("mlflow")
    (root / "fast.yaml").write_text(FAST_CONFIG, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(root / 'mlflow.db').as_posix()}")
        yield root


# --------------------------------------------------------------------------- rules shared by every market


def assert_public_columns(frame: pd.DataFrame) -> None:
    missing = [c for c in (*S.INDEX_NAMES, C.INVITATIONS_SEEN, C.POSTS_SEEN, C.ORDERS_SEEN) if c not in frame]
    assert not missing, f"issue 11 §2: the snapshot's public columns must stay: missing {missing}"


def assert_no_index_on_one_value(frame: pd.DataFrame, where: str) -> None:
    """Over half the creators on one index value: only allowed when that value is missing."""
    n = len(frame)
    for idx in S.INDEX_NAMES:
        counts = frame[idx].dropna().round(9).value_counts()
        if n and len(counts):
            value, size = counts.index[0], int(counts.iloc[0])
            assert size <= n / 2, (
                f"issue 11 §8 (no index where over half the creators sit on one value unless missing): "
                f"{where}: {size:,} of {n:,} creators have {idx} = {value:.4g}")


def assert_no_evidence_is_missing(frame: pd.DataFrame, where: str) -> None:
    """An index or rate whose evidence count is 0 is NaN, so it never ranks above weak evidence."""
    for idx, counts in EVIDENCE.items():
        none = (frame[list(counts)].fillna(0).sum(axis=1) == 0).to_numpy()
        shown = frame.loc[none, idx].dropna()
        weak = frame.loc[~none, idx].dropna()
        assert shown.empty, (
            f"issue 11 §2 (no evidence is missing, never a percentile): {where}: {len(shown):,} creators with "
            f"{'+'.join(counts)} = 0 have {idx} (median {shown.median():.1f}; creators with evidence: median "
            f"{weak.median() if len(weak) else float('nan'):.1f})")
    uninvited = (frame[C.INVITATIONS_SEEN].fillna(0) == 0).to_numpy()
    for rate in INVITATION_RATES:
        if rate in frame:
            shown = frame.loc[uninvited, rate].dropna()
            assert shown.empty, (f"issue 11 §2 (a rate without evidence is NaN): {where}: {len(shown):,} "
                                 f"creators never invited have {rate} (e.g. {shown.iloc[0]:.3g})")
    no_views = (frame["views_90d"].fillna(0) == 0).to_numpy()  # no post whose counts came in, or 0 views
    shown = frame.loc[no_views, "engagement_rate_90d"].dropna()
    assert shown.empty, (f"issue 11 §2/§4 (a ratio only over a non-zero denominator, else NaN): {where}: "
                         f"{len(shown):,} creators without views in 90 days have engagement_rate_90d "
                         f"(e.g. {shown.iloc[0]:.3g})")
    for idx in S.INDEX_NAMES:  # the evidence count each index publishes beside itself, when it does
        if f"{idx}_evidence" in frame:
            shown = frame.loc[(frame[f"{idx}_evidence"].fillna(0) == 0).to_numpy(), idx].dropna()
            assert shown.empty, (f"issue 11 §2: {where}: {len(shown):,} creators with {idx}_evidence = 0 "
                                 f"have {idx} (e.g. {shown.iloc[0]:.3g})")


def follower_bound(posts: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """The largest real spread of a creator's follower counts: max / min of its non-zero counts."""
    known = posts[(posts[C.POSTED_AT] < as_of) & (posts[C.FOLLOWERS_AT_POST] > 0)]
    if known.empty:
        return 1.0
    by = known.groupby(C.CREATOR_ID)[C.FOLLOWERS_AT_POST]
    return float(max(1.0, (by.max() / by.min()).max()))


def assert_bounded_on_heavy_tails(frame: pd.DataFrame, posts: pd.DataFrame, as_of, where: str) -> None:
    rate = frame["engagement_rate_90d"].dropna()
    assert rate.between(0, 1).all(), (
        f"issue 11 §4 (engagement_rate_90d is a share 0-1 on heavy tails): {where}: max {rate.max():.4g}, "
        f"{int((~rate.between(0, 1)).sum())} creators outside [0, 1]")
    jump = frame["max_follower_jump_365d"].dropna()
    bound = follower_bound(posts, pd.Timestamp(as_of))
    assert (jump <= bound * (1 + 1e-9)).all(), (
        f"issue 11 §4 (follower jumps measured robustly): {where}: max_follower_jump_365d reaches "
        f"{jump.max():.4g} while no creator's non-zero follower counts spread more than {bound:.4g}x")


def assert_snapshot_rules(frame: pd.DataFrame, posts: pd.DataFrame, as_of, where: str) -> None:
    assert_public_columns(frame)
    assert_no_index_on_one_value(frame, where)
    assert_no_evidence_is_missing(frame, where)
    assert_bounded_on_heavy_tails(frame, posts, as_of, where)


def assert_scores_rules(scores: pd.DataFrame, where: str) -> None:
    """Ranks 1..n per campaign, a correct ``ties`` count, and an evidence level per row."""
    for col in (C.TIES, C.CONFIDENCE):
        assert col in scores, f"issue 11 §3: the scores file has a '{col}' column ({where}); has {list(scores)}"
    for campaign, rows in scores.groupby(C.CAMPAIGN_ID):
        assert sorted(rows[C.RANK]) == list(range(1, len(rows) + 1)), f"issue 11 §3: rank stays 1..n ({where}, {campaign})"
        same = rows.groupby(C.SCORE)[C.SCORE].transform("size") - 1
        assert (rows[C.TIES].to_numpy() == same.to_numpy()).all(), (
            f"issue 11 §3 (ties are ties): {where}, {campaign}: `ties` must count the other candidates "
            f"with the same score")
    assert scores[C.CONFIDENCE].notna().all(), f"issue 11 §3: every scored row says its evidence level ({where})"


# --------------------------------------------------------------------------- the YouTube market


@pytest.fixture(scope="module")
def yt(tmp_path_factory):
    return RM.build_real_market(tmp_path_factory.mktemp("youtube") / "market")


@pytest.fixture(scope="module")
def yt_clean(yt):
    from creatorrank.data.validate import load_market

    return load_market(yt.path, now=RM.NOW)


@pytest.fixture(scope="module")
def yt_validated(yt, tmp_path_factory):
    rejects = tmp_path_factory.mktemp("yt-validate") / "rejects.csv"
    res = cli("validate", "--data", yt.path, "--rejects", rejects, "--now", RM.NOW, ok=(0, 1))
    return res, pd.read_csv(rejects, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def yt_snapshot(yt, tmp_path_factory):
    out = tmp_path_factory.mktemp("yt-features") / "snapshot.parquet"
    cli("features", "--data", yt.path, "--as-of", YT_AS_OF, "--category", "music", "--country", "us",
        "--out", out)
    return pd.read_parquet(out)


@pytest.fixture(scope="module")
def yt_trained(yt, mlflow_env):
    return cli("train", "--data", yt.path, "--config", mlflow_env / "fast.yaml", "--trials", 0,
               "--train-until", RM.TRAIN_UNTIL)


@pytest.fixture(scope="module")
def yt_scores(yt, yt_trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("yt-score") / "scores.parquet"
    campaigns = yt.tables[C.CAMPAIGNS][C.CAMPAIGN_ID].tail(3).tolist()
    cli("score", "--data", yt.path, "--model", MODEL_URI, "--out", out,
        *[a for k in campaigns for a in ("--campaign", k)])
    return out, pd.read_parquet(out)


def test_real_market_keeps_every_real_value(yt):
    """The fixture itself: every channel and video of the release, real counts unchanged."""
    raw = RM.read_source()
    posts, creators = yt.tables[C.POSTS], yt.tables[C.CREATORS]
    assert set(creators[C.CREATOR_ID]) == set(raw["channel_title"]), "every channel, exactly as written, is a creator"
    assert any(not name.isascii() for name in creators[C.CREATOR_ID]), "non-ASCII channel names are kept"
    assert len(posts) == yt.notes["videos"] and set(posts[C.POST_ID]) == set(raw["video_id"])
    assert yt.notes["unreadable_snapshots"] == int((~raw["date"].str.fullmatch(r"\d{1,2}\.\d{1,2}")).sum()) > 0
    assert (posts["posted_at"].str.slice(0, 10).between("2017-09-13", "2017-10-22")).all()
    # a video's counts are one of its own real snapshots, never a made-up number
    snaps = raw.rename(columns={"video_id": C.POST_ID, "channel_title": C.CREATOR_ID, "views": C.VIEWS_7D,
                                "likes": C.LIKES_7D, "comment_total": C.COMMENTS_7D})
    keys = [C.POST_ID, C.CREATOR_ID, C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D]  # titles change between days
    found = posts[keys].merge(snaps[keys].drop_duplicates(), on=keys, how="left", indicator=True)
    made_up = found[found["_merge"] != "both"]
    assert made_up.empty, f"7-day counts must be one of the video's own snapshots: {made_up.head(3).to_dict('records')}"
    # the 1 Oct written as "1.1" and the 13 Sep written as "13.09"
    days = RM.parse_day_month(pd.Series(["1.1", "13.09", "22.1", "24.09xcaeyJTx4Co", "100"]))
    assert days[:3].tolist() == [pd.Timestamp(d, tz="UTC") for d in ("2017-10-01", "2017-09-13", "2017-10-22")]
    assert days[3:].isna().all()


def test_real_market_is_reproducible_and_fast(yt, tmp_path):
    import time

    t0 = time.perf_counter()
    b = RM.build_real_market(tmp_path / "b")
    took = time.perf_counter() - t0
    for name in C.TABLES:
        assert (yt.path / f"{name}.csv").read_bytes() == (b.path / f"{name}.csv").read_bytes(), name
    assert took < 3.0, f"building the YouTube market took {took:.1f} s (budget 3 s)"


def test_validate_rejects_the_real_mess_with_reasons(yt, yt_validated):
    res, rejects = yt_validated
    assert res.exit_code == 1, "the release holds damaged ids: validate must reject rows (exit 1)"
    assert list(rejects.columns[:5]) == ["table", "row", "key", "rule", "detail"]
    assert (rejects["rule"] != "").all() and (rejects["detail"] != "").all(), "every reject says why"
    # 30 videos share the spreadsheet-damaged id "#NAME?", 3 videos appear under two channel names
    dup = rejects[(rejects["table"] == C.POSTS) & (rejects["rule"] == f"unique:{C.POST_ID}")]
    assert len(dup) == yt.notes["posts_sharing_an_id"], "every copy of a shared post_id is rejected"
    assert set(dup["key"]) == set(yt.tables[C.POSTS].loc[yt.tables[C.POSTS][C.POST_ID].duplicated(keep=False), C.POST_ID])
    # their organic orders cascade
    shared = set(yt.tables[C.POSTS].loc[yt.tables[C.POSTS][C.POST_ID].duplicated(keep=False), C.POST_ID])
    orders = yt.tables[C.ORDERS]
    cascade = set(orders.loc[orders[C.POST_ID].isin(shared), C.ORDER_ID])
    rejected_orders = set(rejects.loc[rejects["table"] == C.ORDERS, "key"])
    assert cascade and cascade <= rejected_orders, "orders of a rejected post are rejected (reference:post_id)"
    refs = rejects[(rejects["table"] == C.ORDERS) & (rejects["rule"] == f"reference:{C.POST_ID}")]
    post_of = orders.set_index(C.ORDER_ID)[C.POST_ID]
    unnamed = [r for r in refs.itertuples(index=False) if post_of[r.key] not in r.detail]
    assert not unnamed, (
        "issue 11 §7: a reference rejection names the offending value (the post_id, e.g. '#NAME?'); "
        f"{len(unnamed)} of {len(refs)} do not, e.g. {unnamed[0].detail!r}" if unnamed else "")
    for table in C.TABLES:
        assert re.search(rf"^{table}\s+[\d,]+ rows", res.stdout, re.M), f"the summary counts {table}"


def test_validate_flags_implausible_real_rows(yt, yt_validated):
    """sNSzJiF4sB8 (Chance The Rapper, 7 Oct): 0 views and 201 comments, a scrape glitch."""
    _, rejects = yt_validated
    posts = yt.tables[C.POSTS]
    glitch = posts[(posts[C.LIKES_7D] > posts[C.VIEWS_7D]) | (posts[C.COMMENTS_7D] > posts[C.VIEWS_7D])]
    assert len(glitch) >= 1
    rows = set((glitch.index + 1).astype(str))
    flagged = rejects[(rejects["table"] == C.POSTS) & rejects["row"].isin(rows)]
    assert set(flagged["row"]) == rows and flagged["rule"].str.contains("suspicious").all(), (
        "issue 11 §4: a post with more likes or comments than views is flagged as suspicious, by rule, "
        f"in the rejects file; got {flagged[['row', 'key', 'rule']].to_dict('records')}")
    assert re.search(r"suspicious", yt_validated[0].stdout), "issue 11 §4: suspicious rows are counted by rule"


def test_features_on_real_data_follow_the_evidence_rules(yt, yt_snapshot, yt_clean):
    tables, _ = yt_clean
    assert len(yt_snapshot) == len(tables[C.CREATORS]), "every clean creator (all joined before) is in the snapshot"
    assert (yt_snapshot[C.INVITATIONS_SEEN] == 0).any() and (yt_snapshot[C.INVITATIONS_SEEN] > 0).any()
    assert_snapshot_rules(yt_snapshot, tables[C.POSTS], YT_AS_OF, "YouTube market")


def test_country_codes_match_case_insensitively(yt_snapshot):
    assert (yt_snapshot["country_match"] == 1).all(), (
        "issue 11 §6: --country us matches creators of country US (ISO codes are case-insensitive)")


@pytest.mark.model
def test_train_on_real_data_says_whether_it_beats_each_baseline(yt_trained, mlflow_env):
    import mlflow

    from creatorrank.training.baselines import BASELINES

    run_id = re.search(r"run id:\s+(\S+)", yt_trained.stdout)
    assert run_id, f"train prints its run id: {yt_trained.stdout}"
    out = yt_trained.stdout + yt_trained.stderr  # what the user reads
    assert re.search(r"beats every baseline|does NOT beat", out), f"issue 11 §5: train says whether the model beats the baselines:\n{out}"
    tags = mlflow.MlflowClient().get_run(run_id.group(1)).data.tags
    assert tags.get("beats_baselines") in ("true", "false"), "issue 11 §5: the verdict is tagged in MLflow"
    for name in BASELINES:
        if f"beats.{name}" in tags:
            said = rf"(beat\w*\s+{re.escape(name)}\b|vs {re.escape(name)}\b.*beat)"
            assert re.search(said, out), f"issue 11 §5: train says its verdict against {name}:\n{out}"
    assert any(k.startswith("beats.") for k in tags), "issue 11 §5: one verdict per baseline is tagged"
    # 60 simulated campaigns leave about 9 test campaigns: too few to tell, and train must say so
    if tags.get("gate.too_few") == "true":
        assert "too few" in out, f"issue 11 §5: train warns when the test campaigns are too few to tell:\n{out}"


@pytest.mark.model
def test_scores_on_real_data_report_ties_and_evidence(yt_scores):
    _, scores = yt_scores
    assert_scores_rules(scores, "YouTube market")
    # thin evidence: most channels have one or two videos; equal scores must show as ties
    distinct = scores.groupby(C.CAMPAIGN_ID)[C.SCORE].nunique()
    sizes = scores.groupby(C.CAMPAIGN_ID).size()
    if (distinct < sizes).any():
        assert (scores[C.TIES] > 0).any(), "issue 11 §3: equal scores are reported as ties"


@pytest.mark.model
def test_explain_on_real_data(yt, yt_scores, tmp_path):
    path, scores = yt_scores
    out = tmp_path / "reports"
    cli("explain", "--scores", path, "--data", yt.path, "--top", 10, "--out", out)
    pages = sorted(out.rglob("campaign-*.html"))
    assert len(pages) == scores[C.CAMPAIGN_ID].nunique(), "one report per scored campaign"
    top = scores[scores[C.RANK] <= 10]
    if (top[C.TIES] > 0).any():
        assert any("tied with" in p.read_text(encoding="utf-8") for p in pages), (
            "issue 11 §3: the report says 'tied with N' instead of a false rank")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        zero = re.search(r"-0\.00\b", text)
        assert not zero, (f"issue 11 §6: a driver that rounds to zero is left out ({page.name}: "
                          f"...{text[max(0, zero.start() - 160):zero.end() + 40]}...)" if zero else "")
        assert "could not be rebuilt" not in text, f"issue 11 §6: never a false note on tied scores ({page.name})"


@pytest.mark.model
def test_scorecard_of_a_creator_never_invited(yt, yt_snapshot, yt_trained, tmp_path):
    no_card = set(yt.tables[C.CREATORS].loc[yt.tables[C.CREATORS][C.RATE_CARD_USD].isna(), C.CREATOR_ID])
    never = yt_snapshot.loc[yt_snapshot[C.INVITATIONS_SEEN] == 0, C.CREATOR_ID]
    creator = sorted(set(never) & no_card)[0]
    card = tmp_path / "card.html"
    cli("scorecard", "--data", yt.path, "--creator", creator, "--out", card, "--model", MODEL_URI,
        "--as-of", YT_AS_OF)
    text = card.read_text(encoding="utf-8")
    assert "not enough data yet" in text, "issue 11 §2: an index without evidence reads 'not enough data yet'"
    assert not re.search(r"better than \d+(\.\d+)?% of all creators at answering", text), (
        "issue 11 §2: no percentile claim about answering invitations for a creator never invited")
    if "Declared price per sponsored post" in text:  # the rate card is shown only when it matters
        assert "not declared" in text, "issue 11 §6: a missing rate card reads 'not declared', not 'no data yet'"


@pytest.mark.model
def test_scorecard_refuses_an_unknown_category(yt, yt_trained, tmp_path):
    creator = yt.tables[C.CREATORS][C.CREATOR_ID].iloc[0]
    res = cli("scorecard", "--data", yt.path, "--creator", creator, "--out", tmp_path / "card.html",
              "--model", MODEL_URI, "--category", "cosmetics", ok=(2,))
    assert "cosmetics" in res.stderr and "music" in res.stderr, (
        f"issue 11 §6: an unknown category is refused naming the known ones: {res.stderr}")
    assert not (tmp_path / "card.html").exists()


# --------------------------------------------------------------------------- sparse generated markets


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    """Every variant written once: {name: (folder, tables)}."""
    root = tmp_path_factory.mktemp("sparse")
    return {name: (SM.sparse_market(name, root / name), SM.variant_tables(name)) for name in SM.VARIANTS}


def test_sparse_variants_are_what_they_claim(sparse):
    thin = sparse["thin"][1]
    per_creator = thin[C.POSTS].groupby(C.CREATOR_ID).size()
    assert (per_creator <= 2).mean() > 0.5, "most creators keep one or two posts"
    assert thin[C.INVITATIONS][C.CREATOR_ID].nunique() < 0.5 * len(thin[C.CREATORS]), "most were never invited"
    assert thin[C.CREATORS][C.RATE_CARD_USD].isna().mean() > 0.5, "most rate cards are null"
    assert sparse["orders_without_post_ids"][1][C.ORDERS][C.POST_ID].isna().all()
    for name, table in (("no_campaigns_yet", C.CAMPAIGNS), ("no_posts", C.POSTS), ("no_orders", C.ORDERS)):
        assert len(sparse[name][1][table]) == 0 and list(sparse[name][1][table].columns) == list(thin[table].columns)


@pytest.mark.parametrize("name", SM.VARIANTS)
def test_validate_and_features_on_sparse_markets(sparse, name, tmp_path):
    folder, tables = sparse[name]
    cli("validate", "--data", folder, "--rejects", tmp_path / "rejects.csv", "--now", SM.NOW, ok=(0, 1))
    out = tmp_path / "snapshot.parquet"
    cli("features", "--data", folder, "--as-of", SM.AS_OF, "--out", out)
    frame = pd.read_parquet(out)
    from creatorrank.data.validate import load_clean_tables

    clean = load_clean_tables(folder, now=SM.NOW)
    assert_snapshot_rules(frame, clean[C.POSTS], SM.AS_OF, f"sparse market '{name}'")


@pytest.mark.model
@pytest.mark.parametrize("name", ["thin", "orders_without_post_ids", "no_campaigns_yet", "no_posts", "no_orders"])
def test_train_and_score_on_sparse_markets(sparse, name, mlflow_env, tmp_path):
    """Train works or stops with one line saying what is missing; scoring follows the ties rules.

    One MLflow store for the module (creating one costs seconds): each train registers a new
    version as ``challenger``, which the score right after it uses.
    """
    folder, tables = sparse[name]
    res = cli("train", "--data", folder, "--config", mlflow_env / "fast.yaml", "--trials", 0,
              "--train-until", SM.TRAIN_UNTIL, ok=(0, 2))
    if name == "no_campaigns_yet":
        assert res.exit_code == 2 and "campaign" in res.stderr, (
            f"issue 11 §1: without campaigns train stops with one line ('no complete campaigns before ...'): {res.stderr}")
        return
    if res.exit_code == 2:
        assert name == "no_orders", f"issue 11 §1: train must work on legal sparse input '{name}': {res.stderr}"
        return
    campaign = tables[C.CAMPAIGNS][C.CAMPAIGN_ID].iloc[-1]
    out = tmp_path / "scores.parquet"
    res = cli("score", "--data", folder, "--model", MODEL_URI, "--out", out, "--any-country",
              "--campaign", campaign, ok=(0, 2))
    if res.exit_code == 0:
        assert_scores_rules(pd.read_parquet(out), f"sparse market '{name}'")
    else:
        assert name == "no_posts", f"issue 11 §1: score must work on legal sparse input '{name}': {res.stderr}"
