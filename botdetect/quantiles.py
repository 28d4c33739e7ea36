"""Population quantiles in one pass, and where a value falls among them (Spark columns)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def quantile_cuts(
    df: DataFrame,
    columns: Sequence[str],
    probabilities: Sequence[float],
    relative_error: float = 0.001,
) -> dict[str, list[float]]:
    """Approximate quantiles of each column (as doubles), all columns in one pass."""
    if not columns:
        return {}
    cuts = df.select(*[F.col(c).cast("double").alias(c) for c in columns]).approxQuantile(
        list(columns), list(probabilities), relative_error
    )
    return dict(zip(columns, cuts, strict=True))


def count_below(value: Column, points: Sequence[float], inclusive: bool = False) -> Column:
    """How many of `points` lie below `value` (or at it, with `inclusive`)."""
    cuts = F.array(*[F.lit(p) for p in points])
    if inclusive:
        return F.size(F.filter(cuts, lambda x: x <= value))
    return F.size(F.filter(cuts, lambda x: x < value))
