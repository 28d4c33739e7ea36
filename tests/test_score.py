"""Decisions, rate caps, percentiles and the feature-schema check of scoring (reason codes:
test_explain.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.model.explain import percentile_of, population_cuts
from botdetect.model.registry import ServedModel
from botdetect.score.decisions import (
    decide,
    hourly_peaks,
    max_tweets_per_hour,
    rate_cap,
    review_queue,
)
from botdetect.score.stage import FeatureSchemaError, check_features
from tests.conftest import DEFAULTS, jvm_rows

D = dt.date(2026, 11, 28)


def test_decisions_on_hand_made_scores(spark):
    df = jvm_rows(
        spark,
        [(1, 0.99), (2, 0.95), (3, 0.7), (4, 0.5), (5, 0.3), (6, 0.1), (7, None)],
        "account_id long, score double",
    )
    got = df.select(
        "account_id",
        decide(F.col("score"), 0.95, 0.5, 0.3).alias("decision"),
        max_tweets_per_hour(decide(F.col("score"), 0.95, 0.5, 0.3), 12).alias("cap"),
    )
    expected = jvm_rows(
        spark,
        [
            (1, "block", 0),
            (2, "block", 0),  # exactly at the threshold: blocked
            (3, "review", 12),
            (4, "review", 12),
            (5, "rate_limit", 12),
            (6, "allow", None),
            (7, "allow", None),  # no score: never acted on
        ],
        "account_id long, decision string, cap int",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_missing_thresholds_disable_their_band(spark):
    df = jvm_rows(spark, [(1, 0.99), (2, 0.6)], "account_id long, score double")
    got = {
        r["account_id"]: r["d"]
        for r in df.select(
            "account_id", decide(F.col("score"), None, 0.5, 0.3).alias("d")
        ).collect()
    }
    assert got == {1: "review", 2: "review"}  # no block threshold: nobody is banned
    none = df.select(decide(F.col("score"), None, None, None).alias("d")).collect()
    assert {r["d"] for r in none} == {"allow"}


def test_hourly_peaks_take_the_busiest_clock_hour_in_the_window(spark):
    hours = [0] * 24
    busy = list(hours)
    busy[3] = 40
    daily = jvm_rows(
        spark,
        [
            (1, D, [1] * 24),
            (1, D - dt.timedelta(days=2), busy),
            (1, D - dt.timedelta(days=9), [99] * 24),  # outside a 7-day window
            (2, D - dt.timedelta(days=8), [5] * 24),
        ],
        "account_id long, event_date date, hour_counts array<int>",
    )
    got = hourly_peaks(daily, D, 7)
    expected = jvm_rows(spark, [(1, 40)], "account_id long, peak_tweets_per_hour int")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_rate_cap_sits_at_the_percentile_of_allowed_peaks_with_a_floor(spark):
    peaks = jvm_rows(
        spark,
        [(i, i % 10) for i in range(1000)] + [(5000, None)],
        "account_id long, peak_tweets_per_hour int",
    )
    assert rate_cap(peaks, 1.0, 1) == 9
    assert rate_cap(peaks, 0.5, 1) == 4
    assert rate_cap(peaks, 0.5, 6) == 6  # the floor wins
    empty = jvm_rows(spark, [], "account_id long, peak_tweets_per_hour int")
    assert rate_cap(empty, 0.999, 5) == 5


def test_percentiles_are_mid_ranks_among_the_population_cuts(spark):
    population = jvm_rows(
        spark,
        [(i, float(i), 7.0) for i in range(100)],
        "account_id long, tweets_1d double, const double",
    )
    cuts = population_cuts(population, ["tweets_1d", "const"])
    pct = population.select(
        percentile_of(F.lit(1000.0), cuts["tweets_1d"]).alias("top"),
        percentile_of(F.lit(-1.0), cuts["tweets_1d"]).alias("bottom"),
        percentile_of(F.lit(7.0), cuts["const"]).alias("shared"),
    ).first()
    # A value everyone shares sits in the middle, not at p0 or p99.
    assert (pct["top"], pct["bottom"], pct["shared"]) == (99.0, 0.0, 49.5)


def _model(columns: str) -> ServedModel:
    return ServedModel("m", "3", "models:/m/3", "run", {"feature_columns": columns})


def test_scoring_refuses_a_table_without_the_model_columns(spark):
    df = jvm_rows(spark, [(1, 2.0, "x")], "account_id long, tweets_1d double, note string")
    check_features(df, _model("tweets_1d"), "features.account_features")
    with pytest.raises(FeatureSchemaError, match=r"lacks 1 column.*v3 was trained on: logins_1d"):
        check_features(df, _model("tweets_1d,logins_1d"), "features.account_features")
    with pytest.raises(FeatureSchemaError, match="note are not numeric"):
        check_features(df, _model("tweets_1d,note"), "features.account_features")
    with pytest.raises(FeatureSchemaError, match="no feature_columns tag"):
        check_features(df, _model(""), "features.account_features")


def test_review_queue_groups_flagged_accounts_by_cluster_and_ranks_by_expected_value(spark):
    scored = jvm_rows(
        spark,
        [
            (1, D, 100, 0.9, "review", ["a"], 9, 0),  # value 0.9 x 10
            (2, D, 100, 0.6, "rate_limit", ["b"], None, 4),  # 0.6 x 5
            (3, D, 100, 0.99, "block", ["c"], 1000, 0),  # blocked: not queued
            (4, D, 200, 0.7, "review", [], 0, 0),  # 0.7 x 1
            (5, D, 300, 0.1, "allow", [], 50, 50),
        ],
        "account_id long, as_of_date date, cluster_id long, score double, decision string,"
        " reasons array<string>, followers long, distinct_recipients_7d long",
    )
    got = {r["cluster_id"]: r for r in review_queue(scored, 100).collect()}
    assert set(got) == {100, 200}
    assert got[100]["accounts"] == 2
    assert got[100]["priority"] == pytest.approx(9.0 + 3.0)
    assert [m["account_id"] for m in got[100]["members"]] == [1, 2]  # highest value first
    assert got[200]["priority"] == pytest.approx(0.7)
    assert got[100]["max_score"] == 0.9
    # Capped: the row lists the cluster's best account, its totals still count both.
    capped = {r["cluster_id"]: r for r in review_queue(scored, 1).collect()}
    assert [m["account_id"] for m in capped[100]["members"]] == [1]
    assert (capped[100]["accounts"], capped[100]["max_score"]) == (2, 0.9)
    assert capped[100]["priority"] == pytest.approx(12.0)


def test_review_queue_breaks_value_ties_by_account_and_is_empty_without_flags(spark):
    scored = jvm_rows(
        spark,
        [
            (7, D, 100, 0.5, "review", ["a"], 1, 0),  # value 0.5 x 2, as account 3
            (3, D, 100, 0.5, "review", None, 0, 1),
            (5, D, None, 0.6, "rate_limit", ["b"], 0, 0),  # no cluster: a group of its own
            (9, D, 300, 0.1, "allow", [], 50, 50),
        ],
        "account_id long, as_of_date date, cluster_id long, score double, decision string,"
        " reasons array<string>, followers long, distinct_recipients_7d long",
    )
    got = {r["cluster_id"]: r for r in review_queue(scored, 2).collect()}
    assert set(got) == {100, None}
    assert [m["account_id"] for m in got[100]["members"]] == [3, 7]
    assert got[100]["members"][0]["reasons"] is None
    assert got[None]["accounts"] == 1
    assert review_queue(scored.where("decision = 'allow'"), 2).count() == 0


def test_score_accounts_explains_flagged_accounts_with_the_served_regression(spark):
    from types import SimpleNamespace

    from botdetect.model.explain import explainer_for
    from botdetect.score.stage import score_accounts
    from botdetect.train.models import fit, logistic_pipeline

    columns = ["tweets_1d", "followers"]
    # Spam: many tweets, few followers.
    train = jvm_rows(
        spark,
        [(1, 1.0, 60.0 + i, float(i)) for i in range(20)]
        + [(0, 1.0, float(i), 50.0 + i) for i in range(20)],
        "label int, weight double, tweets_1d double, followers double",
    )
    pipeline = fit(logistic_pipeline(columns, DEFAULTS.train.logistic, -1.0, 0.01), train)
    tags = {"feature_columns": ",".join(columns), "threshold_block": "0.9"}
    model = ServedModel("m", "1", "models:/m/1", "run", tags)
    features = jvm_rows(
        spark,
        [
            (1, D, 10, 90.0, 0.0, 3),  # spam side on both
            (
                2,
                D,
                20,
                95.0,
                40.0,
                3,
            ),  # spammy volume; 40 followers (above the mean) are not a reason
            (3, D, 30, 5.0, 60.0, 3),  # allowed: no reasons at all
        ]
        + [(100 + i, D, 100 + i, float(i), 50.0 + i, 0) for i in range(40)],
        "account_id long, as_of_date date, cluster_id long, tweets_1d double,"
        " followers double, distinct_recipients_7d long",
    )
    peaks = jvm_rows(spark, [], "account_id long, peak_tweets_per_hour int")
    cfg = SimpleNamespace(
        score=dataclasses.replace(DEFAULTS.score, reasons=2)
    )  # score_accounts reads cfg.score only
    explainer = explainer_for(pipeline, columns, None).strongest(cfg.score.reason_features)
    got = {
        r["account_id"]: (r["decision"], r["reasons"])
        for r in score_accounts(features, pipeline, model, explainer, cfg, peaks)
        .where("account_id < 100")
        .collect()
    }
    assert got[1][0] == got[2][0] == "block"
    # Account 1: both features push toward spam, in the order of coef x standardised value.
    values = {"tweets_1d": 90.0, "followers": 0.0}
    contribution = {
        c: explainer.weights[j] * (values[c] - explainer.means[j]) / explainer.stds[j]
        for j, c in enumerate(explainer.features)
    }
    texts = {"tweets_1d": "tweets_1d=90 (p96)", "followers": "followers=0 (p1)"}
    assert got[1][1] == [texts[c] for c in sorted(texts, key=lambda c: -contribution[c])]
    assert got[2][1] == ["tweets_1d=95 (p98)"]
    assert got[3] == ("allow", [])
