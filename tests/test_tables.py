"""Delta writes: concurrent commits are retried, other failures are not."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from chispa import assert_df_equality
from delta.exceptions import ConcurrentAppendException
from pyspark.errors import AnalysisException
from pyspark.sql import functions as F

from botdetect.io import tables
from tests.conftest import jvm_rows


def test_a_concurrent_commit_is_retried_until_the_write_lands(monkeypatch):
    monkeypatch.setattr(tables, "BACKOFF_SECONDS", 0.0)
    calls = []

    def write():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException("files were added to partition as_of_date=...")

    tables.with_retries(write, "write scores.scores")
    assert len(calls) == 3


def test_retries_give_up_after_the_last_attempt_and_other_errors_are_not_retried(monkeypatch):
    monkeypatch.setattr(tables, "BACKOFF_SECONDS", 0.0)
    calls = []

    def always_conflicts():
        calls.append(1)
        raise ConcurrentAppendException("conflict")

    with pytest.raises(ConcurrentAppendException):
        tables.with_retries(always_conflicts, "write x", attempts=3)
    assert len(calls) == 3

    def broken():
        calls.append(1)
        raise ValueError("not a conflict")

    calls.clear()
    with pytest.raises(ValueError):
        tables.with_retries(broken, "write x")
    assert len(calls) == 1


def _table(spark, tmp_path):
    ref = tables.TableRef("scores", "scores", path=str(tmp_path / "scores" / "scores"))
    tables.write_table(jvm_rows(spark, [(1, 0.5)], "account_id long, score double"), ref)
    return ref


def test_a_damaged_delta_log_is_a_clear_error_naming_the_table(spark, tmp_path):
    ref = _table(spark, tmp_path)
    assert tables.read_table(spark, ref).count() == 1
    log = next((tmp_path / "scores" / "scores" / "_delta_log").glob("*.json"))
    log.write_text("{not json")
    # Delta reads its log lazily: the failure surfaces in whichever action comes first.
    with pytest.raises(Exception) as failure:
        tables.read_table(spark, ref).collect()
    message = tables.describe_damaged_log(failure.value)
    assert message is not None
    assert f"{tmp_path}/scores/scores is damaged (00000000000000000000.json" in message
    assert tables.describe_damaged_log(ValueError("an unrelated failure")) is None


def test_a_missing_delta_log_reads_as_a_missing_table(spark, tmp_path):
    ref = _table(spark, tmp_path)
    for entry in (tmp_path / "scores" / "scores" / "_delta_log").iterdir():
        if entry.is_file():
            entry.unlink()
    with pytest.raises((tables.TableNotFoundError, tables.TableReadError), match=r"scores\.scores"):
        tables.read_table(spark, ref).collect()


def _file_ranges(spark, ref):
    """Per data file of the table: its rows and its smallest and largest account_id."""
    rows = (
        tables.read_table(spark, ref)
        .groupBy(F.col("_metadata.file_path").alias("file"))
        .agg(
            F.count("*").alias("n"),
            F.min("account_id").alias("lo"),
            F.max("account_id").alias("hi"),
        )
        .orderBy("lo")
        .collect()
    )
    return [(r.n, r.lo, r.hi) for r in rows]


def _scrambled_accounts(spark, n):
    # Round-robin partitions: every input partition spans the whole id range.
    return (
        spark.range(n)
        .select(
            ((F.col("id") * 7919) % n).alias("account_id"),
            F.lit(dt.date(2026, 11, 28)).alias("as_of_date"),
            (F.col("id") / n).alias("score"),
        )
        .repartition(3)
    )


def test_a_clustered_date_partition_gives_each_file_its_own_account_range(spark, tmp_path):
    ref = tables.TableRef("scores", "scores", path=str(tmp_path / "scores"))
    day = dt.date(2026, 11, 28)
    previous = spark.conf.get("spark.sql.files.maxRecordsPerFile")
    spark.conf.set("spark.sql.files.maxRecordsPerFile", "300")
    try:
        written = tables.write_date_partition(
            _scrambled_accounts(spark, 1000), ref, "as_of_date", day, cluster_by="account_id"
        )
    finally:
        spark.conf.set("spark.sql.files.maxRecordsPerFile", previous)
    assert_df_equality(
        written, _scrambled_accounts(spark, 1000), ignore_row_order=True, ignore_nullable=True
    )
    ranges = _file_ranges(spark, ref)
    assert sum(n for n, _, _ in ranges) == 1000
    assert len(ranges) >= 4 and all(n <= 300 for n, _, _ in ranges)  # 1000 rows, 300 a file
    # Disjoint, ordered ranges: a lookup of one account reads one file.
    assert all(hi < next_lo for (_, _, hi), (_, next_lo, _) in itertools.pairwise(ranges))
    # Rows are sorted inside each file (Parquet row-group statistics skip within it).
    by_file = (
        tables.read_table(spark, ref)
        .select(F.col("_metadata.file_path").alias("file"), "account_id")
        .collect()
    )
    for file in {r.file for r in by_file}:
        ids = [r.account_id for r in by_file if r.file == file]
        assert ids == sorted(ids)


def test_an_unclustered_write_spreads_every_range_over_all_files(spark, tmp_path):
    # The contrast that makes the test above meaningful: the same rows written as they come.
    ref = tables.TableRef("scores", "scores", path=str(tmp_path / "scores"))
    tables.write_date_partition(
        _scrambled_accounts(spark, 1000), ref, "as_of_date", dt.date(2026, 11, 28)
    )
    ranges = _file_ranges(spark, ref)
    assert len(ranges) == 3
    assert all(lo < 10 and hi > 990 for _, lo, hi in ranges)


def test_clustering_an_empty_slice_writes_an_empty_partition(spark, tmp_path):
    ref = tables.TableRef("scores", "scores", path=str(tmp_path / "scores"))
    empty = _scrambled_accounts(spark, 0)
    written = tables.write_date_partition(
        empty, ref, "as_of_date", dt.date(2026, 11, 28), cluster_by="account_id"
    )
    assert written.count() == 0
    assert written.columns == ["account_id", "as_of_date", "score"]


def test_a_date_partition_may_add_a_column_and_older_dates_read_it_as_null(spark, tmp_path):
    ref = tables.TableRef("features", "account_features", path=str(tmp_path / "f"))
    first, second = dt.date(2026, 11, 27), dt.date(2026, 11, 28)
    rows = jvm_rows(spark, [(1, first, 2)], "account_id long, as_of_date date, a long")
    tables.write_date_partition(rows, ref, "as_of_date", first)
    grown = jvm_rows(
        spark, [(1, second, 3, 0.5)], "account_id long, as_of_date date, a long, b double"
    )
    tables.write_date_partition(grown, ref, "as_of_date", second)
    expected = jvm_rows(
        spark,
        [(1, first, 2, None), (1, second, 3, 0.5)],
        "account_id long, as_of_date date, a long, b double",
    )
    assert_df_equality(tables.read_table(spark, ref), expected, ignore_row_order=True)
    # A changed type is not an added column: the write fails and the table is unchanged.
    retyped = jvm_rows(spark, [(1, second, "x")], "account_id long, as_of_date date, a string")
    with pytest.raises(AnalysisException, match="DELTA_FAILED_TO_MERGE_FIELDS"):
        tables.write_date_partition(retyped, ref, "as_of_date", second)
    assert_df_equality(tables.read_table(spark, ref), expected, ignore_row_order=True)
