"""What the run report finds: DataFrames in, typed values out.

Nothing here reads or writes a table, loads a model or renders HTML: `report/stage.py`
reads the tables and hands their DataFrames in; `report/page.py` turns the `Findings`
into the page. Shadow metrics are computed in `report/shadow.py`, the audit estimates in
`report/audit_findings.py` and `report/audited.py`, drift in `report/drift.py`; this module
puts them together for one date and decides what is an alert.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.config import MonitoringConfig, ReportConfig
from botdetect.dates import end_of_day
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
from botdetect.score.decisions import DECISIONS, LIMITED, over_cap_aggs

HIST_BINS = 20
QUEUE_ROWS = 10  # review-queue clusters shown
FAILED_CHECKS_SHOWN = 20


@dataclasses.dataclass(frozen=True)
class DriftRow:
    name: str
    psi: float
    tail_ratio: float
    tail_share: float
    status: str


@dataclasses.dataclass(frozen=True)
class DriftFindings:
    """Drift of one date against the served model's training date."""

    rows: list[DriftRow]  # alerts first, then by PSI; empty: no reference
    flag_ratio: float | None  # flagged share today / on the training date
    ratio_status: str
    reference_date: dt.date | None


NO_DRIFT_REFERENCE = DriftFindings([], None, "ok", None)


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


NO_AUDITS = AuditFindings({}, {}, {})


@dataclasses.dataclass(frozen=True)
class Cadence:
    """How much of the flagged accounts' output each interval between runs lets out."""

    leaks: dict[int, float]
    hours: int
    why: str


@dataclasses.dataclass(frozen=True)
class QualityRows:
    """The date's quality-gate results: per stage and severity, and the first failures."""

    summary: list[tuple[str, str, int, int]]  # stage, severity, checks, failed
    failed: list[tuple]  # stage, table, column, expectation, severity, observed


@dataclasses.dataclass(frozen=True)
class QueueRow:
    cluster_id: int
    accounts: int
    priority: float
    max_score: float
    reasons: str  # the top member's reasons


@dataclasses.dataclass(frozen=True)
class Findings:
    """Everything the report found for one date: what the monitoring table, the alerts
    and the page are made of."""

    as_of: dt.date
    metrics: dict[str, float]
    promote: bool
    why: str
    cadence: Cadence
    spam_source: str
    drift: DriftFindings
    audits: AuditFindings
    decisions: list[tuple[str, int, int | None]]  # decision, accounts, bots (truth) or None
    histogram: dict[str, list[int]]
    queue: list[QueueRow] | None  # None: no review queue table yet
    quality: QualityRows | None  # None: the gate has not run


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


def flagged_share(df: DataFrame, flagged: F.Column) -> float:
    """The share of `df`'s rows for which `flagged` holds (0 when empty)."""
    return df.agg(F.avg(flagged.cast("double"))).first()[0] or 0.0


def drift_findings(
    reference: DataFrame,
    current: DataFrame,
    reference_flagged: DataFrame,
    today: DataFrame,
    columns: list[str],
    reference_date: dt.date,
    m: MonitoringConfig,
) -> DriftFindings:
    """Feature drift (`columns` of the features of the training date and today), score
    drift and the flagged-share ratio. `reference_flagged` holds the training date's
    accounts with `score` and `flagged` as the served model decides them; `today` the
    scores of the date with its `decision`."""
    today_share = flagged_share(today, F.col("decision") != "allow")
    ratio, status = flagged_rate_status(
        today_share, flagged_share(reference_flagged, F.col("flagged")), m.flagged_rate_band
    )
    values = drift(reference, current, columns) | drift(reference_flagged, today, ["score"])
    return DriftFindings(drift_rows(values, m), ratio, status, reference_date)


def shadow_metrics(
    tweets: DataFrame,
    flags: DataFrame,
    acted: DataFrame,
    spam_accounts: DataFrame,
    ops_df: DataFrame,
    queue_df: DataFrame | None,
    as_of: dt.date,
    r: ReportConfig,
) -> dict[str, float]:
    """The shadow period's metrics, observed and as if `flags` had been blocked: spam
    fractions by `spam_accounts`, the false-block rate, ops reviews saved by `acted`
    (first block or rate-limit flags) and the hit rates of ops reviews by trigger and of
    the review queue."""
    first_day = as_of - dt.timedelta(days=r.period_days - 1)
    start, end = dt.datetime.combine(first_day, dt.time()), end_of_day(as_of)
    observed = shadow.spam_metrics(tweets, spam_accounts)
    blocked = shadow.spam_metrics(
        shadow.counterfactual(tweets, flags, r.latency_hours), spam_accounts
    )
    false_flag, n_flagged = shadow.false_flag_rate(flags, spam_accounts)
    saved = shadow.reviews_saved(ops_df, acted, start, end, r.latency_hours, r.minutes_per_review)
    metrics = observed.as_dict("observed") | blocked.as_dict("if_blocked")
    metrics |= {
        "spam_fraction_change": blocked.spam_fraction - observed.spam_fraction,
        "flagged_accounts": float(n_flagged),
        "reviews_saved": float(saved.reviews),
        "ops_minutes_saved": saved.minutes,
    }
    for trigger, (n, hit) in shadow.hit_rates(ops_df, start, end).items():
        metrics |= {f"reviews_{trigger}": float(n), f"hit_rate_{trigger}": hit}
    if queue_df is not None:
        queued = shadow.queue_hit_rate(
            queue_df,
            ops_df,
            as_of - dt.timedelta(days=r.period_days),
            as_of - dt.timedelta(days=1),
            end,
        )
        if queued is not None:
            metrics |= {"reviews_of_queued_accounts": float(queued[0]), "hit_rate_queue": queued[1]}
    if n_flagged and observed.spam_fraction > 0:
        metrics["spam_reduction"] = (
            observed.spam_fraction - blocked.spam_fraction
        ) / observed.spam_fraction
    if false_flag is not None:
        metrics["false_block_rate"] = false_flag
    return metrics


def cadence(tweets: DataFrame, flags: DataFrame, r: ReportConfig) -> Cadence:
    """The leak of each standard interval between scoring runs and the one to recommend."""
    leaks, _ = shadow.cadence_leaks(tweets, flags, shadow.STANDARD_CADENCES_H, r.latency_hours)
    hours, why = shadow.recommended_cadence_hours(leaks, r.cadence_leak_budget)
    return Cadence(leaks, hours, why)


def cadence_metrics(c: Cadence) -> dict[str, float]:
    return {f"cadence_leak_{h}h": share for h, share in c.leaks.items()} | {
        "recommended_cadence_hours": float(c.hours)
    }


def audit_findings(
    requests: DataFrame,
    verdicts: DataFrame,
    scores_all: DataFrame,
    tweets: DataFrame,
    flags: DataFrame,
    truth: DataFrame | None,
    r: ReportConfig,
) -> AuditFindings:
    """Band precision, prevalence among allowed accounts and the spam fraction both ways,
    from the shadow period's audit `requests` and their `verdicts` (`audit_verdicts`);
    `truth`: the generator's ground truth of a synthetic world, shown beside them."""
    confidence, error = r.audit_confidence, r.reviewer_error_rate
    strata = band_strata(requests, verdicts)
    requested = {
        row["decision"]: row["count"] for row in requests.groupBy("decision").count().collect()
    }
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
            F.col("created_at") < shadow.block_moment(F.col("flagged_on"), r.latency_hours)
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
        (row["decision"], row["as_of_date"])
        for row in verdicts.select("decision", "as_of_date").distinct().collect()
    ]
    shares = truth_shares(scores_all, truth, covered) if truth is not None else {}
    return AuditFindings(bands, requested, shares, spam_observed, spam_if_blocked, answered)


def period_audits(
    requests_all: DataFrame, ops_df: DataFrame, as_of: dt.date, r: ReportConfig
) -> tuple[DataFrame, DataFrame]:
    """The audit requests of the shadow period's scoring dates and their verdicts."""
    first = as_of - dt.timedelta(days=r.period_days)
    last = as_of - dt.timedelta(days=1)
    requests = requests_all.where(F.col("as_of_date").between(F.lit(first), F.lit(last)))
    return requests, audit_verdicts(requests, ops_df, first, last, as_of)


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


def histogram(today: DataFrame) -> dict[str, list[int]]:
    """Accounts per decision in equal steps of the score (a probability), for the figure."""
    index = F.least(F.floor(F.col("score") * HIST_BINS).cast("int"), F.lit(HIST_BINS - 1))
    counts = {d: [0] * HIST_BINS for d in DECISIONS}
    for r in today.groupBy("decision", index.alias("bin")).count().collect():
        counts[r["decision"]][r["bin"]] = r["count"]
    return {d: v for d, v in counts.items() if any(v)}


def decision_counts(today: DataFrame, truth: DataFrame | None) -> list[tuple[str, int, int | None]]:
    """Accounts per decision; with a synthetic world's `truth`, also its bots (shown
    beside the product's numbers, never used by them)."""
    if truth is None:
        rows = today.groupBy("decision").count().collect()
        return sorted((r[0], r[1], None) for r in rows)
    bot = F.coalesce(F.col("is_spam_bot"), F.lit(False)).cast("int")
    rows = (
        today.join(truth.select("account_id", "is_spam_bot"), "account_id", how="left")
        .groupBy("decision")
        .agg(F.count("*").alias("accounts"), F.sum(bot).alias("bots"))
        .collect()
    )
    return sorted((r["decision"], r["accounts"], r["bots"]) for r in rows)


def queue_top(queue_df: DataFrame, as_of: dt.date) -> list[QueueRow]:
    """The date's highest-priority review-queue clusters."""
    top = (
        queue_df.where(F.col("as_of_date") == F.lit(as_of))
        .orderBy(F.desc("priority"))
        .limit(QUEUE_ROWS)
        .collect()
    )
    return [
        QueueRow(
            r["cluster_id"],
            r["accounts"],
            r["priority"],
            r["max_score"],
            "; ".join(r["members"][0]["reasons"] or []),
        )
        for r in top
    ]


def quality_rows(results: DataFrame, as_of: dt.date) -> QualityRows:
    """The date's gate results per stage and severity, and the first failed checks."""
    day = results.where(F.col("as_of_date") == F.lit(as_of))
    summary = (
        day.groupBy("stage", "severity")
        .agg(F.count("*").alias("checks"), F.sum((~F.col("success")).cast("int")).alias("failed"))
        .orderBy("stage", "severity")
        .collect()
    )
    failed = (
        day.where(~F.col("success"))
        .select("stage", "table_name", "column_name", "expectation", "severity", "observed")
        .orderBy("stage", "table_name")
        .limit(FAILED_CHECKS_SHOWN)
        .collect()
    )
    return QualityRows(
        [(r["stage"], r["severity"], r["checks"], r["failed"]) for r in summary],
        [tuple(r) for r in failed],
    )


def alerts(found: Findings, m: MonitoringConfig) -> list[str]:
    """The date's alerts: features or the score past a drift threshold, and a flagged
    share outside its band."""
    out = [
        f"drift: {r.name} PSI {r.psi:.3f}, tail ratio {r.tail_ratio:.1f} "
        f"(alert: PSI > {m.psi_alert} or tail ratio > {m.tail_ratio_alert})"
        for r in found.drift.rows
        if r.status == "alert"
    ]
    if found.drift.ratio_status == "alert":
        ratio = found.drift.flag_ratio
        out.append(
            f"drift: flagged share moved {ratio if ratio is not None else 'from 0'}x "
            f"against the training date, outside {m.flagged_rate_band}"
        )
    return out


def monitoring_rows(found: Findings, version: str, m: MonitoringConfig) -> list[tuple]:
    """The `monitoring` rows of one date: drift per feature and score, shadow metrics."""
    as_of, ref = found.as_of, found.drift.reference_date
    rows = []
    for r in found.drift.rows:
        rows.append(
            (as_of, "drift", f"psi:{r.name}", r.psi, m.psi_alert, r.status, None, version, ref)
        )
        rows.append(
            (
                as_of,
                "drift",
                f"tail_ratio:{r.name}",
                r.tail_ratio,
                m.tail_ratio_alert,
                r.status,
                f"share above the training p99.9: {r.tail_share:.5f}",
                version,
                ref,
            )
        )
    rows.append(
        (
            as_of,
            "drift",
            "flagged_rate_ratio",
            found.drift.flag_ratio,
            None,
            found.drift.ratio_status,
            f"band {m.flagged_rate_band}",
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
