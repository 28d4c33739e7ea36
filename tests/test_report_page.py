"""The run report's findings from hand-made DataFrames, and its page from hand-made
findings (no Spark)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from botdetect.report import findings as fnd
from botdetect.report.audited import Estimate
from botdetect.report.page import SECTIONS, SHADOW_KEYS, ModelView, run_page
from tests.conftest import DEFAULTS, jvm_rows

D = dt.date(2026, 11, 28)
SCORES = "account_id long, score double, decision string"


def test_decision_counts_with_and_without_the_truth(spark):
    today = jvm_rows(
        spark,
        [(1, 0.99, "block"), (2, 0.98, "block"), (3, 0.5, "review"), (4, 0.01, "allow")],
        SCORES,
    )
    # 2 has no truth row (an account the generator does not know: not a bot), 3 a null.
    truth = jvm_rows(
        spark, [(1, True), (3, None), (4, False)], "account_id long, is_spam_bot boolean"
    )
    assert fnd.decision_counts(today, truth) == [("allow", 1, 0), ("block", 2, 1), ("review", 1, 0)]
    assert fnd.decision_counts(today, None) == [
        ("allow", 1, None),
        ("block", 2, None),
        ("review", 1, None),
    ]
    assert fnd.decision_counts(today.limit(0), truth) == []


def test_histogram_puts_a_score_of_one_in_the_last_bin_and_drops_empty_decisions(spark):
    today = jvm_rows(
        spark,
        [(1, 1.0, "block"), (2, 0.999, "block"), (3, 0.0, "allow"), (4, 0.051, "allow")],
        SCORES,
    )
    got = fnd.histogram(today)
    assert set(got) == {"block", "allow"}
    assert got["block"][fnd.HIST_BINS - 1] == 2 and sum(got["block"]) == 2
    assert got["allow"][0] == 1 and got["allow"][1] == 1
    assert fnd.histogram(today.limit(0)) == {}


def test_queue_top_takes_the_dates_clusters_by_priority(spark):
    member = "struct<account_id:long,reasons:array<string>>"
    queue = jvm_rows(
        spark,
        [
            (D, 7, 2, 5.0, 0.9, [(7, ["burst", "links"])]),
            (D, 3, 1, 9.0, 0.8, [(3, None)]),
            (D - dt.timedelta(days=1), 5, 1, 99.0, 0.7, [(5, ["old"])]),
        ],
        f"as_of_date date, cluster_id long, accounts long, priority double, max_score double, "
        f"members array<{member}>",
    )
    assert fnd.queue_top(queue, D) == [
        fnd.QueueRow(3, 1, 9.0, 0.8, ""),
        fnd.QueueRow(7, 2, 5.0, 0.9, "burst; links"),
    ]
    assert fnd.queue_top(queue, D + dt.timedelta(days=1)) == []


def test_quality_rows_count_failures_per_stage_and_severity(spark):
    results = jvm_rows(
        spark,
        [
            (D, "raw", "tweets", "text", "not_null", "critical", False, "3 nulls"),
            (D, "raw", "tweets", "tweet_id", "unique", "critical", True, None),
            (D, "features", "account_features", "x", "range", "warning", True, None),
            (D - dt.timedelta(days=1), "raw", "tweets", "text", "not_null", "critical", False, "x"),
        ],
        "as_of_date date, stage string, table_name string, column_name string, "
        "expectation string, severity string, success boolean, observed string",
    )
    got = fnd.quality_rows(results, D)
    assert got.summary == [("features", "warning", 1, 0), ("raw", "critical", 2, 1)]
    assert got.failed == [("raw", "tweets", "text", "not_null", "critical", "3 nulls")]


def _findings(**changes) -> fnd.Findings:
    base = fnd.Findings(
        as_of=D,
        metrics={
            **{f"{side}_{key}": 1.0 for side in ("observed", "if_blocked") for key in SHADOW_KEYS},
            "flagged_accounts": 2.0,
            "reviews_saved": 1.0,
            "ops_minutes_saved": 3.0,
        },
        promote=False,
        why="precision <b>too low</b>",
        cadence=fnd.Cadence({1: 0.01, 24: 0.4}, 1, "within budget"),
        spam_source="ground truth (synthetic world)",
        drift=fnd.DriftFindings(
            [
                fnd.DriftRow("links_share_7d", 0.5, 1.0, 0.0, "alert"),
                fnd.DriftRow("score", 0.05, 1.0, 0.0, "ok"),
            ],
            3.0,
            "alert",
            D - dt.timedelta(days=14),
        ),
        audits=fnd.NO_AUDITS,
        decisions=[("allow", 10, 1), ("block", 2, 2)],
        histogram={"allow": [10] + [0] * 19, "block": [0] * 19 + [2]},
        queue=None,
        quality=None,
    )
    return dataclasses.replace(base, **changes)


MODEL = ModelView("botdetect", "3", {"block": 0.9, "review": 0.5}, "2026-11-14", [], [])


def test_the_page_has_every_section_in_order_and_escapes_text():
    html = run_page(_findings(), MODEL, DEFAULTS)
    positions = [html.index(f'<section id="{s}">') for s in SECTIONS]
    assert positions == sorted(positions)
    assert "precision &lt;b&gt;too low&lt;/b&gt;" in html and "<b>too low</b>" not in html
    assert "No review queue yet." in html and "No quality results" in html
    assert "No audit requests in the shadow period yet." in html
    assert "bots (truth, synthetic world)" in html  # the truth columns, beside the counts
    assert "Recommendation: stay in shadow mode" in html


def test_the_page_says_what_it_lacks_instead_of_failing():
    html = run_page(
        _findings(
            drift=fnd.NO_DRIFT_REFERENCE,
            queue=[],
            decisions=[("allow", 10, None)],
            audits=fnd.AuditFindings(
                {"block": Estimate(0.97, 0.9, 1.0, 30, 200)}, {"block": 30, "review": 5}, {}
            ),
        ),
        MODEL,
        DEFAULTS,
    )
    assert "No drift reference" in html
    assert "Nothing to review" in html
    assert "bots (truth" not in html
    assert "[0.900, 1.000]" in html  # the block band's audited interval
    assert "No audit verdicts yet" in html  # no spam-fraction estimate without verdicts


def test_alerts_and_monitoring_rows_come_from_the_findings():
    found = _findings()
    alerts = fnd.alerts(found, DEFAULTS.monitoring)
    assert len(alerts) == 2
    assert alerts[0].startswith("drift: links_share_7d PSI 0.500")
    assert alerts[1].startswith("drift: flagged share moved 3.0x")
    rows = fnd.monitoring_rows(found, "3", DEFAULTS.monitoring)
    names = [r[2] for r in rows]
    assert names[:5] == [
        "psi:links_share_7d",
        "tail_ratio:links_share_7d",
        "psi:score",
        "tail_ratio:score",
        "flagged_rate_ratio",
    ]
    assert names[-1] == "promotion" and rows[-1][5] == "stay_shadow"
    assert all(r[0] == D and r[7] == "3" and r[8] == D - dt.timedelta(days=14) for r in rows)
    quiet = _findings(drift=fnd.NO_DRIFT_REFERENCE)
    assert fnd.alerts(quiet, DEFAULTS.monitoring) == []
