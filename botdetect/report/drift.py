"""Population stability: how far today's features and scores moved from the training data.

PSI = sum over bins of (cur - ref) * ln(cur / ref), with bins cut at the reference's
deciles and its 99.9th percentile (ties merged, nulls a bin of their own). Common
reading: < 0.1 stable, 0.1-0.25 a shift worth a look, > 0.25 a real change.

PSI is blind to a small new population: a campaign of 0.2% of accounts moves no decile.
The tail ratio catches it: the share of current rows above the reference's 99.9th
percentile over the reference's own share there (about 1 when nothing changed).

Counting runs in Spark as one aggregation over (column, bin) pairs; only the counts, at
most 13 per column, reach the driver.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.quantiles import count_below, quantile_cuts

DECILES = [i / 10 for i in range(1, 10)]
TAIL = 0.999
QUANTILES = [*DECILES, TAIL]
NULL_BIN = -1
EPSILON = 1e-4  # stands in for an empty bin, so one empty side does not make PSI infinite


def psi(reference: Mapping[int, float], current: Mapping[int, float]) -> float:
    """PSI of two binned distributions given as bin -> count (normalised here)."""
    ref_total = sum(reference.values())
    cur_total = sum(current.values())
    if ref_total <= 0 or cur_total <= 0:
        raise ValueError("psi: both distributions need at least one row")
    value = 0.0
    for b in set(reference) | set(current):
        r = max(reference.get(b, 0) / ref_total, EPSILON)
        c = max(current.get(b, 0) / cur_total, EPSILON)
        value += (c - r) * math.log(c / r)
    return value


@dataclasses.dataclass(frozen=True)
class Drift:
    psi: float
    tail_ratio: float  # current share above the reference's tail cut / reference share
    tail_share: float  # current share above the reference's tail cut


def tail_shares(
    reference: Mapping[int, float], current: Mapping[int, float], top_bin: int
) -> tuple[float, float]:
    """(reference, current) shares of rows in `top_bin`, the bin above every cut."""
    ref = reference.get(top_bin, 0) / max(sum(reference.values()), 1)
    cur = current.get(top_bin, 0) / max(sum(current.values()), 1)
    return ref, cur


def decile_cuts(df: DataFrame, columns: Sequence[str]) -> dict[str, list[float]]:
    """Distinct cut points (deciles and the tail quantile) of each column, in one pass."""
    cuts = quantile_cuts(df, columns, QUANTILES, relative_error=0.0001)
    return {c: sorted(set(v)) for c, v in cuts.items()}


def bin_counts(df: DataFrame, cuts: Mapping[str, Sequence[float]]) -> dict[str, dict[int, int]]:
    """column -> bin -> rows; bin k holds values above k cut points, NULL_BIN the nulls."""
    pairs = []
    for column, points in cuts.items():
        pairs.append(
            F.struct(F.lit(column).alias("column"), _bin(F.col(column), points).alias("bin"))
        )
    if not pairs:
        return {}
    rows = df.select(F.inline(F.array(*pairs))).groupBy("column", "bin").count().collect()
    out: dict[str, dict[int, int]] = {c: {} for c in cuts}
    for r in rows:
        out[r["column"]][r["bin"]] = r["count"]
    return out


def _bin(value: F.Column, points: Sequence[float]) -> F.Column:
    as_double = value.cast("double")
    above = count_below(as_double, points) if points else F.lit(0)
    return F.when(as_double.isNull(), F.lit(NULL_BIN)).otherwise(above)


def drift(
    reference_df: DataFrame, current_df: DataFrame, columns: Sequence[str]
) -> dict[str, Drift]:
    """PSI and tail movement of each column, current against reference."""
    cuts = decile_cuts(reference_df, columns)
    ref = bin_counts(reference_df, cuts)
    cur = bin_counts(current_df, cuts)
    out = {}
    for c in columns:
        if not ref[c] or not cur[c]:
            continue
        ref_tail, cur_tail = tail_shares(ref[c], cur[c], len(cuts[c]))
        # Smoothed: no rows above the cut on either side reads as 1 (no change).
        out[c] = Drift(psi(ref[c], cur[c]), (cur_tail + EPSILON) / (ref_tail + EPSILON), cur_tail)
    return out
