"""What an ops action says about an account: the one definition of a spam verdict.

Labels, the follow-neighbourhood features, the report and the synthetic world's summary
all read `raw.ops_actions` through these functions, so "found spam" and "cleared" mean
the same thing everywhere.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

SPAM_RESTRICTIONS = ("suspend", "lock")


def spam_verdict() -> Column:
    """An ops action that found spam: a `spam` suspend or lock."""
    return (F.col("reason") == "spam") & F.col("restriction").isin(*SPAM_RESTRICTIONS)


def standing_spam(ops_df: DataFrame, cutoff: dt.datetime) -> tuple[DataFrame, DataFrame]:
    """(standing, cleared): ids of accounts with a spam verdict before `cutoff`, split by
    whether a later `cleared` action (also before `cutoff`) overturned the latest one."""
    visible = ops_df.where(F.col("action_at") < F.lit(cutoff))
    spam = (
        visible.where(spam_verdict())
        .groupBy("account_id")
        .agg(F.max("action_at").alias("flagged_at"))
    )
    cleared_at = (
        visible.where(F.col("restriction") == "cleared")
        .groupBy("account_id")
        .agg(F.max("action_at").alias("cleared_at"))
    )
    flagged = spam.join(cleared_at, "account_id", how="left")
    is_cleared = F.col("cleared_at").isNotNull() & (F.col("cleared_at") > F.col("flagged_at"))
    return (
        flagged.where(~is_cleared).select("account_id"),
        flagged.where(is_cleared).select("account_id"),
    )
