"""Rerun a job for a date the end-to-end world already has and check that it replaced its
own slice of each table it writes (test_idempotency.py explains the three checks; the
killed-write tests in test_faults.py end with the same rerun)."""

from __future__ import annotations

import dataclasses

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.io.tables import TableRef, read_table, table_ref, table_version
from botdetect.table_catalog import AUDIT_RUNS
from tests.conftest import E2E_DATE

D = E2E_DATE
DAY = D.isoformat()


@dataclasses.dataclass(frozen=True)
class Slice:
    """A table, the rows one run of a job owns in it, and how it is replaced."""

    ref: TableRef
    rows: Column | None  # None: the job owns the whole table
    predicate: str | None  # text the commit's replaceWhere predicate must contain
    commits: int | None = 1  # None: one per non-empty write (the quarantine: per table)
    ignore: tuple[str, ...] = ()  # columns a rerun rewrites by design (a check's timestamp)


def _version_as_of(spark, ref: TableRef, version: int) -> DataFrame:
    return spark.read.format("delta").option("versionAsOf", version).load(ref.path)


def _commits_since(spark, ref: TableRef, version: int) -> list[Row]:
    history = DeltaTable.forPath(spark, ref.path).history()
    return history.where(F.col("version") > version).orderBy("version").collect()


def _successful_runs(spark, cfg, stage: str) -> int:
    runs = read_table(spark, AUDIT_RUNS.ref(cfg.storage))
    done = (F.col("stage") == stage) & (F.col("as_of_date") == F.lit(D))
    return runs.where(done & (F.col("status") == "success")).count()


def assert_same_rows(before: DataFrame, after: DataFrame, label: str) -> None:
    """Equal as multisets of rows, compared in Spark (no table reaches the driver)."""
    assert before.columns == after.columns, label
    missing, extra = before.exceptAll(after), after.exceptAll(before)
    assert (missing.count(), extra.count()) == (0, 0), (
        f"{label}: rows lost {missing.limit(3).collect()}, rows added {extra.limit(3).collect()}"
    )


def rerun_and_check(spark, world, argv: list[str], stage: str, slices: list[Slice]) -> None:
    """Run `argv` once more and check every slice it writes (see the module docstring)."""
    versions = {s.ref.label: table_version(spark, s.ref) for s in slices}
    assert all(v is not None for v in versions.values()), versions
    runs = _successful_runs(spark, world.cfg, stage)

    assert main([*argv, "--as-of-date", DAY, *world.args]) == 0

    assert _successful_runs(spark, world.cfg, stage) == runs + 1
    for s in slices:
        before = _version_as_of(spark, s.ref, versions[s.ref.label])
        after = read_table(spark, s.ref)
        mine = after if s.rows is None else after.where(s.rows)
        was = before if s.rows is None else before.where(s.rows)
        assert_same_rows(was.drop(*s.ignore), mine.drop(*s.ignore), s.ref.label)
        assert after.count() == before.count(), s.ref.label
        commits = _commits_since(spark, s.ref, versions[s.ref.label])
        if s.commits is not None:
            assert len(commits) == s.commits, (s.ref.label, [c["operation"] for c in commits])
        for commit in commits:
            params = commit["operationParameters"]
            assert (commit["operation"], params["mode"]) == ("WRITE", "Overwrite"), s.ref.label
            if s.predicate is not None:
                assert s.predicate in params["predicate"], (s.ref.label, params)
        written = sum(int(c["operationMetrics"]["numOutputRows"]) for c in commits)
        assert written == mine.count(), s.ref.label  # replaced, not appended to


def world_ref(world, layer: str, name: str) -> TableRef:
    """The table `layer.name` of the end-to-end world."""
    return table_ref(world.cfg.storage, layer, name)
