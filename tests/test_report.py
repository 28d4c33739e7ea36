"""Shadow metrics on a hand-made world, PSI on known distributions, cadence, promotion."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from botdetect.report import shadow
from botdetect.report.audited import Estimate
from botdetect.report.drift import Drift, drift, psi
from botdetect.report.findings import drift_rows, drift_status, flagged_rate_status
from tests.conftest import DEFAULTS, jvm_rows

D = dt.date(2026, 11, 28)


def ts(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(D + dt.timedelta(days=day_offset), dt.time(hour, minute))


def test_psi_of_identical_and_known_shifted_distributions():
    same = {0: 50, 1: 50}
    assert psi(same, {0: 5, 1: 5}) == 0.0  # only shares matter
    # 50/50 -> 80/20: (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5)
    expected = 0.3 * math.log(1.6) + (-0.3) * math.log(0.4)
    assert psi(same, {0: 80, 1: 20}) == pytest.approx(expected)
    assert psi(same, {0: 80, 1: 20}) == pytest.approx(0.4159, abs=1e-4)
    # A bin that is empty on one side is floored, not infinite.
    assert math.isfinite(psi({0: 100}, {1: 100}))
    with pytest.raises(ValueError):
        psi({}, same)


def test_drift_in_spark_finds_a_shift_and_a_small_new_tail(spark):
    reference = spark.range(0, 10_000).selectExpr("cast(id % 100 as double) AS x", "1.0 AS y")
    shifted = spark.range(0, 10_000).selectExpr("cast(id % 100 + 30 as double) AS x", "1.0 AS y")
    got = drift(reference, shifted, ["x"])
    assert got["x"].psi > 1.0
    stable = drift(reference, reference, ["x"])
    assert stable["x"].psi == pytest.approx(0.0) and stable["x"].tail_ratio == pytest.approx(1.0)
    # 0.5% of new rows far above everything seen before: PSI barely moves, the tail does.
    campaign = spark.range(0, 10_000).selectExpr(
        "CASE WHEN id < 50 THEN 1000.0 ELSE cast(id % 100 as double) END AS x", "1.0 AS y"
    )
    seen = drift(reference, campaign, ["x"])["x"]
    assert seen.psi < 0.1
    assert seen.tail_ratio > 3 and seen.tail_share >= 0.005


def test_drift_status_and_rows():
    m = DEFAULTS.monitoring
    assert drift_status(Drift(0.3, 1.0, 0.001), m) == "alert"
    assert drift_status(Drift(0.15, 1.0, 0.001), m) == "warn"
    assert drift_status(Drift(0.01, 5.0, 0.002), m) == "alert"  # a new tail
    assert drift_status(Drift(0.01, 5.0, 0.0001), m) == "ok"  # too few accounts to matter
    rows = drift_rows({"a": Drift(0.01, 1, 0), "b": Drift(0.5, 1, 0), "c": Drift(0.12, 1, 0)}, m)
    assert [(r.name, r.status) for r in rows] == [("b", "alert"), ("c", "warn"), ("a", "ok")]
    assert flagged_rate_status(0.02, 0.01, [0.5, 2.0]) == (2.0, "ok")
    assert flagged_rate_status(0.05, 0.01, [0.5, 2.0])[1] == "alert"
    assert flagged_rate_status(0.0, 0.0, [0.5, 2.0]) == (None, "ok")


def _tiny_world(spark):
    """Accounts 1 and 2 are spam bots, 3 and 4 humans. Scores flag 1 (day -2) and 3 (day -1)."""
    tweets = jvm_rows(
        spark,
        [
            (1, ts(-3, 10)),  # before the flag: stays
            (1, ts(-1, 0, 30)),  # flagged on day -2, effective day -1 01:00: stays
            (1, ts(-1, 2)),  # removed
            (1, ts(0, 9)),  # removed
            (2, ts(-1, 5)),  # never flagged: stays
            (2, ts(0, 5)),
            (3, ts(0, 12)),  # a human flagged on day -1: removed
            (4, ts(-2, 8)),
            (4, ts(0, 8)),
            (4, ts(-9, 8)),  # outside a 7-day period (filtered by the caller)
        ],
        "account_id long, created_at timestamp",
    )
    scores = jvm_rows(
        spark,
        [
            (1, D - dt.timedelta(days=2), "block"),
            (1, D - dt.timedelta(days=1), "block"),
            (3, D - dt.timedelta(days=1), "block"),
            (4, D - dt.timedelta(days=1), "review"),  # not a blocking decision
            (2, D, "block"),  # today's flags act on tomorrow's tweets
        ],
        "account_id long, as_of_date date, decision string",
    )
    spam = jvm_rows(spark, [(1,), (2,)], "account_id long")
    return tweets.where(tweets.created_at >= ts(-6, 0)), scores, spam


def test_counterfactual_spam_fraction_on_a_tiny_world(spark):
    tweets, scores, spam = _tiny_world(spark)
    flags = shadow.first_flags(scores, D, 7, ["block"])
    got = {r["account_id"]: r["flagged_on"] for r in flags.collect()}
    assert got == {1: D - dt.timedelta(days=2), 3: D - dt.timedelta(days=1)}

    observed = shadow.spam_metrics(tweets, spam)
    assert (observed.tweets, observed.spam_tweets, observed.active_accounts) == (9, 6, 4)
    assert observed.spam_fraction == pytest.approx(6 / 9)
    assert observed.spam_per_1k == pytest.approx(1000 * 6 / 9)
    assert observed.spam_per_active_account == pytest.approx(6 / 4)

    blocked = shadow.spam_metrics(shadow.counterfactual(tweets, flags, 1.0), spam)
    # Removed: two tweets of bot 1 after day -1 01:00, and the human's one tweet.
    assert (blocked.tweets, blocked.spam_tweets, blocked.active_accounts) == (6, 4, 3)
    assert blocked.spam_fraction == pytest.approx(4 / 6)

    rate, n = shadow.false_flag_rate(flags, spam)
    assert (rate, n) == (0.5, 2)


def _ops(spark, rows):
    return jvm_rows(
        spark,
        rows,
        "account_id long, action_at timestamp, restriction string, reason string, "
        "review_trigger string, review_minutes double",
    )


def test_reviews_saved_are_ops_own_reviews_after_the_model_acted_with_their_minutes(spark):
    _, scores, _ = _tiny_world(spark)
    flags = shadow.first_flags(scores, D, 7, ["block"])
    ops = _ops(
        spark,
        [
            (1, ts(-2, 12), "lock", "spam", "user_report", 6.0),  # before the flag took effect
            (1, ts(0, 12), "suspend", "spam", "ops_rule", 8.0),  # after: saved
            (3, ts(0, 1), "none", "spam", None, None),  # after, older export: default minutes
            (3, ts(0, 2), "suspend", "spam", "model_queue", 3.0),  # the model's own request
            (3, ts(0, 3), "none", "spam", "random_audit", 2.0),  # ...and its audit
            (4, ts(0, 1), "lock", "spam", "user_report", 5.0),  # never flagged
        ],
    )
    saved = shadow.reviews_saved(ops, flags, ts(-6, 0), ts(1, 0), 1.0, 4.0)
    assert saved == shadow.Saved(2, 12.0)
    none = shadow.reviews_saved(ops.limit(0), flags, ts(-6, 0), ts(1, 0), 1.0, 4.0)
    assert none == shadow.Saved(0, 0.0)


def test_hit_rates_per_trigger_leave_clearings_out(spark):
    ops = _ops(
        spark,
        [
            (1, ts(0, 1), "suspend", "spam", "model_queue", 3.0),
            (2, ts(0, 2), "none", "spam", "model_queue", 3.0),
            (3, ts(0, 3), "lock", "spam", "user_report", 3.0),
            (4, ts(0, 4), "warn", "abuse", "user_report", 3.0),
            (5, ts(0, 5), "none", "spam", "user_report", 3.0),
            (5, ts(0, 6), "cleared", "spam", "appeal", 3.0),
            (6, ts(0, 7), "lock", "spam", None, None),
            (7, ts(-9, 1), "lock", "spam", "ops_rule", 3.0),  # before the period
        ],
    )
    got = shadow.hit_rates(ops, ts(-6, 0), ts(1, 0))
    assert got == {"model_queue": (2, 0.5), "user_report": (3, 1 / 3), "unknown": (1, 1.0)}


def test_the_queues_hit_rate_takes_each_listed_accounts_first_review_after_listing(spark):
    member = "struct<expected_value:double,account_id:bigint>"
    queue = jvm_rows(
        spark,
        [
            (D - dt.timedelta(days=3), 1, [{"expected_value": 2.0, "account_id": 1}]),
            (
                D - dt.timedelta(days=2),
                2,
                [
                    {"expected_value": 1.0, "account_id": 2},
                    {"expected_value": 1.0, "account_id": 3},
                ],
            ),
            (D - dt.timedelta(days=9), 3, [{"expected_value": 1.0, "account_id": 4}]),  # old
        ],
        f"as_of_date date, cluster_id long, members array<{member}>",
    )
    ops = _ops(
        spark,
        [
            (1, ts(-4, 9), "lock", "spam", "user_report", 3.0),  # before it was listed
            (1, ts(-2, 9), "none", "spam", "random_audit", 3.0),  # first after: not spam
            (1, ts(-1, 9), "suspend", "spam", "user_report", 3.0),
            (2, ts(-1, 9), "suspend", "spam", "model_queue", 3.0),
            (4, ts(-1, 9), "suspend", "spam", "model_queue", 3.0),  # listed before the period
        ],
    )
    got = shadow.queue_hit_rate(
        queue, ops, D - dt.timedelta(days=7), D - dt.timedelta(days=1), ts(1, 0)
    )
    assert got == (2, 0.5)  # account 3 was never reviewed
    assert shadow.queue_hit_rate(queue, ops.limit(0), D, D, ts(1, 0)) is None


def test_cadence_leaks_and_the_longest_schedule_within_budget(spark):
    flags = jvm_rows(spark, [(1, D - dt.timedelta(days=1))], "account_id long, flagged_on date")
    # Flagged on D - 1: the data shows it at midnight, ts(0, 0); then four tweets.
    tweets = jvm_rows(
        spark,
        [
            (1, ts(-1, 20)),
            (1, ts(0, 0)),
            (1, ts(0, 3)),
            (1, ts(0, 6)),
            (1, ts(0, 10)),
            (2, ts(0, 1)),
        ],
        "account_id long, created_at timestamp",
    )
    leaks, n = shadow.cadence_leaks(tweets, flags, (1, 4, 12), latency_hours=0.0)
    assert n == 4  # 0, 3, 6 and 10 hours after the flag showed
    # A run every h hours acts at u * h: a tweet x hours late gets out w.p. 1 - x / h.
    assert leaks[1] == pytest.approx(1 / 4)
    assert leaks[4] == pytest.approx((1 + 1 / 4) / 4)
    assert leaks[12] == pytest.approx((1 + 9 / 12 + 6 / 12 + 2 / 12) / 4)
    assert shadow.recommended_cadence_hours(leaks, 0.32)[0] == 4
    assert shadow.recommended_cadence_hours(leaks, 0.9)[0] == 12
    hours, why = shadow.recommended_cadence_hours(leaks, 0.1)
    assert hours == 1 and "above the budget" in why
    assert shadow.recommended_cadence_hours({}, 0.1)[0] == 24
    assert shadow.cadence_leaks(tweets, flags.limit(0), (1, 4), 0.0) == ({}, 0)


GOOD = Estimate(1.0, 0.995, 1.0, 700, 5000)
NOISY = Estimate(0.99, 0.94, 1.0, 50, 5000)


@pytest.mark.parametrize(
    ("reduction", "block", "promote", "why"),
    [
        (0.5, GOOD, True, "would drop by 50.0%"),
        (0.1, GOOD, False, "less than the required"),
        # The spam fraction falls, but the audits cannot show the block band is precise.
        (0.5, NOISY, False, "its lower bound 94.0% is below the required 99.0%"),
        (0.5, None, False, "no audited block precision yet"),
        (None, GOOD, False, "no audited spam fraction yet"),
    ],
)
def test_promotion_needs_the_audited_spam_reduction_and_block_precision_bound(
    reduction, block, promote, why
):
    got, reason = shadow.promotion(reduction, block, 0.2, 0.99)
    assert got is promote
    assert why in reason
