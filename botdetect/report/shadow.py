"""Shadow-mode online metrics, observed and as if flagged accounts had been blocked.

The shadow period of a report for D is the event days (D - period_days, D]. An account
counts as flagged from the first score in [D - period_days, D - 1] whose decision is one
of `report.decisions`; the batch that flags it runs after its as-of day closes, so the
counterfactual block starts at the next midnight plus `latency_hours`. Every tweet the
account sent after that moment is removed in the counterfactual; nothing else changes.

Spam tweets are tweets by spam accounts: the generator's truth in synthetic worlds,
otherwise ops-confirmed spam accounts (which misses unlabelled bots, so the observed
spam fraction is then a lower bound).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

STANDARD_CADENCES_H = (1, 2, 3, 4, 6, 8, 12, 24)


@dataclasses.dataclass(frozen=True)
class SpamMetrics:
    tweets: int
    spam_tweets: int
    active_accounts: int

    @property
    def spam_fraction(self) -> float:
        return self.spam_tweets / self.tweets if self.tweets else 0.0

    @property
    def spam_per_1k(self) -> float:
        return 1000 * self.spam_fraction

    @property
    def spam_per_active_account(self) -> float:
        return self.spam_tweets / self.active_accounts if self.active_accounts else 0.0

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_tweets": float(self.tweets),
            f"{prefix}_spam_tweets": float(self.spam_tweets),
            f"{prefix}_active_accounts": float(self.active_accounts),
            f"{prefix}_spam_fraction": self.spam_fraction,
            f"{prefix}_spam_per_1k_tweets": self.spam_per_1k,
            f"{prefix}_spam_per_active_account": self.spam_per_active_account,
        }


def first_flags(
    scores_df: DataFrame, as_of: dt.date, period_days: int, decisions: Sequence[str]
) -> DataFrame:
    """(account_id, flagged_on): the first shadow-period score with a flagging decision."""
    first = as_of - dt.timedelta(days=period_days)
    last = as_of - dt.timedelta(days=1)
    return (
        scores_df.where(
            F.col("as_of_date").between(F.lit(first), F.lit(last))
            & F.col("decision").isin(*decisions)
        )
        .groupBy("account_id")
        .agg(F.min("as_of_date").alias("flagged_on"))
    )


def block_moment(flagged_on: F.Column, latency_hours: float) -> F.Column:
    """When a flag raised by the batch for `flagged_on` takes effect."""
    midnight = F.to_timestamp(F.date_add(flagged_on, 1))
    return midnight + F.make_dt_interval(secs=F.lit(latency_hours * 3600.0))


def counterfactual(tweets_df: DataFrame, flags_df: DataFrame, latency_hours: float) -> DataFrame:
    """The tweets that would still have been sent had flagged accounts been blocked."""
    joined = tweets_df.join(flags_df, "account_id", "left")
    blocked = F.col("flagged_on").isNotNull() & (
        F.col("created_at") >= block_moment(F.col("flagged_on"), latency_hours)
    )
    return joined.where(~blocked).drop("flagged_on")


def spam_metrics(tweets_df: DataFrame, spam_accounts_df: DataFrame) -> SpamMetrics:
    """Tweets, spam tweets and active accounts of `tweets_df` in one aggregation."""
    marked = tweets_df.join(
        spam_accounts_df.select("account_id", F.lit(1).alias("is_spam")), "account_id", "left"
    )
    per_account = marked.groupBy("account_id").agg(
        F.count("*").alias("n"), F.max(F.coalesce("is_spam", F.lit(0))).alias("spam")
    )
    row = per_account.agg(
        F.sum("n").alias("tweets"),
        F.sum(F.col("n") * F.col("spam")).alias("spam_tweets"),
        F.count("*").alias("active"),
    ).first()
    return SpamMetrics(int(row["tweets"] or 0), int(row["spam_tweets"] or 0), int(row["active"]))


def reviews_saved(
    ops_df: DataFrame,
    flags_df: DataFrame,
    start: dt.datetime,
    end: dt.datetime,
    latency_hours: float,
) -> int:
    """Ops actions in [start, end) on accounts the model had already flagged by then."""
    return (
        ops_df.where((F.col("action_at") >= F.lit(start)) & (F.col("action_at") < F.lit(end)))
        .join(flags_df, "account_id", "inner")
        .where(F.col("action_at") >= block_moment(F.col("flagged_on"), latency_hours))
        .count()
    )


def false_flag_rate(flags_df: DataFrame, spam_accounts_df: DataFrame) -> tuple[float | None, int]:
    """(share of flagged accounts that are not spam accounts, flagged accounts)."""
    row = (
        flags_df.join(
            spam_accounts_df.select("account_id", F.lit(1).alias("s")), "account_id", "left"
        )
        .agg(
            F.count("*").alias("n"), F.sum(F.when(F.col("s").isNull(), 1).otherwise(0)).alias("bad")
        )
        .first()
    )
    n = int(row["n"])
    return ((row["bad"] or 0) / n if n else None), n


def half_volume_hours(tweets_df: DataFrame, bot_accounts_df: DataFrame) -> float | None:
    """Median over bots of the hours from their first tweet in the window to the tweet
    that completes half of their window's tweets: how fast a bot gets its work done."""
    by_account = Window.partitionBy("account_id").orderBy("created_at")
    bots = tweets_df.join(bot_accounts_df.select("account_id"), "account_id", "inner")
    ranked = bots.select(
        "account_id",
        "created_at",
        F.row_number().over(by_account).alias("k"),
        F.count("*").over(Window.partitionBy("account_id")).alias("n"),
    )
    per_bot = ranked.groupBy("account_id").agg(
        (
            F.max(F.when(F.col("k") == F.ceil(F.col("n") / 2), F.unix_timestamp("created_at")))
            - F.min(F.unix_timestamp("created_at"))
        ).alias("seconds")
    )
    value = per_bot.agg(F.percentile_approx("seconds", 0.5, 10_000).alias("m")).first()["m"]
    return None if value is None else value / 3600.0


def recommended_cadence_hours(half_hours: float | None) -> int:
    """The longest standard schedule that still runs before a typical bot is half done."""
    if half_hours is None:
        return 24
    fitting = [h for h in STANDARD_CADENCES_H if h <= half_hours]
    return fitting[-1] if fitting else STANDARD_CADENCES_H[0]


def promotion(
    reduction: float | None,
    false_flag: float | None,
    min_reduction: float,
    max_false_flag: float,
) -> tuple[bool, str]:
    """Whether shadow mode has earned action mode, and why."""
    if reduction is None or false_flag is None:
        return False, "no flagged accounts in the shadow period: nothing to judge yet"
    if reduction < min_reduction:
        return False, (
            f"spam fraction would drop by {reduction:.1%}, less than the required "
            f"{min_reduction:.1%}"
        )
    if false_flag > max_false_flag:
        return False, (
            f"estimated false-block rate {false_flag:.2%} is above the allowed {max_false_flag:.2%}"
        )
    return True, (
        f"spam fraction would drop by {reduction:.1%} (>= {min_reduction:.1%}) with an "
        f"estimated false-block rate of {false_flag:.2%} (<= {max_false_flag:.2%})"
    )
