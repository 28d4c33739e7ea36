"""Which model scoring serves: the configured one, or the challenger review-only."""

from __future__ import annotations

import dataclasses

import pytest

from botdetect.config import load_config
from botdetect.model import registry
from botdetect.model.registry import served_model


def _model(version: str, block: str) -> registry.ServedModel:
    tags = {registry.TAG_BLOCK: block, registry.TAG_REVIEW: "0.6", registry.TAG_FEATURES: "a"}
    return registry.ServedModel("m", version, f"models:/m/{version}", "run", tags)


def _registry(monkeypatch, models: dict[str, registry.ServedModel]) -> None:
    def find(cfg, alias=registry.CHAMPION, version=None):
        key = alias if version is None else f"v{version}"
        if key not in models:
            raise registry.ModelNotFoundError(f"no {key}")
        return models[key]

    monkeypatch.setattr(registry, "find_model", find)


def test_the_champion_serves_with_its_thresholds(monkeypatch):
    _registry(monkeypatch, {"champion": _model("2", "0.995"), "challenger": _model("3", "none")})
    model, note = served_model(load_config(None, []))
    assert (model.version, model.block_threshold, note) == ("2", 0.995, "")


def test_with_no_champion_the_challenger_serves_review_only(monkeypatch):
    _registry(monkeypatch, {"challenger": _model("1", "0.99")})
    model, note = served_model(load_config(None, []))
    assert model.version == "1"
    assert model.block_threshold is None  # never blocks
    assert model.review_threshold == 0.6
    assert "review-only" in note and "v1" in note


def test_a_pinned_version_or_another_alias_never_falls_back(monkeypatch):
    _registry(monkeypatch, {"challenger": _model("1", "0.99")})
    cfg = load_config(None, [])
    with pytest.raises(registry.ModelNotFoundError):
        served_model(dataclasses.replace(cfg, score=dataclasses.replace(cfg.score, version="7")))
    with pytest.raises(registry.ModelNotFoundError):
        served_model(dataclasses.replace(cfg, score=dataclasses.replace(cfg.score, alias="x")))
    _registry(monkeypatch, {})
    with pytest.raises(registry.ModelNotFoundError):  # nothing registered at all
        served_model(cfg)
