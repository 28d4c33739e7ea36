"""The `audit.runs` table: what every stage run read, wrote and ran with.

One row per run (success or failure): stage, as-of date, start and end, the code version,
the configuration fingerprint, the Delta versions of the tables the stage reads and
writes, and the model version it trained or served. A score is traced to what produced
it through (stage = 'score', as_of_date, model_version) and the input versions there.
The table is an append-only log: a rerun adds a row, it does not rewrite history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import subprocess
import uuid
from importlib import metadata
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from botdetect.config import Config
from botdetect.io.tables import TableRef, table_ref, table_version

log = logging.getLogger(__name__)

# (layer, table) each stage reads and writes; versions are recorded before and after.
STAGE_TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "generate": ((), (("truth", "ground_truth"),)),
    "ingest": (
        (),
        (
            *tuple(
                ("raw", t)
                for t in ("tweets", "interactions", "accounts", "follows", "logins", "ops_actions")
            ),
            ("quality", "quarantine"),
        ),
    ),
    "validate": (
        (
            *tuple(("raw", t) for t in ("tweets", "interactions", "accounts", "logins")),
            ("features", "account_features"),
        ),
        (("quality", "quality_results"),),
    ),
    "features": (
        tuple(
            ("raw", t)
            for t in ("tweets", "interactions", "accounts", "follows", "logins", "ops_actions")
        ),
        (("features", "features_daily"), ("features", "account_features")),
    ),
    "labels": (
        (
            ("raw", "ops_actions"),
            ("raw", "accounts"),
            ("raw", "follows"),
            ("features", "features_daily"),
        ),
        (("labels", "labels"),),
    ),
    "train": (
        (("features", "account_features"), ("labels", "labels")),
        (("labels", "splits"),),
    ),
    "score": (
        (("features", "account_features"), ("features", "features_daily")),
        (("scores", "scores"), ("scores", "review_queue"), ("scores", "audit_requests")),
    ),
    "ops-sim": (
        (("scores", "audit_requests"), ("scores", "review_queue"), ("truth", "ground_truth")),
        (),
    ),
    "report": (
        (("scores", "scores"), ("raw", "tweets"), ("raw", "ops_actions")),
        (("monitoring", "monitoring"),),
    ),
}

RUNS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("stage", T.StringType()),
        T.StructField("as_of_date", T.DateType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
        T.StructField("status", T.StringType()),
        T.StructField("error", T.StringType()),
        T.StructField("env", T.StringType()),
        T.StructField("code_version", T.StringType()),
        T.StructField("conf_fingerprint", T.StringType()),
        T.StructField("input_versions", T.MapType(T.StringType(), T.LongType())),
        T.StructField("output_versions", T.MapType(T.StringType(), T.LongType())),
        T.StructField("model_name", T.StringType()),
        T.StructField("model_version", T.StringType()),
    ]
)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout.strip()


@functools.cache
def code_version() -> str:
    """The git commit of a checkout (with `-dirty` if modified), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        return f"git:{sha}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        try:
            return f"botdetect=={metadata.version('botdetect')}"
        except metadata.PackageNotFoundError:
            return "unknown"


def versions(spark: SparkSession, refs: list[TableRef]) -> dict[str, int]:
    """Current Delta version of each existing table, by `layer.name`."""
    out = {}
    for ref in refs:
        version = table_version(spark, ref)
        if version is not None:
            out[ref.label] = version
    return out


@dataclasses.dataclass
class RunRecorder:
    """Collects one run's facts; `finish` appends its row to `audit.runs`."""

    spark: SparkSession
    cfg: Config
    stage: str
    run_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    started_at: dt.datetime = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None)
    )
    input_versions: dict[str, int] = dataclasses.field(default_factory=dict)

    def _refs(self, index: int) -> list[TableRef]:
        tables = STAGE_TABLES.get(self.stage, ((), ()))[index]
        return [table_ref(self.cfg.storage, layer, name) for layer, name in tables]

    def start(self) -> RunRecorder:
        self.input_versions = versions(self.spark, self._refs(0))
        return self

    def finish(
        self,
        status: str,
        error: str | None = None,
        model_name: str | None = None,
        model_version: str | None = None,
    ) -> None:
        row = (
            self.run_id,
            self.stage,
            self.cfg.run_date(),
            self.started_at,
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            status,
            (error or "")[:2000] or None,
            self.cfg.env,
            code_version(),
            self.cfg.fingerprint(),
            self.input_versions,
            versions(self.spark, self._refs(1)),
            model_name,
            model_version,
        )
        ref = table_ref(self.cfg.storage, "audit", "runs")
        df = self.spark.createDataFrame([row], RUNS_SCHEMA)
        writer = df.write.format("delta").mode("append")
        if ref.full_name:
            writer.saveAsTable(ref.full_name)
        else:
            writer.save(ref.path)
        log.info("audit: %s run %s %s", self.stage, self.run_id, status)
