"""Run a suite of `Check`s with Great Expectations on a Spark DataFrame.

One in-memory (ephemeral) GX context per process: suites are rebuilt from code on every
run, so there is nothing to keep in a file-based context.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from functools import lru_cache
from typing import Any

from pyspark.sql import DataFrame

from botdetect.quality.suites import Check

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One evaluated expectation, flattened for `quality_results` and the report."""

    table: str
    expectation: str
    column: str
    severity: str
    success: bool
    observed: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    details: str | None

    @property
    def is_critical_failure(self) -> bool:
        return not self.success and self.severity == "critical"

    def message(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        observed = (
            self.observed
            if self.unexpected_count is None
            else (f"{self.unexpected_count} unexpected ({self.unexpected_percent or 0:.2f}%)")
        )
        extra = f"; {self.details}" if self.details else ""
        return f"{where}: {self.expectation} failed, observed {observed}{extra}"


@lru_cache(maxsize=1)
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # persist=False: GX would otherwise persist every batch and never unpersist it.
    context.data_sources.add_spark(name="botdetect", persist=False)
    return context


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=str)


def _exception(result: Any) -> str | None:
    info = result.exception_info or {}
    if "raised_exception" in info:
        return info.get("exception_message") if info["raised_exception"] else None
    messages = [
        v.get("exception_message")
        for v in info.values()
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(m or "error" for m in messages) or None


def run_checks(df: DataFrame, table: str, checks: list[Check]) -> list[CheckResult]:
    """Validate `df` against `checks`; every check yields one result, failures included."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context()
    datasource = context.data_sources.get("botdetect")
    # A fresh name per run: GX caches metrics by batch id, which derives from the asset
    # name, so reusing a name would return the previous DataFrame's metrics.
    asset_name = f"{table}_{uuid.uuid4().hex}"
    batch_definition = datasource.add_dataframe_asset(
        name=asset_name
    ).add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=asset_name)
    for index, check in enumerate(checks):
        expectation = getattr(gxe, check.expectation)
        suite.add_expectation(
            expectation(**check.kwargs, severity=check.severity, meta={"check": index})
        )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    validation = batch.validate(suite, result_format="SUMMARY")
    datasource.delete_asset(asset_name)
    results = []
    by_index = {r.expectation_config.meta["check"]: r for r in validation.results}
    for index, check in enumerate(checks):
        result = by_index[index]
        payload = result.result or {}
        results.append(
            CheckResult(
                table=table,
                expectation=check.expectation,
                column=check.column,
                severity=check.severity,
                success=bool(result.success),
                observed=_json(payload.get("observed_value")),
                unexpected_count=payload.get("unexpected_count"),
                unexpected_percent=payload.get("unexpected_percent"),
                details=_exception(result),
            )
        )
    return results
