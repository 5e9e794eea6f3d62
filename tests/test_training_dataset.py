"""Labels per the contract, time split, contiguous groups, row caps, categorical encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.data.contract import CONTRACT
from creatorrank.data.load import coerce_table
from creatorrank.training.config import LabelConfig, SplitConfig
from creatorrank.training.dataset import (
    assign_splits,
    campaign_outcomes,
    cap_rows,
    complete_campaigns,
    grade_labels,
    sort_queries,
)
from creatorrank.training.encoding import encode_features, fit_categories


def ts(text):
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.data  # the tiny market
def test_outcomes_of_the_tiny_market(tiny):
    out = campaign_outcomes(tiny, cutoff=ts("2025-01-01")).set_index(C.INVITATION_ID)[C.OUTCOME_GMV]
    # i1: delivered; o2 (60) counts, o3 (25) was refunded, o1 is organic. i2 declined, i3 ignored.
    assert out.to_dict() == {"i1": 60.0, "i2": 0.0, "i3": 0.0}


def _add_orders(tables, rows):
    orders = pd.DataFrame(rows, columns=[C.ORDER_ID, C.CREATOR_ID, C.CAMPAIGN_ID, C.POST_ID, C.ORDERED_AT,
                                         C.GMV_USD, C.REFUNDED_AT])
    raw = pd.concat([tables[C.ORDERS].astype(object), orders.astype(object)], ignore_index=True)
    tables[C.ORDERS] = coerce_table(raw, CONTRACT[C.ORDERS])
    return tables


@pytest.mark.data  # the tiny market
def test_outcome_window_refunds_and_non_delivery(tiny):
    # k1 runs 2024-04-10 .. 2024-05-10: orders count until 2024-05-24 inclusive of the start.
    tiny = _add_orders(tiny, [
        ["o4", "c1", "k1", None, ts("2024-04-10"), 7.0, None],            # on the start: counts
        ["o5", "c1", "k1", None, ts("2024-04-09 23:59"), 100.0, None],    # before the start
        ["o6", "c1", "k1", None, ts("2024-05-24"), 3.0, None],            # on ends_at + 14 days
        ["o7", "c1", "k1", None, ts("2024-05-24 00:00:01"), 100.0, None],  # after the window
        ["o8", "c1", "k2", None, ts("2024-05-10"), 100.0, None],          # another campaign
        ["o9", "c2", "k1", None, ts("2024-04-20"), 100.0, None],          # c2 declined k1: 0
        ["o10", "c1", "k1", None, ts("2024-04-20"), 5.0, ts("2025-06-01")],  # refunded after cutoff
    ])
    out = campaign_outcomes(tiny, cutoff=ts("2025-01-01")).set_index(C.INVITATION_ID)[C.OUTCOME_GMV]
    assert out["i1"] == pytest.approx(60 + 7 + 3 + 5)
    assert out["i2"] == 0.0
    later = campaign_outcomes(tiny, cutoff=ts("2025-07-01")).set_index(C.INVITATION_ID)[C.OUTCOME_GMV]
    assert later["i1"] == pytest.approx(60 + 7 + 3)
    # before delivery nothing is known: outcome 0
    early = campaign_outcomes(tiny, cutoff=ts("2024-04-19")).set_index(C.INVITATION_ID)[C.OUTCOME_GMV]
    assert early["i1"] == 0.0


@pytest.mark.data  # the tiny market
def test_complete_campaigns_need_the_settle_period(tiny):
    camps = tiny[C.CAMPAIGNS]
    # k1 ends 2024-05-10, k2 ends 2024-06-05
    assert complete_campaigns(camps, ts("2024-05-24"))[C.CAMPAIGN_ID].tolist() == []
    assert complete_campaigns(camps, ts("2024-05-24 00:00:01"))[C.CAMPAIGN_ID].tolist() == ["k1"]
    assert complete_campaigns(camps, ts("2024-07-01"))[C.CAMPAIGN_ID].tolist() == ["k1", "k2"]


@pytest.mark.unit
def test_split_by_time_no_campaign_twice():
    rng = np.random.default_rng(0)
    created = pd.Series(pd.to_datetime(rng.integers(0, 10**9, 100), unit="s", utc=True),
                        index=[f"k{i:03d}" for i in range(100)])
    splits = assign_splits(created, SplitConfig())
    assert splits.value_counts().to_dict() == {"train": 70, "validation": 15, "test": 15}
    assert splits.index.is_unique
    t = created.reindex(splits.index)
    assert t[splits == "train"].max() <= t[splits == "validation"].min()
    assert t[splits == "validation"].max() <= t[splits == "test"].min()
    tiny_split = assign_splits(created.iloc[:3], SplitConfig())
    assert sorted(tiny_split) == ["test", "train", "validation"]


@pytest.mark.unit
def test_too_few_campaigns():
    from creatorrank.core.errors import InputError

    with pytest.raises(InputError, match="complete campaign"):
        assign_splits(pd.Series([ts("2024-01-01")], index=["k1"]), SplitConfig())


def _rows(sizes, seed=0):
    rng = np.random.default_rng(seed)
    camp = np.concatenate([[f"k{i}"] * n for i, n in enumerate(sizes)])
    n = len(camp)
    frame = pd.DataFrame({
        C.INVITATION_ID: [f"i{j:06d}" for j in range(n)],
        C.CAMPAIGN_ID: camp,
        C.AS_OF: pd.to_datetime(np.concatenate([[i] * s for i, s in enumerate(sizes)]), unit="D", utc=True),
        "x": rng.random(n),
    })
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # shuffled


@pytest.mark.unit
def test_sort_queries_makes_contiguous_groups():
    frame, group = sort_queries(_rows([3, 5, 1, 4]))
    assert group.tolist() == [3, 5, 1, 4]
    camp = frame[C.CAMPAIGN_ID].to_numpy()
    assert (camp[:3] == "k0").all() and (camp[3:8] == "k1").all()


@pytest.mark.unit
def test_cap_rows_is_deterministic_and_order_free():
    frame = _rows([30, 5], seed=1)
    a = cap_rows(frame, 10, seed=42)
    b = cap_rows(frame.sample(frac=1.0, random_state=3), 10, seed=42)
    assert a.groupby(C.CAMPAIGN_ID).size().to_dict() == {"k0": 10, "k1": 5}
    assert set(a[C.INVITATION_ID]) == set(b[C.INVITATION_ID])
    c = cap_rows(frame, 10, seed=7)
    assert set(c[C.INVITATION_ID]) != set(a[C.INVITATION_ID])
    assert cap_rows(frame, 100, seed=42) is frame


@pytest.mark.unit
def test_categorical_encoding_keeps_mapping_and_handles_unseen():
    train = pd.DataFrame({"cat": pd.Series(["b", "a", None, "b"], dtype="str"), "num": [1, 2, 3, 4]})
    cats = fit_categories(train, ["cat"])
    assert cats == {"cat": ["a", "b"]}
    new = pd.DataFrame({"cat": pd.Series(["a", "zzz", None], dtype="str"), "num": [1.5, None, 2]})
    enc = encode_features(new, ["num", "cat"], cats)
    assert list(enc.columns) == ["num", "cat"]
    assert (enc.dtypes == np.float64).all()
    assert enc["cat"].tolist()[0] == 0.0 and np.isnan(enc["cat"].tolist()[1:]).all()
    assert encode_features(enc, ["num", "cat"], cats).equals(enc)  # encoded input passes through


@pytest.mark.unit
def test_grade_labels_bounds():
    label = LabelConfig(thresholds_usd=[0, 10, 100])
    assert grade_labels(np.array([0, 5, 10, 11, 100, 101]), label).tolist() == [0, 1, 1, 2, 2, 3]


@pytest.mark.data  # the tiny market
def test_default_cutoff_is_the_end_of_the_data(tiny):
    from creatorrank.training.dataset import resolve_cutoff

    # the tiny market's last fact: invitation i3 to k2, sent 2024-05-02
    assert resolve_cutoff(tiny, None) == ts("2024-05-02") + pd.Timedelta(microseconds=1)
    assert resolve_cutoff(tiny, "2024-06-01") == ts("2024-06-01")
    assert resolve_cutoff(tiny, "2024-06-01T02:00:00+02:00") == ts("2024-06-01")
    with pytest.raises(Exception, match="ISO-8601"):
        resolve_cutoff(tiny, "not a date")
