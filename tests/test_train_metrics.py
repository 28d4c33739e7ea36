"""Prevalence-corrected precision, thresholds, intervals, the split and promotion rules."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from botdetect.model.registry import Comparison, decide_promotion
from botdetect.train import evaluate as ev
from botdetect.train.dataset import (
    TrainingDataError,
    check_classes,
    evaluation_rows,
    split_of,
    training_rows,
)
from botdetect.train.stage import threshold_metrics
from tests.conftest import jvm_rows

# Ten bins. Negatives were sampled at 10%, so each stands for 10 accounts (w = 10).
HIST = [
    ev.Bin(9, pos_w=8, neg_w=10, pos_n=8, neg_n=1, pos_w2=8, neg_w2=100),
    ev.Bin(5, pos_w=2, neg_w=40, pos_n=2, neg_n=4, pos_w2=2, neg_w2=400),
    ev.Bin(1, pos_w=0, neg_w=200, pos_n=0, neg_n=20, pos_w2=0, neg_w2=2000),
]


def test_precision_at_true_prevalence_reweights_sampled_negatives():
    points = ev.curve(HIST, 10)
    top = ev.at_threshold(points, ev.bin_edge(9, 10))
    # As sampled: 8 bots among 9 flagged. In the population the one negative is 10 accounts.
    assert top.precision_sampled == pytest.approx(8 / 9)
    assert top.precision == pytest.approx(8 / 18)
    assert top.recall == pytest.approx(0.8)
    mid = ev.at_threshold(points, ev.bin_edge(5, 10))
    assert mid.precision == pytest.approx(10 / 60)
    assert mid.recall == pytest.approx(1.0)
    # A threshold between bins behaves like the next bin edge below it.
    assert ev.at_threshold(points, (ev.bin_edge(9, 10) + ev.bin_edge(10, 10)) / 2) == top


def test_curve_starts_with_nothing_flagged_and_ends_with_everything():
    points = ev.curve(HIST, 10)
    assert len(points) == 11
    assert points[0].flagged_n == 0 and points[0].precision is None
    assert points[-1].threshold == 0.0
    assert (points[-1].tp_w, points[-1].fp_w) == (10, 250)


def test_bins_are_equal_steps_of_log_odds_with_resolution_at_the_top():
    assert ev.bin_edge(0, 1000) == 0.0
    assert ev.bin_edge(500, 1000) == pytest.approx(0.5)
    assert ev.bin_edge(1000, 1000) > 1.0
    # Between 0.98 and 0.9999 there are ~200 thresholds, not the 2 of linear bins.
    between = [k for k in range(1000) if 0.98 <= ev.bin_edge(k, 1000) <= 0.9999]
    assert len(between) > 150


def test_average_precision_and_roc_auc_of_perfect_and_useless_scores():
    perfect = ev.curve([ev.Bin(9, 10, 0, 10, 0), ev.Bin(0, 0, 90, 0, 9)], 10)
    assert ev.average_precision(perfect) == pytest.approx(1.0)
    assert ev.roc_auc(perfect) == pytest.approx(1.0)
    useless = ev.curve([ev.Bin(5, 10, 90, 10, 9)], 10)  # one bin: no ordering at all
    assert ev.average_precision(useless) == pytest.approx(0.1)
    assert ev.roc_auc(useless) == pytest.approx(0.5)
    assert ev.roc_auc(ev.curve([ev.Bin(5, 10, 0, 10, 0)], 10)) is None  # no negatives


def test_wilson_interval_matches_a_hand_computed_value():
    lo, hi = ev.wilson(0.9, 100)
    # p=0.9, n=100, z=1.96: centre 0.9192 / 1.0384 = 0.8852, half-width 0.0596.
    assert (lo, hi) == (pytest.approx(0.8256, abs=1e-4), pytest.approx(0.9448, abs=1e-4))
    assert ev.wilson(1.0, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ev.wilson(0.5, 0)


def test_summary_names_metrics_and_intervals_use_the_effective_sample_size():
    points = ev.curve(HIST, 10)
    got = ev.summary(points, ev.bin_edge(9, 10), "test_block")
    assert got["test_block_precision"] == pytest.approx(8 / 18)
    assert got["test_block_flagged"] == 9
    # Kish: (8 + 10)^2 / (8 + 100) = 3 effective rows: a wide interval.
    lo, hi = ev.wilson(8 / 18, 18 * 18 / 108)
    assert (got["test_block_precision_lo"], got["test_block_precision_hi"]) == (
        pytest.approx(lo),
        pytest.approx(hi),
    )
    assert ev.summary(points, None, "x") == {}


def test_score_histogram_bins_scores_in_spark(spark):
    # Ten bins of 2.4 log-odds: bin 5 holds 0.5..0.917, bin 9 from 0.99993 up.
    df = jvm_rows(
        spark,
        [(0.99995, 1, 1.0), (0.9999999, 0, 10.0), (1.0, 1, 1.0), (0.55, 1, 1.0), (0.0, 0, 10.0)],
        "score double, label int, w double",
    )
    got = sorted(ev.score_histogram(df, 10), key=lambda b: b.index)
    assert got == [
        ev.Bin(0, 0.0, 10.0, 0, 1, 0.0, 100.0),  # a score of exactly 0 in the first bin
        ev.Bin(5, 1.0, 0.0, 1, 0, 1.0, 0.0),
        ev.Bin(9, 2.0, 10.0, 2, 1, 2.0, 100.0),  # a score of exactly 1.0 lands in the top bin
    ]
    empty = jvm_rows(spark, [], "score double, label int, w double")
    assert ev.score_histogram(empty, 10) == []


def test_split_never_separates_a_component(spark):
    df = spark.range(0, 3000).select(
        F.col("id").alias("account_id"), (F.col("id") % 300).alias("cluster_id")
    )
    split = df.withColumn("split", split_of(F.col("cluster_id"), 23, [0.7, 0.15, 0.15]))
    per_cluster = split.groupBy("cluster_id").agg(F.countDistinct("split").alias("n"))
    assert per_cluster.where("n > 1").count() == 0
    shares = {r["split"]: r["count"] / 3000 for r in split.groupBy("split").count().collect()}
    assert set(shares) == {"train", "validation", "test"}
    assert 0.6 < shares["train"] < 0.8
    again = df.withColumn("split", split_of(F.col("cluster_id"), 23, [0.7, 0.15, 0.15]))
    assert sorted(split.collect()) == sorted(again.collect())


def _labelled(spark, rows):
    return jvm_rows(
        spark,
        rows,
        "account_id long, label int, label_source string, weight double, sample_rate double,"
        " split string",
    )


def test_training_rows_downsample_negatives_only_and_respect_use_expanded(spark):
    rows = [(i, 0, "random", 1.0, 0.2, "train") for i in range(1000)]
    rows += [(5000 + i, 1, "ops", 1.0, 1.0, "train") for i in range(50)]
    rows += [(6000 + i, 1, "expanded", 0.5, 1.0, "train") for i in range(10)]
    rows += [(7000 + i, 1, "ops", 1.0, 1.0, "test") for i in range(10)]
    df = _labelled(spark, rows)
    got = training_rows(df.where("split = 'train'"), 0.3, 23, use_expanded=True)
    counts = {r["label_source"]: r["count"] for r in got.groupBy("label_source").count().collect()}
    assert counts["ops"] == 50 and counts["expanded"] == 10  # every positive kept
    assert 240 <= counts["random"] <= 360  # 30% of 1000
    without = training_rows(df, 0.3, 23, use_expanded=False)  # callers choose the rows
    assert without.where("label_source = 'expanded'").count() == 0
    assert without.where("split != 'train'").count() == 10


def test_evaluation_rows_cover_every_stratum_with_inverse_sampling_weights(spark):
    df = _labelled(
        spark,
        [
            (1, 1, "ops", 1.0, 1.0, "test"),
            (2, 1, "expanded", 0.5, 1.0, "test"),
            (3, 0, "random", 1.0, 0.2, "test"),
            (4, 0, "verified", 1.0, 0.5, "test"),
            (6, 0, "cleared", 1.0, 1.0, "test"),
            (5, 0, "random", 1.0, 0.2, "validation"),
        ],
    )
    got = {r["account_id"]: r["w"] for r in evaluation_rows(df, ("test",)).collect()}
    assert got == {1: 1.0, 2: 1.0, 3: 5.0, 4: 2.0, 6: 1.0}
    both = evaluation_rows(df, ("validation", "test"))
    assert sorted(r["account_id"] for r in both.collect()) == [1, 2, 3, 4, 5, 6]


def test_check_classes_refuses_too_few_positives_and_missing_classes():
    ok = {(s, label): 30 for s in ("train", "validation", "test") for label in (0, 1)}
    check_classes(ok, 20)
    with pytest.raises(TrainingDataError, match="train split has 5 positive"):
        check_classes(ok | {("train", 1): 5}, 20)
    with pytest.raises(TrainingDataError, match="validation split has no negative"):
        check_classes({k: v for k, v in ok.items() if k != ("validation", 0)}, 20)


def test_threshold_metrics_by_slice(spark):
    df = jvm_rows(
        spark,
        [
            (0.9, 1, 1.0, "a"),
            (0.8, 0, 2.0, "a"),
            (0.2, 1, 1.0, "a"),
            (0.95, 0, 1.0, "b"),
        ],
        "score double, label int, w double, s string",
    )
    got = threshold_metrics(df, F.col("s"), {"block": 0.85, "review": 0.5, "off": None}, "t")
    assert got == {
        "t_a_positives": 2.0,
        "t_a_negatives": 2.0,
        "t_a_block_recall": 0.5,
        "t_a_block_fpr": 0.0,
        "t_a_block_precision": 1.0,
        "t_a_review_recall": 0.5,
        "t_a_review_fpr": 1.0,
        "t_a_review_precision": 1 / 3,
        "t_b_positives": 0.0,
        "t_b_negatives": 1.0,
        "t_b_block_fpr": 1.0,
        "t_b_block_precision": 0.0,
        "t_b_review_fpr": 1.0,
        "t_b_review_precision": 0.0,
    }


def _comparison(gain_lo: float, change_lo: float | None) -> Comparison:
    return Comparison(
        accounts=500,
        recall=(0.7, 0.6),
        precision=(0.995, 0.99),
        recall_gain_lo=gain_lo,
        precision_change_lo=change_lo,
    )


@pytest.mark.parametrize(
    ("blocks", "version", "champion_blocks", "comparison", "promote", "why"),
    [
        (False, None, False, None, False, "no block band"),  # never champion without a band
        (True, None, False, None, True, "no champion yet"),
        (False, "3", True, _comparison(0.1, 0.0), False, "no block band"),
        (True, "3", False, None, True, "champion v3 has no block band"),
        (True, "3", True, _comparison(0.02, 0.0), True, "catches more"),
        (True, "3", True, _comparison(0.02, -0.01), False, "may lose precision"),
        (True, "3", True, _comparison(0.02, None), False, "may lose precision"),
        (True, "3", True, _comparison(0.0, 0.0), False, "does not surely catch more"),
        (True, "3", True, _comparison(-0.1, 0.0), False, "does not surely catch more"),
    ],
)
def test_promotion_needs_a_block_band_and_bounds_not_point_estimates(
    blocks, version, champion_blocks, comparison, promote, why
):
    decision = decide_promotion(blocks, version, champion_blocks, comparison, 0.0)
    assert decision.promote is promote
    assert why in decision.reason


def test_promotion_tolerates_precision_noise_when_configured():
    assert decide_promotion(True, "1", True, _comparison(0.02, -0.005), 0.01).promote
    assert not decide_promotion(True, "1", True, _comparison(0.02, -0.02), 0.01).promote
