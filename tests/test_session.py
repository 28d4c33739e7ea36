"""The local session: Python workers run the driver's interpreter."""

from __future__ import annotations

import dataclasses
import os
import sys

import pytest

from botdetect.session import SessionError, apply_runtime_conf, get_spark
from tests.conftest import TEST_SPARK

SHUFFLE = "spark.sql.shuffle.partitions"


def test_local_python_workers_run_the_drivers_interpreter(spark):
    # The session fixture comes from get_spark in local mode; PYSPARK_PYTHON, when a caller
    # sets it, wins.
    expected = os.environ.get("PYSPARK_PYTHON", sys.executable)
    assert spark.sparkContext.pythonExec == expected
    ran = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable)
    assert ran.collect() == [expected]


def test_runtime_sql_settings_reach_an_existing_session(spark):
    conf = dataclasses.replace(
        TEST_SPARK, sql={"spark.sql.files.maxRecordsPerFile": "1234"}, shuffle_partitions=3
    )
    previous = {k: spark.conf.get(k) for k in ("spark.sql.files.maxRecordsPerFile", SHUFFLE)}
    try:
        assert get_spark(conf) is spark  # the active session, as on Databricks
        assert spark.conf.get("spark.sql.files.maxRecordsPerFile") == "1234"
        assert spark.conf.get(SHUFFLE) == "3"
    finally:
        for key, value in previous.items():
            spark.conf.set(key, value)


def test_a_setting_the_session_refuses_is_a_clear_error(spark):
    # A static setting: fixed when the JVM started, so Spark refuses to change it.
    conf = dataclasses.replace(TEST_SPARK, sql={"spark.sql.warehouse.dir": "/elsewhere"})
    with pytest.raises(SessionError, match=r"'spark.sql.warehouse.dir' cannot be set.*spark.extra"):
        apply_runtime_conf(spark, conf)
