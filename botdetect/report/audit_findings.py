"""What the random audits say about the shadow period, from the tables (Spark side).

- `audit_verdicts`: each audit request of the period's scoring dates with the first
  random-audit verdict ops made on the account after the request's date (a spam verdict
  is a `spam` suspend or lock; `none` and other restrictions are not spam).
- `band_strata`: one `Stratum` per (scoring date, decision band), for report/audited.py.
- `tweet_strata`: the tweets of the shadow period per band of one scoring date, observed
  and as if flagged accounts had been blocked, with the audited accounts' own tweets, for
  the audited spam fraction both ways.
- `truth_shares`: in synthetic worlds only, each band's true spam share over the same
  strata, shown beside the estimates and never used by a decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from botdetect.dates import end_of_day
from botdetect.report.audited import Stratum, TweetStratum
from botdetect.verdicts import spam_verdict

AUDIT_TRIGGER = "random_audit"


def audit_verdicts(
    requests_df: DataFrame, ops_df: DataFrame, first: dt.date, last: dt.date, as_of: dt.date
) -> DataFrame:
    """(as_of_date, account_id, decision, band_accounts, is_spam) for the audit requests of
    scoring dates first..last that have a verdict by the end of `as_of`."""
    requests = requests_df.where(F.col("as_of_date").between(F.lit(first), F.lit(last)))
    reviews = ops_df.where(
        (F.col("review_trigger") == AUDIT_TRIGGER) & (F.col("action_at") < F.lit(end_of_day(as_of)))
    ).select("account_id", "action_at", spam_verdict().alias("is_spam"))
    # A verdict answers the request when it came after the scoring run that asked for it.
    after = F.col("action_at") >= F.to_timestamp(F.date_add(F.col("as_of_date"), 1))
    first_answer = Window.partitionBy("as_of_date", "account_id").orderBy("action_at")
    return (
        requests.join(reviews, "account_id", how="inner")
        .where(after)
        .withColumn("k", F.row_number().over(first_answer))
        .where(F.col("k") == 1)
        .select("as_of_date", "account_id", "decision", "band_accounts", "is_spam")
    )


def band_strata(requests_df: DataFrame, verdicts_df: DataFrame) -> dict[str, list[Stratum]]:
    """Per decision band, one stratum per scoring date (requests without a verdict count
    in the band's size, not in its sample)."""
    answered = verdicts_df.groupBy("as_of_date", "decision").agg(
        F.count("*").alias("n"), F.sum(F.col("is_spam").cast("int")).alias("y")
    )
    rows = (
        requests_df.groupBy("as_of_date", "decision")
        .agg(F.first("band_accounts").alias("N"))
        .join(answered, ["as_of_date", "decision"], how="left")
        .collect()
    )
    out: dict[str, list[Stratum]] = {}
    for r in sorted(rows, key=lambda r: (r["decision"], r["as_of_date"])):
        out.setdefault(r["decision"], []).append(Stratum(r["N"], r["n"] or 0, r["y"] or 0))
    return out


def tweet_strata(
    scores_day_df: DataFrame,
    account_tweets_df: DataFrame,
    verdicts_day_df: DataFrame,
) -> tuple[list[TweetStratum], list[TweetStratum]]:
    """(observed, if blocked) tweet strata of one scoring date's bands.

    `scores_day_df`: account_id, decision of that date; `account_tweets_df`: account_id,
    tweets, kept (the shadow period's tweets, and those left had flagged accounts been
    blocked); `verdicts_day_df`: that date's audit verdicts. A few rows per band reach the
    driver: the band totals and the audited accounts.
    """
    per_account = scores_day_df.select("account_id", "decision").join(
        account_tweets_df, "account_id", how="left"
    )
    totals = {
        r["decision"]: r
        for r in per_account.groupBy("decision")
        .agg(
            F.count("*").alias("accounts"),
            F.sum(F.coalesce("tweets", F.lit(0))).alias("tweets"),
            F.sum(F.coalesce("kept", F.lit(0))).alias("kept"),
        )
        .collect()
    }
    audited = (
        verdicts_day_df.select("account_id", "is_spam")
        .join(per_account, "account_id", how="inner")
        .select(
            "decision",
            F.coalesce("tweets", F.lit(0)).alias("tweets"),
            F.coalesce("kept", F.lit(0)).alias("kept"),
            "is_spam",
        )
        .collect()
    )
    observed, blocked = [], []
    for band, t in sorted(totals.items()):
        mine = sorted(
            (r for r in audited if r["decision"] == band),
            key=lambda r: (r["tweets"], r["kept"], r["is_spam"]),
        )
        observed.append(
            TweetStratum(
                t["accounts"], t["tweets"], tuple((r["tweets"], r["is_spam"]) for r in mine)
            )
        )
        blocked.append(
            TweetStratum(t["accounts"], t["kept"], tuple((r["kept"], r["is_spam"]) for r in mine))
        )
    return observed, blocked


def truth_shares(
    scores_df: DataFrame, truth_df: DataFrame, strata_dates: Iterable[tuple[str, dt.date]]
) -> dict[str, float]:
    """Per band, the true spam share of its accounts pooled over the given (band, date)
    strata: what the audited estimate of that band estimates. Synthetic worlds only."""
    keys = {(band, day) for band, day in strata_dates}
    if not keys:
        return {}
    days = sorted({day for _, day in keys})
    rows = (
        scores_df.where(F.col("as_of_date").isin(*days))
        .join(truth_df.select("account_id", "is_spam_bot"), "account_id", how="left")
        .groupBy("decision", "as_of_date")
        .agg(
            F.count("*").alias("n"),
            F.sum(F.coalesce(F.col("is_spam_bot"), F.lit(False)).cast("int")).alias("bots"),
        )
        .collect()
    )
    pooled: dict[str, list[int]] = {}
    for r in rows:
        if (r["decision"], r["as_of_date"]) in keys:
            acc = pooled.setdefault(r["decision"], [0, 0])
            acc[0] += r["bots"]
            acc[1] += r["n"]
    return {band: bots / n for band, (bots, n) in pooled.items() if n}
