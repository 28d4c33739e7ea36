"""Small tables made on the driver (a run's audit row, quality results, monitoring rows)
as DataFrames that live in the JVM.

`spark.createDataFrame(rows, schema)` on a Python list keeps the rows pickled: every scan
of the DataFrame starts Python workers to unpickle them again. Handed over as one Arrow
table, the rows are read by the JVM alone, however often the DataFrame is scanned (the
tests' feature and quality suites on hand-made rows: 179 s -> 135 s on 2 cores).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema


def _plain(value: Any, dtype: T.DataType) -> Any:
    """A Python value in the shape pyarrow takes for `dtype`: structs (tuples, Rows or
    dicts) as dicts by field name, maps as (key, value) pairs."""
    if value is None:
        return None
    if isinstance(dtype, T.StructType):
        if isinstance(value, Row) and hasattr(value, "__fields__"):
            value = value.asDict()
        if isinstance(value, Mapping):
            return {f.name: _plain(value.get(f.name), f.dataType) for f in dtype.fields}
        if len(value) != len(dtype.fields):
            raise ValueError(
                f"a row of {len(value)} values for a schema of {len(dtype.fields)} "
                f"columns ({dtype.simpleString()}): {value!r}"
            )
        return {f.name: _plain(v, f.dataType) for f, v in zip(dtype.fields, value, strict=True)}
    if isinstance(dtype, T.ArrayType):
        return [_plain(v, dtype.elementType) for v in value]
    if isinstance(dtype, T.MapType):
        return [(_plain(k, dtype.keyType), _plain(v, dtype.valueType)) for k, v in value.items()]
    return value


def rows_frame(spark: SparkSession, rows: Iterable[Any], schema: T.StructType | str) -> DataFrame:
    """`rows` (tuples in column order, Rows or dicts) as a DataFrame of `schema` (a
    StructType or a DDL string), converted once through Arrow. Timestamps are UTC, as
    everywhere in botdetect; a value of the wrong type fails here, naming the column."""
    struct = T.StructType.fromDDL(schema) if isinstance(schema, str) else schema
    if not isinstance(struct, T.StructType):
        raise TypeError(f"rows_frame needs a struct schema, not {struct!r}")
    plain = [_plain(r, struct) for r in rows]
    arrow_schema = to_arrow_schema(struct)
    try:
        table = pa.Table.from_pylist(plain, schema=arrow_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        for field in arrow_schema:  # name the column that does not convert
            try:
                pa.array([row[field.name] for row in plain], type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as col_exc:
                raise TypeError(f"column {field.name!r} ({field.type}): {col_exc}") from exc
        raise
    return spark.createDataFrame(table, struct)
