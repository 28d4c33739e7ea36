"""A driver killed (SIGKILL) in the middle of a write leaves the table as it was, and a
rerun gives exactly the result of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.io.tables import read_table, table_ref, table_version
from tests.conftest import E2E_DATE

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


@pytest.mark.parametrize(
    ("stage", "layer", "table"),
    [("score", "scores", "scores"), ("features", "features", "account_features")],
)
def test_killed_write_keeps_the_previous_version_and_a_rerun_matches(
    spark, e2e_world, stage, layer, table
):
    ref = table_ref(e2e_world.cfg.storage, layer, table)
    day = F.col("as_of_date") == F.lit(E2E_DATE)
    version = table_version(spark, ref)
    expected = read_table(spark, ref).where(day).collect()
    assert expected
    argv = [stage, "--as-of-date", E2E_DATE.isoformat(), *e2e_world.args]

    kill_during_write(argv, Path(ref.path))

    assert table_version(spark, ref) == version  # no commit from the killed run
    after_kill = read_table(spark, ref).where(day)
    assert_df_equality(
        spark.createDataFrame(expected, after_kill.schema), after_kill, ignore_row_order=True
    )
    assert main(argv) == 0
    rerun = read_table(spark, ref).where(day)
    assert table_version(spark, ref) == version + 1
    assert_df_equality(spark.createDataFrame(expected, rerun.schema), rerun, ignore_row_order=True)
