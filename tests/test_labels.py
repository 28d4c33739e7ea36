"""Labels: ops positives, point-in-time cut, cleared accounts, expansion, negatives."""

from __future__ import annotations

import dataclasses
import datetime as dt

from chispa import assert_df_equality

from botdetect.config import load_config
from botdetect.contract import OPS_ACTIONS
from botdetect.labels import (
    build_labels,
    expanded_positives,
    follow_ring_positives,
    ops_positives,
    reviewed_verdicts,
)
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 14)
CFG = load_config("local").labels  # horizon 14 days


def at(days: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(D + dt.timedelta(days=days), dt.time(hour))


def ids(df):
    return sorted(r["account_id"] for r in df.collect())


def test_positives_are_spam_restrictions_not_cleared_within_the_horizon(spark):
    ops = jvm_rows(
        spark,
        [
            (1, at(-3), "suspend", "spam", "n", None, None),
            (2, at(-3), "lock", "spam", "n", None, None),
            (2, at(-1), "cleared", "spam", "n", None, None),  # cleared after the lock: contested
            (3, at(-9), "cleared", "spam", "n", None, None),
            (3, at(-2), "lock", "spam", "n", None, None),  # flagged again after an old clearing
            (4, at(-3), "suspend", "abuse", "n", None, None),  # not spam
            (5, at(15), "suspend", "spam", "n", None, None),  # after D + horizon: not known yet
            (6, at(-3), "warn", "spam", "n", None, None),  # a warning is not a restriction
            (8, at(-3), "none", "spam", "n", "random_audit", 4.0),  # reviewed: not spam
            (7, at(14, 1), "lock", "spam", "n", None, None),  # on the last day of the horizon
        ],
        OPS_ACTIONS.schema,
    )
    positives, cleared = ops_positives(ops, D, CFG.horizon_days)
    assert ids(positives) == [1, 3, 7]
    assert ids(cleared) == [2]


def _daily(spark, rows):
    return jvm_rows(
        spark,
        [(a, D, ips, devs) for a, ips, devs in rows],
        "account_id long, event_date date, ip_hashes array<bigint>, device_hashes array<bigint>",
    )


def test_expansion_follows_small_shared_ips_and_devices_but_not_hot_ones(spark):
    daily = _daily(
        spark,
        [
            (1, [100, 900], [50]),  # the positive
            (7, [100], [70]),  # shares a small IP with 1: expanded
            (8, [900], [80]),  # 900 is hot (5 accounts > cap 3): not expanded
            (9, [900], [50]),  # ...but shares device 50 with 1: expanded
            (10, [900], [90]),
            (11, [900], [91]),
        ],
    )
    positives = jvm_rows(spark, [(1,)], "account_id long")
    got = expanded_positives(daily, positives, D, 28, hot_ip_accounts=3, hot_device_accounts=3)
    assert ids(got) == [7, 9]


def _follows(spark, pairs, when=None):
    """Follow rows; (a, b) with `mutual` in the third place adds b -> a too."""
    rows = []
    for a, b, mutual in pairs:
        rows.append((a, b, when or at(-2)))
        if mutual:
            rows.append((b, a, when or at(-2)))
    return jvm_rows(spark, rows, "account_id long, followed_account_id long, created_at timestamp")


def test_follow_ring_expansion_needs_several_mutual_positives_making_a_share(spark):
    positives = jvm_rows(spark, [(1,), (2,), (3,)], "account_id long")
    follows = _follows(
        spark,
        [
            (10, 1, True),
            (10, 2, True),
            (10, 50, True),
            (10, 51, True),
            (10, 52, True),
            (11, 1, True),
            (11, 53, True),  # one mutual positive: never enough
            (12, 1, True),
            (12, 2, True),  # two of ten mutual follows: a follow-back person
            *[(12, f, True) for f in range(60, 68)],
            (13, 1, False),
            (13, 2, False),  # follows positives, not followed back
            (3, 1, True),
            (3, 2, True),  # a positive itself: not expanded
        ],
    ).unionByName(_follows(spark, [(14, 1, True), (14, 2, True)], when=at(1)))  # after D
    got = follow_ring_positives(follows, positives, D, min_positives=2, min_share=0.25)
    assert ids(got) == [10]
    none = follow_ring_positives(follows.limit(0), positives, D, 2, 0.25)
    assert ids(none) == []


def test_a_second_follow_ring_round_counts_what_the_first_found(spark):
    positives = jvm_rows(spark, [(1,), (2,)], "account_id long")
    # 10 rings with 1 and 2; 20 rings with 10 and 2 only; 30 with 20 alone (one is never
    # enough, whatever the round).
    follows = _follows(
        spark, [(10, 1, True), (10, 2, True), (20, 10, True), (20, 2, True), (30, 20, True)]
    )
    one = follow_ring_positives(follows, positives, D, 2, 0.25, hops=1)
    two = follow_ring_positives(follows, positives, D, 2, 0.25, hops=2)
    assert ids(one) == [10]
    assert ids(two) == [10, 20]


def test_labels_rows_sources_weights_and_exclusions(spark):
    accounts = jvm_rows(
        spark, [(i, i in (20, 21, 22)) for i in range(1, 23)], "account_id long, verified boolean"
    )
    positives = jvm_rows(spark, [(1,)], "account_id long")
    cleared = jvm_rows(spark, [(2,)], "account_id long")
    expanded = jvm_rows(spark, [(3,), (2,), (20,)], "account_id long")
    cfg = dataclasses.replace(CFG, random_negative_rate=1.0, verified_negative_max_share=0.1)
    got = build_labels(accounts, positives, cleared, expanded, D, cfg)
    rows = {
        r["account_id"]: (r["label"], r["label_source"], r["weight"], r["sample_rate"])
        for r in got.collect()
    }
    assert rows[1] == (1, "ops", 1.0, 1.0)
    assert rows[3] == (1, "expanded", 0.5, 1.0)
    assert all(r[3] == 1.0 for r in rows.values() if r[1] == "random")  # rate 1 here
    assert rows[2] == (0, "cleared", 1.0, 1.0)  # cleared: a confirmed negative, never expanded
    assert 20 not in rows or rows[20][1] == "verified"  # verified never expanded
    randoms = sorted(a for a, r in rows.items() if r[1] == "random")
    assert randoms == list(range(4, 20))  # every unlabelled, unverified account at rate 1
    verified = [a for a, r in rows.items() if r[1] == "verified"]
    assert len(verified) <= 0.1 / 0.9 * len(randoms)  # the cap: at most 1 of 17 negatives
    assert {r.as_of_date for r in got.collect()} == {D}


def test_audit_and_queue_verdicts_are_labels_that_win_over_other_sources(spark):
    ops = jvm_rows(
        spark,
        [
            (1, at(-5), "suspend", "spam", "n", "user_report", 5.0),  # ops positive...
            (1, at(-2), "none", "spam", "n", "random_audit", 5.0),  # ...an audit finds nothing
            (4, at(-2), "suspend", "spam", "n", "model_queue", 5.0),  # the queue finds spam
            (5, at(-3), "suspend", "spam", "n", "random_audit", 5.0),
            (5, at(-1), "none", "spam", "n", "random_audit", 5.0),  # the latest verdict counts
            (6, at(-1), "none", "spam", "n", "model_queue", 5.0),  # otherwise unlabelled
            (7, at(-1), "none", "spam", "n", "user_report", 5.0),  # not asked by the model
            (8, at(20), "suspend", "spam", "n", "random_audit", 5.0),  # after D + horizon
            (99, at(-1), "suspend", "spam", "n", "random_audit", 5.0),  # not an account by D
        ],
        OPS_ACTIONS.schema,
    )
    reviewed = reviewed_verdicts(ops, D, CFG.horizon_days)
    assert sorted((r[0], r[1]) for r in reviewed.collect()) == [
        (1, 0),
        (4, 1),
        (5, 0),
        (6, 0),
        (99, 1),
    ]
    accounts = jvm_rows(
        spark, [(i, False) for i in range(1, 9)], "account_id long, verified boolean"
    )
    positives, _ = ops_positives(ops, D, CFG.horizon_days)
    positives = positives.join(accounts, "account_id", "inner").select("account_id")  # as run
    empty = jvm_rows(spark, [], "account_id long")
    cfg = dataclasses.replace(CFG, random_negative_rate=0.5, reviewed_weight=3.0)
    plain = build_labels(accounts, positives, empty, empty, D, cfg)
    got = build_labels(accounts, positives, empty, empty, D, cfg, reviewed)
    before = {r["account_id"]: r for r in plain.collect()}
    rows = {
        r["account_id"]: (r["label"], r["label_source"], r["weight"], r["sample_rate"])
        for r in got.collect()
    }

    def rate(account):  # a drawn account keeps its draw's rate; others join at rate 1
        return before[account]["sample_rate"] if account in before else 1.0

    assert before[1]["label_source"] == "ops"
    assert rows[1] == (0, "reviewed", 3.0, 1.0)  # the audit overrules the ops positive
    assert rows[4] == (1, "reviewed", 3.0, rate(4))  # found spam by the queue
    assert rows[5] == (0, "reviewed", 3.0, rate(5))  # the latest verdict
    assert rows[6] == (0, "reviewed", 3.0, rate(6))
    assert 99 not in rows
    # Everyone else keeps the label the other sources gave.
    for account in set(before) - {1, 4, 5, 6}:
        r = before[account]
        assert rows[account] == (r["label"], r["label_source"], r["weight"], r["sample_rate"])


def test_negative_sampling_is_deterministic_and_near_its_rate(spark):
    accounts = jvm_rows(
        spark, [(i, False) for i in range(1, 2001)], "account_id long, verified boolean"
    )
    empty = jvm_rows(spark, [], "account_id long")
    cfg = dataclasses.replace(CFG, random_negative_rate=0.2)
    first = build_labels(accounts, empty, empty, empty, D, cfg)
    again = build_labels(accounts, empty, empty, empty, D, cfg)
    assert_df_equality(first, again, ignore_row_order=True)
    assert 340 <= first.count() <= 460  # 20% of 2000, within sampling noise
