"""The one SparkSession factory used by the CLI, jobs, notebooks and tests."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from botdetect.config import SparkConfig

log = logging.getLogger(__name__)

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# Local-mode defaults that keep a 2-core laptop responsive; clusters set their own.
LOCAL_DEFAULTS = {
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.partitionOverwriteMode": "static",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


class SessionError(RuntimeError):
    """The session cannot be built as configured (for example, missing Delta jars)."""


def delta_jars(jars_dir: str | Path) -> list[str]:
    """The jar files `make jars` placed in `jars_dir`, or a clear error if there are none."""
    folder = Path(jars_dir)
    if not folder.is_absolute() and not folder.is_dir():
        folder = Path(__file__).resolve().parent.parent / folder  # relative to the checkout
    jars = sorted(str(p.resolve()) for p in folder.glob("*.jar"))
    if not any("delta-spark" in Path(j).name for j in jars):
        raise SessionError(
            f"no Delta jars in {str(folder)!r}: run `make jars` (Maven copies "
            "io.delta:delta-spark_4.1_2.13 and delta-storage there), or set "
            "spark.jars_dir: null and pass --packages to spark-submit"
        )
    return jars


def apply_runtime_conf(spark: SparkSession, conf: SparkConfig) -> SparkSession:
    """Settings botdetect relies on wherever it runs, applied to an existing session:
    UTC session time (dates and hours in the data contract are UTC), the configured
    shuffle partitions and the runtime SQL settings (`spark.shuffle_partitions` and
    `spark.sql`, per environment in conf)."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.shuffle.partitions", str(conf.shuffle_partitions))
    for key, value in conf.sql.items():
        try:
            spark.conf.set(key, str(value))
        except Exception as exc:  # a static or platform-managed setting
            raise SessionError(
                f"spark.sql setting {key!r} cannot be set on this session "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}); "
                "move it to spark.extra (set when a session is built) or to the "
                "cluster's configuration"
            ) from exc
    return spark


def get_spark(conf: SparkConfig) -> SparkSession:
    """Return the active session, or build one.

    On Databricks or under spark-submit a session (or its conf) already exists: reuse it
    and add only the Delta settings it lacks. With `conf.master` set (local mode) build a
    session with Delta jars, UTC time and small shuffle partitions.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return apply_runtime_conf(active, conf)
    builder = SparkSession.builder
    if conf.master is None:
        # spark-submit (or the platform) owns master, memory and jars; only fill gaps.
        from pyspark import SparkConf

        existing = SparkConf()
        if not existing.contains("spark.app.name"):  # spark-submit --name wins
            builder = builder.appName(conf.app_name)
        for key, value in {**DELTA_CONF, **conf.extra}.items():
            if not existing.contains(key):
                builder = builder.config(key, value)
        return apply_runtime_conf(builder.getOrCreate(), conf)
    # Python workers (the generator's) run this interpreter, with the same packages, unless
    # the caller chose one; PySpark's own default is whatever `python3` is on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = builder.appName(conf.app_name)
    settings = {
        **LOCAL_DEFAULTS,
        **DELTA_CONF,
        "spark.driver.memory": conf.driver_memory,
        "spark.ui.enabled": str(conf.ui_enabled).lower(),
    }
    if conf.jars_dir is not None:
        settings["spark.jars"] = ",".join(delta_jars(conf.jars_dir))
    settings.update(conf.extra)
    builder = builder.master(conf.master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = apply_runtime_conf(builder.getOrCreate(), conf)
    spark.sparkContext.setLogLevel("WARN")
    log.info("started Spark %s (%s)", spark.version, conf.master)
    return spark
