"""`botdetect validate --stage raw|features`: the data-quality gate.

Runs the suites, writes every result to `quality.quality_results` (replacing this stage
and date), writes an HTML report, and fails on any critical expectation. The stages that
declare a gate (`pipeline.py`) run only after `require_gate` (called by
`pipeline.run_stage`) finds it passed for their date, unless forced.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect import render
from botdetect.config import Config
from botdetect.contract import SOURCE_TABLES
from botdetect.dates import created_by, utc_now
from botdetect.io.rows import rows_frame
from botdetect.io.tables import read_table, table_exists, write_table
from botdetect.quality.checks import orphan_fraction, volume_change
from botdetect.quality.gx import CheckResult, run_checks
from botdetect.quality.suites import apply_overrides, features_suite, raw_suite
from botdetect.table_catalog import ACCOUNT_FEATURES, QUALITY_RESULTS, RAW, RAW_ACCOUNTS, schema_of

log = logging.getLogger(__name__)

STAGES = ("raw", "features")
REFERENCING_TABLES = ("tweets", "interactions", "logins")


class QualityGateError(RuntimeError):
    """A critical expectation failed: the stage's data must not be used."""


def _results_ref(cfg: Config):
    return QUALITY_RESULTS.ref(cfg.storage)


def previous_row_count(
    spark: SparkSession, cfg: Config, stage: str, table: str, as_of: dt.date
) -> int | None:
    """The row count the last validation before `as_of` recorded for this table."""
    ref = _results_ref(cfg)
    if not table_exists(spark, ref):
        return None
    row = (
        read_table(spark, ref)
        .where(
            (F.col("stage") == stage)
            & (F.col("table_name") == table)
            & (F.col("expectation") == "ExpectRowCountWithinBandOfPreviousRun")
            & (F.col("as_of_date") < F.lit(as_of))
        )
        .orderBy(F.col("as_of_date").desc())
        .select("observed")
        .first()
    )
    return int(row["observed"]) if row else None


def _validate_table(
    spark: SparkSession, cfg: Config, stage: str, name: str, df: DataFrame, checks: list
) -> list[CheckResult]:
    checks = apply_overrides(checks, name, cfg.quality.severity_overrides)
    results = run_checks(df, name, checks)
    rows = df.count()
    previous = previous_row_count(spark, cfg, stage, name, cfg.run_date())
    results.append(volume_change(name, rows, previous, cfg.quality.volume_band))
    return results


def validate_raw(spark: SparkSession, cfg: Config, as_of: dt.date) -> list[CheckResult]:
    """Each raw table (event tables: the as-of partition), plus referential checks."""
    results: list[CheckResult] = []
    accounts_df = read_table(spark, RAW_ACCOUNTS.ref(cfg.storage))
    for name, table in SOURCE_TABLES.items():
        df = read_table(spark, RAW[name].ref(cfg.storage))
        if table.is_event_table:
            df = df.where(F.col("event_date") == F.lit(as_of))
        df = df.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            results += _validate_table(spark, cfg, "raw", name, df, raw_suite(table, cfg, as_of))
            if name in REFERENCING_TABLES:
                results.append(
                    orphan_fraction(df, accounts_df, name, cfg.quality.max_orphan_fraction)
                )
        finally:
            df.unpersist()
    return results


def validate_features(spark: SparkSession, cfg: Config, as_of: dt.date) -> list[CheckResult]:
    """`account_features` for the date: one row per visible account, sane values."""
    features_df = (
        read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
        .where(F.col("as_of_date") == F.lit(as_of))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    accounts = read_table(spark, RAW_ACCOUNTS.ref(cfg.storage)).where(created_by(as_of)).count()
    try:
        return _validate_table(
            spark, cfg, "features", "account_features", features_df, features_suite(cfg, accounts)
        )
    finally:
        features_df.unpersist()


def write_results(
    spark: SparkSession, cfg: Config, stage: str, as_of: dt.date, results: list[CheckResult]
) -> None:
    checked_at = utc_now()
    rows = [
        (
            stage,
            as_of,
            checked_at,
            r.table,
            r.expectation,
            r.column,
            r.severity,
            r.success,
            r.observed,
            r.unexpected_count,
            None if r.unexpected_percent is None else float(r.unexpected_percent),
            r.details,
        )
        for r in results
    ]
    write_table(
        rows_frame(spark, rows, schema_of(QUALITY_RESULTS)),
        _results_ref(cfg),
        replace_where=f"stage = '{stage}' AND as_of_date = '{as_of.isoformat()}'",
        partition_by=QUALITY_RESULTS.partition_by,
    )


def render_report(stage: str, as_of: dt.date, results: list[CheckResult]) -> str:
    """A self-contained HTML page: a summary and one row per expectation, failures first."""
    failed = [r for r in results if not r.success]
    critical = [r for r in failed if r.severity == "critical"]
    status = "FAILED" if critical else "PASSED"
    ordered = sorted(results, key=lambda r: (r.success, r.severity != "critical", r.table))
    rows = [
        [
            r.table,
            r.column,
            r.expectation,
            r.severity,
            "pass" if r.success else "FAIL",
            r.observed or "",
            "" if r.unexpected_count is None else r.unexpected_count,
            r.details or "",
        ]
        for r in ordered
    ]
    headers = ["table", "column", "expectation", "severity", "result", "observed"]
    summary = (
        f"{len(results)} expectations, {len(failed)} failed ({len(critical)} critical, "
        f"{len(failed) - len(critical)} warnings)."
    )
    return render.page(
        f"Data quality: {stage} for {as_of}: {status}",
        {
            "summary": ("Summary", f"<p>{html.escape(summary)}</p>"),
            "expectations": (
                "Expectations",
                render.table(
                    [*headers, "unexpected", "details"],
                    rows,
                    ["ok" if r.success else r.severity for r in ordered],
                ),
            ),
        },
    )


def critical_failures(results: list[CheckResult]) -> list[CheckResult]:
    """The failed critical checks, table-level ones (row counts) first: an empty table
    fails every column check too, and its row count is the one that explains them."""
    return sorted((r for r in results if r.is_critical_failure), key=lambda r: r.column != "")


def run_validate(spark: SparkSession, cfg: Config, stage: str) -> tuple[list[CheckResult], Path]:
    """Validate one stage for the run date; raise QualityGateError on critical failures."""
    if stage not in STAGES:
        raise ValueError(f"validate: unknown stage {stage!r}; expected one of {STAGES}")
    as_of = cfg.run_date()
    results = (validate_raw if stage == "raw" else validate_features)(spark, cfg, as_of)
    write_results(spark, cfg, stage, as_of, results)
    report = Path(cfg.storage.reports_root) / "quality" / f"{stage}_{as_of.isoformat()}.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(stage, as_of, results))
    for r in results:
        if not r.success and r.severity != "critical":
            log.warning("quality warning: %s", r.message())
    critical = critical_failures(results)
    if critical:
        lines = "\n  ".join(r.message() for r in critical[:20])
        raise QualityGateError(
            f"validate {stage} {as_of}: {len(critical)} critical expectation(s) failed "
            f"(report: {report}):\n  {lines}"
        )
    return results, report


def require_gate(
    spark: SparkSession, cfg: Config, stage: str, as_of: dt.date, *, force: bool, consumer: str
) -> None:
    """Refuse to use a stage's data for a date whose gate failed, unless forced."""
    ref = _results_ref(cfg)
    if not table_exists(spark, ref):
        log.warning("%s: %s data for %s was never validated", consumer, stage, as_of)
        return
    failures = (
        read_table(spark, ref)
        .where(
            (F.col("stage") == stage)
            & (F.col("as_of_date") == F.lit(as_of))
            & ~F.col("success")
            & (F.col("severity") == "critical")
        )
        .select("table_name", "column_name", "expectation")
        .limit(5)
        .collect()
    )
    if not failures:
        return
    examples = "; ".join(
        f"{r['table_name']}.{r['column_name']} {r['expectation']}" for r in failures
    )
    if force:
        log.warning(
            "%s: --force: using %s data for %s despite its failed gate (%s)",
            consumer,
            stage,
            as_of,
            examples,
        )
        return
    raise QualityGateError(
        f"{consumer}: the {stage} quality gate failed for {as_of} ({examples}); "
        "fix the data and rerun validate, or pass --force"
    )
