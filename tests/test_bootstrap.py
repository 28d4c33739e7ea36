"""The cluster bootstrap, the confident threshold rule and the calibrator."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from botdetect.draws import uniform
from botdetect.train import evaluate as ev
from botdetect.train.bootstrap import (
    BootstrapCurves,
    confident_threshold,
    min_effective_rows,
    percentile,
    poisson_one,
    replicate_histograms,
    replicate_sums,
)
from botdetect.train.models import calibrate, fit_calibrator
from tests.conftest import jvm_rows

BINS = 10


def _scored(spark, rows):
    return jvm_rows(spark, rows, "cluster_id long, score double, label int, w double")


def test_min_effective_rows_is_the_inverse_of_the_allowed_error():
    assert min_effective_rows(0.99) == 100
    assert min_effective_rows(0.8) == 5
    assert min_effective_rows(1.0) > 10**9


def test_replicate_curves_hold_what_each_replicates_curve_says():
    # Replicates as `replicate_histograms` returns them: bins in any order, some bins
    # absent, a replicate with no positives, one with no rows at all.
    bins = 6
    histograms = [
        [ev.Bin(5, 2.0, 0.5, 2, 1), ev.Bin(0, 0.25, 7.0, 1, 9), ev.Bin(3, 1.5, 0.0, 3, 0)],
        [ev.Bin(2, 0.0, 3.0, 0, 3), ev.Bin(4, 0.0, 0.1, 0, 1)],
        [],
        [ev.Bin(1, 0.1, 0.2, 1, 1)],
    ]
    boot = BootstrapCurves.from_histograms(histograms, bins)
    expected = BootstrapCurves.from_curves([ev.curve(h, bins) for h in histograms])
    assert boot.precision.shape == boot.recall.shape == (4, bins + 1)
    assert boot.precision.tobytes() == expected.precision.tobytes()  # bit for bit, NaNs too
    assert boot.recall.tobytes() == expected.recall.tobytes()
    assert boot.precisions(1) == [0.8]  # replicate 0 flags its top bin; the rest nothing
    assert boot.precisions(0) == []
    assert boot.precision_bound(1, 0.05) is None  # one replicate in four flags anything
    assert boot.recall_bound(bins, 0.5) == 1.0  # every replicate with positives, all found


def test_percentile_interpolates_between_order_statistics():
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0], 0.25) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_poisson_draws_have_mean_and_variance_one(spark):
    df = spark.range(20000).select(poisson_one(uniform(7, "t", F.col("id"))).alias("k"))
    row = df.agg(F.avg("k").alias("m"), F.variance("k").alias("v"), F.min("k").alias("lo")).first()
    assert row["m"] == pytest.approx(1.0, abs=0.03)
    assert row["v"] == pytest.approx(1.0, abs=0.05)
    assert row["lo"] == 0


def test_the_threshold_rule_ignores_a_single_contaminant_a_point_rule_would_stop_at(spark):
    # The top bin: 20 bots and one contaminant (an unlabelled bot among the sampled
    # negatives, w = 5): precision 20 / 25, so a rule that walks down from the top and stops
    # at the first dip below 0.99 blocks nothing. Below it 2,000 bots in botnets of 4.
    top, second = ev.bin_edge(9, BINS) + 1e-6, ev.bin_edge(8, BINS) + 1e-6
    rows = [(i // 4, top, 1, 1.0) for i in range(20)] + [(999, top, 0, 5.0)]
    rows += [(1000 + i // 4, second, 1, 1.0) for i in range(2000)]
    rows += [(10_000 + i, 0.001, 0, 5.0) for i in range(1000)]
    df = _scored(spark, rows)
    points = ev.curve(ev.score_histogram(df, BINS), BINS)
    assert points[1].precision == pytest.approx(0.8)  # where a point rule stops
    boot = BootstrapCurves.from_histograms(replicate_histograms(df, BINS, 200, 3), BINS)
    threshold, index = confident_threshold(points, boot, 0.99, 0.95)
    # The band of 2,021 accounts is judged as a whole, with the contaminant's cluster drawn
    # 0..k times: its bound stays above 0.99.
    assert threshold == pytest.approx(ev.bin_edge(8, BINS))
    assert points[index].precision == pytest.approx(2020 / 2025)
    # Five contaminants in the top band are evidence, not noise: no block band.
    rows += [(990 + i, top, 0, 5.0) for i in range(4)]
    df = _scored(spark, rows)
    points = ev.curve(ev.score_histogram(df, BINS), BINS)
    boot = BootstrapCurves.from_histograms(replicate_histograms(df, BINS, 200, 3), BINS)
    assert confident_threshold(points, boot, 0.99, 0.95) == (None, None)


def test_bands_too_small_to_judge_are_skipped_not_trusted(spark):
    # 3 bots with a contaminant above 150 clean bots: the tiny top band (precision 3/8) is
    # below the rows needed to judge 0.8, so it neither stops the scan nor counts.
    top, second = ev.bin_edge(9, BINS) + 1e-6, ev.bin_edge(8, BINS) + 1e-6
    rows = [(1, top, 1, 1.0), (2, top, 1, 1.0), (3, top, 1, 1.0), (4, top, 0, 1.0)]
    rows += [(100 + i, second, 1, 1.0) for i in range(150)]
    rows += [(10_000 + i, 0.001, 0, 5.0) for i in range(100)]
    df = _scored(spark, rows)
    points = ev.curve(ev.score_histogram(df, BINS), BINS)
    boot = BootstrapCurves.from_histograms(replicate_histograms(df, BINS, 100, 5), BINS)
    assert confident_threshold(points, boot, 0.8, 0.95, min_effective=10)[0] == pytest.approx(
        ev.bin_edge(8, BINS)
    )


def test_a_botnet_is_resampled_as_a_whole(spark):
    df = jvm_rows(spark, [(1, 1.0), (1, 1.0), (1, 1.0), (2, 1.0)], "cluster_id long, x double")
    full, reps = replicate_sums(df, ["x"], 50, 11)
    assert full == {"x": 4.0}
    # Each replicate draws cluster 1 (3 rows) and cluster 2 (1 row) whole: x = 3a + b.
    assert all(any(r["x"] == 3 * a + b for a in range(9) for b in range(9)) for r in reps)
    assert len(reps) <= 50
    assert {r["x"] for r in reps} - {3 * a + b for a in range(9) for b in range(9)} == set()


def test_the_calibrator_is_monotone_and_weighted_to_the_population(spark):
    # Margins 0..9; positives only at the top; negatives weigh 5 (sampled at 20%).
    rows = [(float(m), 1 if m >= 7 else 0, 1.0 if m >= 7 else 5.0) for m in range(10)]
    rows += [(8.0, 0, 5.0)]  # one sampled negative among the top margins
    raw = jvm_rows(spark, rows, "raw double, label int, w double")
    calibrator = fit_calibrator(raw)
    got = [r["score"] for r in calibrate(calibrator, raw).orderBy("raw").collect()]
    assert got == sorted(got)  # monotone in the margin
    assert got[0] == 0.0 and got[-1] == 1.0
    # Margins 7 and 8 pool: 2 positives against one negative of weight 5 -> 2 / 7, placed
    # at their weighted mean margin (7 * 1 + 8 * 6) / 7; margins 0..6 pool to 0 at 3.
    centre = (7 * 1 + 8 * 6) / 7
    assert calibrate(calibrator, jvm_rows(spark, [(centre,)], "raw double")).first()[
        "score"
    ] == pytest.approx(2 / 7)
    # Between two block centres the score is interpolated, never a step: the margin 7.5
    # gets a probability between the blocks' 0 and 2/7 that no plain isotonic step holds.
    between = calibrate(calibrator, jvm_rows(spark, [(7.5,)], "raw double")).first()
    assert between["score"] == pytest.approx((7.5 - 3) / (centre - 3) * 2 / 7)
    edges = jvm_rows(spark, [(-5.0,), (20.0,)], "raw double")
    assert [r["score"] for r in calibrate(calibrator, edges).orderBy("raw").collect()] == [0, 1]
