"""Expectation suites, defined in code from the data contract and the feature catalogue.

A suite is a list of `Check`s: a Great Expectations expectation class name, its kwargs,
and a severity. `critical` failures stop the pipeline; `warning` ones are recorded.
Kept as plain data so tests can read them and conf can override a severity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

from botdetect.config import Config
from botdetect.contract import SOURCE_TABLES, SourceTable
from botdetect.dates import end_of_day
from botdetect.features.catalog import KEY_COLUMNS, feature_columns

CRITICAL = "critical"
WARNING = "warning"
# Loose upper bound for counts: catches +inf and NaN (NaN compares above everything).
COUNT_MAX = 1e12
ENTROPY_MAX = math.log2(24) + 1e-9


@dataclasses.dataclass(frozen=True)
class Check:
    expectation: str  # a great_expectations.expectations class name
    kwargs: dict[str, Any]
    severity: str = CRITICAL

    @property
    def column(self) -> str:
        value = self.kwargs.get("column") or self.kwargs.get("column_list")
        if value is None:
            return ""
        return value if isinstance(value, str) else ",".join(value)


_SPARK_TYPES = {
    "bigint": "LongType",
    "double": "DoubleType",
    "timestamp": "TimestampType",
    "string": "StringType",
    "boolean": "BooleanType",
    "date": "DateType",
}


def raw_suite(table: SourceTable, cfg: Config, as_of: dt.date) -> list[Check]:
    """Schema, keys, enums, time ranges, emptiness and freshness of one raw table."""
    checks = [
        Check("ExpectTableColumnsToMatchSet", {"column_set": table.columns, "exact_match": True})
    ]
    for field in table.schema.fields:
        spark_type = _SPARK_TYPES.get(field.dataType.simpleString())
        if spark_type:
            checks.append(
                Check("ExpectColumnValuesToBeOfType", {"column": field.name, "type_": spark_type})
            )
    for column in table.required:
        checks.append(Check("ExpectColumnValuesToNotBeNull", {"column": column}))
    if len(table.primary_key) == 1:
        checks.append(Check("ExpectColumnValuesToBeUnique", {"column": table.primary_key[0]}))
    else:
        checks.append(
            Check("ExpectCompoundColumnsToBeUnique", {"column_list": list(table.primary_key)})
        )
    for column, domain in table.enums.items():
        checks.append(
            Check("ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(domain)})
        )
    platform_start = dt.datetime.combine(cfg.platform_start, dt.time())
    for field in table.schema.fields:
        if field.dataType.simpleString() == "timestamp":
            checks += [
                Check(
                    "ExpectColumnMinToBeBetween",
                    {"column": field.name, "min_value": platform_start},
                ),
                Check(
                    "ExpectColumnMaxToBeBetween",
                    {"column": field.name, "max_value": end_of_day(as_of)},
                ),
            ]
    if table.is_event_table:
        checks += [
            Check("ExpectTableRowCountToBeBetween", {"min_value": 1}),
            Check(
                "ExpectColumnMaxToBeBetween",
                {"column": "event_date", "min_value": as_of, "max_value": as_of},
            ),
        ]
    return checks


def _feature_bounds(name: str) -> tuple[float, float]:
    if name == "follower_ratio":  # followers per following: not a share
        return 0.0, COUNT_MAX
    if "ratio" in name or "share" in name or name == "reciprocity":
        return 0.0, 1.0
    if name.startswith("gap_cv"):
        return -1.0, COUNT_MAX
    if name.startswith("hour_entropy"):
        return 0.0, ENTROPY_MAX
    return 0.0, COUNT_MAX


def features_suite(cfg: Config, accounts: int) -> list[Check]:
    """Schema, keys, one row per account, value ranges (NaN/inf), constants, distributions."""
    columns = feature_columns(sorted(cfg.features.windows))
    checks = [
        Check(
            "ExpectTableColumnsToMatchSet",
            {"column_set": [*KEY_COLUMNS, *columns], "exact_match": True},
        ),
        Check("ExpectColumnValuesToNotBeNull", {"column": "account_id"}),
        Check("ExpectColumnValuesToBeUnique", {"column": "account_id"}),
        Check("ExpectTableRowCountToEqual", {"value": accounts}),
        # No accounts (an empty world, accounts not ingested) leaves nothing to score.
        Check("ExpectTableRowCountToBeBetween", {"min_value": 1}),
    ]
    for name in columns:
        low, high = _feature_bounds(name)
        checks += [
            Check(
                "ExpectColumnMinToBeBetween", {"column": name, "min_value": low, "max_value": high}
            ),
            Check(
                "ExpectColumnMaxToBeBetween", {"column": name, "min_value": low, "max_value": high}
            ),
            Check(
                "ExpectColumnStdevToBeBetween",
                {"column": name, "min_value": 0.0, "strict_min": True},
                WARNING,
            ),
        ]
    for name, (low, high) in cfg.quality.feature_means.items():
        if name not in columns:
            continue  # a window this configuration does not compute
        checks.append(
            Check(
                "ExpectColumnMeanToBeBetween",
                {"column": name, "min_value": low, "max_value": high},
                WARNING,
            )
        )
    return checks


def apply_overrides(checks: list[Check], table: str, overrides: dict[str, str]) -> list[Check]:
    """Severity overrides from conf: keys `table.Expectation` or `table.Expectation.column`."""
    result = []
    for check in checks:
        severity = overrides.get(f"{table}.{check.expectation}.{check.column}") or overrides.get(
            f"{table}.{check.expectation}", check.severity
        )
        result.append(dataclasses.replace(check, severity=severity))
    return result


RAW_TABLES = list(SOURCE_TABLES)
