"""Reason codes: which of a flagged account's values pushed its score toward spam.

A reason is only ever a feature on the account's spam side; an old account or a large
follower count explains nothing about a flag, however unusual it is.

- **Logistic regression.** The model adds coef_j x z_j to the log-odds, z_j the value
  standardised by the pipeline's own scaler after its own null fill. A feature is a
  reason when that contribution is positive; reasons rank by it.
- **Random forest.** Importances have no sign, so each feature's spam side comes from
  the training rows (`feature_directions`, stored with the model version). A feature is
  a reason when the value sits at least `REASON_MIN_DISTANCE` percentile points from the
  population median on that side; reasons rank by importance x that distance. A version
  registered without directions is read as "higher is spammier" for every feature (only
  values above p90 can be reasons), and a feature with no clear side is never one.

Values are taken as the model sees them (nulls filled with the pipeline's constant), and
written for a reviewer as `name=value (pNN)`, pNN the value's population percentile.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence

from pyspark.ml import PipelineModel, Transformer
from pyspark.ml.classification import LogisticRegressionModel, RandomForestClassificationModel
from pyspark.ml.feature import SQLTransformer, StandardScalerModel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.model.registry import TAG_DIRECTIONS
from botdetect.quantiles import count_below, cut_array, quantile_cuts

log = logging.getLogger(__name__)

PERCENTILES = [i / 100 for i in range(1, 100)]
REASON_MIN_DISTANCE = 40  # percentile points from the median on the spam side: p90+ or p10-

KINDS = ("linear", "forest")
# Weighted mean percentile ranks closer than this are one step of the percentile grid
# apart, which the grid cannot resolve: the feature has no side.
DIRECTION_MIN_GAP = 1.0
_TAG_SIGNS = {1: "+", -1: "-", 0: "0"}
# How train/models.py `_prepare` fills a column: coalesce(cast(`name` as double), <fill>) AS `...`.
_FILL = re.compile(r"coalesce\(cast\(`([^`]+)` as double\), ([^()]+?)\) AS `", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Explainer:
    """What reason codes need from a served model, one entry per feature.

    `weights` are the coefficients (linear, on the standardised scale) or the impurity
    importances (forest). `means` and `stds` are what the pipeline's scaler subtracts and
    divides by (linear; 0 and 1 for a forest, where they are unused). `directions` is
    the spam side of each feature (+1 higher, -1 lower, 0 none): the coefficient's sign
    for a regression, the training statistic for a forest, None when a forest's version
    does not record them. `fills` is the constant the pipeline puts in place of a null
    (None when it has none: a null is then never a reason).
    """

    kind: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    directions: tuple[int, ...] | None
    fills: tuple[float | None, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"explainer kind must be one of {KINDS}, not {self.kind!r}")
        n = len(self.features)
        sizes = [len(self.weights), len(self.means), len(self.stds), len(self.fills)]
        if self.directions is not None:
            sizes.append(len(self.directions))
        if any(size != n for size in sizes):
            raise ValueError(f"explainer for {n} features has per-feature fields of sizes {sizes}")

    def strength(self, j: int) -> float:
        """How much feature j can move the score: |coefficient| per training standard
        deviation (0 when the feature was constant), or the forest importance (0 when
        the feature has no spam side)."""
        if self.kind == "linear":
            return abs(self.weights[j]) if self.stds[j] > 0 else 0.0
        if self.directions is not None and self.directions[j] == 0:
            return 0.0
        return self.weights[j]

    def strongest(self, n: int) -> Explainer:
        """The same explainer restricted to its `n` strongest features that can ever be a
        reason, strongest first (scoring computes percentiles for these only)."""
        order = sorted(
            (j for j in range(len(self.features)) if self.strength(j) > 0),
            key=lambda j: -self.strength(j),
        )[:n]

        def pick(values: Sequence) -> tuple:
            return tuple(values[j] for j in order)

        return dataclasses.replace(
            self,
            features=pick(self.features),
            weights=pick(self.weights),
            means=pick(self.means),
            stds=pick(self.stds),
            directions=None if self.directions is None else pick(self.directions),
            fills=pick(self.fills),
        )


def population_cuts(features_df: DataFrame, columns: Sequence[str]) -> dict[str, list[float]]:
    """Percentile cut points (1..99) of each column over all accounts, in one pass."""
    return quantile_cuts(features_df, columns, PERCENTILES)


def percentile_of(value: Column, points: Sequence[float]) -> Column:
    """The population percentile of `value` from 99 cut points (mid-rank, so a value that
    everyone shares sits at the middle, not at p0)."""
    cuts = cut_array(points)
    below = count_below(value, cuts)
    at_or_below = count_below(value, cuts, inclusive=True)
    return (below + at_or_below) / 2 * (100 / (len(points) + 1))


def _stages(model: Transformer) -> list[Transformer]:
    """Every stage of a pipeline, nested pipelines flattened, in order."""
    if isinstance(model, PipelineModel):
        return [s for stage in model.stages for s in _stages(stage)]
    return [model]


def _fills(stages: Sequence[Transformer], columns: Sequence[str]) -> tuple[float | None, ...]:
    found: dict[str, float] = {}
    for stage in stages:
        if isinstance(stage, SQLTransformer):
            for name, fill in _FILL.findall(stage.getStatement()):
                found.setdefault(name, float(fill))
    return tuple(found.get(c) for c in columns)


def explainer_for(
    pipeline_model: PipelineModel,
    columns: Sequence[str],
    directions: Mapping[str, int] | None,
) -> Explainer:
    """The explainer of a served pipeline whose feature vector is `columns`, in order.

    Stages are found by type, not position: a calibration stage may follow the
    classifier. `directions` (from the model version's tag; None for versions without
    it) is used for a forest only: a regression's coefficients carry their own sign.
    """
    stages = _stages(pipeline_model)
    fills = _fills(stages, columns)
    n = len(columns)
    for stage in stages:
        if isinstance(stage, LogisticRegressionModel):
            if stage.numClasses != 2:
                raise ValueError(f"reason codes need a binary regression, not {stage.numClasses}")
            coefs = [float(v) for v in stage.coefficients.toArray()]
            means, stds = [0.0] * n, [1.0] * n
            scalers = [
                s
                for s in stages
                if isinstance(s, StandardScalerModel) and s.getOutputCol() == stage.getFeaturesCol()
            ]
            if scalers:
                scaler = scalers[0]
                if scaler.getWithMean():
                    means = [float(v) for v in scaler.mean.toArray()]
                if scaler.getWithStd():
                    stds = [float(v) for v in scaler.std.toArray()]
            if not len(coefs) == len(means) == len(stds) == n:
                raise ValueError(
                    f"the regression has {len(coefs)} coefficients for {n} feature columns"
                )
            return Explainer(
                kind="linear",
                features=tuple(columns),
                weights=tuple(coefs),
                means=tuple(means),
                stds=tuple(stds),
                # A constant feature scales to 0 and moves nothing, whatever its coefficient.
                directions=tuple(
                    (c > 0) - (c < 0) if s > 0 else 0 for c, s in zip(coefs, stds, strict=True)
                ),
                fills=fills,
            )
        if isinstance(stage, RandomForestClassificationModel):
            importances = [float(v) for v in stage.featureImportances.toArray()]
            if len(importances) != n:
                raise ValueError(
                    f"the forest has {len(importances)} importances for {n} feature columns"
                )
            if directions is None:
                log.warning(
                    "model version has no %s tag: forest reason codes read every feature "
                    "as spammier when higher (values above p90 only); retrain to record "
                    "each feature's spam side",
                    TAG_DIRECTIONS,
                )
                signs = None
            else:
                missing = [c for c in columns if c not in directions]
                if missing:
                    raise ValueError(f"no direction for feature(s) {', '.join(missing[:10])}")
                signs = tuple(int(directions[c]) for c in columns)
            return Explainer(
                kind="forest",
                features=tuple(columns),
                weights=tuple(importances),
                means=(0.0,) * n,
                stds=(1.0,) * n,
                directions=signs,
                fills=fills,
            )
    kinds = ", ".join(type(s).__name__ for s in stages)
    raise ValueError(f"no logistic regression or random forest among the stages: {kinds}")


def _model_value(explainer: Explainer, j: int) -> Column:
    """Feature j as the model sees it: a double, nulls replaced by the pipeline's fill."""
    value = F.col(explainer.features[j]).cast("double")
    fill = explainer.fills[j]
    return value if fill is None else F.coalesce(value, F.lit(fill))


def explained_cuts(features_df: DataFrame, explainer: Explainer) -> dict[str, list[float]]:
    """Population percentile cut points (1..99) of the explainer's features, over the
    values the model sees (so a null sits where its fill puts it), in one pass."""
    values = [_model_value(explainer, j).alias(c) for j, c in enumerate(explainer.features)]
    return population_cuts(features_df.select(*values), list(explainer.features))


def _readable(value: Column) -> Column:
    """Whole numbers without decimals, others to three places; `null` for no value."""
    text = F.when(value == F.floor(value), value.cast("long").cast("string")).otherwise(
        F.round(value, 3).cast("string")
    )
    return F.coalesce(text, F.lit("null"))


def reason_codes(explainer: Explainer, cuts: Mapping[str, Sequence[float]], top: int) -> Column:
    """Up to `top` strings like `self_dup_ratio_28d=0.94 (p99)`, most telling first, only
    ever for features on the account's spam side (see the module docstring). A feature
    without cut points in `cuts` is never listed."""
    candidates = []
    for j, name in enumerate(explainer.features):
        points = cuts.get(name)
        if not points:
            continue
        value = _model_value(explainer, j)
        pct = F.when(value.isNull(), F.lit(50.0)).otherwise(percentile_of(value, points))
        if explainer.kind == "linear":
            std = explainer.stds[j]
            if std <= 0:
                continue
            z = (value - F.lit(explainer.means[j])) / F.lit(std)
            weight = F.lit(explainer.weights[j]) * z
        else:
            # Unknown directions: the old reading (far from the median) kept to the high
            # side only, where counts of activity are; an old account is not a reason.
            side = 1 if explainer.directions is None else explainer.directions[j]
            if side == 0:
                continue
            distance = (pct - 50) * side
            weight = F.when(
                distance >= REASON_MIN_DISTANCE, F.lit(explainer.weights[j]) * distance / 50
            )
        text = F.concat(
            F.lit(f"{name}="),
            _readable(F.col(name).cast("double")),
            F.lit(" (p"),
            F.round(pct).cast("int"),
            F.lit(")"),
        )
        candidates.append(
            F.struct(F.coalesce(weight, F.lit(0.0)).alias("weight"), text.alias("text"))
        )
    if not candidates:
        return F.array().cast("array<string>")
    ranked = F.sort_array(F.array(*candidates), asc=False)
    kept = F.slice(F.filter(ranked, lambda s: s["weight"] > 0), 1, top)
    return F.transform(kept, lambda s: s["text"])


def feature_directions(
    train_df: DataFrame, columns: Sequence[str], null_fill: float
) -> dict[str, int]:
    """Each feature's spam side in the training rows: +1 when spam accounts sit higher,
    -1 when lower, 0 when undecided.

    The statistic is the weighted mean percentile rank of positives minus that of
    negatives, ranks taken among all training rows (mid-rank on the 99-point grid of
    `percentile_of`, weights from `weight`, values null-filled as the pipeline does), and
    the side is its sign; gaps under `DIRECTION_MIN_GAP` points (one grid step), one
    class missing or no rows give 0. Why ranks: the side is a question of order, not of
    size. A mean difference would follow a handful of extreme accounts, and medians tie
    on the many features where most accounts of both classes sit at 0 or at the null
    fill (a duplicate-text ratio that is non-zero for half the bots and few humans has
    equal medians); mid-ranks give those shared values the same middle rank, so the
    difference is decided by the accounts that differ. Unweighted and with exact ranks,
    the gap is proportional to AUC - 0.5 (Mann-Whitney).

    Two passes over `train_df`, each over every feature at once: the approxQuantile
    grid, then ONE aggregation that uses `label` (0/1) and `weight`.
    """
    if not columns:
        return {}
    filled = train_df.select(
        F.col("label").cast("int").alias("label"),
        F.col("weight").cast("double").alias("weight"),
        *[F.coalesce(F.col(c).cast("double"), F.lit(float(null_fill))).alias(c) for c in columns],
    )
    cuts = quantile_cuts(filled, columns, PERCENTILES)
    ranked = [j for j, c in enumerate(columns) if cuts.get(c)]  # no cuts: no rows
    if not ranked:
        return dict.fromkeys(columns, 0)

    ranks = {j: percentile_of(F.col(columns[j]), cuts[columns[j]]) for j in ranked}

    def mean_rank(j: int, label: int) -> Column:
        weight = F.when(F.col("label") == label, F.col("weight"))
        # try_divide: a class whose weights are all 0 has no mean (ANSI mode would raise).
        return F.try_divide(F.sum(weight * ranks[j]), F.sum(weight))

    row = filled.agg(
        *[mean_rank(j, 1).alias(f"pos{j}") for j in ranked],
        *[mean_rank(j, 0).alias(f"neg{j}") for j in ranked],
    ).first()
    out = dict.fromkeys(columns, 0)
    for j in ranked:
        pos, neg = row[f"pos{j}"], row[f"neg{j}"]
        if pos is None or neg is None or abs(pos - neg) < DIRECTION_MIN_GAP:
            continue
        out[columns[j]] = 1 if pos > neg else -1
    return out


def directions_tag(directions: Mapping[str, int], columns: Sequence[str]) -> str:
    """The `feature_directions` tag value: one of '+', '-', '0' per feature, in `columns`
    order (read back by `ServedModel.feature_directions`)."""
    return "".join(_TAG_SIGNS[directions[c]] for c in columns)
