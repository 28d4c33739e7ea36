"""The `labels.splits` table: every account's train / validation / test split, fixed once.

`cluster_id` (features/cluster.py) is the smallest member id of an account's component
over a sliding window, so it moves when a component grows, splits or loses that member.
A split hashed from it on every training date could then move an account from train to
test between dates, and a champion could be tested on accounts it was trained on.

So a split is decided the first time an account is seen and kept in `labels.splits`
(account_id, split, assigned_on, cluster_id), one row per account, never rewritten:

- accounts already in the table keep their split, whatever their component is now;
- a new account whose current component has assigned members takes the split held by
  most of them, so a growing botnet stays on one side. Members disagree only when earlier
  components merged; a tie goes to the split of the smallest assigned member id (the
  component whose id a merged component takes when that member is still in it, since
  `cluster_id` is the smallest member id). A fixed split order would instead send every
  tie to the same split and skew the fractions;
- a component with no assigned member is hashed as `dataset.split_of` hashes it (same
  seed and fractions), so the first run assigns exactly what the hash always gave.

Accounts already split across two merged components stay where they are: that is the
price of a split that never moves, and it only arises when components merge. A null
`cluster_id` is the account's own id, as the features stage gives singletons.

The table is written with an insert-only Delta MERGE on `account_id`: rerunning any
date, earlier or later, leaves every assigned account as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.io.tables import TableRef, read_table, table_exists, with_retries
from botdetect.table_catalog import SPLITS, schema_of
from botdetect.train.dataset import split_of

log = logging.getLogger(__name__)


def current_components(features_df: DataFrame) -> DataFrame:
    """(account_id, cluster_id) of one as-of date's features, one row per account; a null
    `cluster_id` becomes the account's own id (a singleton) and null account ids are dropped."""
    return (
        features_df.where(F.col("account_id").isNotNull())
        .select(
            F.col("account_id").cast("long").alias("account_id"),
            F.coalesce(F.col("cluster_id"), F.col("account_id")).cast("long").alias("cluster_id"),
        )
        .groupBy("account_id")
        .agg(F.min("cluster_id").alias("cluster_id"))
    )


def inherited_splits(components_df: DataFrame, assigned_df: DataFrame) -> DataFrame:
    """(cluster_id, split) for each current component with assigned members: the split
    most of them hold; on a tie, the split of the smallest assigned member id."""
    members = components_df.join(
        assigned_df.select("account_id", "split"), "account_id", how="inner"
    )
    votes = members.groupBy("cluster_id", "split").agg(
        F.count("*").alias("members"), F.min("account_id").alias("first_member")
    )
    # min over (-members, first_member, split): most members first, then the smallest id.
    # Each account holds one split, so first_member differs between splits: no tie is left.
    best = F.min(F.struct((-F.col("members")).alias("rank"), "first_member", "split"))
    return (
        votes.groupBy("cluster_id")
        .agg(best.alias("best"))
        .select("cluster_id", F.col("best.split").alias("split"))
    )


def assign_new(
    features_df: DataFrame,
    assigned_df: DataFrame,
    seed: int,
    fractions: Sequence[float],
    as_of: dt.date,
) -> DataFrame:
    """Rows of `labels.splits` for the accounts of `features_df` not in `assigned_df`.

    `features_df` holds one as-of date's (account_id, cluster_id); `assigned_df` the
    table so far (at least account_id, split). The result has the table's columns:
    the split inherited from the current component's assigned members, else the hash of
    the current `cluster_id`; `assigned_on` is `as_of`; `cluster_id` the component now.
    """
    components = current_components(features_df)
    assigned = assigned_df.select(F.col("account_id").cast("long").alias("account_id"), "split")
    new = components.join(assigned, "account_id", how="left_anti")
    inherited = inherited_splits(components, assigned).withColumnRenamed("split", "inherited")
    return new.join(inherited, "cluster_id", how="left").select(
        "account_id",
        F.coalesce(F.col("inherited"), split_of(F.col("cluster_id"), seed, fractions)).alias(
            "split"
        ),
        F.lit(as_of).cast("date").alias("assigned_on"),
        "cluster_id",
    )


def splits_ref(cfg: Config) -> TableRef:
    """Where `labels.splits` lives for this configuration."""
    return SPLITS.ref(cfg.storage)


def _location(ref: TableRef) -> str:
    """The table's path for Delta's builder APIs: they parse a relative location such as
    ./lakehouse/... as a table identifier, so a local path is made absolute (a URI such as
    s3://... or dbfs:/... is kept as it is)."""
    assert ref.path is not None
    return ref.path if ":" in ref.path else str(Path(ref.path).resolve())


def _create_if_missing(spark: SparkSession, ref: TableRef) -> None:
    from delta.tables import DeltaTable

    builder = DeltaTable.createIfNotExists(spark).addColumns(schema_of(SPLITS))
    if ref.full_name:
        builder = builder.tableName(ref.full_name)
    else:
        builder = builder.location(_location(ref))
    builder.execute()


def update_splits(
    spark: SparkSession, cfg: Config, features_df: DataFrame, as_of: dt.date
) -> DataFrame:
    """Assign the accounts of `features_df` (one as-of date) not yet in `labels.splits`,
    and return (account_id, split) for every account of `features_df`.

    The table is created empty when missing. The insert is a MERGE that inserts only
    account ids not yet present; a commit lost to a concurrent run is retried from a fresh
    read of the table, so the new rows are decided against what that run assigned.
    """
    from delta.tables import DeltaTable

    ref = splits_ref(cfg)
    if not table_exists(spark, ref):  # a damaged log exists: read_table names it below
        with_retries(lambda: _create_if_missing(spark, ref), f"create {ref.label}")

    def merge() -> None:
        # read_table first: a damaged log fails here, naming the table.
        new = assign_new(
            features_df, read_table(spark, ref), cfg.train.seed, cfg.train.fractions, as_of
        )
        target = (
            DeltaTable.forName(spark, ref.full_name)
            if ref.full_name
            else DeltaTable.forPath(spark, _location(ref))
        )
        (
            target.alias("t")
            .merge(new.alias("s"), "t.account_id = s.account_id")
            .whenNotMatchedInsertAll()
            .execute()
        )

    with_retries(merge, f"merge {ref.label}")
    log.info("%s: accounts of %s assigned", ref.label, as_of.isoformat())
    accounts = features_df.select(F.col("account_id").cast("long").alias("account_id"))
    return (
        read_table(spark, ref)
        .join(accounts, "account_id", how="left_semi")
        .select("account_id", "split")
    )
