"""`botdetect labels --as-of-date D`: training labels, point-in-time correct.

- Positives: a `spam` suspend or lock by ops up to D + horizon, unless a later `cleared`.
- Expanded positives: accounts sharing a non-hot login IP or device with a positive in the
  feature window, and accounts whose reciprocal follows are mostly with positives (a
  botnet's follow ring: `follow_ring_positives`); weighted, conf decides whether training
  uses them. Both are one hop from an ops positive, never from another expanded account.
- Negatives: verified accounts (capped share: verified users differ from normal ones), a
  deterministic random sample of the remaining accounts (by default all of them, so that
  evaluation counts unlabelled accounts above a threshold rather than estimating them),
  and every account whose spam restriction ops later cleared (`cleared`: confirmed, and
  the hardest negatives).
- Reviewed: accounts ops reviewed because the model asked (a random audit or the review
  queue) take the latest such verdict, spam or not, as label `reviewed` with weight
  `labels.reviewed_weight`: few, precise labels that win over every source above.

`sample_rate` is the probability that an account of its kind was drawn into the labels
(1 for positives). Evaluation weights each row by 1 / sample_rate, so a labelled set
stands for the whole population and precision comes out at the real prevalence.

Labels read ops actions; features read other accounts' standing spam verdicts (the
mutual-follow neighbourhood, visible at D), never an account's own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from botdetect.config import Config, LabelsConfig
from botdetect.dates import created_by, end_of_day
from botdetect.draws import uniform
from botdetect.features.controller import account_resources, with_sharers
from botdetect.features.profile import mutual_flagged_counts, mutual_follows
from botdetect.io.tables import read_table, write_date_partition
from botdetect.table_catalog import (
    FEATURES_DAILY,
    LABELS,
    RAW_ACCOUNTS,
    RAW_FOLLOWS,
    RAW_OPS_ACTIONS,
)
from botdetect.verdicts import spam_verdict, standing_spam

log = logging.getLogger(__name__)

# Reviews the model asked for: a human looked at the account itself, whatever it found.
REVIEWED_TRIGGERS = ("random_audit", "model_queue")


@dataclasses.dataclass(frozen=True)
class LabelsResult:
    as_of_date: dt.date
    counts: dict[str, int]  # label_source -> accounts
    horizon_end: dt.date


def ops_positives(
    ops_df: DataFrame, as_of: dt.date, horizon_days: int
) -> tuple[DataFrame, DataFrame]:
    """(positives, cleared): account ids, from ops actions visible at D + horizon."""
    return standing_spam(ops_df, end_of_day(as_of + dt.timedelta(days=horizon_days)))


def reviewed_verdicts(ops_df: DataFrame, as_of: dt.date, horizon_days: int) -> DataFrame:
    """(account_id, label): each account's latest audit or queue verdict visible at
    D + horizon; 1 for a `spam` suspend or lock, 0 for anything else (`none`: reviewed,
    nothing found)."""
    cutoff = end_of_day(as_of + dt.timedelta(days=horizon_days))
    latest = Window.partitionBy("account_id").orderBy(F.desc("action_at"), "restriction")
    spam = spam_verdict()
    return (
        ops_df.where(
            (F.col("action_at") < F.lit(cutoff))
            & F.col("review_trigger").isin(*REVIEWED_TRIGGERS)
            & (F.col("restriction") != "cleared")
        )
        .withColumn("k", F.row_number().over(latest))
        .where(F.col("k") == 1)
        .select("account_id", spam.cast("int").alias("label"))
    )


def with_reviews(labels_df: DataFrame, reviewed_df: DataFrame, weight: float) -> DataFrame:
    """Human verdicts win: a reviewed account takes its verdict as label, `reviewed` as
    source and `weight`, and keeps its sample rate when it was drawn into the labels
    anyway (a reviewed random negative still stands for 1 / rate accounts); a reviewed
    account not otherwise labelled joins with sample rate 1, as ops positives and
    cleared accounts do."""
    verdicts = reviewed_df.select("account_id", F.col("label").alias("verdict"))
    joined = labels_df.join(verdicts, "account_id", how="full")
    reviewed = F.col("verdict").isNotNull()
    return joined.select(
        "account_id",
        F.when(reviewed, F.col("verdict")).otherwise(F.col("label")).alias("label"),
        F.when(reviewed, F.lit("reviewed")).otherwise(F.col("label_source")).alias("label_source"),
        F.when(reviewed, F.lit(weight)).otherwise(F.col("weight")).alias("weight"),
        F.coalesce(F.col("sample_rate"), F.lit(1.0)).alias("sample_rate"),
    )


def expanded_positives(
    daily_df: DataFrame,
    positives_df: DataFrame,
    as_of: dt.date,
    window: int,
    hot_ip_accounts: int,
    hot_device_accounts: int,
) -> DataFrame:
    """Accounts sharing a non-hot IP or device with a positive in the window (ids only)."""
    expanded = None
    for column, cap in (("ip_hashes", hot_ip_accounts), ("device_hashes", hot_device_accounts)):
        usable = (
            with_sharers(account_resources(daily_df, as_of, window, column))
            .where(F.col("sharers") <= cap)
            .select("account_id", "resource")
        )
        tainted = usable.join(positives_df, "account_id", how="inner").select("resource").distinct()
        found = usable.join(tainted, "resource", how="inner").select("account_id")
        expanded = found if expanded is None else expanded.unionByName(found)
    return expanded.distinct().join(positives_df, "account_id", how="left_anti")


def follow_ring_positives(
    follows_df: DataFrame,
    positives_df: DataFrame,
    as_of: dt.date,
    min_positives: int,
    min_share: float,
    hops: int = 1,
) -> DataFrame:
    """Accounts in a follow ring with positives (ids only, positives left out): at least
    `min_positives` of their mutual follows are positives, and those are at least
    `min_share` of all their mutual follows; repeated `hops` times, each round counting the
    accounts found before it as positives.

    A botnet follows itself to look established, and ops catch some of its members: the
    members ops missed have reciprocal follows with several of the caught ones, and a
    second round reaches members whose ring neighbours ops all missed but the first round
    found. A person who follows back whoever follows them may return a bot's follow, but
    their mutual follows are mostly friends, which the share rule needs; a single mutual
    positive is never enough.
    """
    pairs = mutual_follows(follows_df.where(created_by(as_of)))
    seeds = positives_df.select("account_id")
    found = None
    for _ in range(hops):
        new = (
            mutual_flagged_counts(pairs, seeds)
            .where(
                (F.col("mutual_flagged") >= min_positives)
                & (F.col("mutual_flagged") >= F.lit(min_share) * F.col("mutual"))
            )
            .select("account_id")
            .join(seeds, "account_id", how="left_anti")
        )
        found = new if found is None else found.unionByName(new)
        seeds = seeds.unionByName(new)
    return found.select("account_id")


def _sample_key(seed: int, salt: str) -> F.Column:
    """A deterministic uniform draw per account: reruns sample the same accounts."""
    return uniform(seed, salt, F.col("account_id"))


def build_labels(
    accounts_df: DataFrame,
    positives_df: DataFrame,
    cleared_df: DataFrame,
    expanded_df: DataFrame,
    as_of: dt.date,
    cfg: LabelsConfig,
    reviewed_df: DataFrame | None = None,
) -> DataFrame:
    """One row per labelled account; `accounts_df` has account_id and verified;
    `reviewed_df` (account_id, label): human verdicts that win over every other source."""
    positives = positives_df.select(
        "account_id",
        F.lit(1).alias("label"),
        F.lit("ops").alias("label_source"),
        F.lit(1.0).alias("weight"),
        F.lit(1.0).alias("sample_rate"),
    )
    expanded = (
        expanded_df.join(accounts_df.where(~F.col("verified")), "account_id", how="inner")
        .join(cleared_df, "account_id", how="left_anti")
        .select(
            "account_id",
            F.lit(1).alias("label"),
            F.lit("expanded").alias("label_source"),
            F.lit(cfg.expansion_weight).alias("weight"),
            F.lit(1.0).alias("sample_rate"),
        )
    )
    taken = positives.select("account_id").unionByName(expanded.select("account_id"))
    unlabelled = accounts_df.join(taken, "account_id", how="left_anti").join(
        cleared_df, "account_id", how="left_anti"
    )
    random_negatives = unlabelled.where(
        ~F.col("verified") & (_sample_key(cfg.seed, "negative") < cfg.random_negative_rate)
    )
    # Verified negatives are capped at a share of all negatives: n_v <= share * (n_v + n_r),
    # so n_v <= share / (1 - share) * n_r; the cap becomes a sampling rate over verified.
    n_random = random_negatives.count()
    verified = unlabelled.where(F.col("verified"))
    n_verified = verified.count()
    share = cfg.verified_negative_max_share
    cap = int(share / (1 - share) * n_random) if share < 1 else n_verified
    rate = min(1.0, cap / n_verified) if n_verified else 0.0
    verified_negatives = verified.where(_sample_key(cfg.seed, "verified") < rate)
    negatives = random_negatives.select(
        "account_id",
        F.lit(0).alias("label"),
        F.lit("random").alias("label_source"),
        F.lit(1.0).alias("weight"),
        F.lit(float(cfg.random_negative_rate)).alias("sample_rate"),
    ).unionByName(
        verified_negatives.select(
            "account_id",
            F.lit(0).alias("label"),
            F.lit("verified").alias("label_source"),
            F.lit(1.0).alias("weight"),
            F.lit(float(rate)).alias("sample_rate"),
        )
    )
    # Cleared accounts were locked for spam by ops and released on appeal: humans and
    # automation that looked like bots, the hardest confirmed negatives. All of them are
    # labelled (sample rate 1).
    cleared = (
        cleared_df.join(accounts_df.select("account_id"), "account_id", how="inner")
        .join(positives.select("account_id"), "account_id", how="left_anti")
        .select(
            "account_id",
            F.lit(0).alias("label"),
            F.lit("cleared").alias("label_source"),
            F.lit(1.0).alias("weight"),
            F.lit(1.0).alias("sample_rate"),
        )
    )
    labelled = positives.unionByName(expanded).unionByName(negatives).unionByName(cleared)
    if reviewed_df is not None:
        known = reviewed_df.join(accounts_df.select("account_id"), "account_id", how="inner")
        labelled = with_reviews(labelled, known, cfg.reviewed_weight)
    return labelled.select(
        "account_id",
        F.lit(as_of).alias("as_of_date"),
        F.col("label").cast("int"),
        "label_source",
        F.col("weight").cast("double"),
        F.col("sample_rate").cast("double"),
    )


def run_labels(spark: SparkSession, cfg: Config) -> LabelsResult:
    """Write `labels` for the run date (replacing that date); the features gate is checked
    before this runs (`pipeline.run_stage`)."""
    as_of = cfg.run_date()
    lcfg = cfg.labels
    horizon_end = as_of + dt.timedelta(days=lcfg.horizon_days)
    ops_df = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    latest = ops_df.agg(F.max("action_at")).first()[0]
    if latest is None or latest.date() < horizon_end:
        log.warning(
            "labels %s: ops actions run to %s, before the horizon end %s: recent bots are "
            "not labelled yet (choose an as-of date at least labels.horizon_days old)",
            as_of,
            latest,
            horizon_end,
        )
    accounts_df = (
        read_table(spark, RAW_ACCOUNTS.ref(cfg.storage))
        .where(created_by(as_of))
        .select("account_id", F.coalesce(F.col("verified"), F.lit(False)).alias("verified"))
    )
    positives, cleared = ops_positives(ops_df, as_of, lcfg.horizon_days)
    positives = positives.join(accounts_df.select("account_id"), "account_id", how="inner")
    window = max(cfg.features.windows)
    daily_df = read_table(spark, FEATURES_DAILY.ref(cfg.storage)).where(
        F.col("event_date").between(as_of - dt.timedelta(days=window - 1), as_of)
    )
    # The expansion reads the window's IPs and devices; the negatives' counts and the write
    # all use it: compute it once (account ids only, small).
    expanded = expanded_positives(
        daily_df,
        positives,
        as_of,
        window,
        cfg.features.hot_ip_accounts,
        cfg.features.hot_device_accounts,
    )
    if lcfg.follow_ring_min_positives > 0:
        follows_df = read_table(spark, RAW_FOLLOWS.ref(cfg.storage))
        ring = follow_ring_positives(
            follows_df,
            positives,
            as_of,
            lcfg.follow_ring_min_positives,
            lcfg.follow_ring_min_share,
            lcfg.follow_ring_hops,
        )
        expanded = expanded.unionByName(ring).distinct()
    expanded = expanded.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        reviewed = reviewed_verdicts(ops_df, as_of, lcfg.horizon_days)
        labels_df = build_labels(accounts_df, positives, cleared, expanded, as_of, lcfg, reviewed)
        written = write_date_partition(labels_df, LABELS.ref(cfg.storage), "as_of_date", as_of)
    finally:
        expanded.unpersist()
    counts = {
        r["label_source"]: r["count"] for r in written.groupBy("label_source").count().collect()
    }
    return LabelsResult(as_of, counts, horizon_end)
