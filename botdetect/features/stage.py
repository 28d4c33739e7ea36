"""`botdetect features`: raw tables -> `features_daily` -> `account_features` for a date."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import time

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config, FeaturesConfig
from botdetect.dates import created_by, day_range, end_of_day, window_start
from botdetect.features.catalog import FEATURES, KEY_COLUMNS, feature_columns
from botdetect.features.cluster import cluster_sizes, connected_components, merged_components
from botdetect.features.controller import (
    creation_bursts,
    near_duplicate_pairs,
    near_duplicate_sharing,
    non_hot_edges,
    resource_sharing,
    template_sharing,
    with_sharers,
)
from botdetect.features.daily import NON_NULL_COLUMNS, daily_partials
from botdetect.features.lockstep import lockstep_features, lockstep_pairs, pair_edges
from botdetect.features.profile import (
    follow_columns,
    follow_features,
    profile_features,
)
from botdetect.features.rollup import activity_features, kind_elements, window_elements
from botdetect.io.tables import (
    read_table,
    table_exists,
    write_date_partition,
    write_table,
)
from botdetect.privacy import keyed_hash, pseudonym_key
from botdetect.table_catalog import (
    ACCOUNT_FEATURES,
    FEATURES_DAILY,
    RAW,
    RAW_ACCOUNTS,
    RAW_FOLLOWS,
    RAW_OPS_ACTIONS,
)
from botdetect.verdicts import standing_spam

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FeaturesResult:
    as_of_date: dt.date
    daily_dates: list[dt.date]  # event days whose partials this run (re)computed
    accounts: int
    columns: int
    partials_seconds: float = 0.0  # computing and writing the daily partials
    rollup_seconds: float = 0.0  # the window roll-up into account_features


# The raw event tables the daily partials are computed from.
PARTIAL_SOURCES = ("tweets", "interactions", "logins")


def _fill(column: str) -> F.Column:
    default = next(
        (
            -1.0
            for f in FEATURES
            if f.when_empty.startswith("-1") and column.startswith(f.name.split("{")[0])
        ),
        0,
    )
    return F.coalesce(F.col(column), F.lit(default)).alias(column)


def _materialised(df: DataFrame, what: str) -> DataFrame:
    """`df` checkpointed, with the time it took in the log."""
    started = time.monotonic()
    out = df.localCheckpoint()
    log.info("features: %s in %.1f s", what, time.monotonic() - started)
    return out


def build_account_features(
    daily_df: DataFrame,
    accounts_df: DataFrame,
    follows_df: DataFrame,
    spam_df: DataFrame,
    as_of: dt.date,
    cfg: FeaturesConfig,
    elements_df: DataFrame | None = None,
) -> DataFrame:
    """Every account of `accounts_df` (one row each) with every catalogued feature.

    `accounts_df` has pseudonymised `creation_ip_h` / `creation_device_h`; `follows_df`
    holds the follows visible at the as-of date, `spam_df` the ids of accounts with a
    standing spam verdict then. `elements_df` is `window_elements` of
    `daily_df` over the largest window (computed here when not given; callers pass a
    persisted one so its shuffle runs once).
    """
    windows = sorted(cfg.windows)
    if elements_df is None:
        elements_df = window_elements(daily_df, as_of, windows[-1])
    ip_pairs = with_sharers(kind_elements(elements_df, "ip_hashes"))
    device_pairs = with_sharers(kind_elements(elements_df, "device_hashes"))
    # Lock-step pairs feed features and the controller graph, twins two features: each
    # materialised once (and timed: the two cross-account steps of the roll-up).
    twins = _materialised(near_duplicate_pairs(elements_df, cfg), "near-duplicate twins")
    lockstep = _materialised(lockstep_pairs(daily_df, as_of, cfg), "lock-step pairs")
    infrastructure = non_hot_edges(ip_pairs, cfg.hot_ip_accounts, "ip").unionByName(
        non_hot_edges(device_pairs, cfg.hot_device_accounts, "device")
    )
    # `cluster_size` stays the shared-infrastructure component (a feature); `cluster_id`,
    # the split and review-queue key, spans lock-step partners too.
    shared = connected_components(infrastructure, cfg.cluster_max_iterations)
    sizes = cluster_sizes(shared)
    controller = merged_components(
        shared, pair_edges(lockstep, "lockstep"), cfg.cluster_max_iterations
    )
    clusters = sizes.select("account_id", "cluster_size").join(controller, "account_id", how="full")
    joined = (
        profile_features(accounts_df, as_of)
        .join(activity_features(daily_df, elements_df, as_of, windows), "account_id", how="left")
        .join(template_sharing(elements_df, cfg), "account_id", how="left")
        .join(near_duplicate_sharing(elements_df, twins, cfg), "account_id", how="left")
        .join(lockstep_features(lockstep, cfg.cluster_max_iterations), "account_id", how="left")
        .join(resource_sharing(ip_pairs, cfg.hot_ip_accounts, "ip"), "account_id", how="left")
        .join(
            resource_sharing(device_pairs, cfg.hot_device_accounts, "device"),
            "account_id",
            how="left",
        )
        .join(creation_bursts(accounts_df, cfg), "account_id", how="left")
        .join(clusters, "account_id", how="left")
        .join(follow_features(follows_df, spam_df, as_of, windows), "account_id", how="left")
    )
    follow_cols = follow_columns(windows)
    columns = []
    for name in feature_columns(windows):
        if name in follow_cols:
            columns.append(follow_cols[name])
        elif name == "cluster_size":
            columns.append(F.coalesce(F.col(name), F.lit(1)).cast("long").alias(name))
        else:
            columns.append(_fill(name))
    return joined.select(
        "account_id",
        F.lit(as_of).alias("as_of_date"),
        F.coalesce(F.col("cluster_id"), F.col("account_id")).alias("cluster_id"),
        *columns,
    )


@dataclasses.dataclass(frozen=True)
class RollupInputs:
    """What the roll-up reads for an as-of date (all lazy DataFrames)."""

    daily: DataFrame  # features_daily over the largest window
    accounts: DataFrame  # accounts visible at the date, creation IP/device pseudonymised
    follows: DataFrame  # follows visible at the date
    spam: DataFrame  # ids of accounts with a standing spam verdict at the date


def rollup_inputs(spark: SparkSession, cfg: Config, as_of: dt.date, key: str) -> RollupInputs:
    """The roll-up's inputs for `as_of`, read from the feature and raw tables.

    `key` is the pseudonymisation key (`pseudonym_key`), resolved once by the caller.
    """
    daily_df = read_table(spark, FEATURES_DAILY.ref(cfg.storage)).where(
        F.col("event_date").between(window_start(as_of, cfg.features.windows), as_of)
    )
    visible = created_by(as_of)
    accounts_df = (
        read_table(spark, RAW_ACCOUNTS.ref(cfg.storage))
        .where(visible)
        .withColumn("creation_ip_h", keyed_hash(F.col("creation_ip"), key))
        .withColumn("creation_device_h", keyed_hash(F.col("creation_device_id"), key))
        .drop("creation_ip", "creation_device_id")
    )
    follows_df = read_table(spark, RAW_FOLLOWS.ref(cfg.storage)).where(visible)
    ops_df = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    spam_df, _ = standing_spam(ops_df, end_of_day(as_of))
    return RollupInputs(daily_df, accounts_df, follows_df, spam_df)


def _in_dates(dates: list[dt.date]) -> str:
    return "event_date IN (" + ", ".join(f"'{d.isoformat()}'" for d in dates) + ")"


def dates_to_compute(
    spark: SparkSession,
    cfg: Config,
    as_of: dt.date,
    raw: dict[str, DataFrame],
    *,
    full_refresh: bool,
) -> list[dt.date]:
    """The as-of date, plus any day of the window whose partials are stale, or missing
    while the raw tables (`raw`, the `PARTIAL_SOURCES`) hold events for it (a day without
    events has no partials to write, so it is not computed again on every run)."""
    start = window_start(as_of, cfg.features.windows)
    window = day_range(start, as_of)
    if full_refresh:
        return window
    daily_ref = FEATURES_DAILY.ref(cfg.storage)
    written: dict[dt.date, bool] = {}
    if table_exists(spark, daily_ref):
        written = partial_days(read_table(spark, daily_ref), start, as_of)
    stale = {d for d, current in written.items() if not current}
    absent = [d for d in window if d not in written and d != as_of]
    with_events = event_days([raw[n] for n in PARTIAL_SOURCES], absent) if absent else set()
    missing = [d for d in window if d != as_of and (d in stale or d in with_events)]
    if missing:
        log.info(
            "features: %d day(s) of partials missing or older than their columns in the "
            "window, computing them",
            len(missing),
        )
    return [*missing, as_of]


def partial_days(daily_df: DataFrame, start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    """Event days in [start, end] with partials, each True when every daily column is
    filled (current) and False when one is null (stale).

    A day written before a column was added reads it as null (the table's schema grew
    since), so it is stale and computed again, like a missing day.
    """
    present = [c for c in NON_NULL_COLUMNS if c in daily_df.columns]
    any_null = F.lit(len(present) < len(NON_NULL_COLUMNS))
    for column in present:
        any_null = any_null | F.col(column).isNull()
    rows = (
        daily_df.where(F.col("event_date").between(start, end))
        .groupBy("event_date")
        .agg(F.max(any_null.cast("int")).alias("stale"))
        .collect()
    )
    return {r["event_date"]: r["stale"] == 0 for r in rows}


def event_days(raw_tables: list[DataFrame], days: list[dt.date]) -> set[dt.date]:
    """Which of `days` have an event in any of `raw_tables` (partitioned by `event_date`,
    so only those days' files are read)."""
    wanted = F.col("event_date").isin(days)
    found = [t.where(wanted).select("event_date") for t in raw_tables]
    union = functools.reduce(DataFrame.unionAll, found)
    return {r["event_date"] for r in union.distinct().collect()}


def run_features(spark: SparkSession, cfg: Config, *, full_refresh: bool = False) -> FeaturesResult:
    """Update `features_daily` for the needed days, then write `account_features` for the date.

    The raw quality gate is checked before this runs (`pipeline.run_stage`).
    """
    as_of = cfg.run_date()
    fcfg = cfg.features
    key = pseudonym_key(fcfg.pseudonym_key_env, cfg.env)
    raw = {name: read_table(spark, RAW[name].ref(cfg.storage)) for name in PARTIAL_SOURCES}
    daily_ref = FEATURES_DAILY.ref(cfg.storage)
    dates = dates_to_compute(spark, cfg, as_of, raw, full_refresh=full_refresh)
    predicate = _in_dates(dates)
    # The day's tweets feed three aggregates and its logins two: persist them so each
    # raw partition is read once per run.
    started = time.monotonic()
    tweets_df = raw["tweets"].where(predicate).persist(StorageLevel.MEMORY_AND_DISK)
    logins_df = raw["logins"].where(predicate).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        partials = daily_partials(
            tweets_df, raw["interactions"].where(predicate), logins_df, fcfg, key
        )
        write_table(
            partials, daily_ref, replace_where=predicate, partition_by=FEATURES_DAILY.partition_by
        )
    finally:
        tweets_df.unpersist()
        logins_df.unpersist()

    partials_done = time.monotonic()
    inputs = rollup_inputs(spark, cfg, as_of, key)
    # The window's set elements feed five aggregates and the cluster rounds: one shuffle.
    elements_df = window_elements(inputs.daily, as_of, max(fcfg.windows)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        features_df = build_account_features(
            inputs.daily, inputs.accounts, inputs.follows, inputs.spam, as_of, fcfg, elements_df
        )
        written = write_date_partition(
            features_df,
            ACCOUNT_FEATURES.ref(cfg.storage),
            "as_of_date",
            as_of,
            cluster_by=ACCOUNT_FEATURES.cluster_by,
        )
    finally:
        elements_df.unpersist()
    rolled_up = time.monotonic()
    log.info(
        "features: partials %.1f s, roll-up %.1f s",
        partials_done - started,
        rolled_up - partials_done,
    )
    return FeaturesResult(
        as_of_date=as_of,
        daily_dates=dates,
        accounts=written.count(),
        columns=len(written.columns) - len(KEY_COLUMNS),
        partials_seconds=partials_done - started,
        rollup_seconds=rolled_up - partials_done,
    )
