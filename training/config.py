"""The training configuration: one validated object, loaded from YAML or JSON, all defaults.

Every knob of training lives here: which features, how net GMV becomes a graded label,
how campaigns are split by time, the LightGBM parameters, the Optuna search, evaluation
cut-offs and the promotion margin. ``configs/default.yaml`` spells out the defaults.

Label grading
-------------
The contract's outcome of an invitation is its net GMV (``outcome_gmv``). LightGBM's
lambdarank wants small integer relevance grades, so the outcome is graded by thresholds::

    label = number of thresholds t in ``label.thresholds_usd`` with outcome_gmv > t

With the default thresholds ``[0, 25, 100, 400, 1600, 6400, 25600]`` an invitation with
no net GMV (declined, ignored, not delivered, or nothing sold) is 0, up to $25 is 1,
($25, $100] is 2, and so on: each grade is a four-fold step in GMV. Training uses the gain
``3**label - 1`` (``label.gain_base``): every grade triples the gain, so the gain grows like
GMV**0.79, closer to the money than LightGBM's ``2**label - 1`` (square root of GMV), without a
single outlier swamping the query. On the S benchmark market it raised the ranker's share of the
best possible top 10's expected GMV over every eligible creator from 0.66 to 0.74, and its test
NDCG@10 graded with ``2**label - 1`` from 0.5385 to 0.5408 (docs/LIMITS.md). Every NDCG that is
reported or gated on uses ``label.evaluation_gain`` (default ``2**label - 1``), one yardstick
whatever the training gains. Grades must stay below ``len(label_gain)`` (31 default entries).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core import constants as C
from ..core.errors import ConfigError
from ..features.specs import get_specs, model_feature_names

LIGHTGBM_QUERY_LIMIT = 10_000  # LightGBM refuses a lambdarank query with more rows
DEFAULT_LABEL_GAIN_SIZE = 31  # LightGBM's default label_gain: 2**i - 1 for i < 31


class _Strict(BaseModel):
    # allow_inf_nan=False: `.inf`, `.nan` or 1e400 (YAML reads it as inf) is an error, not a setting
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class LabelConfig(_Strict):
    """How an invitation's net GMV becomes a graded relevance label (see module docstring).

    Attributes
    ----------
    thresholds_usd : list of float
        Strictly increasing, the first >= 0. ``label = #(thresholds < outcome_gmv)``.
    label_gain : list of float, optional
        Gain of each grade in training, as LightGBM's ``label_gain`` (its lambdarank objective,
        early stopping and tuning); None: ``gain_base**i - 1``.
    gain_base : float
        Base of the default training gains (3: each four-fold GMV step triples the gain, closer
        to linear in GMV than LightGBM's ``2**i - 1``; measured in docs/LIMITS.md).
    evaluation_gain : list of float, optional
        Gain of each grade in every NDCG reported or gated on (train's test metrics, the
        baselines' gate, ``evaluate``, ``promote``, the benchmarks); None: ``2**i - 1``, whatever
        the training gain, so models trained with different gains are judged on one yardstick.
    """

    thresholds_usd: list[float] = Field(default_factory=lambda: [0.0, 25.0, 100.0, 400.0, 1600.0, 6400.0, 25600.0])
    label_gain: list[float] | None = None
    gain_base: float = Field(3.0, ge=1.5, le=4.0)
    evaluation_gain: list[float] | None = None

    @field_validator("thresholds_usd")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("needs at least one threshold")
        if v[0] < 0:
            raise ValueError("thresholds must be >= 0")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("thresholds must be strictly increasing")
        return v

    @property
    def n_grades(self) -> int:
        """Number of distinct labels: 0 .. len(thresholds_usd)."""
        return len(self.thresholds_usd) + 1

    def gains(self) -> list[float]:
        """The training gain of each grade (``gain_base**i - 1`` unless ``label_gain`` is set)."""
        return list(self.label_gain) if self.label_gain is not None else self._default_gains(self.gain_base)

    def evaluation_gains(self) -> list[float]:
        """The gain of each grade when a ranking is graded (``2**i - 1`` unless configured)."""
        return list(self.evaluation_gain) if self.evaluation_gain is not None else self._default_gains(2.0)

    def _default_gains(self, base: float) -> list[float]:
        return [float(base**i - 1) for i in range(max(DEFAULT_LABEL_GAIN_SIZE, self.n_grades))]

    @model_validator(mode="after")
    def _gain_covers_grades(self) -> "LabelConfig":
        for name in ("label_gain", "evaluation_gain"):
            gain = getattr(self, name)
            if gain is not None and self.n_grades > len(gain):
                raise ValueError(
                    f"{self.n_grades} label grades need {name} with at least {self.n_grades} entries, got {len(gain)}"
                )
            if self.n_grades > DEFAULT_LABEL_GAIN_SIZE and gain is None:
                raise ValueError(f"more than {DEFAULT_LABEL_GAIN_SIZE - 1} thresholds need an explicit {name}")
        return self


class SplitConfig(_Strict):
    """Fractions of eligible campaigns, oldest first by ``created_at``: train, validation, test."""

    train: float = Field(0.7, gt=0, lt=1)
    validation: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self


class LightGBMConfig(_Strict):
    """LightGBM parameters (``lgb.train`` names) plus boosting rounds and early stopping.

    ``extra`` passes any further LightGBM parameter through unchanged.
    """

    objective: Literal["lambdarank", "rank_xendcg"] = "lambdarank"
    learning_rate: float = Field(0.1, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_data_in_leaf: int = Field(40, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    max_bin: int = Field(255, ge=2)
    lambdarank_truncation_level: int = Field(30, ge=1)
    num_boost_round: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    seed: int = 42
    deterministic: bool = True
    force_row_wise: bool = True
    num_threads: int = Field(2, ge=1, le=64)
    verbosity: int = -1
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _extra_known_and_free(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            check_extra_param(str(key), value)
        return v

    def params(self) -> dict[str, Any]:
        """The parameter dict for ``lgb.train`` (without rounds and early stopping)."""
        params = self.model_dump(exclude={"num_boost_round", "early_stopping_rounds", "extra"})
        params.update(self.extra)
        return params


# LightGBM parameters (canonical names) that the validated config or the trainer sets: `extra`
# may not override them. Seeds derive from `lightgbm.seed`; rounds and early stopping are
# fields of their own; metric, eval_at, label_gain and monotone_constraints are set by
# training.train.lgb_params from `evaluation`, `label` and `monotone_constraints`.
_OWNED_ELSEWHERE = {
    "num_iterations": "lightgbm.num_boost_round",
    "early_stopping_round": "lightgbm.early_stopping_rounds",
    "metric": "evaluation.primary_k (the metric is ndcg)",
    "eval_at": "evaluation.primary_k",
    "label_gain": "label.label_gain",
    "monotone_constraints": "monotone_constraints",
    "feature_pre_filter": "the trainer (False, so tuning can change min_data_in_leaf)",
    "categorical_feature": "the feature catalogue",
    "first_metric_only": "the trainer (early stopping on the first metric)",
    "force_col_wise": "lightgbm.force_row_wise",
    **{seed: "lightgbm.seed" for seed in ("bagging_seed", "feature_fraction_seed", "data_random_seed",
                                           "drop_seed", "extra_seed", "objective_seed")},
}
# Parameters of LightGBM's command-line tool, prediction or distributed set-up: meaningless here.
_NOT_TRAINING = {
    "task", "data", "valid", "config", "input_model", "output_model", "output_result", "convert_model",
    "convert_model_language", "save_binary", "snapshot_freq", "header", "label_column", "weight_column",
    "group_column", "ignore_column", "parser_config_file", "num_machines", "local_listen_port", "time_out",
    "machine_list_filename", "machines", "pre_partition", "num_iteration_predict", "start_iteration_predict",
    "predict_raw_score", "predict_leaf_index", "predict_contrib", "predict_disable_shape_check",
    "pred_early_stop", "pred_early_stop_freq", "pred_early_stop_margin", "saved_feature_importance_type",
    "metric_freq", "is_provide_training_metric", "num_class",
}


@functools.lru_cache(maxsize=1)
def lightgbm_aliases() -> dict[str, str]:
    """Every LightGBM parameter name and alias -> its canonical name (from LightGBM itself).

    The table is dumped by LightGBM's C library (``LGBM_DumpParamAliases``), so it is the
    installed version's exact list.
    """
    from lightgbm.basic import _ConfigAliases

    aliases = _ConfigAliases._get_all_param_aliases()  # canonical -> [itself, *aliases]
    return {name: canonical for canonical, names in aliases.items() for name in names}


def check_extra_param(key: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``key`` unless ``lightgbm.extra`` may set it to ``value``.

    Refused: names LightGBM does not know, names (or aliases of names) that the validated
    config or the trainer sets, command-line/prediction parameters, and non-finite numbers.
    """
    import math

    canonical = lightgbm_aliases().get(key)
    if canonical is None:
        raise ValueError(f"{key!r} is not a LightGBM parameter")
    alias = "" if canonical == key else f" (an alias of {canonical!r})"
    if canonical in LightGBMConfig.model_fields:
        raise ValueError(f"{key!r}{alias} is a setting of its own: set lightgbm.{canonical}")
    if canonical in _OWNED_ELSEWHERE:
        raise ValueError(f"{key!r}{alias} is set by the config: {_OWNED_ELSEWHERE[canonical]}")
    if canonical in _NOT_TRAINING:
        raise ValueError(f"{key!r}{alias} is not a training parameter")
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(x, float) and not math.isfinite(x) for x in values):
        raise ValueError(f"{key!r} must be a finite number, got {value!r}")
    if not all(x is None or isinstance(x, (bool, int, float, str)) for x in values):
        raise ValueError(f"{key!r} must be a number, a string, a boolean or a list of those")


class SearchRange(_Strict):
    """One tuned parameter: ``low``..``high``, integer or float, optionally log-scaled."""

    low: float
    high: float
    log: bool = False
    type: Literal["float", "int"] = "float"

    @model_validator(mode="after")
    def _ordered(self) -> "SearchRange":
        if self.high < self.low:
            raise ValueError("high must be >= low")
        if self.log and self.low <= 0:
            raise ValueError("a log-scaled range needs low > 0")
        return self


def _default_space() -> dict[str, SearchRange]:
    return {
        "learning_rate": SearchRange(low=0.02, high=0.2, log=True),
        "num_leaves": SearchRange(low=7, high=127, log=True, type="int"),
        "min_data_in_leaf": SearchRange(low=10, high=200, log=True, type="int"),
        "feature_fraction": SearchRange(low=0.5, high=1.0),
        "bagging_fraction": SearchRange(low=0.5, high=1.0),
        "lambda_l2": SearchRange(low=1e-3, high=30.0, log=True),
    }


class TuningConfig(_Strict):
    """Optuna: TPE sampler (seeded, one job), median pruning on validation ``ndcg@k``.

    ``trials`` counts the study's finished trials: a rerun of an interrupted study runs only
    the missing ones. ``timeout_s`` bounds one training's tuning time (None: unbounded).
    Validation ``ndcg@primary_k`` is reported to the pruner every ``report_every`` boosting
    rounds; ``pruner_warmup_steps`` counts boosting rounds.
    """

    trials: int = Field(20, ge=0)
    timeout_s: float | None = Field(1800.0, gt=0)
    seed: int = 42
    pruner_startup_trials: int = Field(5, ge=0)
    pruner_warmup_steps: int = Field(20, ge=0)
    report_every: int = Field(10, ge=1)
    search_space: dict[str, SearchRange] = Field(default_factory=_default_space)

    @field_validator("search_space")
    @classmethod
    def _known_params(cls, v: dict[str, SearchRange]) -> dict[str, SearchRange]:
        tunable = set(LightGBMConfig.model_fields) - {"objective", "extra", "deterministic", "force_row_wise",
                                                      "num_threads", "verbosity", "seed"}
        unknown = sorted(set(v) - tunable)
        if unknown:
            raise ValueError(f"cannot tune {unknown[0]!r} (tunable: {', '.join(sorted(tunable))})")
        return v


class EvaluationConfig(_Strict):
    """Cut-offs reported on test campaigns; ``primary_k`` drives early stopping and promotion."""

    k: list[int] = Field(default_factory=lambda: [1, 3, 5, 10, 20])
    primary_k: int = Field(10, ge=1)
    gmv_k: int = Field(10, ge=1)
    random_seed: int = 0
    shap_rows: int = Field(2000, ge=0)
    # The quality gate: a paired bootstrap over campaigns of model minus best baseline.
    bootstrap_resamples: int = Field(2000, ge=100)
    min_campaigns_to_tell: int = Field(30, ge=2)  # fewer test campaigns with a sale: "too few to tell"

    @model_validator(mode="after")
    def _primary_listed(self) -> "EvaluationConfig":
        if any(k < 1 for k in self.k):
            raise ValueError("every k must be >= 1")
        if self.primary_k not in self.k:
            self.k = sorted(set(self.k) | {self.primary_k})
        return self


class PromotionConfig(_Strict):
    """Champion/challenger comparison.

    The challenger becomes champion when its mean NDCG@primary_k on the comparison campaigns
    is >= the champion's + ``margin``. Comparison campaigns: complete campaigns created at or
    after the later of both models' hold-out starts (campaigns neither model trained on);
    when there are fewer than ``min_campaigns`` of those, the ``recent_campaigns`` most recent
    complete campaigns.

    Before that, the challenger (the first model included) must beat every baseline on those
    campaigns: mean NDCG@primary_k above each, with the 95% paired-bootstrap interval of
    (challenger minus best baseline) above 0. ``require_beat_baselines: false`` turns that gate
    off (for example to compare rankers on a market too small to show a win); a challenger
    trained without positive outcomes or with NaN metrics is refused either way.
    """

    margin: float = 0.0
    require_beat_baselines: bool = True
    recent_campaigns: int = Field(200, ge=1)
    min_campaigns: int = Field(20, ge=1)


class ValueConfig(_Strict):
    """The value model: expected net GMV per invitation, its interval, and the fair fee (docs/VALUE.md).

    Fitted before the ranker on the same rows and split (:mod:`creatorrank.training.value`):
    LightGBM for the mean (seed, threads and determinism from ``lightgbm``): with ``funnel``
    the product of P(accepted), P(delivered | accepted) and Tweedie E[GMV | delivered], each
    fitted on the invitations that reached its stage; without, one Tweedie model; then a
    multiplicative level factor and split-conformal interval ratios fitted on the latest
    settled campaigns. ``recalibrate_latest``: after the test campaigns are evaluated (with the
    level fitted on validation), the registered model's level and interval are refitted on the
    validation and test campaigns together, the latest settled ones before the cutoff. ``calibration_days`` keeps only
    the calibration campaigns created within that many days of the latest one (None: all).
    ``target_roas`` is the default target return on spend of the fair fee
    (``fair_fee_usd = expected_gmv_usd / target_roas``); a brief's ``target_roas`` wins.
    ``ranker_prior_weights``: the ranker starts from ``w * log E[GMV]`` of this model, ``w``
    the weight with the best validation NDCG among these (0: the ranker alone;
    :mod:`creatorrank.training.value_prior`). Off by default: the merged ranker holds the
    value model's trees, so explaining it costs about 17x more (docs/VALUE.md); e.g.
    ``[0, 0.5, 0.75, 1]`` turns it on.
    """

    enabled: bool = True
    funnel: bool = True
    ranker_prior_weights: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    tweedie_variance_power: float = Field(1.3, gt=1, lt=2)
    interval: float = Field(0.8, gt=0, lt=1)
    calibrate_level: bool = True
    recalibrate_latest: bool = True
    calibration_days: int | None = Field(None, ge=1)
    interval_bins: int = Field(5, ge=1, le=50)
    target_roas: float = Field(3.0, gt=0)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=4096)
    min_data_in_leaf: int = Field(40, ge=1)
    lambda_l2: float = Field(1.0, ge=0)
    num_boost_round: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)


    @field_validator("ranker_prior_weights")
    @classmethod
    def _weights(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(w) or w < 0 for w in v):
            raise ValueError(f"ranker_prior_weights must be finite and >= 0, got {v}")
        return v


class PropensityConfig(_Strict):
    """Inverse-propensity weights of the training rows (:mod:`creatorrank.training.propensity`).

    Brands invite mostly big, on-category creators, so the training rows over-represent them. With
    ``enabled`` a binary LightGBM model of *being invited* (invitees of each training campaign
    against ``negatives_per_invitee`` sampled non-invited eligible creators of the same country at
    the campaign's time, point-in-time features, two-fold cross-fitted by campaign) gives each
    invitee a propensity p, and the ranker's rows are weighted by 1/p: ``clip`` caps 1/p at
    ``clip``; ``self_normalised`` divides 1/p by its mean within the campaign (then caps at
    ``clip``). ``max_negatives`` caps the sampled rows in all. Off by default: on generated markets
    it lowered both the eligible-pool capture and the invitee NDCG (see the module's docstring).
    """

    enabled: bool = False
    method: Literal["clip", "self_normalised"] = "self_normalised"
    clip: float = Field(20.0, ge=1)
    negatives_per_invitee: float = Field(2.0, gt=0, le=100)
    max_negatives: int = Field(300_000, ge=1)
    num_leaves: int = Field(15, ge=2, le=4096)
    num_boost_round: int = Field(150, ge=1)
    learning_rate: float = Field(0.1, gt=0, le=1)


class UncertaintyConfig(_Strict):
    """Bagged rankers for the per-row ``score_sd`` (:mod:`creatorrank.training.uncertainty`).

    ``n_bags`` boosters with the final fit's parameters and best iteration count, each on a
    bootstrap resample of the training campaigns (0: none, and no ``score_sd``; ``--explore``
    then refuses the model).
    """

    n_bags: int = Field(5, ge=0, le=100)

    @field_validator("n_bags")
    @classmethod
    def _two_or_none(cls, v: int) -> int:
        if v == 1:
            raise ValueError("n_bags must be 0 (no bags) or at least 2 (a spread needs two members)")
        return v


class DaskTrainingConfig(_Strict):
    """Training through Dask (``engine: dask``, docs/DASK.md "Training on a cluster").

    ``learner: local`` (the default) trains LightGBM on the client on the gathered matrix: the
    model is the one ``engine: local`` gives, bit for bit. ``learner: dask`` trains
    ``lightgbm.dask.DaskLGBMRanker`` over ``n_partitions`` campaign-aligned partitions (default
    and at most: one per worker); it has no early stopping, so it trains ``num_boost_round`` rounds (default
    ``lightgbm.num_boost_round``) and keeps the prefix that early stopping with
    ``lightgbm.early_stopping_rounds`` would have chosen on the validation NDCG curve.
    ``n_shards``: shards of creators for the matrix (default one per worker). ``wave_shards``:
    shards prepared at once on the workers (default one per worker; docs/DASK.md "Waves").
    ``scratch``: folder for the data partitioned by shard, seen by every worker, reused while
    the data is unchanged (default a temporary folder removed after the run). ``scheduler``: a
    scheduler address (``--scheduler`` wins; none: a LocalCluster for the run).
    """

    learner: Literal["local", "dask"] = "local"
    n_shards: int | None = Field(None, ge=1)
    wave_shards: int | None = Field(None, ge=1)
    scratch: str | None = None
    n_partitions: int | None = Field(None, ge=1)
    num_boost_round: int | None = Field(None, ge=1)
    scheduler: str | None = None

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must be a scheduler address such as tcp://host:8786, or null")
        return v




class TrainingConfig(_Strict):
    """Everything that determines a training run (see ``configs/default.yaml``).

    Attributes
    ----------
    features : list of str
        Model inputs, names from the feature catalogue; null/absent means the whole catalogue.
        An unknown name fails at load with :class:`ConfigError`.
    monotone_constraints : bool
        Constrain each numeric feature to its catalogue ``direction`` (+1, -1; 0 = free).
    max_rows_per_campaign : int
        LightGBM refuses queries over 10,000 rows. Larger campaigns keep a deterministic
        pseudo-random sample of their invitations (hash of seed and invitation id) in the
        training and validation sets; test campaigns are always scored in full.
    label_settle_days : int
        Orders count until ``ends_at + label_settle_days``; a campaign trains once that lies
        before the cutoff.
    """

    features: list[str] | None = None
    label: LabelConfig = Field(default_factory=LabelConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    monotone_constraints: bool = True
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    value: ValueConfig = Field(default_factory=ValueConfig)
    propensity: PropensityConfig = Field(default_factory=PropensityConfig)
    uncertainty: UncertaintyConfig = Field(default_factory=UncertaintyConfig)
    engine: Literal["local", "dask"] = "local"
    dask: DaskTrainingConfig = Field(default_factory=DaskTrainingConfig)
    max_rows_per_campaign: int = Field(LIGHTGBM_QUERY_LIMIT, ge=1, le=LIGHTGBM_QUERY_LIMIT)
    label_settle_days: int = Field(C.LABEL_SETTLE_DAYS, ge=0)
    experiment_name: str = "creatorrank"
    registered_model: str = C.REGISTERED_MODEL

    @field_validator("features")
    @classmethod
    def _known_features(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("features must not be empty (omit it to use the whole catalogue)")
        dup = sorted({f for f in v if v.count(f) > 1})
        if dup:
            raise ValueError(f"feature {dup[0]!r} is listed twice")
        try:
            get_specs(v)
        except ConfigError as exc:  # reported as a validation error naming the feature
            raise ValueError(str(exc)) from None
        return v

    def feature_list(self) -> list[str]:
        """The configured features, or the default model inputs in catalogue order (every
        feature but the indices' evidence counts, see ``specs.model_feature_names``)."""
        if self.features is not None:
            return list(self.features)
        return model_feature_names()

    def result_dump(self) -> dict[str, Any]:
        """The settings that decide the model: all but where the work runs.

        ``engine``, ``dask.n_shards``, ``dask.wave_shards``, ``dask.scratch`` and ``dask.scheduler``
        never change the result (the
        sharded matrix equals the local one); with ``dask.learner: local`` no ``dask`` setting
        does. Leaving them out keeps the digest (and the Optuna study) of a config the same on
        either engine, and the same as before the ``dask`` section existed.
        """
        out = self.model_dump(mode="json")
        out.pop("engine")
        dask = out.pop("dask")
        if self.dask.learner != "local":
            out["dask"] = {k: v for k, v in dask.items() if k not in ("n_shards", "scheduler", "wave_shards", "scratch")}
        return out

    def digest(self) -> str:
        """Short hash of the configuration (stable across runs and machines)."""
        text = json.dumps(self.result_dump(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def champion_uri(config: TrainingConfig | None = None) -> str:
    """``models:/<registered_model>@champion`` of ``config`` (the defaults when None).

    Serving commands take their default model from here, so a renamed registry entry in the
    training config is the one they load.
    """
    name = (config or TrainingConfig()).registered_model
    return f"models:/{name}@{C.CHAMPION}"


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> TrainingConfig:
    """Read a YAML or JSON training config (missing keys keep their defaults).

    Parameters
    ----------
    path : path-like, optional
        ``.yaml``/``.yml`` or ``.json`` file; None gives the defaults.
    **overrides
        Top-level fields set after loading (e.g. ``features=[...]``).

    Returns
    -------
    TrainingConfig

    Raises
    ------
    ConfigError
        Unreadable file, unknown key, invalid value or unknown feature, in one line.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        text = _read_config_text(path)
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text) if text.strip() else {}
            else:
                import yaml

                data = yaml.safe_load(text) or {}
        except Exception as exc:  # yaml/json syntax errors: one line
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise ConfigError(f"{path}: cannot parse config ({first})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: config must be a mapping of settings")
    data.update(overrides)
    return config_from_dict(data, source=str(path) if path is not None else "config")


def _read_config_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM allowed), or a one-line :class:`ConfigError` naming it."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def config_from_dict(data: dict[str, Any], source: str = "config") -> TrainingConfig:
    """Validate a plain mapping into a :class:`TrainingConfig` (errors as :class:`ConfigError`)."""
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "config"
    ctx_error = (err.get("ctx") or {}).get("error")
    msg = str(ctx_error) if ctx_error is not None else err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "unknown setting"
    return f"{where}: {msg}"
