"""The value model: expected net GMV of an invitation, with an 80% interval, in US dollars.

The ranker orders creators within one campaign; its score means nothing outside it. The value
model says what a creator is expected to bring to a brief *if invited*, in money, trained on
the same rows, features and point-in-time rules as the ranker (:mod:`.dataset`): one row per
invitation of a complete campaign, label ``outcome_gmv`` (net GMV; declines, missed deliveries
and refunds are 0), the same train / validation / test split by time.

Three parts (docs/VALUE.md has the formulas):

Mean
    The invitation funnel, one LightGBM model per stage, each with a log link:
    P(accepted) on every invitation, P(delivered | accepted) on the accepted ones (Poisson
    objective on the 0/1 outcome: a log-link model of a probability), and E[net GMV | delivered]
    on the delivered ones (Tweedie, variance power ``tweedie_variance_power``). The mean is their
    product. Fitting each stage on its own rows takes out the noise of who declined or missed a
    delivery, which otherwise swamps the GMV signal; on generated markets it raised the share of
    the best top 10's expected GMV captured over every eligible creator from 0.80 to 0.85 (a
    single Tweedie model on all invitations, still available without the stage outcomes).
    The stages' trees are merged into one booster (:func:`merge_log_link`): its raw score is
    the sum of the stages' log means, so TreeSHAP on it is additive over all three. Early
    stopping on the validation campaigns; deterministic (seeded, ``deterministic``,
    ``force_row_wise``).
Level calibration
    Markets drift: a model fitted on older campaigns forecasts the level of older campaigns.
    ``level_`` = realized / forecast net GMV summed over the calibration campaigns (the latest
    settled campaigns: validation by default; :meth:`ValueModel.calibrate` refits it on later
    ones). It multiplies the mean and the interval.
Interval
    Split-conformal over the calibration campaigns, on the ratio realized / calibrated mean,
    per bin of the calibrated mean (Mondrian conformal: small and large forecasts get their
    own spread). Each bin stores a low and a high ratio whose band held ``interval`` of the
    calibration rows, ties at 0 included: most invitations realize exactly 0, so the low
    bound is often 0 and the band is then one-sided.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import constants as C
from ..core.errors import ModelError
from ..core.io import write_text
from .encoding import encode_matrix

VALUE_BOOSTER_FILE = "value_model.txt"
VALUE_META_FILE = "value.json"
PREDICTION_COLUMNS = [C.EXPECTED_GMV_USD, C.GMV_P10_USD, C.GMV_P90_USD]

MIN_BIN_ROWS = 200  # fewer calibration rows per bin than this: fewer bins (a quantile needs rows)


class ValueModel:
    """Expected net GMV of an invitation (Tweedie LightGBM), level-calibrated, with a conformal interval.

    Parameters
    ----------
    variance_power : float
        Tweedie variance power, in (1, 2).
    interval : float
        Coverage of the interval (0.8: p10 .. p90).
    calibrate_level : bool
        Fit the multiplicative level factor on the calibration campaigns (else it stays 1).
    bins : int
        Most bins of the calibrated mean for the conformal ratios.
    num_boost_round, early_stopping_rounds : int
    lgb_params : dict, optional
        Further LightGBM parameters (learning rate, leaves, seed, threads...).

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The mean model (log link): the stages' trees, each trimmed to its best iteration.
    stages_ : list of dict
        Per stage: ``name``, ``rows`` it was fitted on and ``best_iteration``.
    features_, categories_ : list, dict
        Inputs and their category codes (as the ranker's: :mod:`.encoding`).
    best_iteration_ : int
        Trees in ``booster_`` (summed over the stages).
    level_ : float
        Multiplier of the mean and the interval (1 without level calibration).
    bin_edges_ : list of float
        Upper edges of the calibrated-mean bins (the last is +inf).
    ratio_low_, ratio_high_ : list of float
        Per bin: p10 = ratio_low x mean, p90 = ratio_high x mean.
    calibration_ : dict
        Which campaigns the level and the interval were fitted on and what they gave.
    """

    def __init__(self, variance_power: float = 1.3, interval: float = 0.8, calibrate_level: bool = True,
                 bins: int = 5, num_boost_round: int = 1000, early_stopping_rounds: int = 50,
                 lgb_params: dict[str, Any] | None = None):
        self.variance_power = variance_power
        self.interval = interval
        self.calibrate_level = calibrate_level
        self.bins = bins
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.lgb_params = lgb_params

    # ------------------------------------------------------------------ fit

    def params(self) -> dict[str, Any]:
        """The LightGBM parameters of the mean model."""
        params = {"learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 40, "lambda_l2": 1.0,
                  "seed": 42, "num_threads": 1, "verbosity": -1}
        params.update(self.lgb_params or {})
        params.update({"objective": "tweedie", "tweedie_variance_power": float(self.variance_power),
                       "metric": "tweedie", "deterministic": True, "force_row_wise": True,
                       "feature_pre_filter": False})
        params["num_threads"] = max(1, min(int(params["num_threads"]), os.cpu_count() or 1))
        return params

    def fit(self, train: pd.DataFrame, y_train: np.ndarray, valid: pd.DataFrame, y_valid: np.ndarray,
            valid_campaigns: np.ndarray, features: list[str], categories: dict[str, list[str]],
            categorical: list[str] | None = None, monotone: list[int] | None = None,
            stages: tuple[np.ndarray, np.ndarray] | None = None) -> "ValueModel":
        """Fit the mean on ``train`` (early stopping on ``valid``), then calibrate on ``valid``.

        Parameters
        ----------
        train, valid : DataFrame
            Feature rows (raw or encoded).
        y_train, y_valid : ndarray
            Net GMV per row (``outcome_gmv``), >= 0.
        valid_campaigns : ndarray
            Campaign id of each validation row (the level is a ratio of campaign totals).
        features, categories, categorical
            The inputs, their category codes and which are categorical.
        monotone : list of int, optional
            LightGBM monotone constraints per feature.
        stages : (ndarray, ndarray), optional
            The funnel outcomes of the train and the validation rows: two boolean columns each,
            accepted and delivered (``outcome_accepted``, ``outcome_delivered``). Without them the
            mean is one Tweedie model of net GMV on every invitation.
        """
        if not 1.0 < float(self.variance_power) < 2.0:
            raise ModelError(f"value model: tweedie variance power must be in (1, 2), got {self.variance_power}")
        self.features_ = list(features)
        self.categories_ = {k: list(v) for k, v in categories.items()}
        categorical = [f for f in (categorical or []) if f in self.features_]
        params = self.params()
        if monotone is not None:
            params["monotone_constraints"] = list(monotone)
        X_train, X_valid = self._matrix(train), self._matrix(valid)
        y_train, y_valid = _clean(y_train), _clean(y_valid)
        if stages is None:
            plan = [("net_gmv", np.ones(len(y_train), bool), y_train, np.ones(len(y_valid), bool), y_valid, {})]
        else:
            (acc_t, dlv_t), (acc_v, dlv_v) = (_stage_flags(f, n) for f, n in zip(stages, (len(y_train), len(y_valid))))
            poisson = {"objective": "poisson", "metric": "poisson"}
            plan = [("accepted", np.ones(len(y_train), bool), acc_t.astype(float), np.ones(len(y_valid), bool),
                     acc_v.astype(float), poisson),
                    ("delivered_if_accepted", acc_t, dlv_t.astype(float), acc_v, dlv_v.astype(float), poisson),
                    ("gmv_if_delivered", dlv_t, y_train, dlv_v, y_valid, {})]
        boosters, self.stages_ = [], []
        for name, rows_t, target_t, rows_v, target_v, objective in plan:
            if not rows_t.any() or not rows_v.any():
                raise ModelError(f"value model: no training or validation invitation reaches stage '{name}'")
            booster = self._fit_stage({**params, **objective}, X_train[rows_t], target_t[rows_t],
                                      X_valid[rows_v], target_v[rows_v], categorical)
            boosters.append(booster)
            self.stages_.append({"name": name, "rows": int(rows_t.sum()),
                                 "best_iteration": int(booster.num_trees())})
        self.booster_ = boosters[0] if len(boosters) == 1 else merge_log_link(boosters)
        self.best_iteration_ = int(self.booster_.num_trees())
        self.params_ = {k: v for k, v in params.items() if k != "monotone_constraints"}
        self.level_ = 1.0
        self.calibrate(valid, y_valid, valid_campaigns, what="validation campaigns")
        return self

    def _fit_stage(self, params: dict[str, Any], X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
                   y_valid: np.ndarray, categorical: list[str]):
        """One log-link booster, early-stopped on the validation rows and trimmed to its best iteration."""
        import lightgbm as lgb

        from .integrity import trim_booster

        ds_params = {k: params[k] for k in ("max_bin", "seed", "verbosity", "num_threads", "feature_pre_filter")
                     if k in params}
        common = dict(feature_name=self.features_, categorical_feature=categorical, free_raw_data=False,
                      params=ds_params)
        dtrain = lgb.Dataset(X_train, label=y_train, **common)
        dvalid = lgb.Dataset(X_valid, label=y_valid, reference=dtrain, **common)
        booster = lgb.train(params, dtrain, num_boost_round=int(self.num_boost_round), valid_sets=[dvalid],
                            valid_names=["validation"],
                            callbacks=[lgb.early_stopping(int(self.early_stopping_rounds), verbose=False)])
        return trim_booster(booster, int(booster.best_iteration or booster.current_iteration()))

    def calibrate(self, frame: pd.DataFrame, y: np.ndarray, campaigns: np.ndarray,
                  what: str = "calibration campaigns") -> "ValueModel":
        """Refit the level factor and the conformal ratios on settled campaigns (the mean stays).

        Parameters
        ----------
        frame : DataFrame
            Feature rows of the calibration campaigns.
        y : ndarray
            Their realized net GMV.
        campaigns : ndarray
            Campaign id per row.
        what : str
            Which campaigns these are, recorded in ``calibration_``.
        """
        y = _clean(y)
        raw = self._raw_mean(frame)
        level = 1.0
        forecast, realized = float(raw.sum()), float(y.sum())
        if self.calibrate_level and forecast > 0 and realized > 0:
            level = realized / forecast
        self.level_ = float(level)
        mean = raw * self.level_
        edges, low, high = conformal_bins(mean, y, float(self.interval), int(self.bins))
        self.bin_edges_, self.ratio_low_, self.ratio_high_ = edges, low, high
        self.calibration_ = {
            "on": what, "campaigns": int(pd.unique(np.asarray(campaigns, dtype=object)).size), "rows": int(len(y)),
            "forecast_usd": forecast, "realized_usd": realized, "level": self.level_,
            "coverage": float(np.mean(_covered(y, *self._band(mean)))) if len(y) else float("nan"),
        }
        return self

    # -------------------------------------------------------------- predict

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise ModelError("value model is not fitted")

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return encode_matrix(frame, self.features_, self.categories_)

    def _threads(self) -> int:
        return max(1, min(int(getattr(self, "params_", {}).get("num_threads", 1) or 1), os.cpu_count() or 1))

    def _raw_mean(self, frame: pd.DataFrame) -> np.ndarray:
        """The uncalibrated mean (exp of the booster's raw score)."""
        self._check_fitted()
        X = self._matrix(frame)
        if len(X) == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster_.predict(X, num_threads=self._threads()), dtype=np.float64)

    def _band(self, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = np.searchsorted(np.asarray(self.bin_edges_, dtype=np.float64), mean, side="left")
        b = np.minimum(b, len(self.bin_edges_) - 1)
        return mean * np.asarray(self.ratio_low_)[b], mean * np.asarray(self.ratio_high_)[b]

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Expected net GMV and its interval per row, in USD.

        Returns
        -------
        DataFrame
            ``expected_gmv_usd, gmv_p10_usd, gmv_p90_usd`` (float64, >= 0, p10 <= p90),
            indexed like ``frame``.
        """
        mean = self._raw_mean(frame) * self.level_
        low, high = self._band(mean)
        return pd.DataFrame({C.EXPECTED_GMV_USD: mean, C.GMV_P10_USD: low, C.GMV_P90_USD: high},
                            index=frame.index, dtype=np.float64)

    def contrib(self, frame: pd.DataFrame) -> pd.DataFrame:
        """SHAP values of the mean on the log scale (TreeSHAP, ``pred_contrib=True``).

        Each row's contributions plus ``bias`` sum to ``log(expected_gmv_usd / level_)``: the
        booster's raw score (the level is a constant shift of ``log(level_)``).

        Returns
        -------
        DataFrame
            One column per feature, then ``bias``.
        """
        self._check_fitted()
        X = self._matrix(frame)
        values = np.asarray(self.booster_.predict(X, pred_contrib=True, num_threads=self._threads()),
                            dtype=np.float64).reshape(len(X), len(self.features_) + 1)
        return pd.DataFrame(values, index=frame.index, columns=[*self.features_, "bias"])

    # ---------------------------------------------------------- save / load

    def meta(self) -> dict[str, Any]:
        """Everything but the booster, JSON-ready."""
        self._check_fitted()
        return {
            "init": {"variance_power": self.variance_power, "interval": self.interval,
                     "calibrate_level": self.calibrate_level, "bins": self.bins,
                     "num_boost_round": self.num_boost_round, "early_stopping_rounds": self.early_stopping_rounds,
                     "lgb_params": self.lgb_params},
            "features": self.features_, "categories": self.categories_, "params": self.params_,
            "best_iteration": self.best_iteration_, "stages": self.stages_, "level": self.level_,
            "bin_edges": [_json_float(e) for e in self.bin_edges_],
            "ratio_low": list(self.ratio_low_), "ratio_high": list(self.ratio_high_),
            "calibration": self.calibration_,
        }

    def save(self, folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
        """Write ``value_model.txt`` and ``value.json`` into ``folder``; return their checksums."""
        from .integrity import file_digest

        folder = Path(folder)
        write_text(folder / VALUE_BOOSTER_FILE, self.booster_.model_to_string())
        write_text(folder / VALUE_META_FILE, json.dumps(self.meta(), indent=2, sort_keys=True, default=str))
        return {name: file_digest((folder / name).read_bytes()) for name in (VALUE_BOOSTER_FILE, VALUE_META_FILE)}

    @classmethod
    def load(cls, folder: str | os.PathLike, digests: dict[str, Any] | None = None) -> "ValueModel":
        """Read a value model saved by :meth:`save`, checking its files before LightGBM sees them.

        Raises
        ------
        ModelError
            A file is missing, truncated, altered or unreadable (one line naming it).
        """
        import lightgbm as lgb

        from .integrity import check_model_text, decode_text, read_bytes, verify_digest

        folder = Path(folder)
        digests = digests or {}
        texts = {}
        for name in (VALUE_BOOSTER_FILE, VALUE_META_FILE):
            path = folder / name
            if not path.is_file():
                raise ModelError(f"{path}: value model file missing from the bundle")
            raw = read_bytes(path)
            if digests.get(name) is not None:
                verify_digest(path, raw, digests[name])
            texts[name] = decode_text(path, raw)
        check_model_text(folder / VALUE_BOOSTER_FILE, texts[VALUE_BOOSTER_FILE])
        try:
            meta = json.loads(texts[VALUE_META_FILE])
            model = cls(**meta["init"])
            model.features_, model.categories_ = list(meta["features"]), dict(meta["categories"])
            model.params_, model.best_iteration_ = dict(meta["params"]), int(meta["best_iteration"])
            model.stages_ = list(meta.get("stages") or [{"name": "net_gmv", "best_iteration": model.best_iteration_}])
            model.level_ = float(meta["level"])
            model.bin_edges_ = [float(e) for e in meta["bin_edges"]]
            model.ratio_low_, model.ratio_high_ = list(meta["ratio_low"]), list(meta["ratio_high"])
            model.calibration_ = dict(meta.get("calibration", {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{folder / VALUE_META_FILE}: damaged value model metadata ({exc})") from None
        try:
            model.booster_ = lgb.Booster(model_str=texts[VALUE_BOOSTER_FILE])
        except lgb.basic.LightGBMError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "unreadable"
            raise ModelError(f"{folder / VALUE_BOOSTER_FILE}: LightGBM cannot read the model ({first})") from None
        return model

    def digest(self) -> str:
        """Short hash of the trees and the calibration (same fit, same digest)."""
        text = self.booster_.model_to_string() + json.dumps(self.meta(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------ helpers


def _stage_flags(flags, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Accepted and delivered (a delivery counts only when accepted) from a two-column array."""
    flags = np.asarray(flags)
    if flags.shape != (n, 2):
        raise ModelError(f"value model: stage outcomes must be {n} rows of (accepted, delivered), got {flags.shape}")
    accepted = flags[:, 0].astype(bool)
    return accepted, accepted & flags[:, 1].astype(bool)


def merge_log_link(boosters: list) -> Any:
    """One booster whose raw score is the sum of ``boosters``' raw scores (same features, log links).

    The trees are concatenated under the last booster's header (its objective turns the summed
    raw score into ``exp(sum)``); each booster's first tree already holds its own initial score,
    so nothing else is added. ``tree_sizes`` is recomputed, since LightGBM checks it on load.
    """
    return merge_model_texts([booster.model_to_string() for booster in boosters])


def merge_model_texts(texts: list[str]) -> Any:
    """One booster from LightGBM model texts: their trees in order under the last one's header."""
    import re

    import lightgbm as lgb

    tree_re = re.compile(r"^Tree=\d+$", re.M)
    header, blocks, tail = "", [], ""
    for text in texts:
        starts = [m.start() for m in tree_re.finditer(text)]
        end = text.index("end of trees")
        header, tail = text[:starts[0]] if starts else text[:end], text[end:]
        bounds = [*starts, end]
        blocks += [text[bounds[i]:bounds[i + 1]].split("\n", 1)[1] for i in range(len(starts))]
    trees = [f"Tree={i}\n{body}" for i, body in enumerate(blocks)]
    header = re.sub(r"^tree_sizes=.*$", "tree_sizes=" + " ".join(str(len(t)) for t in trees), header, flags=re.M)
    return lgb.Booster(model_str=header + "".join(trees) + tail)


def _clean(y) -> np.ndarray:
    """Net GMV as float64, missing as 0 and never negative (Tweedie needs y >= 0)."""
    return np.clip(np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0), 0.0, None)


def _json_float(x: float) -> float | str:
    return "inf" if np.isinf(x) else float(x)


def _covered(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (y >= low - 1e-9) & (y <= high + 1e-9)


def conformal_ratios(ratio: np.ndarray, interval: float) -> tuple[float, float]:
    """Low and high ratio whose band ``[low, high]`` holds ``interval`` of ``ratio``, ties included.

    Equal tails where the data allows: ``low`` is the ``(1 - interval) / 2`` quantile; when a
    point mass (realized 0) sits there, ``high`` is chosen so that the rows at or above ``low``
    and at or below ``high`` are ``interval`` of all (split-conformal quantiles, finite-sample
    corrected: ``ceil((n + 1) q) / n``).
    """
    r = np.sort(np.asarray(ratio, dtype=np.float64))
    n = len(r)
    if n == 0:
        return 0.0, float("inf")
    alpha = (1.0 - interval) / 2.0
    low = float(np.quantile(r, alpha, method="lower"))
    below = np.searchsorted(r, low, side="left") / n  # share strictly below low: not covered
    level = min(1.0, np.ceil((n + 1) * min(1.0, below + interval)) / n)
    high = float(np.quantile(r, level, method="higher"))
    return low, max(high, low)


def conformal_bins(mean: np.ndarray, y: np.ndarray, interval: float, bins: int
                   ) -> tuple[list[float], list[float], list[float]]:
    """Mondrian split-conformal ratios per bin of the calibrated mean.

    Bins are quantiles of ``mean`` with at least ``MIN_BIN_ROWS`` rows each (fewer bins when
    there are fewer rows; one bin at least). Rows with a mean of 0 have ratio 0 when nothing
    sold and are counted uncovered otherwise (a ratio of +inf).

    Returns
    -------
    edges, low, high : list of float
        Upper edge of each bin (the last is +inf) and its ratios.
    """
    mean = np.asarray(mean, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = max(1, min(int(bins), len(mean) // MIN_BIN_ROWS))
    inner = np.unique(np.quantile(mean, np.arange(1, k) / k)) if k > 1 and len(mean) else np.zeros(0)
    edges = [*map(float, inner), float("inf")]
    which = np.searchsorted(np.asarray(edges), mean, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mean > 0, y / mean, np.where(y > 0, np.inf, 0.0))
    low, high = [], []
    for b in range(len(edges)):
        lo, hi = conformal_ratios(ratio[which == b], interval)
        if not np.isfinite(hi):  # a bin whose band needs an infinite ratio: the largest finite one
            finite = ratio[np.isfinite(ratio)]
            hi = float(finite.max()) if len(finite) else 0.0
        low.append(lo if np.isfinite(lo) else 0.0)
        high.append(max(hi, low[-1]))
    return edges, low, high


# ---------------------------------------------------------- training wiring


def model_from_config(config) -> ValueModel:
    """An unfitted :class:`ValueModel` with the ``value`` and ``lightgbm`` settings of a TrainingConfig."""
    v, lg = config.value, config.lightgbm
    params = {"learning_rate": v.learning_rate, "num_leaves": v.num_leaves, "min_data_in_leaf": v.min_data_in_leaf,
              "lambda_l2": v.lambda_l2, "max_bin": lg.max_bin, "seed": lg.seed, "num_threads": lg.num_threads,
              "verbosity": lg.verbosity}
    return ValueModel(variance_power=v.tweedie_variance_power, interval=v.interval,
                      calibrate_level=v.calibrate_level, bins=v.interval_bins, num_boost_round=v.num_boost_round,
                      early_stopping_rounds=v.early_stopping_rounds, lgb_params=params)


def calibration_rows(frame: pd.DataFrame, days: int | None) -> pd.DataFrame:
    """The rows of campaigns created within ``days`` of the latest one (all rows when None)."""
    if days is None or frame.empty:
        return frame
    latest = frame[C.AS_OF].max()
    return frame[frame[C.AS_OF] >= latest - pd.Timedelta(days=int(days))]


def calibrate_on(model: ValueModel, frame: pd.DataFrame, days: int | None, what: str) -> ValueModel:
    """Refit ``model``'s level and interval on the settled campaigns of ``frame`` (see :meth:`ValueModel.calibrate`)."""
    rows = calibration_rows(frame, days)
    return model.calibrate(rows, rows[C.OUTCOME_GMV].to_numpy(), rows[C.CAMPAIGN_ID].to_numpy(),
                           what=f"{what}: {rows[C.CAMPAIGN_ID].nunique():,} campaigns created "
                                f"{rows[C.AS_OF].min():%Y-%m-%d} .. {rows[C.AS_OF].max():%Y-%m-%d}")


class ValueEvaluation:
    """Calibration of a value model on settled campaigns: forecast / realized, coverage, Spearman.

    Attributes
    ----------
    forecast_usd, realized_usd : float
        Summed expected and realized net GMV over the campaigns.
    forecast_ratio : float
        ``forecast_usd / realized_usd`` (1 = the level is right).
    coverage : float
        Share of invitations whose realized net GMV lies in ``[p10, p90]``.
    spearman : float
        Rank correlation of expected with realized net GMV over all invitations.
    spearman_oracle : float
        With the generator's expected net GMV (generated markets only, filled by
        :func:`creatorrank.training.oracle.with_oracle`; NaN otherwise).
    expected : ndarray
        The expected net GMV of each evaluated row, in the frame's order.
    recalibrated : dict or None
        Set by ``train`` when the registered model's level and interval were refitted after
        these numbers were measured (its ``calibration_``: on which campaigns, the level).
    per_campaign : DataFrame
        ``campaign_id, as_of, rows, forecast_usd, realized_usd, forecast_ratio, coverage``.
    interval : float
    window : str
        Which campaigns, in words.
    """

    def __init__(self, frame: pd.DataFrame, prediction: pd.DataFrame, interval: float, window: str):
        y = _clean(frame[C.OUTCOME_GMV].to_numpy())
        mean = prediction[C.EXPECTED_GMV_USD].to_numpy(np.float64)
        covered = _covered(y, prediction[C.GMV_P10_USD].to_numpy(np.float64),
                           prediction[C.GMV_P90_USD].to_numpy(np.float64))
        self.interval, self.window = float(interval), window
        self.rows = int(len(y))
        self.forecast_usd, self.realized_usd = float(mean.sum()), float(y.sum())
        self.forecast_ratio = self.forecast_usd / self.realized_usd if self.realized_usd > 0 else float("nan")
        self.coverage = float(covered.mean()) if len(y) else float("nan")
        self.spearman = spearman_with(mean, y)
        self.spearman_oracle = float("nan")
        self.expected = mean  # per row of ``frame``, for the oracle's Spearman (training.oracle)
        self.recalibrated: dict[str, Any] | None = None  # train: the registered model's calibration, if refitted
        per = pd.DataFrame({C.CAMPAIGN_ID: frame[C.CAMPAIGN_ID].to_numpy(), C.AS_OF: frame[C.AS_OF].to_numpy(),
                            "forecast_usd": mean, "realized_usd": y, "covered": covered})
        per = per.groupby(C.CAMPAIGN_ID, sort=False, observed=True).agg(
            as_of=(C.AS_OF, "first"), rows=("covered", "size"), forecast_usd=("forecast_usd", "sum"),
            realized_usd=("realized_usd", "sum"), coverage=("covered", "mean")).reset_index()
        with np.errstate(divide="ignore", invalid="ignore"):
            per.insert(5, "forecast_ratio", np.where(per["realized_usd"] > 0,
                                                     per["forecast_usd"] / per["realized_usd"], np.nan))
        self.per_campaign = per
        self.campaigns = int(len(per))

    @property
    def coverage_key(self) -> str:
        return f"value_coverage_{int(round(self.interval * 100))}"

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """MLflow metrics: ``value_forecast_ratio``, ``value_coverage_80``, ``value_spearman`` (...)."""
        ratios = self.per_campaign["forecast_ratio"].dropna()
        out = {"value_forecast_ratio": self.forecast_ratio, self.coverage_key: self.coverage,
               "value_spearman": self.spearman,
               "value_campaign_ratio_median": float(ratios.median()) if len(ratios) else float("nan"),
               "value_campaigns": float(self.campaigns)}
        if not np.isnan(self.spearman_oracle):
            out["value_spearman_oracle"] = self.spearman_oracle
        return {f"{prefix}{k}": v for k, v in out.items() if not (isinstance(v, float) and np.isnan(v))}

    def lines(self) -> list[str]:
        """What the train / evaluate output prints."""
        ratios = self.per_campaign["forecast_ratio"].dropna()
        spread = (f"; per campaign median {ratios.median():.2f} (10-90%: {ratios.quantile(0.1):.2f}-"
                  f"{ratios.quantile(0.9):.2f})" if len(ratios) else "")
        oracle = "" if np.isnan(self.spearman_oracle) else f", with the oracle's expected GMV {self.spearman_oracle:.3f}"
        lines = [
            f"value model on {self.window}: forecast / realized net GMV {self.forecast_ratio:.3f} "
            f"(${self.forecast_usd:,.0f} / ${self.realized_usd:,.0f}){spread}",
            f"value model: {self.interval:.0%} interval holds {self.coverage:.1%} of {self.rows:,} invitations; "
            f"Spearman with realized net GMV {self.spearman:.3f}{oracle}",
        ]
        if self.recalibrated:
            lines.append(f"value model registered with level {self.recalibrated['level']:.3f} and its interval "
                         f"refitted on the latest settled campaigns ({self.recalibrated['on']})")
        return lines


def evaluate_value(model: ValueModel, frame: pd.DataFrame, window: str) -> ValueEvaluation:
    """:class:`ValueEvaluation` of ``model`` on the settled campaigns of ``frame`` (labelled rows)."""
    return ValueEvaluation(frame, model.predict(frame), model.interval, window)


def spearman_with(expected: np.ndarray, truth: np.ndarray) -> float:
    """Rank correlation of ``expected`` with ``truth`` over the rows where both are known."""
    expected, truth = np.asarray(expected, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    known = np.isfinite(expected) & np.isfinite(truth)
    if known.sum() < 2 or np.ptp(expected[known]) == 0 or np.ptp(truth[known]) == 0:
        return float("nan")
    # Pearson of average ranks (ties share a rank), as scipy.stats.spearmanr
    a = pd.Series(expected[known]).rank(method="average").to_numpy()
    b = pd.Series(truth[known]).rank(method="average").to_numpy()
    return float(np.corrcoef(a, b)[0, 1])
