"""From a score to what happens to the account: decision, rate limit and reasons.

- `block` at or above the model's block threshold, `review` in the band below it down to
  the review threshold, `rate_limit` from the configured rate-limit threshold up to the
  review band, `allow` below. A model without a block (or review) threshold never blocks
  (or reviews): thresholds that did not reach their precision target are not used.
- `max_tweets_per_hour`: null (no limit) when allowed, 0 when blocked, else the cap.
  The cap comes from data: the `rate_percentile` of the peak hourly tweet rate of
  allowed accounts in the window, so an allowed account would almost never reach it.
- Reasons (`model/explain.py`): the features that pushed a flagged account toward spam,
  written for a reviewer as value and population percentile.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

DECISIONS = ("block", "review", "rate_limit", "allow")


def decide(
    score: Column, block: float | None, review: float | None, rate_limit: float | None
) -> Column:
    """The decision for a score; a None threshold disables its band."""
    decision = F.lit("allow")
    # Applied from the loosest band to the strictest, so the strictest one wins.
    for name, threshold in (("rate_limit", rate_limit), ("review", review), ("block", block)):
        if threshold is not None:
            decision = F.when(score >= F.lit(threshold), F.lit(name)).otherwise(decision)
    return decision


def hourly_peaks(daily_df: DataFrame, as_of: dt.date, window_days: int) -> DataFrame:
    """(account_id, peak_tweets_per_hour): most tweets in one clock hour in the window."""
    first = as_of - dt.timedelta(days=window_days - 1)
    return (
        daily_df.where(F.col("event_date").between(F.lit(first), F.lit(as_of)))
        .groupBy("account_id")
        .agg(F.max(F.array_max("hour_counts")).alias("peak_tweets_per_hour"))
    )


def rate_cap(peaks_df: DataFrame, percentile: float, floor: int) -> int:
    """The hourly cap: the percentile of allowed accounts' peaks (accounts with none
    count as 0), rounded up, and never below `floor`. One number reaches the driver."""
    value = peaks_df.agg(
        F.percentile_approx(
            F.coalesce(F.col("peak_tweets_per_hour"), F.lit(0)), percentile, 10_000
        ).alias("p")
    ).first()["p"]
    return max(floor, math.ceil(value or 0))


def max_tweets_per_hour(decision: Column, cap: int) -> Column:
    return (
        F.when(decision == "block", F.lit(0))
        .when(decision.isin(*LIMITED), F.lit(cap))
        .otherwise(F.lit(None).cast("int"))
    )


LIMITED = ("review", "rate_limit")  # decisions that carry the hourly cap


def over_cap_aggs(cap: int) -> list[Column]:
    """Aggregates over `scores` rows: the share of allowed accounts whose peak hourly
    tweets exceeded `cap` (`allowed_over`, should be ~0) and of limited accounts
    (`limited_over`, the ones it is meant to slow down); null when there are none."""
    over = (F.col("peak_tweets_per_hour") > cap).cast("double")
    return [
        F.avg(F.when(F.col("decision") == "allow", over)).alias("allowed_over"),
        F.avg(F.when(F.col("decision").isin(*LIMITED), over)).alias("limited_over"),
    ]


def review_queue(scored_df: DataFrame, max_members: int) -> DataFrame:
    """Flagged, not blocked accounts grouped by botnet cluster, for ops to act on at once.

    `scored_df` has account_id, as_of_date, cluster_id, score, decision, reasons and the
    reach columns `followers` and `distinct_recipients_7d`. An account's expected value is
    score x reach, reach = 1 + followers + distinct recipients in 7 days (who its tweets
    get to). A cluster's priority is the sum over its queued accounts; readers order by
    it (no global sort here: the queue is written partitioned by date).

    `members` lists the cluster's `max_members` accounts of highest expected value (ties:
    lower account_id first); `accounts`, `priority` and `max_score` count all of them. The
    cap bounds a row: one huge cluster would otherwise become one array of all its
    accounts, built in one task's memory.
    """
    reach = (
        1
        + F.coalesce(F.col("followers"), F.lit(0))
        + F.coalesce(F.col("distinct_recipients_7d"), F.lit(0))
    )
    queued = scored_df.where(F.col("decision").isin(*LIMITED)).withColumn(
        "expected_value", F.col("score") * reach
    )
    member = F.struct(
        F.col("expected_value").alias("expected_value"),
        F.col("account_id").alias("account_id"),
        F.col("score").alias("score"),
        F.col("decision").alias("decision"),
        F.col("reasons").alias("reasons"),
    )
    cluster = Window.partitionBy("as_of_date", "cluster_id")
    ranked = queued.select(
        "*",
        F.row_number().over(cluster.orderBy(F.desc("expected_value"), "account_id")).alias("rank"),
        F.sum("expected_value").over(cluster).alias("priority"),
        F.count("*").over(cluster).cast("int").alias("accounts"),
        F.max("score").over(cluster).alias("max_score"),
    )
    # The same partitioning as the window: the aggregate adds no shuffle.
    return (
        ranked.where(F.col("rank") <= max_members)
        .groupBy("as_of_date", "cluster_id")
        .agg(
            F.first("priority").alias("priority"),
            F.first("accounts").alias("accounts"),
            F.first("max_score").alias("max_score"),
            F.transform(
                F.sort_array(F.collect_list(F.struct(F.col("rank"), member.alias("m")))),
                lambda e: e["m"],
            ).alias("members"),
        )
    )
