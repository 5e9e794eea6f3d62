"""Tests of the synthetic market generator: determinism, contract conformance, realism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.core.errors import CreatorRankError
from creatorrank.data.contract import CONTRACT
from creatorrank.data.generate import MAX_INVITEES, Market, generate_market, write_market

pytestmark = pytest.mark.data

END = pd.Timestamp("2026-01-01", tz="UTC")
SETTLE = pd.Timedelta(days=C.LABEL_SETTLE_DAYS)


@pytest.fixture(scope="module", params=[None, 400], ids=["one-chunk", "chunks-of-400"])
def market(request) -> Market:
    """The market whole, and drawn in chunks of 400 creators: both must tell the same story."""
    return generate_market(1500, 300, 11, creators_per_chunk=request.param)


@pytest.fixture(scope="module")
def small() -> Market:
    return generate_market(300, 60, 5, posts_per_creator=30.0, invitees_per_campaign=20.0)


def _grouped_spearman(frame: pd.DataFrame, group: str, a: str, b: str, min_size: int = 10) -> float:
    """Mean over groups of the Spearman correlation between ``a`` and ``b``."""
    d = frame[[group, a, b]].dropna()
    d = d[d.groupby(group)[a].transform("size") >= min_size]
    ranks = pd.DataFrame(
        {"g": d[group].to_numpy(), "a": d.groupby(group)[a].rank().to_numpy(), "b": d.groupby(group)[b].rank().to_numpy()}
    )
    per_group = ranks.groupby("g")[["a", "b"]].corr().unstack().iloc[:, 1]
    return float(per_group.mean())


def _with_history(market: Market) -> pd.DataFrame:
    """Truth rows with point-in-time creator history before the campaign's created_at.

    Adds the follower count of the latest earlier post and the organic net GMV per
    earlier organic shoppable post.
    """
    t = market.tables
    x = market.truth.merge(t[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.CREATED_AT]], on=C.CAMPAIGN_ID)
    x = x.sort_values(C.CREATED_AT)
    posts = t[C.POSTS].sort_values(C.POSTED_AT)
    latest = posts[[C.POSTED_AT, C.CREATOR_ID, C.FOLLOWERS_AT_POST]].rename(columns={C.POSTED_AT: C.CREATED_AT})
    x = pd.merge_asof(x, latest, on=C.CREATED_AT, by=C.CREATOR_ID, allow_exact_matches=False)
    shop = posts[posts[C.IS_SHOPPABLE] & posts[C.CAMPAIGN_ID].isna()][[C.POSTED_AT, C.CREATOR_ID]].copy()
    shop["n_shop"] = shop.groupby(C.CREATOR_ID).cumcount() + 1
    x = pd.merge_asof(
        x, shop.rename(columns={C.POSTED_AT: C.CREATED_AT}), on=C.CREATED_AT, by=C.CREATOR_ID, allow_exact_matches=False
    )
    orders = t[C.ORDERS]
    organic = orders[orders[C.CAMPAIGN_ID].isna() & orders[C.REFUNDED_AT].isna()].sort_values(C.ORDERED_AT)
    organic = organic[[C.ORDERED_AT, C.CREATOR_ID, C.GMV_USD]].copy()
    organic["cum_gmv"] = organic.groupby(C.CREATOR_ID)[C.GMV_USD].cumsum()
    x = pd.merge_asof(
        x,
        organic.rename(columns={C.ORDERED_AT: C.CREATED_AT})[[C.CREATED_AT, C.CREATOR_ID, "cum_gmv"]],
        on=C.CREATED_AT,
        by=C.CREATOR_ID,
        allow_exact_matches=False,
    )
    x["gmv_per_shop_post"] = x["cum_gmv"].fillna(0.0) / x["n_shop"]
    return x


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames(small: Market) -> None:
    again = generate_market(300, 60, 5, posts_per_creator=30.0, invitees_per_campaign=20.0)
    for name in C.TABLES:
        pd.testing.assert_frame_equal(small.tables[name], again.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(small.truth, again.truth, check_exact=True)
    pd.testing.assert_frame_equal(small.traits, again.traits, check_exact=True)
    assert small.params == again.params


def test_different_seed_differs(small: Market) -> None:
    other = generate_market(300, 60, 6, posts_per_creator=30.0, invitees_per_campaign=20.0)
    assert not small.tables[C.POSTS].equals(other.tables[C.POSTS])
    assert not np.array_equal(small.traits["sales_skill"], other.traits["sales_skill"])


# --------------------------------------------------------------------------- contract


def test_columns_and_dtypes_follow_the_contract(market: Market) -> None:
    assert set(market.tables) == set(C.TABLES)
    for name, table in CONTRACT.items():
        frame = market.tables[name]
        assert list(frame.columns) == table.column_names, name
        assert len(frame) > 0, name
        for col in table.columns:
            dtype = frame[col.name].dtype
            where = f"{name}.{col.name}"
            if col.dtype == "string":
                assert isinstance(dtype, pd.StringDtype), where
            elif col.dtype == "timestamp":
                assert dtype == pd.DatetimeTZDtype("us", "UTC"), where
            elif col.dtype == "bool":
                assert dtype == (pd.BooleanDtype() if col.nullable else np.dtype(bool)), where
            else:
                assert dtype == np.dtype(col.dtype), where
            if not col.nullable:
                assert frame[col.name].notna().all(), where


def test_keys_unique_and_references_valid(market: Market) -> None:
    t = market.tables
    for name, table in CONTRACT.items():
        assert t[name][table.key].is_unique, name
    creators = set(t[C.CREATORS][C.CREATOR_ID])
    campaigns = set(t[C.CAMPAIGNS][C.CAMPAIGN_ID])
    posts = set(t[C.POSTS][C.POST_ID])
    for name in (C.POSTS, C.INVITATIONS, C.ORDERS):
        assert set(t[name][C.CREATOR_ID]) <= creators, name
        assert set(t[name][C.CAMPAIGN_ID].dropna()) <= campaigns, name
    assert set(t[C.ORDERS][C.POST_ID].dropna()) <= posts
    assert not t[C.INVITATIONS].duplicated([C.CAMPAIGN_ID, C.CREATOR_ID]).any()
    assert set(market.truth[C.INVITATION_ID]) == set(t[C.INVITATIONS][C.INVITATION_ID])
    assert market.traits[C.CREATOR_ID].tolist() == t[C.CREATORS][C.CREATOR_ID].tolist()
    # An order's post belongs to the order's creator.
    orders = t[C.ORDERS].dropna(subset=[C.POST_ID])
    owner = t[C.POSTS].set_index(C.POST_ID)[C.CREATOR_ID]
    assert (owner.loc[orders[C.POST_ID]].to_numpy() == orders[C.CREATOR_ID].to_numpy()).all()


def test_event_times_are_ordered(market: Market) -> None:
    t = market.tables
    camps = t[C.CAMPAIGNS]
    assert (camps[C.CREATED_AT] <= camps[C.STARTS_AT]).all()
    assert (camps[C.STARTS_AT] <= camps[C.ENDS_AT]).all()
    joined = t[C.CREATORS].set_index(C.CREATOR_ID)[C.JOINED_AT]
    inv = t[C.INVITATIONS].merge(camps, on=C.CAMPAIGN_ID)
    assert (inv[C.INVITED_AT] >= inv[C.CREATED_AT]).all()
    assert (inv[C.INVITED_AT] >= joined.loc[inv[C.CREATOR_ID]].to_numpy()).all()
    assert (inv[C.RESPONDED_AT].dropna() >= inv.loc[inv[C.RESPONDED_AT].notna(), C.INVITED_AT]).all()
    delivered = inv[inv[C.DELIVERED_AT].notna()]
    assert (delivered[C.DELIVERED_AT] >= delivered[C.RESPONDED_AT]).all()
    posts = t[C.POSTS]
    assert (posts[C.POSTED_AT] >= joined.loc[posts[C.CREATOR_ID]].to_numpy()).all()
    orders = t[C.ORDERS]
    refunded = orders[orders[C.REFUNDED_AT].notna()]
    assert (refunded[C.REFUNDED_AT] >= refunded[C.ORDERED_AT]).all()
    posted = posts.set_index(C.POST_ID)[C.POSTED_AT]
    with_post = orders.dropna(subset=[C.POST_ID])
    assert (with_post[C.ORDERED_AT].to_numpy() >= posted.loc[with_post[C.POST_ID]].to_numpy()).all()


def test_answers_and_deliveries_are_consistent(market: Market) -> None:
    inv = market.tables[C.INVITATIONS]
    assert (inv[C.ACCEPTED].isna() == inv[C.RESPONDED_AT].isna()).all()
    accepted = inv[C.ACCEPTED].fillna(False).astype(bool)
    assert (inv[C.FEE_USD].notna() == accepted).all()
    assert (inv[C.DUE_AT].notna() == accepted).all()
    assert not inv.loc[~accepted, C.DELIVERED_AT].notna().any()
    assert (inv[C.APPROVED_FIRST_PASS].notna() == inv[C.DELIVERED_AT].notna()).all()
    # All outcomes occur: ignored, declined, accepted, delivered late, missed.
    assert inv[C.RESPONDED_AT].isna().any() and (inv[C.ACCEPTED] == False).any()  # noqa: E712
    assert (inv[C.DELIVERED_AT] > inv[C.DUE_AT]).any()
    assert (accepted & inv[C.DELIVERED_AT].isna() & (inv[C.DUE_AT] < END)).any()


def test_campaign_posts_and_orders_match_deliveries(market: Market) -> None:
    t = market.tables
    inv = t[C.INVITATIONS]
    delivered = inv[inv[C.DELIVERED_AT].notna()].set_index([C.CAMPAIGN_ID, C.CREATOR_ID])
    camp_posts = t[C.POSTS].dropna(subset=[C.CAMPAIGN_ID])
    assert camp_posts[C.IS_SHOPPABLE].all()
    keys = pd.MultiIndex.from_frame(camp_posts[[C.CAMPAIGN_ID, C.CREATOR_ID]])
    assert keys.isin(delivered.index).all() and keys.is_unique
    assert len(camp_posts) == len(delivered)
    orders = t[C.ORDERS].dropna(subset=[C.CAMPAIGN_ID]).merge(t[C.CAMPAIGNS], on=C.CAMPAIGN_ID)
    keys = pd.MultiIndex.from_frame(orders[[C.CAMPAIGN_ID, C.CREATOR_ID]])
    assert keys.isin(delivered.index).all()
    assert (orders[C.ORDERED_AT] >= orders[C.STARTS_AT]).all()
    assert (orders[C.ORDERED_AT] <= orders[C.ENDS_AT] + SETTLE).all()
    assert orders[C.POST_ID].notna().mean() > 0.8
    organic = t[C.ORDERS][t[C.ORDERS][C.CAMPAIGN_ID].isna()]
    assert organic[C.POST_ID].notna().all() and len(organic) > 0
    refund_share = t[C.ORDERS][C.REFUNDED_AT].notna().mean()
    assert 0.02 < refund_share < 0.08


def test_counts_and_money_are_non_negative(market: Market) -> None:
    t = market.tables
    for col in (C.FOLLOWERS_AT_POST, C.VIEWS_7D, C.LIKES_7D, C.COMMENTS_7D, C.SHARES_7D):
        assert (t[C.POSTS][col] >= 0).all(), col
    assert (t[C.ORDERS][C.GMV_USD] >= 0).all()
    assert (t[C.INVITATIONS][C.FEE_USD].dropna() > 0).all()
    assert (t[C.CAMPAIGNS][C.BUDGET_USD].dropna() > 0).all()
    assert (t[C.CREATORS][C.RATE_CARD_USD].dropna() > 0).all()
    assert (market.truth[C.EXPECTED_GMV] >= 0).all()


def test_nothing_happens_after_end() -> None:
    end = pd.Timestamp("2025-03-01", tz="UTC")
    m = generate_market(400, 120, 3, start="2024-06-01", end="2025-03-01", posts_per_creator=40.0)
    t = m.tables
    events = [
        (C.CREATORS, C.JOINED_AT),
        (C.POSTS, C.POSTED_AT),
        (C.CAMPAIGNS, C.CREATED_AT),
        (C.INVITATIONS, C.INVITED_AT),
        (C.INVITATIONS, C.RESPONDED_AT),
        (C.INVITATIONS, C.DELIVERED_AT),
        (C.ORDERS, C.ORDERED_AT),
        (C.ORDERS, C.REFUNDED_AT),
    ]
    for name, col in events:
        values = t[name][col].dropna()
        assert (values <= end).all(), f"{name}.{col}"
        assert (values >= pd.Timestamp("2024-06-01", tz="UTC")).all(), f"{name}.{col}"
    # Plans may run past the end of the export; that is realistic, not an error.
    assert (t[C.CAMPAIGNS][C.ENDS_AT] > end).any()


def test_sizes_follow_the_rates(market: Market) -> None:
    t = market.tables
    organic_posts = t[C.POSTS][C.CAMPAIGN_ID].isna().sum()
    assert 80 < organic_posts / 1500 < 120
    per_campaign = t[C.INVITATIONS].groupby(C.CAMPAIGN_ID).size()
    assert 35 < per_campaign.mean() < 60


def test_invitees_are_capped() -> None:
    m = generate_market(20_000, 3, 1, posts_per_creator=0.2, invitees_per_campaign=50_000.0)
    inv = m.tables[C.INVITATIONS]
    per_campaign = inv.groupby(C.CAMPAIGN_ID).size()
    assert per_campaign.max() <= MAX_INVITEES
    assert not inv.duplicated([C.CAMPAIGN_ID, C.CREATOR_ID]).any()


def test_tiny_market_works() -> None:
    m = generate_market(1, 1, 0, start="2025-01-01", end="2025-01-20", posts_per_creator=5.0, invitees_per_campaign=1.0)
    assert len(m.tables[C.CREATORS]) == 1 and len(m.tables[C.CAMPAIGNS]) == 1
    assert len(m.tables[C.INVITATIONS]) <= 1


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_market_round_trip(small: Market, tmp_path, fmt: str) -> None:
    out = write_market(small, tmp_path / "raw", fmt=fmt)
    for name in C.TABLES:
        path = out / f"{name}.{fmt}"
        assert path.is_file(), path
        back = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
        assert list(back.columns) == CONTRACT[name].column_names
        assert len(back) == len(small.tables[name])
    if fmt == "parquet":
        back = pd.read_parquet(out / f"{C.POSTS}.parquet")
        assert str(back[C.POSTED_AT].dtype) == "datetime64[us, UTC]"
    else:
        back = pd.read_csv(out / f"{C.INVITATIONS}.csv")
        parsed = pd.to_datetime(back[C.INVITED_AT], utc=True, format="ISO8601")
        pd.testing.assert_series_equal(parsed.dt.as_unit("us"), small.tables[C.INVITATIONS][C.INVITED_AT])
        assert back[C.INVITED_AT].iloc[0].endswith("Z")
    truth = pd.read_parquet(out / "truth" / "invitation_truth.parquet")
    assert len(truth) == len(small.truth) and C.EXPECTED_GMV in truth
    assert len(pd.read_parquet(out / "truth" / "creator_traits.parquet")) == 300
    assert json.loads((out / "truth" / "params.json").read_text())["seed"] == 5
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_market_replaces_a_market_whole(small: Market, tmp_path) -> None:
    other = generate_market(40, 8, 9)
    out = write_market(other, tmp_path / "raw", fmt="csv")
    write_market(small, out)  # parquet over csv: the csv tables must not linger
    assert {p.name for p in out.iterdir()} == {f"{name}.parquet" for name in C.TABLES} | {"truth"}
    assert json.loads((out / "truth" / "params.json").read_text())["seed"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temporary folder beside it
    # Same market, same bytes: the write is deterministic.
    again = write_market(small, tmp_path / "again")
    assert _files(again) == _files(out)


def test_write_market_failing_midway_keeps_the_old_market(small: Market, tmp_path, monkeypatch) -> None:
    import creatorrank.data.generate as generate

    out = write_market(generate_market(40, 8, 9), tmp_path / "raw")
    before = _files(out)
    calls = []

    def failing(frame, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(target))
        return write_frame(frame, target)

    from creatorrank.core.io import write_frame

    monkeypatch.setattr(generate, "write_frame", failing)
    with pytest.raises(OSError):
        write_market(small, out)
    assert _files(out) == before  # not two tables of the new market over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]
    assert all(p.parent != out for p in calls)  # the new tables were built elsewhere


def test_write_market_refuses_a_folder_of_other_files(small: Market, tmp_path, monkeypatch) -> None:
    from creatorrank.data.generate import check_market_target

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(CreatorRankError, match="thesis.tex"):
        write_market(small, tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"
    monkeypatch.chdir(tmp_path / "mine")
    with pytest.raises(CreatorRankError, match="current folder"):
        check_market_target(tmp_path)  # holds the current folder
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale" / ".posts.parquet.99999999.abc.tmp").write_text("")  # an old writer's leftover
    assert check_market_target(tmp_path / "stale") == tmp_path / "stale"


def test_write_market_rejects_unknown_format(small: Market, tmp_path) -> None:
    with pytest.raises(CreatorRankError, match="fmt"):
        write_market(small, tmp_path, fmt="json")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_creators": 0},
        {"n_campaigns": 0},
        {"seed": -1},
        {"n_creators": 2.5},
        {"start": "2025-01-01", "end": "2025-01-01"},
        {"start": "2026-01-01", "end": "2025-01-01"},
        {"start": "not a date"},
        {"posts_per_creator": 0.0},
        {"invitees_per_campaign": -3.0},
        {"posts_per_creator": float("nan")},
    ],
)
def test_bad_arguments_raise(kwargs: dict) -> None:
    args = {"n_creators": 10, "n_campaigns": 2, "seed": 0} | kwargs
    with pytest.raises(CreatorRankError) as info:
        generate_market(**args)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- realism


def test_followers_are_heavy_tailed(market: Market) -> None:
    latest = market.tables[C.POSTS].groupby(C.CREATOR_ID)[C.FOLLOWERS_AT_POST].last().sort_values(ascending=False)
    top = latest.iloc[: max(1, len(latest) // 100)].sum()
    assert top / latest.sum() > 0.20


def test_fake_audiences_look_big_but_sell_little(market: Market) -> None:
    t = market.tables
    posts = t[C.POSTS]
    per = posts.groupby(C.CREATOR_ID).agg(
        followers=(C.FOLLOWERS_AT_POST, "last"), views=(C.VIEWS_7D, "sum"), likes=(C.LIKES_7D, "sum")
    )
    sales = t[C.ORDERS][t[C.ORDERS][C.CAMPAIGN_ID].isna()].groupby(C.CREATOR_ID)[C.GMV_USD].sum()
    per["gmv_per_view"] = sales.reindex(per.index).fillna(0.0) / per["views"].clip(lower=1)
    per["likes_per_view"] = per["likes"] / per["views"].clip(lower=1)
    bought = market.traits.set_index(C.CREATOR_ID)["bought_followers"].reindex(per.index)
    assert 0.04 < bought.mean() < 0.13
    fake, real = per[bought].median(), per[~bought].median()
    assert fake["followers"] > 2 * real["followers"]
    assert fake["views"] > real["views"]
    assert fake["likes_per_view"] < 0.7 * real["likes_per_view"]
    assert fake["gmv_per_view"] < 0.5 * real["gmv_per_view"]


def test_followers_rank_truth_poorly_but_history_ranks_it_well(market: Market) -> None:
    x = _with_history(market)
    by_followers = _grouped_spearman(x, C.CAMPAIGN_ID, C.EXPECTED_GMV, C.FOLLOWERS_AT_POST)
    by_history = _grouped_spearman(x, C.CAMPAIGN_ID, C.EXPECTED_GMV, "gmv_per_shop_post")
    assert by_followers < 0.3
    assert by_history > 0.4 and by_history > by_followers + 0.15


def test_brands_prefer_big_on_category_creators() -> None:
    # Few invitees per campaign, so that choices are not forced by small country pools.
    m = generate_market(2000, 200, 4, posts_per_creator=20.0, invitees_per_campaign=10.0)
    t = m.tables
    creators = t[C.CREATORS].set_index(C.CREATOR_ID)
    latest = t[C.POSTS].groupby(C.CREATOR_ID)[C.FOLLOWERS_AT_POST].last().reindex(creators.index)
    # Top fifth by followers within the creator's own country: random choice would give 0.2.
    top_fifth = latest.groupby(creators[C.COUNTRY]).rank(pct=True) > 0.8
    inv = t[C.INVITATIONS].merge(t[C.CAMPAIGNS][[C.CAMPAIGN_ID, C.CATEGORY]], on=C.CAMPAIGN_ID)
    assert top_fifth.reindex(inv[C.CREATOR_ID]).mean() > 0.33
    primary = m.traits.set_index(C.CREATOR_ID)["true_primary_category"].reindex(inv[C.CREATOR_ID]).to_numpy()
    assert (primary == inv[C.CATEGORY].to_numpy()).mean() > 0.28  # random choice would give about 0.15


def test_expected_gmv_is_the_product_of_its_factors(market: Market) -> None:
    tr = market.truth
    product = tr["p_answer"] * tr["p_accept"] * tr["p_deliver"] * tr["expected_gmv_if_delivered"]
    np.testing.assert_allclose(tr[C.EXPECTED_GMV], product, rtol=1e-9)


def test_realised_outcome_tracks_the_truth(market: Market) -> None:
    t = market.tables
    orders = t[C.ORDERS]
    net = orders[orders[C.CAMPAIGN_ID].notna() & orders[C.REFUNDED_AT].isna()]
    realised = net.groupby([C.CAMPAIGN_ID, C.CREATOR_ID])[C.GMV_USD].sum().rename("realised")
    x = market.truth.merge(realised, left_on=[C.CAMPAIGN_ID, C.CREATOR_ID], right_index=True, how="left")
    x["realised"] = x["realised"].fillna(0.0)
    ended = t[C.CAMPAIGNS].loc[t[C.CAMPAIGNS][C.ENDS_AT] + SETTLE < END, C.CAMPAIGN_ID]
    x = x[x[C.CAMPAIGN_ID].isin(ended)]
    # Overall the realised totals match the expectation (unbiased truth).
    assert 0.75 < x["realised"].sum() / x[C.EXPECTED_GMV].sum() < 1.25
    delivered = t[C.INVITATIONS].loc[t[C.INVITATIONS][C.DELIVERED_AT].notna(), [C.INVITATION_ID]]
    d = x.merge(delivered, on=C.INVITATION_ID)
    assert _grouped_spearman(d, C.CAMPAIGN_ID, "expected_gmv_if_delivered", "realised", min_size=5) > 0.6


def test_pair_truth_reproduces_every_invitation_and_extends_to_any_pair(market: Market) -> None:
    from creatorrank.data.generate import CATEGORIES, LatentCreators, pair_expected_gmv

    span = (pd.Timestamp(market.params["end"]) - pd.Timestamp(market.params["start"])) / pd.Timedelta(days=1)
    cr = LatentCreators.from_traits(market.traits, span)  # as read back from truth/creator_traits.parquet
    tr = market.truth
    who = pd.Index(market.traits[C.CREATOR_ID]).get_indexer(tr[C.CREATOR_ID])
    camps = market.tables[C.CAMPAIGNS].set_index(C.CAMPAIGN_ID)
    cat = pd.Index(CATEGORIES).get_indexer(camps.loc[tr[C.CAMPAIGN_ID], C.CATEGORY].astype(str))
    got = pair_expected_gmv(cr, who, cat, tr["created_day"], tr["starts_day"], tr["invited_day"])
    np.testing.assert_allclose(got[C.EXPECTED_GMV], tr[C.EXPECTED_GMV], rtol=1e-9, atol=1e-9)
    for factor in ("p_answer", "p_accept", "p_deliver"):
        np.testing.assert_allclose(got[factor], tr[factor], rtol=1e-9, atol=0)
    np.testing.assert_allclose(got["gmv_if_delivered"] * 0.95, tr["expected_gmv_if_delivered"], rtol=1e-9)
    # Any pair: every creator for one campaign; a creator's value differs across categories.
    n = len(market.traits)
    one = tr.iloc[0]
    every = pair_expected_gmv(cr, np.arange(n), np.full(n, cat[0]), np.full(n, one["created_day"]),
                              np.full(n, one["starts_day"]))[C.EXPECTED_GMV]
    assert np.isfinite(every).all() and (every >= 0).all() and len(np.unique(every)) > n // 2
    by_cat = pair_expected_gmv(cr, np.zeros(len(CATEGORIES), int), np.arange(len(CATEGORIES)),
                               np.full(len(CATEGORIES), 100.0), np.full(len(CATEGORIES), 110.0))[C.EXPECTED_GMV]
    assert len(np.unique(by_cat)) > 1
    with pytest.raises(CreatorRankError, match="joined_day"):
        LatentCreators.from_traits(market.traits.drop(columns="joined_day"), span)
