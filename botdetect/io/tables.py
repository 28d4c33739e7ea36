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
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import StorageConfig

log = logging.getLogger(__name__)


class TableNotFoundError(RuntimeError):
    """A table a stage needs has not been written yet."""


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
    if ref.full_name:
        return spark.read.table(ref.full_name)
    return spark.read.format("delta").load(ref.path)


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
    """
    writer = df.write.format("delta").mode("overwrite")
    if replace_where is not None:
        writer = writer.option("replaceWhere", replace_where)
    else:
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    if ref.full_name:
        writer.saveAsTable(ref.full_name)
    else:
        writer.save(ref.path)
    log.info("wrote %s%s", ref.label, f" where {replace_where}" if replace_where else "")


def write_date_partition(df: DataFrame, ref: TableRef, column: str, day: dt.date) -> DataFrame:
    """Replace the `column = day` partition with `df` and return that slice as written."""
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
