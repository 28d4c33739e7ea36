"""Faults and concurrency: a driver killed (SIGKILL) in the middle of a write leaves the
table as it was and a rerun gives exactly the uninterrupted result; concurrent score runs
for different dates both land, and for one date never leave two copies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.io.tables import read_table, table_ref, table_version
from botdetect.table_catalog import SCORES
from tests.conftest import E2E_ACCOUNTS, E2E_DATE, E2E_FIRST, jvm_rows

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _data_files(folder: Path) -> set[Path]:
    return set(folder.rglob("*.parquet")) if folder.exists() else set()


def kill_during_write(argv: list[str], table_dir: Path, timeout: float = 600) -> str:
    """Run a job and SIGKILL its process group once a new data file appears in the table
    (Delta writes data files first and commits the log entry last). Returns its output."""
    before = _data_files(table_dir)
    job = subprocess.Popen(
        [sys.executable, str(ROOT / "jobs" / f"{argv[0]}.py"), *argv[1:]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if _data_files(table_dir) - before:
                os.killpg(job.pid, signal.SIGKILL)
                break
            if job.poll() is not None:
                out = job.stdout.read() if job.stdout else ""
                pytest.fail(
                    f"{argv[0]} ended before its write could be interrupted:\n{out[-3000:]}"
                )
            time.sleep(0.02)
        else:
            pytest.fail(f"{argv[0]} wrote nothing to {table_dir} in {timeout} s")
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
    assert job.returncode == -signal.SIGKILL
    return job.stdout.read() if job.stdout else ""


# The scores are the score job's only write; the day's feature partials are the features
# job's first, so that job is killed before its roll-up (most of its time).
@pytest.mark.parametrize(
    ("stage", "layer", "table", "date_column"),
    [
        ("score", "scores", "scores", "as_of_date"),
        ("features", "features", "features_daily", "event_date"),
    ],
)
def test_killed_write_keeps_the_previous_version_and_a_rerun_matches(
    spark, e2e_world, stage, layer, table, date_column
):
    ref = table_ref(e2e_world.cfg.storage, layer, table)
    day = F.col(date_column) == F.lit(E2E_DATE)
    version = table_version(spark, ref)
    expected = read_table(spark, ref).where(day).collect()
    assert expected
    argv = [stage, "--as-of-date", E2E_DATE.isoformat(), *e2e_world.args]

    kill_during_write(argv, Path(ref.path))

    assert table_version(spark, ref) == version  # no commit from the killed run
    after_kill = read_table(spark, ref).where(day)
    assert_df_equality(
        jvm_rows(spark, expected, after_kill.schema), after_kill, ignore_row_order=True
    )
    assert main(argv) == 0
    rerun = read_table(spark, ref).where(day)
    assert table_version(spark, ref) == version + 1
    assert_df_equality(jvm_rows(spark, expected, rerun.schema), rerun, ignore_row_order=True)


def _score_rows(spark, cfg, day):
    scores = read_table(spark, SCORES.ref(cfg.storage))
    return scores.where(F.col("as_of_date") == F.lit(day))


def test_score_runs_for_two_dates_at_once_both_land(spark, e2e_world):
    days = [E2E_FIRST, E2E_DATE]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [
            pool.submit(main, ["score", "--as-of-date", d.isoformat(), *e2e_world.args])
            for d in days
        ]
        assert [r.result() for r in runs] == [0, 0]
    for day in days:
        rows = _score_rows(spark, e2e_world.cfg, day)
        assert rows.count() == rows.select("account_id").distinct().count() > 0
    assert _score_rows(spark, e2e_world.cfg, E2E_DATE).count() == E2E_ACCOUNTS


def test_score_runs_for_the_same_date_at_once_leave_one_copy(spark, e2e_world):
    argv = ["score", "--as-of-date", E2E_DATE.isoformat(), *e2e_world.args]
    with ThreadPoolExecutor(max_workers=2) as pool:
        codes = [r.result() for r in [pool.submit(main, argv) for _ in range(2)]]
    # Each run replaces the date; a conflicting commit is retried, so both succeed, and
    # one that gave up would fail with exit 1, never append a second copy.
    assert set(codes) <= {0, 1} and 0 in codes
    rows = _score_rows(spark, e2e_world.cfg, E2E_DATE)
    assert rows.count() == rows.select("account_id").distinct().count() == E2E_ACCOUNTS
