"""The promotion gate around a champion: a broken champion fails the run loudly."""

from __future__ import annotations

import pytest

from botdetect.config import load_config
from botdetect.model import registry
from botdetect.train.stage import _judge_champion, compare_flags
from tests.conftest import jvm_rows


def _served(block: str) -> registry.ServedModel:
    tags = {registry.TAG_BLOCK: block, registry.TAG_FEATURES: "a"}
    return registry.ServedModel("m", "4", "models:/m/4", "run", tags)


def test_a_champion_that_cannot_be_loaded_fails_the_run_and_promotes_nothing(
    spark, monkeypatch, tmp_path
):
    import mlflow

    cfg = load_config(None, [f"storage.root={tmp_path}"])
    monkeypatch.setattr(
        registry, "find_model", lambda cfg, alias=None, version=None: _served("0.99")
    )

    def broken(uri):
        raise OSError(f"no artifacts at {uri}")

    monkeypatch.setattr(mlflow.spark, "load_model", broken)
    test_df = jvm_rows(
        spark, [(1, 1, 1, 1.0)], "account_id long, cluster_id long, label int, w double"
    )
    with pytest.raises(registry.ChampionError, match="champion v4 of m cannot be loaded"):
        _judge_champion(cfg, None, 0.99, test_df)


def test_no_champion_or_a_champion_without_block_band_needs_no_comparison(monkeypatch, tmp_path):
    cfg = load_config(None, [f"storage.root={tmp_path}"])

    def missing(cfg, alias=None, version=None):
        raise registry.ModelNotFoundError("none")

    monkeypatch.setattr(registry, "find_model", missing)
    assert _judge_champion(cfg, None, 0.99, None) == (None, None)
    monkeypatch.setattr(
        registry, "find_model", lambda cfg, alias=None, version=None: _served("none")
    )
    champion, comparison = _judge_champion(cfg, None, 0.99, None)
    assert champion.version == "4" and comparison is None


def _both(spark, rows):
    return jvm_rows(
        spark, rows, "cluster_id long, label int, w double, score double, champion_score double"
    )


def test_a_challenger_that_surely_catches_more_without_losing_precision_wins(spark):
    # 40 botnets of 5: the champion catches 20 of them, the challenger 30; no human flagged.
    rows = [
        (b, 1, 1.0, 0.99 if b < 30 else 0.1, 0.99 if b < 20 else 0.1)
        for b in range(40)
        for _ in range(5)
    ]
    rows += [(100 + i, 0, 5.0, 0.01, 0.01) for i in range(300)]
    got = compare_flags(_both(spark, rows), 0.9, 0.9, 200, 1, 0.95)
    assert got.accounts == 500
    assert got.recall == (pytest.approx(0.75), pytest.approx(0.5))
    assert got.precision == (1.0, 1.0)
    assert got.recall_gain_lo > 0.1
    assert got.precision_change_lo == 0.0
    assert registry.decide_promotion(True, "1", True, got, 0.0).promote


def test_a_gain_of_one_botnet_is_not_enough(spark):
    # The challenger catches one more botnet of 5 among 40: a point estimate says "more",
    # the bound on the gain does not exclude 0.
    rows = [
        (b, 1, 1.0, 0.99 if b < 21 else 0.1, 0.99 if b < 20 else 0.1)
        for b in range(40)
        for _ in range(5)
    ]
    got = compare_flags(_both(spark, rows), 0.9, 0.9, 200, 1, 0.95)
    assert got.recall[0] > got.recall[1]
    assert got.recall_gain_lo <= 0
    assert not registry.decide_promotion(True, "1", True, got, 0.0).promote
