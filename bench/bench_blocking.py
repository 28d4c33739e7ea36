"""Blocking at scale: does automatic blocking keep its precision on every account of a world?

    .venv/bin/python bench/bench_blocking.py --accounts 25000,250000,1150000 \
        --set spark.driver_memory=8g
    .venv/bin/python bench/bench_blocking.py --accounts 3000 --days 35 --small-world \
        --set labels.horizon_days=7 --out /tmp/blocking-check   # a quick check of the harness

What it measures. The offline estimate of block precision comes from a test split of ops
labels (incomplete and noisy) at a few hundred labelled accounts; blocking acts on every
account. Each scale builds a fresh world and serves the model the way production does,
then judges the decisions of the scoring date against the generator's truth
(`truth.ground_truth`) over EVERY scored account, not a test sample.

Dates. D is the world's last day (the configuration's as-of date), the scoring date. The
model is trained on T = D - `labels.horizon_days` (14 by default), the latest date whose
ops labels have matured by D, and T's 28-day feature windows must lie inside the world:
`--days` >= horizon + the largest window (43 by default, one day to spare).

Per scale, in a fresh Python process (one SparkSession), every stage through
`pipeline.run_stage` with its gate and `audit.runs` row, as the CLI runs it:

1. `generate` for D (the exports hold every day up to D, ops actions included);
2. the daily job's state on T: `ingest` of every event day up to T (`ingest.days` =
   `--days`: the exports already hold the days after T, and a full ingest would put them
   in the raw tables and fail T's freshness gate), `validate raw`, `features
   --full-refresh`, `validate features`;
3. `pipeline --as-of-date D --no-generate --train always` with `train.label_lag_days` =
   horizon, as prod's schedule runs it: ingest of the days after T (`ingest.days` =
   horizon; ops actions to T + horizon arrive only now: training on T before this would
   see immature labels), validate raw, features for D (the partials of the days after T,
   missing from the window, are computed in the same run), validate features, labels and
   train on T, score D, report D. Scoring serves the champion; when training promoted none (no
   block band), it serves the challenger review-only, and the run records that.

Then, over every scored account of D joined with the truth (one aggregation; a few dozen
rows reach the driver): block precision and recall; block+review recall; accounts, bots,
benign automation and humans per decision; recall by bot kind; the share of benign
automation (all `BENIGN_AUTOMATION_KINDS` together and each kind), of verified accounts
(raw `accounts.verified`) and of humans (neither spam nor automation) that were blocked;
per truth kind, the accounts with a lock-step partner, the largest lock-step and
controller components and the mean near-duplicate twins (the benign controls must not
gain lock-step edges in bulk).
From the train run: family and grid point, both families' out-of-fold and test metrics,
the promotion decision, and the offline block-precision estimate (`test_block_precision`
with its cluster-bootstrap interval and bound) next to the truth precision on D. Stage
wall times and peak RSS as in bench_pipeline.py.

Goals, PASS/FAIL per scale:
- block band: the served model has a block threshold and blocks at least one account;
- precision: truth block precision >= 0.99 with truth block recall >= 0.6;
- flagged recall: block+review recall >= 0.85;
- automation: at most 0.1% of benign automation blocked;
- offline interval not optimistic: the low end of the offline interval <= truth precision
  (it contains the truth or sits below it; an interval above the truth fails). The offline
  interval is `test_block_precision_interval_lo`/`_hi`: the wider of the cluster-bootstrap
  and Wilson intervals (runs that predate those keys: the same union from `..._boot_lo`
  and `..._precision_lo`).

`--keep-data` keeps each world; `--reuse-world` then reruns everything after ingest on it
(features and their gate on T and D, labels and train on T, score and report D, the audit
check) with a fresh registry, so a change to features, labels, training or scoring is
measured on the same world in minutes instead of the hour a world takes to build at 250k
accounts. `--keep-features-t` also keeps T's account features (built by the same feature
code), so a run stopped after T resumes at D's features.

Writes OUT/blocking.json (default bench/results/blocking.json; `--with FILE` merges the
scales of an earlier result, so a large scale can run in a session of its own) and prints
the table: one column per scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_generate_ingest import RESULTS, add_set_option
from bench_pipeline import SMALL_WORLD, earlier_runs, measured, scale_json, scale_root, stage_row
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from botdetect.audit import code_version
from botdetect.cli import PRINTERS
from botdetect.config import BOT_KINDS, Config, load_config
from botdetect.features.stage import FeaturesResult
from botdetect.generate.stage import WorldReport, summarise_world
from botdetect.generate.world import BENIGN_AUTOMATION_KINDS, HUMAN, plan_world
from botdetect.io.tables import read_table
from botdetect.model.registry import served_model
from botdetect.pipeline import (
    DEFAULT_OPTIONS,
    FEATURES,
    GENERATE,
    INGEST,
    LABELS,
    OPS_SIM,
    REPORT,
    SCORE,
    TRAIN,
    VALIDATE_FEATURES,
    VALIDATE_RAW,
    RunOptions,
    Stage,
    run_stage,
)
from botdetect.report.audit_findings import audit_verdicts, band_strata, truth_shares
from botdetect.report.audited import for_reviewer_error, stratified_share
from botdetect.score.decisions import DECISIONS
from botdetect.session import get_spark
from botdetect.table_catalog import (
    ACCOUNT_FEATURES,
    AUDIT_REQUESTS,
    GROUND_TRUTH,
    RAW_ACCOUNTS,
    RAW_OPS_ACTIONS,
    SCORES,
)

DEFAULT_ACCOUNTS = "25000,250000,1150000"
DEFAULT_DAYS = 43  # horizon 14 + the 28-day window + one day to spare
PRECISION_GOAL = 0.99
RECALL_GOAL = 0.6
FLAGGED_RECALL_GOAL = 0.85
AUTOMATION_BLOCKED_GOAL = 0.001
GOALS = {
    "block_band": "the served model has a block band (and blocks accounts)",
    "precision": f"truth block precision >= {PRECISION_GOAL} with recall >= {RECALL_GOAL}",
    "flagged_recall": f"block+review recall >= {FLAGGED_RECALL_GOAL}",
    "automation": f"benign automation blocked <= {AUTOMATION_BLOCKED_GOAL:.1%}",
    "offline_interval": "offline interval not optimistic (its low end <= truth precision)",
}
OFFLINE_KEYS = (
    "test_block_precision",
    "test_block_precision_boot_lo",
    "test_block_precision_boot_hi",
    "test_block_precision_lo",
    "test_block_precision_hi",
    "test_block_precision_interval_lo",
    "test_block_precision_interval_hi",
    "test_block_precision_bound",
    "val_block_precision_bound",
    "test_block_recall",
    "truth_all_block_precision",  # the train stage's truth check, on the test components
)
FAMILY_PREFIXES = ("rf_val_", "lr_val_", "rf_test_", "lr_test_", "val_", "test_", "truth_")


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# --- one scale: the stages (child process) -----------------------------------------------


def run_stages(spark: SparkSession, cfg_t: Config, cfg_d: Config, out: dict[str, Any]) -> None:
    """The stages of one scale in order; fills `out` as they finish (a failure keeps them)."""
    rows = out["stages"]
    reuse = bool(out.get("reused_world"))

    def stage(
        name: str,
        cfg: Config,
        step: Stage,
        what: str,
        count: Callable,
        opts: RunOptions = DEFAULT_OPTIONS,
    ) -> Any:
        result, m = measured(lambda: run_stage(spark, cfg, step, opts, label=name))
        rows.append(stage_row(name, what, int(count(result)), m))
        return result

    if reuse:
        accounts = world_stages(spark, cfg_t, cfg_d, out, stage)
    else:
        accounts = data_stages(spark, cfg_t, cfg_d, out, stage)
    model_stages(spark, cfg_d, out, stage, accounts)


MODEL_STATE = ("mlflow.db", "mlartifacts", "labels", "scores", "reports")


def world_fields(report: WorldReport) -> dict[str, Any]:
    """What the bench records of a world from the generator's summary."""
    return {
        "world_start": str(report.world_start),
        "accounts_by_kind": report.accounts_by_kind,
        "prevalence": report.prevalence,
        "label_coverage": report.label_coverage,
    }


def world_stages(
    spark: SparkSession, cfg_t: Config, cfg_d: Config, out: dict[str, Any], stage: Callable
) -> tuple[int, int]:
    """A kept world instead of the data stages: the model's state is removed (registry,
    labels, scores, reports, the simulated ops team's verdicts in the export; the raw
    table keeps them, dated after T's horizon), the world is described from its files,
    and T's and D's features are rebuilt from its raw tables (the daily partials of other
    days are kept), so a feature change is measured too. Returns the feature rows of T
    and D."""
    root = Path(cfg_d.storage.root)
    for name in MODEL_STATE:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for path in (Path(cfg_d.storage.landing_root) / "ops_actions").glob("*part-ops-sim-*"):
        path.unlink()
    day = cfg_d.run_date()
    plan = plan_world(cfg_d.generate, day, cfg_d.platform_start)
    report = summarise_world(spark, cfg_d, plan.world_start, day)
    out["world"] = world_fields(report)
    out["world"] |= {"raw_rows": sum(report.rows.values()), "tweets": report.rows["tweets"]}
    if out.get("kept_features_t"):  # T's features as the kept world holds them
        day_t = cfg_t.run_date()
        rows = read_table(spark, ACCOUNT_FEATURES.ref(cfg_t.storage))
        n_t = rows.where(F.col("as_of_date") == F.lit(day_t)).count()
        if not n_t:
            raise RuntimeError(
                f"--keep-features-t: {ACCOUNT_FEATURES.label} has no rows for {day_t}"
            )
    else:
        n_t = feature_stages(spark, cfg_t, stage, "T", full_refresh=False).accounts
    return n_t, feature_stages(spark, cfg_d, stage, "D", full_refresh=False).accounts


def feature_stages(
    spark: SparkSession, cfg: Config, stage: Callable, name: str, *, full_refresh: bool
) -> FeaturesResult:
    """`features` and `validate features` for one date."""
    features = stage(
        f"features {name}",
        cfg,
        FEATURES,
        "accounts",
        lambda r: r.accounts,
        RunOptions(full_refresh=full_refresh),
    )
    stage(
        f"validate features {name}",
        cfg,
        VALIDATE_FEATURES,
        "accounts",
        lambda _: features.accounts,
    )
    return features


def data_stages(
    spark: SparkSession, cfg_t: Config, cfg_d: Config, out: dict[str, Any], stage: Callable
) -> tuple[int, int]:
    """generate; ingest, validate and features on T; the same on D. Returns the feature
    rows of T and D."""

    def sum_read(results: list) -> int:
        return sum(r.read for r in results)

    report = stage(
        "generate",
        cfg_d,
        GENERATE,
        "rows written",
        lambda r: sum(r.rows.values()),
    )
    out["world"] = world_fields(report)
    # The daily job's state on T: every event day up to T ingested, T's features.
    ingested = stage("ingest T", cfg_t, INGEST, "rows read", sum_read)
    raw_t = sum(r.written for r in ingested)
    stage(
        "validate raw T",
        cfg_t,
        VALIDATE_RAW,
        "raw rows",
        lambda _: raw_t,
    )
    n_t = feature_stages(spark, cfg_t, stage, "T", full_refresh=True).accounts
    # `pipeline --as-of-date D --no-generate --train always`, label lag = horizon: the
    # days after T (ingest.days = horizon), as the daily job would have taken them.
    ingested_d = stage("ingest D", cfg_d, INGEST, "rows read", sum_read)
    raw_d = sum(r.written for r in ingested_d)
    tweets_read = sum(r.read for r in [*ingested, *ingested_d] if r.table == "tweets")
    out["world"] |= {"raw_rows": raw_t + raw_d, "tweets": tweets_read}
    stage(
        "validate raw D",
        cfg_d,
        VALIDATE_RAW,
        "raw rows",
        lambda _: raw_d,
    )
    features = feature_stages(spark, cfg_d, stage, "D", full_refresh=False)
    out["world"]["partial_days_for_d"] = len(features.daily_dates)
    return n_t, features.accounts


def model_stages(
    spark: SparkSession,
    cfg_d: Config,
    out: dict[str, Any],
    stage: Callable,
    accounts: tuple[int, int],
) -> None:
    """labels and train on T, score and report D, then the audit check; `accounts`: the
    feature rows of T and D."""
    n_t, n_d = accounts
    train_cfg = TRAIN.config(cfg_d)  # run date D, label lag: labels and train use T
    labels = stage("labels T", train_cfg, LABELS, "accounts", lambda _: n_t)
    labelled = sum(labels.counts.values())
    trained = stage("train T", train_cfg, TRAIN, "labelled", lambda _: labelled)
    PRINTERS["train"](trained)
    out["train"] = {
        "as_of_date": str(trained.as_of_date),
        "labels": labels.counts,
        "labels_horizon_end": str(labels.horizon_end),
        "model_version": trained.model_version,
        "family": trained.family,
        "grid_point": trained.grid_point,
        "block_threshold": trained.block_threshold,
        "review_threshold": trained.review_threshold,
        "promoted": trained.promoted,
        "promotion_reason": trained.reason,
        "offline": {k: finite(trained.metrics.get(k)) for k in OFFLINE_KEYS},
        "metrics": {
            k: finite(v)
            for k, v in sorted(trained.metrics.items())
            if k.startswith(FAMILY_PREFIXES)
        },
    }
    scored = stage("score D", cfg_d, SCORE, "accounts", lambda r: r.accounts)
    PRINTERS["score"](scored)
    model, _ = served_model(cfg_d)  # what scoring served: champion, or challenger review-only
    out["score"] = {
        "as_of_date": str(scored.as_of_date),
        "model_version": scored.model_version,
        "review_only": bool(scored.note),
        "note": scored.note,
        "block_threshold": model.block_threshold,
        "review_threshold": model.review_threshold,
        "decisions": scored.decisions,
        "tweets_per_hour_cap": scored.tweets_per_hour_cap,
    }
    out["blocking"] = blocking_metrics(decision_cells(spark, cfg_d))
    out["coordination"] = coordination_by_kind(spark, cfg_d)
    try:  # the pipeline's last stage; its failure does not void the blocking numbers
        stage("report D", cfg_d, REPORT, "accounts", lambda _: n_d)
    except Exception as exc:
        logging.getLogger("bench").exception("bench: report failed")
        out["report_error"] = f"{type(exc).__name__}: {exc}"
    try:  # the audit loop on D: its failure does not void the blocking numbers either
        out["audits"] = audit_check(spark, cfg_d, stage)
    except Exception as exc:
        logging.getLogger("bench").exception("bench: audit check failed")
        out["audits_error"] = f"{type(exc).__name__}: {exc}"


def audit_check(spark: SparkSession, cfg_d: Config, stage: Callable) -> dict[str, Any]:
    """D's audit sample answered by the simulated ops team (ops-sim for D, verdicts on
    D + 1), the ops export ingested for D + 1, then each band's audited spam share (the
    report's estimator, on D's strata) against the truth share of the same band."""
    day = cfg_d.run_date()
    team = stage(
        "ops-sim D",
        cfg_d,
        OPS_SIM,
        "reviews",
        lambda r: sum(r.reviewed.values()),
    )
    cfg_next = dataclasses.replace(cfg_d, as_of_date=day + dt.timedelta(days=1))
    stage(
        "ingest ops D+1",
        cfg_next,
        INGEST,
        "rows read",
        lambda r: sum(x.read for x in r),
        RunOptions(tables=("ops_actions",)),
    )
    requests = read_table(spark, AUDIT_REQUESTS.ref(cfg_d.storage)).where(
        F.col("as_of_date") == F.lit(day)
    )
    ops = read_table(spark, RAW_OPS_ACTIONS.ref(cfg_d.storage))
    verdicts = audit_verdicts(requests, ops, day, day, day + dt.timedelta(days=1)).persist()
    strata = band_strata(requests, verdicts)
    scores = read_table(spark, SCORES.ref(cfg_d.storage))
    truth_df = read_table(spark, GROUND_TRUTH.ref(cfg_d.storage))
    truth = truth_shares(scores, truth_df, [(band, day) for band in strata])
    verdicts.unpersist()
    confidence = cfg_d.report.audit_confidence
    bands = {}
    for band, rows in sorted(strata.items()):
        error = cfg_d.report.reviewer_error_rate
        est = for_reviewer_error(
            stratified_share(rows, confidence, finite_population=error == 0), error
        )
        bands[band] = {
            "band_accounts": sum(r.population for r in rows),
            "verdicts": 0 if est is None else est.audited,
            "estimate": None if est is None else est.value,
            "lo": None if est is None else est.lo,
            "hi": None if est is None else est.hi,
            "truth": truth.get(band),
            "contains_truth": None
            if est is None or band not in truth
            else est.contains(truth[band]),
        }
    return {
        "confidence": confidence,
        "ops_error_rate": cfg_d.generate.ops_team.error_rate,
        "reviewer_error_rate": cfg_d.report.reviewer_error_rate,
        "reviewed": team.reviewed,
        "bands": bands,
        "all_contain_truth": all(b["contains_truth"] for b in bands.values()),
    }


def coordination_by_kind(spark: SparkSession, cfg: Config) -> dict[str, dict[str, Any]]:
    """Per truth kind on D: accounts with a lock-step partner, the largest lock-step and
    controller components, mean near-duplicate twins (one aggregation; a row per kind)."""
    as_of = cfg.run_date()
    features = read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
    truth = read_table(spark, GROUND_TRUTH.ref(cfg.storage))
    rows = (
        features.where(F.col("as_of_date") == F.lit(as_of))
        .join(truth.select("account_id", "bot_kind"), "account_id", "inner")
        .groupBy("bot_kind")
        .agg(
            F.count("*").alias("accounts"),
            F.sum((F.col("lockstep_partners") > 0).cast("int")).alias("with_lockstep_partner"),
            F.max("lockstep_component_size").alias("largest_lockstep_component"),
            F.max("cluster_size").alias("largest_cluster"),
            F.avg("nd_twin_accounts").alias("mean_nd_twin_accounts"),
        )
        .collect()
    )
    return {
        r["bot_kind"]: {k: finite(v) for k, v in r.asDict().items() if k != "bot_kind"}
        for r in rows
    }


def decision_cells(spark: SparkSession, cfg: Config) -> list[dict[str, Any]]:
    """Scored accounts of the run date per (decision, bot kind, spam, verified): one
    aggregation of scores x truth x raw accounts; only these counts reach the driver."""
    as_of = cfg.run_date()
    scores = read_table(spark, SCORES.ref(cfg.storage))
    truth = read_table(spark, GROUND_TRUTH.ref(cfg.storage))
    accounts = read_table(spark, RAW_ACCOUNTS.ref(cfg.storage))
    joined = (
        scores.where(F.col("as_of_date") == F.lit(as_of))
        .select("account_id", "decision")
        .join(truth.select("account_id", "is_spam_bot", "bot_kind"), "account_id", "left")
        .join(accounts.select("account_id", "verified"), "account_id", "left")
    )
    grouped = joined.groupBy("decision", "bot_kind", "is_spam_bot", "verified").count()
    return [row.asDict() for row in grouped.collect()]


def group_of(cell: dict[str, Any]) -> str:
    """bot, automation (benign), human (neither), or unknown (no truth row)."""
    if cell["bot_kind"] is None:
        return "unknown"
    if cell["is_spam_bot"]:
        return "bot"
    return "automation" if cell["bot_kind"] in BENIGN_AUTOMATION_KINDS else "human"


def blocking_metrics(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the goals and the table need, from the per-cell counts."""

    def total(where: Callable[[dict[str, Any]], bool]) -> int:
        return sum(c["count"] for c in cells if where(c))

    groups = ("bot", "automation", "human", "unknown")
    by_decision = {
        d: {"accounts": total(lambda c, d=d: c["decision"] == d)}
        | {g: total(lambda c, d=d, g=g: c["decision"] == d and group_of(c) == g) for g in groups}
        for d in DECISIONS
    }
    population = {g: total(lambda c, g=g: group_of(c) == g) for g in groups}
    blocked = by_decision["block"]
    flagged_bots = blocked["bot"] + by_decision["review"]["bot"]
    kinds = sorted({c["bot_kind"] for c in cells if c["bot_kind"] is not None})
    by_kind = {}
    for kind in kinds:
        n = {
            d: total(lambda c, d=d, k=kind: c["bot_kind"] == k and c["decision"] == d)
            for d in DECISIONS
        }
        accounts = sum(n.values())
        by_kind[kind] = {
            "accounts": accounts,
            **n,
            "blocked_share": ratio(n["block"], accounts),
            "flagged_share": ratio(n["block"] + n["review"], accounts),
        }
    verified = total(lambda c: bool(c["verified"]))
    verified_blocked = total(lambda c: bool(c["verified"]) and c["decision"] == "block")
    return {
        "accounts": sum(population.values()),
        "population": population,
        "by_decision": by_decision,
        "block_precision": ratio(blocked["bot"], blocked["accounts"]),
        "block_recall": ratio(blocked["bot"], population["bot"]),
        "flagged_recall": ratio(flagged_bots, population["bot"]),
        "by_kind": by_kind,
        "automation_blocked": blocked["automation"],
        "automation_blocked_share": ratio(blocked["automation"], population["automation"]),
        "verified": verified,
        "verified_blocked": verified_blocked,
        "verified_blocked_share": ratio(verified_blocked, verified),
        "humans_blocked": blocked["human"],
        "human_blocked_share": ratio(blocked["human"], population["human"]),
        "cells": cells,
    }


def run_scale(args: argparse.Namespace, accounts: int) -> int:
    """The child process: one world, T's state, the pipeline on D, the truth; its JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = [
        f"storage.root={scale_root(args, accounts)}",
        f"generate.accounts={accounts}",
        f"generate.days={args.days}",
        *args.overrides,
    ]
    scoring_date, training_date, horizon = dates(load_config(args.conf, base))
    cfg_t = load_config(
        args.conf, [*base, f"as_of_date={training_date}", f"ingest.days={args.days}"]
    )
    lag = f"train.label_lag_days={horizon}"
    cfg_d = load_config(
        args.conf, [*base, f"as_of_date={scoring_date}", lag, f"ingest.days={horizon}"]
    )
    spark = get_spark(cfg_d.spark)
    out: dict[str, Any] = {"accounts": accounts, "days": args.days, "stages": [], "error": None}
    out["reused_world"] = args.reuse_world
    out["kept_features_t"] = args.keep_features_t
    out |= {"scoring_date": str(scoring_date), "training_date": str(training_date)}
    out |= {"horizon_days": horizon, "code": code_version(), "date": time.strftime("%Y-%m-%d")}
    start = time.monotonic()
    try:
        run_stages(spark, cfg_t, cfg_d, out)
    except Exception as exc:
        logging.getLogger("bench").exception("bench: scale %d failed", accounts)
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["wall_seconds"] = round(time.monotonic() - start, 1)
    out["spark"] = spark.version
    scale_json(args, accounts).write_text(json.dumps(out, indent=2, default=str))
    return 0 if out["error"] is None else 1


def dates(cfg: Config) -> tuple[dt.date, dt.date, int]:
    """(D, T, horizon): the scoring date, the training date D - horizon, the horizon."""
    horizon = cfg.labels.horizon_days
    return cfg.run_date(), cfg.run_date() - dt.timedelta(days=horizon), horizon


# --- the parent: scales, goals, table ------------------------------------------------------


def child_command(args: argparse.Namespace, accounts: int) -> list[str]:
    cmd = [sys.executable, __file__, "--scale-worker", "--accounts", str(accounts)]
    cmd += ["--days", str(args.days), "--root", args.root, "--conf", args.conf]
    if args.reuse_world:
        cmd.append("--reuse-world")
    if args.keep_features_t:
        cmd.append("--keep-features-t")
    for item in args.overrides:
        cmd += ["--set", item]
    return cmd


def measure_scale(args: argparse.Namespace, accounts: int) -> dict[str, Any]:
    """One scale in a fresh process; its JSON, or the failure if it wrote none."""
    if not args.reuse_world:
        shutil.rmtree(scale_root(args, accounts), ignore_errors=True)
    path = scale_json(args, accounts)
    path.unlink(missing_ok=True)
    print(f"\n=== scale: {accounts:,} accounts x {args.days} days ===", flush=True)
    code = subprocess.run(child_command(args, accounts), check=False).returncode
    if path.exists():
        result = json.loads(path.read_text())
    else:
        result = {"accounts": accounts, "stages": [], "error": f"worker exited with {code}"}
    if not args.keep_data and not args.reuse_world:
        shutil.rmtree(scale_root(args, accounts), ignore_errors=True)
        path.unlink(missing_ok=True)
    return result


def offline_interval(offline: dict[str, Any]) -> tuple[float | None, float | None]:
    """The offline block-precision interval: the train stage's union of the bootstrap and
    Wilson intervals, or that union rebuilt from both for runs that predate the key."""
    lo, hi = (
        offline.get("test_block_precision_interval_lo"),
        offline.get("test_block_precision_interval_hi"),
    )
    if lo is not None and hi is not None:
        return lo, hi
    los = [
        v for k in ("boot_lo", "lo") if (v := offline.get(f"test_block_precision_{k}")) is not None
    ]
    his = [
        v for k in ("boot_hi", "hi") if (v := offline.get(f"test_block_precision_{k}")) is not None
    ]
    return (min(los) if los else None), (max(his) if his else None)


def judge(run: dict[str, Any]) -> dict[str, bool]:
    """The goals of one scale (False when a scale did not get far enough to measure one)."""
    b, score = run.get("blocking") or {}, run.get("score") or {}
    offline = (run.get("train") or {}).get("offline") or {}
    precision, recall = b.get("block_precision"), b.get("block_recall")
    flagged, automation = b.get("flagged_recall"), b.get("automation_blocked_share")
    lo, _ = offline_interval(offline)
    blocked = ((b.get("by_decision") or {}).get("block") or {}).get("accounts", 0)
    return {
        "block_band": score.get("block_threshold") is not None and blocked > 0,
        "precision": precision is not None
        and recall is not None
        and precision >= PRECISION_GOAL
        and recall >= RECALL_GOAL,
        "flagged_recall": flagged is not None and flagged >= FLAGGED_RECALL_GOAL,
        "automation": automation is not None and automation <= AUTOMATION_BLOCKED_GOAL,
        "offline_interval": lo is not None and precision is not None and lo <= precision,
    }


def interval_position(run: dict[str, Any]) -> str:
    """Where the offline interval sits against the truth precision of D."""
    offline = (run.get("train") or {}).get("offline") or {}
    lo, hi = offline_interval(offline)
    truth = (run.get("blocking") or {}).get("block_precision")
    if lo is None or hi is None or truth is None:
        return "not measured"
    if lo > truth:
        return "optimistic (above the truth)"
    return "contains the truth" if hi >= truth else "below the truth"


def write_report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> Path:
    for run in runs:
        run["goals"] = judge(run)
    report = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "command": " ".join(sys.argv),
        "days": args.days,
        "scales": [r["accounts"] for r in runs],
        "overrides": args.overrides,
        "goal_text": GOALS,
        "all_goals_met": bool(runs) and all(all(r["goals"].values()) for r in runs),
        "runs": runs,
    }
    path = Path(args.out) / "blocking.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    return path


def pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(title: str, runs: list[dict[str, Any]], rows: list[tuple[str, Callable]]) -> None:
    """One row per measure, one column per scale; a measure that fails to apply shows '-'."""
    width = max(18, *(len(label) for label, _ in rows))
    print(f"\n{title}")
    print(f"{'':<{width}}" + "".join(f" {r['accounts']:>28,}" for r in runs))
    for label, get in rows:
        cells = []
        for run in runs:
            try:
                cells.append(str(get(run)))
            except (KeyError, TypeError, AttributeError):
                cells.append("-")
        print(f"{label:<{width}}" + "".join(f" {c:>28}" for c in cells))


def counts(run: dict[str, Any], decision: str) -> str:
    d = run["blocking"]["by_decision"][decision]
    return f"{d['accounts']:,} / {d['bot']:,} / {d['automation']:,} / {d['human']:,}"


def share_of(blocked: int, share: float | None) -> str:
    return f"{pct(share, 3)} ({blocked:,})"


def kind_recall(run: dict[str, Any], kind: str) -> str:
    k = run["blocking"]["by_kind"][kind]
    return f"{num(k['blocked_share'], 3)} / {num(k['flagged_share'], 3)} of {k['accounts']:,}"


ALL_KINDS = (HUMAN, *BENIGN_AUTOMATION_KINDS, *BOT_KINDS)


def coordination(run: dict[str, Any], kind: str) -> str:
    c = (run.get("coordination") or {}).get(kind)
    if not c:
        return "-"
    return f"{c['with_lockstep_partner']:,} of {c['accounts']:,}; {c['largest_lockstep_component']}"


def automation_kind(run: dict[str, Any], kind: str) -> str:
    k = run["blocking"]["by_kind"][kind]
    return f"{pct(k['blocked_share'], 3)} ({k['block']:,} of {k['accounts']:,})"


def metric(run: dict[str, Any], key: str, digits: int = 4) -> str:
    return num(run["train"]["metrics"].get(key), digits)


def band(run: dict[str, Any], prefix: str) -> str:
    """Block precision / recall of a family on a split, e.g. prefix `rf_test`."""
    precision = metric(run, f"{prefix}_block_precision", 3)
    return f"{precision} / {metric(run, f'{prefix}_block_recall', 3)}"


def has_band(run: dict[str, Any], family: str) -> str:
    return "yes" if run["train"]["metrics"].get(f"{family}_val_has_block_band") else "no"


def served(run: dict[str, Any]) -> str:
    s = run["score"]
    return f"v{s['model_version']} " + (
        "challenger review-only" if s["review_only"] else "champion"
    )


def thresholds(run: dict[str, Any]) -> str:
    s = run["score"]
    return f"{num(s['block_threshold'], 5)} / {num(s['review_threshold'], 5)}"


def offline(run: dict[str, Any], key: str) -> str:
    return num(run["train"]["offline"][key])


def boot_interval(run: dict[str, Any]) -> str:
    lo, hi = offline_interval(run["train"]["offline"])
    return f"[{num(lo)}, {num(hi)}]"


def population(run: dict[str, Any]) -> str:
    return "{bot:,} / {automation:,} / {human:,}".format(**run["blocking"]["population"])


def blocked_share(run: dict[str, Any], what: str) -> str:
    b = run["blocking"]
    share = b["human_blocked_share" if what == "humans" else f"{what}_blocked_share"]
    return f"{pct(share, 3)} ({b[f'{what}_blocked']:,})"


def truth(run: dict[str, Any], key: str) -> str:
    return num(run["blocking"][key])


def stage_seconds(run: dict[str, Any], name: str) -> str:
    return next(f"{s['seconds']:.1f}" for s in run["stages"] if s["stage"] == name)


def print_results(runs: list[dict[str, Any]]) -> None:
    if not runs:
        return
    print_table(
        "world and model (decisions on D, against the generator's truth)",
        runs,
        [
            ("training date T / D", lambda r: f"{r['training_date']} / {r['scoring_date']}"),
            ("accounts scored on D", lambda r: f"{r['blocking']['accounts']:,}"),
            ("bots / automation / humans", population),
            ("model (grid point)", lambda r: r["train"]["grid_point"]),
            ("served on D", served),
            ("block / review threshold", thresholds),
            ("promoted", lambda r: "yes" if r["train"]["promoted"] else "no"),
        ],
    )
    print_table(
        "accounts / bots / automation / humans per decision",
        runs,
        [(d, lambda r, d=d: counts(r, d)) for d in DECISIONS],
    )
    print_table(
        "truth on every scored account of D",
        runs,
        [
            ("block precision", lambda r: truth(r, "block_precision")),
            ("block recall", lambda r: truth(r, "block_recall")),
            ("block+review recall", lambda r: truth(r, "flagged_recall")),
            ("automation blocked", lambda r: blocked_share(r, "automation")),
            *[(f"  {k}", lambda r, k=k: automation_kind(r, k)) for k in BENIGN_AUTOMATION_KINDS],
            ("verified blocked", lambda r: blocked_share(r, "verified")),
            ("humans blocked", lambda r: blocked_share(r, "humans")),
        ],
    )
    print_table(
        "recall by bot kind: block / block+review of accounts",
        runs,
        [(k, lambda r, k=k: kind_recall(r, k)) for k in BOT_KINDS],
    )
    print_table(
        "coordination on D: accounts with a lock-step partner; largest lock-step component",
        runs,
        [(k, lambda r, k=k: coordination(r, k)) for k in ALL_KINDS],
    )
    print_table(
        "offline estimate (test split, ops labels, cluster bootstrap) against the truth on D",
        runs,
        [
            ("test block precision", lambda r: offline(r, "test_block_precision")),
            ("  interval (bootstrap and Wilson)", boot_interval),
            ("  one-sided bound", lambda r: offline(r, "test_block_precision_bound")),
            ("val block precision bound", lambda r: offline(r, "val_block_precision_bound")),
            ("truth block precision on D", lambda r: truth(r, "block_precision")),
            ("interval vs truth", interval_position),
        ],
    )
    families = []
    for f, name in (("rf", "forest"), ("lr", "logistic")):
        families += [
            (f"{name} val PR-AUC", lambda r, f=f: metric(r, f"{f}_val_pr_auc")),
            (f"{name} val block band", lambda r, f=f: has_band(r, f)),
            (f"{name} val block prec/recall", lambda r, f=f: band(r, f"{f}_val")),
            (f"{name} test PR-AUC", lambda r, f=f: metric(r, f"{f}_test_pr_auc")),
            (f"{name} test block prec/recall", lambda r, f=f: band(r, f"{f}_test")),
        ]
    families.append(
        (
            "chosen val / test PR-AUC",
            lambda r: f"{metric(r, 'val_pr_auc')} / {metric(r, 'test_pr_auc')}",
        )
    )
    print_table("both families: out of fold (val) and test (ops labels)", runs, families)
    stages = list(dict.fromkeys(s["stage"] for r in runs for s in r["stages"]))
    print_table(
        "stage wall time (s)",
        runs,
        [(s, lambda r, s=s: stage_seconds(r, s)) for s in stages]
        + [("total", lambda r: f"{sum(s['seconds'] for s in r['stages']):.1f}")],
    )
    print_table(
        "goals",
        runs,
        [(text, lambda r, g=g: "PASS" if judge(r)[g] else "FAIL") for g, text in GOALS.items()],
    )
    for run in runs:
        why = (run.get("train") or {}).get("promotion_reason")
        print(f"\n{run['accounts']:,}: promotion: {why or '-'}")
        audits = run.get("audits")
        for decision, b in sorted(((audits or {}).get("bands") or {}).items()):
            print(
                f"{run['accounts']:,}: audited {decision}: {b['estimate']} "
                f"[{b['lo']}, {b['hi']}] "
                f"from {b['verdicts']} verdicts; truth {b['truth']}; "
                f"contains truth: {b['contains_truth']}"
            )
        for key in ("error", "report_error", "audits_error"):
            if run.get(key):
                print(f"{run['accounts']:,}: {key}: {run[key]}")
        note = (run.get("score") or {}).get("note")
        if note:
            print(f"{run['accounts']:,}: score: {note}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accounts",
        default=DEFAULT_ACCOUNTS,
        help=f"comma-separated world sizes (default {DEFAULT_ACCOUNTS}); "
        '"" with --with: only print the earlier results',
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help="days of activity per world: at least labels.horizon_days + the largest window",
    )
    parser.add_argument("--root", default="/tmp/botdetect-bench-blocking", help="scratch space")
    parser.add_argument("--conf", default="local", help="environment or YAML (as the CLI)")
    add_set_option(parser, "configuration override passed to every scale (repeatable)")
    parser.add_argument(
        "--out", default=str(RESULTS), help="directory for blocking.json (default bench/results)"
    )
    parser.add_argument(
        "--small-world",
        action="store_true",
        help="bench_pipeline's overrides that let worlds of a few thousand accounts train",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep each scale's tables")
    parser.add_argument(
        "--reuse-world",
        action="store_true",
        help="rerun features, labels, train, score, report and the audit check on the world "
        "a --keep-data run left under --root (fresh registry; the world is kept)",
    )
    parser.add_argument(
        "--keep-features-t",
        action="store_true",
        help="with --reuse-world: keep T's account features as the kept world holds them "
        "(built by the same feature code) and rebuild only D's; resumes a run stopped after T",
    )
    parser.add_argument(
        "--with",
        dest="earlier",
        action="append",
        default=[],
        metavar="JSON",
        help="an earlier blocking.json whose other scales join this one (repeatable)",
    )
    parser.add_argument("--scale-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.scales = sorted(int(a) for a in args.accounts.split(",") if a.strip())
    if args.keep_features_t and not args.reuse_world:
        parser.error("--keep-features-t resumes a kept world: it needs --reuse-world")
    if not args.scales and not args.earlier:
        parser.error("--accounts is empty: give --with files to print")
    if args.small_world:  # the children get the overrides themselves
        args.overrides = [*SMALL_WORLD, *args.overrides]
    if not args.scale_worker and args.scales:
        cfg = load_config(args.conf, args.overrides)
        horizon, window = cfg.labels.horizon_days, max(cfg.features.windows)
        if args.days < horizon + window:
            parser.error(
                f"--days {args.days}: training on D - {horizon} (labels.horizon_days) needs its "
                f"{window}-day feature window inside the world: at least {horizon + window} days"
            )
    return args


def main() -> None:
    args = parse_args()
    if args.scale_worker:
        sys.exit(run_scale(args, args.scales[0]))
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    earlier = earlier_runs(args.earlier, exclude=args.scales)
    start = time.monotonic()
    runs: list[dict[str, Any]] = []
    merged = sorted(earlier, key=lambda r: r["accounts"])
    path = write_report(args, merged) if not args.scales else None
    for accounts in args.scales:
        runs.append(measure_scale(args, accounts))
        merged = sorted([*earlier, *runs], key=lambda r: r["accounts"])
        path = write_report(args, merged)  # after every scale: a later crash keeps these
    if not args.keep_data and root.exists() and not any(root.iterdir()):
        root.rmdir()
    complete = [r for r in merged if r.get("blocking")]
    print_results(complete)
    for run in merged:
        if not run.get("blocking"):
            print(f"\n{run['accounts']:,}: no blocking numbers: {run.get('error')}")
    print(f"\n{time.monotonic() - start:.0f} s in all; {path}")


if __name__ == "__main__":
    main()
