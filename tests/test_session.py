"""The local session: Python workers run the driver's interpreter."""

from __future__ import annotations

import os
import sys


def test_local_python_workers_run_the_drivers_interpreter(spark):
    # The session fixture comes from get_spark in local mode; PYSPARK_PYTHON, when a caller
    # sets it, wins.
    expected = os.environ.get("PYSPARK_PYTHON", sys.executable)
    assert spark.sparkContext.pythonExec == expected
    ran = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable)
    assert ran.collect() == [expected]
