"""One local SparkSession with Delta for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from botdetect.config import Config, SparkConfig, load_config
from botdetect.session import get_spark

TEST_SPARK = SparkConfig(
    master="local[2]",
    app_name="botdetect-tests",
    driver_memory="3g",
    shuffle_partitions=2,
    ui_enabled=False,
    jars_dir=".jars",
)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark(TEST_SPARK)
    yield session
    session.stop()


def tiny_config(root: Path, *overrides: str) -> Config:
    """The local configuration pointed at `root`, with a small world."""
    return load_config(
        "local",
        [
            f"storage.root={root}",
            "generate.accounts=2000",
            "generate.days=5",
            "generate.partitions=2",
            "generate.botnet_size=10",
            "generate.nat_group_size=60",
            "generate.false_label_rate=0.05",
            "spark.shuffle_partitions=2",
            *overrides,
        ],
    )
