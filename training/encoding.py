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
import pyarrow as pa
import pyarrow.compute as pc

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
    encodes to itself). The values are those of :func:`encode_matrix`, framed with
    ``frame``'s index.

    Raises
    ------
    ModelError
        A feature column is missing from ``frame``.
    """
    return pd.DataFrame(encode_matrix(frame, features, categories), index=frame.index, columns=features, copy=False)


class CategoryLookup:
    """One categorical feature's values, ready to map a column to codes (built once per model).

    Arrow-backed string columns (what :func:`creatorrank.features.engine.build_features`
    returns) are mapped by Arrow's hash lookup (``index_in``); any other column by a pandas
    index of the values. Both give a value's position in ``values``, -1 for unseen and missing.
    """

    def __init__(self, values: list[str]):
        self.index = pd.Index(values, dtype=object)
        self._arrow = pa.array(list(values), type=pa.string())

    def codes(self, column) -> np.ndarray:
        """float64 codes of ``column`` (array-like of strings); NaN for unseen and missing values."""
        arrow = _arrow_strings(column)
        if arrow is not None:
            found = pc.index_in(arrow, value_set=self._arrow.cast(arrow.type))
            codes = pc.fill_null(found, -1).to_numpy().astype(np.float64)
        else:
            codes = self.index.get_indexer(pd.Series(column).astype(object)).astype(np.float64)
        codes[codes < 0] = np.nan
        return codes


def _arrow_strings(column):
    """The Arrow string data behind ``column``, or None when it is not Arrow-backed strings."""
    if not isinstance(column, pd.api.extensions.ExtensionArray) or not hasattr(column, "__arrow_array__"):
        return None
    data = column.__arrow_array__()
    return data if pa.types.is_string(data.type) or pa.types.is_large_string(data.type) else None


def category_lookups(categories: dict[str, list[str]]) -> dict[str, CategoryLookup]:
    """A :class:`CategoryLookup` per categorical feature (a value's code is its index)."""
    return {name: CategoryLookup(values) for name, values in categories.items()}


def encode_matrix(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]],
    lookups: dict[str, CategoryLookup] | None = None,
) -> np.ndarray:
    """The model matrix as a float64 array of shape (rows, features), column-major.

    Written column by column straight into one array (no intermediate frame); LightGBM reads
    a column-major matrix without copying it. Numeric columns keep their float64 values
    bit for bit; categorical strings become codes as in :func:`encode_features`.

    Parameters
    ----------
    lookups : dict, optional
        :func:`category_lookups` of ``categories``, when the caller keeps them (a model's
        bundle does); default built here.

    Raises
    ------
    ModelError
        A feature column is missing from ``frame``.
    """
    locs = _column_positions(frame, features)
    dtypes = frame.dtypes.to_numpy()
    X = np.empty((len(frame), len(features)), dtype=np.float64, order="F")
    for j, (name, loc) in enumerate(zip(features, locs)):
        dtype = dtypes[loc]
        if isinstance(dtype, np.dtype) and dtype.kind in "fiub":  # plain numpy numbers: a straight copy
            X[:, j] = _column(frame, loc)
        elif name in categories and not pd.api.types.is_numeric_dtype(dtype):
            lookup = lookups.get(name) if lookups is not None else None
            X[:, j] = (lookup or CategoryLookup(categories[name])).codes(_column(frame, loc))
        else:
            X[:, j] = pd.to_numeric(frame.iloc[:, loc], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return X


def _column_positions(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Position of each feature among ``frame``'s columns.

    Raises
    ------
    ModelError
        A feature column is missing (or named twice, so which one to read is unclear).
    """
    columns = frame.columns
    if columns.is_unique:
        locs = columns.get_indexer(features)
    else:  # a repeated column that is no feature does not matter
        locs = [columns.get_loc(f) if f in columns else -1 for f in features]
        twice = [f for f, loc in zip(features, locs) if not isinstance(loc, (int, np.integer))]
        if twice:
            raise ModelError(f"the input has several columns named '{twice[0]}'; the model reads each feature from one")
    missing = [f for f, loc in zip(features, locs) if loc < 0]
    if missing:
        raise ModelError(
            f"feature '{missing[0]}' is missing from the input ({len(missing)} of {len(features)} missing); "
            "the model expects the feature set it was trained on"
        )
    return np.asarray(locs, dtype=np.int64)


def _column(frame: pd.DataFrame, loc: int):
    """The values of column ``loc``: its array, without building a Series where pandas allows.

    ``DataFrame._get_column_array`` skips the Series (some 20 µs a column: a third of the
    matrix's cost for a brief of 10k rows); older or newer pandas without it take ``iloc``.
    """
    get = getattr(frame, "_get_column_array", None)
    return get(loc) if get is not None else frame.iloc[:, loc].array
