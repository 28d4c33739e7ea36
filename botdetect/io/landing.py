"""Source exports: the files ingest reads (Parquet, CSV or JSON lines).

The generator writes its world here through `write_export`, so synthetic data enters the
lakehouse through exactly the same ingest code as a real platform export.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from botdetect.contract import SourceTable


class SourceNotFoundError(FileNotFoundError):
    """A source export that ingest was asked to read does not exist."""


def export_path(landing_root: str, table: str) -> str:
    return f"{landing_root.rstrip('/')}/{table}"


def write_export(df: DataFrame, landing_root: str, table: SourceTable, fmt: str) -> None:
    """Write one table's export, partitioned by event_date where the table has one."""
    if fmt == "csv":
        # CSV has no arrays: arrays travel as JSON text, which ingest parses back.
        df = df.select(
            *[
                F.to_json(F.col(f.name)).alias(f.name)
                if isinstance(f.dataType, T.ArrayType)
                else F.col(f.name)
                for f in df.schema.fields
            ]
        )
    writer = df.write.mode("overwrite").format(fmt)
    if fmt == "csv":
        writer = writer.option("header", "true")
    if table.is_event_table:
        writer = writer.partitionBy("event_date")
    writer.save(export_path(landing_root, table.name))


def read_export(
    spark: SparkSession, source_root: str, table: SourceTable, fmt: str, options: dict[str, str]
) -> DataFrame:
    """Read a table's export with its file path in `_source_file`; CSV columns stay text."""
    path = export_path(source_root, table.name)
    reader = spark.read.format(fmt).options(**options)
    if fmt == "json":
        # Read JSON values as text so that a bad value is quarantined, not guessed at.
        reader = reader.option("primitivesAsString", "true")
    try:
        df = reader.load(path)
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "UNABLE_TO_INFER_SCHEMA" in str(exc):
            raise SourceNotFoundError(
                f"ingest: no export for table {table.name!r} at {path}"
            ) from None
        raise
    return df.withColumn("_source_file", F.col("_metadata.file_path"))
