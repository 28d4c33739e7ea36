"""`botdetect <stage>`: the command line every entry point goes through.

`jobs/<stage>.py` (spark-submit, Databricks) call `main([stage, *args])`, so a stage
takes the same arguments wherever it runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botdetect.config import Config, ConfigError, load_config

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
    validate.add_argument("--stage", choices=["raw", "features"], required=True)
    labels = stages.add_parser(
        "labels", parents=[common], help="write training labels from ops actions"
    )
    labels.add_argument(
        "--force", action="store_true", help="run even if the features gate failed (logged)"
    )
    pipeline = stages.add_parser(
        "pipeline", parents=[common], help="run the stages end to end for one as-of date"
    )
    pipeline.add_argument(
        "--no-generate", action="store_true", help="use existing exports instead of generating"
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


def _timed(name: str, fn: Callable[[], object]) -> object:
    log.info("%s: started", name)
    start = time.monotonic()
    result = fn()
    log.info("%s: done in %.1fs", name, time.monotonic() - start)
    return result


def cmd_generate(args: argparse.Namespace, cfg: Config) -> int:
    from botdetect.generate.stage import run_generate

    report = _timed("generate", lambda: run_generate(_spark(cfg), cfg))
    print("\n".join(report.lines()))
    return 0


def _print_ingest(results: Sequence[object]) -> None:
    print(f"{'table':<13} {'read':>12} {'written':>12} {'quarantined':>12}")
    for r in results:
        print(f"{r.table:<13} {r.read:>12,} {r.written:>12,} {r.quarantined:>12,}")
        for rule, count in sorted(r.by_rule.items()):
            print(f"{'':<13}   {rule}: {count:,}")


def cmd_ingest(args: argparse.Namespace, cfg: Config) -> int:
    from botdetect.ingest import run_ingest

    results = _timed(
        "ingest", lambda: run_ingest(_spark(cfg), cfg, tables=args.tables, full=args.full)
    )
    _print_ingest(results)
    return 0


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
    from botdetect.features.stage import run_features

    result = _timed(
        "features",
        lambda: run_features(_spark(cfg), cfg, full_refresh=args.full_refresh, force=args.force),
    )
    _print_features(result)
    return 0


def _print_quality(results: Sequence[object], report: object) -> None:
    failed = [r for r in results if not r.success]
    print(f"{len(results)} expectations, {len(failed)} failed (warnings); report: {report}")


def cmd_validate(args: argparse.Namespace, cfg: Config) -> int:
    from botdetect.quality.stage import run_validate

    results, report = _timed("validate", lambda: run_validate(_spark(cfg), cfg, args.stage))
    _print_quality(results, report)
    return 0


def cmd_labels(args: argparse.Namespace, cfg: Config) -> int:
    from botdetect.labels import run_labels

    result = _timed("labels", lambda: run_labels(_spark(cfg), cfg, force=args.force))
    counts = ", ".join(f"{source} {n:,}" for source, n in sorted(result.counts.items()))
    print(f"labels {result.as_of_date} (ops actions to {result.horizon_end}): {counts}")
    return 0


def cmd_pipeline(args: argparse.Namespace, cfg: Config) -> int:
    from botdetect.features.stage import run_features
    from botdetect.generate.stage import run_generate
    from botdetect.ingest import run_ingest
    from botdetect.labels import run_labels
    from botdetect.quality.stage import run_validate

    spark = _spark(cfg)
    print(f"botdetect pipeline for {cfg.run_date()} (env {cfg.env}, conf {cfg.fingerprint()})")
    if not args.no_generate:
        report = _timed("generate", lambda: run_generate(spark, cfg))
        print("\n".join(report.lines()))
    results = _timed("ingest", lambda: run_ingest(spark, cfg, full=not args.no_generate))
    _print_ingest(results)
    _print_quality(*_timed("validate raw", lambda: run_validate(spark, cfg, "raw")))
    features = _timed(
        "features", lambda: run_features(spark, cfg, full_refresh=not args.no_generate)
    )
    _print_features(features)
    _print_quality(*_timed("validate features", lambda: run_validate(spark, cfg, "features")))
    labels = _timed("labels", lambda: run_labels(spark, cfg))
    print(
        f"labels {labels.as_of_date}: "
        + ", ".join(f"{source} {n:,}" for source, n in sorted(labels.counts.items()))
    )
    print(f"tables under {cfg.storage.catalog or cfg.storage.root}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "generate": cmd_generate,
    "ingest": cmd_ingest,
    "validate": cmd_validate,
    "features": cmd_features,
    "labels": cmd_labels,
    "pipeline": cmd_pipeline,
}


def _expected_errors() -> tuple[type[BaseException], ...]:
    from botdetect.features.cluster import ClusterConvergenceError
    from botdetect.ingest import RejectLimitError, SchemaMismatchError
    from botdetect.io.landing import SourceNotFoundError
    from botdetect.io.tables import TableNotFoundError
    from botdetect.privacy import MissingKeyError
    from botdetect.quality.stage import QualityGateError
    from botdetect.session import SessionError

    return (
        RejectLimitError,
        SchemaMismatchError,
        SourceNotFoundError,
        TableNotFoundError,
        SessionError,
        MissingKeyError,
        ClusterConvergenceError,
        QualityGateError,
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


if __name__ == "__main__":
    sys.exit(main())
