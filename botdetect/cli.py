"""`botdetect <stage>`: the command line every entry point goes through.

`jobs/<stage>.py` (spark-submit, Databricks) call `main([stage, *args])`, so a stage
takes the same arguments wherever it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botdetect.config import Config, ConfigError, load_config
from botdetect.pipeline import (
    DEFAULT_OPTIONS,
    PIPELINE,
    STAGES,
    TIMINGS,
    RunOptions,
    Skipped,
    Stage,
    describe,
    run_pipeline,
    run_stage,
    stage_span,
    summary_lines,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("botdetect")

EXIT_USAGE = 2
EXIT_FAILED = 1


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _common_args() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--conf",
        default=None,
        metavar="FILE",
        help="environment name (local, dev, prod) or a YAML file merged over conf/base.yml",
    )
    common.add_argument("--as-of-date", type=_date, default=None, metavar="YYYY-MM-DD")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one configuration key, e.g. --set generate.accounts=5000 (repeatable)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_args()
    parser = argparse.ArgumentParser(
        prog="botdetect", description="Find spam-bot accounts with Spark, Delta and MLflow."
    )
    stages = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    stages.add_parser(
        "generate",
        parents=[common],
        help="write a synthetic platform (six source exports + ground truth)",
    )
    ingest = stages.add_parser(
        "ingest", parents=[common], help="load source exports into raw Delta tables"
    )
    ingest.add_argument(
        "--full",
        action="store_true",
        help="ingest every event date in the exports instead of the last ingest.days",
    )
    ingest.add_argument("--table", dest="tables", action="append", help="only this table")
    features = stages.add_parser(
        "features", parents=[common], help="compute features_daily and account_features"
    )
    features.add_argument(
        "--full-refresh",
        action="store_true",
        help="recompute every day of the largest window instead of only the new day",
    )
    features.add_argument(
        "--describe", action="store_true", help="print the feature catalogue and exit"
    )
    features.add_argument(
        "--force", action="store_true", help="run even if the raw quality gate failed (logged)"
    )
    validate = stages.add_parser(
        "validate", parents=[common], help="run the data-quality gate for raw or feature tables"
    )
    # dest "layer": the subcommand itself is stored as `stage`.
    validate.add_argument("--stage", dest="layer", choices=["raw", "features"], required=True)
    labels = stages.add_parser(
        "labels", parents=[common], help="write training labels from ops actions"
    )
    labels.add_argument(
        "--force", action="store_true", help="run even if the features gate failed (logged)"
    )
    train = stages.add_parser(
        "train", parents=[common], help="train, evaluate and register the model in MLflow"
    )
    train.add_argument(
        "--force", action="store_true", help="run even if the features gate failed (logged)"
    )
    score = stages.add_parser(
        "score", parents=[common], help="score every account with the served model"
    )
    score.add_argument(
        "--model-version", default=None, help="score with this version instead of score.alias"
    )
    stages.add_parser(
        "report",
        parents=[common],
        help="shadow metrics, drift, cadence and the HTML run report",
    )
    stages.add_parser(
        "ops-sim",
        parents=[common],
        help="synthetic worlds only: play ops on the date's audit sample and review queue",
    )
    pipeline = stages.add_parser(
        "pipeline", parents=[common], help="run the stages end to end for one as-of date"
    )
    pipeline.add_argument(
        "--no-generate", action="store_true", help="use existing exports instead of generating"
    )
    pipeline.add_argument(
        "--full-ingest",
        action="store_true",
        help="ingest every event date in the exports (implied when generating)",
    )
    pipeline.add_argument(
        "--full-refresh",
        action="store_true",
        help="recompute every feature partial in the window (implied when generating)",
    )
    pipeline.add_argument(
        "--describe",
        action="store_true",
        help="print the stages: order, tables read and written, gates, jobs; then exit",
    )
    span = [s.task_key for s in PIPELINE]
    pipeline.add_argument(
        "--from",
        dest="first",
        choices=span,
        metavar="STAGE",
        help="start at this stage (resume a run); stages: " + ", ".join(span),
    )
    pipeline.add_argument(
        "--until", dest="last", choices=span, metavar="STAGE", help="stop after this stage"
    )
    pipeline.add_argument(
        "--train",
        choices=["auto", "always", "never"],
        default="auto",
        help="auto: train when there is no champion or it is train.every_days old",
    )
    return parser


def _config(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    if args.as_of_date is not None:
        overrides.append(f"as_of_date={args.as_of_date.isoformat()}")
    return load_config(args.conf, overrides)


def _spark(cfg: Config) -> SparkSession:
    """Build the session only for commands that need it (help stays fast)."""
    from botdetect.session import get_spark

    return get_spark(cfg.spark)


def _run(name: str, cfg: Config, opts: RunOptions = DEFAULT_OPTIONS) -> int:
    """One stage through `pipeline.run_stage` (gate, timing, audit row) with the stage's
    configuration (training stages: the run date minus the label lag, said when it
    moves), then its lines."""
    stage = STAGES[name]
    stage_cfg = stage.config(cfg)
    if stage_cfg.run_date() != cfg.run_date():
        print(
            f"run date {cfg.run_date()}, train.label_lag_days {cfg.train.label_lag_days}: "
            f"labels and train use {stage_cfg.run_date()}"
        )
    result = run_stage(_spark(stage_cfg), stage_cfg, stage, opts)
    PRINTERS[name](result)
    return 0


def _print_lines(result: object) -> None:
    print("\n".join(result.lines()))


def cmd_generate(args: argparse.Namespace, cfg: Config) -> int:
    return _run("generate", cfg)


def _print_ingest(results: Sequence[object]) -> None:
    print(f"{'table':<13} {'read':>12} {'written':>12} {'quarantined':>12} {'held back':>10}")
    for r in results:
        print(
            f"{r.table:<13} {r.read:>12,} {r.written:>12,} {r.quarantined:>12,} {r.held_back:>10,}"
        )
        for rule, count in sorted(r.by_rule.items()):
            print(f"{'':<13}   {rule}: {count:,}")


def cmd_ingest(args: argparse.Namespace, cfg: Config) -> int:
    tables = tuple(args.tables) if args.tables else None
    return _run("ingest", cfg, RunOptions(full_ingest=args.full, tables=tables))


def _print_features(result: object) -> None:
    days = result.daily_dates
    recomputed = (
        ", ".join(d.isoformat() for d in days)
        if len(days) <= 3
        else f"{len(days)} days, {days[0]} .. {days[-1]}"
    )
    print(
        f"account_features {result.as_of_date}: {result.accounts:,} accounts x "
        f"{result.columns} features; daily partials recomputed for {recomputed}"
    )


def cmd_features(args: argparse.Namespace, cfg: Config) -> int:
    if args.describe:
        from botdetect.features.catalog import describe

        print(describe(sorted(cfg.features.windows)))
        return 0
    return _run("features", cfg, RunOptions(full_refresh=args.full_refresh, force=args.force))


def _print_quality(outcome: tuple[Sequence[object], object]) -> None:
    results, report = outcome
    failed = [r for r in results if not r.success]
    print(f"{len(results)} expectations, {len(failed)} failed (warnings); report: {report}")


def cmd_validate(args: argparse.Namespace, cfg: Config) -> int:
    return _run(f"validate {args.layer}", cfg)


def _label_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{source} {n:,}" for source, n in sorted(counts.items())) or "no accounts"


def _print_labels(result: object) -> None:
    print(
        f"labels {result.as_of_date} (ops actions to {result.horizon_end}): "
        f"{_label_counts(result.counts)}"
    )


def cmd_labels(args: argparse.Namespace, cfg: Config) -> int:
    return _run("labels", cfg, RunOptions(force=args.force))


def _print_train(result: object) -> None:
    m = result.metrics

    def show(key: str) -> str:
        return f"{m[key]:.4f}" if key in m else "n/a"

    def threshold(value: float | None) -> str:
        return "none (target not reached)" if value is None else f"{value:.3f}"

    print(
        f"model {result.model_name} v{result.model_version} (run {result.run_id}), "
        f"trained on {result.as_of_date}: {result.family} {result.grid_point}"
    )
    print(
        f"  thresholds (calibrated P(spam)): block {threshold(result.block_threshold)}, "
        f"review {threshold(result.review_threshold)}"
    )
    print(
        f"  test: PR-AUC {show('test_pr_auc')}, ROC-AUC {show('test_roc_auc')}; block precision "
        f"{show('test_block_precision')} [{show('test_block_precision_boot_lo')}, "
        f"{show('test_block_precision_boot_hi')}] (cluster bootstrap), recall "
        f"{show('test_block_recall')}"
    )
    for prefix, name in (("rf", "forest"), ("lr", "logistic")):
        print(
            f"  best {name}: block band {'yes' if m.get(prefix + '_val_has_block_band') else 'no'}"
            f", out-of-fold recall@block {show(prefix + '_val_block_recall')}; test PR-AUC "
            f"{show(prefix + '_test_pr_auc')}, block recall {show(prefix + '_test_block_recall')}"
        )
    if "truth_all_block_recall" in m:
        print(
            f"  ground truth (test components): block precision "
            f"{show('truth_all_block_precision')}, recall {show('truth_all_block_recall')}; "
            f"flagged recall {show('truth_all_review_recall')}"
        )
    print(f"  champion: {'moved to this version' if result.promoted else 'kept'} ({result.reason})")


def cmd_train(args: argparse.Namespace, cfg: Config) -> int:
    return _run("train", cfg, RunOptions(force=args.force))


def _print_score(result: object) -> None:
    d = result.decisions
    print(
        f"scores {result.as_of_date}: {result.accounts:,} accounts with {result.model_name} "
        f"v{result.model_version} ({result.mode}): block {d['block']:,}, review "
        f"{d['review']:,}, rate_limit {d['rate_limit']:,}, allow {d['allow']:,}"
    )
    print(
        f"  rate limit {result.tweets_per_hour_cap} tweets/hour: "
        f"{result.allowed_over_cap:.4%} of allowed accounts peaked above it, "
        f"{result.flagged_over_cap:.2%} of rate-limited/reviewed accounts did"
    )
    print(f"  audit sample: {result.audit_requests:,} accounts for ops to review at random")
    if result.note:
        print(f"  {result.note}")


def cmd_score(args: argparse.Namespace, cfg: Config) -> int:
    if args.model_version is not None:
        cfg = dataclasses.replace(
            cfg, score=dataclasses.replace(cfg.score, version=args.model_version)
        )
    return _run("score", cfg)


def _print_report(result: object) -> None:
    m = result.metrics
    change = m.get("spam_reduction")
    print(
        f"report {result.as_of_date}: spam per 1k tweets {m['observed_spam_per_1k_tweets']:.2f} "
        f"observed, {m['if_blocked_spam_per_1k_tweets']:.2f} if flagged accounts were blocked"
        + (f" ({change:.1%} less)" if change is not None else "")
    )
    print(
        f"  flagged {m['flagged_accounts']:.0f}, false-block rate "
        f"{format(m['false_block_rate'], '.2%') if 'false_block_rate' in m else 'n/a'}, "
        "ops minutes saved "
        f"{m['ops_minutes_saved']:.0f}; spam accounts from {result.spam_source}"
    )
    for band in ("block", "review", "rate_limit", "allow"):
        name = "audited_prevalence_allow" if band == "allow" else f"audited_precision_{band}"
        if name in m:
            truth = m.get(name.replace("audited_", "truth_"))
            print(
                f"  audited {'spam prevalence' if band == 'allow' else 'precision'} of {band}: "
                f"{m[name]:.3f} [{m[name + '_lo']:.3f}, {m[name + '_hi']:.3f}] from "
                f"{m['audits_' + band]:.0f} verdicts"
                + ("" if truth is None else f" (truth, synthetic world: {truth:.3f})")
            )
    if "hit_rate_queue" in m:
        others = ", ".join(
            f"{k.removeprefix('hit_rate_').replace('_', ' ')} {v:.1%}"
            for k, v in sorted(m.items())
            if k.startswith("hit_rate_") and k != "hit_rate_queue"
        )
        print(
            f"  review queue hit rate {m['hit_rate_queue']:.1%} of "
            f"{m['reviews_of_queued_accounts']:.0f} reviewed accounts (other sources: {others})"
        )
    verdict = "promote" if result.promote else "stay in shadow"
    print(f"  recommendation: {verdict} ({result.promotion_reason})")
    print(f"  recommended cadence: every {result.cadence_hours} h")
    for line in result.alerts:
        print(f"  ALERT {line}")
    print(f"  run report: {result.report_path}")


def cmd_report(args: argparse.Namespace, cfg: Config) -> int:
    return _run("report", cfg)


def cmd_ops_sim(args: argparse.Namespace, cfg: Config) -> int:
    return _run("ops-sim", cfg)


def cmd_pipeline(args: argparse.Namespace, cfg: Config) -> int:
    if args.describe:
        print(describe())
        return 0
    try:
        stages = stage_span(args.first, args.last)
    except ValueError as exc:
        print(f"botdetect pipeline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    spark = _spark(cfg)
    TIMINGS.clear()
    print(f"botdetect pipeline for {cfg.run_date()} (env {cfg.env}, conf {cfg.fingerprint()})")

    def show(stage: Stage, result: object) -> None:
        if isinstance(result, Skipped):
            print(f"{stage.name}: skipped ({result.reason})")
        else:
            PRINTERS[stage.name](result)

    results = run_pipeline(
        spark,
        cfg,
        generate=not args.no_generate,
        opts=RunOptions(full_ingest=args.full_ingest, full_refresh=args.full_refresh),
        train=args.train,
        stages=stages,
        on_stage=show,
    )
    report = results.get("report")
    print("\n".join(summary_lines(spark, cfg, report.report_path if report else None)))
    return 0


# How each stage's result is shown, by stage name.
PRINTERS: dict[str, Callable[[object], None]] = {
    "generate": _print_lines,
    "ingest": _print_ingest,
    "validate raw": _print_quality,
    "features": _print_features,
    "validate features": _print_quality,
    "labels": _print_labels,
    "train": _print_train,
    "score": _print_score,
    "report": _print_report,
    "ops-sim": _print_lines,
}

COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "generate": cmd_generate,
    "ingest": cmd_ingest,
    "validate": cmd_validate,
    "features": cmd_features,
    "labels": cmd_labels,
    "train": cmd_train,
    "score": cmd_score,
    "report": cmd_report,
    "ops-sim": cmd_ops_sim,
    "pipeline": cmd_pipeline,
}


def _expected_errors() -> tuple[type[BaseException], ...]:
    from botdetect.features.cluster import ClusterConvergenceError
    from botdetect.generate.ops_team import OpsTeamError
    from botdetect.ingest import RejectLimitError, SchemaMismatchError
    from botdetect.io.landing import SourceNotFoundError, SourceReadError
    from botdetect.io.tables import TableNotFoundError, TableReadError
    from botdetect.model.registry import ModelNotFoundError
    from botdetect.privacy import MissingKeyError
    from botdetect.quality.stage import QualityGateError
    from botdetect.report.stage import DriftAlertError
    from botdetect.score.stage import FeatureSchemaError
    from botdetect.session import SessionError
    from botdetect.train.dataset import TrainingDataError

    return (
        RejectLimitError,
        SchemaMismatchError,
        SourceNotFoundError,
        SourceReadError,
        TableNotFoundError,
        TableReadError,
        SessionError,
        MissingKeyError,
        ClusterConvergenceError,
        QualityGateError,
        TrainingDataError,
        ModelNotFoundError,
        FeatureSchemaError,
        DriftAlertError,
        OpsTeamError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("great_expectations", "py4j"):  # their INFO lines drown the progress
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        cfg = _config(args)
    except ConfigError as exc:
        parser.exit(EXIT_USAGE, f"botdetect {args.stage}: error: {exc}\n")
    try:
        return COMMANDS[args.stage](args, cfg)
    except _expected_errors() as exc:
        print(f"botdetect {args.stage}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        from botdetect.io.tables import describe_damaged_log

        message = describe_damaged_log(exc)
        if message is None:
            raise
        print(f"botdetect {args.stage}: error: {message}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
