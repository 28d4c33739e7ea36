"""Per-account window features rolled up from `features_daily`.

One pass over the largest window's daily rows computes every window (1/7/28 days by
default) with conditional aggregates; nothing here reads the raw tables.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from botdetect.features.daily import BUCKETS_COLUMN, DAILY_COLUMNS, HOURS, KEYS


def in_window(as_of: dt.date, days: int, column: str = "event_date") -> Column:
    """True for dates in the `days`-day window ending at `as_of` (inclusive)."""
    return F.col(column) > F.lit(as_of - dt.timedelta(days=days))


def safe_ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator, and 0.0 where the denominator is 0 (no activity)."""
    return F.when(denominator > 0, numerator.cast("double") / denominator).otherwise(0.0)


# Daily set columns whose distinct elements are counted per window (feature name: column).
DISTINCT_SETS = {
    "templates": "templates",
    "nd_keys": "nd_keys",
    "recipients": "recipients",
    "ips": "ip_hashes",
    "devices": "device_hashes",
}
# Every daily set column: the distinct counts above plus the cross-account sharing
# features (long templates, IPs, devices) read the same exploded elements.
SET_COLUMNS = [*DISTINCT_SETS.values(), "long_templates"]


def kind_code(column: str) -> Column:
    """The element table's `kind` for a set column: its index in SET_COLUMNS, a tinyint.

    A one-byte code instead of the column name narrows every row the window's explode
    shuffles and persists.
    """
    return F.lit(SET_COLUMNS.index(column)).cast("tinyint")


def window_elements(daily_df: DataFrame, as_of: dt.date, window: int) -> DataFrame:
    """(account_id, kind, element, last_seen) over the `window` days ending at `as_of`.

    One row per distinct element of each daily set column (`kind` is `kind_code`) and
    account, with the last day the account used it. A single explode and shuffle serves
    the distinct counts of every window (an element is in a window when its last_seen
    is) and the template, IP and device sharing across accounts.
    """
    kinds = F.array(
        *[F.struct(kind_code(c).alias("kind"), F.col(c).alias("elements")) for c in SET_COLUMNS]
    )
    per_kind = daily_df.where(in_window(as_of, window)).select(
        "account_id", "event_date", F.inline(kinds)
    )
    return (
        per_kind.select("account_id", "kind", "event_date", F.explode("elements").alias("element"))
        .groupBy("account_id", "kind", "element")
        .agg(F.max("event_date").alias("last_seen"))
    )


def kind_elements(elements_df: DataFrame, kind: str) -> DataFrame:
    """(account_id, resource): the distinct elements of one set column over the window."""
    return elements_df.where(F.col("kind") == kind_code(kind)).select(
        "account_id", F.col("element").alias("resource")
    )


def distinct_counts(elements_df: DataFrame, as_of: dt.date, windows: list[int]) -> DataFrame:
    """Per account, `_<name>_<w>`: distinct elements of each set over each window."""
    return elements_df.groupBy("account_id").agg(
        *[
            F.count_if(
                (F.col("kind") == kind_code(column)) & in_window(as_of, w, "last_seen")
            ).alias(f"_{name}_{w}")
            for w in windows
            for name, column in DISTINCT_SETS.items()
        ]
    )


def _summed_hours(window: Column) -> Column:
    """The window's hour-of-day histogram: 24 plain sums, which Spark compiles."""
    return F.array(
        *[
            F.sum(F.when(window, F.element_at("hour_counts", h + 1)).otherwise(0))
            for h in range(HOURS)
        ]
    )


def entropy_bits(counts: Column) -> Column:
    """Shannon entropy (bits) of a count histogram; 0.0 for an empty one."""
    total = F.aggregate(counts, F.lit(0).cast("long"), lambda acc, c: acc + c)
    terms = F.transform(
        counts,
        lambda c: F.when(c > 0, -(c / total) * F.log2(c / total)).otherwise(F.lit(0.0)),
    )
    return F.when(total > 0, F.aggregate(terms, F.lit(0.0), lambda acc, t: acc + t)).otherwise(0.0)


def with_boundary_gaps(daily_df: DataFrame) -> DataFrame:
    """Add the gap between an account's previous tweet day's last tweet and this day's first.

    Gaps inside a day are in the partials; this one crosses midnight (or skipped days).
    """
    earlier = (
        Window.partitionBy("account_id")
        .orderBy("event_date")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    return daily_df.withColumn(
        "prev_last_ts", F.last("last_tweet_ts", ignorenulls=True).over(earlier)
    ).withColumn(
        "prev_tweet_date",
        F.last(F.when(F.col("n_tweets") > 0, F.col("event_date")), ignorenulls=True).over(earlier),
    )


def window_aggregates(daily_df: DataFrame, as_of: dt.date, windows: list[int]) -> list[Column]:
    """The aggregate expressions for every window (applied in one groupBy)."""
    exprs: list[Column] = []
    for w in windows:
        win = in_window(as_of, w)
        boundary_ok = (
            win
            & F.col("prev_last_ts").isNotNull()
            & (F.col("prev_tweet_date") > F.lit(as_of - dt.timedelta(days=w)))
            & (F.col("n_tweets") > 0)
        )
        boundary_gap = F.col("first_tweet_ts") - F.col("prev_last_ts")

        def total(column: str, win: Column = win) -> Column:
            return F.sum(F.when(win, F.col(column)).otherwise(0))

        exprs += [
            total("n_tweets").alias(f"_n_tweets_{w}"),
            total("n_replies").alias(f"_n_replies_{w}"),
            total("n_with_url").alias(f"_n_with_url_{w}"),
            total("n_night").alias(f"_n_night_{w}"),
            total("active_minutes").alias(f"_active_minutes_{w}"),
            F.sum(F.when(win & (F.col("n_tweets") > 0), 1).otherwise(0)).alias(f"_active_days_{w}"),
            (total("n_gaps") + F.sum(F.when(boundary_ok, 1).otherwise(0))).alias(f"_n_gaps_{w}"),
            (total("gap_sum") + F.sum(F.when(boundary_ok, boundary_gap).otherwise(0))).alias(
                f"_gap_sum_{w}"
            ),
            (
                total("gap_sq_sum")
                + F.sum(F.when(boundary_ok, boundary_gap * boundary_gap).otherwise(0))
            ).alias(f"_gap_sq_sum_{w}"),
            _summed_hours(win).alias(f"_hours_{w}"),
            total("n_interactions_given").alias(f"_given_{w}"),
            total("n_retweets_given").alias(f"_retweets_given_{w}"),
            total("n_engagement_received").alias(f"_engagement_{w}"),
            total("n_logins").alias(f"_logins_{w}"),
            total("n_failed_logins").alias(f"_failed_{w}"),
            total("n_sync_logins").alias(f"_sync_{w}"),
        ]
    return exprs


def gap_cv(n_gaps: Column, gap_sum: Column, gap_sq_sum: Column) -> Column:
    """Coefficient of variation of gaps between tweets; -1.0 with fewer than two gaps."""
    mean = gap_sum / n_gaps
    variance = F.greatest(gap_sq_sum / n_gaps - mean * mean, F.lit(0.0))
    return (
        F.when((n_gaps >= 2) & (mean > 0), F.sqrt(variance) / mean)
        .when(n_gaps >= 2, 0.0)
        .otherwise(-1.0)
    )


def window_features(aggregated_df: DataFrame, windows: list[int]) -> list[Column]:
    """Final per-window feature columns from the aggregates."""
    cols: list[Column] = []
    for w in windows:
        a = {name: F.col(f"_{name}_{w}") for name in _AGG_NAMES}
        n = a["n_tweets"]
        cols += [
            n.cast("long").alias(f"tweets_{w}d"),
            safe_ratio(a["n_replies"], n).alias(f"reply_share_{w}d"),
            safe_ratio(a["n_with_url"], n).alias(f"url_share_{w}d"),
            safe_ratio(a["n_night"], n).alias(f"night_share_{w}d"),
            safe_ratio(n, a["active_days"]).alias(f"tweets_per_active_day_{w}d"),
            safe_ratio(a["active_minutes"], a["active_days"]).alias(f"active_minutes_per_day_{w}d"),
            entropy_bits(a["hours"]).alias(f"hour_entropy_{w}d"),
            gap_cv(a["n_gaps"], a["gap_sum"], a["gap_sq_sum"]).alias(f"gap_cv_{w}d"),
            F.when(n > 0, 1.0 - a["templates"] / n).otherwise(0.0).alias(f"self_dup_ratio_{w}d"),
            F.when(n > 0, F.greatest(1.0 - a["nd_keys"] / n, F.lit(0.0)))
            .otherwise(0.0)
            .alias(f"near_dup_ratio_{w}d"),
            a["recipients"].cast("long").alias(f"distinct_recipients_{w}d"),
            safe_ratio(a["recipients"], n).alias(f"recipients_per_tweet_{w}d"),
            a["given"].cast("long").alias(f"interactions_given_{w}d"),
            safe_ratio(a["retweets_given"], a["given"]).alias(f"retweet_share_given_{w}d"),
            safe_ratio(a["engagement"], n).alias(f"engagement_per_tweet_{w}d"),
            a["logins"].cast("long").alias(f"logins_{w}d"),
            safe_ratio(a["failed"], a["logins"]).alias(f"failed_login_ratio_{w}d"),
            safe_ratio(a["sync"], a["logins"]).alias(f"sync_login_ratio_{w}d"),
            a["ips"].cast("long").alias(f"distinct_ips_{w}d"),
            a["devices"].cast("long").alias(f"distinct_devices_{w}d"),
        ]
    return cols


_AGG_NAMES = [
    "n_tweets",
    "n_replies",
    "n_with_url",
    "n_night",
    "active_minutes",
    "active_days",
    "n_gaps",
    "gap_sum",
    "gap_sq_sum",
    "hours",
    "templates",
    "nd_keys",
    "recipients",
    "ips",
    "devices",
    "given",
    "retweets_given",
    "engagement",
    "logins",
    "failed",
    "sync",
]


# The scalar columns of `features_daily` the window aggregates read.
_SCALARS = [
    c for c in DAILY_COLUMNS if c not in KEYS and c not in SET_COLUMNS and c != BUCKETS_COLUMN
]


def window_sums(daily_df: DataFrame, as_of: dt.date, windows: list[int]) -> DataFrame:
    """Per account with a daily row in the largest window: `window_aggregates`' columns.

    The set columns are dropped before the per-account sort, which then moves only scalars.
    """
    scalars = daily_df.where(in_window(as_of, max(windows))).select(
        "account_id", "event_date", *_SCALARS
    )
    scoped = with_boundary_gaps(scalars)
    return scoped.groupBy("account_id").agg(*window_aggregates(scoped, as_of, windows))


def activity_features(
    daily_df: DataFrame,
    elements_df: DataFrame,
    as_of: dt.date,
    windows: list[int],
) -> DataFrame:
    """One row per account with activity in the largest window: every windowed feature.

    `elements_df` comes from `window_elements` over the largest window.
    """
    sums = window_sums(daily_df, as_of, windows)
    counts = distinct_counts(elements_df, as_of, windows)
    zero = [
        F.coalesce(F.col(f"_{name}_{w}"), F.lit(0)).alias(f"_{name}_{w}")
        for w in windows
        for name in DISTINCT_SETS
    ]
    aggregated = sums.join(counts, "account_id", how="left").select(
        *[c for c in sums.columns], *zero
    )
    return aggregated.select("account_id", *window_features(aggregated, windows))
