"""Ranking metrics: agreement with scikit-learn and with LightGBM's own NDCG/MAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from creatorrank.core import constants as C
from creatorrank.training.metrics import (
    ap_per_query,
    compare_rankers,
    gap_closed,
    gmv_capture_per_query,
    group_codes_from_sizes,
    ndcg_at_k,
    ndcg_per_query,
    per_campaign_metrics,
    rank_within,
    summarize,
)

pytestmark = pytest.mark.unit

# LightGBM's own lambdarank example, kept in the repository (tests/data/lambdarank/SOURCE.md)
LAMBDARANK = Path(__file__).resolve().parent / "data" / "lambdarank"


def _random_queries(seed, n_queries=40, max_size=30, grades=5):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size, n_queries)
    codes = group_codes_from_sizes(sizes)
    labels = rng.integers(0, grades, len(codes))
    scores = rng.normal(size=len(codes))  # continuous: no ties
    return sizes, codes, labels, scores


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_ndcg_matches_sklearn_with_exponential_gain(k):
    from sklearn.metrics import ndcg_score

    sizes, codes, labels, scores = _random_queries(0)
    ours = ndcg_per_query(codes, labels, scores, k, empty=0.0)
    for q, size in enumerate(sizes):
        rows = codes == q
        if size < 2:  # sklearn refuses single-document queries
            continue
        # sklearn uses the relevance itself as gain: hand it 2**rel - 1 to get Burges' NDCG
        expected = ndcg_score([2.0 ** labels[rows] - 1], [scores[rows]], k=k)
        assert ours[q] == pytest.approx(expected, abs=1e-12)


def test_ndcg_linear_gain_matches_sklearn_default():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(1)
    labels, scores = rng.integers(0, 4, 25), rng.normal(size=25)
    linear = [float(i) for i in range(4)]
    assert ndcg_at_k(labels, scores, 10, label_gain=linear) == pytest.approx(
        ndcg_score([labels], [scores], k=10), abs=1e-12
    )


def test_ndcg_hand_computed():
    labels = np.array([0, 2, 1])
    scores = np.array([3.0, 2.0, 1.0])  # ranks the 0 first, then 2, then 1
    dcg = 0 + 3 / np.log2(3) + 1 / np.log2(4)
    idcg = 3 / np.log2(2) + 1 / np.log2(3)
    assert ndcg_at_k(labels, scores, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(labels, scores, 1) == 0.0
    assert ndcg_at_k(labels, np.array([1.0, 3.0, 2.0]), 3) == pytest.approx(1.0)


def test_all_zero_query_is_undefined_and_reported_apart():
    labels = np.array([0, 0, 0])
    scores = np.array([0.3, 0.2, 0.1])
    assert np.isnan(ndcg_at_k(labels, scores, 3))
    assert ndcg_at_k(labels, scores, 3, empty=1.0) == 1.0  # LightGBM's convention
    pc = per_campaign_metrics(["a"] * 3 + ["b"] * 2, [0, 0, 0, 1, 0], [0, 0, 0, 50.0, 0], [1, 2, 3, 2, 1], ks=(1, 3))
    assert pc.loc[pc[C.CAMPAIGN_ID] == "a", "ndcg@3"].isna().all()
    assert pc.loc[pc[C.CAMPAIGN_ID] == "a", "gmv@10"].isna().all()
    s = summarize(pc)
    assert s["campaigns"] == 1 and s["no_positive"] == 1
    assert s["ndcg@1"] == 1.0


def test_ties_keep_row_order_and_nan_ranks_last():
    codes = np.zeros(4, dtype=np.int64)
    assert rank_within(codes, np.array([1.0, 1.0, 2.0, np.nan])).tolist() == [1, 2, 0, 3]
    # queries need not be contiguous
    assert rank_within(np.array([0, 1, 0, 1]), np.array([1.0, 5.0, 2.0, 3.0])).tolist() == [1, 0, 0, 1]


def test_map_hand_computed():
    labels = np.array([1, 0, 1, 0, 1])
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    codes = np.zeros(5, dtype=np.int64)
    # hits at ranks 1, 3, 5: AP@5 = (1/1 + 2/3 + 3/5) / 3; AP@3 = (1 + 2/3) / min(3, 3)
    assert ap_per_query(codes, labels, scores, 5)[0] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert ap_per_query(codes, labels, scores, 3)[0] == pytest.approx((1 + 2 / 3) / 3)
    assert ap_per_query(codes, labels, scores, 1)[0] == pytest.approx(1.0)


def test_gmv_capture():
    codes = np.zeros(4, dtype=np.int64)
    outcome = np.array([0.0, 100.0, 10.0, 50.0])
    assert gmv_capture_per_query(codes, outcome, np.array([4.0, 3.0, 2.0, 1.0]), 2)[0] == pytest.approx(100 / 150)
    assert gmv_capture_per_query(codes, outcome, outcome, 2)[0] == 1.0


def test_compare_rankers_and_gap_closed():
    sizes, codes, labels, _ = _random_queries(2, grades=3)
    frame = pd.DataFrame({C.CAMPAIGN_ID: codes.astype(str), C.LABEL: labels, C.OUTCOME_GMV: labels * 100.0})
    rng = np.random.default_rng(0)
    perfect = labels + rng.random(len(labels)) * 0.1
    summary, per_campaign = compare_rankers(
        frame, {"model": labels + rng.normal(0, 1, len(labels)), "random": rng.random(len(labels)),
                "oracle": perfect}, ks=(1, 10)
    )
    assert list(summary.index) == ["model", "random", "oracle"]
    assert summary.loc["oracle", "ndcg@10"] == pytest.approx(1.0)
    assert set(per_campaign["model"]) == {"model", "random", "oracle"}
    closed = gap_closed(summary, "ndcg@10")
    assert 0 < closed < 1
    assert np.isnan(gap_closed(summary.drop(index="oracle"), "ndcg@10"))


def _load_rank(name):
    from sklearn.datasets import load_svmlight_file

    for path in (LAMBDARANK / name, LAMBDARANK / f"{name}.query"):  # a missing file fails, never skips
        assert path.is_file(), f"{path} is missing: the repository must hold tests/data/lambdarank"
    X, y = load_svmlight_file(str(LAMBDARANK / name))
    q = np.loadtxt(str(LAMBDARANK / f"{name}.query"), dtype=np.int64)
    return X, y, q


def test_agrees_with_lightgbm_on_its_lambdarank_example():
    """LightGBM's own test_lambdarank, with our metrics checked against its evals_result_."""
    import lightgbm as lgb

    X_train, y_train, q_train = _load_rank("rank.train")
    X_test, y_test, q_test = _load_rank("rank.test")
    gbm = lgb.LGBMRanker(n_estimators=50, num_threads=1, verbose=-1)
    gbm.fit(
        X_train, y_train, group=q_train,
        eval_X=(X_test,), eval_y=(y_test,), eval_group=[q_test], eval_at=[1, 3],
        eval_metric=["ndcg", "map"],
        callbacks=[
            lgb.early_stopping(10, verbose=False),
            lgb.reset_parameter(learning_rate=lambda x: max(0.01, 0.1 - 0.01 * x)),
        ],
    )
    assert gbm.best_iteration_ <= 24
    scores = gbm.predict(X_test)  # at best_iteration_
    codes = group_codes_from_sizes(q_test)
    labels = y_test.astype(np.int64)
    lgb_eval = gbm.evals_result_["valid_0"]
    best = gbm.best_iteration_ - 1
    for k in (1, 3):
        ours = ndcg_per_query(codes, labels, scores, k, empty=1.0).mean()
        assert ours == pytest.approx(lgb_eval[f"ndcg@{k}"][best], abs=1e-6)
        ours_map = ap_per_query(codes, labels, scores, k, empty=1.0).mean()
        assert ours_map == pytest.approx(lgb_eval[f"map@{k}"][best], abs=1e-6)
    assert ndcg_per_query(codes, labels, scores, 1, empty=1.0).mean() > 0.5674
    assert ndcg_per_query(codes, labels, scores, 3, empty=1.0).mean() > 0.578
