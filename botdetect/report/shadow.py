"""Shadow-mode online metrics, observed and as if flagged accounts had been blocked.

The shadow period of a report for D is the event days (D - period_days, D]. An account
counts as flagged from the first score in [D - period_days, D - 1] whose decision is one
of `report.decisions`; the batch that flags it runs after its as-of day closes, so the
counterfactual block starts at the next midnight plus `latency_hours`. Every tweet the
account sent after that moment is removed in the counterfactual; nothing else changes.

Two kinds of spam tweets. The decision (`promotion`) uses the audited estimate
(report/audited.py: each band's tweets times its audited spam share). Beside it the
report shows tweets by spam accounts of the generator's truth in synthetic worlds,
otherwise by ops-confirmed spam accounts (which miss unlabelled bots: a lower bound).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from botdetect.report.audited import Estimate
from botdetect.verdicts import spam_verdict

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
    joined = tweets_df.join(flags_df, "account_id", how="left")
    blocked = F.col("flagged_on").isNotNull() & (
        F.col("created_at") >= block_moment(F.col("flagged_on"), latency_hours)
    )
    return joined.where(~blocked).drop("flagged_on")


def spam_metrics(tweets_df: DataFrame, spam_accounts_df: DataFrame) -> SpamMetrics:
    """Tweets, spam tweets and active accounts of `tweets_df` in one aggregation."""
    marked = tweets_df.join(
        spam_accounts_df.select("account_id", F.lit(1).alias("is_spam")), "account_id", how="left"
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


# Reviews ops starts on its own; the model could have made them unnecessary. Audits and
# queue reviews are the model's own requests, appeals follow a restriction. A null trigger
# (exports older than the field) counts as ops's own.
OWN_TRIGGERS = ("user_report", "ops_rule")


@dataclasses.dataclass(frozen=True)
class Saved:
    reviews: int
    minutes: float


def reviews_saved(
    ops_df: DataFrame,
    flags_df: DataFrame,
    start: dt.datetime,
    end: dt.datetime,
    latency_hours: float,
    default_minutes: float,
) -> Saved:
    """Ops's own reviews in [start, end) of accounts the model had already acted on
    (`flags_df`: first block or rate-limit) by then, and their minutes (the recorded
    duration, `default_minutes` where none was recorded)."""
    own = F.col("review_trigger").isNull() | F.col("review_trigger").isin(*OWN_TRIGGERS)
    row = (
        ops_df.where((F.col("action_at") >= F.lit(start)) & (F.col("action_at") < F.lit(end)))
        .where(own)
        .join(flags_df, "account_id", how="inner")
        .where(F.col("action_at") >= block_moment(F.col("flagged_on"), latency_hours))
        .agg(
            F.count("*").alias("n"),
            F.sum(F.coalesce(F.col("review_minutes"), F.lit(default_minutes))).alias("m"),
        )
        .first()
    )
    return Saved(int(row["n"]), float(row["m"] or 0.0))


def hit_rates(
    ops_df: DataFrame, start: dt.datetime, end: dt.datetime
) -> dict[str, tuple[int, float]]:
    """Per review trigger (`unknown` when not recorded), the reviews in [start, end) and
    the share that found spam (a `spam` suspend or lock)."""
    found = spam_verdict()
    rows = (
        ops_df.where((F.col("action_at") >= F.lit(start)) & (F.col("action_at") < F.lit(end)))
        .where(F.col("restriction") != "cleared")
        .groupBy(F.coalesce(F.col("review_trigger"), F.lit("unknown")).alias("trigger"))
        .agg(F.count("*").alias("n"), F.avg(found.cast("double")).alias("hit"))
        .collect()
    )
    return {r["trigger"]: (int(r["n"]), float(r["hit"])) for r in rows}


def queue_hit_rate(
    queue_df: DataFrame,
    ops_df: DataFrame,
    first: dt.date,
    last: dt.date,
    end: dt.datetime,
) -> tuple[int, float] | None:
    """(reviewed, share found spam) of the accounts the review queue listed on scoring
    dates first..last: each account's first review after the queue that listed it and
    before `end`, whatever started it (a queued account drawn for audit is reviewed as an
    audit and still answers how often the queue is right). None when none was reviewed."""
    members = queue_df.where(F.col("as_of_date").between(F.lit(first), F.lit(last))).select(
        "as_of_date", F.explode("members.account_id").alias("account_id")
    )
    listed = members.groupBy("account_id").agg(F.min("as_of_date").alias("listed_on"))
    found = spam_verdict()
    reviews = ops_df.where(
        (F.col("action_at") < F.lit(end)) & (F.col("restriction") != "cleared")
    ).select("account_id", "action_at", found.alias("spam"))
    first_review = Window.partitionBy("account_id").orderBy("action_at")
    row = (
        listed.join(reviews, "account_id", how="inner")
        .where(F.col("action_at") >= F.to_timestamp(F.date_add(F.col("listed_on"), 1)))
        .withColumn("k", F.row_number().over(first_review))
        .where(F.col("k") == 1)
        .agg(F.count("*").alias("n"), F.avg(F.col("spam").cast("double")).alias("hit"))
        .first()
    )
    return None if not row["n"] else (int(row["n"]), float(row["hit"]))


def false_flag_rate(flags_df: DataFrame, spam_accounts_df: DataFrame) -> tuple[float | None, int]:
    """(share of flagged accounts that are not spam accounts, flagged accounts)."""
    row = (
        flags_df.join(
            spam_accounts_df.select("account_id", F.lit(1).alias("s")), "account_id", how="left"
        )
        .agg(
            F.count("*").alias("n"), F.sum(F.when(F.col("s").isNull(), 1).otherwise(0)).alias("bad")
        )
        .first()
    )
    n = int(row["n"])
    return ((row["bad"] or 0) / n if n else None), n


def cadence_leaks(
    tweets_df: DataFrame,
    flags_df: DataFrame,
    cadences: Sequence[int],
    latency_hours: float,
) -> tuple[dict[int, float], int]:
    """For each interval h between scoring runs, the share of flagged accounts' tweets
    after they first scored into the band that a run every h hours would let through.

    An account flagged on day d shows it in the data at t0 = the end of d. A run every h
    hours acts at t0 + u h + latency, u uniform in [0, 1) (where t0 falls between two
    runs), so a tweet sent x hours after t0 gets out with probability
    1 - clamp((x - latency) / h, 0, 1); the share is the expected number that gets out
    over all the accounts' tweets after t0 in the period. One aggregation; returns
    ({h: share}, tweets after t0), and an empty dict when there are none.
    """
    t0 = F.to_timestamp(F.date_add(F.col("flagged_on"), 1))
    after = tweets_df.join(flags_df, "account_id", how="inner").where(F.col("created_at") >= t0)
    late = (F.unix_timestamp("created_at") - F.unix_timestamp(t0)) / 3600.0 - latency_hours
    row = after.agg(
        F.count("*").alias("n"),
        *[
            F.sum(1.0 - F.least(F.greatest(late / h, F.lit(0.0)), F.lit(1.0))).alias(f"h{h}")
            for h in cadences
        ],
    ).first()
    n = int(row["n"])
    if n == 0:
        return {}, 0
    return {h: float(row[f"h{h}"]) / n for h in cadences}, n


def recommended_cadence_hours(leaks: dict[int, float], budget: float) -> tuple[int, str]:
    """The longest interval whose leak stays within `budget`, and why."""
    if not leaks:
        return 24, "no flagged account has tweeted since its flag yet: daily runs stay"
    fitting = [h for h in sorted(leaks) if leaks[h] <= budget]
    if not fitting:
        fastest = min(leaks)
        return fastest, (
            f"even a run every {fastest} h lets {leaks[fastest]:.1%} of flagged accounts' "
            f"tweets out, above the budget of {budget:.1%}: the fastest schedule"
        )
    best = fitting[-1]
    return best, (
        f"a run every {best} h lets {leaks[best]:.1%} of flagged accounts' tweets out after "
        f"their flag (budget {budget:.1%})"
    )


def promotion(
    reduction: float | None,
    block_precision: Estimate | None,
    min_reduction: float,
    min_precision: float,
) -> tuple[bool, str]:
    """Whether shadow mode has earned action mode, and why: the audited spam fraction must
    fall by `min_reduction` had flagged accounts been blocked, and the lower end of the
    audited block precision must reach `min_precision`. Both are estimates from ops's
    random audits; nothing here reads the generator's truth."""
    if block_precision is None:
        return False, (
            "no audited block precision yet: no random-audit verdict on a blocked account "
            "in the shadow period"
        )
    if reduction is None:
        return False, "no audited spam fraction yet: nothing to judge the flags by"
    precision = (
        f"audited block precision {block_precision.value:.1%} "
        f"[{block_precision.lo:.1%}, {block_precision.hi:.1%}] from "
        f"{block_precision.audited} audits"
    )
    if reduction < min_reduction:
        return False, (
            f"the audited spam fraction would drop by {reduction:.1%}, less than the "
            f"required {min_reduction:.1%} ({precision})"
        )
    if block_precision.lo < min_precision:
        return False, (
            f"{precision}: its lower bound {block_precision.lo:.1%} is below the required "
            f"{min_precision:.1%}, although the spam fraction would drop by {reduction:.1%}"
        )
    return True, (
        f"the audited spam fraction would drop by {reduction:.1%} (>= {min_reduction:.1%}) "
        f"and the {precision} has its lower bound at or above {min_precision:.1%}"
    )
