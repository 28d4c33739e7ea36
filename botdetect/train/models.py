"""The model pipelines: null handling and feature vector inside the saved model.

Scoring loads a `PipelineModel` and feeds it `account_features` rows as they are: the
null fill and the vector assembly are stages of the pipeline, so training and scoring
cannot prepare features differently.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.config import ForestConfig, LogisticConfig

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


def logistic_pipeline(columns: Sequence[str], cfg: LogisticConfig, null_fill: float) -> Pipeline:
    scaler = StandardScaler(inputCol=VECTOR, outputCol="scaled", withMean=True, withStd=True)
    logistic = LogisticRegression(
        featuresCol="scaled",
        labelCol="label",
        weightCol="weight",
        regParam=cfg.reg_param,
        elasticNetParam=cfg.elastic_net_param,
        maxIter=cfg.max_iter,
    )
    return Pipeline(stages=[*_prepare(columns, null_fill), scaler, logistic])


def fit(pipeline: Pipeline, train_df: DataFrame) -> PipelineModel:
    return pipeline.fit(train_df.withColumn("label", F.col("label").cast("double")))


def score(model: PipelineModel, df: DataFrame, keep: Sequence[str]) -> DataFrame:
    """`keep` columns plus `score`, the model's probability of the positive class."""
    predicted = model.transform(df)
    return predicted.select(*keep, vector_to_array("probability")[1].alias("score"))


def feature_importances(model: PipelineModel, columns: Sequence[str]) -> list[tuple[str, float]]:
    """The forest's impurity importances by feature, largest first."""
    forest = model.stages[-1]
    values = forest.featureImportances.toArray()
    return sorted(zip(columns, (float(v) for v in values), strict=True), key=lambda kv: -kv[1])
