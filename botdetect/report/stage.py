"""`botdetect report --as-of-date D`: shadow metrics, drift, cadence and the run report.

Reads `scores` (written by `botdetect score`), raw tweets and ops actions of the shadow
period, the model's training-date features as the drift reference, and the model's
logged evaluation. Writes the date's rows of the `monitoring` table and one HTML run
report (also logged to MLflow). Alerts are printed; with `monitoring.fail_on_alert`
they also make the command exit non-zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect import render as H
from botdetect.config import Config, MonitoringConfig
from botdetect.dates import end_of_day
from botdetect.io.tables import (
    TableNotFoundError,
    read_table,
    table_exists,
    write_date_partition,
)
from botdetect.labels import ops_positives
from botdetect.model import registry
from botdetect.model.scoring import score as model_score
from botdetect.report import shadow
from botdetect.report.audit_findings import (
    audit_verdicts,
    band_strata,
    truth_shares,
    tweet_strata,
)
from botdetect.report.audited import (
    Estimate,
    for_reviewer_error,
    spam_tweets,
    stratified_share,
)
from botdetect.report.drift import Drift, drift
from botdetect.score.decisions import DECISIONS, LIMITED, decide, over_cap_aggs
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

HIST_BINS = 20
# The run report's sections, in page order.
SECTIONS = (
    "quality",
    "pr-curve",
    "score-histogram",
    "feature-importance",
    "review-queue",
    "audits",
    "shadow",
    "drift",
    "cadence",
)


class DriftAlertError(RuntimeError):
    """Drift passed an alert threshold and monitoring.fail_on_alert is set."""


@dataclasses.dataclass(frozen=True)
class DriftRow:
    name: str
    psi: float
    tail_ratio: float
    tail_share: float
    status: str


@dataclasses.dataclass(frozen=True)
class AuditFindings:
    """What ops's random audits of the shadow period say (estimates), with the truth of
    synthetic worlds beside them (`truth`: empty elsewhere; shown, never decided on)."""

    bands: dict[str, Estimate | None]  # spam share per decision band; allow: prevalence
    requested: dict[str, int]  # audit requests per band in the period
    truth: dict[str, float]
    spam_observed: Estimate | None = None  # the audited spam fraction of tweets...
    spam_if_blocked: Estimate | None = None  # ...and had flagged accounts been blocked
    tweets_date: dt.date | None = None  # the scoring date whose bands split the tweets

    @property
    def reduction(self) -> float | None:
        if self.spam_observed is None or self.spam_if_blocked is None:
            return None
        if self.spam_observed.value <= 0:
            return None
        return (self.spam_observed.value - self.spam_if_blocked.value) / self.spam_observed.value

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for band, est in self.bands.items():
            name = "audited_prevalence_allow" if band == "allow" else f"audited_precision_{band}"
            out[f"audit_requests_{band}"] = float(self.requested.get(band, 0))
            if est is not None:
                out |= {
                    name: est.value,
                    f"{name}_lo": est.lo,
                    f"{name}_hi": est.hi,
                    f"audits_{band}": float(est.audited),
                }
            if band in self.truth:
                out[name.replace("audited_", "truth_")] = self.truth[band]
        for key, est in (("observed", self.spam_observed), ("if_blocked", self.spam_if_blocked)):
            if est is not None:
                out |= {
                    f"audited_{key}_spam_fraction": est.value,
                    f"audited_{key}_spam_fraction_lo": est.lo,
                    f"audited_{key}_spam_fraction_hi": est.hi,
                }
        if self.reduction is not None:
            out["audited_spam_reduction"] = self.reduction
        return out


@dataclasses.dataclass(frozen=True)
class Findings:
    """Everything the report computed for one date."""

    metrics: dict[str, float]
    promote: bool
    why: str
    cadence_hours: int
    cadence_why: str
    cadence_leaks: dict[int, float]
    spam_source: str
    psi_rows: list[DriftRow]
    flag_ratio: float | None
    ratio_status: str
    reference_date: dt.date | None
    audits: AuditFindings = dataclasses.field(default_factory=lambda: AuditFindings({}, {}, {}))


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


def drift_status(d: Drift, m: MonitoringConfig) -> str:
    """alert: PSI above psi_alert, or a tail that grew tail_ratio_alert times (and holds at
    least tail_min_share of accounts); warn: PSI above psi_warn."""
    if d.psi > m.psi_alert or (
        d.tail_ratio > m.tail_ratio_alert and d.tail_share >= m.tail_min_share
    ):
        return "alert"
    return "warn" if d.psi > m.psi_warn else "ok"


def drift_rows(values: dict[str, Drift], m: MonitoringConfig) -> list[DriftRow]:
    """One row per column, alerts first, then by PSI."""
    rows = [
        DriftRow(name, d.psi, d.tail_ratio, d.tail_share, drift_status(d, m))
        for name, d in values.items()
    ]
    order = {"alert": 0, "warn": 1, "ok": 2}
    return sorted(rows, key=lambda r: (order[r.status], -r.psi))


def flagged_rate_status(
    current: float, reference: float, band: list[float]
) -> tuple[float | None, str]:
    """Ratio of flagged shares and whether it left the band."""
    if reference <= 0:
        return None, "ok" if current <= 0 else "alert"
    ratio = current / reference
    return ratio, "ok" if band[0] <= ratio <= band[1] else "alert"


def run_report(spark: SparkSession, cfg: Config) -> ReportResult:
    import mlflow

    as_of = cfg.run_date()
    rcfg, mcfg = cfg.report, cfg.monitoring
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

    # Shadow metrics, observed and counterfactual.
    spam_accounts, spam_source = _spam_accounts(spark, cfg, as_of)
    spam_accounts = spam_accounts.persist()
    first_day = as_of - dt.timedelta(days=rcfg.period_days - 1)
    tweets = (
        read_table(spark, RAW_TWEETS.ref(cfg.storage))
        .where(F.col("event_date").between(F.lit(first_day), F.lit(as_of)))
        .select("account_id", "created_at")
    )
    flags = shadow.first_flags(scores_all, as_of, rcfg.period_days, rcfg.decisions).persist()
    observed = shadow.spam_metrics(tweets, spam_accounts)
    blocked = shadow.spam_metrics(
        shadow.counterfactual(tweets, flags, rcfg.latency_hours), spam_accounts
    )
    false_flag, n_flagged = shadow.false_flag_rate(flags, spam_accounts)
    reduction = (
        (observed.spam_fraction - blocked.spam_fraction) / observed.spam_fraction
        if n_flagged and observed.spam_fraction > 0
        else None
    )
    ops_df = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    start = dt.datetime.combine(first_day, dt.time())
    acted = shadow.first_flags(scores_all, as_of, rcfg.period_days, ["block", "rate_limit"])
    saved = shadow.reviews_saved(
        ops_df, acted, start, end_of_day(as_of), rcfg.latency_hours, rcfg.minutes_per_review
    )
    hits = shadow.hit_rates(ops_df, start, end_of_day(as_of))
    audits = _audits(spark, cfg, as_of, scores_all, tweets, flags, ops_df)
    promote, why = shadow.promotion(
        audits.reduction,
        audits.bands.get("block"),
        rcfg.min_spam_reduction,
        cfg.train.block_precision,
    )
    metrics = observed.as_dict("observed") | blocked.as_dict("if_blocked")
    metrics |= audits.metrics()
    metrics |= {
        "spam_fraction_change": blocked.spam_fraction - observed.spam_fraction,
        "flagged_accounts": float(n_flagged),
        "reviews_saved": float(saved.reviews),
        "ops_minutes_saved": saved.minutes,
    }
    for trigger, (n, hit) in hits.items():
        metrics |= {f"reviews_{trigger}": float(n), f"hit_rate_{trigger}": hit}
    queue_ref = REVIEW_QUEUE.ref(cfg.storage)
    queued = (
        shadow.queue_hit_rate(
            read_table(spark, queue_ref),
            ops_df,
            as_of - dt.timedelta(days=rcfg.period_days),
            as_of - dt.timedelta(days=1),
            end_of_day(as_of),
        )
        if table_exists(spark, queue_ref)
        else None
    )
    if queued is not None:
        metrics |= {"reviews_of_queued_accounts": float(queued[0]), "hit_rate_queue": queued[1]}
    if reduction is not None:
        metrics["spam_reduction"] = reduction
    if false_flag is not None:
        metrics["false_block_rate"] = false_flag

    metrics |= rate_limit_metrics(today)

    # Cadence: how much of the flagged accounts' output a slower schedule lets out.
    leaks, _ = shadow.cadence_leaks(tweets, flags, shadow.STANDARD_CADENCES_H, rcfg.latency_hours)
    cadence, cadence_why = shadow.recommended_cadence_hours(leaks, rcfg.cadence_leak_budget)
    metrics |= {f"cadence_leak_{h}h": share for h, share in leaks.items()}
    metrics["recommended_cadence_hours"] = float(cadence)
    spam_accounts.unpersist()
    flags.unpersist()

    # Drift against the training date.
    psi_rows, flag_ratio, reference_date, ratio_status = _drift(spark, cfg, model, as_of, today)
    found = Findings(
        metrics,
        promote,
        why,
        cadence,
        cadence_why,
        leaks,
        spam_source,
        psi_rows,
        flag_ratio,
        ratio_status,
        reference_date,
        audits,
    )
    alerts = [
        f"drift: {r.name} PSI {r.psi:.3f}, tail ratio {r.tail_ratio:.1f} "
        f"(alert: PSI > {mcfg.psi_alert} or tail ratio > {mcfg.tail_ratio_alert})"
        for r in psi_rows
        if r.status == "alert"
    ]
    if ratio_status == "alert":
        alerts.append(
            f"drift: flagged share moved {flag_ratio if flag_ratio is not None else 'from 0'}x "
            f"against the training date, outside {mcfg.flagged_rate_band}"
        )
    write_date_partition(
        spark.createDataFrame(
            monitoring_rows(as_of, model.version, found, cfg), schema_of(MONITORING)
        ),
        MONITORING.ref(cfg.storage),
        "as_of_date",
        as_of,
    )
    path = _write_html(spark, cfg, as_of, model, today, found)
    with mlflow.start_run(run_name=f"report-{as_of}"):
        mlflow.set_tags(
            {"stage": "report", "as_of_date": as_of.isoformat(), "model_version": model.version}
        )
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(path), artifact_path="report")
    for line in alerts:
        log.warning("ALERT %s", line)
    result = ReportResult(as_of, metrics, promote, why, alerts, cadence, str(path), spam_source)
    if alerts and mcfg.fail_on_alert:
        raise DriftAlertError("; ".join(alerts))
    return result


def _audits(
    spark: SparkSession,
    cfg: Config,
    as_of: dt.date,
    scores_all: DataFrame,
    tweets: DataFrame,
    flags: DataFrame,
    ops_df: DataFrame,
) -> AuditFindings:
    """Band precision, prevalence among allowed accounts and the spam fraction both ways,
    from the random audits of the shadow period's scoring dates (report/audited.py)."""
    ref = AUDIT_REQUESTS.ref(cfg.storage)
    if not table_exists(spark, ref):
        return AuditFindings({}, {}, {})
    confidence = cfg.report.audit_confidence
    first = as_of - dt.timedelta(days=cfg.report.period_days)
    last = as_of - dt.timedelta(days=1)
    requests = (
        read_table(spark, ref).where(F.col("as_of_date").between(F.lit(first), F.lit(last)))
    ).persist()
    verdicts = audit_verdicts(requests, ops_df, first, last, as_of).persist()
    try:
        strata = band_strata(requests, verdicts)
        requested = {
            r["decision"]: r["count"] for r in requests.groupBy("decision").count().collect()
        }
        error = cfg.report.reviewer_error_rate
        bands = {
            band: for_reviewer_error(
                stratified_share(rows, confidence, finite_population=error == 0), error
            )
            for band, rows in strata.items()
        }
        answered = verdicts.agg(F.max("as_of_date")).first()[0]
        spam_observed = spam_if_blocked = None
        if answered is not None:
            # The bands of the latest answered scoring date split the period's tweets.
            kept = F.col("flagged_on").isNull() | (
                F.col("created_at")
                < shadow.block_moment(F.col("flagged_on"), cfg.report.latency_hours)
            )
            per_account = (
                tweets.join(flags, "account_id", how="left")
                .groupBy("account_id")
                .agg(F.count("*").alias("tweets"), F.sum(kept.cast("long")).alias("kept"))
            )
            observed, blocked = tweet_strata(
                scores_all.where(F.col("as_of_date") == F.lit(answered)),
                per_account,
                verdicts.where(F.col("as_of_date") == F.lit(answered)),
            )
            exact = error == 0  # reviewer error: verdicts are draws even in a full audit
            spam_observed = for_reviewer_error(
                spam_tweets(observed, confidence, finite_population=exact), error
            )
            spam_if_blocked = for_reviewer_error(
                spam_tweets(blocked, confidence, finite_population=exact), error
            )
        covered = [
            (r["decision"], r["as_of_date"])
            for r in verdicts.select("decision", "as_of_date").distinct().collect()
        ]
        truth_ref = GROUND_TRUTH.ref(cfg.storage)
        truth = (
            truth_shares(scores_all, read_table(spark, truth_ref), covered)
            if table_exists(spark, truth_ref)
            else {}
        )
    finally:
        requests.unpersist()
        verdicts.unpersist()
    return AuditFindings(bands, requested, truth, spam_observed, spam_if_blocked, answered)


def _audit_section(found: AuditFindings, cfg: Config) -> str:
    if not found.requested:
        return "<p>No audit requests in the shadow period yet.</p>"
    level = f"{cfg.report.audit_confidence:.0%}"
    rows = []
    for band in DECISIONS:
        if band not in found.requested:
            continue
        est = found.bands.get(band)
        truth = found.truth.get(band)
        rows.append(
            (
                band,
                "spam prevalence" if band == "allow" else "precision",
                found.requested[band],
                0 if est is None else est.audited,
                None if est is None else est.value,
                "n/a" if est is None else f"[{est.lo:.3f}, {est.hi:.3f}]",
                "n/a" if truth is None else f"{truth:.3f}",
            )
        )
    table = H.table(
        [
            "band",
            "estimate of",
            "audits requested",
            "verdicts",
            "audited spam share",
            f"{level} interval",
            "truth (synthetic world)",
        ],
        rows,
    )
    spam_rows = [
        (name, est.value, f"[{est.lo:.4f}, {est.hi:.4f}]", est.audited)
        for name, est in (
            ("observed", found.spam_observed),
            ("if flagged accounts were blocked", found.spam_if_blocked),
        )
        if est is not None
    ]
    spam_html = (
        f"<p>Spam fraction of the period's tweets, estimated from the audits (bands of "
        f"{found.tweets_date}; each band's tweets times its audited spam share of tweets):</p>"
        + H.table(["", "audited spam fraction", f"{level} interval", "verdicts"], spam_rows)
        if spam_rows
        else "<p>No audit verdicts yet: the spam fraction cannot be estimated.</p>"
    )
    return (
        "<p>Ops reviews a random sample of every band of every scoring run "
        "(<code>scores.audit_requests</code>); the verdicts estimate each band's spam share "
        "over the shadow period's scoring dates, weighted by band size, corrected for a "
        f"reviewer error rate of {cfg.report.reviewer_error_rate:.2%}.</p>" + table + spam_html
    )


def rate_limit_metrics(today: DataFrame) -> dict[str, float]:
    """The day's hourly cap and who would hit it: allowed accounts (should be ~0) and the
    rate-limited or reviewed accounts it is meant to slow down."""
    cap = today.where(F.col("decision").isin(*LIMITED)).agg(F.max("max_tweets_per_hour")).first()[0]
    if cap is None:
        return {}
    row = today.agg(*over_cap_aggs(cap)).first()
    out = {"tweets_per_hour_cap": float(cap)}
    if row["allowed_over"] is not None:
        out["allowed_over_cap_share"] = row["allowed_over"]
    if row["limited_over"] is not None:
        out["limited_over_cap_share"] = row["limited_over"]
    return out


def _queue_section(spark: SparkSession, cfg: Config, as_of: dt.date) -> str:
    ref = REVIEW_QUEUE.ref(cfg.storage)
    if not table_exists(spark, ref):
        return "<p>No review queue yet.</p>"
    top = (
        read_table(spark, ref)
        .where(F.col("as_of_date") == F.lit(as_of))
        .orderBy(F.desc("priority"))
        .limit(10)
        .collect()
    )
    if not top:
        return "<p>Nothing to review: no account is flagged below the block threshold.</p>"
    rows = [
        (
            r["cluster_id"],
            r["accounts"],
            r["priority"],
            r["max_score"],
            "; ".join(r["members"][0]["reasons"] or []),
        )
        for r in top
    ]
    return H.table(
        ["cluster", "accounts", "priority (score x reach)", "max score", "top reasons"], rows
    )


def _decision_table(spark: SparkSession, cfg: Config, today: DataFrame) -> str:
    """Accounts per decision; in synthetic worlds also bots and humans by the generator's
    truth, labelled as such (shown beside the product's numbers, never used by them)."""
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    if not table_exists(spark, truth_ref):
        rows = today.groupBy("decision").count().collect()
        return H.table(["decision", "accounts"], sorted((r[0], r[1]) for r in rows))
    truth = read_table(spark, truth_ref).select("account_id", "is_spam_bot")
    rows = (
        today.join(truth, "account_id", how="left")
        .groupBy("decision")
        .agg(
            F.count("*").alias("accounts"),
            F.sum(F.coalesce(F.col("is_spam_bot"), F.lit(False)).cast("int")).alias("bots"),
        )
        .collect()
    )
    table = sorted(
        (r["decision"], r["accounts"], r["bots"], r["accounts"] - r["bots"]) for r in rows
    )
    return H.table(
        ["decision", "accounts", "bots (truth, synthetic world)", "not bots (truth)"], table
    )


def _spam_accounts(spark: SparkSession, cfg: Config, as_of: dt.date) -> tuple[DataFrame, str]:
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    if table_exists(spark, truth_ref):
        truth = read_table(spark, truth_ref).where(F.col("is_spam_bot")).select("account_id")
        return truth, "ground truth (synthetic world)"
    ops_df = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    positives, _ = ops_positives(ops_df, as_of, 0)
    return positives, "ops-confirmed spam accounts (a lower bound: unlabelled bots are missed)"


def _drift(
    spark: SparkSession, cfg: Config, model: registry.ServedModel, as_of: dt.date, today: DataFrame
) -> tuple[list[tuple[str, float, str]], float | None, dt.date | None, str]:
    import mlflow

    mcfg = cfg.monitoring
    reference_text = model.tags.get(registry.TAG_AS_OF)
    features = read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
    if not reference_text:
        log.warning("report: model v%s has no training date; drift skipped", model.version)
        return [], None, None, "ok"
    reference_date = dt.date.fromisoformat(reference_text)
    reference = features.where(F.col("as_of_date") == F.lit(reference_date))
    current = features.where(F.col("as_of_date") == F.lit(as_of))
    if reference.limit(1).count() == 0:
        log.warning(
            "report: no account_features for the training date %s; drift skipped", reference_date
        )
        return [], None, reference_date, "ok"
    pipeline = mlflow.spark.load_model(model.uri)
    reference_scores = model_score(pipeline, reference, ["account_id"])
    flagged = (
        decide(
            F.col("score"),
            model.block_threshold,
            model.review_threshold,
            cfg.score.rate_limit_threshold,
        )
        != "allow"
    )
    ref_share = reference_scores.agg(F.avg(flagged.cast("double"))).first()[0] or 0.0
    cur_share = today.agg(F.avg((F.col("decision") != "allow").cast("double"))).first()[0] or 0.0
    ratio, ratio_status = flagged_rate_status(cur_share, ref_share, mcfg.flagged_rate_band)
    values = drift(reference, current, model.feature_columns)
    values |= drift(reference_scores, today, ["score"])
    return (
        drift_rows(values, mcfg),
        ratio,
        reference_date,
        ratio_status,
    )


def monitoring_rows(as_of: dt.date, version: str, found: Findings, cfg: Config) -> list[tuple]:
    """The `monitoring` rows of one date: drift per feature and score, shadow metrics."""
    mcfg = cfg.monitoring
    ref = found.reference_date
    rows = []
    for r in found.psi_rows:
        rows.append(
            (as_of, "drift", f"psi:{r.name}", r.psi, mcfg.psi_alert, r.status, None, version, ref)
        )
        rows.append(
            (
                as_of,
                "drift",
                f"tail_ratio:{r.name}",
                r.tail_ratio,
                mcfg.tail_ratio_alert,
                r.status,
                f"share above the training p99.9: {r.tail_share:.5f}",
                version,
                ref,
            )
        )
    band = f"band {mcfg.flagged_rate_band}"
    rows.append(
        (
            as_of,
            "drift",
            "flagged_rate_ratio",
            found.flag_ratio,
            None,
            found.ratio_status,
            band,
            version,
            ref,
        )
    )
    rows += [
        (as_of, "shadow", name, float(value), None, "ok", None, version, ref)
        for name, value in sorted(found.metrics.items())
    ]
    verdict = "promote" if found.promote else "stay_shadow"
    rows.append(
        (as_of, "shadow", "promotion", float(found.promote), None, verdict, found.why, version, ref)
    )
    return rows


def _artifact_json(run_id: str, path: str) -> object | None:
    import mlflow

    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)
    except Exception as exc:  # an old or foreign model version: the section says so
        log.warning("report: cannot read %s of run %s: %s", path, run_id, exc)
        return None
    return json.loads(Path(local).read_text())


def _quality_section(spark: SparkSession, cfg: Config, as_of: dt.date) -> str:
    ref = QUALITY_RESULTS.ref(cfg.storage)
    if not table_exists(spark, ref):
        return "<p>No quality results: the gate has not run.</p>"
    results = read_table(spark, ref).where(F.col("as_of_date") == F.lit(as_of))
    summary = (
        results.groupBy("stage", "severity")
        .agg(F.count("*").alias("checks"), F.sum((~F.col("success")).cast("int")).alias("failed"))
        .orderBy("stage", "severity")
        .collect()
    )
    failed = (
        results.where(~F.col("success"))
        .select("stage", "table_name", "column_name", "expectation", "severity", "observed")
        .orderBy("stage", "table_name")
        .limit(20)
        .collect()
    )
    out = H.table(
        ["stage", "severity", "checks", "failed"],
        [(r["stage"], r["severity"], r["checks"], r["failed"]) for r in summary],
    )
    if failed:
        out += "<h3>Failed checks</h3>" + H.table(
            ["stage", "table", "column", "expectation", "severity", "observed"],
            [tuple(r) for r in failed],
        )
    return out


def _histogram(today: DataFrame) -> dict[str, list[int]]:
    """Accounts per decision in equal steps of the score (a probability) for the figure."""
    index = F.least(F.floor(F.col("score") * HIST_BINS).cast("int"), F.lit(HIST_BINS - 1))
    counts = {d: [0] * HIST_BINS for d in DECISIONS}
    for r in today.groupBy("decision", index.alias("bin")).count().collect():
        counts[r["decision"]][r["bin"]] = r["count"]
    return {d: v for d, v in counts.items() if any(v)}


def _hit_rate_table(metrics: dict[str, float]) -> str:
    """Ops reviews of the period by what started them, and the share that found spam."""
    triggers = sorted(k.removeprefix("reviews_") for k in metrics if k.startswith("reviews_"))
    rows = [
        (t, metrics[f"reviews_{t}"], metrics[f"hit_rate_{t}"])
        for t in triggers
        if f"hit_rate_{t}" in metrics
    ]
    if "hit_rate_queue" in metrics:
        rows.append(
            (
                "accounts the review queue listed (first review, any trigger)",
                metrics["reviews_of_queued_accounts"],
                metrics["hit_rate_queue"],
            )
        )
    if not rows:
        return "<p>No ops reviews in the shadow period.</p>"
    return (
        "<p>Ops reviews in the period by what started them (the model's queue against "
        "ops's other sources):</p>" + H.table(["trigger", "reviews", "share that found spam"], rows)
    )


def _write_html(
    spark: SparkSession,
    cfg: Config,
    as_of: dt.date,
    model: registry.ServedModel,
    today: DataFrame,
    found: Findings,
) -> Path:
    mcfg = cfg.monitoring
    metrics, psi_rows, flag_ratio = found.metrics, found.psi_rows, found.flag_ratio
    thresholds = {"block": model.block_threshold, "review": model.review_threshold}
    curve = _artifact_json(model.run_id, "evaluation/test_pr_curve.json") or []
    importances = _artifact_json(model.run_id, "evaluation/feature_importances.json") or []
    shadow_rows = []
    for key in (
        "tweets",
        "spam_tweets",
        "active_accounts",
        "spam_fraction",
        "spam_per_1k_tweets",
        "spam_per_active_account",
    ):
        before, after = metrics[f"observed_{key}"], metrics[f"if_blocked_{key}"]
        shadow_rows.append((key, before, after, after - before))
    verdict = "promote to action mode" if found.promote else "stay in shadow mode"
    shadow_html = (
        f"<p>Shadow period: {cfg.report.period_days} days to {as_of}; spam accounts from "
        f"{found.spam_source}; flagged = first score with decision in {cfg.report.decisions}.</p>"
        + H.table(
            ["metric", "observed", "if flagged accounts were blocked", "difference"], shadow_rows
        )
        + H.table(
            [
                "flagged accounts",
                f"false-block rate ({found.spam_source})",
                "reviews saved",
                "ops minutes saved",
            ],
            [
                (
                    metrics["flagged_accounts"],
                    metrics.get("false_block_rate"),
                    metrics["reviews_saved"],
                    metrics["ops_minutes_saved"],
                )
            ],
        )
        + _hit_rate_table(metrics)
        + (
            f"<p>Rate limit: {metrics['tweets_per_hour_cap']:.0f} tweets/hour; allowed accounts "
            f"that peaked above it: {metrics.get('allowed_over_cap_share', 0):.4%}.</p>"
            if "tweets_per_hour_cap" in metrics
            else ""
        )
        + f"<p><b>Recommendation: {verdict}</b> ({H.html.escape(found.why)}).</p>"
    )
    shown = psi_rows[:30]  # alerts first
    drift_html = (
        f"<p>PSI against the model's training date ({model.tags.get(registry.TAG_AS_OF)}); warn > "
        f"{mcfg.psi_warn}, alert > {mcfg.psi_alert} or tail ratio > {mcfg.tail_ratio_alert}. "
        "Flagged share ratio: "
        f"{'n/a' if flag_ratio is None else f'{flag_ratio:.3g}'} "
        f"(band {mcfg.flagged_rate_band}).</p>"
        + H.table(
            ["feature", "PSI", "tail ratio", "share above training p99.9", "status"],
            [(r.name, r.psi, r.tail_ratio, r.tail_share, r.status) for r in shown],
            [r.status for r in shown],
        )
        if psi_rows
        else "<p>No drift reference: the training date's features are not available.</p>"
    )
    budget = cfg.report.cadence_leak_budget
    cadence_html = (
        "<p>For each interval between scoring runs, the share of the flagged accounts' "
        "tweets after the day that flagged them that such a schedule would still let out "
        f"(a run acts at a uniform moment within its interval, plus "
        f"{cfg.report.latency_hours:g} h latency).</p>"
        + H.cadence_figure(found.cadence_leaks, budget, found.cadence_hours)
        + f"<p><b>Recommended time between scoring runs: {found.cadence_hours} hours</b> "
        f"({H.html.escape(found.cadence_why)}).</p>"
    )
    decision_table = _decision_table(spark, cfg, today)
    sections = {
        "quality": ("Data quality", _quality_section(spark, cfg, as_of)),
        "pr-curve": (
            f"PR curve (test split of model v{model.version})",
            H.pr_curve_figure(curve, thresholds)
            + H.table(["threshold", "value"], [(k, v) for k, v in thresholds.items()]),
        ),
        "score-histogram": (
            "Scores by decision",
            H.histogram_figure(_histogram(today), HIST_BINS) + decision_table,
        ),
        "feature-importance": ("Feature importances", H.importance_figure(importances)),
        "review-queue": ("Review queue (top clusters)", _queue_section(spark, cfg, as_of)),
        "audits": ("Audited precision and prevalence", _audit_section(found.audits, cfg)),
        "shadow": ("Shadow metrics, both ways", shadow_html),
        "drift": ("Drift", drift_html),
        "cadence": ("Recommended cadence", cadence_html),
    }
    title = f"botdetect run report {as_of} ({model.name} v{model.version}, {cfg.score.mode} mode)"
    folder = Path(cfg.storage.reports_root) / "run"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run_report_{as_of.isoformat()}.html"
    path.write_text(H.page(title, sections, SECTIONS))
    return path
