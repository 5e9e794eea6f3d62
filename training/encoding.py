"""Turn a feature frame into the all-float matrix LightGBM sees.

Numeric features become float64. Categorical features (strings) become integer codes stored
as float64: the code of a value is its position in the sorted list of values seen in the
training split; missing and unseen values become NaN, which LightGBM treats as missing.
The mapping travels with the model so scoring encodes exactly as training did.
(LightGBM rejects pandas' ``str`` columns, so encoding is done here, not by pandas.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import ModelError


def fit_categories(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Sorted distinct non-null values of each categorical column.

    Parameters
    ----------
    frame : DataFrame
        Training rows.
    columns : list of str
        Categorical feature names.

    Returns
    -------
    dict
        ``{column: [value, ...]}``; a value's code is its index.
    """
    out: dict[str, list[str]] = {}
    for col in columns:
        values = frame[col].dropna().astype(str).unique().tolist()
        out[col] = sorted(values)
    return out


def encode_features(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """The model matrix: ``features`` in order, every column float64.

    A categorical column that is already numeric is taken as codes (so an encoded frame
    encodes to itself).

    Raises
    ------
    ModelError
        A feature column is missing from ``frame``.
    """
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ModelError(
            f"feature '{missing[0]}' is missing from the input ({len(missing)} of {len(features)} missing); "
            "the model expects the feature set it was trained on"
        )
    cols: dict[str, np.ndarray] = {}
    for name in features:
        series = frame[name]
        if name in categories and not pd.api.types.is_numeric_dtype(series.dtype):
            cols[name] = _map_codes(series, categories[name])
        else:
            cols[name] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(cols, index=frame.index, columns=features)


def _map_codes(series: pd.Series, values: list[str]) -> np.ndarray:
    """Vectorised category lookup: unseen and missing values give NaN."""
    codes = pd.Index(values, dtype=object).get_indexer(series.astype(object)).astype(np.float64)
    codes[codes < 0] = np.nan
    return codes
