"""Bad input at the edges: an empty world, and labels no model can honestly learn from.

Each case ends in a clear error that names the table and the rule (exit code 1), or in an
empty but well-formed table; training never registers a model it could not evaluate.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.config import load_config
from botdetect.contract import SOURCE_TABLES
from botdetect.features.catalog import feature_columns
from botdetect.io.tables import TableRef, read_table, write_date_partition, write_table
from botdetect.table_catalog import LABELS
from botdetect.train.dataset import split_of
from botdetect.train.stage import no_rows_message
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 28)
TRAIN = load_config("local").train


def _argv(stage: str, root: Path, *extra: str) -> list[str]:
    return [stage, "--as-of-date", D.isoformat(), "--set", f"storage.root={root}", *extra]


def _ref(root: Path, layer: str, name: str) -> TableRef:
    return TableRef(layer, name, path=str(root / layer / name))


@pytest.mark.slow
def test_an_empty_world_gives_empty_features_and_training_refuses(spark, tmp_path, capsys):
    # What ingest makes of exports with no rows (tests/test_ingest.py): empty raw tables.
    # (`generate` refuses generate.accounts=0: tests/test_config.py.)
    for name in ("tweets", "interactions", "accounts", "follows", "logins", "ops_actions"):
        empty = jvm_rows(spark, [], SOURCE_TABLES[name].schema)
        write_table(empty, _ref(tmp_path, "raw", name))

    # Features: one row per account, so none, with every column (no quality gate has run
    # here; validate refuses this date: tests/test_quality.py).
    assert main(_argv("features", tmp_path, "--set", "features.windows=[1]")) == 0
    out = capsys.readouterr().out
    assert "account_features 2026-11-28: 0 accounts x 48 features" in out
    features = read_table(spark, _ref(tmp_path, "features", "account_features"))
    assert features.count() == 0
    assert features.columns[3:] == feature_columns([1])

    write_table(jvm_rows(spark, [], LABELS.schema), _ref(tmp_path, "labels", "labels"))
    assert main(_argv("train", tmp_path, "--set", "features.windows=[1]")) == 1
    assert capsys.readouterr().err == (
        "botdetect train: error: table features.account_features has no rows for 2026-11-28 "
        "(no accounts, or features were not computed for that date); run "
        "`botdetect features --as-of-date 2026-11-28`\n"
    )
    assert not (tmp_path / "mlflow.db").exists()  # refused before MLflow: nothing registered


def _clusters_in(spark, split: str, n: int) -> list[int]:
    """`n` component ids that the split hash puts in `split`."""
    ids = spark.range(0, 2000).select(
        F.col("id"), split_of(F.col("id"), TRAIN.seed, TRAIN.fractions).alias("split")
    )
    return [r["id"] for r in ids.where(F.col("split") == split).orderBy("id").limit(n).collect()]


def _write_labelled_world(spark, root: Path, positives: list[int], negatives: list[int]) -> None:
    """account_features (every catalogue column, zeros) and labels for the accounts; an
    account's id is its component id."""
    columns = feature_columns(sorted(load_config("local").features.windows))
    accounts = jvm_rows(spark, [(a,) for a in positives + negatives], "account_id long")
    features = accounts.select(
        "account_id",
        F.lit(D).alias("as_of_date"),
        F.col("account_id").alias("cluster_id"),
        *[F.lit(0.0).alias(c) for c in columns],
    )
    write_table(features, _ref(root, "features", "account_features"))
    labels = jvm_rows(
        spark,
        [(a, D, 1, "ops", 1.0, 1.0) for a in positives]
        + [(a, D, 0, "random", 1.0, 0.2) for a in negatives],
        LABELS.schema,
    )
    write_table(labels, _ref(root, "labels", "labels"))


@pytest.mark.parametrize(
    ("bots", "humans", "message"),
    [
        (
            30,  # every labelled account is a bot
            0,
            "the train split has no negative accounts; thresholds cannot be chosen or "
            "confirmed (more accounts, or other train.fractions)",
        ),
        (
            3,  # positives far below train.min_positives (20)
            200,
            "the train split has 3 positive accounts, fewer than train.min_positives=20; "
            "label more data (a later as-of date, a longer labels.horizon_days) or lower the "
            "minimum",
        ),
    ],
    ids=["only-bots", "three-bots"],
)
def test_training_refuses_labels_of_extreme_prevalence(
    spark, tmp_path, capsys, bots, humans, message
):
    # The bots all fall in the train split; the humans are spread by the split hash.
    positives = _clusters_in(spark, "train", bots)
    negatives = list(range(10_000, 10_000 + humans))
    _write_labelled_world(spark, tmp_path, positives, negatives)
    assert main(_argv("train", tmp_path)) == 1
    assert capsys.readouterr().err == f"botdetect train: error: table labels.labels: {message}\n"
    assert not (tmp_path / "mlflow.db").exists()


def test_training_refuses_features_computed_before_a_column_was_added(spark, tmp_path, capsys):
    # D's features were written before `spam_mutual_follows` existed; a later date's
    # features added the column (the table's schema grew), so D reads it as null.
    _write_labelled_world(spark, tmp_path, _clusters_in(spark, "train", 30), list(range(200)))
    ref = _ref(tmp_path, "features", "account_features")
    written = read_table(spark, ref)
    old = jvm_rows(spark, written.collect(), written.schema)
    write_table(old.drop("spam_mutual_follows"), ref, partition_by=("as_of_date",))
    later = old.withColumn("as_of_date", F.lit(D + dt.timedelta(days=1)))
    write_date_partition(later, ref, "as_of_date", D + dt.timedelta(days=1))
    assert read_table(spark, ref).where(F.col("spam_mutual_follows").isNull()).count() == 230
    assert main(_argv("train", tmp_path)) == 1
    assert capsys.readouterr().err == (
        "botdetect train: error: table features.account_features: columns "
        "['spam_mutual_follows'] of the feature catalogue were added after the features of "
        "2026-11-28 were computed; rerun `botdetect features --as-of-date 2026-11-28`\n"
    )


def test_no_labelled_rows_names_the_empty_table():
    features, labels = "features.account_features", "labels.labels"
    assert no_rows_message(features, True, labels, False, D) == (
        "table labels.labels has no rows for 2026-11-28 (no labelled accounts, or labels "
        "were not written for that date); run `botdetect labels` for that date"
    )
    assert no_rows_message(features, True, labels, True, D) == (
        "tables features.account_features and labels.labels share no account for 2026-11-28"
    )
    assert no_rows_message(features, False, labels, False, D).startswith(
        "table features.account_features has no rows for 2026-11-28"
    )
