"""`botdetect ingest`: source exports -> raw Delta tables, bad rows -> quarantine.

Each row is checked against the contract (types, keys, enums, event_date, duplicates).
A row that breaks a rule lands in `quality.quarantine` with the rule, the column and the
original record; nothing is silently dropped. Column-level problems (a missing column,
a column of an impossible type, an unexpected extra column) fail the table outright, and
so does an export file that cannot be read (named in the error), before anything of the
table is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from botdetect.config import Config
from botdetect.contract import SOURCE_TABLES, SourceTable
from botdetect.dates import end_of_day, window
from botdetect.io.landing import read_export, reading_export
from botdetect.io.tables import write_table
from botdetect.table_catalog import QUARANTINE, RAW

log = logging.getLogger(__name__)

REASONS = "_reasons"
SOURCE_FILE = "_source_file"

_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_NUMERIC = (*_INTEGRAL, T.FloatType, T.DoubleType, T.DecimalType)
# Source types each contract type may be converted from, row by row.
_CASTABLE_FROM: dict[type, tuple[type, ...]] = {
    T.LongType: (*_NUMERIC, T.StringType),
    T.DoubleType: (*_NUMERIC, T.StringType),
    T.TimestampType: (T.TimestampType, T.TimestampNTZType, T.DateType, T.StringType),
    T.DateType: (T.DateType, T.TimestampType, T.StringType),
    T.StringType: (T.StringType,),
    T.BooleanType: (T.BooleanType, T.StringType),
    T.ArrayType: (T.ArrayType, T.StringType),
}


class SchemaMismatchError(ValueError):
    """A source export whose columns do not fit the contract."""


class RejectLimitError(RuntimeError):
    """More rows were rejected than `ingest.max_reject_fraction` allows."""


@dataclasses.dataclass(frozen=True)
class TableIngest:
    table: str
    read: int
    written: int
    quarantined: int
    by_rule: dict[str, int]
    held_back: int = 0  # snapshot rows dated after the as-of date (not lost: still exported)

    @property
    def reject_fraction(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


def check_source_schema(
    source_schema: T.StructType, table: SourceTable, *, allow_extra: bool = False
) -> None:
    """Fail, naming table and column, when a column is missing, extra or of the wrong type."""
    present = {f.name: f.dataType for f in source_schema.fields if f.name != SOURCE_FILE}
    for field in table.schema.fields:
        if field.name not in present and field.name in table.added_later:
            continue  # an export older than the column: `with_added_columns` fills it
        if field.name not in present:
            raise SchemaMismatchError(
                f"ingest: table {table.name!r} is missing column {field.name!r} "
                f"(expected {field.dataType.simpleString()})"
            )
        actual = present[field.name]
        allowed = _CASTABLE_FROM[type(field.dataType)]
        if not isinstance(actual, allowed) or (
            isinstance(actual, T.ArrayType)
            and not isinstance(actual.elementType, (*_INTEGRAL, T.StringType))
        ):
            raise SchemaMismatchError(
                f"ingest: table {table.name!r} column {field.name!r} has type "
                f"{actual.simpleString()}, which cannot hold {field.dataType.simpleString()}"
            )
    extra = sorted(set(present) - set(table.columns))
    if extra and not allow_extra:
        raise SchemaMismatchError(
            f"ingest: table {table.name!r} has unexpected column {extra[0]!r}; "
            "set ingest.allow_extra_columns to ignore extra columns"
        )


def with_added_columns(source_df: DataFrame, table: SourceTable) -> DataFrame:
    """Add the contract's later columns that an older export lacks, as nulls (text, so
    they go through the same typing as a present column)."""
    missing = [c for c in table.added_later if c not in source_df.columns]
    if missing:
        log.info(
            "ingest %s: the export predates column(s) %s; ingested as null",
            table.name,
            ", ".join(missing),
        )
    return source_df.select("*", *[F.lit(None).cast("string").alias(c) for c in missing])


def _typed(raw: Column, source_type: T.DataType, target: T.DataType) -> Column:
    """Convert one source column to the contract type; unparseable values become null."""
    if source_type == target:
        return raw
    if isinstance(target, T.ArrayType) and isinstance(source_type, T.StringType):
        return F.from_json(raw, target)
    if isinstance(target, T.TimestampType) and isinstance(source_type, T.StringType):
        return F.try_to_timestamp(F.trim(raw))
    if isinstance(target, T.LongType) and not isinstance(source_type, (*_INTEGRAL, T.StringType)):
        # 1.5 must not become 1: keep only whole numbers.
        return F.when(raw == F.floor(raw), raw.try_cast("long"))
    if isinstance(source_type, T.StringType):
        return F.trim(raw).try_cast(target)
    return raw.try_cast(target)


def _reason(condition: Column, rule: str, column: str) -> Column:
    return F.when(condition, F.lit(f"{rule}:{column}"))


def parse_rows(source_df: DataFrame, table: SourceTable) -> DataFrame:
    """Add typed contract columns and `_reasons`, the rules each row breaks (empty if none).

    Typed columns are named like the contract; the original values stay in `_record`.
    """
    source_types = {f.name: f.dataType for f in source_df.schema.fields}
    record = F.to_json(
        F.struct(*[F.col(c) for c in source_df.columns if c != SOURCE_FILE]),
        {"ignoreNullFields": "false"},
    )
    typed = {
        f.name: _typed(F.col(f.name), source_types[f.name], f.dataType) for f in table.schema.fields
    }
    staged = source_df.select(
        *[F.col(c).alias(f"_src_{c}") for c in table.columns],
        *[expr.alias(name) for name, expr in typed.items()],
        record.alias("_record"),
        F.col(SOURCE_FILE) if SOURCE_FILE in source_df.columns else F.lit(None).alias(SOURCE_FILE),
    )
    checks: list[Column] = []
    for column in table.columns:
        src, val = F.col(f"_src_{column}"), F.col(column)
        rule = "unparseable_timestamp" if column == table.event_time else "bad_type"
        checks.append(_reason(src.isNotNull() & val.isNull(), rule, column))
        if column in table.primary_key:
            checks.append(_reason(src.isNull(), "null_key", column))
        elif column in table.required:
            checks.append(_reason(src.isNull(), "null_required", column))
    for column, domain in table.enums.items():
        checks.append(_reason(~F.col(column).isin(*domain), "unknown_enum", column))
    if table.event_time is not None:
        mismatch = F.to_date(F.col(table.event_time)) != F.col("event_date")
        checks.append(_reason(mismatch, "event_date_mismatch", "event_date"))
    return staged.withColumn(REASONS, F.array_compact(F.array(*checks))).drop(
        *[f"_src_{c}" for c in table.columns]
    )


def flag_duplicates(parsed_df: DataFrame, table: SourceTable) -> DataFrame:
    """Among otherwise valid rows sharing a primary key keep one, flag the others.

    The kept row is the one whose original record sorts first, so reruns keep the same row.
    """
    window = Window.partitionBy(*table.primary_key).orderBy("_record", SOURCE_FILE)
    is_valid = F.size(REASONS) == 0
    rank = F.when(is_valid, F.row_number().over(window))
    duplicate = F.lit(f"duplicate_key:{','.join(table.primary_key)}")
    return parsed_df.withColumn(
        REASONS,
        F.when(rank > 1, F.array(duplicate)).otherwise(F.col(REASONS)),
    )


def quarantine_rows(flagged_df: DataFrame, table: SourceTable, batch_date: dt.date) -> DataFrame:
    """The rejected rows in the quarantine table's shape."""
    first = F.try_element_at(F.col(REASONS), F.lit(1))
    return flagged_df.where(F.size(REASONS) > 0).select(
        F.lit(table.name).alias("source_table"),
        F.lit(batch_date).alias("batch_date"),
        F.split(first, ":").getItem(0).alias("rule"),
        F.split(first, ":").getItem(1).alias("column"),
        F.col(REASONS).alias("reasons"),
        F.col(SOURCE_FILE).alias("source_file"),
        F.col("_record").alias("record"),
    )


def clean_rows(flagged_df: DataFrame, table: SourceTable) -> DataFrame:
    """The accepted rows in the contract's schema and column order."""
    return flagged_df.where(F.size(REASONS) == 0).select(
        *[F.col(f.name).cast(f.dataType) for f in table.schema.fields]
    )


def _date_predicate(start: dt.date, end: dt.date) -> str:
    return f"event_date >= '{start.isoformat()}' AND event_date <= '{end.isoformat()}'"


def ingest_table(
    spark: SparkSession,
    cfg: Config,
    table: SourceTable,
    as_of: dt.date,
    *,
    full: bool = False,
) -> TableIngest:
    """Ingest one table: read, check, quarantine, write. Idempotent for its dates."""
    source_root = cfg.ingest.source_root or cfg.storage.landing_root
    options = dict(cfg.ingest.csv_options) if cfg.ingest.source_format == "csv" else {}
    source_df = read_export(spark, source_root, table, cfg.ingest.source_format, options)
    check_source_schema(source_df.schema, table, allow_extra=cfg.ingest.allow_extra_columns)
    source_df = with_added_columns(source_df, table)
    start, end = window(as_of, cfg.ingest.days)
    replace_where = None
    if table.is_event_table and not full:
        # Partition pruning on the export: only the run's event dates are scanned.
        event_date = F.col("event_date").try_cast("date")
        source_df = source_df.where(event_date.between(F.lit(start), F.lit(end)))
        replace_where = _date_predicate(start, end)
    source_df = source_df.select(
        *[c for c in source_df.columns if c in table.columns or c == SOURCE_FILE]
    )
    flagged_df = flag_duplicates(parse_rows(source_df, table), table).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        # The first action reads every export file: an unreadable one fails here, before
        # anything is written.
        with reading_export(table.name):
            by_rule = rule_counts(flagged_df)
        read = sum(by_rule.values())
        quarantined = read - by_rule.pop("", 0)
        write_table(
            quarantine_rows(flagged_df, table, as_of),
            QUARANTINE.ref(cfg.storage),
            replace_where=f"source_table = '{table.name}' AND batch_date = '{as_of.isoformat()}'",
            partition_by=QUARANTINE.partition_by,
        )
        clean = clean_rows(flagged_df, table)
        held_back = 0
        if table.snapshot_time is not None:
            visible = F.col(table.snapshot_time) < F.lit(end_of_day(as_of))
            held_back = clean.where(~visible).count()
            clean = clean.where(visible)
            if held_back:
                log.info(
                    "ingest %s: %d row(s) dated after %s held back (ingested on their date)",
                    table.name,
                    held_back,
                    as_of,
                )
        result = TableIngest(
            table.name, read, read - quarantined - held_back, quarantined, by_rule, held_back
        )
        if result.reject_fraction > cfg.ingest.max_reject_fraction:
            raise RejectLimitError(
                f"ingest: table {table.name!r} rejected {quarantined} of {read} rows "
                f"({result.reject_fraction:.2%}), above ingest.max_reject_fraction "
                f"{cfg.ingest.max_reject_fraction:.2%}; rules: {by_rule}; "
                "the rows are in quality.quarantine and the raw table was not changed"
            )
        write_table(
            clean,
            RAW[table.name].ref(cfg.storage),
            replace_where=replace_where,
            partition_by=RAW[table.name].partition_by,
        )
        log.info("ingest %s: %d read, %d quarantined", table.name, read, quarantined)
        return result
    finally:
        flagged_df.unpersist()


def rule_counts(flagged_df: DataFrame) -> dict[str, int]:
    """Rows per first broken rule (`""` for clean rows), in one aggregation."""
    rule = F.coalesce(F.try_element_at(F.col(REASONS), F.lit(1)), F.lit(""))
    return {r["rule"]: r["count"] for r in flagged_df.groupBy(rule.alias("rule")).count().collect()}


def run_ingest(
    spark: SparkSession,
    cfg: Config,
    *,
    tables: Iterable[str] | None = None,
    full: bool = False,
) -> list[TableIngest]:
    """Ingest every source table (or the named ones) for the run's as-of date."""
    as_of = cfg.run_date()
    names = list(tables) if tables else list(SOURCE_TABLES)
    unknown = [n for n in names if n not in SOURCE_TABLES]
    if unknown:
        raise ValueError(f"ingest: unknown table {unknown[0]!r}; expected {list(SOURCE_TABLES)}")
    return [ingest_table(spark, cfg, SOURCE_TABLES[n], as_of, full=full) for n in names]
