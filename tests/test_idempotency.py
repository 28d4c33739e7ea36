"""Every job is idempotent for its date: a rerun replaces its own slice, never appends.

Each test reruns one job through the CLI on the end-to-end world (`e2e_world`, after its
two pipeline runs) for a date the world already has, then checks three things:

- the date's slice of the table holds exactly the rows it held in the Delta version from
  before the rerun (compared both ways in Spark, duplicates counted), and the whole table
  as many rows as before;
- the rerun made one Delta commit per write, an overwrite of the date's slice (a
  `replaceWhere` predicate naming the date, so nothing outside it can change) that wrote
  as many rows as the slice holds: replaced, not appended to;
- `audit.runs`, an append-only log by design, got exactly one row for the run.

The score stage's rerun is tested in test_end_to_end.py. Other tests use this world
afterwards: every rerun here leaves its content as it was; the one addition is the labels
of D (test_labels_rerun_replaces_the_date), which the notebooks and the privacy scan read
like any other date's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.contract import SOURCE_TABLES
from botdetect.io.tables import TableRef, read_table, table_ref, table_version
from botdetect.table_catalog import AUDIT_RUNS
from tests.conftest import E2E_DATE, E2E_FIRST

pytestmark = pytest.mark.slow

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


def _ref(world, layer: str, name: str) -> TableRef:
    return table_ref(world.cfg.storage, layer, name)


def test_ingest_rerun_replaces_the_days_events_the_snapshots_and_the_quarantine(spark, e2e_world):
    on_day = F.col("event_date") == F.lit(D)
    slices = [
        Slice(_ref(e2e_world, "raw", name), on_day, f"event_date <= '{DAY}'")
        if table.is_event_table
        else Slice(_ref(e2e_world, "raw", name), None, None)  # snapshots: replaced whole
        for name, table in SOURCE_TABLES.items()
    ]
    slices.append(
        Slice(
            _ref(e2e_world, "quality", "quarantine"),
            F.col("batch_date") == F.lit(D),
            f"batch_date = '{DAY}'",
            commits=None,  # Delta commits nothing for a table with no rejected rows
        )
    )
    rerun_and_check(spark, e2e_world, ["ingest"], "ingest", slices)
    tweets = read_table(spark, _ref(e2e_world, "raw", "tweets"))
    assert tweets.where(on_day).count() > 0  # the day was there to replace


def test_validate_rerun_replaces_the_stages_results_for_the_date(spark, e2e_world):
    # Both stages write their results through the same replaceWhere on (stage, date); the
    # features stage is the quicker one to rerun (the raw stage validates six tables).
    results = Slice(
        _ref(e2e_world, "quality", "quality_results"),
        (F.col("stage") == "features") & (F.col("as_of_date") == F.lit(D)),
        f"stage = 'features' AND as_of_date = '{DAY}'",
        ignore=("checked_at",),  # when the check ran: new on every run
    )
    rerun_and_check(spark, e2e_world, ["validate", "--stage", "features"], "validate", [results])


def test_features_rerun_replaces_the_days_partials_and_features(spark, e2e_world):
    slices = [
        Slice(
            _ref(e2e_world, "features", "features_daily"),
            F.col("event_date") == F.lit(D),
            f"'{DAY}')",  # the last date of `event_date IN (...)`: the run's own day
        ),
        Slice(
            _ref(e2e_world, "features", "account_features"),
            F.col("as_of_date") == F.lit(D),
            f"as_of_date = '{DAY}'",
        ),
    ]
    rerun_and_check(spark, e2e_world, ["features"], "features", slices)


def test_labels_rerun_replaces_the_date(spark, e2e_world):
    # The world has labels for its training date only; the first run for D writes D's
    # partition. It runs for D + 3 with a 3-day label lag, so it also checks that the lag
    # moves labels back to the matured date through the CLI.
    lagged = (D + dt.timedelta(days=3)).isoformat()
    labels = _ref(e2e_world, "labels", "labels")
    argv = ["labels", "--as-of-date", lagged, *e2e_world.args, "--set", "train.label_lag_days=3"]
    assert main(argv) == 0
    dates = read_table(spark, labels).select("as_of_date").distinct().collect()
    assert sorted(r["as_of_date"] for r in dates) == [E2E_FIRST, D]

    date_rows = F.col("as_of_date") == F.lit(D)
    rerun_and_check(
        spark, e2e_world, ["labels"], "labels", [Slice(labels, date_rows, f"as_of_date = '{DAY}'")]
    )


def test_report_rerun_replaces_the_dates_monitoring_rows(spark, e2e_world):
    monitoring = Slice(
        _ref(e2e_world, "monitoring", "monitoring"),
        F.col("as_of_date") == F.lit(D),
        f"as_of_date = '{DAY}'",
    )
    rerun_and_check(spark, e2e_world, ["report"], "report", [monitoring])
