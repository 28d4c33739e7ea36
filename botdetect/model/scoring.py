"""Scoring with a served model: a saved `PipelineModel` whose last stage is the isotonic
calibrator (`train/models.py` builds and fits it), so the score is a probability of spam
at the population's prevalence, whichever family sits before it.

Training, scoring and the report all score through `score` here, so they cannot read a
model's output differently.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegressionModel, RandomForestClassificationModel
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import IsotonicRegressionModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

CALIBRATED = "calibrated"  # the calibrator's output column
FOREST = "random_forest"
LOGISTIC = "logistic_regression"


def score(model: PipelineModel, df: DataFrame, keep: Sequence[str]) -> DataFrame:
    """`keep` columns plus `score`: the calibrated probability of spam when the model has a
    calibrator, else the classifier's probability of the positive class."""
    predicted = model.transform(df)
    if isinstance(model.stages[-1], IsotonicRegressionModel):
        value = F.least(F.greatest(F.col(CALIBRATED), F.lit(0.0)), F.lit(1.0))
    else:
        value = vector_to_array("probability")[1]
    return predicted.select(*keep, value.cast("double").alias("score"))


def family(model: PipelineModel) -> str:
    """`random_forest` or `logistic_regression`: the classifier stage's kind."""
    for stage in model.stages:
        if isinstance(stage, RandomForestClassificationModel):
            return FOREST
        if isinstance(stage, LogisticRegressionModel):
            return LOGISTIC
    raise ValueError("the pipeline has no random-forest or logistic-regression stage")
