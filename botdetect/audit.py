"""The `audit.runs` table: what every stage run read, wrote and ran with.

One row per run (success or failure): stage, as-of date, start and end, the code version,
the configuration fingerprint, the Delta versions of the tables the stage reads and
writes (as `pipeline.py` declares them), and the model version it trained or served. A
score is traced to what produced it through (stage = 'score', as_of_date,
model_version) and the input versions there.
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

from botdetect.config import Config
from botdetect.dates import utc_now
from botdetect.io.rows import rows_frame
from botdetect.io.tables import TableRef, table_version
from botdetect.table_catalog import AUDIT_RUNS, schema_of

log = logging.getLogger(__name__)


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
    reads: list[TableRef]
    writes: list[TableRef]
    run_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    started_at: dt.datetime = dataclasses.field(default_factory=utc_now)
    input_versions: dict[str, int] = dataclasses.field(default_factory=dict)

    def start(self) -> RunRecorder:
        self.input_versions = versions(self.spark, self.reads)
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
            utc_now(),
            status,
            (error or "")[:2000] or None,
            self.cfg.env,
            code_version(),
            self.cfg.fingerprint(),
            self.input_versions,
            versions(self.spark, self.writes),
            model_name,
            model_version,
        )
        ref = AUDIT_RUNS.ref(self.cfg.storage)
        df = rows_frame(self.spark, [row], schema_of(AUDIT_RUNS))
        writer = df.write.format("delta").mode("append")
        if ref.full_name:
            writer.saveAsTable(ref.full_name)
        else:
            writer.save(ref.path)
        log.info("audit: %s run %s %s", self.stage, self.run_id, status)
