"""Shadow metrics on a hand-made world, PSI on known distributions, cadence, promotion."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from botdetect.config import MonitoringConfig
from botdetect.report import shadow
from botdetect.report.drift import Drift, drift, psi
from botdetect.report.stage import drift_rows, drift_status, flagged_rate_status

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
    m = MonitoringConfig()
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
    tweets = spark.createDataFrame(
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
    scores = spark.createDataFrame(
        [
            (1, D - dt.timedelta(days=2), "block"),
            (1, D - dt.timedelta(days=1), "block"),
            (3, D - dt.timedelta(days=1), "block"),
            (4, D - dt.timedelta(days=1), "review"),  # not a blocking decision
            (2, D, "block"),  # today's flags act on tomorrow's tweets
        ],
        "account_id long, as_of_date date, decision string",
    )
    spam = spark.createDataFrame([(1,), (2,)], "account_id long")
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


def test_reviews_saved_counts_ops_actions_after_the_flag_took_effect(spark):
    _, scores, _ = _tiny_world(spark)
    flags = shadow.first_flags(scores, D, 7, ["block"])
    ops = spark.createDataFrame(
        [
            (1, ts(-2, 12)),  # before the flag took effect: the review was needed
            (1, ts(0, 12)),  # after: saved
            (3, ts(0, 1)),  # after: saved
            (4, ts(0, 1)),  # never flagged
        ],
        "account_id long, action_at timestamp",
    )
    assert shadow.reviews_saved(ops, flags, ts(-6, 0), ts(1, 0), 1.0) == 2


def test_half_volume_hours_and_the_recommended_cadence(spark):
    tweets = spark.createDataFrame(
        [(1, ts(0, h)) for h in (0, 2, 4, 20)]  # half (2 of 4) sent 2 h after the first
        + [(2, ts(0, h)) for h in (0, 6, 7)]  # half (2 of 3) at 6 h
        + [(3, ts(0, h)) for h in (0, 1, 2, 3)],  # a human: not a labelled bot
        "account_id long, created_at timestamp",
    )
    bots = spark.createDataFrame([(1,), (2,)], "account_id long")
    assert shadow.half_volume_hours(tweets, bots) == pytest.approx(2.0)  # lower median
    assert shadow.recommended_cadence_hours(2.0) == 2
    assert shadow.recommended_cadence_hours(5.5) == 4
    assert shadow.recommended_cadence_hours(0.2) == 1
    assert shadow.recommended_cadence_hours(None) == 24
    none = spark.createDataFrame([], "account_id long")
    assert shadow.half_volume_hours(tweets, none) is None


@pytest.mark.parametrize(
    ("reduction", "false_flag", "promote", "why"),
    [
        (0.5, 0.001, True, "would drop by 50.0%"),
        (0.1, 0.001, False, "less than the required"),
        (0.5, 0.05, False, "false-block rate 5.00% is above"),
        (None, None, False, "nothing to judge"),
    ],
)
def test_promotion_needs_enough_spam_reduction_and_few_false_blocks(
    reduction, false_flag, promote, why
):
    got, reason = shadow.promotion(reduction, false_flag, 0.2, 0.01)
    assert got is promote
    assert why in reason
