"""Profile and follow-graph features, from the `accounts` and `follows` snapshots."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.dates import end_of_day
from botdetect.features.rollup import safe_ratio


def digit_ratio(text: Column) -> Column:
    """Share of characters that are digits; 0.0 for an empty or null string."""
    length = F.length(F.coalesce(text, F.lit("")))
    digits = length - F.length(F.regexp_replace(F.coalesce(text, F.lit("")), r"\d", ""))
    return safe_ratio(digits, length)


def profile_features(accounts_df: DataFrame, as_of: dt.date) -> DataFrame:
    """Age, verification and handle shape of every account created by the as-of date."""
    return accounts_df.select(
        "account_id",
        F.datediff(F.lit(as_of), F.to_date("created_at")).cast("long").alias("account_age_days"),
        F.coalesce(F.col("verified"), F.lit(False)).cast("int").alias("is_verified"),
        F.length(F.coalesce(F.col("handle"), F.lit(""))).cast("long").alias("handle_length"),
        digit_ratio(F.col("handle")).alias("handle_digit_ratio"),
    )


def mutual_follows(follows_df: DataFrame) -> DataFrame:
    """(account_id, other_id) for every pair in `follows_df` that follow each other, once
    from each side (follows are unique per pair: ingest quarantines duplicate keys)."""
    given = follows_df.select("account_id", F.col("followed_account_id").alias("other_id"))
    back = follows_df.select(
        F.col("followed_account_id").alias("account_id"), F.col("account_id").alias("other_id")
    )
    return given.join(back, ["account_id", "other_id"], how="inner")


def mutual_flagged_counts(pairs_df: DataFrame, flagged_df: DataFrame) -> DataFrame:
    """Per account with a mutual follow: `mutual` (its mutual follows) and
    `mutual_flagged` (how many of them are in `flagged_df`, a frame of account ids).

    `pairs_df` is `mutual_follows`; the account's own flag never counts.
    """
    flags = flagged_df.select(F.col("account_id").alias("other_id"), F.lit(1).alias("_flagged"))
    return (
        pairs_df.join(flags, "other_id", how="left")
        .groupBy("account_id")
        .agg(F.count("*").alias("mutual"), F.count("_flagged").alias("mutual_flagged"))
    )


def follow_features(
    follows_df: DataFrame, spam_df: DataFrame, as_of: dt.date, windows: list[int]
) -> DataFrame:
    """Followers, following, their ratio, reciprocity, mutual follows under a spam verdict,
    and follows given/received per window.

    `follows_df` holds follows created before the end of the as-of date; `spam_df` the ids
    of accounts with a standing spam verdict at that date (`verdicts.standing_spam`).
    """
    given = follows_df.select(
        "account_id", F.col("followed_account_id").alias("other_id"), "created_at"
    )
    received = follows_df.select(
        F.col("followed_account_id").alias("account_id"),
        F.col("account_id").alias("other_id"),
        "created_at",
    )

    def windowed(df: DataFrame, prefix: str) -> list[Column]:
        return [
            F.sum(
                (F.col("created_at") >= F.lit(end_of_day(as_of - dt.timedelta(days=w)))).cast("int")
            )
            .cast("long")
            .alias(f"{prefix}_{w}d")
            for w in windows
        ]

    following = given.groupBy("account_id").agg(
        F.count("*").alias("following"), *windowed(given, "follows_given")
    )
    followers = received.groupBy("account_id").agg(
        F.count("*").alias("followers"), *windowed(received, "follows_received")
    )
    mutuals = mutual_flagged_counts(mutual_follows(follows_df), spam_df)
    return following.join(followers, "account_id", how="full").join(
        mutuals, "account_id", how="left"
    )


def follow_columns(windows: list[int]) -> dict[str, Column]:
    """Null-safe final follow columns by name (accounts nobody follows get zeros)."""
    zero = F.lit(0).cast("long")
    following = F.coalesce(F.col("following"), zero)
    followers = F.coalesce(F.col("followers"), zero)
    columns = {
        "followers": followers.cast("long"),
        "following": following.cast("long"),
        "follower_ratio": followers / F.greatest(following, F.lit(1)),
        "reciprocity": safe_ratio(F.coalesce(F.col("mutual"), zero), following),
        "spam_mutual_follows": F.coalesce(F.col("mutual_flagged"), zero).cast("long"),
        "spam_mutual_follow_share": safe_ratio(
            F.coalesce(F.col("mutual_flagged"), zero), F.coalesce(F.col("mutual"), zero)
        ),
    }
    for w in windows:
        for kind in ("follows_given", "follows_received"):
            columns[f"{kind}_{w}d"] = F.coalesce(F.col(f"{kind}_{w}d"), zero)
    return {name: col.alias(name) for name, col in columns.items()}
