"""The pipeline, declared once: its stages in order, what each reads and writes, the
quality gate it needs, the date it runs for and the Databricks job that schedules it.

Everything that runs stages goes through this module: the CLI (one stage, or `pipeline`),
the bundle's tasks (they call the CLI; `tests/test_bundle.py` checks their order against
`PIPELINE`), the benchmarks, and the `audit.runs` rows (a run records the Delta versions of
the tables its stage declares). `run_stage` is the one way to run a stage: it checks the
stage's gate, times it and appends its audit row.

    generate -> ingest -> validate raw -> features -> validate features
             -> labels -> train (training date) -> score -> report

`ops-sim` (synthetic worlds only) plays ops after a run; it is a stage but not part of the
pipeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botdetect import table_catalog as tc
from botdetect.config import Config, training_config
from botdetect.table_catalog import Table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("botdetect")

DAILY_JOB = "botdetect_daily"
TRAINING_JOB = "botdetect_weekly_training"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What a command line may change about a stage's run."""

    full_ingest: bool = False  # ingest: every event date in the exports
    tables: tuple[str, ...] | None = None  # ingest: only these source tables
    full_refresh: bool = False  # features: recompute every partial of the window
    force: bool = False  # run despite a failed quality gate (logged)


DEFAULT_OPTIONS = RunOptions()

Runner = Callable[["SparkSession", Config, RunOptions], Any]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage: how it runs and what it touches.

    `reads` and `writes` are tables of the catalogue (`table_catalog.py`); `gate` names
    the quality gate (the `validate --stage` layer) that must have passed for the date
    before the stage runs; `on_training_date` stages run for the run date minus
    `train.label_lag_days`; `job` is the Databricks job that schedules the stage (None:
    not scheduled).
    """

    name: str
    command: tuple[str, ...]
    run: Runner
    reads: tuple[Table, ...]
    writes: tuple[Table, ...]
    gate: str | None = None
    on_training_date: bool = False
    job: str | None = None

    @property
    def task_key(self) -> str:
        """The stage's task in the Databricks bundle."""
        return self.name.replace(" ", "_")

    @property
    def audit_stage(self) -> str:
        """The `stage` column of its `audit.runs` rows: the CLI command."""
        return self.command[0]

    def config(self, cfg: Config) -> Config:
        """The configuration this stage runs with for a run configured by `cfg`."""
        return training_config(cfg) if self.on_training_date else cfg


# --- runners: imported when run, so `botdetect --help` does not start Spark's imports -------


def _generate(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.generate.stage import run_generate

    return run_generate(spark, cfg)


def _ingest(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.ingest import run_ingest

    return run_ingest(spark, cfg, tables=opts.tables, full=opts.full_ingest)


def _validate(layer: str) -> Runner:
    def run(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
        from botdetect.quality.stage import run_validate

        return run_validate(spark, cfg, layer)

    return run


def _features(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.features.stage import run_features

    return run_features(spark, cfg, full_refresh=opts.full_refresh)


def _labels(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.labels import run_labels

    return run_labels(spark, cfg)


def _train(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.train.stage import run_train

    return run_train(spark, cfg)


def _score(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.score.stage import run_score

    return run_score(spark, cfg)


def _report(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.report.stage import run_report

    return run_report(spark, cfg)


def _ops_sim(spark: SparkSession, cfg: Config, opts: RunOptions) -> Any:
    from botdetect.generate.ops_team import run_ops_team

    return run_ops_team(spark, cfg)


GENERATE = Stage("generate", ("generate",), _generate, (), (tc.GROUND_TRUTH,))
INGEST = Stage("ingest", ("ingest",), _ingest, (), (*tc.RAW.values(), tc.QUARANTINE), job=DAILY_JOB)
VALIDATE_RAW = Stage(
    "validate raw",
    ("validate", "--stage", "raw"),
    _validate("raw"),
    (tc.RAW_TWEETS, tc.RAW_INTERACTIONS, tc.RAW_ACCOUNTS, tc.RAW_LOGINS),
    (tc.QUALITY_RESULTS,),
    job=DAILY_JOB,
)
FEATURES = Stage(
    "features",
    ("features",),
    _features,
    tuple(tc.RAW.values()),
    (tc.FEATURES_DAILY, tc.ACCOUNT_FEATURES),
    gate="raw",
    job=DAILY_JOB,
)
VALIDATE_FEATURES = Stage(
    "validate features",
    ("validate", "--stage", "features"),
    _validate("features"),
    (tc.ACCOUNT_FEATURES,),
    (tc.QUALITY_RESULTS,),
    job=DAILY_JOB,
)
LABELS = Stage(
    "labels",
    ("labels",),
    _labels,
    (tc.RAW_OPS_ACTIONS, tc.RAW_ACCOUNTS, tc.RAW_FOLLOWS, tc.FEATURES_DAILY),
    (tc.LABELS,),
    gate="features",
    on_training_date=True,
    job=TRAINING_JOB,
)
TRAIN = Stage(
    "train",
    ("train",),
    _train,
    (tc.ACCOUNT_FEATURES, tc.LABELS),
    (tc.SPLITS,),
    gate="features",
    on_training_date=True,
    job=TRAINING_JOB,
)
SCORE = Stage(
    "score",
    ("score",),
    _score,
    (tc.ACCOUNT_FEATURES, tc.FEATURES_DAILY),
    (tc.SCORES, tc.REVIEW_QUEUE, tc.AUDIT_REQUESTS),
    job=DAILY_JOB,
)
REPORT = Stage(
    "report",
    ("report",),
    _report,
    (tc.SCORES, tc.RAW_TWEETS, tc.RAW_OPS_ACTIONS),
    (tc.MONITORING,),
    job=DAILY_JOB,
)
OPS_SIM = Stage(
    "ops-sim",
    ("ops-sim",),
    _ops_sim,
    (tc.AUDIT_REQUESTS, tc.REVIEW_QUEUE, tc.GROUND_TRUTH),
    (),
)

PIPELINE: tuple[Stage, ...] = (
    GENERATE,
    INGEST,
    VALIDATE_RAW,
    FEATURES,
    VALIDATE_FEATURES,
    LABELS,
    TRAIN,
    SCORE,
    REPORT,
)
STAGES: dict[str, Stage] = {s.name: s for s in (*PIPELINE, OPS_SIM)}


def job_stages(job: str) -> list[Stage]:
    """The stages a Databricks job runs, in pipeline order."""
    return [s for s in PIPELINE if s.job == job]


def stage_span(first: str | None = None, last: str | None = None) -> tuple[Stage, ...]:
    """The stages of `PIPELINE` from `first` to `last` (task keys, such as `validate_raw`),
    both included; None is the pipeline's first or last stage."""
    keys = [s.task_key for s in PIPELINE]
    for key in (first, last):
        if key is not None and key not in keys:
            raise ValueError(f"no pipeline stage {key!r}; the stages are {', '.join(keys)}")
    start = keys.index(first) if first is not None else 0
    end = keys.index(last) if last is not None else len(keys) - 1
    if start > end:
        raise ValueError(f"stage {first!r} comes after {last!r} in the pipeline")
    return PIPELINE[start : end + 1]


# --- running a stage -----------------------------------------------------------------------

TIMINGS: list[tuple[str, float]] = []  # (stage, seconds) of this process, for summaries


def run_stage(
    spark: SparkSession,
    cfg: Config,
    stage: Stage,
    opts: RunOptions = DEFAULT_OPTIONS,
    *,
    label: str | None = None,
) -> Any:
    """Run one stage with `cfg` (already the stage's: see `Stage.config`): its quality gate,
    progress lines, a row in `audit.runs` (success or failure) and a timing under `label`
    (default: the stage's name). A failed gate refuses the run unless `opts.force`."""
    from botdetect.audit import RunRecorder

    label = label or stage.name
    log.info("%s: started", label)
    start = time.monotonic()
    refs = [[t.ref(cfg.storage) for t in tables] for tables in (stage.reads, stage.writes)]
    recorder = RunRecorder(spark, cfg, stage.audit_stage, *refs).start()
    try:
        if stage.gate is not None:
            from botdetect.quality.stage import require_gate

            require_gate(
                spark, cfg, stage.gate, cfg.run_date(), force=opts.force, consumer=stage.name
            )
        result = stage.run(spark, cfg, opts)
    except Exception as exc:
        recorder.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    recorder.finish(
        "success",
        model_name=getattr(result, "model_name", None),
        model_version=getattr(result, "model_version", None),
    )
    seconds = time.monotonic() - start
    TIMINGS.append((label, seconds))
    log.info("%s: done in %.1fs", label, seconds)
    return result


# --- the pipeline run and its retrain policy ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A stage the run left out, and why."""

    reason: str


def retrain_due(
    version: str, trained_on: dt.date | None, training_date: dt.date, every_days: int
) -> tuple[bool, str]:
    """Whether a champion trained on `trained_on` is stale for a run that would train on
    `training_date` (both are training dates, so a label lag does not age the champion)."""
    if trained_on is None:
        return True, f"champion v{version} has no training date"
    age = (training_date - trained_on).days
    if age >= every_days:
        return True, f"champion v{version} is {age} days old (train.every_days {every_days})"
    return False, f"champion v{version} is {age} days old"


def train_due(cfg: Config, mode: str) -> tuple[bool, str]:
    """Whether the pipeline trains today: always, never, or when the champion is stale.

    `cfg` is the training configuration (`training_config`): its date is the one a new
    model would be trained on.
    """
    if mode != "auto":
        return mode == "always", f"--train {mode}"
    from botdetect.model import registry

    registry.setup_mlflow(cfg)
    try:
        champion = registry.find_model(cfg, registry.CHAMPION)
    except registry.ModelNotFoundError:
        return True, "no champion yet"
    trained = champion.tags.get(registry.TAG_AS_OF)
    trained_on = dt.date.fromisoformat(trained) if trained else None
    return retrain_due(champion.version, trained_on, cfg.run_date(), cfg.train.every_days)


def run_pipeline(
    spark: SparkSession,
    cfg: Config,
    *,
    generate: bool,
    opts: RunOptions,
    train: str = "auto",
    stages: tuple[Stage, ...] = PIPELINE,
    on_stage: Callable[[Stage, Any], None] = lambda stage, result: None,
) -> dict[str, Any]:
    """The stages of `PIPELINE` (or the span `stages`, see `stage_span`) in order for the
    run date.

    `generate` False leaves the synthetic world out (the exports exist), True implies a
    full ingest and a full refresh; the training stages run when `train_due` says so.
    `on_stage` sees each result (or `Skipped`) as it comes. Returns the results by stage
    name.
    """
    generate = generate and GENERATE in stages  # a span after generate uses the exports
    if generate:  # a new world: every event date is new
        opts = dataclasses.replace(opts, full_ingest=True, full_refresh=True)
    results: dict[str, Any] = {}
    due: tuple[bool, str] | None = None
    for stage in stages:
        stage_cfg = stage.config(cfg)
        if stage.on_training_date and due is None:
            due = train_due(stage_cfg, train)
        if stage is GENERATE and not generate:
            result: Any = Skipped("--no-generate")
        elif stage.on_training_date and due is not None and not due[0]:
            result = Skipped(due[1])
        else:
            result = run_stage(spark, stage_cfg, stage, opts)
        results[stage.name] = result
        on_stage(stage, result)
    return results


# --- the summary ---------------------------------------------------------------------------

SUMMARY_TABLES = (tc.ACCOUNT_FEATURES, tc.LABELS, tc.SCORES, tc.REVIEW_QUEUE, tc.MONITORING)


def summary_lines(spark: SparkSession, cfg: Config, report_path: str | None) -> list[str]:
    """Stage timings, the date's rows in each output table, and where to look next."""
    from pyspark.sql import functions as F

    from botdetect.io.tables import read_table, table_exists
    from botdetect.model.registry import tracking_uri

    as_of = cfg.run_date()
    lines = [f"\nsummary for {as_of}"]
    lines += [f"  {name:<20} {seconds:>8.1f} s" for name, seconds in TIMINGS]
    lines.append(f"  {'total':<20} {sum(s for _, s in TIMINGS):>8.1f} s")
    for table in SUMMARY_TABLES:
        ref = table.ref(cfg.storage)
        if table_exists(spark, ref):
            rows = read_table(spark, ref).where(F.col("as_of_date") == F.lit(as_of)).count()
            lines.append(f"  {ref.label:<28} {rows:>10,} rows for {as_of}")
        else:
            lines.append(f"  {ref.label:<28} {'not written':>10}")
    lines.append(f"  tables under {cfg.storage.catalog or cfg.storage.root}")
    lines.append(f"  run report: {report_path or 'not written (the run stopped before report)'}")
    lines.append(f"  MLflow: {tracking_uri(cfg)}")
    return lines


# --- the declaration, readable -------------------------------------------------------------


def describe() -> str:
    """The stages as a Markdown table (`botdetect pipeline --describe`, README)."""

    def names(tables: tuple[Table, ...], empty: str) -> str:
        return ", ".join(t.label for t in tables) or empty

    rows = [
        "| stage | reads | writes | gate | Databricks job |",
        "| --- | --- | --- | --- | --- |",
    ]
    for stage in (*PIPELINE, OPS_SIM):
        reads = names(stage.reads, "exports" if stage is INGEST else "-")
        writes = names(stage.writes, "-")
        when = " (training date)" if stage.on_training_date else ""
        rows.append(
            f"| `{' '.join(stage.command)}`{when} | {reads} | {writes} | "
            f"{stage.gate or '-'} | {stage.job or '-'} |"
        )
    return "\n".join(rows)
