"""Labelled feature rows, split by botnet component, with training and evaluation weights.

- Each account's split is fixed the first time it is seen and kept in `labels.splits`
  (`train/splits.py`): a new component is hashed from its `cluster_id` (`split_of`; the
  account's component in the shared IP/device graph, a singleton's own id), and an
  account joining a component takes its members' split. A botnet does not straddle train
  and test, so the test set measures how well the model finds botnets it has not seen.
- Training keeps a `negative_sample_rate` share of labelled negatives. Training weights
  are the label weights (expanded positives count less); evaluation weights are
  1 / (probability the row was sampled), so weighted counts stand for the population.
- Train and validation together are the development rows: models are cross-fitted over
  `train.folds` folds of components there, and their out-of-fold scores choose the
  model, fit the calibrator and set the thresholds; test confirms.
- Evaluation covers every stratum the labels stage writes, each weighted by its sampling
  rate: ops and expanded positives, random, verified and cleared negatives.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.draws import uniform

SPLITS = ("train", "validation", "test")
DEVELOPMENT = ("train", "validation")  # cross-fitted: out-of-fold scores choose and calibrate


class TrainingDataError(ValueError):
    """The labelled data cannot support training or evaluation (names what is missing)."""


def split_of(cluster_id: Column, seed: int, fractions: Sequence[float]) -> Column:
    """`train`, `validation` or `test` from a hash of the component id (never splits one).

    Used for components with no assigned member (`splits.assign_new`); an account's split
    is then read from `labels.splits`, not recomputed, because `cluster_id` moves."""
    draw = uniform(seed, "split", cluster_id)
    train, validation, _ = fractions
    return (
        F.when(draw < train, F.lit("train"))
        .when(draw < train + validation, F.lit("validation"))
        .otherwise(F.lit("test"))
    )


def labelled_rows(features_df: DataFrame, labels_df: DataFrame, splits_df: DataFrame) -> DataFrame:
    """Feature rows of labelled accounts, with `label`, `label_source`, `weight`,
    `sample_rate` and `split`. Features and labels are for one as-of date; `splits_df`
    is (account_id, split) of those accounts (`splits.update_splits`). An account without
    a split is left out, so the splits must cover every account of `features_df`."""
    labels = labels_df.select("account_id", "label", "label_source", "weight", "sample_rate")
    splits = splits_df.select("account_id", "split")
    return features_df.join(labels, "account_id", how="inner").join(
        splits, "account_id", how="inner"
    )


def fold_of(cluster_id: Column, seed: int, folds: int) -> Column:
    """A fold 0..folds-1 from a hash of the component id, for cross-fitting inside one run
    (a botnet stays in one fold; folds need not be stable across runs, splits must)."""
    return F.floor(uniform(seed, "fold", cluster_id) * folds).cast("int")


def training_rows(
    rows_df: DataFrame, negative_sample_rate: float, seed: int, use_expanded: bool
) -> DataFrame:
    """The rows a model fits on, out of `rows_df` (the development splits, or all of them
    but one fold): negatives down-sampled (deterministically per account); expanded
    positives only when `use_expanded`; reviewed rows always. Training weights are the
    label weights."""
    rows = rows_df
    if not use_expanded:
        rows = rows.where(F.col("label_source") != "expanded")
    # Human verdicts are few and precise: never down-sampled.
    keep = (
        (F.col("label") == 1)
        | (F.col("label_source") == "reviewed")
        | (uniform(seed, "downsample", F.col("account_id")) < negative_sample_rate)
    )
    return rows.where(keep)


def evaluation_rows(labelled_df: DataFrame, splits: Sequence[str]) -> DataFrame:
    """Every labelled row of `splits`, every stratum (ops and expanded positives; random,
    verified and cleared negatives; reviewed accounts of either label), with
    `w` = 1 / sample_rate: weighted counts stand for the whole scored population."""
    return labelled_df.where(F.col("split").isin(*splits)).withColumn(
        "w", 1.0 / F.col("sample_rate")
    )


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
