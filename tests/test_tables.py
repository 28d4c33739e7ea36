"""Delta writes: concurrent commits are retried, other failures are not."""

from __future__ import annotations

import pytest
from delta.exceptions import ConcurrentAppendException

from botdetect.io import tables


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
    tables.write_table(spark.createDataFrame([(1, 0.5)], "account_id long, score double"), ref)
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
