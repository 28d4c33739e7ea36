"""`botdetect ops-sim --as-of-date D`: a simulated ops team, for synthetic worlds only.

A real platform's ops team reads the day's audit requests (`scores.audit_requests`) and
review queue (`scores.review_queue`), reviews accounts, and its verdicts come back in the
next `ops_actions` export. In a synthetic world nobody does that, so this step plays the
team, from the generator's truth:

- on D + 1 the team works through D's audit requests first (they must all be answered
  for the audited estimates to hold), then the queue's accounts by cluster priority and
  expected value, up to `generate.ops_team.daily_reviews` accounts;
- each verdict is the truth, wrong with probability `generate.ops_team.error_rate`: a
  spam verdict suspends the account (`suspend`, `spam`), any other is `none` (reviewed,
  nothing found);
- each review takes minutes drawn as the world's other reviews (`world.review_minutes`)
  and is stamped during D + 1's working hours, so ingest sees it on D + 1 like any
  verdict of that day;
- the verdicts are written into the landing export of `ops_actions` (in the world's
  format) as files of their own, which a rerun for D replaces: the production stages
  read them through ingest exactly as a real export.

This module is the only place outside the generator that reads the truth to make data;
no production stage imports it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.contract import NO_ACTION, SOURCE_TABLES
from botdetect.draws import uniform
from botdetect.generate.world import review_minutes
from botdetect.io.landing import replace_export_files
from botdetect.io.tables import read_table, table_exists
from botdetect.table_catalog import AUDIT_REQUESTS, GROUND_TRUTH, REVIEW_QUEUE, Table

log = logging.getLogger(__name__)

AUDIT, QUEUE = "random_audit", "model_queue"
WORKDAY_START_HOUR, WORKDAY_HOURS = 8, 10


class OpsTeamError(RuntimeError):
    """ops-sim cannot run: no generator truth (not a synthetic world) or nothing scored."""


@dataclasses.dataclass(frozen=True)
class OpsTeamResult:
    as_of_date: dt.date
    review_date: dt.date
    requested: dict[str, int]  # accounts asked for, by trigger
    reviewed: dict[str, int]  # accounts reviewed, by trigger
    spam_verdicts: dict[str, int]  # of which found spam, by trigger
    minutes: float

    def lines(self) -> list[str]:
        out = [f"ops team (simulated) reviews on {self.review_date} the work of {self.as_of_date}"]
        for trigger in (AUDIT, QUEUE):
            out.append(
                f"  {trigger:<13} {self.reviewed.get(trigger, 0):>6} of "
                f"{self.requested.get(trigger, 0):>6} reviewed, "
                f"{self.spam_verdicts.get(trigger, 0):>6} found spam"
            )
        out.append(f"  {self.minutes:,.0f} review minutes")
        return out


def worklist(audits_df: DataFrame, queue_df: DataFrame) -> DataFrame:
    """(account_id, review_trigger, position): audits first, then queue members by their
    cluster's priority and their expected value; an account in both is an audit."""
    audits = audits_df.select(
        "account_id",
        F.lit(AUDIT).alias("review_trigger"),
        F.lit(0).alias("tier"),
        F.lit(0.0).alias("priority"),
        F.lit(0.0).alias("expected_value"),
    )
    members = queue_df.select("priority", F.explode("members").alias("m")).select(
        F.col("m.account_id").alias("account_id"),
        F.lit(QUEUE).alias("review_trigger"),
        F.lit(1).alias("tier"),
        F.col("priority").cast("double").alias("priority"),
        F.col("m.expected_value").cast("double").alias("expected_value"),
    )
    queued = members.join(audits.select("account_id"), "account_id", how="left_anti")
    order = Window.orderBy("tier", F.desc("priority"), F.desc("expected_value"), "account_id")
    # One ordered list of a day's work: a few thousand rows at most (audit budgets plus
    # the queue), so a single-partition window is the honest plan here.
    return (
        audits.unionByName(queued)
        .dropDuplicates(["account_id"])
        .select("account_id", "review_trigger", F.row_number().over(order).alias("position"))
    )


def verdicts(
    work_df: DataFrame,
    truth_df: DataFrame,
    review_day: dt.date,
    capacity: int,
    error_rate: float,
    seed: int,
) -> DataFrame:
    """The first `capacity` accounts of the worklist, answered from the truth with errors,
    as `ops_actions` rows."""
    key = F.col("account_id")
    day = F.lit(review_day.isoformat())
    wrong = uniform(seed, "ops_wrong", key, day) < F.lit(error_rate)
    found_spam = F.coalesce(F.col("is_spam_bot"), F.lit(False)) != wrong
    start = dt.datetime.combine(review_day, dt.time(WORKDAY_START_HOUR))
    offset = F.floor(uniform(seed, "ops_at", key, day) * WORKDAY_HOURS * 3600)
    at = F.lit(start) + F.make_dt_interval(secs=offset.cast("double"))
    reviewed = work_df.where(F.col("position") <= capacity).join(
        truth_df.select("account_id", "is_spam_bot"), "account_id", how="left"
    )
    restriction: Column = F.when(found_spam, F.lit("suspend")).otherwise(F.lit(NO_ACTION))
    return reviewed.select(
        F.col("account_id").cast("long"),
        at.alias("action_at"),
        restriction.alias("restriction"),
        F.lit("spam").alias("reason"),
        F.concat(F.lit("simulated "), F.col("review_trigger")).alias("reviewer_note"),
        "review_trigger",
        review_minutes(seed, key, F.unix_timestamp(at)).alias("review_minutes"),
    )


def run_ops_team(spark: SparkSession, cfg: Config) -> OpsTeamResult:
    """Answer D's audit requests and review queue as D + 1's ops work."""
    as_of = cfg.run_date()
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    if not table_exists(spark, truth_ref):
        raise OpsTeamError(
            f"ops-sim answers from the generator's truth, and table {truth_ref.label} does "
            "not exist: it runs in synthetic worlds only (run `botdetect generate` first)"
        )
    on_date = F.col("as_of_date") == F.lit(as_of)
    audits = _date_rows(spark, cfg, AUDIT_REQUESTS).where(on_date)
    queue = _date_rows(spark, cfg, REVIEW_QUEUE).where(on_date)
    work = worklist(audits, queue).persist()
    team = cfg.generate.ops_team
    review_day = as_of + dt.timedelta(days=1)
    truth = read_table(spark, truth_ref)
    answered = verdicts(
        work, truth, review_day, team.daily_reviews, team.error_rate, cfg.generate.seed
    )
    table = SOURCE_TABLES["ops_actions"]
    answered = answered.select(*table.columns).persist()
    try:
        replace_export_files(
            answered,
            cfg.storage.landing_root,
            table,
            cfg.generate.format,
            tag=f"ops-sim-{as_of.isoformat()}",
        )
        requested = {r[0]: r[1] for r in work.groupBy("review_trigger").count().collect()}
        done = answered.groupBy("review_trigger").agg(
            F.count("*").alias("n"),
            F.sum((F.col("restriction") != NO_ACTION).cast("int")).alias("spam"),
            F.sum("review_minutes").alias("minutes"),
        )
        rows = done.collect()
    finally:
        work.unpersist()
        answered.unpersist()
    result = OpsTeamResult(
        as_of_date=as_of,
        review_date=review_day,
        requested=requested,
        reviewed={r["review_trigger"]: r["n"] for r in rows},
        spam_verdicts={r["review_trigger"]: r["spam"] or 0 for r in rows},
        minutes=float(sum(r["minutes"] or 0.0 for r in rows)),
    )
    log.info("ops-sim %s: %s", as_of, result)
    return result


def _date_rows(spark: SparkSession, cfg: Config, table: Table) -> DataFrame:
    ref = table.ref(cfg.storage)
    if not table_exists(spark, ref):
        raise OpsTeamError(
            f"ops-sim reviews what scoring asked for, and table {ref.label} does not exist: "
            "run `botdetect score` first"
        )
    return read_table(spark, ref)
