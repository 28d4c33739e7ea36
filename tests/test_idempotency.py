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

The features and score jobs' reruns are the second half of their killed-write tests
(test_faults.py), with the same checks (`tests/reruns.py`). Other tests use this world
afterwards: every rerun here leaves its content as it was; the one addition is the labels
of D (test_labels_rerun_replaces_the_date), which the notebooks and the privacy scan read
like any other date's.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.contract import SOURCE_TABLES
from botdetect.io.tables import read_table
from tests.conftest import E2E_FIRST
from tests.reruns import DAY, D, Slice, rerun_and_check
from tests.reruns import world_ref as _ref

pytestmark = pytest.mark.slow


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
