"""Source exports: the files ingest reads (Parquet, CSV or JSON lines).

The generator writes its world here through `write_export`, so synthetic data enters the
lakehouse through exactly the same ingest code as a real platform export.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from botdetect.contract import SourceTable


class SourceNotFoundError(FileNotFoundError):
    """A source export that ingest was asked to read does not exist (or holds no files)."""


class SourceReadError(RuntimeError):
    """A file of a source export cannot be read (truncated, corrupt, not its format)."""


_UNREADABLE = (
    re.compile(
        r"\[FAILED_READ_FILE\.(?P<kind>\w+)\] Encountered error while reading file "
        r"(?:file:)?/*(?P<path>/.+?)\.(?:\s|$)"
    ),
    # Hadoop's local file system checks a file against its .crc before Spark sees it.
    re.compile(r"ChecksumException: Checksum error: (?:file:)?/*(?P<path>/.+?) at \d+ exp"),
)


def describe_unreadable_file(text: str) -> str | None:
    """Which export file Spark failed to read and why, from its error text; else None."""
    match = next((m for m in (p.search(text) for p in _UNREADABLE) if m), None)
    if match is None:
        return None
    kind = match.groupdict().get("kind")
    if "ChecksumException" in text:
        why = "its checksum does not match: changed after it was written, or corrupt"
    elif "is not a Parquet file" in text or kind == "CANNOT_READ_FILE_FOOTER":
        why = "not a valid Parquet file: truncated or corrupt"
    else:
        why = f"Spark error FAILED_READ_FILE.{kind}"
    return f"file {match.group('path')} cannot be read ({why})"


@contextlib.contextmanager
def reading_export(table: str) -> Iterator[None]:
    """Turn Spark's failure to read one of `table`'s export files into a SourceReadError
    that names the table and the file; any other error passes through unchanged."""
    try:
        yield
    except Exception as exc:
        message = describe_unreadable_file(str(exc))
        if message is None:
            raise
        raise SourceReadError(
            f"ingest: table {table!r}: export {message}; nothing was written for this "
            "table: replace or remove the file and rerun"
        ) from exc


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


def replace_export_files(
    df: DataFrame, landing_root: str, table: SourceTable, fmt: str, tag: str
) -> list[str]:
    """Put `df` into `table`'s export as files of their own, named `part-{tag}-N.{fmt}`,
    replacing the files a previous call with the same tag wrote; the export's other files
    are left alone. For a non-partitioned (snapshot) table: a writer that adds to an
    export another system produced (the simulated ops team).

    Written first to a hidden staging folder (readers skip `_` names), then renamed into
    place through the Hadoop file system, so it works on any storage Spark writes to.
    """
    if table.is_event_table:
        raise ValueError(f"table {table.name!r} is partitioned by event_date: not supported")
    spark = df.sparkSession
    jvm = spark.sparkContext._jvm
    export = export_path(landing_root, table.name)
    staging = f"{export}/_staging-{tag}"
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    fs = hadoop_path(export).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    fs.delete(hadoop_path(staging), True)
    writer = df.write.mode("overwrite").format(fmt)
    if fmt == "csv":
        writer = writer.option("header", "true")
    writer.save(staging)
    for old in fs.globStatus(hadoop_path(f"{export}/part-{tag}-*")) or []:
        fs.delete(old.getPath(), False)
    parts = sorted(
        str(s.getPath().getName())
        for s in fs.listStatus(hadoop_path(staging))
        if str(s.getPath().getName()).startswith("part-")
    )
    placed = []
    for i, name in enumerate(parts):
        suffix = name.split(".", 1)[1] if "." in name else fmt
        target = f"{export}/part-{tag}-{i:05d}.{suffix}"
        if not fs.rename(hadoop_path(f"{staging}/{name}"), hadoop_path(target)):
            raise OSError(f"could not move {staging}/{name} to {target}")
        placed.append(target)
    fs.delete(hadoop_path(staging), True)
    return placed


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
        with reading_export(table.name):
            df = reader.load(path)  # reads file footers to infer the schema
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc):
            raise SourceNotFoundError(
                f"ingest: no export for table {table.name!r} at {path}"
            ) from None
        if "UNABLE_TO_INFER_SCHEMA" in str(exc):
            # A folder without data files: an empty or unfinished export. Refused rather
            # than read as zero rows, which would replace the raw table with nothing.
            raise SourceNotFoundError(
                f"ingest: the export of table {table.name!r} at {path} holds no data files "
                "(empty or unfinished); an export with no rows must still carry a file "
                "with its schema"
            ) from None
        raise
    return df.withColumn("_source_file", F.col("_metadata.file_path"))
