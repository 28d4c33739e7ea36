"""From audit requests and ops verdicts to strata (report/audit_findings.py), hand-made."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from botdetect.contract import OPS_ACTIONS
from botdetect.report.audit_findings import (
    audit_verdicts,
    band_strata,
    truth_shares,
    tweet_strata,
)
from botdetect.report.audited import Stratum, TweetStratum
from botdetect.table_catalog import AUDIT_REQUESTS
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 28)
D1, D2 = D - dt.timedelta(days=3), D - dt.timedelta(days=2)  # two scoring dates


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour))


def _requests(spark):
    return jvm_rows(
        spark,
        [
            (D1, 1, "block", 0.99, 40, 3),
            (D1, 2, "block", 0.99, 40, 3),
            (D1, 3, "block", 0.99, 40, 3),  # never answered
            (D1, 4, "allow", 0.01, 900, 2),
            (D1, 5, "allow", 0.01, 900, 2),
            (D2, 1, "block", 0.99, 60, 1),  # asked again the next day
        ],
        AUDIT_REQUESTS.schema,
    )


def _ops(spark):
    def row(account, when, restriction, trigger, reason="spam"):
        return (account, when, restriction, reason, None, trigger, 5.0)

    return jvm_rows(
        spark,
        [
            row(1, at(D1 + dt.timedelta(days=1)), "suspend", "random_audit"),
            row(2, at(D1 + dt.timedelta(days=1)), "none", "random_audit"),
            row(2, at(D1 - dt.timedelta(days=4)), "lock", "random_audit"),  # before the ask
            row(4, at(D1 + dt.timedelta(days=1)), "none", "random_audit"),
            row(5, at(D1 + dt.timedelta(days=1)), "lock", "user_report"),  # not an audit
            row(5, at(D1 + dt.timedelta(days=2)), "suspend", "random_audit", "abuse"),
            row(1, at(D2 + dt.timedelta(days=1)), "suspend", "random_audit"),
            row(1, at(D + dt.timedelta(days=1)), "none", "random_audit"),  # after the report
        ],
        OPS_ACTIONS.schema,
    )


def test_each_request_takes_its_first_audit_verdict_made_after_it(spark):
    got = audit_verdicts(_requests(spark), _ops(spark), D1, D - dt.timedelta(days=1), D)
    expected = jvm_rows(
        spark,
        [
            (D1, 1, "block", 40, True),
            (D1, 2, "block", 40, False),  # the older audit lock answered an earlier request
            (D1, 4, "allow", 900, False),
            (D1, 5, "allow", 900, False),  # an abuse suspension is not a spam verdict
            (D2, 1, "block", 60, True),
        ],
        "as_of_date date, account_id long, decision string, band_accounts long, is_spam boolean",
    )
    assert_df_equality(
        got, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True
    )


def test_strata_are_per_date_and_band_and_count_unanswered_requests_in_the_size(spark):
    requests = _requests(spark)
    verdicts = audit_verdicts(requests, _ops(spark), D1, D - dt.timedelta(days=1), D)
    assert band_strata(requests, verdicts) == {
        "allow": [Stratum(900, 2, 0)],
        "block": [Stratum(40, 2, 1), Stratum(60, 1, 1)],
    }
    nothing = verdicts.limit(0)
    assert band_strata(requests, nothing)["block"] == [Stratum(40, 0, 0), Stratum(60, 0, 0)]


def test_tweet_strata_split_the_periods_tweets_by_band_both_ways(spark):
    scores = jvm_rows(
        spark,
        [(1, "block"), (2, "block"), (3, "allow"), (4, "allow"), (5, "allow")],
        "account_id long, decision string",
    )
    tweets = jvm_rows(
        spark,
        [(1, 50, 5), (2, 10, 1), (3, 4, 4), (5, 2, 2)],  # account 4 sent nothing
        "account_id long, tweets long, kept long",
    )
    verdicts = jvm_rows(
        spark, [(1, True), (2, False), (4, False)], "account_id long, is_spam boolean"
    )
    observed, blocked = tweet_strata(scores, tweets, verdicts)
    assert observed == [
        TweetStratum(3, 6, ((0, False),)),
        TweetStratum(2, 60, ((10, False), (50, True))),
    ]
    assert blocked == [
        TweetStratum(3, 6, ((0, False),)),
        TweetStratum(2, 6, ((1, False), (5, True))),
    ]


def test_truth_shares_pool_the_audited_strata_only(spark):
    scores = jvm_rows(
        spark,
        [
            (1, D1, "block"),
            (2, D1, "block"),
            (3, D1, "allow"),
            (1, D2, "block"),
            (4, D2, "allow"),  # D2's allow band had no verdict: not pooled
        ],
        "account_id long, as_of_date date, decision string",
    )
    truth = jvm_rows(
        spark,
        [(1, True), (2, False), (3, False), (4, True)],
        "account_id long, is_spam_bot boolean",
    )
    got = truth_shares(scores, truth, [("block", D1), ("block", D2), ("allow", D1)])
    assert got == {"block": 2 / 3, "allow": 0.0}
    assert truth_shares(scores, truth, []) == {}
