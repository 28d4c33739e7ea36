"""Typed configuration: YAML files merged in order, then `--set key=value` overrides.

`conf/base.yml` holds every key with its default; an environment file (`local.yml`,
`dev.yml`, `prod.yml`) overrides some of them. Keys are checked against the dataclasses
below, so a misspelt key or a value of the wrong type fails with the key's dotted name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from botdetect.dates import yesterday_utc

CONF_DIR_ENV = "BOTDETECT_CONF_DIR"


FORMATS = ("parquet", "csv", "json")
# The spam-bot kinds of the synthetic world: `generate.bot_mix` and
# `generate.label_coverage` map each of them (and only them) to a share.
BOT_KINDS = (
    "naive_template",
    "paraphrase",
    "low_and_slow",
    "human_rhythm",
    "late_campaign",
    "evasive",
)


def _check_by(problem: typing.Callable[[Any], str | None]) -> Any:
    """A field with its rule: `problem` says what is wrong with a value (None: nothing),
    and `load_config` fails with that, naming the key.

    Fields have no defaults: `conf/base.yml` holds every key's default, once.
    """
    return dataclasses.field(metadata={"problem": problem})


def _check(message: str, predicate: typing.Callable[[Any], bool]) -> Any:
    """A field whose value must satisfy `predicate`; else `message` and the value."""
    return _check_by(lambda v: None if predicate(v) else f"{message}, got {v!r}")


def _shares_of_kinds(value: Mapping[str, float]) -> str | None:
    unknown = sorted(set(value) - set(BOT_KINDS))
    if unknown:
        return f"unknown bot kind {unknown[0]!r}; expected one of {BOT_KINDS}"
    if any(not 0 <= v <= 1 for v in value.values()):
        return "every share must be in [0, 1]"
    return None


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


@dataclasses.dataclass(frozen=True)
class SparkConfig:
    """How to build the SparkSession in local mode; ignored where a session exists."""

    master: str | None
    app_name: str
    driver_memory: str
    shuffle_partitions: int = _check("must be at least 1", lambda v: v >= 1)
    ui_enabled: bool
    jars_dir: str | None
    extra: dict[str, str]
    # Runtime SQL settings (AQE, file sizes) set on every session, including one that
    # spark-submit or Databricks built: `extra` only reaches sessions botdetect builds.
    sql: dict[str, str]


@dataclasses.dataclass(frozen=True)
class StorageConfig:
    """Where tables live: Delta paths under `root`, or `catalog.schema.table` names."""

    root: str
    catalog: str | None
    schema: str
    landing: str | None
    reports: str | None

    @property
    def landing_root(self) -> str:
        return self.landing or f"{self.root.rstrip('/')}/landing"

    @property
    def reports_root(self) -> str:
        return self.reports or f"{self.root.rstrip('/')}/reports"


@dataclasses.dataclass(frozen=True)
class MlflowConfig:
    """Tracking and registry; null URIs mean a SQLite store and artifacts under storage.root."""

    tracking_uri: str | None
    registry_uri: str | None
    experiment: str
    model_name: str


@dataclasses.dataclass(frozen=True)
class OpsTeamConfig:
    """The simulated ops team of synthetic worlds (`botdetect ops-sim`)."""

    # accounts reviewed per day: audits first, then the queue
    daily_reviews: int = _check("must be at least 0", lambda v: v >= 0)
    # share of verdicts that are wrong, either way
    error_rate: float = _check("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5)


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """The synthetic platform; see `botdetect.generate` for what each knob means."""

    accounts: int = _check("must be at least 1", lambda v: v >= 1)
    days: int = _check("must be between 1 and 999", lambda v: 1 <= v <= 999)
    seed: int
    prevalence: float = _check("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5)
    bot_mix: dict[str, float] = _check_by(_shares_of_kinds)
    benign_automation_share: float = _check("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5)
    feed_automation_share: float = _check("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5)
    popular_share: float = _check("must be in [0, 0.1]", lambda v: 0 <= v <= 0.1)
    nat_share: float = _check("must be in [0, 0.9]", lambda v: 0 <= v <= 0.9)
    nat_group_size: int = _check("must be at least 2", lambda v: v >= 2)
    botnet_size: int = _check("must be at least 1", lambda v: v >= 1)
    late_campaign_days: int = _check("must be at least 1", lambda v: v >= 1)
    label_coverage: dict[str, float] = _check_by(_shares_of_kinds)
    false_label_rate: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    cleared_share: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    human_tweets_per_day: float = _check("must be > 0", lambda v: v > 0)
    # evasive botnets acting in their controller's sessions
    evasive_scheduled_share: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    # people whose tweets go out at the top of the hour
    hourly_human_share: float = _check("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5)
    partitions: int = _check("must be at least 1", lambda v: v >= 1)
    format: str = _check("must be parquet, csv or json", lambda v: v in FORMATS)
    ops_team: OpsTeamConfig


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    source_format: str = _check("must be parquet, csv or json", lambda v: v in FORMATS)
    source_root: str | None
    days: int = _check("must be at least 1", lambda v: v >= 1)
    max_reject_fraction: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    allow_extra_columns: bool
    csv_options: dict[str, str]


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    """Feature windows and the thresholds that separate shared infrastructure from bots."""

    windows: list[int] = _check(
        "must be distinct day counts from 1 to 366, in increasing order",
        lambda v: bool(v) and v == sorted(set(v)) and v[0] >= 1 and v[-1] <= 366,
    )
    hot_ip_accounts: int = _check("must be at least 2", lambda v: v >= 2)
    hot_device_accounts: int = _check("must be at least 2", lambda v: v >= 2)
    sync_seconds: int = _check("must be between 1 and 3600", lambda v: 1 <= v <= 3600)
    creation_window_seconds: int
    common_template_accounts: int
    common_template_max_tokens: int
    campaign_template_accounts: int
    night_hours: list[int] = _check("must be hours 0-23", lambda v: all(0 <= h <= 23 for h in v))
    minhash_seed: int
    cluster_max_iterations: int = _check("must be at least 1", lambda v: v >= 1)
    near_dup_max_accounts: int = _check("must be at least 2", lambda v: v >= 2)
    lockstep_bucket_seconds: int = _check(
        "must divide 3600 (a whole number of buckets per hour)",
        lambda v: 1 <= v <= 3600 and 3600 % v == 0,
    )
    lockstep_window_days: int = _check("must be at least 1", lambda v: v >= 1)
    lockstep_crowd_factor: float = _check("must be above 1", lambda v: v > 1)
    lockstep_min_shared: int = _check("must be at least 2", lambda v: v >= 2)
    lockstep_min_similarity: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    lockstep_min_phases: float = _check("must be at least 1", lambda v: v >= 1)
    lockstep_clock_periods_minutes: list[int] = _check(
        "must be a non-empty list of periods of at least 1 minute",
        lambda v: len(v) > 0 and all(m >= 1 for m in v),
    )
    lockstep_clock_tolerance_seconds: int = _check("must be at least 0", lambda v: v >= 0)
    lockstep_bands: int = _check("must be in [1, 64]", lambda v: 1 <= v <= 64)
    lockstep_rows: int = _check("must be in [1, 8]", lambda v: 1 <= v <= 8)
    lockstep_max_key_accounts: int = _check("must be at least 2", lambda v: v >= 2)
    pseudonym_key_env: str


@dataclasses.dataclass(frozen=True)
class QualityConfig:
    """Data-quality gate thresholds (the suites themselves live in code)."""

    volume_band: list[float] = _check(
        "must be [low, high] with 0 <= low < 1 < high",
        lambda v: len(v) == 2 and 0 <= v[0] < 1 < v[1],
    )
    max_orphan_fraction: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    feature_means: dict[str, list[float]] = _check(
        "must map feature names to [low, high]",
        lambda v: all(len(b) == 2 and b[0] <= b[1] for b in v.values()),
    )
    severity_overrides: dict[str, str] = _check(
        "must map checks to critical or warning",
        lambda v: all(s in ("critical", "warning") for s in v.values()),
    )


@dataclasses.dataclass(frozen=True)
class LabelsConfig:
    """How ops actions become training labels."""

    horizon_days: int = _check("must be between 0 and 365", lambda v: 0 <= v <= 365)
    expansion_weight: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    use_expanded: bool
    verified_negative_max_share: float = _check("must be in [0, 1)", lambda v: 0 <= v < 1)
    random_negative_rate: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    seed: int
    # training weight of audit and queue verdicts
    reviewed_weight: float = _check("must be > 0", lambda v: v > 0)
    # 0: no expansion through follow rings
    follow_ring_min_positives: int = _check("must be >= 0", lambda v: v >= 0)
    follow_ring_min_share: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    follow_ring_hops: int = _check("must be >= 1", lambda v: v >= 1)


@dataclasses.dataclass(frozen=True)
class ForestConfig:
    """Random-forest parameters; list-valued ones form the grid searched on validation."""

    num_trees: list[int] = _check(
        "must be a non-empty list of counts >= 1", lambda v: bool(v) and min(v) >= 1
    )
    max_depth: list[int] = _check(
        "must be a non-empty list of depths 1-30",
        lambda v: bool(v) and all(1 <= d <= 30 for d in v),
    )
    min_instances_per_node: list[int] = _check(
        "must be a non-empty list of counts >= 1", lambda v: bool(v) and min(v) >= 1
    )
    feature_subset_strategy: str = _check(
        "must be auto, all, sqrt, log2, onethird or a number",
        lambda v: (
            v in ("auto", "all", "sqrt", "log2", "onethird") or v.replace(".", "", 1).isdigit()
        ),
    )
    max_bins: int
    subsampling_rate: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)


@dataclasses.dataclass(frozen=True)
class LogisticConfig:
    """The regularised logistic-regression baseline (standardised features)."""

    reg_param: list[float] = _check(
        "must be a non-empty list of values >= 0", lambda v: bool(v) and min(v) >= 0
    )
    elastic_net_param: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    max_iter: int


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Sampling, split, models, thresholds and promotion."""

    seed: int
    every_days: int = _check("must be at least 1", lambda v: v >= 1)
    label_lag_days: int = _check("must be between 0 and 365", lambda v: 0 <= v <= 365)
    fractions: list[float] = _check(
        "must be three shares (train, validation, test) > 0 that sum to 1",
        lambda v: len(v) == 3 and all(f > 0 for f in v) and abs(sum(v) - 1) < 1e-9,
    )
    negative_sample_rate: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    min_positives: int = _check("must be at least 1", lambda v: v >= 1)
    null_fill: float
    exclude_features: list[str]
    forest: ForestConfig
    logistic: LogisticConfig
    block_precision: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    review_precision: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    review_min_score: float = _check("must be in (0, 1)", lambda v: 0 < v < 1)
    folds: int = _check("must be between 2 and 20", lambda v: 2 <= v <= 20)
    unreliable_quantile: float = _check(
        "must be in (0, 1]; 1 turns the step off", lambda v: 0 < v <= 1
    )
    bootstrap_replicates: int = _check("must be between 20 and 10000", lambda v: 20 <= v <= 10_000)
    confidence: float = _check("must be in [0.5, 1)", lambda v: 0.5 <= v < 1)
    score_bins: int = _check("must be between 10 and 100000", lambda v: 10 <= v <= 100_000)
    precision_tolerance: float = _check("must be in [0, 1)", lambda v: 0 <= v < 1)


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """Which model scores, how scores become decisions, and whether they are enforced."""

    alias: str
    version: str | None
    mode: str = _check("must be shadow or action", lambda v: v in ("shadow", "action"))
    rate_limit_threshold: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    rate_window_days: int = _check("must be between 1 and 366", lambda v: 1 <= v <= 366)
    rate_percentile: float = _check("must be in (0, 1]", lambda v: 0 < v <= 1)
    min_tweets_per_hour: int = _check("must be at least 1", lambda v: v >= 1)
    reasons: int = _check("must be between 0 and 20", lambda v: 0 <= v <= 20)
    reason_features: int = _check("must be at least 1", lambda v: v >= 1)
    queue_members: int = _check("must be at least 1", lambda v: v >= 1)
    # Accounts per decision band drawn at random for ops to audit on every run.
    audit_sample: dict[str, int] = _check(
        "must map block, review, rate_limit or allow to a number of accounts >= 0",
        lambda v: (
            set(v) <= {"block", "review", "rate_limit", "allow"} and all(n >= 0 for n in v.values())
        ),
    )


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """The shadow-mode report and when it recommends action mode."""

    period_days: int = _check("must be between 1 and 366", lambda v: 1 <= v <= 366)
    decisions: list[str] = _check(
        "must be a non-empty list of block, review, rate_limit",
        lambda v: bool(v) and all(d in ("block", "review", "rate_limit") for d in v),
    )
    latency_hours: float = _check("must be between 0 and 24", lambda v: 0 <= v <= 24)
    minutes_per_review: float = _check("must be >= 0", lambda v: v >= 0)
    min_spam_reduction: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    # two-sided level of the audited intervals
    audit_confidence: float = _check("must be in (0, 1)", lambda v: 0 < v < 1)
    # share of ops verdicts wrong either way (QA's rate)
    reviewer_error_rate: float = _check("must be in [0, 0.5)", lambda v: 0 <= v < 0.5)
    # share of flagged accounts' tweets a schedule may let out
    cadence_leak_budget: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    """Drift thresholds against the model's training data."""

    psi_warn: float = _check("must be > 0", lambda v: v > 0)
    psi_alert: float = _check("must be > 0", lambda v: v > 0)
    tail_ratio_alert: float = _check("must be > 1", lambda v: v > 1)
    tail_min_share: float = _check("must be in [0, 1]", lambda v: 0 <= v <= 1)
    flagged_rate_band: list[float] = _check(
        "must be [low, high] with 0 <= low < 1 < high",
        lambda v: len(v) == 2 and 0 <= v[0] < 1 < v[1],
    )
    fail_on_alert: bool


@dataclasses.dataclass(frozen=True)
class Config:
    env: str = _check("must be local, dev or prod", lambda v: v in ("local", "dev", "prod"))
    as_of_date: dt.date | None
    platform_start: dt.date
    spark: SparkConfig
    storage: StorageConfig
    mlflow: MlflowConfig
    generate: GenerateConfig
    ingest: IngestConfig
    features: FeaturesConfig
    quality: QualityConfig
    labels: LabelsConfig
    train: TrainConfig
    score: ScoreConfig
    report: ReportConfig
    monitoring: MonitoringConfig

    def __post_init__(self) -> None:
        # The bands partition the calibrated score: rate_limit below review below block.
        if self.score.rate_limit_threshold >= self.train.review_min_score:
            raise ConfigError(
                f"score.rate_limit_threshold ({self.score.rate_limit_threshold}) must be below "
                f"train.review_min_score ({self.train.review_min_score}): the rate-limit band "
                "lies between them"
            )

    def run_date(self) -> dt.date:
        """The as-of date of this run: from conf or `--as-of-date`, else yesterday (UTC)."""
        if self.as_of_date is not None:
            return self.as_of_date
        return yesterday_utc()

    def fingerprint(self) -> str:
        """A short stable hash of the effective configuration, for run records."""
        payload = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


FREE_FORM_MAPS = (
    "spark.extra",
    "spark.sql",
    "ingest.csv_options",
    "quality.feature_means",
    "quality.severity_overrides",
)


def training_config(cfg: Config) -> Config:
    """The configuration `labels` and `train` run with for the run date R.

    Their as-of date is R - `train.label_lag_days`, so that the ops actions that label it
    (up to as-of + `labels.horizon_days`) have arrived by R. The lag is consumed: the
    result has a lag of 0, so applying this twice moves the date only once.
    """
    lag = cfg.train.label_lag_days
    if lag == 0:
        return cfg
    return dataclasses.replace(
        cfg,
        as_of_date=cfg.run_date() - dt.timedelta(days=lag),
        train=dataclasses.replace(cfg.train, label_lag_days=0),
    )


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """Convert a YAML/override value to the field's type, or fail naming the key."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(key, args[0], value)
    if value is None:
        raise ConfigError(f"{key}: must not be null")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(hint, value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        (item_t,) = typing.get_args(hint)
        return [_coerce(f"{key}[{i}]", item_t, v) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        _, val_t = typing.get_args(hint)
        return {str(k): _coerce(f"{key}.{k}", val_t, v) for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            return int(str(value).replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if hint is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if hint is dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{key}: expected a date YYYY-MM-DD, got {value!r}") from None
    if hint is str:
        if isinstance(value, (Mapping, list)):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__}")
        return str(value)
    raise ConfigError(f"{key}: unsupported type {hint!r}")  # pragma: no cover


def _build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}

    def dotted(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown configuration key {dotted(str(key))!r}")
    for name in fields:
        if name not in data:
            raise ConfigError(
                f"configuration key {dotted(name)!r} is missing: conf/base.yml must declare "
                "every key with its default"
            )
    kwargs = {}
    for name, value in data.items():
        coerced = _coerce(dotted(name), hints[name], value)
        problem = fields[name].metadata.get("problem")
        found = problem(coerced) if problem is not None and coerced is not None else None
        if found:
            raise ConfigError(f"{dotted(name)}: {found}")
        kwargs[name] = coerced
    return cls(**kwargs)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `override` into `base`; nested mappings merge, everything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn `a.b.c=value` into `{"a": {"b": {"c": value}}}`, the value read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    dotted, raw = text.split("=", 1)
    parts = [p for p in dotted.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"override {text!r} has an empty key")
    for prefix in FREE_FORM_MAPS:
        # Keys inside free-form maps may contain dots (spark.extra.spark.sql.foo=1).
        head = prefix.split(".")
        if parts[: len(head)] == head and len(parts) > len(head):
            parts = [*head, ".".join(parts[len(head) :])]
    try:
        value: Any = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError):  # e.g. 2026-13-01 looks like a date to YAML
        value = raw
    for part in reversed(parts):
        value = {part: value}
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"configuration file {str(path)!r} does not exist")
    try:
        with path.open() as fh:
            data = yaml.safe_load(fh) or {}
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return dict(data)


def conf_dir() -> Path:
    """`$BOTDETECT_CONF_DIR` if set (clusters sync `conf/` next to the job), else the repo's."""
    configured = os.environ.get(CONF_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "conf"


def load_config(conf_file: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load `base.yml`, then `conf_file` (a path, or an environment name), then overrides.

    `conf_file` may be `local`, `dev`, `prod` or a path to any YAML file; when omitted,
    `local` is used.
    """
    env_path = _resolve_conf_path(conf_file)
    # base.yml sits beside the environment file (a checkout, or conf/ synced to a cluster).
    base_path = env_path.parent / "base.yml"
    if not base_path.is_file():
        base_path = conf_dir() / "base.yml"
    merged = _read_yaml(base_path)
    if env_path.resolve() != base_path.resolve():
        merged = deep_merge(merged, _read_yaml(env_path))
    for text in overrides:
        merged = deep_merge(merged, parse_override(text))
    return _build(Config, merged)


def _resolve_conf_path(conf_file: str | Path | None) -> Path:
    if conf_file is None:
        return conf_dir() / "local.yml"
    candidate = Path(conf_file)
    if candidate.suffix in (".yml", ".yaml") or candidate.exists():
        return candidate
    return conf_dir() / f"{conf_file}.yml"
