"""Confidence bounds with botnets as the sampling unit: a Poisson cluster bootstrap.

Bots come in botnets, and the members of one botnet score alike: if one of them sits among
the sampled negatives of a top score bin (an unlabelled bot), its whole botnet tends to sit
there too. Per-account intervals (Wilson) treat those accounts as independent draws and are
too narrow. Resampling whole components (`cluster_id`, the shared IP/device graph)
instead keeps the dependence inside a botnet.

Each replicate gives every component a Poisson(1) weight drawn from a hash of (seed,
replicate, cluster), the Poisson bootstrap: it needs no global resampling step, so Spark
computes every replicate's score histogram in one aggregation, and only `replicates x bins`
rows reach the driver. The weight of a component is the same in every bin, so a botnet is
in or out of a replicate as a whole.

The bounds are percentiles of the replicates' precision at each threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.draws import uniform
from botdetect.train.evaluate import Bin, Point, score_bin

# P(Poisson(1) <= k), k = 0..7; past 7 the draw is 8 (probability 1e-6).
_POISSON_1_CDF = tuple(
    sum(math.exp(-1.0) / math.factorial(i) for i in range(k + 1)) for k in range(8)
)


def poisson_one(u: F.Column) -> F.Column:
    """A Poisson(1) count from a uniform draw in [0, 1) (inverse CDF)."""
    count = F.lit(len(_POISSON_1_CDF))
    for k in range(len(_POISSON_1_CDF) - 1, -1, -1):
        count = F.when(u < F.lit(_POISSON_1_CDF[k]), F.lit(k)).otherwise(count)
    return count


def replicate_histograms(
    scored_df: DataFrame,
    bins: int,
    replicates: int,
    seed: int,
    cluster: str = "cluster_id",
    score: str = "score",
    label: str = "label",
    weight: str = "w",
) -> list[list[Bin]]:
    """The score histogram of each bootstrap replicate (a list per replicate)."""
    is_pos = F.col(label) == 1
    w = F.col(weight).cast("double")
    per_cluster = scored_df.groupBy(
        F.col(cluster).alias("c"), score_bin(F.col(score), bins).alias("bin")
    ).agg(
        F.sum(F.when(is_pos, w).otherwise(0.0)).alias("pos_w"),
        F.sum(F.when(is_pos, 0.0).otherwise(w)).alias("neg_w"),
        F.sum(F.when(is_pos, 1).otherwise(0)).alias("pos_n"),
        F.sum(F.when(is_pos, 0).otherwise(1)).alias("neg_n"),
    )
    drawn = per_cluster.withColumn("b", F.explode(F.sequence(F.lit(0), F.lit(replicates - 1))))
    drawn = drawn.withColumn("m", poisson_one(uniform(seed, "bootstrap", F.col("b"), F.col("c"))))
    m = F.col("m")
    rows = (
        drawn.where(m > 0)
        .groupBy("b", "bin")
        .agg(
            F.sum(m * F.col("pos_w")).alias("pos_w"),
            F.sum(m * F.col("neg_w")).alias("neg_w"),
            F.sum(m * F.col("pos_n")).cast("long").alias("pos_n"),
            F.sum(m * F.col("neg_n")).cast("long").alias("neg_n"),
        )
        .collect()
    )
    out: list[list[Bin]] = [[] for _ in range(replicates)]
    for r in rows:
        out[r["b"]].append(Bin(r["bin"], r["pos_w"], r["neg_w"], r["pos_n"], r["neg_n"]))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile of `values` by linear interpolation between order statistics."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile: no values")
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclasses.dataclass(frozen=True)
class BootstrapCurves:
    """Every replicate's precision and recall at each point of the full data's curve: one
    row per replicate, one column per curve point (strictest first), NaN where the
    replicate has none (it flags nothing there, or holds no positives)."""

    precision: np.ndarray
    recall: np.ndarray

    @classmethod
    def from_curves(cls, curves: Sequence[Sequence[Point]]) -> BootstrapCurves:
        def grid(values: list[list[float | None]]) -> np.ndarray:
            rows = [[np.nan if v is None else v for v in row] for row in values]
            return np.array(rows, dtype=np.float64).reshape(len(rows), -1 if rows else 0)

        return cls(
            grid([[p.precision for p in c] for c in curves]),
            grid([[p.recall for p in c] for c in curves]),
        )

    @classmethod
    def from_histograms(cls, histograms: Sequence[Sequence[Bin]], bins: int) -> BootstrapCurves:
        """`from_curves` of each histogram's `evaluate.curve`, on arrays: the same running
        sums, added in the same order (strictest bin first), so the same numbers. Building
        the curves point by point took 5 s of a 50 s training run (200 replicates x 5 scored
        sets x 1,001 points)."""
        pos_w = np.zeros((len(histograms), bins + 1))
        neg_w = np.zeros((len(histograms), bins + 1))
        for row, histogram in enumerate(histograms):
            for b in histogram:  # column 0 is the point above every score: nothing flagged
                pos_w[row, bins - b.index] = b.pos_w
                neg_w[row, bins - b.index] = b.neg_w
        tp_w = np.cumsum(pos_w, axis=1)
        flagged = tp_w + np.cumsum(neg_w, axis=1)
        positives = np.array([sum(b.pos_w for b in h) for h in histograms], dtype=np.float64)
        positives = positives.reshape(-1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(flagged > 0, tp_w / flagged, np.nan)
            recall = np.where(positives > 0, tp_w / positives, np.nan)
        return cls(precision, recall)

    @property
    def replicates(self) -> int:
        return self.precision.shape[0]

    def precisions(self, index: int) -> list[float]:
        """Replicate precisions at curve point `index` (replicates that flag nothing there
        have no precision and are left out)."""
        column = self.precision[:, index]
        return column[~np.isnan(column)].tolist()

    def precision_bound(self, index: int, q: float) -> float | None:
        """The q-quantile of the replicates' precision at point `index`; None when fewer
        than half of the replicates flag anything there (the band is too rare to judge)."""
        values = self.precisions(index)
        if len(values) * 2 < self.replicates or not values:
            return None
        return percentile(values, q)

    def recall_bound(self, index: int, q: float) -> float | None:
        column = self.recall[:, index]
        values = column[~np.isnan(column)].tolist()
        return percentile(values, q) if values else None


def min_effective_rows(target: float) -> int:
    """Effective flagged rows a band needs before its precision can be judged at `target`.

    One false positive among n rows costs 1/n of precision; below n = 1 / (1 - target) a
    single error moves precision by more than the whole margin the target allows, so the
    band cannot show that it meets it (100 rows for 0.99, 5 for 0.8).
    """
    if target >= 1:
        return 2**31 - 1
    return math.ceil(round(1.0 / (1.0 - target), 6))


def confident_threshold(
    points: Sequence[Point],
    boot: BootstrapCurves,
    target: float,
    confidence: float,
    min_effective: int | None = None,
) -> tuple[float | None, int | None]:
    """(threshold, index of its curve point): the lowest threshold at and above which every
    band large enough to judge has a lower confidence bound of precision >= `target`.

    Bands with fewer than `min_effective_rows(target)` effective rows are not judged: a
    single contaminant (an unlabelled bot among the sampled negatives) in a top band of a
    handful of accounts would stop a point-estimate rule there, while its effect on a
    band large enough to measure is what the bound weighs. Scanning stops at the first
    judged band whose bound falls below the target: a dip disqualifies everything below
    it. Thresholds are only lowered onto bins that hold rows. (None, None): no band reaches
    the target (the model then has no band of this kind).
    """
    needed = min_effective_rows(target) if min_effective is None else min_effective
    q = 1.0 - confidence
    best: tuple[float | None, int | None] = (None, None)
    previous = 0
    for index, p in enumerate(points):  # strictest first
        if p.flagged_n == previous:
            continue
        previous = p.flagged_n
        if p.effective_flagged < needed:
            continue
        bound = boot.precision_bound(index, q)
        if bound is None or bound < target:
            break
        best = (p.threshold, index)
    return best


def replicate_sums(
    df: DataFrame,
    columns: Sequence[str],
    replicates: int,
    seed: int,
    cluster: str = "cluster_id",
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(full-data sums, sums per replicate) of numeric `columns`, resampling whole clusters.

    For paired comparisons: two models' confusion counts on the same accounts are summed in
    the same replicate, so the interval of their difference keeps the pairing.
    """
    per_cluster = df.groupBy(F.col(cluster).alias("c")).agg(
        *[F.sum(F.col(c).cast("double")).alias(c) for c in columns]
    )
    full = per_cluster.agg(*[F.sum(c).alias(c) for c in columns]).first()
    drawn = per_cluster.withColumn("b", F.explode(F.sequence(F.lit(0), F.lit(replicates - 1))))
    drawn = drawn.withColumn("m", poisson_one(uniform(seed, "paired", F.col("b"), F.col("c"))))
    rows = (
        drawn.groupBy("b").agg(*[F.sum(F.col("m") * F.col(c)).alias(c) for c in columns]).collect()
    )
    totals = {c: float(full[c] or 0.0) for c in columns}
    return totals, [{c: float(r[c] or 0.0) for c in columns} for r in rows]
