"""The run report's page: `Findings` (report/findings.py) in, HTML out.

No Spark and no table here; the tables and figures are `botdetect/render.py`'s, shared
with the data-quality report.
"""

from __future__ import annotations

import dataclasses
import html

from botdetect import render
from botdetect.config import Config
from botdetect.report.findings import HIST_BINS, AuditFindings, Findings, QualityRows, QueueRow
from botdetect.score.decisions import DECISIONS

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
SHADOW_KEYS = (
    "tweets",
    "spam_tweets",
    "active_accounts",
    "spam_fraction",
    "spam_per_1k_tweets",
    "spam_per_active_account",
)
DRIFT_ROWS_SHOWN = 30  # alerts first


@dataclasses.dataclass(frozen=True)
class ModelView:
    """What the page shows of the model that made the date's scores."""

    name: str
    version: str
    thresholds: dict[str, float | None]  # block, review
    training_date: str | None
    pr_curve: list  # the test split's curve as train logged it ([] when unreadable)
    importances: list  # (feature, importance) as train logged them


def run_page(found: Findings, model: ModelView, cfg: Config) -> str:
    """The whole run report of `found.as_of`."""
    sections = {
        "quality": ("Data quality", quality_section(found.quality)),
        "pr-curve": (
            f"PR curve (test split of model v{model.version})",
            render.pr_curve_figure(model.pr_curve, model.thresholds)
            + render.table(["threshold", "value"], list(model.thresholds.items())),
        ),
        "score-histogram": (
            "Scores by decision",
            render.histogram_figure(found.histogram, HIST_BINS) + decision_table(found.decisions),
        ),
        "feature-importance": ("Feature importances", render.importance_figure(model.importances)),
        "review-queue": ("Review queue (top clusters)", queue_section(found.queue)),
        "audits": ("Audited precision and prevalence", audit_section(found.audits, cfg)),
        "shadow": ("Shadow metrics, both ways", shadow_section(found, cfg)),
        "drift": ("Drift", drift_section(found, model, cfg)),
        "cadence": ("Recommended cadence", cadence_section(found, cfg)),
    }
    title = (
        f"botdetect run report {found.as_of} ({model.name} v{model.version}, {cfg.score.mode} mode)"
    )
    return render.page(title, sections, SECTIONS)


def quality_section(quality: QualityRows | None) -> str:
    if quality is None:
        return "<p>No quality results: the gate has not run.</p>"
    out = render.table(["stage", "severity", "checks", "failed"], quality.summary)
    if quality.failed:
        out += "<h3>Failed checks</h3>" + render.table(
            ["stage", "table", "column", "expectation", "severity", "observed"], quality.failed
        )
    return out


def decision_table(decisions: list[tuple[str, int, int | None]]) -> str:
    """Accounts per decision; bots and not-bots by the generator's truth when known."""
    if any(bots is None for _, _, bots in decisions):
        return render.table(["decision", "accounts"], [(d, n) for d, n, _ in decisions])
    return render.table(
        ["decision", "accounts", "bots (truth, synthetic world)", "not bots (truth)"],
        [(d, n, bots, n - bots) for d, n, bots in decisions],
    )


def queue_section(queue: list[QueueRow] | None) -> str:
    if queue is None:
        return "<p>No review queue yet.</p>"
    if not queue:
        return "<p>Nothing to review: no account is flagged below the block threshold.</p>"
    return render.table(
        ["cluster", "accounts", "priority (score x reach)", "max score", "top reasons"],
        [(q.cluster_id, q.accounts, q.priority, q.max_score, q.reasons) for q in queue],
    )


def audit_section(found: AuditFindings, cfg: Config) -> str:
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
    table = render.table(
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
        + render.table(["", "audited spam fraction", f"{level} interval", "verdicts"], spam_rows)
        if spam_rows
        else "<p>No audit verdicts yet: the spam fraction cannot be estimated.</p>"
    )
    return (
        "<p>Ops reviews a random sample of every band of every scoring run "
        "(<code>scores.audit_requests</code>); the verdicts estimate each band's spam share "
        "over the shadow period's scoring dates, weighted by band size, corrected for a "
        f"reviewer error rate of {cfg.report.reviewer_error_rate:.2%}.</p>" + table + spam_html
    )


def hit_rate_table(metrics: dict[str, float]) -> str:
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
        "ops's other sources):</p>"
        + render.table(["trigger", "reviews", "share that found spam"], rows)
    )


def shadow_section(found: Findings, cfg: Config) -> str:
    metrics = found.metrics
    rows = []
    for key in SHADOW_KEYS:
        before, after = metrics[f"observed_{key}"], metrics[f"if_blocked_{key}"]
        rows.append((key, before, after, after - before))
    verdict = "promote to action mode" if found.promote else "stay in shadow mode"
    rate_limit = (
        f"<p>Rate limit: {metrics['tweets_per_hour_cap']:.0f} tweets/hour; allowed accounts "
        f"that peaked above it: {metrics.get('allowed_over_cap_share', 0):.4%}.</p>"
        if "tweets_per_hour_cap" in metrics
        else ""
    )
    return (
        f"<p>Shadow period: {cfg.report.period_days} days to {found.as_of}; spam accounts "
        f"from {found.spam_source}; flagged = first score with decision in "
        f"{cfg.report.decisions}.</p>"
        + render.table(
            ["metric", "observed", "if flagged accounts were blocked", "difference"], rows
        )
        + render.table(
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
        + hit_rate_table(metrics)
        + rate_limit
        + f"<p><b>Recommendation: {verdict}</b> ({html.escape(found.why)}).</p>"
    )


def drift_section(found: Findings, model: ModelView, cfg: Config) -> str:
    m, d = cfg.monitoring, found.drift
    if not d.rows:
        return "<p>No drift reference: the training date's features are not available.</p>"
    shown = d.rows[:DRIFT_ROWS_SHOWN]
    ratio = "n/a" if d.flag_ratio is None else f"{d.flag_ratio:.3g}"
    return (
        f"<p>PSI against the model's training date ({model.training_date}); warn > "
        f"{m.psi_warn}, alert > {m.psi_alert} or tail ratio > {m.tail_ratio_alert}. "
        f"Flagged share ratio: {ratio} (band {m.flagged_rate_band}).</p>"
        + render.table(
            ["feature", "PSI", "tail ratio", "share above training p99.9", "status"],
            [(r.name, r.psi, r.tail_ratio, r.tail_share, r.status) for r in shown],
            [r.status for r in shown],
        )
    )


def cadence_section(found: Findings, cfg: Config) -> str:
    c = found.cadence
    return (
        "<p>For each interval between scoring runs, the share of the flagged accounts' "
        "tweets after the day that flagged them that such a schedule would still let out "
        f"(a run acts at a uniform moment within its interval, plus "
        f"{cfg.report.latency_hours:g} h latency).</p>"
        + render.cadence_figure(c.leaks, cfg.report.cadence_leak_budget, c.hours)
        + f"<p><b>Recommended time between scoring runs: {c.hours} hours</b> "
        f"({html.escape(c.why)}).</p>"
    )
