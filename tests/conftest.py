"""One local SparkSession with Delta for the whole test run."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from botdetect.cli import main
from botdetect.config import BOT_KINDS, Config, SparkConfig, load_config
from botdetect.generate.stage import run_generate
from botdetect.ingest import run_ingest
from botdetect.io.rows import rows_frame
from botdetect.session import get_spark

DEFAULTS = load_config(None, [])  # conf/base.yml with local.yml: every default, once
TEST_SPARK = SparkConfig(
    master="local[2]",
    app_name="botdetect-tests",
    driver_memory="3g",
    shuffle_partitions=2,
    ui_enabled=False,
    jars_dir=".jars",
    # For hand-made rows, where building and compiling a query costs more than running it
    # (a feature roll-up of one account, its tables checkpointed: 6.0 s -> 4.1 s warm): no
    # call-site capture for error context (several Py4J calls per PySpark function call)
    # and interpreted expressions instead of generated code. The suite's other local
    # sessions (the killed jobs, the notebooks' kernel) get the same (`SUBPROCESS_SETS`);
    # generated code still runs in the spark-submit test's cluster application.
    extra={
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
        "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    },
    sql={},  # the tests' session keeps Spark's own SQL settings
)
# `TEST_SPARK.extra` as `--set` overrides, for the local sessions the suite starts in other
# processes. A cold JVM compiles every generated class it meets: a killed `features` job
# reached its first write 7 s sooner without (21-23 s against 28-30 s, alternating runs).
SUBPROCESS_SETS = [f"spark.extra.{key}={value}" for key, value in TEST_SPARK.extra.items()]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark(TEST_SPARK)
    yield session
    session.stop()


def jvm_rows(spark: SparkSession, rows: list, schema) -> DataFrame:
    """Hand-made rows as a DataFrame held in the JVM (`botdetect.io.rows`). Made with
    `spark.createDataFrame`, they would be read back through a Python worker by every
    scan, and a feature roll-up or a quality suite scans its inputs dozens of times."""
    return rows_frame(spark, rows, schema)


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


SMALL_WORLD = ["generate.accounts=300", "generate.days=4", "features.windows=[1, 3]"]


@dataclasses.dataclass(frozen=True)
class SmallWorld:
    root: Path
    generated: dict[str, int]  # rows the generator exported, by table
    ingested: list  # what the full ingest reported, one `IngestResult` per source table


@pytest.fixture(scope="session")
def small_world_built(spark, tmp_path_factory) -> SmallWorld:
    """A 300-account, 4-day world generated (as Parquet, the default) and ingested once for
    the tests that run stages on it (`small_world` gives each its own copy)."""
    root = tmp_path_factory.mktemp("small")
    cfg = tiny_config(root, *SMALL_WORLD)
    report = run_generate(spark, cfg)
    return SmallWorld(root, dict(report.rows), run_ingest(spark, cfg, full=True))


@pytest.fixture
def small_world(small_world_built):
    """`small_world(root)`: a copy of the small world's exports and raw tables at `root`,
    and its configuration."""

    def copy(root: Path) -> Config:
        shutil.copytree(small_world_built.root, root, dirs_exist_ok=True)
        return tiny_config(root, *SMALL_WORLD)

    return copy


E2E_DATE = dt.date(2026, 11, 28)
E2E_FIRST = E2E_DATE - dt.timedelta(days=3)  # the late campaign starts on D - 2
E2E_ACCOUNTS = 2000
# Label coverage is raised so that thresholds exist on a world this small; the default
# world (conf/local.yml) keeps its 30-80% coverage.
E2E_WORLD = [
    "generate.accounts=2000",
    "generate.days=20",  # ops labels arrive 1-21 days late: enough have by E2E_FIRST
    # Enough bots that the development rows hold the 100 effective flagged rows a 0.99
    # block band needs before its precision can be judged (train.block_precision).
    "generate.prevalence=0.15",
    "generate.botnet_size=5",  # many small botnets, so every split holds several
    "generate.nat_group_size=60",
    "generate.partitions=2",
    "generate.false_label_rate=0.001",
    *[f"generate.label_coverage.{kind}=0.9" for kind in BOT_KINDS],
    "spark.shuffle_partitions=2",
    "labels.random_negative_rate=1.0",
    "train.negative_sample_rate=0.25",  # trains on as many negatives as a half sample did
    "train.fractions=[0.5,0.25,0.25]",
    "train.min_positives=5",
    # One grid point per family: the search still compares the two families, and each
    # further point costs a three-fold cross-fit (about 7 s here).
    "train.forest.num_trees=[20]",
    "train.forest.max_depth=[5]",
    "train.logistic.reg_param=[0.01]",
]


@dataclasses.dataclass
class World:
    args: list[str]  # --set arguments that point a CLI call at this world
    cfg: Config  # the same, loaded, with as_of_date = E2E_DATE
    first_out: str  # what the two pipeline runs printed
    second_out: str
    plans: list[tuple[str, str]]  # (table, physical plan) of every table write in both runs
    ops_out: str  # what ops-sim printed between them


@contextlib.contextmanager
def recorded_write_plans() -> Iterator[list[tuple[str, str]]]:
    """Record the physical plan (before AQE re-plans it) of every DataFrame written to a
    path or a table, as (`layer.name`, plan)."""
    from unittest import mock

    from pyspark.sql.readwriter import DataFrameWriter

    plans: list[tuple[str, str]] = []
    save, save_as_table = DataFrameWriter.save, DataFrameWriter.saveAsTable

    def record(writer: DataFrameWriter, label: str) -> None:
        plans.append((label, writer._df._jdf.queryExecution().executedPlan().toString()))

    def recording_save(self, path=None, *args, **kwargs):
        record(self, ".".join(Path(str(path)).parts[-2:]))
        return save(self, path, *args, **kwargs)

    def recording_save_as_table(self, name, *args, **kwargs):
        record(self, name)
        return save_as_table(self, name, *args, **kwargs)

    with (
        mock.patch.object(DataFrameWriter, "save", recording_save),
        mock.patch.object(DataFrameWriter, "saveAsTable", recording_save_as_table),
    ):
        yield plans


def set_args(overrides: list[str]) -> list[str]:
    """`key=value` overrides as CLI arguments: `--set key=value` each, in order."""
    return [arg for item in overrides for arg in ("--set", item)]


def _args(root) -> list[str]:
    return set_args([f"storage.root={root}", *E2E_WORLD])


@pytest.fixture(scope="session")
def e2e_world(spark, tmp_path_factory):
    """A tiny world run through the whole pipeline twice (see test_end_to_end.py)."""
    root = tmp_path_factory.mktemp("e2e")
    args = _args(root)

    def run(argv: list[str]) -> str:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(argv)
        assert code == 0, buffer.getvalue()
        return buffer.getvalue()

    run(["generate", "--as-of-date", E2E_DATE.isoformat(), *args])
    with recorded_write_plans() as plans:
        first = run(
            [
                "pipeline",
                "--as-of-date",
                E2E_FIRST.isoformat(),
                "--no-generate",
                "--full-ingest",
                "--full-refresh",
                "--train",
                "always",
                *args,
            ]
        )
    # The simulated ops team answers the first run's audits and queue, as `make demo`
    # does (a synthetic-world step, not a production stage: its plans are not recorded).
    ops_out = run(["ops-sim", "--as-of-date", E2E_FIRST.isoformat(), *args])
    with recorded_write_plans() as more_plans:
        second = run(["pipeline", "--as-of-date", E2E_DATE.isoformat(), "--no-generate", *args])
    plans += more_plans
    # Exactly what the CLI loads for `--set ... --as-of-date E2E_DATE`.
    cfg = load_config(None, [f"storage.root={root}", *E2E_WORLD, f"as_of_date={E2E_DATE}"])
    return World(args, cfg, first, second, plans, ops_out)


# The test files that use the end-to-end world. `make test` runs two pytest-xdist workers,
# and each session fixture is built once per worker that needs it: the end-to-end world
# (4-5 minutes) must not be built twice. So the work is handed out by file (a file's tests
# share its fixtures), and these files go to one worker together, which builds the world
# while the other runs the rest (test_workers.py checks that this list is complete). That
# unit is the longest chain of work in the suite, so it is handed out first.
E2E_UNIT = "end-to-end world"
E2E_FILES = frozenset(
    {
        "test_end_to_end.py",
        "test_faults.py",
        "test_idempotency.py",
        "test_notebooks.py",
        "test_plans.py",
        "test_privacy.py",
    }
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class OneWorldPerWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = Path(nodeid.split("::", 1)[0]).name
            return E2E_UNIT if file in E2E_FILES else super()._split_scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            if E2E_UNIT in self.workqueue:
                self.workqueue.move_to_end(E2E_UNIT, last=False)
            super()._assign_work_unit(node)

    return OneWorldPerWorker(config, log)


_yielded = False  # this process (an xdist worker) has lowered its priority


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The worker that does not hold the end-to-end world runs at a lower CPU priority
    (nice 10, inherited by the JVMs it starts after this): the world's chain of tests is
    the longest, so it gets the cores it can use and the rest runs in what it leaves."""
    global _yielded
    if not _yielded and "PYTEST_XDIST_WORKER" in os.environ and item.path.name not in E2E_FILES:
        _yielded = True
        os.nice(10)
