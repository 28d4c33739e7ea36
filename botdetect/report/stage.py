"""`botdetect report --as-of-date D`: shadow metrics, drift, cadence and the run report.

The stage that wires the report: it reads `scores` (written by `botdetect score`), raw
tweets and ops actions of the shadow period, the audit requests, the review queue, the
quality results and the model's training-date features as the drift reference, hands
their DataFrames to `report/findings.py`, writes the date's rows of the `monitoring`
table and the page of `report/page.py` (also logged to MLflow). Alerts are printed; with
`monitoring.fail_on_alert` they also make the command exit non-zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.io.rows import rows_frame
from botdetect.io.tables import (
    TableNotFoundError,
    TableRef,
    read_table,
    table_exists,
    write_date_partition,
)
from botdetect.labels import ops_positives
from botdetect.model import registry
from botdetect.model.scoring import score as model_score
from botdetect.report import findings as fnd
from botdetect.report import shadow
from botdetect.report.page import ModelView, run_page
from botdetect.score.decisions import decide
from botdetect.table_catalog import (
    ACCOUNT_FEATURES,
    AUDIT_REQUESTS,
    GROUND_TRUTH,
    MONITORING,
    QUALITY_RESULTS,
    RAW_OPS_ACTIONS,
    RAW_TWEETS,
    REVIEW_QUEUE,
    SCORES,
    schema_of,
)

log = logging.getLogger(__name__)


class DriftAlertError(RuntimeError):
    """Drift passed an alert threshold and monitoring.fail_on_alert is set."""


@dataclasses.dataclass(frozen=True)
class ReportResult:
    as_of_date: dt.date
    metrics: dict[str, float]
    promote: bool
    promotion_reason: str
    alerts: list[str]
    cadence_hours: int
    report_path: str
    spam_source: str


def run_report(spark: SparkSession, cfg: Config) -> ReportResult:
    import mlflow

    as_of = cfg.run_date()
    rcfg = cfg.report
    scores_ref = SCORES.ref(cfg.storage)
    scores_all = read_table(spark, scores_ref)
    today = scores_all.where(F.col("as_of_date") == F.lit(as_of))
    served = today.select("model_name", "model_version").limit(1).collect()
    if not served:
        raise TableNotFoundError(
            f"table {scores_ref.label} has no rows for as_of_date {as_of}; run "
            f"`botdetect score --as-of-date {as_of}` first"
        )
    registry.setup_mlflow(cfg)
    model = registry.find_model(cfg, version=served[0]["model_version"])
    truth = _optional(spark, GROUND_TRUTH.ref(cfg.storage))
    ops_df = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    spam_accounts, spam_source = _spam_accounts(ops_df, as_of, truth)
    spam_accounts = spam_accounts.persist()
    first_day = as_of - dt.timedelta(days=rcfg.period_days - 1)
    tweets = (
        read_table(spark, RAW_TWEETS.ref(cfg.storage))
        .where(F.col("event_date").between(F.lit(first_day), F.lit(as_of)))
        .select("account_id", "created_at")
    )
    flags = shadow.first_flags(scores_all, as_of, rcfg.period_days, rcfg.decisions).persist()
    acted = shadow.first_flags(scores_all, as_of, rcfg.period_days, ["block", "rate_limit"])
    queue = _optional(spark, REVIEW_QUEUE.ref(cfg.storage))
    metrics = fnd.shadow_metrics(tweets, flags, acted, spam_accounts, ops_df, queue, as_of, rcfg)
    audits = _audits(spark, cfg, as_of, scores_all, tweets, flags, ops_df, truth)
    metrics |= audits.metrics() | fnd.rate_limit_metrics(today)
    cadence = fnd.cadence(tweets, flags, rcfg)
    metrics |= fnd.cadence_metrics(cadence)
    spam_accounts.unpersist()
    flags.unpersist()
    promote, why = shadow.promotion(
        audits.reduction,
        audits.bands.get("block"),
        rcfg.min_spam_reduction,
        cfg.train.block_precision,
    )
    quality = _optional(spark, QUALITY_RESULTS.ref(cfg.storage))
    found = fnd.Findings(
        as_of=as_of,
        metrics=metrics,
        promote=promote,
        why=why,
        cadence=cadence,
        spam_source=spam_source,
        drift=_drift(spark, cfg, model, as_of, today),
        audits=audits,
        decisions=fnd.decision_counts(today, truth),
        histogram=fnd.histogram(today),
        queue=None if queue is None else fnd.queue_top(queue, as_of),
        quality=None if quality is None else fnd.quality_rows(quality, as_of),
    )
    alerts = fnd.alerts(found, cfg.monitoring)
    write_date_partition(
        rows_frame(
            spark, fnd.monitoring_rows(found, model.version, cfg.monitoring), schema_of(MONITORING)
        ),
        MONITORING.ref(cfg.storage),
        "as_of_date",
        as_of,
    )
    path = _write_page(cfg, found, model)
    with mlflow.start_run(run_name=f"report-{as_of}"):
        mlflow.set_tags(
            {"stage": "report", "as_of_date": as_of.isoformat(), "model_version": model.version}
        )
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(path), artifact_path="report")
    for line in alerts:
        log.warning("ALERT %s", line)
    result = ReportResult(
        as_of, metrics, promote, why, alerts, cadence.hours, str(path), spam_source
    )
    if alerts and cfg.monitoring.fail_on_alert:
        raise DriftAlertError("; ".join(alerts))
    return result


def _optional(spark: SparkSession, ref: TableRef) -> DataFrame | None:
    """The table, or None where it does not exist yet (a first run, a real platform)."""
    return read_table(spark, ref) if table_exists(spark, ref) else None


def _audits(
    spark: SparkSession,
    cfg: Config,
    as_of: dt.date,
    scores_all: DataFrame,
    tweets: DataFrame,
    flags: DataFrame,
    ops_df: DataFrame,
    truth: DataFrame | None,
) -> fnd.AuditFindings:
    """The shadow period's audit estimates (report/findings.py), from its requests."""
    requests_all = _optional(spark, AUDIT_REQUESTS.ref(cfg.storage))
    if requests_all is None:
        return fnd.NO_AUDITS
    requests, verdicts = fnd.period_audits(requests_all, ops_df, as_of, cfg.report)
    requests, verdicts = requests.persist(), verdicts.persist()
    try:
        return fnd.audit_findings(requests, verdicts, scores_all, tweets, flags, truth, cfg.report)
    finally:
        requests.unpersist()
        verdicts.unpersist()


def _spam_accounts(
    ops_df: DataFrame, as_of: dt.date, truth: DataFrame | None
) -> tuple[DataFrame, str]:
    """The spam accounts the shadow metrics count, and what they are: a synthetic world's
    truth, else the accounts ops confirmed by D."""
    if truth is not None:
        return truth.where(F.col("is_spam_bot")).select("account_id"), (
            "ground truth (synthetic world)"
        )
    positives, _ = ops_positives(ops_df, as_of, 0)
    return positives, "ops-confirmed spam accounts (a lower bound: unlabelled bots are missed)"


def _drift(
    spark: SparkSession, cfg: Config, model: registry.ServedModel, as_of: dt.date, today: DataFrame
) -> fnd.DriftFindings:
    """Drift against the served model's training date. The reference scores are that
    date's features scored by the served model, not the scores stored then: those were
    made by whichever model served that day (with the label lag, an older champion), and
    comparing them with today's would mix two models' scales."""
    import mlflow

    reference_text = model.tags.get(registry.TAG_AS_OF)
    if not reference_text:
        log.warning("report: model v%s has no training date; drift skipped", model.version)
        return fnd.NO_DRIFT_REFERENCE
    reference_date = dt.date.fromisoformat(reference_text)
    features = read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
    reference = features.where(F.col("as_of_date") == F.lit(reference_date))
    if reference.limit(1).count() == 0:
        log.warning(
            "report: no account_features for the training date %s; drift skipped", reference_date
        )
        return dataclasses.replace(fnd.NO_DRIFT_REFERENCE, reference_date=reference_date)
    scored = model_score(mlflow.spark.load_model(model.uri), reference, ["account_id"])
    decision = decide(
        F.col("score"),
        model.block_threshold,
        model.review_threshold,
        cfg.score.rate_limit_threshold,
    )
    return fnd.drift_findings(
        reference,
        features.where(F.col("as_of_date") == F.lit(as_of)),
        scored.withColumn("flagged", decision != "allow"),
        today,
        model.feature_columns,
        reference_date,
        cfg.monitoring,
    )


def _artifact_json(run_id: str, path: str) -> list:
    """A JSON artifact train logged, or [] (an old or foreign model version: the page's
    section says it has nothing to show)."""
    import mlflow

    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)
    except Exception as exc:
        log.warning("report: cannot read %s of run %s: %s", path, run_id, exc)
        return []
    return json.loads(Path(local).read_text()) or []


def _write_page(cfg: Config, found: fnd.Findings, model: registry.ServedModel) -> Path:
    view = ModelView(
        name=model.name,
        version=model.version,
        thresholds={"block": model.block_threshold, "review": model.review_threshold},
        training_date=model.tags.get(registry.TAG_AS_OF),
        pr_curve=_artifact_json(model.run_id, "evaluation/test_pr_curve.json"),
        importances=_artifact_json(model.run_id, "evaluation/feature_importances.json"),
    )
    folder = Path(cfg.storage.reports_root) / "run"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run_report_{found.as_of.isoformat()}.html"
    path.write_text(run_page(found, view, cfg))
    return path
