"""`features_daily`: per account and event day, the partial aggregates windows roll up from.

Everything here is computed from one event day of the raw tables, so a daily run reads
one partition of each, and a day's partial never changes once its raw data is final.
Distinct sets (templates, recipients, IPs, devices) are kept as exact arrays so that
windows can union them; they are per account and day, so they stay small.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.config import FeaturesConfig
from botdetect.features.text import (
    minhash_words,
    near_duplicate_key_of_words,
    normalise_text,
    template_hash,
    tokens,
)
from botdetect.privacy import keyed_hash

KEYS = ["account_id", "event_date"]
HOURS = 24


def _epoch(ts: Column) -> Column:
    return F.unix_timestamp(ts)


def _bucket(epoch: Column, cfg: FeaturesConfig) -> Column:
    """The lock-step time bucket of an epoch second (`lockstep_bucket_seconds` wide)."""
    return F.floor(epoch / cfg.lockstep_bucket_seconds)


def _no_ids() -> Column:
    return F.array().cast("array<bigint>")


def tweet_rows(tweets_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """One narrow row per tweet: the text is reduced to hashes and flags here, so no
    shuffle downstream carries it.

    Built in three projections so that the normalised text and its word array are each
    computed once and shared by the expressions that read them.
    """
    normalised = tweets_df.select(
        *KEYS,
        "tweet_id",
        "parent_tweet_id",
        F.coalesce(F.col("mentioned_account_ids"), _no_ids()).alias("mentions"),
        _epoch(F.col("created_at")).alias("ts"),
        F.hour("created_at").alias("hour"),
        F.coalesce(F.col("text").rlike("https?://"), F.lit(False)).alias("has_url"),
        normalise_text(F.coalesce(F.col("text"), F.lit(""))).alias("norm"),
    )
    kept = [*KEYS, "tweet_id", "parent_tweet_id", "mentions", "ts", "hour", "has_url"]
    tokenised = normalised.select(
        *kept,
        template_hash(F.col("norm")).alias("template"),
        tokens(F.col("norm")).alias("tokens"),
    ).select(
        *kept,
        "template",
        (F.size("tokens") > cfg.common_template_max_tokens).alias("is_long"),
        minhash_words(F.col("tokens")).alias("words"),
    )
    return tokenised.select(
        *kept,
        "template",
        "is_long",
        near_duplicate_key_of_words(F.col("words"), cfg.minhash_seed).alias("nd_key"),
    )


def _gap_squares(sorted_ts: Column) -> Column:
    """Sum of squared gaps between consecutive elements of a sorted array (0.0 if < 2)."""
    return F.aggregate(
        F.sequence(F.lit(2), F.greatest(F.size(sorted_ts), F.lit(2))),
        F.lit(0.0),
        _add_square_gap(sorted_ts),
    )


def _add_square_gap(sorted_ts: Column):
    def add(acc: Column, i: Column) -> Column:
        gap = F.element_at(sorted_ts, i) - F.element_at(sorted_ts, i - 1)
        return acc + F.coalesce(gap * gap, F.lit(0)).cast("double")

    return add


def reply_recipients(tweets_df: DataFrame) -> DataFrame:
    """Per (account, day), `_replied_to`: the other accounts whose tweets it replied to.

    Parents are resolved within the same event day (the partition being processed). Only
    replies and two id columns take part in this join, not every tweet with its text.
    """
    replies = tweets_df.where(F.col("parent_tweet_id").isNotNull()).select(*KEYS, "parent_tweet_id")
    authors = tweets_df.select(
        F.col("tweet_id").alias("parent_tweet_id"), F.col("account_id").alias("parent_author")
    )
    return (
        replies.join(authors, "parent_tweet_id", how="inner")
        .where(F.col("parent_author") != F.col("account_id"))
        .groupBy(*KEYS)
        .agg(F.collect_set("parent_author").alias("_replied_to"))
    )


def tweet_partials(tweets_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """Per (account, day): volume, timing, repetitiveness and recipients of tweets.

    Gaps between tweets come from the day's sorted timestamps inside the one aggregate
    (no window), so the tweets are shuffled once, by (account, day).
    """
    rows = tweet_rows(tweets_df, cfg)
    aggregated = (
        rows.groupBy(*KEYS)
        .agg(
            F.count("*").cast("int").alias("n_tweets"),
            F.count("parent_tweet_id").cast("int").alias("n_replies"),
            F.sum(F.col("has_url").cast("int")).cast("int").alias("n_with_url"),
            F.sum(F.col("hour").isin(*cfg.night_hours).cast("int")).cast("int").alias("n_night"),
            F.array(
                *[F.sum((F.col("hour") == h).cast("int")).cast("int") for h in range(HOURS)]
            ).alias("hour_counts"),
            F.size(F.collect_set(F.floor(F.col("ts") / 60))).alias("active_minutes"),
            F.min("ts").alias("first_tweet_ts"),
            F.max("ts").alias("last_tweet_ts"),
            F.array_sort(F.collect_list("ts")).alias("_sorted_ts"),
            F.array_sort(F.collect_set("template")).alias("templates"),
            F.array_sort(F.collect_set(F.when(F.col("is_long"), F.col("template")))).alias(
                "long_templates"
            ),
            F.array_sort(F.collect_set("nd_key")).alias("nd_keys"),
            F.collect_set(_bucket(F.col("ts"), cfg)).alias("tweet_buckets"),
            F.array_distinct(F.flatten(F.collect_list("mentions"))).alias("_mentioned"),
        )
        .join(reply_recipients(tweets_df), KEYS, how="left")
    )
    n_gaps = F.greatest(F.col("n_tweets") - 1, F.lit(0))
    recipients = F.array_union(F.col("_mentioned"), F.coalesce(F.col("_replied_to"), _no_ids()))
    return aggregated.select(
        *[c for c in aggregated.columns if c not in ("_sorted_ts", "_mentioned", "_replied_to")],
        F.array_sort(recipients).alias("recipients"),
        n_gaps.cast("int").alias("n_gaps"),
        F.when(n_gaps > 0, (F.col("last_tweet_ts") - F.col("first_tweet_ts")).cast("double")).alias(
            "gap_sum"
        ),
        F.when(n_gaps > 0, _gap_squares(F.col("_sorted_ts"))).alias("gap_sq_sum"),
    )


def engagement_partials(interactions_df: DataFrame, tweets_df: DataFrame) -> DataFrame:
    """Interactions given by each account, and received on its same-day tweets."""
    given = interactions_df.groupBy(*KEYS).agg(
        F.count("*").cast("int").alias("n_interactions_given"),
        F.sum((F.col("action") == "retweet").cast("int")).cast("int").alias("n_retweets_given"),
    )
    authors = tweets_df.select("tweet_id", F.col("account_id").alias("author_id"))
    received = (
        interactions_df.join(authors, "tweet_id", how="inner")
        .where(F.col("author_id") != F.col("account_id"))
        .groupBy(F.col("author_id").alias("account_id"), "event_date")
        .agg(F.count("*").cast("int").alias("n_engagement_received"))
    )
    return given.join(received, KEYS, how="full")


def login_partials(logins_df: DataFrame, cfg: FeaturesConfig, key: str) -> DataFrame:
    """Per (account, day): logins, failures, pseudonymised IPs/devices, synchrony."""
    hashed = (
        logins_df.withColumn("ip_h", keyed_hash(F.col("ip"), key))
        .withColumn("device_h", keyed_hash(F.col("device_id"), key))
        .withColumn("ts", _epoch(F.col("login_at")))
        .drop("ip", "device_id")
    )
    synced = synchronous_logins(hashed, cfg)
    return (
        hashed.join(synced, ["account_id", "event_date", "ts", "ip_h"], how="left")
        .groupBy(*KEYS)
        .agg(
            F.count("*").cast("int").alias("n_logins"),
            F.sum((~F.col("success")).cast("int")).cast("int").alias("n_failed_logins"),
            F.sum(F.coalesce(F.col("is_synchronous"), F.lit(False)).cast("int"))
            .cast("int")
            .alias("n_sync_logins"),
            F.array_sort(F.collect_set("ip_h")).alias("ip_hashes"),
            F.array_sort(F.collect_set("device_h")).alias("device_hashes"),
            F.collect_set(_bucket(F.col("ts"), cfg)).alias("login_buckets"),
        )
    )


def synchronous_logins(hashed_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """Logins with another account's login on the same non-hot IP within sync_seconds.

    IPs used by more than hot_ip_accounts accounts that day (NAT, campus) are excluded
    before the self-join, which also removes the join's hot keys.
    """
    per_ip = hashed_df.groupBy("event_date", "ip_h").agg(
        F.countDistinct("account_id").alias("ip_accounts")
    )
    candidates = (
        hashed_df.where(F.col("ip_h").isNotNull())
        .join(per_ip, ["event_date", "ip_h"], how="inner")
        .where((F.col("ip_accounts") > 1) & (F.col("ip_accounts") <= cfg.hot_ip_accounts))
        .select("account_id", "event_date", "ts", "ip_h")
        .withColumn("bucket", F.floor(F.col("ts") / cfg.sync_seconds))
    )
    others = candidates.select(
        F.col("account_id").alias("other_id"),
        "event_date",
        F.col("ts").alias("other_ts"),
        "ip_h",
        F.explode(F.array(F.col("bucket") - 1, F.col("bucket"), F.col("bucket") + 1)).alias(
            "bucket"
        ),
    )
    return (
        candidates.join(others, ["event_date", "ip_h", "bucket"], how="inner")
        .where(
            (F.col("other_id") != F.col("account_id"))
            & (F.abs(F.col("other_ts") - F.col("ts")) <= cfg.sync_seconds)
        )
        .select("account_id", "event_date", "ts", "ip_h")
        .distinct()
        .withColumn("is_synchronous", F.lit(True))
    )


# Time buckets of the day's logins and tweets, for lock-step similarity (not a window sum).
BUCKETS_COLUMN = "activity_buckets"
DAILY_COLUMNS = [
    "account_id",
    "event_date",
    "n_tweets",
    "n_replies",
    "n_with_url",
    "n_night",
    "hour_counts",
    "active_minutes",
    "first_tweet_ts",
    "last_tweet_ts",
    "n_gaps",
    "gap_sum",
    "gap_sq_sum",
    "templates",
    "long_templates",
    "nd_keys",
    "recipients",
    "n_interactions_given",
    "n_retweets_given",
    "n_engagement_received",
    "n_logins",
    "n_failed_logins",
    "n_sync_logins",
    "ip_hashes",
    "device_hashes",
    BUCKETS_COLUMN,
]
_COUNTS = [
    "n_tweets",
    "n_replies",
    "n_with_url",
    "n_night",
    "active_minutes",
    "n_gaps",
    "n_interactions_given",
    "n_retweets_given",
    "n_engagement_received",
    "n_logins",
    "n_failed_logins",
    "n_sync_logins",
]
_ARRAYS = ["templates", "long_templates", "nd_keys", "recipients", "ip_hashes", "device_hashes"]
# Columns every partial row fills: a null one means the row predates the column.
NON_NULL_COLUMNS = [*_COUNTS, *_ARRAYS, BUCKETS_COLUMN, "hour_counts", "gap_sum", "gap_sq_sum"]


def daily_partials(
    tweets_df: DataFrame,
    interactions_df: DataFrame,
    logins_df: DataFrame,
    cfg: FeaturesConfig,
    key: str,
) -> DataFrame:
    """One row per account with any activity on an event day; counts are 0, not null."""
    joined = (
        tweet_partials(tweets_df, cfg)
        .join(engagement_partials(interactions_df, tweets_df), KEYS, how="full")
        .join(login_partials(logins_df, cfg, key), KEYS, how="full")
    )
    filled = joined.select(
        *KEYS,
        *[F.coalesce(F.col(c), F.lit(0)).cast("int").alias(c) for c in _COUNTS],
        *[F.coalesce(F.col(c), _no_ids()).alias(c) for c in _ARRAYS],
        F.array_sort(
            F.array_union(
                F.coalesce(F.col("tweet_buckets"), _no_ids()),
                F.coalesce(F.col("login_buckets"), _no_ids()),
            )
        ).alias(BUCKETS_COLUMN),
        F.coalesce(F.col("hour_counts"), F.array_repeat(F.lit(0), HOURS)).alias("hour_counts"),
        "first_tweet_ts",
        "last_tweet_ts",
        F.coalesce(F.col("gap_sum"), F.lit(0.0)).alias("gap_sum"),
        F.coalesce(F.col("gap_sq_sum"), F.lit(0.0)).alias("gap_sq_sum"),
    )
    return filled.select(*DAILY_COLUMNS)
