"""Checks that need more than one table or more than one run, computed with Spark."""

from __future__ import annotations

from pyspark.sql import DataFrame

from botdetect.quality.gx import CheckResult


def orphan_fraction(
    child_df: DataFrame, parent_df: DataFrame, table: str, max_fraction: float
) -> CheckResult:
    """Share of `child_df` rows whose account_id is not in `parent_df` (referential check)."""
    total = child_df.count()
    orphans = (
        child_df.select("account_id")
        .join(parent_df.select("account_id").distinct(), "account_id", how="left_anti")
        .count()
    )
    fraction = orphans / total if total else 0.0
    return CheckResult(
        table=table,
        expectation="ExpectAccountIdsToExistInAccounts",
        column="account_id",
        severity="critical",
        success=fraction <= max_fraction,
        observed=f"{fraction:.6f}",
        unexpected_count=orphans,
        unexpected_percent=100 * fraction,
        details=f"at most {max_fraction:.4%} of rows may reference unknown accounts",
    )


def volume_change(
    table: str, rows: int, previous_rows: int | None, band: list[float]
) -> CheckResult:
    """This run's row count against the previous run's, as a ratio inside `band`."""
    if previous_rows is None:
        return CheckResult(
            table,
            "ExpectRowCountWithinBandOfPreviousRun",
            "",
            "critical",
            True,
            str(rows),
            None,
            None,
            "no previous run to compare with",
        )
    ratio = rows / previous_rows if previous_rows else float("inf")
    return CheckResult(
        table=table,
        expectation="ExpectRowCountWithinBandOfPreviousRun",
        column="",
        severity="critical",
        success=band[0] <= ratio <= band[1],
        observed=str(rows),
        unexpected_count=None,
        unexpected_percent=None,
        details=f"{rows} rows vs {previous_rows} in the previous run (ratio {ratio:.2f}, "
        f"allowed {band[0]}-{band[1]})",
    )
