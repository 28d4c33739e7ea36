"""The data-quality gate: each kind of bad data is caught by the expectation named for it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.contract import ACCOUNTS, FOLLOWS, INTERACTIONS, LOGINS, TWEETS
from botdetect.features.catalog import KEY_COLUMNS, feature_columns
from botdetect.pipeline import FEATURES, RunOptions, run_stage
from botdetect.quality.checks import orphan_fraction, volume_change
from botdetect.quality.gx import CheckResult, run_checks
from botdetect.quality.stage import (
    QualityGateError,
    critical_failures,
    render_report,
    run_validate,
)
from botdetect.quality.suites import apply_overrides, features_suite, raw_suite
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 28)
CFG = load_config("local")
T0 = dt.datetime(2026, 11, 28, 10)


def tweets_df(spark, rows=None):
    rows = rows or [
        (1, 10, T0, "hello there", None, [11], D),
        (2, 11, T0, "hi back", 1, [], D),
    ]
    return jvm_rows(spark, rows, TWEETS.schema)  # the checks scan it once per expectation


def failures(results):
    return {(r.table, r.expectation, r.column) for r in results if not r.success}


def check_raw(df, table):
    return failures(run_checks(df, table.name, raw_suite(table, CFG, D)))


def test_clean_rows_pass_every_raw_check(spark):
    assert check_raw(tweets_df(spark), TWEETS) == set()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda df: df.withColumn("tweet_id", F.lit(None).cast("long")),
            ("ExpectColumnValuesToNotBeNull", "tweet_id"),
        ),
        (
            lambda df: df.withColumn("tweet_id", F.lit(1).cast("long")),
            ("ExpectColumnValuesToBeUnique", "tweet_id"),
        ),
        (
            lambda df: df.withColumn("created_at", F.lit(dt.datetime(2027, 1, 1))),
            ("ExpectColumnMaxToBeBetween", "created_at"),
        ),
        (
            lambda df: df.withColumn("created_at", F.lit(dt.datetime(2005, 1, 1))),
            ("ExpectColumnMinToBeBetween", "created_at"),
        ),
        (lambda df: df.where("false"), ("ExpectTableRowCountToBeBetween", "")),
        (
            lambda df: df.withColumn("event_date", F.lit(D - dt.timedelta(days=1))),
            ("ExpectColumnMaxToBeBetween", "event_date"),
        ),
        (lambda df: df.withColumn("lang", F.lit("en")), ("ExpectTableColumnsToMatchSet", "")),
        (lambda df: df.drop("text"), ("ExpectTableColumnsToMatchSet", "")),
        (lambda df: df.withColumnRenamed("text", "body"), ("ExpectTableColumnsToMatchSet", "")),
        (
            lambda df: df.withColumn("account_id", F.col("account_id").cast("string")),
            ("ExpectColumnValuesToBeOfType", "account_id"),
        ),
    ],
    ids=[
        "null-key",
        "duplicate-id",
        "future-timestamp",
        "before-platform-start",
        "empty-partition",
        "stale-partition",
        "extra-column",
        "missing-column",
        "renamed-column",
        "wrong-type",
    ],
)
def test_bad_tweets_are_caught_by_the_named_expectation(spark, mutate, expected):
    assert ("tweets", *expected) in check_raw(mutate(tweets_df(spark)), TWEETS)


def test_enum_typo_is_caught(spark):
    df = jvm_rows(
        spark, [(10, 1, "favorite", T0, D), (11, 1, "retweeet", T0, D)], INTERACTIONS.schema
    )
    assert ("interactions", "ExpectColumnValuesToBeInSet", "action") in check_raw(df, INTERACTIONS)


def test_duplicate_compound_key_and_null_required_are_caught(spark):
    follows = jvm_rows(spark, [(1, 2, T0), (1, 2, T0)], FOLLOWS.schema)
    assert ("follows", "ExpectCompoundColumnsToBeUnique", "account_id,followed_account_id") in (
        check_raw(follows, FOLLOWS)
    )
    logins = jvm_rows(spark, [(1, T0, 5, "1.2.3.4", None, None, D)], LOGINS.schema)
    assert ("logins", "ExpectColumnValuesToNotBeNull", "success") in check_raw(logins, LOGINS)


def test_orphan_rows_are_measured_against_the_threshold(spark):
    accounts = jvm_rows(spark, [(10, "a", "A", T0, None, None, False)], ACCOUNTS.schema)
    result = orphan_fraction(tweets_df(spark), accounts, "tweets", max_fraction=0.1)
    assert (result.success, result.unexpected_count, result.observed) == (False, 1, "0.500000")
    assert orphan_fraction(tweets_df(spark), accounts, "tweets", 0.5).success


def test_volume_spike_against_the_previous_run():
    spike = volume_change("tweets", 10_000, 1_000, [0.2, 5.0])
    assert not spike.success and "ratio 10.00" in spike.details
    assert volume_change("tweets", 1_100, 1_000, [0.2, 5.0]).success
    assert volume_change("tweets", 5, None, [0.2, 5.0]).success  # first run


def features_df(spark, **overrides):
    columns = feature_columns(sorted(CFG.features.windows))
    rows = []
    for i, account in enumerate((1, 2)):
        values = {c: float(i) for c in columns}  # 0 and 1: inside every range, not constant
        values.update({k: v[i] for k, v in overrides.items()})
        rows.append((account, D, account, *[values[c] for c in columns]))
    schema = ", ".join(
        ["account_id long", "as_of_date date", "cluster_id long"] + [f"{c} double" for c in columns]
    )
    return jvm_rows(spark, rows, schema)


def check_features(df):
    return failures(run_checks(df, "account_features", features_suite(CFG, accounts=2)))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"tweets_7d": [1.0, float("nan")]}, ("ExpectColumnMaxToBeBetween", "tweets_7d")),
        ({"tweets_7d": [1.0, float("inf")]}, ("ExpectColumnMaxToBeBetween", "tweets_7d")),
        ({"tweets_7d": [float("-inf"), 1.0]}, ("ExpectColumnMinToBeBetween", "tweets_7d")),
        ({"logins_1d": [-1.0, 2.0]}, ("ExpectColumnMinToBeBetween", "logins_1d")),
        ({"self_dup_ratio_28d": [0.5, 1.5]}, ("ExpectColumnMaxToBeBetween", "self_dup_ratio_28d")),
        ({"hot_ips": [0.0, 0.0]}, ("ExpectColumnStdevToBeBetween", "hot_ips")),
    ],
    ids=["nan", "inf", "minus-inf", "negative-count", "ratio-above-one", "constant-column"],
)
def test_bad_features_are_caught_by_the_named_expectation(spark, overrides, expected):
    assert ("account_features", *expected) in check_features(features_df(spark, **overrides))


def test_clean_features_pass_and_constant_columns_are_only_warnings(spark):
    results = run_checks(features_df(spark), "account_features", features_suite(CFG, accounts=2))
    assert [r for r in results if r.is_critical_failure] == []
    constant = run_checks(
        features_df(spark, hot_ips=[0.0, 0.0]), "account_features", features_suite(CFG, 2)
    )
    failed = [(r.expectation, r.column, r.severity) for r in constant if not r.success]
    assert ("ExpectColumnStdevToBeBetween", "hot_ips", "warning") in failed
    assert {severity for *_, severity in failed} == {"warning"}


def test_missing_feature_rows_and_duplicate_accounts_are_caught(spark):
    df = features_df(spark)
    doubled = df.unionByName(df)
    got = failures(run_checks(doubled, "account_features", features_suite(CFG, accounts=3)))
    assert ("account_features", "ExpectColumnValuesToBeUnique", "account_id") in got
    assert ("account_features", "ExpectTableRowCountToEqual", "") in got
    assert doubled.columns[: len(KEY_COLUMNS)] == KEY_COLUMNS


def test_an_empty_feature_table_fails_on_its_row_count_first(spark):
    empty = features_df(spark).where("false")
    table_checks = [c for c in features_suite(CFG, accounts=0) if c.column == ""]
    results = run_checks(empty, "account_features", table_checks)
    assert failures(results) == {("account_features", "ExpectTableRowCountToBeBetween", "")}
    column = CheckResult(
        "account_features",
        "ExpectColumnMinToBeBetween",
        "tweets_1d",
        "critical",
        False,
        None,
        None,
        None,
        None,
    )
    warning = dataclasses.replace(results[0], column="x", severity="warning", success=False)
    ordered = critical_failures([column, warning, *results])
    assert [(r.expectation, r.column) for r in ordered] == [
        ("ExpectTableRowCountToBeBetween", ""),
        ("ExpectColumnMinToBeBetween", "tweets_1d"),
    ]


def test_severity_can_be_overridden_from_conf():
    checks = raw_suite(TWEETS, CFG, D)
    changed = apply_overrides(
        checks, "tweets", {"tweets.ExpectColumnMaxToBeBetween.event_date": "warning"}
    )
    by_key = {(c.expectation, c.column): c.severity for c in changed}
    assert by_key[("ExpectColumnMaxToBeBetween", "event_date")] == "warning"
    assert by_key[("ExpectColumnMaxToBeBetween", "created_at")] == "critical"


@pytest.mark.slow
def test_gate_passes_clean_data_and_stops_bad_data(spark, tmp_path, small_world):
    cfg = small_world(tmp_path)
    raw_results, report = run_validate(spark, cfg, "raw")
    assert all(r.success for r in raw_results if r.severity == "critical")
    assert "PASSED" in report.read_text()
    # (Real features passing their gate: every pipeline run of the end-to-end world.)

    tweets_path = str(tmp_path / "raw" / "tweets")
    future = (
        spark.read.format("delta")
        .load(tweets_path)
        .where(F.col("event_date") == D)
        .limit(1)
        .withColumn("tweet_id", F.lit(1).cast("long"))
        .withColumn("created_at", F.lit(dt.datetime(2030, 1, 1)))
    )
    future.write.format("delta").mode("append").save(tweets_path)
    with pytest.raises(QualityGateError) as gate:
        run_validate(spark, cfg, "raw")
    message = str(gate.value)
    assert "tweets.created_at: ExpectColumnMaxToBeBetween failed, observed" in message
    assert "2030-01-01" in message
    # The gate is checked where stages run (pipeline.run_stage: the CLI, jobs, pipeline).
    with pytest.raises(QualityGateError, match="features: the raw quality gate failed"):
        run_stage(spark, cfg, FEATURES)
    assert run_stage(spark, cfg, FEATURES, RunOptions(force=True)).accounts == 300
    runs = spark.read.format("delta").load(str(tmp_path / "audit" / "runs"))
    refused = runs.where("stage = 'features' AND status = 'failed'").collect()
    assert len(refused) == 1
    assert "QualityGateError" in refused[0]["error"]

    stored = spark.read.format("delta").load(str(tmp_path / "quality" / "quality_results"))
    raw_rows = stored.where((F.col("stage") == "raw") & (F.col("as_of_date") == D))
    assert raw_rows.where("NOT success AND severity = 'critical'").count() >= 1
    assert raw_rows.count() == len(raw_results)  # the rerun replaced, not appended
    assert dataclasses.is_dataclass(raw_results[0])


def test_quality_report_is_a_page_of_the_shared_renderer_with_failures_first():
    results = [
        CheckResult(
            "tweets", "ExpectColumnValuesToBeUnique", "id", "warning", True, None, None, None, "a<b"
        ),
        CheckResult(
            "tweets",
            "ExpectColumnMaxToBeBetween",
            "created_at",
            "critical",
            False,
            "2030-01-01",
            1,
            0.1,
            None,
        ),
    ]
    page = render_report("raw", D, results)
    assert "<h1>Data quality: raw for 2026-11-28: FAILED</h1>" in page
    assert "2 expectations, 1 failed (1 critical, 0 warnings)." in page
    assert page.index('<tr class="critical"><td>tweets</td><td>created_at</td>') < page.index(
        '<tr class="ok">'
    )
    assert "<td>a&lt;b</td>" in page  # values are escaped
    assert "PASSED" in render_report("raw", D, results[:1])
