"""Labelled feature rows, split by botnet component, with training and evaluation weights.

- The split is a deterministic hash of `cluster_id` (the account's component in the
  shared IP/device graph; a singleton's own id). A botnet never straddles train and test,
  so the test set measures how well the model finds botnets it has not seen.
- Training keeps a `negative_sample_rate` share of labelled negatives. Training weights
  are the label weights (expanded positives count less); evaluation weights are
  1 / (probability the row was sampled), so weighted counts stand for the population.
- Evaluation sets use ops labels only: expanded positives are guesses, not labels.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.generate.random import uniform

SPLITS = ("train", "validation", "test")


class TrainingDataError(ValueError):
    """The labelled data cannot support training or evaluation (names what is missing)."""


def split_of(cluster_id: Column, seed: int, fractions: Sequence[float]) -> Column:
    """`train`, `validation` or `test` from a hash of the component id (never splits one)."""
    draw = uniform(seed, "split", cluster_id)
    train, validation, _ = fractions
    return (
        F.when(draw < train, F.lit("train"))
        .when(draw < train + validation, F.lit("validation"))
        .otherwise(F.lit("test"))
    )


def labelled_rows(
    features_df: DataFrame, labels_df: DataFrame, seed: int, fractions: Sequence[float]
) -> DataFrame:
    """Feature rows of labelled accounts, with `label`, `label_source`, `weight`,
    `sample_rate` and `split`. Both inputs are for one as-of date."""
    labels = labels_df.select("account_id", "label", "label_source", "weight", "sample_rate")
    return features_df.join(labels, "account_id", "inner").withColumn(
        "split", split_of(F.col("cluster_id"), seed, fractions)
    )


def training_rows(
    labelled_df: DataFrame, negative_sample_rate: float, seed: int, use_expanded: bool
) -> DataFrame:
    """The train split: negatives down-sampled (deterministically per account)."""
    rows = labelled_df.where(F.col("split") == "train")
    if not use_expanded:
        rows = rows.where(F.col("label_source") != "expanded")
    keep = (F.col("label") == 1) | (
        uniform(seed, "downsample", F.col("account_id")) < negative_sample_rate
    )
    return rows.where(keep)


def evaluation_rows(labelled_df: DataFrame, split: str) -> DataFrame:
    """One evaluation split with ops labels only and `w` = 1 / sample_rate."""
    return labelled_df.where(
        (F.col("split") == split) & (F.col("label_source") != "expanded")
    ).withColumn("w", 1.0 / F.col("sample_rate"))


def check_classes(counts: dict[tuple[str, int], int], min_positives: int) -> None:
    """Refuse data that cannot train or evaluate a model; `counts` is (split, label) -> rows."""
    train_pos = counts.get(("train", 1), 0)
    if train_pos < min_positives:
        raise TrainingDataError(
            f"table labels.labels: the train split has {train_pos} positive accounts, fewer "
            f"than train.min_positives={min_positives}; label more data (a later as-of date, "
            "a longer labels.horizon_days) or lower the minimum"
        )
    for split in SPLITS:
        for label, name in ((1, "positive"), (0, "negative")):
            if counts.get((split, label), 0) == 0:
                raise TrainingDataError(
                    f"table labels.labels: the {split} split has no {name} accounts; "
                    "thresholds cannot be chosen or confirmed (more accounts, or other "
                    "train.fractions)"
                )
