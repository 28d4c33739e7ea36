import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from botdetect.config import (
    ConfigError,
    deep_merge,
    load_config,
    parse_override,
    training_config,
)


def test_local_conf_merges_over_base():
    cfg = load_config("local")
    assert cfg.env == "local"
    assert cfg.as_of_date == dt.date(2026, 11, 28)
    assert cfg.spark.master == "local[2]"  # from base.yml, untouched by local.yml


def test_prod_conf_uses_catalog_and_no_local_master():
    cfg = load_config("prod")
    assert cfg.storage.catalog == "main"
    assert cfg.spark.master is None
    assert cfg.spark.jars_dir is None


def test_overrides_are_typed_and_applied_last():
    cfg = load_config(
        "local",
        ["generate.accounts=5_000", "storage.root=/tmp/x", "generate.prevalence=0.05"],
    )
    assert cfg.generate.accounts == 5000
    assert cfg.storage.root == "/tmp/x"
    assert cfg.generate.prevalence == 0.05
    assert cfg.generate.days == 31  # untouched keys keep local.yml's value
    assert cfg.generate.seed == 7  # ...or base.yml's


def test_partial_mapping_override_keeps_other_keys():
    cfg = load_config("local", ["generate.bot_mix.paraphrase=0.5"])
    assert cfg.generate.bot_mix["paraphrase"] == 0.5
    assert cfg.generate.bot_mix["naive_template"] == 0.24


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("generate.acounts=5", "unknown configuration key 'generate.acounts'"),
        ("sparkk.master=local", "unknown configuration key 'sparkk'"),
        ("generate.accounts=many", "generate.accounts: expected an integer, got 'many'"),
        ("generate.prevalence=0.9", "generate.prevalence: must be in [0, 0.5], got 0.9"),
        ("generate.format=xml", "generate.format: must be parquet, csv or json"),
        ("as_of_date=2026-13-01", "as_of_date: expected a date YYYY-MM-DD"),
        ("spark.ui_enabled=maybe", "spark.ui_enabled: expected true or false"),
        ("generate.bot_mix.robots=0.1", "generate.bot_mix: unknown bot kind 'robots'"),
        ("generate.accounts=", "generate.accounts: must not be null"),
        ("noequals", "must look like key=value"),
        ("generate.accounts=0", "generate.accounts: must be at least 1, got 0"),  # empty world
        ("train.label_lag_days=-1", "train.label_lag_days: must be between 0 and 365, got -1"),
    ],
)
def test_bad_keys_and_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("local", [override])
    assert message in str(err.value)


def test_conf_file_path_and_missing_file(tmp_path: Path):
    custom = tmp_path / "mine.yml"
    custom.write_text("generate:\n  seed: 99\n")
    assert load_config(custom).generate.seed == 99
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yml")


def test_unknown_key_in_a_file_is_named(tmp_path: Path):
    custom = tmp_path / "typo.yml"
    custom.write_text("storage:\n  rooot: /tmp\n")
    with pytest.raises(ConfigError, match=r"unknown configuration key 'storage\.rooot'"):
        load_config(custom)


def test_deep_merge_and_override_parsing():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}
    assert parse_override("a.b=3") == {"a": {"b": 3}}
    assert parse_override("a=x=y") == {"a": "x=y"}


def test_fingerprint_changes_with_any_value():
    base = load_config("local")
    assert base.fingerprint() == load_config("local").fingerprint()
    assert base.fingerprint() != load_config("local", ["generate.seed=8"]).fingerprint()


def test_run_date_defaults_to_yesterday_when_unset():
    cfg = load_config("local", ["as_of_date=null"])
    assert cfg.run_date() == dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def test_labels_and_train_use_the_run_date_minus_the_label_lag():
    cfg = load_config("local", ["as_of_date=2026-11-28", "train.label_lag_days=14"])
    moved = training_config(cfg)
    assert moved.run_date() == dt.date(2026, 11, 14)
    assert moved.train.label_lag_days == 0  # consumed: applying it again moves nothing
    assert training_config(moved) == moved
    assert dataclasses.replace(moved, as_of_date=cfg.as_of_date) == dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, label_lag_days=0)
    )  # nothing else changes
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    unset = load_config("local", ["as_of_date=null", "train.label_lag_days=3"])
    assert training_config(unset).run_date() == yesterday - dt.timedelta(days=3)


def test_no_lag_by_default_and_prod_trains_on_matured_labels():
    local = load_config("local")
    assert local.train.label_lag_days == 0
    assert training_config(local) is local  # the demo and the tests train on the date given
    prod = load_config("prod", ["as_of_date=2026-11-29"])
    assert prod.train.label_lag_days == prod.labels.horizon_days == 14
    assert training_config(prod).run_date() == dt.date(2026, 11, 15)


def test_the_rate_limit_band_must_lie_below_the_review_floor():
    with pytest.raises(ConfigError, match=r"score\.rate_limit_threshold .* must be below"):
        load_config(None, ["score.rate_limit_threshold=0.6", "train.review_min_score=0.5"])
    assert load_config(None, ["score.rate_limit_threshold=0.4"]).score.rate_limit_threshold == 0.4
