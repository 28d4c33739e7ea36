"""Where tables live and the few ways botdetect reads and writes them.

Locally a table is a Delta folder `<root>/<layer>/<name>`; with `storage.catalog` set it
is the catalog table `<catalog>.<schema>.<layer>_<name>`. Every write replaces exactly
the slice it owns (a whole table, or the partitions named by `replace_where`), so a
rerun for the same date rewrites its output instead of appending to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import re
import time
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import StorageConfig

log = logging.getLogger(__name__)


class TableNotFoundError(RuntimeError):
    """A table a stage needs has not been written yet."""


class TableReadError(RuntimeError):
    """A table exists but cannot be read (a damaged Delta log, unreadable files)."""


@dataclasses.dataclass(frozen=True)
class TableRef:
    """One Delta table: a path (local, cluster storage) or a catalog name (Databricks)."""

    layer: str
    name: str
    path: str | None = None
    full_name: str | None = None

    def __str__(self) -> str:
        return self.full_name or f"{self.layer}.{self.name} ({self.path})"

    @property
    def label(self) -> str:
        """The short name used in messages and reports, e.g. `raw.tweets`."""
        return f"{self.layer}.{self.name}"


def table_ref(storage: StorageConfig, layer: str, name: str) -> TableRef:
    if storage.catalog:
        return TableRef(layer, name, full_name=f"{storage.catalog}.{storage.schema}.{layer}_{name}")
    return TableRef(layer, name, path=f"{storage.root.rstrip('/')}/{layer}/{name}")


def table_exists(spark: SparkSession, ref: TableRef) -> bool:
    if ref.full_name:
        return spark.catalog.tableExists(ref.full_name)
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, ref.path)


def read_table(spark: SparkSession, ref: TableRef) -> DataFrame:
    """Read a Delta table, or fail naming the table and the stage that writes it."""
    if not table_exists(spark, ref):
        raise TableNotFoundError(
            f"table {ref.label} does not exist at {ref.full_name or ref.path}; "
            "run the stage that writes it first"
        )
    try:
        if ref.full_name:
            df = spark.read.table(ref.full_name)
        else:
            df = spark.read.format("delta").load(ref.path)
        df.schema  # noqa: B018 -- resolves the Delta log now, not in a later action
    except Exception as exc:  # Spark raises several unrelated classes for a broken log
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TableReadError(
            f"table {ref.label} at {ref.full_name or ref.path} cannot be read "
            f"({type(exc).__name__}: {first[:300]}); restore it from its Delta history "
            "(RESTORE TABLE ... TO VERSION AS OF n) or rewrite it with its stage"
        ) from exc
    return df


WRITE_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0


def with_retries(action: Callable[[], None], what: str, attempts: int = WRITE_ATTEMPTS) -> None:
    """Run a Delta write, retrying when a concurrent transaction won the commit.

    The write is a whole replacement of its slice, so repeating it is safe: two runs for
    the same date end with one copy, never two. Backoff doubles, with jitter.
    """
    from delta import exceptions as dx

    # The classes do not share one base in every delta-spark build: name them all.
    conflicts = (
        dx.DeltaConcurrentModificationException,
        dx.ConcurrentWriteException,
        dx.MetadataChangedException,
        dx.ProtocolChangedException,
        dx.ConcurrentAppendException,
        dx.ConcurrentDeleteReadException,
        dx.ConcurrentDeleteDeleteException,
        dx.ConcurrentTransactionException,
    )
    for attempt in range(1, attempts + 1):
        try:
            action()
            return
        except conflicts as exc:
            if attempt == attempts:
                raise
            pause = BACKOFF_SECONDS * 2 ** (attempt - 1) * (1 + random.random())
            log.warning(
                "%s: concurrent Delta commit (%s); retry %d/%d in %.1fs",
                what,
                type(exc).__name__,
                attempt,
                attempts - 1,
                pause,
            )
            time.sleep(pause)


def describe_damaged_log(exc: BaseException) -> str | None:
    """A clear message when a Spark failure comes from a damaged Delta log, else None.

    Delta reads the log lazily, so a broken commit file can surface in any later action
    of any stage; the failing file's path names the table.
    """
    text = str(exc)
    match = re.search(r"(?:file:)?(/[^\s'\"]*?)/_delta_log/([^\s'\".]+\.\w+)", text)
    if match is None:
        return None
    table_path, entry = match.group(1), match.group(2)
    return (
        f"the Delta log of the table at {table_path} is damaged ({entry} cannot be read); "
        "restore the table from its history (RESTORE TABLE ... TO VERSION AS OF n) or "
        "rewrite it with the stage that owns it"
    )


def write_table(
    df: DataFrame,
    ref: TableRef,
    *,
    replace_where: str | None = None,
    partition_by: Sequence[str] = (),
) -> None:
    """Overwrite the table, or only the slice matched by `replace_where`.

    Delta's `replaceWhere` is atomic: readers see the old slice or the new one, and a
    row of `df` outside the predicate fails the write instead of landing silently.
    Writes to other slices may run at the same time; a conflicting commit is retried.
    A slice may add columns (a new feature): the table's schema gains them and older
    slices read them as null; a changed type still fails the write.
    """
    writer = df.write.format("delta").mode("overwrite")
    if replace_where is not None:
        writer = writer.option("replaceWhere", replace_where).option("mergeSchema", "true")
    else:
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if ref.full_name:
        with_retries(lambda: writer.saveAsTable(ref.full_name), f"write {ref.label}")
    else:
        with_retries(lambda: writer.save(ref.path), f"write {ref.label}")
    log.info("wrote %s%s", ref.label, f" where {replace_where}" if replace_where else "")


def clustered(df: DataFrame, column: str) -> DataFrame:
    """`df` range-partitioned and sorted by `column`, ready to write.

    Each written file then holds its own narrow, disjoint range of `column`, so a lookup by
    that column reads one file per date: Delta's per-file min/max statistics skip the rest.
    This is the layout Z-ordering on one column produces, made by the writer instead of a
    later OPTIMIZE that rewrites the data. AQE merges neighbouring ranges up to its advisory
    size, and `spark.sql.files.maxRecordsPerFile` splits one that is too large.
    """
    return df.repartitionByRange(F.col(column)).sortWithinPartitions(column)


def write_date_partition(
    df: DataFrame,
    ref: TableRef,
    column: str,
    day: dt.date,
    *,
    cluster_by: str | None = None,
) -> DataFrame:
    """Replace the `column = day` partition with `df` and return that slice as written.

    With `cluster_by`, the slice's files are range-clustered by that column (`clustered`).
    """
    if cluster_by is not None:
        df = clustered(df, cluster_by)
    write_table(df, ref, replace_where=f"{column} = '{day.isoformat()}'", partition_by=(column,))
    return read_table(df.sparkSession, ref).where(F.col(column) == F.lit(day))


def table_version(spark: SparkSession, ref: TableRef) -> int | None:
    """The current Delta version of a table, or None if it does not exist."""
    if not table_exists(spark, ref):
        return None
    from delta.tables import DeltaTable

    table = (
        DeltaTable.forName(spark, ref.full_name)
        if ref.full_name
        else DeltaTable.forPath(spark, ref.path)
    )
    return int(table.history(1).select("version").first()[0])
