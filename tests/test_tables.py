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
