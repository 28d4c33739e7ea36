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

CONF_DIR_ENV = "BOTDETECT_CONF_DIR"


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


@dataclasses.dataclass(frozen=True)
class SparkConfig:
    """How to build the SparkSession in local mode; ignored where a session exists."""

    master: str | None = "local[2]"
    app_name: str = "botdetect"
    driver_memory: str = "4g"
    shuffle_partitions: int = 4
    ui_enabled: bool = False
    jars_dir: str | None = ".jars"
    extra: dict[str, str] = dataclasses.field(default_factory=dict)
    # Runtime SQL settings (AQE, file sizes) set on every session, including one that
    # spark-submit or Databricks built: `extra` only reaches sessions botdetect builds.
    sql: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class StorageConfig:
    """Where tables live: Delta paths under `root`, or `catalog.schema.table` names."""

    root: str = "./lakehouse"
    catalog: str | None = None
    schema: str = "botdetect"
    landing: str | None = None
    reports: str | None = None

    @property
    def landing_root(self) -> str:
        return self.landing or f"{self.root.rstrip('/')}/landing"

    @property
    def reports_root(self) -> str:
        return self.reports or f"{self.root.rstrip('/')}/reports"


@dataclasses.dataclass(frozen=True)
class MlflowConfig:
    """Tracking and registry; null URIs mean a SQLite store and artifacts under storage.root."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    experiment: str = "botdetect"
    model_name: str = "botdetect_spam_rf"


@dataclasses.dataclass(frozen=True)
class OpsTeamConfig:
    """The simulated ops team of synthetic worlds (`botdetect ops-sim`)."""

    daily_reviews: int = 400  # accounts reviewed per day: audits first, then the queue
    error_rate: float = 0.005  # share of verdicts that are wrong, either way


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """The synthetic platform; see `botdetect.generate` for what each knob means."""

    accounts: int = 10_000
    days: int = 28
    seed: int = 7
    prevalence: float = 0.02
    bot_mix: dict[str, float] = dataclasses.field(
        default_factory=lambda: {
            "naive_template": 0.24,
            "paraphrase": 0.20,
            "low_and_slow": 0.16,
            "human_rhythm": 0.12,
            "late_campaign": 0.08,
            "evasive": 0.20,
        }
    )
    benign_automation_share: float = 0.01
    feed_automation_share: float = 0.005
    popular_share: float = 0.002
    nat_share: float = 0.08
    nat_group_size: int = 2000
    botnet_size: int = 40
    late_campaign_days: int = 3
    label_coverage: dict[str, float] = dataclasses.field(
        default_factory=lambda: {
            "naive_template": 0.80,
            "paraphrase": 0.55,
            "low_and_slow": 0.30,
            "human_rhythm": 0.35,
            "late_campaign": 0.15,
            "evasive": 0.25,
        }
    )
    false_label_rate: float = 0.004
    cleared_share: float = 0.7
    human_tweets_per_day: float = 1.2
    evasive_scheduled_share: float = 0.5  # evasive botnets acting in their controller's sessions
    hourly_human_share: float = 0.01  # people whose tweets go out at the top of the hour
    partitions: int = 8
    format: str = "parquet"
    ops_team: OpsTeamConfig = dataclasses.field(default_factory=OpsTeamConfig)


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    source_format: str = "parquet"
    source_root: str | None = None
    days: int = 1
    max_reject_fraction: float = 0.01
    allow_extra_columns: bool = False
    csv_options: dict[str, str] = dataclasses.field(default_factory=lambda: {"header": "true"})


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    """Feature windows and the thresholds that separate shared infrastructure from bots."""

    windows: list[int] = dataclasses.field(default_factory=lambda: [1, 7, 28])
    hot_ip_accounts: int = 50
    hot_device_accounts: int = 20
    sync_seconds: int = 120
    creation_window_seconds: int = 86_400
    common_template_accounts: int = 500
    common_template_max_tokens: int = 3
    campaign_template_accounts: int = 5
    night_hours: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2, 3, 4, 5])
    minhash_seed: int = 17
    cluster_max_iterations: int = 30
    near_dup_max_accounts: int = 50
    lockstep_bucket_seconds: int = 60
    lockstep_window_days: int = 28
    lockstep_crowd_factor: float = 4.0
    lockstep_min_shared: int = 5
    lockstep_min_similarity: float = 0.2
    lockstep_min_phases: int = 3
    lockstep_clock_periods_minutes: list[int] = dataclasses.field(
        default_factory=lambda: [15, 20, 30, 40, 60]
    )
    lockstep_clock_tolerance_seconds: int = 180
    lockstep_bands: int = 20
    lockstep_rows: int = 2
    lockstep_max_key_accounts: int = 200
    pseudonym_key_env: str = "BOTDETECT_PSEUDONYM_KEY"


@dataclasses.dataclass(frozen=True)
class QualityConfig:
    """Data-quality gate thresholds (the suites themselves live in code)."""

    volume_band: list[float] = dataclasses.field(default_factory=lambda: [0.2, 5.0])
    max_orphan_fraction: float = 0.001
    feature_means: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    severity_overrides: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LabelsConfig:
    """How ops actions become training labels."""

    horizon_days: int = 14
    expansion_weight: float = 0.5
    use_expanded: bool = True
    verified_negative_max_share: float = 0.1
    random_negative_rate: float = 1.0
    seed: int = 11
    reviewed_weight: float = 2.0  # training weight of audit and queue verdicts
    follow_ring_min_positives: int = 2  # 0: no expansion through follow rings
    follow_ring_min_share: float = 0.25
    follow_ring_hops: int = 2


@dataclasses.dataclass(frozen=True)
class ForestConfig:
    """Random-forest parameters; list-valued ones form the grid searched on validation."""

    num_trees: list[int] = dataclasses.field(default_factory=lambda: [100])
    max_depth: list[int] = dataclasses.field(default_factory=lambda: [6, 10])
    min_instances_per_node: list[int] = dataclasses.field(default_factory=lambda: [1])
    feature_subset_strategy: str = "sqrt"
    max_bins: int = 64
    subsampling_rate: float = 1.0


@dataclasses.dataclass(frozen=True)
class LogisticConfig:
    """The regularised logistic-regression baseline (standardised features)."""

    reg_param: list[float] = dataclasses.field(default_factory=lambda: [0.01, 0.1])
    elastic_net_param: float = 0.0
    max_iter: int = 100


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Sampling, split, models, thresholds and promotion."""

    seed: int = 23
    every_days: int = 7
    label_lag_days: int = 0
    fractions: list[float] = dataclasses.field(default_factory=lambda: [0.7, 0.15, 0.15])
    negative_sample_rate: float = 0.1
    min_positives: int = 20
    null_fill: float = -1.0
    exclude_features: list[str] = dataclasses.field(default_factory=list)
    forest: ForestConfig = dataclasses.field(default_factory=ForestConfig)
    logistic: LogisticConfig = dataclasses.field(default_factory=LogisticConfig)
    block_precision: float = 0.99
    review_precision: float = 0.8
    review_min_score: float = 0.5
    folds: int = 3
    unreliable_quantile: float = 0.5
    bootstrap_replicates: int = 200
    confidence: float = 0.95
    score_bins: int = 1000
    precision_tolerance: float = 0.0


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """Which model scores, how scores become decisions, and whether they are enforced."""

    alias: str = "champion"
    version: str | None = None
    mode: str = "shadow"
    rate_limit_threshold: float = 0.2
    rate_window_days: int = 7
    rate_percentile: float = 0.999
    min_tweets_per_hour: int = 5
    reasons: int = 3
    reason_features: int = 15
    queue_members: int = 100
    # Accounts per decision band drawn at random for ops to audit on every run.
    audit_sample: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"block": 100, "review": 25, "rate_limit": 25, "allow": 100}
    )


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """The shadow-mode report and when it recommends action mode."""

    period_days: int = 7
    decisions: list[str] = dataclasses.field(default_factory=lambda: ["block"])
    latency_hours: float = 1.0
    minutes_per_review: float = 4.0
    min_spam_reduction: float = 0.2
    audit_confidence: float = 0.95  # two-sided level of the audited intervals
    reviewer_error_rate: float = 0.005  # share of ops verdicts wrong either way (QA's rate)
    cadence_leak_budget: float = 0.05  # share of flagged accounts' tweets a schedule may let out


@dataclasses.dataclass(frozen=True)
class MonitoringConfig:
    """Drift thresholds against the model's training data."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    tail_ratio_alert: float = 3.0
    tail_min_share: float = 0.0005
    flagged_rate_band: list[float] = dataclasses.field(default_factory=lambda: [0.5, 2.0])
    fail_on_alert: bool = False


@dataclasses.dataclass(frozen=True)
class Config:
    env: str = "local"
    as_of_date: dt.date | None = None
    platform_start: dt.date = dt.date(2010, 1, 1)
    spark: SparkConfig = dataclasses.field(default_factory=SparkConfig)
    storage: StorageConfig = dataclasses.field(default_factory=StorageConfig)
    mlflow: MlflowConfig = dataclasses.field(default_factory=MlflowConfig)
    generate: GenerateConfig = dataclasses.field(default_factory=GenerateConfig)
    ingest: IngestConfig = dataclasses.field(default_factory=IngestConfig)
    features: FeaturesConfig = dataclasses.field(default_factory=FeaturesConfig)
    quality: QualityConfig = dataclasses.field(default_factory=QualityConfig)
    labels: LabelsConfig = dataclasses.field(default_factory=LabelsConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    score: ScoreConfig = dataclasses.field(default_factory=ScoreConfig)
    report: ReportConfig = dataclasses.field(default_factory=ReportConfig)
    monitoring: MonitoringConfig = dataclasses.field(default_factory=MonitoringConfig)

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
        return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)

    def fingerprint(self) -> str:
        """A short stable hash of the effective configuration, for run records."""
        payload = json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


_VALIDATORS: dict[str, tuple[str, typing.Callable[[Any], bool]]] = {
    "generate.accounts": ("must be at least 1", lambda v: v >= 1),
    "generate.days": ("must be between 1 and 999", lambda v: 1 <= v <= 999),
    "generate.prevalence": ("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5),
    "generate.benign_automation_share": ("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5),
    "generate.feed_automation_share": ("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5),
    "generate.popular_share": ("must be in [0, 0.1]", lambda v: 0 <= v <= 0.1),
    "generate.nat_share": ("must be in [0, 0.9]", lambda v: 0 <= v <= 0.9),
    "generate.nat_group_size": ("must be at least 2", lambda v: v >= 2),
    "generate.evasive_scheduled_share": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "generate.hourly_human_share": ("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5),
    "generate.botnet_size": ("must be at least 1", lambda v: v >= 1),
    "generate.late_campaign_days": ("must be at least 1", lambda v: v >= 1),
    "generate.false_label_rate": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "generate.cleared_share": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "generate.human_tweets_per_day": ("must be > 0", lambda v: v > 0),
    "generate.partitions": ("must be at least 1", lambda v: v >= 1),
    "generate.format": ("must be parquet, csv or json", lambda v: v in FORMATS),
    "generate.ops_team.daily_reviews": ("must be at least 0", lambda v: v >= 0),
    "generate.ops_team.error_rate": ("must be in [0, 0.5]", lambda v: 0 <= v <= 0.5),
    "ingest.source_format": ("must be parquet, csv or json", lambda v: v in FORMATS),
    "ingest.days": ("must be at least 1", lambda v: v >= 1),
    "ingest.max_reject_fraction": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "spark.shuffle_partitions": ("must be at least 1", lambda v: v >= 1),
    "score.audit_sample": (
        "must map block, review, rate_limit or allow to a number of accounts >= 0",
        lambda v: (
            set(v) <= {"block", "review", "rate_limit", "allow"} and all(n >= 0 for n in v.values())
        ),
    ),
    "env": ("must be local, dev or prod", lambda v: v in ("local", "dev", "prod")),
    "features.windows": (
        "must be distinct day counts from 1 to 366, in increasing order",
        lambda v: bool(v) and v == sorted(set(v)) and v[0] >= 1 and v[-1] <= 366,
    ),
    "features.hot_ip_accounts": ("must be at least 2", lambda v: v >= 2),
    "features.hot_device_accounts": ("must be at least 2", lambda v: v >= 2),
    "features.sync_seconds": ("must be between 1 and 3600", lambda v: 1 <= v <= 3600),
    "features.night_hours": ("must be hours 0-23", lambda v: all(0 <= h <= 23 for h in v)),
    "features.cluster_max_iterations": ("must be at least 1", lambda v: v >= 1),
    "features.near_dup_max_accounts": ("must be at least 2", lambda v: v >= 2),
    "features.lockstep_bucket_seconds": (
        "must divide 3600 (a whole number of buckets per hour)",
        lambda v: 1 <= v <= 3600 and 3600 % v == 0,
    ),
    "features.lockstep_min_phases": ("must be at least 1", lambda v: v >= 1),
    "features.lockstep_clock_periods_minutes": (
        "must be a non-empty list of periods of at least 1 minute",
        lambda v: len(v) > 0 and all(m >= 1 for m in v),
    ),
    "features.lockstep_clock_tolerance_seconds": ("must be at least 0", lambda v: v >= 0),
    "features.lockstep_window_days": ("must be at least 1", lambda v: v >= 1),
    "features.lockstep_crowd_factor": ("must be above 1", lambda v: v > 1),
    "features.lockstep_min_shared": ("must be at least 2", lambda v: v >= 2),
    "features.lockstep_min_similarity": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "features.lockstep_bands": ("must be in [1, 64]", lambda v: 1 <= v <= 64),
    "features.lockstep_rows": ("must be in [1, 8]", lambda v: 1 <= v <= 8),
    "features.lockstep_max_key_accounts": ("must be at least 2", lambda v: v >= 2),
    "quality.volume_band": (
        "must be [low, high] with 0 <= low < 1 < high",
        lambda v: len(v) == 2 and 0 <= v[0] < 1 < v[1],
    ),
    "quality.max_orphan_fraction": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "labels.horizon_days": ("must be between 0 and 365", lambda v: 0 <= v <= 365),
    "labels.reviewed_weight": ("must be > 0", lambda v: v > 0),
    "labels.expansion_weight": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "labels.follow_ring_min_positives": ("must be >= 0", lambda v: v >= 0),
    "labels.follow_ring_min_share": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "labels.follow_ring_hops": ("must be >= 1", lambda v: v >= 1),
    "labels.verified_negative_max_share": ("must be in [0, 1)", lambda v: 0 <= v < 1),
    "labels.random_negative_rate": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "train.fractions": (
        "must be three shares (train, validation, test) > 0 that sum to 1",
        lambda v: len(v) == 3 and all(f > 0 for f in v) and abs(sum(v) - 1) < 1e-9,
    ),
    "train.every_days": ("must be at least 1", lambda v: v >= 1),
    "train.label_lag_days": ("must be between 0 and 365", lambda v: 0 <= v <= 365),
    "train.negative_sample_rate": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "train.min_positives": ("must be at least 1", lambda v: v >= 1),
    "train.block_precision": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "train.review_precision": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "train.score_bins": ("must be between 10 and 100000", lambda v: 10 <= v <= 100_000),
    "train.review_min_score": ("must be in (0, 1)", lambda v: 0 < v < 1),
    "train.folds": ("must be between 2 and 20", lambda v: 2 <= v <= 20),
    "train.unreliable_quantile": ("must be in (0, 1]; 1 turns the step off", lambda v: 0 < v <= 1),
    "train.bootstrap_replicates": ("must be between 20 and 10000", lambda v: 20 <= v <= 10_000),
    "train.confidence": ("must be in [0.5, 1)", lambda v: 0.5 <= v < 1),
    "train.precision_tolerance": ("must be in [0, 1)", lambda v: 0 <= v < 1),
    "train.forest.num_trees": (
        "must be a non-empty list of counts >= 1",
        lambda v: bool(v) and min(v) >= 1,
    ),
    "train.forest.max_depth": (
        "must be a non-empty list of depths 1-30",
        lambda v: bool(v) and all(1 <= d <= 30 for d in v),
    ),
    "train.forest.min_instances_per_node": (
        "must be a non-empty list of counts >= 1",
        lambda v: bool(v) and min(v) >= 1,
    ),
    "train.forest.feature_subset_strategy": (
        "must be auto, all, sqrt, log2, onethird or a number",
        lambda v: (
            v in ("auto", "all", "sqrt", "log2", "onethird") or v.replace(".", "", 1).isdigit()
        ),
    ),
    "train.forest.subsampling_rate": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "train.logistic.reg_param": (
        "must be a non-empty list of values >= 0",
        lambda v: bool(v) and min(v) >= 0,
    ),
    "train.logistic.elastic_net_param": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "score.mode": ("must be shadow or action", lambda v: v in ("shadow", "action")),
    "score.rate_limit_threshold": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "score.rate_window_days": ("must be between 1 and 366", lambda v: 1 <= v <= 366),
    "score.rate_percentile": ("must be in (0, 1]", lambda v: 0 < v <= 1),
    "score.min_tweets_per_hour": ("must be at least 1", lambda v: v >= 1),
    "score.reasons": ("must be between 0 and 20", lambda v: 0 <= v <= 20),
    "score.reason_features": ("must be at least 1", lambda v: v >= 1),
    "score.queue_members": ("must be at least 1", lambda v: v >= 1),
    "report.period_days": ("must be between 1 and 366", lambda v: 1 <= v <= 366),
    "report.decisions": (
        "must be a non-empty list of block, review, rate_limit",
        lambda v: bool(v) and all(d in ("block", "review", "rate_limit") for d in v),
    ),
    "report.latency_hours": ("must be between 0 and 24", lambda v: 0 <= v <= 24),
    "report.minutes_per_review": ("must be >= 0", lambda v: v >= 0),
    "report.min_spam_reduction": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "report.audit_confidence": ("must be in (0, 1)", lambda v: 0 < v < 1),
    "report.reviewer_error_rate": ("must be in [0, 0.5)", lambda v: 0 <= v < 0.5),
    "report.cadence_leak_budget": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "monitoring.psi_warn": ("must be > 0", lambda v: v > 0),
    "monitoring.psi_alert": ("must be > 0", lambda v: v > 0),
    "monitoring.tail_ratio_alert": ("must be > 1", lambda v: v > 1),
    "monitoring.tail_min_share": ("must be in [0, 1]", lambda v: 0 <= v <= 1),
    "monitoring.flagged_rate_band": (
        "must be [low, high] with 0 <= low < 1 < high",
        lambda v: len(v) == 2 and 0 <= v[0] < 1 < v[1],
    ),
    "quality.feature_means": (
        "must map feature names to [low, high]",
        lambda v: all(len(b) == 2 and b[0] <= b[1] for b in v.values()),
    ),
    "quality.severity_overrides": (
        "must map checks to critical or warning",
        lambda v: all(s in ("critical", "warning") for s in v.values()),
    ),
}
FORMATS = ("parquet", "csv", "json")
FREE_FORM_MAPS = (
    "spark.extra",
    "spark.sql",
    "ingest.csv_options",
    "quality.feature_means",
    "quality.severity_overrides",
)
BOT_KINDS = (
    "naive_template",
    "paraphrase",
    "low_and_slow",
    "human_rhythm",
    "late_campaign",
    "evasive",
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


def _check_mapping_of_kinds(key: str, value: Mapping[str, float]) -> None:
    unknown = sorted(set(value) - set(BOT_KINDS))
    if unknown:
        raise ConfigError(f"{key}: unknown bot kind {unknown[0]!r}; expected one of {BOT_KINDS}")
    if any(not 0 <= v <= 1 for v in value.values()):
        raise ConfigError(f"{key}: every share must be in [0, 1]")


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
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"unknown configuration key {dotted!r}")
    kwargs = {}
    for name, value in data.items():
        dotted = f"{prefix}.{name}" if prefix else name
        coerced = _coerce(dotted, hints[name], value)
        rule = _VALIDATORS.get(dotted)
        if rule is not None and coerced is not None and not rule[1](coerced):
            raise ConfigError(f"{dotted}: {rule[0]}, got {coerced!r}")
        if dotted in ("generate.bot_mix", "generate.label_coverage"):
            _check_mapping_of_kinds(dotted, coerced)
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
