"""Features on tiny hand-made inputs: one behaviour per test, exact expected rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.contract import ACCOUNTS, FOLLOWS, INTERACTIONS, LOGINS, TWEETS
from botdetect.dates import end_of_day
from botdetect.features.catalog import KEY_COLUMNS, feature_columns
from botdetect.features.cluster import connected_components, merged_components
from botdetect.features.daily import NON_NULL_COLUMNS, daily_partials
from botdetect.features.lockstep import clock_phases
from botdetect.features.rollup import window_elements
from botdetect.features.stage import (
    build_account_features,
    event_days,
    partial_days,
    run_features,
)
from botdetect.features.text import near_duplicate_key, normalise_text
from botdetect.privacy import MissingKeyError, keyed_hash, pseudonym_key
from botdetect.verdicts import standing_spam
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 28)
KEY = "test-key"
BASE = load_config("local").features
CFG = dataclasses.replace(
    BASE,
    windows=[1, 7],
    hot_ip_accounts=3,
    hot_device_accounts=3,
    sync_seconds=60,
    common_template_accounts=3,
    campaign_template_accounts=2,
)


def ts(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss)


def yesterday(n: int = 1) -> dt.date:
    return D - dt.timedelta(days=n)


class World:
    """Builders for the raw tables, so each test writes only the rows it cares about
    (each checkpointed into the JVM: `jvm_rows`)."""

    def __init__(self, spark):
        self.spark = spark

    def table(self, rows, schema):
        return jvm_rows(self.spark, rows, schema)

    def tweets(self, *rows):
        # (tweet_id, account_id, created_at, text, parent, mentions)
        return self.table([(*r, r[2].date()) for r in rows], TWEETS.schema)

    def logins(self, *rows):
        # (account_id, login_at, device_id, ip, success)
        return self.table(
            [
                (a, t, d, ip, ok, None if ok else "bad_password", t.date())
                for a, t, d, ip, ok in rows
            ],
            LOGINS.schema,
        )

    def interactions(self, *rows):
        return self.table([(*r, r[3].date()) for r in rows], INTERACTIONS.schema)

    def accounts(self, *ids, created=None, handles=None, ips=None, devices=None, verified=None):
        rows = []
        for i, account in enumerate(ids):
            rows.append(
                (
                    account,
                    (handles or {}).get(account, f"user{account}"),
                    "Name",
                    (created or {}).get(account, dt.datetime(2020, 1, 1)),
                    (devices or {}).get(account),
                    (ips or {}).get(account),
                    (verified or {}).get(account, i < 0),
                )
            )
        df = jvm_rows(self.spark, rows, ACCOUNTS.schema)
        return (
            df.withColumn("creation_ip_h", keyed_hash(F.col("creation_ip"), KEY))
            .withColumn("creation_device_h", keyed_hash(F.col("creation_device_id"), KEY))
            .drop("creation_ip", "creation_device_id")
            .localCheckpoint()
        )

    def follows(self, *rows):
        return self.table(list(rows), FOLLOWS.schema)


@pytest.fixture
def world(spark):
    return World(spark)


def features_for(
    world,
    *,
    tweets=None,
    logins=None,
    interactions=None,
    accounts,
    follows=None,
    spam=(),
    cfg=CFG,
):
    tweets = tweets if tweets is not None else world.tweets()
    logins = logins if logins is not None else world.logins()
    interactions = interactions if interactions is not None else world.interactions()
    follows = follows if follows is not None else world.follows()
    spam_df = world.table([(a,) for a in spam], "account_id bigint")
    # As `run_features` does: the partials are read back from their table and the window's
    # elements persisted, so neither is recomputed by each aggregate that uses it (a
    # checkpoint here; half the time of a roll-up on hand-made rows).
    daily = daily_partials(tweets, interactions, logins, cfg, KEY).localCheckpoint()
    elements = window_elements(daily, D, max(cfg.windows)).localCheckpoint()
    return build_account_features(daily, accounts, follows, spam_df, D, cfg, elements)


def test_normalisation_masks_urls_mentions_and_numbers(spark):
    df = jvm_rows(
        spark,
        [("WIN $500 now!!  https://t.co/ab12 @bob",), ("Weather 21C",), ("",), (None,)],
        "t string",
    )
    got = df.select(normalise_text(F.col("t")).alias("n"))
    expected = jvm_rows(
        spark, [("win <num> now!! <url> <user>",), ("weather <num>",), ("",), (None,)], "n string"
    )
    assert_df_equality(got, expected, ignore_nullable=True)


def test_near_duplicate_key_ignores_masks_and_order(spark):
    df = jvm_rows(
        spark, [("buy cheap pills <url>",), ("pills cheap buy <num>",), ("<url>",)], "n string"
    )
    keys = [r[0] for r in df.select(near_duplicate_key(F.col("n"), 17)).collect()]
    assert keys[0] == keys[1]
    assert keys[2] is None


def test_account_without_activity_gets_zeros_and_its_own_cluster(world):
    got = features_for(world, accounts=world.accounts(10)).collect()
    assert len(got) == 1
    row = got[0].asDict()
    assert row["cluster_id"] == 10 and row["cluster_size"] == 1
    assert row["gap_cv_7d"] == -1.0 and row["gap_cv_1d"] == -1.0
    zero_columns = [
        c
        for c in feature_columns(CFG.windows)
        if c
        not in (
            "gap_cv_1d",
            "gap_cv_7d",
            "cluster_size",
            "account_age_days",
            "handle_length",
            "handle_digit_ratio",
        )
    ]
    assert {c: row[c] for c in zero_columns} == {c: 0 for c in zero_columns}


def test_scale_features_and_a_gap_across_midnight(spark, world):
    tweets = world.tweets(
        (1, 10, ts(yesterday(), 23, 58), "good morning", None, []),
        (2, 10, ts(yesterday(), 23, 59), "good morning", None, []),
        (3, 10, ts(D, 0, 0), "hello @x 12", None, [20, 21]),
        (4, 20, ts(D, 0, 0, 30), "reply text here", 3, None),
    )
    got = features_for(world, tweets=tweets, accounts=world.accounts(10, 20)).select(
        "account_id",
        "tweets_1d",
        "tweets_7d",
        "gap_cv_1d",
        "gap_cv_7d",
        "night_share_7d",
        "self_dup_ratio_7d",
        "distinct_recipients_7d",
        "recipients_per_tweet_7d",
        "reply_share_7d",
        "tweets_per_active_day_7d",
        "active_minutes_per_day_7d",
        "hour_entropy_7d",
    )
    expected = jvm_rows(
        spark,
        [
            # two gaps of 60 s (one across midnight): perfectly regular -> cv 0
            (10, 1, 3, -1.0, 0.0, 1 / 3, 1 / 3, 2, 2 / 3, 0.0, 1.5, 1.5, 0.9182958340544896),
            (20, 1, 1, -1.0, -1.0, 1.0, 0.0, 1, 1.0, 1.0, 1.0, 1.0, 0.0),
        ],
        got.schema,
    )
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True)


def test_null_text_and_mentions_are_counted_not_dropped(spark, world):
    tweets = world.tweets((1, 10, ts(D, 12), None, None, None))
    got = features_for(world, tweets=tweets, accounts=world.accounts(10)).select(
        "tweets_1d", "self_dup_ratio_1d", "distinct_recipients_1d", "url_share_1d"
    )
    assert [tuple(r) for r in got.collect()] == [(1, 0.0, 0, 0.0)]


def test_template_shared_by_many_accounts_is_a_campaign_common_phrases_are_not(spark, world):
    spam = "claim your free prize at {}"
    tweets = world.tweets(
        (1, 10, ts(D, 9), spam.format("https://a.co/1"), None, []),
        (2, 11, ts(D, 9), spam.format("https://a.co/2"), None, []),
        (3, 10, ts(D, 10), "good morning", None, []),
        (4, 11, ts(D, 10), "good morning", None, []),
        (5, 12, ts(D, 10), "good morning", None, []),
        (6, 13, ts(D, 10), "good morning", None, []),
        (7, 13, ts(D, 11), "my own words for once", None, []),
        # posted by 4 accounts > common_template_accounts (3): a common phrase
        *[(8 + i, 10 + i, ts(D, 12), "thank you so much friends", None, []) for i in range(4)],
    )
    got = features_for(world, tweets=tweets, accounts=world.accounts(10, 11, 12, 13)).select(
        "account_id", "max_template_accounts", "campaign_template_share", "self_dup_ratio_1d"
    )
    expected = jvm_rows(
        spark,
        [(10, 2, 1 / 3, 0.0), (11, 2, 1 / 3, 0.0), (12, 0, 0.0, 0.0), (13, 1, 0.0, 0.0)],
        got.schema,
    )
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True)


def test_hot_nat_ip_is_infrastructure_not_a_botnet(spark, world):
    nat, pool = "100.64.0.1", "185.1.2.10"
    logins = world.logins(
        *[(a, ts(D, 8, a), 100 + a, nat, True) for a in (1, 2, 3, 4)],  # 4 > hot cap 3
        (5, ts(D, 9), 900, pool, True),
        (6, ts(D, 9, 0, 30), 901, pool, False),
    )
    got = features_for(world, logins=logins, accounts=world.accounts(1, 2, 3, 4, 5, 6)).select(
        "account_id",
        "max_accounts_per_ip",
        "hot_ips",
        "distinct_ips_1d",
        "cluster_id",
        "cluster_size",
        "sync_login_ratio_1d",
        "failed_login_ratio_1d",
    )
    expected = jvm_rows(
        spark,
        [
            *[(a, 0, 1, 1, a, 1, 0.0, 0.0) for a in (1, 2, 3, 4)],
            (5, 2, 0, 1, 5, 2, 1.0, 0.0),
            (6, 2, 0, 1, 5, 2, 1.0, 1.0),
        ],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_logins_too_far_apart_are_not_synchronous(world):
    logins = world.logins(
        (1, ts(D, 9), 1, "185.1.2.10", True),
        (2, ts(D, 9, 0, 50), 2, "185.1.2.10", True),
        (3, ts(D, 9, 10), 3, "185.1.2.10", True),
    )
    got = features_for(world, logins=logins, accounts=world.accounts(1, 2, 3))
    ratios = {r["account_id"]: r["sync_login_ratio_1d"] for r in got.collect()}
    assert ratios == {1: 1.0, 2: 1.0, 3: 0.0}


LOCKSTEP = ["account_id", "lockstep_partners", "lockstep_max_similarity", "lockstep_component_size"]


def _logins_at(world, minutes_by_account):
    """One login per (account, minute of D), each account on its own IP and device."""
    return world.logins(
        *[
            (a, ts(D, 8 + m // 60, m % 60, 7 * (a % 5)), a, f"24.0.0.{a}", True)
            for a, minutes in minutes_by_account.items()
            for m in minutes
        ]
    )


def test_accounts_acting_in_the_same_minutes_are_lock_step_partners(spark, world):
    # 1 and 2: different IPs and devices, five logins each in the same minutes (seconds
    # apart); 3 in five other minutes; 4 shares two of 1's minutes only; 5 is silent.
    minutes = {1: [0, 30, 95, 200, 311], 2: [0, 30, 95, 200, 311], 3: [1, 40, 99, 230, 400]}
    minutes[4] = [0, 30, 120, 250, 420]
    tweets = world.tweets((1, 1, ts(D, 8, 0, 20), "hello there", None, []))
    features = features_for(
        world,
        tweets=tweets,
        logins=_logins_at(world, minutes),
        accounts=world.accounts(1, 2, 3, 4, 5),
    ).persist()
    got = features.select(*LOCKSTEP)
    expected = jvm_rows(
        spark,
        [(1, 1, 1.0, 2), (2, 1, 1.0, 2), (3, 0, 0.0, 0), (4, 0, 0.0, 0), (5, 0, 0.0, 0)],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_row_order=True)
    # The partners are one controller cluster (the split and review-queue key) although
    # they share no IP or device; `cluster_size` stays the shared-infrastructure feature.
    rows = features.select("account_id", "cluster_id", "cluster_size").collect()
    features.unpersist()
    assert {r["account_id"]: (r["cluster_id"], r["cluster_size"]) for r in rows} == {
        1: (1, 1),
        2: (1, 1),
        3: (3, 1),
        4: (4, 1),
        5: (5, 1),
    }


def test_a_crowded_bucket_makes_no_lock_step_pair(spark, world):
    # Six accounts all act in the same five minutes (a viral moment): each of those
    # buckets holds 6 accounts, above 1.2 x the mean of 4 per bucket, so none is compared.
    # 1 and 2 share five quiet minutes and stay partners.
    minutes = {1: [5, 70, 135, 200, 265], 2: [5, 70, 135, 200, 265]}
    minutes |= {a: [7, 73, 139, 205, 271] for a in range(3, 9)}
    cfg = dataclasses.replace(CFG, lockstep_crowd_factor=1.2)
    got = features_for(
        world, logins=_logins_at(world, minutes), accounts=world.accounts(*range(1, 9)), cfg=cfg
    ).select(*LOCKSTEP)
    expected = jvm_rows(
        spark, [(1, 1, 1.0, 2), (2, 1, 1.0, 2), *[(a, 0, 0.0, 0) for a in range(3, 9)]], got.schema
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_accounts_on_the_same_clock_are_not_lock_step_partners(spark, world):
    # 1 and 2 post at minute 0 of every hour, 3 and 4 at minute 20 of every other hour (two
    # cron jobs on one period), 7 and 8 every 15 minutes a minute late now and then (two
    # feeds): six shared buckets each, similarity 1, but always at one phase of a period.
    # 9 and 10 run on two clocks, as a feed operator's feeds do: posts every 15 minutes up
    # to two minutes late, and logins at minute 8 every six hours. Their shared buckets
    # take three distinct 3-minute slots of the 15-minute period, but most sit in one.
    # 5 and 6 share five buckets at five phases of every period.
    minutes = {1: [0, 60, 120, 180, 240], 2: [0, 60, 120, 180, 240]}
    minutes |= {3: [20, 140, 260, 380, 500], 4: [20, 140, 260, 380, 500]}
    minutes |= {5: [7, 73, 139, 205, 271], 6: [7, 73, 139, 205, 271]}
    minutes |= {7: [3, 19, 34, 48, 64, 79], 8: [3, 19, 34, 48, 64, 79]}
    two_clocks = [15 * k + 2 + k % 3 for k in range(12)] + [8, 368]
    minutes |= {9: two_clocks, 10: two_clocks}
    got = features_for(
        world, logins=_logins_at(world, minutes), accounts=world.accounts(*range(1, 11))
    ).select(*LOCKSTEP)
    expected = jvm_rows(
        spark,
        [*[(a, 0, 0.0, 0) for a in (1, 2, 3, 4, 7, 8, 9, 10)], (5, 1, 1.0, 2), (6, 1, 1.0, 2)],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_clock_phases_are_the_effective_phases_of_the_best_fitting_clock(spark):
    # Minute buckets; CFG has 3-minute slots and periods of 15 to 60 minutes.
    rows = [
        # One clock a minute or two late: phases 2-4 of 15, one slot once slots start at 1.
        (1, [2, 3, 4, 17, 18, 19, 32, 33, 34]),
        # Five phases of every period, once each.
        (2, [0, 3, 6, 9, 12]),
        # Twelve buckets on a late 15-minute clock, two on another: 14^2 / (12^2 + 2^2).
        (3, [15 * k + 2 + k % 3 for k in range(12)] + [8, 368]),
        # No buckets: no phase.
        (4, []),
        (5, None),
    ]
    df = jvm_rows(spark, rows, "id int, buckets array<bigint>")
    got = df.select("id", clock_phases(F.col("buckets"), CFG).alias("phases"))
    expected = jvm_rows(spark, [(1, 1.0), (2, 5.0), (3, 196 / 148), (4, 0.0), (5, 0.0)], got.schema)
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True)


def test_paraphrases_across_accounts_are_near_duplicate_twins_common_phrases_are_not(spark, world):
    cfg = dataclasses.replace(CFG, near_dup_max_accounts=2)
    tweets = world.tweets(
        # The same words reworded and reordered, other links: one MinHash key.
        (1, 10, ts(D, 9), "grab this amazing deal today https://a.co/1", None, []),
        (2, 11, ts(D, 9), "today grab amazing this deal https://b.co/2", None, []),
        (3, 10, ts(D, 10), "walked the dog in the rain", None, []),
        # posted by 3 accounts > near_dup_max_accounts (2): a common phrase
        *[(4 + i, 11 + i, ts(D, 12), "thank you so much friends", None, []) for i in range(3)],
    )
    got = features_for(
        world, tweets=tweets, accounts=world.accounts(10, 11, 12, 13, 14), cfg=cfg
    ).select("account_id", "nd_twin_accounts", "nd_twin_share")
    expected = jvm_rows(
        spark, [(10, 1, 0.5), (11, 1, 0.5), (12, 0, 0.0), (13, 0, 0.0), (14, 0, 0.0)], got.schema
    )
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True)


def test_accounts_created_together_from_one_ip(world):
    created = {1: ts(D, 1), 2: ts(D, 2), 3: ts(D - dt.timedelta(days=3), 1), 4: ts(D, 1)}
    accounts = world.accounts(
        1,
        2,
        3,
        4,
        created=created,
        ips={1: "185.9.9.9", 2: "185.9.9.9", 3: "185.9.9.9", 4: "24.1.1.1"},
        devices={1: 7, 2: 8, 3: 7, 4: 7},
    )
    got = features_for(world, accounts=accounts)
    rows = {
        r["account_id"]: (r["created_same_ip_1d"], r["created_same_device_1d"])
        for r in got.collect()
    }
    assert rows == {1: (1, 1), 2: (1, 0), 3: (0, 0), 4: (0, 1)}


def test_follow_graph_features(spark, world):
    old, recent = dt.datetime(2025, 1, 1), ts(D, 5)
    follows = world.follows((1, 2, old), (2, 1, recent), (1, 3, recent))
    got = features_for(world, follows=follows, accounts=world.accounts(1, 2, 3, 4)).select(
        "account_id",
        "followers",
        "following",
        "follower_ratio",
        "reciprocity",
        "follows_given_7d",
        "follows_received_7d",
    )
    expected = jvm_rows(
        spark,
        [
            (1, 1, 2, 0.5, 0.5, 1, 1),
            (2, 1, 1, 1.0, 1.0, 1, 0),
            (3, 1, 0, 1.0, 0.0, 0, 1),
            (4, 0, 0, 0.0, 0.0, 0, 0),
        ],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_mutual_follows_with_spam_accounts(spark, world):
    # 1 follows and is followed back by spam accounts 7 and 8 and by person 3; 2 follows 7
    # without a follow back; 7 and 8 follow each other; 4 has no mutual follows.
    old = dt.datetime(2025, 1, 1)
    pairs = [(1, 7), (7, 1), (1, 8), (8, 1), (1, 3), (3, 1), (2, 7), (7, 8), (8, 7)]
    follows = world.follows(*[(a, b, old) for a, b in pairs])
    got = features_for(
        world, follows=follows, spam=(7, 8), accounts=world.accounts(1, 2, 3, 4, 7, 8)
    ).select("account_id", "spam_mutual_follows", "spam_mutual_follow_share")
    expected = jvm_rows(
        spark,
        [
            (1, 2, 2 / 3),
            (2, 0, 0.0),  # one-way: a follow nobody returned says nothing of the follower
            (3, 0, 0.0),
            (4, 0, 0.0),
            (7, 1, 1 / 2),  # its own verdict never counts, its ring mate's does
            (8, 1, 1 / 2),
        ],
        got.schema,
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_standing_spam_verdicts(spark):
    day = dt.datetime.combine(D, dt.time(12))
    ops = jvm_rows(
        spark,
        [
            (1, day, "suspend", "spam"),
            (2, day, "lock", "spam"),
            (2, day + dt.timedelta(hours=1), "cleared", "spam"),  # a wrong lock, undone
            (3, day, "suspend", "abuse"),  # not spam
            (4, day + dt.timedelta(days=1), "suspend", "spam"),  # after the cutoff
            (5, day - dt.timedelta(days=3), "cleared", "spam"),  # cleared, then caught again
            (5, day, "lock", "spam"),
        ],
        "account_id bigint, action_at timestamp, restriction string, reason string",
    )
    standing, cleared = standing_spam(ops, end_of_day(D))
    assert sorted(r[0] for r in standing.collect()) == [1, 5]
    assert sorted(r[0] for r in cleared.collect()) == [2]


def test_profile_features(spark, world):
    accounts = world.accounts(
        1,
        2,
        created={1: ts(D - dt.timedelta(days=10), 5)},
        handles={1: "ab12", 2: ""},
        verified={1: True},
    )
    got = features_for(world, accounts=accounts).select(
        "account_id", "account_age_days", "is_verified", "handle_length", "handle_digit_ratio"
    )
    expected = jvm_rows(
        spark, [(1, 10, 1, 4, 0.5), (2, (D - dt.date(2020, 1, 1)).days, 0, 0, 0.0)], got.schema
    )
    assert_df_equality(got, expected, ignore_row_order=True)


def test_engagement_received_excludes_self_interactions(world):
    tweets = world.tweets((1, 10, ts(D, 9), "hi there you all", None, []))
    interactions = world.interactions(
        (20, 1, "favorite", ts(D, 10)), (21, 1, "retweet", ts(D, 10)), (10, 1, "retweet", ts(D, 11))
    )
    got = features_for(
        world, tweets=tweets, interactions=interactions, accounts=world.accounts(10, 20, 21)
    )
    rows = {
        r["account_id"]: (
            r["engagement_per_tweet_1d"],
            r["interactions_given_1d"],
            r["retweet_share_given_1d"],
        )
        for r in got.collect()
    }
    assert rows == {10: (2.0, 1, 1.0), 20: (0.0, 1, 0.0), 21: (0.0, 1, 1.0)}


def test_connected_components_follow_chains(spark):
    edges = jvm_rows(
        spark,
        [(5, 100), (3, 100), (3, 200), (9, 200), (7, 300), (8, 300)],
        "account_id long, resource long",
    )
    got = connected_components(edges, max_iterations=10)
    expected = jvm_rows(
        spark, [(5, 3), (3, 3), (9, 3), (7, 7), (8, 7)], "account_id long, cluster_id long"
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_merged_components_equal_the_components_of_the_union(spark):
    # Infrastructure: {1, 2}, {4, 3} (smallest member 3), {5, 6}, {9, 10}. New edges chain
    # 2-3 and 4-6 (an infrastructure chain joined end to end), 7-8 (accounts with no
    # infrastructure edge) and 12 with itself only (a pair row of one account).
    edge = "account_id long, resource long"
    infra = jvm_rows(spark, [(1, 1), (2, 1), (4, 2), (3, 2), (5, 3), (6, 3), (9, 4), (10, 4)], edge)
    extra = jvm_rows(spark, [(2, 10), (3, 10), (4, 11), (6, 11), (7, 12), (8, 12), (12, 13)], edge)
    got = merged_components(connected_components(infra, 10), extra, max_iterations=10)
    expected = jvm_rows(
        spark,
        [(a, 1) for a in range(1, 7)] + [(7, 7), (8, 7), (9, 9), (10, 9), (12, 12)],
        "account_id long, cluster_id long",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    union = connected_components(infra.unionByName(extra), max_iterations=10)
    assert_df_equality(got, union, ignore_row_order=True, ignore_nullable=True)
    # No new edges: the known components as they are; no known ones: the new edges' own.
    none = merged_components(connected_components(infra, 10), extra.limit(0), 10)
    assert_df_equality(
        none, connected_components(infra, 10), ignore_row_order=True, ignore_nullable=True
    )
    alone = merged_components(connected_components(infra, 10).limit(0), extra, 10)
    assert_df_equality(
        alone, connected_components(extra, 10), ignore_row_order=True, ignore_nullable=True
    )


def test_catalogue_lists_exactly_the_written_columns(world):
    got = features_for(world, accounts=world.accounts(1))
    assert got.columns == [*KEY_COLUMNS, *feature_columns(CFG.windows)]


def test_ips_are_pseudonymised_with_the_key(spark, world):
    logins = world.logins((1, ts(D, 9), 1, "185.1.2.10", True))
    daily = daily_partials(world.tweets(), world.interactions(), logins, CFG, KEY)
    other = daily_partials(world.tweets(), world.interactions(), logins, CFG, "other-key")
    ip_hash = daily.first()["ip_hashes"][0]
    assert isinstance(ip_hash, int) and ip_hash != other.first()["ip_hashes"][0]
    assert "185.1.2.10" not in str(daily.collect())


def test_prod_refuses_to_run_without_a_key(monkeypatch):
    monkeypatch.delenv("BOTDETECT_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="BOTDETECT_PSEUDONYM_KEY"):
        pseudonym_key("BOTDETECT_PSEUDONYM_KEY", "prod")
    assert pseudonym_key("BOTDETECT_PSEUDONYM_KEY", "local")
    monkeypatch.setenv("BOTDETECT_PSEUDONYM_KEY", "k")
    assert pseudonym_key("BOTDETECT_PSEUDONYM_KEY", "prod") == "k"


@pytest.mark.slow
def test_daily_runs_give_the_same_features_as_a_full_refresh(spark, tmp_path, small_world):
    full = small_world(tmp_path / "full")
    incremental = small_world(tmp_path / "inc")

    run_features(spark, full, full_refresh=True)
    # Earlier daily runs left the partials of every day before D (a copy of the full
    # refresh's without D): today's run computes only D, alone, and rolls the window up.
    # (A first run, with no partials, computes its whole window: the end-to-end world's
    # daily run computes the days since its first run.)
    daily = tmp_path / "inc" / "features" / "features_daily"
    shutil.copytree(tmp_path / "full" / "features" / "features_daily", daily)
    DeltaTable.forPath(spark, str(daily)).delete(F.col("event_date") == F.lit(D))
    result = run_features(spark, dataclasses.replace(incremental, as_of_date=D))
    assert result.daily_dates == [D]

    def features(root):
        return (
            spark.read.format("delta")
            .load(str(root / "features" / "account_features"))
            .where(F.col("as_of_date") == D)
        )

    assert_df_equality(
        features(tmp_path / "full"), features(tmp_path / "inc"), ignore_row_order=True
    )
    assert features(tmp_path / "full").count() == 300


def test_partial_days_are_current_or_stale_and_event_days_come_from_any_raw_table(spark):
    schema = ", ".join(["event_date date", *(f"{c} int" for c in NON_NULL_COLUMNS)])
    filled = [1] * len(NON_NULL_COLUMNS)
    daily = jvm_rows(
        spark,
        [
            (D - dt.timedelta(days=3), *filled),
            (D - dt.timedelta(days=2), *filled),
            (D - dt.timedelta(days=2), None, *filled[1:]),  # written before a column existed
            (D - dt.timedelta(days=9), *filled),  # outside the window
        ],
        schema,
    )
    start = D - dt.timedelta(days=4)
    assert partial_days(daily, start, D) == {
        D - dt.timedelta(days=3): True,
        D - dt.timedelta(days=2): False,
    }
    # A table without one of the columns: every day is stale.
    assert set(partial_days(daily.drop(NON_NULL_COLUMNS[0]), start, D).values()) == {False}
    assert partial_days(daily.limit(0), start, D) == {}

    def events(*days):
        return jvm_rows(spark, [(d, 1) for d in days], "event_date date, n int")

    tweets = events(D - dt.timedelta(days=1), D - dt.timedelta(days=1), D)
    interactions = events(D - dt.timedelta(days=3))
    no_logins = events()
    asked = [D - dt.timedelta(days=d) for d in (1, 2, 3)]
    assert event_days([tweets, interactions, no_logins], asked) == {
        D - dt.timedelta(days=1),
        D - dt.timedelta(days=3),
    }
    assert event_days([no_logins], asked) == set()
