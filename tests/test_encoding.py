"""The model matrix: ``encode_matrix`` writes straight into one float64 array, exactly as the frame encoder did.

The reference below is the encoder as it was (a frame built column by column, categories
looked up in a pandas index): every kind of column the scorer, the trainer or a user's file
can hand over must give the same bits, and a bundle's scores must not move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from creatorrank.core.errors import ModelError
from creatorrank.training.encoding import CategoryLookup, encode_features, encode_matrix

pytestmark = pytest.mark.unit

CATS = {"c": ["a", "b", "d"]}


def _reference(frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    cols = {}
    for name in features:
        series = frame[name]
        if name in categories and not pd.api.types.is_numeric_dtype(series.dtype):
            codes = pd.Index(categories[name], dtype=object).get_indexer(series.astype(object)).astype(np.float64)
            codes[codes < 0] = np.nan
            cols[name] = codes
        else:
            cols[name] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(cols, index=frame.index, columns=features).to_numpy(np.float64)


CASES = {
    "arrow strings": pd.DataFrame({"c": pd.array(["a", None, "zz", "d"], dtype="string[pyarrow]"),
                                   "x": [1.0, np.nan, -0.0, 1e300]}),
    "str dtype": pd.DataFrame({"c": pd.Series(["b", None, "a", "q"], dtype="str"), "x": [1, 2, 3, 4]}),
    "object, mixed": pd.DataFrame({"c": np.array(["b", None, 1, "a"], dtype=object),
                                   "x": pd.array([1, None, 3, 4], dtype="Int64")}),
    "already coded": pd.DataFrame({"c": [0.0, 1.0, np.nan, 5.0], "x": [True, False, True, True]}),
    "python strings, numbers as text": pd.DataFrame({"c": pd.array(["a", "b", None, "d"], dtype="string[python]"),
                                                     "x": np.array(["1", "x", None, 2.5], dtype=object)}),
    "large strings": pd.DataFrame({"c": pd.array(["a", "b", None, "b"], dtype=pd.ArrowDtype(pa.large_string())),
                                   "x": np.arange(4, dtype=np.int32)}),
    "categorical": pd.DataFrame({"c": pd.Categorical(["a", "b", "z", None]), "x": np.ones(4, np.float32) / 3}),
    "empty": pd.DataFrame({"c": pd.array([], dtype="string[pyarrow]"), "x": np.zeros(0)}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_encode_matrix_is_bit_identical_to_the_frame_encoder(name):
    frame = CASES[name].copy()
    frame.index = frame.index + 10  # a non-default index changes nothing but the frame's index
    frame["extra"] = "ignored"
    expected = _reference(frame, ["x", "c"], CATS)
    X = encode_matrix(frame, ["x", "c"], CATS)
    assert X.dtype == np.float64 and X.shape == (len(frame), 2) and X.flags["F_CONTIGUOUS"]
    assert np.array_equal(X.view(np.int64), expected.view(np.int64))  # bits, NaNs included
    enc = encode_features(frame, ["x", "c"], CATS)
    assert list(enc.index) == list(frame.index) and (enc.dtypes == np.float64).all()
    assert encode_features(enc, ["x", "c"], CATS).equals(enc)  # an encoded frame encodes to itself


def test_arrow_and_pandas_lookups_agree():
    lookup = CategoryLookup(CATS["c"])
    values = ["d", "a", None, "nope", "b", "a"]
    arrow = lookup.codes(pd.array(values, dtype="string[pyarrow]"))
    plain = lookup.codes(np.array(values, dtype=object))
    assert np.array_equal(arrow, plain, equal_nan=True)
    assert np.array_equal(arrow, [2, 0, np.nan, np.nan, 1, 0], equal_nan=True)


def test_missing_and_repeated_feature_columns_are_one_line_errors():
    frame = pd.DataFrame({"x": [1.0], "c": ["a"]})
    with pytest.raises(ModelError, match="feature 'y' is missing from the input \\(1 of 2 missing\\)"):
        encode_matrix(frame, ["x", "y"], {})
    twice = pd.concat([frame, frame[["x"]]], axis=1)
    with pytest.raises(ModelError, match="several columns named 'x'"):
        encode_matrix(twice, ["x"], {})
    other = pd.concat([frame, frame[["c"]]], axis=1)  # a repeated column that is no feature is fine
    assert encode_matrix(other, ["x"], {}).tolist() == [[1.0]]


@pytest.mark.model
def test_bundle_scores_do_not_move(tmp_path):
    """A bundle predicts what LightGBM predicts on the reference matrix, before and after a save and load."""
    import lightgbm as lgb

    from creatorrank.training.model import RankerBundle

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
                          "c": pd.array(rng.choice(["a", "b", "d", None], n), dtype="string[pyarrow]")})
    label = rng.integers(0, 3, n)
    features = ["x", "y", "c"]
    X = _reference(frame, features, CATS)
    ds = lgb.Dataset(X, label, group=[100] * 4, feature_name=features, categorical_feature=[2])
    booster = lgb.train(dict(objective="lambdarank", num_leaves=7, min_data_in_leaf=5, num_threads=1, verbosity=-1),
                        ds, num_boost_round=10)
    bundle = RankerBundle(booster=booster, features=features, categories=CATS, feature_set_version="t", label={},
                          params={"num_threads": 1})
    expected = booster.predict(np.ascontiguousarray(X), num_threads=1)
    assert np.array_equal(bundle.predict(frame), expected)
    again = RankerBundle.load(bundle.save(tmp_path / "bundle"))
    assert np.array_equal(again.predict(frame), expected)
    bundle.categories = {"c": ["d", "b", "a"]}  # the lookups follow a replaced mapping
    assert np.array_equal(bundle.encode_matrix(frame)[:, 2], _reference(frame, features, bundle.categories)[:, 2],
                          equal_nan=True)
