"""Precision and recall at the real class prevalence, from a weighted score histogram.

Evaluation sets are samples: every positive, but only some negatives. Each row carries a
weight, 1 / (the probability it was sampled), so weighted counts stand for the whole
population. Spark reduces a scored set to one row per score bin (`score_histogram`);
everything after that is plain Python over at most `bins` rows, so the driver's memory
does not grow with the number of accounts.

Bins are equal steps of the score's log-odds over [-LOGIT_SPAN, LOGIT_SPAN], not of the
score: scores are calibrated probabilities, and the decisions that matter (block at a
precision of 0.99) live between 0.98 and 1.0, where equal steps of the score would leave one
or two bins. A step of 24/1000 in log-odds is about 0.0001 wide at 0.995 and 0.00001 at
0.9995. The threshold of bin k, `bin_edge(k, bins)`, flags every score >= it, which is
exactly the bins >= k.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

Z_95 = 1.959963984540054
LOGIT_SPAN = 12.0  # log-odds of the outermost bin edges: probabilities 6e-6 .. 1 - 6e-6
_CLIP = 1e-12


@dataclasses.dataclass(frozen=True)
class Bin:
    """Counts of one score bin: weighted (population) and raw (as sampled)."""

    index: int
    pos_w: float
    neg_w: float
    pos_n: int
    neg_n: int
    pos_w2: float = 0.0  # sums of squared weights, for the effective sample size
    neg_w2: float = 0.0


@dataclasses.dataclass(frozen=True)
class Point:
    """The confusion counts of one threshold."""

    threshold: float
    tp_w: float
    fp_w: float
    tp_n: int
    fp_n: int
    tp_w2: float
    fp_w2: float
    pos_w: float  # all positives (weighted) and as sampled
    pos_n: int

    @property
    def precision(self) -> float | None:
        """Precision at the population's prevalence (weighted counts)."""
        flagged = self.tp_w + self.fp_w
        return self.tp_w / flagged if flagged > 0 else None

    @property
    def precision_sampled(self) -> float | None:
        flagged = self.tp_n + self.fp_n
        return self.tp_n / flagged if flagged > 0 else None

    @property
    def recall(self) -> float | None:
        return self.tp_w / self.pos_w if self.pos_w > 0 else None

    @property
    def recall_sampled(self) -> float | None:
        return self.tp_n / self.pos_n if self.pos_n > 0 else None

    @property
    def flagged_n(self) -> int:
        return self.tp_n + self.fp_n

    @property
    def effective_flagged(self) -> float:
        """Kish's effective sample size of the flagged rows: (sum w)^2 / sum w^2. Without
        squared weights (bootstrap replicates) the raw row count."""
        squares = self.tp_w2 + self.fp_w2
        if squares <= 0:
            return float(self.flagged_n)
        return (self.tp_w + self.fp_w) ** 2 / squares

    def precision_interval(self) -> tuple[float, float] | None:
        """95% Wilson interval for weighted precision, on Kish's effective sample size."""
        weight = self.tp_w + self.fp_w
        squares = self.tp_w2 + self.fp_w2
        if weight <= 0 or squares <= 0:
            return None
        return wilson(self.precision, weight * weight / squares)

    def recall_interval(self) -> tuple[float, float] | None:
        if self.pos_n == 0:
            return None
        return wilson(self.tp_n / self.pos_n, self.pos_n)


def wilson(p: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `p` observed on `n` trials."""
    if n <= 0:
        raise ValueError("wilson: n must be > 0")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def score_bin(score: Column, bins: int) -> Column:
    """The bin of a score in [0, 1]: equal steps of log-odds, 0 and 1 in the end bins."""
    clipped = F.least(F.greatest(score.cast("double"), F.lit(_CLIP)), F.lit(1 - _CLIP))
    logit = F.log(clipped) - F.log1p(-clipped)
    index = F.floor((logit + LOGIT_SPAN) * (bins / (2 * LOGIT_SPAN))).cast("int")
    return F.least(F.greatest(index, F.lit(0)), F.lit(bins - 1))


def bin_edge(k: int, bins: int) -> float:
    """The lowest score of bin k (0 for the first bin, above 1 past the last)."""
    if k <= 0:
        return 0.0
    if k >= bins:
        return 1.0 + 1.0 / bins
    return 1.0 / (1.0 + math.exp(LOGIT_SPAN - 2 * LOGIT_SPAN * k / bins))


def score_histogram(
    scored_df: DataFrame, bins: int, score: str = "score", label: str = "label", weight: str = "w"
) -> list[Bin]:
    """Reduce (score, label, weight) rows to per-bin counts (at most `bins` rows)."""
    index = score_bin(F.col(score), bins)
    is_pos = F.col(label) == 1
    w = F.col(weight).cast("double")
    rows = (
        scored_df.groupBy(index.alias("bin"))
        .agg(
            F.sum(F.when(is_pos, w).otherwise(0.0)).alias("pos_w"),
            F.sum(F.when(is_pos, 0.0).otherwise(w)).alias("neg_w"),
            F.sum(F.when(is_pos, 1).otherwise(0)).alias("pos_n"),
            F.sum(F.when(is_pos, 0).otherwise(1)).alias("neg_n"),
            F.sum(F.when(is_pos, w * w).otherwise(0.0)).alias("pos_w2"),
            F.sum(F.when(is_pos, 0.0).otherwise(w * w)).alias("neg_w2"),
        )
        .collect()
    )
    return [
        Bin(r["bin"], r["pos_w"], r["neg_w"], r["pos_n"], r["neg_n"], r["pos_w2"], r["neg_w2"])
        for r in rows
    ]


def curve(histogram: Sequence[Bin], bins: int) -> list[Point]:
    """One point per threshold `bin_edge(k)`, k = bins .. 0 (strictest first)."""
    by_index = {b.index: b for b in histogram}
    pos_w = sum(b.pos_w for b in histogram)
    pos_n = sum(b.pos_n for b in histogram)
    tp_w = fp_w = tp_w2 = fp_w2 = 0.0
    tp_n = fp_n = 0
    points = [Point(bin_edge(bins, bins), 0.0, 0.0, 0, 0, 0.0, 0.0, pos_w, pos_n)]
    for k in range(bins - 1, -1, -1):
        b = by_index.get(k)
        if b is not None:
            tp_w += b.pos_w
            fp_w += b.neg_w
            tp_n += b.pos_n
            fp_n += b.neg_n
            tp_w2 += b.pos_w2
            fp_w2 += b.neg_w2
        points.append(Point(bin_edge(k, bins), tp_w, fp_w, tp_n, fp_n, tp_w2, fp_w2, pos_w, pos_n))
    return points


def at_threshold(points: Sequence[Point], threshold: float | None) -> Point | None:
    """The point of the strictest threshold <= `threshold` in the curve (None: no threshold)."""
    if threshold is None:
        return None
    eligible = [p for p in points if p.threshold <= threshold + 1e-12]
    return eligible[0] if eligible else None


def lowest_threshold(points: Sequence[Point], target: float, min_flagged: int = 1) -> float | None:
    """The lowest threshold at and above which precision stays >= `target`.

    Precision is not monotone in the threshold; taking the lowest threshold where it
    happens to touch the target would accept a dip just above it. Requiring every
    stricter threshold (that flags at least `min_flagged` sampled rows) to meet the
    target picks the start of the stable high-precision region instead. Thresholds are
    only lowered onto bins that hold rows: lowering one through empty bins changes
    nothing on this data but flags unseen scores. None: no threshold reaches the target.
    """
    best = None
    flagged = 0
    for p in points:  # strictest first
        if p.flagged_n < min_flagged or p.flagged_n == flagged:
            continue
        if p.precision is None or p.precision < target:
            break
        best, flagged = p.threshold, p.flagged_n
    return best


def average_precision(points: Sequence[Point]) -> float | None:
    """Area under the weighted PR curve as a step function (average precision)."""
    total = 0.0
    previous_recall = 0.0
    for p in points:
        if p.recall is None:
            return None
        if p.recall > previous_recall and p.precision is not None:
            total += (p.recall - previous_recall) * p.precision
            previous_recall = p.recall
    return total


def roc_auc(points: Sequence[Point]) -> float | None:
    """Area under the weighted ROC curve (trapezoids; ties share a bin)."""
    if not points:
        return None
    neg_w = points[-1].fp_w
    pos_w = points[-1].pos_w
    if neg_w <= 0 or pos_w <= 0:
        return None
    area = 0.0
    prev_fpr = prev_tpr = 0.0
    for p in points:
        fpr, tpr = p.fp_w / neg_w, p.tp_w / pos_w
        area += (fpr - prev_fpr) * (tpr + prev_tpr) / 2
        prev_fpr, prev_tpr = fpr, tpr
    return area


def summary(points: Sequence[Point], threshold: float | None, prefix: str) -> dict[str, float]:
    """Metrics of one threshold, named `<prefix>_precision` etc.; missing values left out."""
    point = at_threshold(points, threshold)
    if point is None:
        return {}
    values = {
        "threshold": threshold,
        "precision": point.precision,
        "recall": point.recall,
        "precision_sampled": point.precision_sampled,
        "recall_sampled": point.recall_sampled,
        "flagged": float(point.flagged_n),
    }
    interval = point.precision_interval()
    if interval is not None:
        values["precision_lo"], values["precision_hi"] = interval
    interval = point.recall_interval()
    if interval is not None:
        values["recall_lo"], values["recall_hi"] = interval
    return {f"{prefix}_{k}": float(v) for k, v in values.items() if v is not None}
