"""Faults and concurrency: a driver killed (SIGKILL) in the middle of a write leaves the
table as it was and a rerun gives exactly the uninterrupted result, replacing the date;
concurrent score runs for different dates both land, and for one date never leave two
copies."""

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
from botdetect.io.tables import read_table, table_version
from botdetect.table_catalog import ACCOUNT_FEATURES, FEATURES_DAILY, SCORES
from tests.conftest import E2E_ACCOUNTS, E2E_DATE, E2E_FIRST, SUBPROCESS_SETS, jvm_rows, set_args
from tests.reruns import DAY, D, Slice, rerun_and_check

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


# The scores are the score job's first write; the day's feature partials are the features
# job's first, so that job is killed before its roll-up (most of its time). The rerun after
# the kill is the job's idempotency test too (`tests/reruns.py`): the slices it owns come
# back exactly as the uninterrupted run wrote them, replaced in one commit each.
def _killed_write_slices(world, stage: str) -> list[Slice]:
    on_date = F.col("as_of_date") == F.lit(D)
    if stage == "score":
        return [Slice(SCORES.ref(world.cfg.storage), on_date, f"as_of_date = '{DAY}'")]
    return [
        Slice(
            FEATURES_DAILY.ref(world.cfg.storage),
            F.col("event_date") == F.lit(D),
            f"'{DAY}')",  # the last date of `event_date IN (...)`: the run's own day
        ),
        Slice(ACCOUNT_FEATURES.ref(world.cfg.storage), on_date, f"as_of_date = '{DAY}'"),
    ]


@pytest.mark.parametrize("stage", ["score", "features"])
def test_killed_write_keeps_the_previous_version_and_a_rerun_replaces_the_date(
    spark, e2e_world, stage
):
    killed, *_ = slices = _killed_write_slices(e2e_world, stage)
    version = table_version(spark, killed.ref)
    expected = read_table(spark, killed.ref).where(killed.rows).collect()
    assert expected

    argv = [stage, "--as-of-date", DAY, *e2e_world.args, *set_args(SUBPROCESS_SETS)]
    kill_during_write(argv, Path(killed.ref.path))

    assert table_version(spark, killed.ref) == version  # no commit from the killed run
    after_kill = read_table(spark, killed.ref).where(killed.rows)
    assert_df_equality(
        jvm_rows(spark, expected, after_kill.schema), after_kill, ignore_row_order=True
    )
    rerun_and_check(spark, e2e_world, [stage], stage, slices)


def _score_rows(spark, cfg, day):
    scores = read_table(spark, SCORES.ref(cfg.storage))
    return scores.where(F.col("as_of_date") == F.lit(day))


def test_score_runs_at_once_land_for_each_date_and_leave_one_copy_of_each(spark, e2e_world):
    # Two runs for D and one for the first date, all at once.
    days = [E2E_DATE, E2E_FIRST, E2E_DATE]
    with ThreadPoolExecutor(max_workers=len(days)) as pool:
        runs = [
            pool.submit(main, ["score", "--as-of-date", d.isoformat(), *e2e_world.args])
            for d in days
        ]
        codes = [r.result() for r in runs]
    # Runs for different dates replace different slices: both land. Each run for D replaces
    # the date; a conflicting commit is retried, so both succeed, and one that gave up
    # would fail with exit 1, never append a second copy.
    assert codes[1] == 0 and {codes[0], codes[2]} <= {0, 1} and 0 in (codes[0], codes[2])
    for day in (E2E_FIRST, E2E_DATE):
        rows = _score_rows(spark, e2e_world.cfg, day)
        assert rows.count() == rows.select("account_id").distinct().count() > 0
    assert _score_rows(spark, e2e_world.cfg, E2E_DATE).count() == E2E_ACCOUNTS
