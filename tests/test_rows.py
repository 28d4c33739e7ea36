"""Driver-made rows handed to the JVM through Arrow (`botdetect.io.rows`)."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import types as T

from botdetect.io.rows import rows_frame

SCHEMA = (
    "id long, name string, at timestamp, day date, score double, flag boolean, "
    "ids array<long>, pair struct<n:int,s:string>, counts map<string,long>"
)
ROWS = [
    (
        1,
        "a",
        dt.datetime(2026, 11, 28, 23, 59, 59),
        dt.date(2026, 11, 28),
        0.5,
        True,
        [3, 4],
        (7, "x"),
        {"k": 2},
    ),
    (2, None, None, None, float("nan"), None, [], None, {}),
    (None, None, None, None, None, None, None, None, None),
]


def test_rows_equal_what_spark_makes_of_them(spark):
    made = rows_frame(spark, ROWS, SCHEMA)
    assert_df_equality(made, spark.createDataFrame(ROWS, SCHEMA), allow_nan_equality=True)
    # ...and none of them goes back through Python when the frame is scanned.
    assert "PythonRDD" not in made._jdf.queryExecution().toRdd().toDebugString()


def test_rows_may_be_named_rows_or_dicts_in_any_field_order(spark):
    schema = "id long, pair struct<n:int,s:string>"
    expected = spark.createDataFrame([(1, (2, "b")), (3, None)], schema)
    named = [Row(pair=Row(s="b", n=2), id=1), {"id": 3}]
    assert_df_equality(rows_frame(spark, named, schema), expected)


def test_no_rows_give_an_empty_frame_of_the_schema(spark):
    schema = T.StructType([T.StructField("id", T.LongType(), nullable=False)])
    empty = rows_frame(spark, [], schema)
    assert empty.schema == schema
    assert empty.count() == 0


def test_bad_rows_fail_naming_the_column(spark):
    with pytest.raises(TypeError, match="column 'score'"):
        rows_frame(spark, [(1, "high")], "id long, score double")
    with pytest.raises(ValueError, match="a row of 1 values for a schema of 2 columns"):
        rows_frame(spark, [(1,)], "id long, score double")
    not_null = T.StructType([T.StructField("id", T.LongType(), nullable=False)])
    with pytest.raises(ValueError, match="'id'"):
        rows_frame(spark, [(None,)], not_null)
    with pytest.raises(TypeError, match="struct schema"):
        rows_frame(spark, [(1,)], T.LongType())
