"""`botdetect score --as-of-date D`: a decision for every account, with the model behind it.

Loads the version behind `score.alias` (or the pinned `score.version`), checks that
`account_features` for D has every column the model was trained on, scores every
account and replaces the `scores` partition of D, with D's review queue and D's audit
sample (`scores.audit_requests`, score/audit_sample.py). Nothing is written when the model or
a column is missing. In `shadow` mode decisions are recorded; in `action` mode the same
decisions are marked enforced, and nothing else changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.io.tables import read_table, write_date_partition
from botdetect.model import registry
from botdetect.model.explain import Explainer, explained_cuts, explainer_for, reason_codes
from botdetect.model.scoring import score as model_score
from botdetect.score.audit_sample import audit_sample
from botdetect.score.decisions import (
    DECISIONS,
    decide,
    hourly_peaks,
    max_tweets_per_hour,
    over_cap_aggs,
    rate_cap,
    review_queue,
)
from botdetect.table_catalog import (
    ACCOUNT_FEATURES,
    AUDIT_REQUESTS,
    FEATURES_DAILY,
    REVIEW_QUEUE,
    SCORES,
    schema_of,
)

log = logging.getLogger(__name__)


REACH_COLUMNS = ("followers", "distinct_recipients_7d")  # for the review queue


class FeatureSchemaError(ValueError):
    """`account_features` does not have what the model was trained on."""


@dataclasses.dataclass(frozen=True)
class ScoreResult:
    as_of_date: dt.date
    model_name: str
    model_version: str
    mode: str
    accounts: int
    decisions: dict[str, int]
    tweets_per_hour_cap: int
    allowed_over_cap: float  # share of allowed accounts whose peak exceeded the cap
    flagged_over_cap: float  # share of rate-limited/reviewed accounts it would have slowed
    audit_requests: int = 0  # accounts drawn for ops's random audit (scores.audit_requests)
    note: str = ""  # how the model was chosen when it is not the configured one


def check_features(features_df: DataFrame, model: registry.ServedModel, table: str) -> None:
    """Fail, naming the columns, if the table lacks a model feature or has it non-numeric."""
    if not model.feature_columns:
        raise FeatureSchemaError(
            f"model {model.name} v{model.version} has no {registry.TAG_FEATURES} tag; "
            "it was not registered by `botdetect train`"
        )
    types = dict(features_df.dtypes)
    missing = [c for c in model.feature_columns if c not in types]
    if missing:
        raise FeatureSchemaError(
            f"table {table} lacks {len(missing)} column(s) model {model.name} v{model.version} "
            f"was trained on: {', '.join(missing[:10])}; rerun features or pin another "
            "score.version"
        )
    numeric = ("int", "bigint", "double", "float", "smallint", "tinyint", "boolean")
    wrong = [c for c in model.feature_columns if not types[c].startswith(numeric)]
    if wrong:
        raise FeatureSchemaError(
            f"table {table}: column(s) {', '.join(wrong[:10])} are not numeric "
            f"({', '.join(types[c] for c in wrong[:10])}); model {model.name} "
            f"v{model.version} needs numbers"
        )


def score_accounts(
    features_df: DataFrame,
    model_pipeline: object,
    model: registry.ServedModel,
    explainer: Explainer,
    cfg: Config,
    peaks_df: DataFrame,
) -> DataFrame:
    """Scores, decisions and reasons for every row of `features_df` (one as-of date);
    `max_tweets_per_hour` is added once the cap is known (it depends on the decisions)."""
    scfg = cfg.score
    reach = [c for c in REACH_COLUMNS if c not in model.feature_columns]
    keep = ["account_id", "as_of_date", "cluster_id", *model.feature_columns, *reach]
    scored = model_score(model_pipeline, features_df, keep).join(peaks_df, "account_id", how="left")
    decision = decide(
        F.col("score"), model.block_threshold, model.review_threshold, scfg.rate_limit_threshold
    )
    why = reason_codes(explainer, explained_cuts(features_df, explainer), scfg.reasons)
    with_decision = scored.withColumn("decision", decision)
    return with_decision.select(
        *REACH_COLUMNS,
        F.col("account_id").cast("long"),
        F.col("as_of_date"),
        F.col("score").cast("double"),
        F.col("decision"),
        F.when(F.col("decision") != "allow", why)
        .otherwise(F.array().cast("array<string>"))
        .alias("reasons"),
        F.lit(model.name).alias("model_name"),
        F.lit(model.version).alias("model_version"),
        F.lit(scfg.mode).alias("mode"),
        F.lit("enforced" if scfg.mode == "action" else "recorded").alias("status"),
        F.col("cluster_id").cast("long"),
        F.coalesce(F.col("peak_tweets_per_hour"), F.lit(0))
        .cast("int")
        .alias("peak_tweets_per_hour"),
    )


def run_score(spark: SparkSession, cfg: Config) -> ScoreResult:
    import mlflow

    as_of = cfg.run_date()
    scfg = cfg.score
    registry.setup_mlflow(cfg)
    model, note = registry.served_model(cfg)
    features_ref = ACCOUNT_FEATURES.ref(cfg.storage)
    features_df = read_table(spark, features_ref).where(F.col("as_of_date") == F.lit(as_of))
    check_features(features_df, model, features_ref.label)
    absent = [c for c in REACH_COLUMNS if c not in features_df.columns]
    if absent:
        raise FeatureSchemaError(
            f"table {features_ref.label} lacks {', '.join(absent)}, which the review queue "
            "ranks by; rerun `botdetect features`"
        )
    if features_df.limit(1).count() == 0:
        raise FeatureSchemaError(
            f"table {features_ref.label} has no rows for as_of_date {as_of}; run "
            f"`botdetect features --as-of-date {as_of}` first"
        )
    pipeline = mlflow.spark.load_model(model.uri)
    # Percentiles are computed for the strongest candidates only: one pass, bounded width.
    explainer = explainer_for(pipeline, model.feature_columns, model.feature_directions)
    explainer = explainer.strongest(scfg.reason_features)
    daily_df = read_table(spark, FEATURES_DAILY.ref(cfg.storage))
    peaks = hourly_peaks(daily_df, as_of, scfg.rate_window_days)
    features_df = features_df.persist()
    try:
        draft = score_accounts(features_df, pipeline, model, explainer, cfg, peaks)
        draft = draft.persist()
        allowed = draft.where(F.col("decision") == "allow")
        cap = rate_cap(allowed, scfg.rate_percentile, scfg.min_tweets_per_hour)
        final = draft.withColumn(
            "max_tweets_per_hour", max_tweets_per_hour(F.col("decision"), cap)
        ).select(*schema_of(SCORES).fieldNames())
        written = write_date_partition(
            final,
            SCORES.ref(cfg.storage),
            "as_of_date",
            as_of,
            cluster_by=SCORES.cluster_by,
        )
        queue = review_queue(draft, scfg.queue_members)
        write_date_partition(queue, REVIEW_QUEUE.ref(cfg.storage), "as_of_date", as_of)
        draft.unpersist()
    finally:
        features_df.unpersist()
    stats = written.agg(
        F.count("*").alias("n"),
        *[F.sum((F.col("decision") == d).cast("int")).alias(d) for d in DECISIONS],
        *over_cap_aggs(cap),
    ).first()
    decisions = {d: stats[d] or 0 for d in DECISIONS}
    audit = write_date_partition(
        audit_sample(written, decisions, scfg.audit_sample, as_of),
        AUDIT_REQUESTS.ref(cfg.storage),
        "as_of_date",
        as_of,
    )
    result = ScoreResult(
        as_of_date=as_of,
        model_name=model.name,
        model_version=model.version,
        mode=scfg.mode,
        accounts=stats["n"],
        decisions=decisions,
        tweets_per_hour_cap=cap,
        allowed_over_cap=stats["allowed_over"] or 0.0,
        flagged_over_cap=stats["limited_over"] or 0.0,
        audit_requests=audit.count(),
        note=note,
    )
    log.info("score %s: %s", as_of, result)
    return result
