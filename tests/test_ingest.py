"""Ingest: clean rows land intact, every kind of bad row is quarantined with its reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from botdetect.cli import main
from botdetect.contract import ACCOUNTS, INTERACTIONS, OPS_ACTIONS, SOURCE_TABLES, TWEETS
from botdetect.generate.stage import run_generate
from botdetect.ingest import (
    RejectLimitError,
    SchemaMismatchError,
    ingest_table,
    run_ingest,
)
from botdetect.io.landing import SourceNotFoundError, describe_unreadable_file, write_export
from botdetect.io.tables import TableRef, table_version
from botdetect.table_catalog import QUARANTINE
from tests.conftest import SMALL_WORLD, jvm_rows, tiny_config

AS_OF = dt.date(2026, 11, 28)
STRINGS = T.StructType([T.StructField(c, T.StringType()) for c in TWEETS.columns])
TS = dt.datetime


def write_source(spark, cfg, name, rows, schema, fmt="parquet"):
    path = f"{cfg.storage.landing_root}/{name}"
    jvm_rows(spark, rows, schema).write.mode("overwrite").format(fmt).option("header", "true").save(
        path
    )


def raw(spark, cfg, name):
    return spark.read.format("delta").load(f"{cfg.storage.root}/raw/{name}")


def quarantine(spark, cfg):
    return spark.read.format("delta").load(f"{cfg.storage.root}/quality/quarantine")


def tweet(tweet_id, account_id, created_at, event_date, text="hi", parent=None, mentions="[]"):
    return (tweet_id, account_id, created_at, text, parent, mentions, event_date)


GOOD = [
    tweet("1", "10", "2026-11-28 08:00:00", "2026-11-28", mentions="[11, 12]"),
    tweet("2", "11", "2026-11-28T01:30:00+02:00", "2026-11-27", parent="1"),
]
BAD = [
    tweet(None, "10", "2026-11-28 09:00:00", "2026-11-28"),
    tweet("3", "10", "yesterday", "2026-11-28"),
    tweet("4", "abc", "2026-11-28 10:00:00", "2026-11-28"),
    tweet("5", "10", "2026-11-28 10:00:00", "2026-11-26"),
    tweet("6", "10", "2026-11-28 10:00:00", "2026-11-28", mentions="not json"),
    tweet("1", "10", "2026-11-28 08:00:00", "2026-11-28", mentions="[11, 12]"),
]


@pytest.fixture
def cfg(tmp_path: Path):
    return tiny_config(tmp_path, "ingest.days=3", "ingest.max_reject_fraction=1.0")


def test_clean_rows_land_intact_and_times_are_utc(spark, cfg):
    write_source(spark, cfg, "tweets", GOOD, STRINGS)
    result = ingest_table(spark, cfg, TWEETS, AS_OF)
    expected = jvm_rows(
        spark,
        [
            (1, 10, TS(2026, 11, 28, 8), "hi", None, [11, 12], dt.date(2026, 11, 28)),
            (2, 11, TS(2026, 11, 27, 23, 30), "hi", 1, [], dt.date(2026, 11, 27)),
        ],
        TWEETS.schema,
    )
    assert_df_equality(
        raw(spark, cfg, "tweets"), expected, ignore_row_order=True, ignore_nullable=True
    )
    assert (result.read, result.written, result.quarantined) == (2, 2, 0)


def test_each_kind_of_bad_row_is_quarantined_with_its_reason(spark, cfg):
    write_source(spark, cfg, "tweets", GOOD + BAD, STRINGS)
    result = ingest_table(spark, cfg, TWEETS, AS_OF)
    got = quarantine(spark, cfg).select("source_table", "rule", "column", "batch_date")
    expected = jvm_rows(
        spark,
        [
            ("tweets", "null_key", "tweet_id", AS_OF),
            ("tweets", "unparseable_timestamp", "created_at", AS_OF),
            ("tweets", "bad_type", "account_id", AS_OF),
            ("tweets", "event_date_mismatch", "event_date", AS_OF),
            ("tweets", "bad_type", "mentioned_account_ids", AS_OF),
            ("tweets", "duplicate_key", "tweet_id", AS_OF),
        ],
        "source_table string, rule string, column string, batch_date date",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    assert raw(spark, cfg, "tweets").count() == 2
    assert (result.read, result.written, result.quarantined) == (8, 2, 6)
    records = [r["record"] for r in quarantine(spark, cfg).collect()]
    assert any('"created_at":"yesterday"' in r for r in records)  # the original is kept
    stored = quarantine(spark, cfg).schema
    assert [(f.name, f.dataType) for f in stored] == [
        (f.name, f.dataType) for f in QUARANTINE.schema
    ]  # the catalogue's declaration


def test_unknown_enum_and_wrong_boolean_are_quarantined(spark, cfg):
    schema = T.StructType([T.StructField(c, T.StringType()) for c in INTERACTIONS.columns])
    rows = [
        ("10", "1", "favorite", "2026-11-28 08:00:00", "2026-11-28"),
        ("10", "1", "retweeet", "2026-11-28 08:00:01", "2026-11-28"),
    ]
    write_source(spark, cfg, "interactions", rows, schema)
    ingest_table(spark, cfg, INTERACTIONS, AS_OF)
    got = quarantine(spark, cfg).select("rule", "column")
    assert [tuple(r) for r in got.collect()] == [("unknown_enum", "action")]

    acc_schema = T.StructType([T.StructField(c, T.StringType()) for c in ACCOUNTS.columns])
    write_source(
        spark,
        cfg,
        "accounts",
        [("10", "ana", "Ana", "2020-01-01 00:00:00", "7", "1.2.3.4", "perhaps")],
        acc_schema,
    )
    result = ingest_table(spark, cfg, ACCOUNTS, AS_OF)
    assert result.by_rule == {"bad_type:verified": 1}


def test_snapshot_rows_dated_after_the_as_of_date_are_held_back_not_lost(spark, cfg):
    acc_schema = T.StructType([T.StructField(c, T.StringType()) for c in ACCOUNTS.columns])
    rows = [
        ("10", "ana", "Ana", "2026-11-28 23:59:59", "7", "1.2.3.4", "false"),
        ("11", "bo", "Bo", "2026-11-29 00:00:00", "8", "1.2.3.5", "false"),  # tomorrow
    ]
    write_source(spark, cfg, "accounts", rows, acc_schema)
    result = ingest_table(spark, cfg, ACCOUNTS, AS_OF)
    assert (result.read, result.written, result.quarantined, result.held_back) == (2, 1, 0, 1)
    assert [r["account_id"] for r in raw(spark, cfg, "accounts").collect()] == [10]
    later = ingest_table(spark, cfg, ACCOUNTS, AS_OF + dt.timedelta(days=1))
    assert (later.written, later.held_back) == (2, 0)  # it lands on its own date


def test_rerun_replaces_instead_of_appending(spark, cfg):
    write_source(spark, cfg, "tweets", GOOD + BAD, STRINGS)
    ingest_table(spark, cfg, TWEETS, AS_OF)
    first = raw(spark, cfg, "tweets")
    first_rows = first.collect()
    ingest_table(spark, cfg, TWEETS, AS_OF)
    assert_df_equality(
        raw(spark, cfg, "tweets"),
        jvm_rows(spark, first_rows, first.schema),
        ignore_row_order=True,
    )
    assert quarantine(spark, cfg).count() == 6
    history = DeltaTable.forPath(spark, f"{cfg.storage.root}/raw/tweets").history()
    modes = [r["operationParameters"]["mode"] for r in history.collect()]
    assert modes == ["Overwrite", "Overwrite"]


def test_incremental_run_touches_only_its_dates(spark, tmp_path):
    cfg = tiny_config(tmp_path, "ingest.days=1")
    rows = [
        tweet("1", "10", "2026-11-27 08:00:00", "2026-11-27"),
        tweet("2", "10", "2026-11-28 08:00:00", "2026-11-28"),
    ]
    write_source(spark, cfg, "tweets", rows, STRINGS)
    ingest_table(spark, cfg, TWEETS, AS_OF)
    assert [r["tweet_id"] for r in raw(spark, cfg, "tweets").collect()] == [2]
    ingest_table(spark, cfg, TWEETS, AS_OF - dt.timedelta(days=1))
    ingest_table(spark, cfg, TWEETS, AS_OF)
    ids = sorted(r["tweet_id"] for r in raw(spark, cfg, "tweets").collect())
    assert ids == [1, 2]


def test_missing_export_fails_naming_the_table(spark, cfg):
    with pytest.raises(SourceNotFoundError, match="no export for table 'tweets'"):
        ingest_table(spark, cfg, TWEETS, AS_OF)


def test_an_export_folder_without_data_files_is_refused_not_read_as_empty(spark, cfg):
    # A partitioned writer leaves no file at all for an empty table: nothing says which
    # columns it had, and zero rows would replace the raw table with nothing.
    write_export(jvm_rows(spark, [], TWEETS.schema), cfg.storage.landing_root, TWEETS, "parquet")
    with pytest.raises(SourceNotFoundError) as err:
        ingest_table(spark, cfg, TWEETS, AS_OF)
    assert str(err.value) == (
        f"ingest: the export of table 'tweets' at {cfg.storage.landing_root}/tweets holds no "
        "data files (empty or unfinished); an export with no rows must still carry a file "
        "with its schema"
    )


def test_an_export_with_no_rows_gives_an_empty_table(spark, cfg):
    # A file that carries the schema and no row: the export of an empty platform.
    empty = jvm_rows(spark, [], TWEETS.schema)
    empty.write.parquet(f"{cfg.storage.landing_root}/tweets")
    result = ingest_table(spark, cfg, TWEETS, AS_OF, full=True)
    assert (result.read, result.written, result.quarantined) == (0, 0, 0)
    assert raw(spark, cfg, "tweets").count() == 0
    assert raw(spark, cfg, "tweets").schema == TWEETS.schema


def _parquet_files(cfg, name):
    return sorted(Path(cfg.storage.landing_root, name).rglob("*.parquet"))


# Spark reads one file's footer to infer the schema when the export is loaded, and the
# others in the first action: a damaged file must be caught in both places.
@pytest.mark.parametrize(
    ("day", "checksum", "why"),
    [
        ("2026-11-27", False, "not a valid Parquet file: truncated or corrupt"),
        (
            "2026-11-28",
            True,  # the local file system also has the file's stale .crc
            "its checksum does not match: changed after it was written, or corrupt",
        ),
    ],
)
def test_a_truncated_export_file_fails_naming_table_and_file_and_writes_nothing(
    spark, cfg, capsys, day, checksum, why
):
    typed = jvm_rows(
        spark,
        [
            (1, 10, TS(2026, 11, 28, 8), "hi", None, [11], AS_OF),
            (2, 11, TS(2026, 11, 27, 8), "yo", None, [], dt.date(2026, 11, 27)),
        ],
        TWEETS.schema,
    )
    write_export(typed, cfg.storage.landing_root, TWEETS, "parquet")
    argv = ["ingest", "--table", "tweets", "--as-of-date", AS_OF.isoformat()]
    argv += ["--set", f"storage.root={cfg.storage.root}", "--set", "ingest.days=3"]
    assert main(argv) == 0
    refs = [
        TableRef("raw", "tweets", path=f"{cfg.storage.root}/raw/tweets"),
        TableRef("quality", "quarantine", path=f"{cfg.storage.root}/quality/quarantine"),
    ]
    versions = [table_version(spark, ref) for ref in refs]
    capsys.readouterr()

    # The file loses its second half, as in an interrupted copy.
    damaged = next(p for p in _parquet_files(cfg, "tweets") if f"event_date={day}" in str(p))
    damaged.write_bytes(damaged.read_bytes()[:200])
    if not checksum:
        for crc in damaged.parent.glob(".*.crc"):
            crc.unlink()

    assert main(argv) == 1
    assert capsys.readouterr().err == (
        f"botdetect ingest: error: ingest: table 'tweets': export file {damaged} cannot be "
        f"read ({why}); nothing was written for this table: replace or remove the file and "
        "rerun\n"
    )
    assert [table_version(spark, ref) for ref in refs] == versions  # no new Delta version
    assert raw(spark, cfg, "tweets").count() == 2


def test_unreadable_file_messages_come_from_sparks_error_text():
    text = (
        "An error occurred while calling o75.load.\n: org.apache.spark.SparkException: "
        "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
        "file:///data/landing/logins/event_date=2026-11-28/part-0.csv.  SQLSTATE: KD001"
    )
    assert describe_unreadable_file(text) == (
        "file /data/landing/logins/event_date=2026-11-28/part-0.csv cannot be read "
        "(Spark error FAILED_READ_FILE.NO_HINT)"
    )
    assert describe_unreadable_file("[PATH_NOT_FOUND] Path does not exist") is None


@pytest.mark.parametrize(
    ("drop", "add", "message"),
    [
        ("text", None, "table 'tweets' is missing column 'text'"),
        (None, ("country", "'pt'"), "table 'tweets' has unexpected column 'country'"),
        (
            None,
            ("account_id", "named_struct('x', 1)"),
            "column 'account_id' has type struct<x:int>, which cannot hold bigint",
        ),
    ],
)
def test_schema_drift_fails_naming_table_and_column(spark, cfg, drop, add, message):
    df = jvm_rows(spark, GOOD, STRINGS)
    if drop:
        df = df.drop(drop)
    if add:
        df = df.withColumn(add[0], F.expr(add[1]))
    df.write.mode("overwrite").parquet(f"{cfg.storage.landing_root}/tweets")
    with pytest.raises(SchemaMismatchError, match=message.replace("(", r"\(")):
        ingest_table(spark, cfg, TWEETS, AS_OF)


OLD_OPS_COLUMNS = ("account_id", "action_at", "restriction", "reason", "reviewer_note")
OLD_OPS = T.StructType([T.StructField(c, T.StringType()) for c in OLD_OPS_COLUMNS])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_ops_export_older_than_the_review_fields_ingests_with_them_null(spark, tmp_path, fmt):
    cfg = tiny_config(tmp_path, f"ingest.source_format={fmt}")
    write_source(
        spark,
        cfg,
        "ops_actions",
        [("10", "2026-11-20 09:00:00", "suspend", "spam", "case 1")],
        OLD_OPS,
        fmt,
    )
    result = ingest_table(spark, cfg, OPS_ACTIONS, AS_OF)
    assert (result.read, result.written, result.quarantined) == (1, 1, 0)
    expected = jvm_rows(
        spark,
        [(10, TS(2026, 11, 20, 9), "suspend", "spam", "case 1", None, None)],
        OPS_ACTIONS.schema,
    )
    assert_df_equality(raw(spark, cfg, "ops_actions"), expected)


def test_review_verdicts_ingest_and_a_bad_trigger_or_duration_is_quarantined(spark, cfg):
    strings = T.StructType([T.StructField(c, T.StringType()) for c in OPS_ACTIONS.columns])
    rows = [
        ("10", "2026-11-20 09:00:00", "none", "spam", None, "random_audit", "4.5"),
        ("11", "2026-11-20 10:00:00", "suspend", "spam", "n", "model_queue", "12"),
        ("12", "2026-11-20 11:00:00", "none", "spam", None, "a hunch", "3"),
        ("13", "2026-11-20 12:00:00", "none", "spam", None, "user_report", "ten"),
    ]
    write_source(spark, cfg, "ops_actions", rows, strings)
    ingest_table(spark, cfg, OPS_ACTIONS, AS_OF)
    expected = jvm_rows(
        spark,
        [
            (10, TS(2026, 11, 20, 9), "none", "spam", None, "random_audit", 4.5),
            (11, TS(2026, 11, 20, 10), "suspend", "spam", "n", "model_queue", 12.0),
        ],
        OPS_ACTIONS.schema,
    )
    assert_df_equality(raw(spark, cfg, "ops_actions"), expected, ignore_row_order=True)
    rules = sorted(
        (r["rule"], r["column"]) for r in quarantine(spark, cfg).select("rule", "column").collect()
    )
    assert rules == [("bad_type", "review_minutes"), ("unknown_enum", "review_trigger")]


def test_renamed_column_is_reported_as_missing(spark, cfg):
    df = jvm_rows(spark, GOOD, STRINGS).withColumnRenamed("created_at", "created")
    df.write.mode("overwrite").parquet(f"{cfg.storage.landing_root}/tweets")
    with pytest.raises(SchemaMismatchError, match="missing column 'created_at'"):
        ingest_table(spark, cfg, TWEETS, AS_OF)


def test_too_many_rejects_fail_and_leave_the_raw_table_alone(spark, tmp_path):
    cfg = tiny_config(tmp_path, "ingest.days=3", "ingest.max_reject_fraction=0.5")
    write_source(spark, cfg, "tweets", GOOD, STRINGS)
    ingest_table(spark, cfg, TWEETS, AS_OF)
    write_source(spark, cfg, "tweets", BAD, STRINGS)
    with pytest.raises(RejectLimitError, match="table 'tweets' rejected 5 of 6 rows"):
        ingest_table(spark, cfg, TWEETS, AS_OF)
    assert raw(spark, cfg, "tweets").count() == 2  # the previous good load is untouched
    assert quarantine(spark, cfg).count() == 5  # and the rejected rows are kept


def assert_ingested_cleanly(generated: dict[str, int], results: list) -> None:
    assert {r.table for r in results} == set(SOURCE_TABLES)
    for r in results:
        assert r.quarantined == 0, (r.table, r.by_rule)
        assert r.written == generated[r.table], r.table


@pytest.mark.slow
def test_generated_world_ingests_cleanly_from_parquet(small_world_built):
    # The small world (conftest.py) is exported as Parquet, the default format.
    assert tiny_config(small_world_built.root, *SMALL_WORLD).generate.format == "parquet"
    assert_ingested_cleanly(small_world_built.generated, small_world_built.ingested)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_generated_world_ingests_cleanly_from_text_formats(spark, tmp_path, fmt):
    cfg = tiny_config(
        tmp_path,
        "generate.accounts=400",
        "generate.days=3",
        f"generate.format={fmt}",
        f"ingest.source_format={fmt}",
    )
    report = run_generate(spark, cfg)
    assert_ingested_cleanly(report.rows, run_ingest(spark, cfg, full=True))
    mentions = raw(spark, cfg, "tweets").where(F.size("mentioned_account_ids") > 0)
    assert mentions.count() > 0  # arrays survive the text formats
