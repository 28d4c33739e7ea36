"""One rule chooses the model across families; bands are placed on the calibrated scale."""

from __future__ import annotations

import pytest

from botdetect.config import load_config
from botdetect.features.catalog import feature_columns
from botdetect.model.scoring import FOREST, LOGISTIC
from botdetect.train import evaluate as ev
from botdetect.train.bootstrap import BootstrapCurves
from botdetect.train.stage import (
    Candidate,
    Judged,
    Spec,
    TrainingDataError,
    band_metrics,
    choose,
    model_columns,
    review_band_start,
)

BINS = 10


def _candidate(family: str, name: str, hist: list[ev.Bin], block: float | None) -> Candidate:
    points = ev.curve(hist, BINS)
    judged = Judged(points, BootstrapCurves.from_curves([points]), block, None)
    return Candidate(Spec(family, name, {}, None), None, judged)


# 100 bots and 1,000 humans; where the models put them.
SHARP = [ev.Bin(9, 90, 0, 90, 0), ev.Bin(5, 10, 10, 10, 10), ev.Bin(0, 0, 990, 0, 990)]
BLUNT = [ev.Bin(9, 40, 0, 40, 0), ev.Bin(5, 60, 10, 60, 10), ev.Bin(0, 0, 990, 0, 990)]


def test_the_regression_is_chosen_when_the_forest_has_no_block_band():
    # The forest ranks better overall (higher average precision) but has no block band.
    forest = _candidate(FOREST, "forest-100-10-1", SHARP, None)
    logistic = _candidate(LOGISTIC, "logistic-0.1-0.0", BLUNT, ev.bin_edge(9, BINS))
    assert forest.objective[2] > logistic.objective[2]
    assert choose([forest, logistic]) is logistic
    assert choose([logistic, forest]) is logistic


def test_among_models_that_block_recall_at_the_block_threshold_decides():
    sharp = _candidate(FOREST, "forest-100-6-1", SHARP, ev.bin_edge(9, BINS))
    blunt = _candidate(LOGISTIC, "logistic-0.01-0.0", BLUNT, ev.bin_edge(9, BINS))
    assert sharp.objective[:2] == (1, pytest.approx(0.9))
    assert blunt.objective[:2] == (1, pytest.approx(0.4))
    assert choose([blunt, sharp]) is sharp
    # A tie keeps the first listed (the grid's order).
    twin = _candidate(LOGISTIC, "logistic-0.1-0.0", SHARP, ev.bin_edge(9, BINS))
    assert choose([sharp, twin]) is sharp


def test_review_band_starts_at_the_rule_never_below_its_floor_nor_above_block():
    assert review_band_start(0.7, 0.99, 0.5) == 0.7
    assert review_band_start(0.2, 0.99, 0.5) == 0.5  # room for the rate-limit band below
    assert review_band_start(0.995, 0.99, 0.5) == 0.99  # never above block
    assert review_band_start(0.2, None, 0.5) == 0.5
    assert review_band_start(None, 0.99, 0.5) is None


def test_the_offline_interval_does_not_collapse_when_the_band_has_no_false_positive():
    # 50 bots above the threshold, none of the 1,000 humans: every bootstrap replicate has
    # precision 1, so the bootstrap interval is [1, 1]; the reported one keeps Wilson's width.
    hist = [ev.Bin(9, 50, 0, 50, 0, 50, 0), ev.Bin(0, 0, 1000, 0, 1000, 0, 1000)]
    points = ev.curve(hist, BINS)
    judged = Judged(points, BootstrapCurves.from_curves([points] * 20), ev.bin_edge(9, BINS), None)
    got = band_metrics(judged, {"block": judged.block}, "test", 0.95)
    assert got["test_block_precision_boot_lo"] == got["test_block_precision_boot_hi"] == 1.0
    wilson_lo, _ = ev.wilson(1.0, 50)
    assert got["test_block_precision_interval_lo"] == pytest.approx(wilson_lo)
    assert got["test_block_precision_interval_lo"] < 0.95
    assert got["test_block_precision_interval_hi"] == 1.0
    assert got["test_block_effective_flagged"] == pytest.approx(50)


def test_excluded_features_leave_the_model_and_an_unknown_name_is_refused():
    cfg = load_config("local", ["train.exclude_features=[lockstep_partners, nd_twin_share]"])
    columns = model_columns(cfg)
    assert "lockstep_partners" not in columns and "nd_twin_share" not in columns
    assert len(columns) == len(feature_columns(sorted(cfg.features.windows))) - 2
    bad = load_config("local", ["train.exclude_features=[lockstep_partner]"])
    with pytest.raises(TrainingDataError, match=r"names \['lockstep_partner'\], which are not"):
        model_columns(bad)
