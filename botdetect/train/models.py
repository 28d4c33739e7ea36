"""The model pipelines: null handling, feature vector and calibration inside the saved model.

Scoring loads a `PipelineModel` and feeds it `account_features` rows as they are: the
null fill and the vector assembly are stages of the pipeline, so training and scoring
cannot prepare features differently. The last stage is an isotonic calibrator fitted on
out-of-fold scores: the served `score` is a probability of spam at the population's
prevalence, whichever model family sits before it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    LogisticRegression,
    LogisticRegressionModel,
    RandomForestClassificationModel,
    RandomForestClassifier,
)
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.regression import IsotonicRegression, IsotonicRegressionModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.config import ForestConfig, LogisticConfig
from botdetect.model.scoring import CALIBRATED

VECTOR = "features_vector"


@dataclasses.dataclass(frozen=True)
class ForestParams:
    num_trees: int
    max_depth: int
    min_instances_per_node: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def forest_grid(cfg: ForestConfig) -> list[ForestParams]:
    """Every combination of the list-valued forest parameters."""
    return [
        ForestParams(t, d, m)
        for t, d, m in itertools.product(cfg.num_trees, cfg.max_depth, cfg.min_instances_per_node)
    ]


def _prepare(columns: Sequence[str], null_fill: float) -> list:
    fills = ", ".join(
        f"coalesce(cast(`{c}` as double), {null_fill!r}) AS `{c}__x`" for c in columns
    )
    return [
        SQLTransformer(statement=f"SELECT *, {fills} FROM __THIS__"),
        VectorAssembler(inputCols=[f"{c}__x" for c in columns], outputCol=VECTOR),
    ]


def forest_pipeline(
    columns: Sequence[str], params: ForestParams, cfg: ForestConfig, null_fill: float, seed: int
) -> Pipeline:
    forest = RandomForestClassifier(
        featuresCol=VECTOR,
        labelCol="label",
        weightCol="weight",
        numTrees=params.num_trees,
        maxDepth=params.max_depth,
        minInstancesPerNode=params.min_instances_per_node,
        featureSubsetStrategy=cfg.feature_subset_strategy,
        maxBins=cfg.max_bins,
        subsamplingRate=cfg.subsampling_rate,
        seed=seed,
    )
    return Pipeline(stages=[*_prepare(columns, null_fill), forest])


def logistic_pipeline(
    columns: Sequence[str], cfg: LogisticConfig, null_fill: float, reg_param: float
) -> Pipeline:
    scaler = StandardScaler(inputCol=VECTOR, outputCol="scaled", withMean=True, withStd=True)
    logistic = LogisticRegression(
        featuresCol="scaled",
        labelCol="label",
        weightCol="weight",
        regParam=reg_param,
        elasticNetParam=cfg.elastic_net_param,
        maxIter=cfg.max_iter,
    )
    return Pipeline(stages=[*_prepare(columns, null_fill), scaler, logistic])


def fit(pipeline: Pipeline, train_df: DataFrame) -> PipelineModel:
    return pipeline.fit(train_df.withColumn("label", F.col("label").cast("double")))


def raw_score(model: PipelineModel, df: DataFrame, keep: Sequence[str]) -> DataFrame:
    """`keep` columns plus `raw`: the classifier's margin for the positive class (the
    forest's summed tree votes, the regression's log-odds). Calibration maps it to a
    probability; it is monotone in the uncalibrated probability, with no clipping at 1."""
    predicted = model.transform(df)
    return predicted.select(*keep, vector_to_array("rawPrediction")[1].alias("raw"))


def _as_raw_prediction(raw_df: DataFrame) -> DataFrame:
    """`raw` as the vector column the calibrator reads (index 1, as in rawPrediction)."""
    pair = F.array(F.lit(0.0), F.col("raw").cast("double"))
    return raw_df.withColumn("rawPrediction", array_to_vector(pair))


def _isotonic() -> IsotonicRegression:
    return IsotonicRegression(
        featuresCol="rawPrediction",
        featureIndex=1,
        labelCol="label",
        weightCol="w",
        predictionCol=CALIBRATED,
        isotonic=True,
    )


def fit_calibrator(raw_df: DataFrame) -> IsotonicRegressionModel:
    """Centred isotonic regression of the label on `raw`, weighted by `w` (1 / sampling
    rate), so the fitted probability is the share of spam at the population's prevalence.

    Plain isotonic regression is a step function: every margin in a pooled block gets
    the block's value, so whole ranges of probability are never served (a rate-limit band
    between 0.2 and 0.5 can hold nobody) and a threshold can only sit on a step. Centred
    isotonic regression (Oron and Flournoy, 2017) keeps each block's value but places it
    at the block's weighted mean margin and interpolates linearly between those points:
    still monotone and fitted to the same pooled shares, but strictly increasing between
    blocks, so the served score keeps the model's ranking and every probability between
    two blocks' values is reachable. Both fits are Spark's `IsotonicRegression` (the
    second on the block centres, which it keeps as they are), so the served calibrator is
    an ordinary `IsotonicRegressionModel` stage, saved with the model.
    """
    rows = _as_raw_prediction(
        raw_df.select(
            "raw",
            F.col("label").cast("double").alias("label"),
            F.col("w").cast("double").alias("w"),
        )
    )
    pooled = _isotonic().fit(rows)
    # Blocks have distinct values (adjacent equal blocks would be one), so the value
    # identifies the block.
    centres = (
        pooled.transform(rows)
        .groupBy(F.col(CALIBRATED).alias("label"))
        .agg(
            (F.sum(F.col("w") * F.col("raw")) / F.sum("w")).alias("raw"),
            F.sum("w").alias("w"),
        )
    )
    return _isotonic().fit(_as_raw_prediction(centres))


def calibrate(calibrator: IsotonicRegressionModel, raw_df: DataFrame) -> DataFrame:
    """`raw_df` (with `raw`) plus `score`, the calibrated probability."""
    out = calibrator.transform(_as_raw_prediction(raw_df))
    return out.drop("rawPrediction").withColumnRenamed(CALIBRATED, "score")


def calibrated(model: PipelineModel, calibrator: IsotonicRegressionModel) -> PipelineModel:
    """The served model: the fitted pipeline with the calibrator as its last stage."""
    return PipelineModel(stages=[*model.stages, calibrator])


def feature_importances(model: PipelineModel, columns: Sequence[str]) -> list[tuple[str, float]]:
    """Importances by feature, largest first: the forest's impurity importances, or the
    regression's |coefficient| on standardised features (normalised to sum to 1)."""
    values: list[float] = []
    for stage in model.stages:
        if isinstance(stage, RandomForestClassificationModel):
            values = [float(v) for v in stage.featureImportances.toArray()]
            break
        if isinstance(stage, LogisticRegressionModel):
            coefs = [abs(float(v)) for v in stage.coefficients.toArray()]
            total = sum(coefs) or 1.0
            values = [c / total for c in coefs]
            break
    else:
        raise ValueError("the pipeline has no random-forest or logistic-regression stage")
    return sorted(zip(columns, values, strict=True), key=lambda kv: -kv[1])
