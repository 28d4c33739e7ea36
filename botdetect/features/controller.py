""" "Bots have a controller": shared IPs and devices, creation bursts, shared templates.

These need every account of the window at once (how many accounts share an IP, a
device or a template), so they are computed from the exploded daily arrays of the
largest window. Shared infrastructure (an IP used by more accounts than the configured
cap: NAT gateways, campuses) is excluded before any join on it, which also removes the
hot keys that would skew those joins.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.config import FeaturesConfig
from botdetect.features.rollup import in_window, kind_elements


def account_resources(daily_df: DataFrame, as_of: dt.date, window: int, column: str) -> DataFrame:
    """Distinct (account_id, resource) pairs from one array column over the window."""
    return (
        daily_df.where(in_window(as_of, window))
        .select("account_id", F.explode(column).alias("resource"))
        .distinct()
    )


def with_sharers(pairs_df: DataFrame) -> DataFrame:
    """(account_id, resource) pairs plus `sharers`: how many accounts use the resource."""
    per_resource = pairs_df.groupBy("resource").agg(F.count("*").alias("sharers"))
    return pairs_df.join(per_resource, "resource", how="inner")


def resource_sharing(shared_df: DataFrame, hot_cap: int, prefix: str) -> DataFrame:
    """Per account: max and mean accounts per resource (non-hot) and hot resources used.

    `shared_df` comes from `with_sharers`.
    """
    is_hot = F.col("sharers") > hot_cap
    return shared_df.groupBy("account_id").agg(
        F.coalesce(F.max(F.when(~is_hot, F.col("sharers"))), F.lit(0))
        .cast("long")
        .alias(f"max_accounts_per_{prefix}"),
        F.coalesce(F.avg(F.when(~is_hot, F.col("sharers"))), F.lit(0.0)).alias(
            f"mean_accounts_per_{prefix}"
        ),
        F.sum(is_hot.cast("int")).cast("long").alias(f"hot_{prefix}s"),
    )


def non_hot_edges(shared_df: DataFrame, hot_cap: int, kind: str) -> DataFrame:
    """Account-resource edges for the cluster graph, without shared infrastructure."""
    return shared_df.where(F.col("sharers") <= hot_cap).select(
        "account_id", F.xxhash64(F.lit(kind), F.col("resource")).alias("resource")
    )


def template_sharing(elements_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """Per account: the widest non-common template it posted, and its share of campaign ones.

    `elements_df` comes from `window_elements` over the largest window. Templates posted
    by more than common_template_accounts accounts, or of at most
    common_template_max_tokens tokens ("good morning"), are common phrases, not campaigns.
    """
    shared = (
        with_sharers(kind_elements(elements_df, "long_templates"))
        .withColumnRenamed("sharers", "posters")
        .where(F.col("posters") <= cfg.common_template_accounts)
    )
    per_account = shared.groupBy("account_id").agg(
        F.max("posters").cast("long").alias("max_template_accounts"),
        F.sum((F.col("posters") >= cfg.campaign_template_accounts).cast("int")).alias(
            "_campaign_templates"
        ),
    )
    distinct_templates = (
        kind_elements(elements_df, "templates")
        .groupBy("account_id")
        .agg(F.count("*").alias("_templates"))
    )
    return distinct_templates.join(per_account, "account_id", how="left").select(
        "account_id",
        F.coalesce(F.col("max_template_accounts"), F.lit(0))
        .cast("long")
        .alias("max_template_accounts"),
        (F.coalesce(F.col("_campaign_templates"), F.lit(0)) / F.col("_templates")).alias(
            "campaign_template_share"
        ),
    )


def near_duplicate_pairs(elements_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """(a, b, shared) with a < b: accounts that posted tweets with the same MinHash key
    (paraphrases of one text) in the largest window, and how many such keys they share.

    A key posted by more than near_dup_max_accounts accounts is a common phrase, not a
    twin; the cap also bounds the pairs a key can make.
    """
    keys = with_sharers(kind_elements(elements_df, "nd_keys")).where(_is_twin_key(cfg))
    other = keys.select("resource", F.col("account_id").alias("b"))
    return (
        keys.select("resource", F.col("account_id").alias("a"))
        .join(other, "resource", how="inner")
        .where(F.col("a") < F.col("b"))
        .groupBy("a", "b")
        .agg(F.count("*").alias("shared"))
    )


def near_duplicate_sharing(
    elements_df: DataFrame, pairs_df: DataFrame, cfg: FeaturesConfig
) -> DataFrame:
    """Per account with a MinHash key: `nd_twin_accounts`, the other accounts that posted
    near-duplicates of its tweets, and `nd_twin_share`, the share of its distinct keys that
    another account posted too (common phrases excluded). `pairs_df` is
    `near_duplicate_pairs`."""
    twins = (
        pairs_df.select(F.col("a").alias("account_id"))
        .unionAll(pairs_df.select(F.col("b").alias("account_id")))
        .groupBy("account_id")
        .agg(F.count("*").cast("long").alias("nd_twin_accounts"))
    )
    shares = (
        with_sharers(kind_elements(elements_df, "nd_keys"))
        .groupBy("account_id")
        .agg((F.sum(_is_twin_key(cfg).cast("int")) / F.count("*")).alias("nd_twin_share"))
    )
    return shares.join(twins, "account_id", how="left")


def _is_twin_key(cfg: FeaturesConfig) -> Column:
    """A MinHash key (with `sharers`) posted by another account, not a common phrase."""
    return (F.col("sharers") >= 2) & (F.col("sharers") <= cfg.near_dup_max_accounts)


def creation_bursts(accounts_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """Other accounts created from the same IP / device within creation_window_seconds.

    `accounts_df` carries pseudonymised `creation_ip_h` and `creation_device_h`. Creation
    IPs or devices shared by more than the hot caps count as infrastructure: 0.
    """
    result = accounts_df.select("account_id")
    for column, cap, name in (
        ("creation_ip_h", cfg.hot_ip_accounts, "created_same_ip_1d"),
        ("creation_device_h", cfg.hot_device_accounts, "created_same_device_1d"),
    ):
        result = result.join(
            _burst_count(accounts_df, column, cap, cfg, name), "account_id", how="left"
        )
    return result.select(
        "account_id",
        *[
            F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c)
            for c in ("created_same_ip_1d", "created_same_device_1d")
        ],
    )


def _burst_count(
    accounts_df: DataFrame, column: str, cap: int, cfg: FeaturesConfig, name: str
) -> DataFrame:
    width = cfg.creation_window_seconds
    created = accounts_df.where(F.col(column).isNotNull()).select(
        "account_id", F.col(column).alias("res"), F.unix_timestamp("created_at").alias("ts")
    )
    per_res = created.groupBy("res").agg(F.count("*").alias("n"))
    small = created.join(per_res.where((F.col("n") > 1) & (F.col("n") <= cap)), "res", how="inner")
    bucketed = small.withColumn("bucket", F.floor(F.col("ts") / width))
    others = bucketed.select(
        F.col("account_id").alias("other_id"),
        "res",
        F.col("ts").alias("other_ts"),
        F.explode(F.array(F.col("bucket") - 1, F.col("bucket"), F.col("bucket") + 1)).alias(
            "bucket"
        ),
    )
    return (
        bucketed.join(others, ["res", "bucket"], how="inner")
        .where(
            (F.col("other_id") != F.col("account_id"))
            & (F.abs(F.col("other_ts") - F.col("ts")) <= width)
        )
        .groupBy("account_id")
        .agg(F.countDistinct("other_id").alias(name))
    )
