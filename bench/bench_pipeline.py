"""End-to-end pipeline benchmark: every stage at several world sizes, with peers.

    .venv/bin/python bench/bench_pipeline.py --accounts 25000,250000,1150000 --days 28
    .venv/bin/python bench/bench_pipeline.py --accounts 2000,4000,8000 --days 10 \
        --small-world --out /tmp/pipeline       # a quick check of the harness

The generator writes about 1.6 tweets per account and day, so these defaults give about
1.1M, 11M and 51M tweet rows (logins, follows and interactions in proportion).

Each scale runs in a fresh Python process (one SparkSession, one JVM), so that a scale
does not inherit the caches, imports and heap of the one before, and a crash at a large
scale keeps the smaller ones. In that process:

1. The stages of `pipeline.PIPELINE` run in order, as `botdetect pipeline` runs them
   (`pipeline.run_stage`, with their gates and `audit.runs` rows): generate, ingest
   (full), validate raw, features (full refresh), validate features, labels, train,
   score, report. Per stage: wall time, input rows,
   rows/s, and the peak RSS (VmHWM, reset through /proc/<pid>/clear_refs before the
   stage) of the Python driver, of the JVM, and summed over the whole process tree.
2. Peers on the same data: Spark's tweet partials against DuckDB on the same Parquet
   export (`compare_engines` of bench_features.py); the chosen MLlib forest refitted on
   the train stage's down-sampled training rows against a scikit-learn forest with the
   same trees, depth, leaf size, feature subset, weights and null fill, both judged on the
   same test rows with `botdetect.train.evaluate`; scoring throughput of the score stage,
   of the bare MLlib model and of scikit-learn, in accounts/s.

The parent process writes <out>.json and <out>.png (seconds per stage against input
rows, log-log), prints a table, and checks the goals: per stage, cost per row within
+-20% of the largest scale's and a driver peak that does not grow by more than 20% from
the smallest scale to the largest; Spark's tweet partials at most 2x DuckDB's.

The two forests cannot be identical: MLlib bins each feature into `max_bins` candidate
splits and samples bootstrap rows by Poisson draws, scikit-learn tries every split.

The tree peak is the sum of each process's own peak: an upper bound of the tree's
simultaneous peak, missing any process that exited during the stage.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench_features import compare_engines
from bench_generate_ingest import RESULTS, _children, add_set_option, peak_rss_mib
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.audit import code_version
from botdetect.config import BOT_KINDS, Config, load_config, training_config
from botdetect.io.tables import read_table
from botdetect.model import registry
from botdetect.model.scoring import score
from botdetect.pipeline import (
    FEATURES,
    GENERATE,
    INGEST,
    LABELS,
    PIPELINE,
    REPORT,
    SCORE,
    TRAIN,
    VALIDATE_RAW,
    RunOptions,
    run_stage,
)
from botdetect.session import get_spark
from botdetect.table_catalog import ACCOUNT_FEATURES, SPLITS, Table
from botdetect.table_catalog import LABELS as LABELS_TABLE
from botdetect.train import evaluate as ev
from botdetect.train.dataset import DEVELOPMENT, evaluation_rows, labelled_rows, training_rows
from botdetect.train.models import ForestParams, fit, forest_pipeline
from botdetect.train.stage import TrainResult

if TYPE_CHECKING:
    from sklearn.ensemble import RandomForestClassifier

T = TypeVar("T")
STAGES = (
    "generate",
    "ingest",
    "validate raw",
    "features",
    "validate features",
    "labels",
    "train",
    "score",
    "report",
)
FLAT_BAND = 0.2  # cost per row within +-20% of the largest scale's; driver peak within +20%
DUCKDB_GOAL = 2.0  # the features issue: Spark's tweet partials at most 2x DuckDB
DEFAULT_ACCOUNTS = "25000,250000,1150000"
# --small-world: what lets a world of a few thousand accounts train and be judged (enough
# labelled botnets in every split; the end-to-end test's world does the same).
SMALL_WORLD = [
    "generate.prevalence=0.15",
    "generate.botnet_size=5",
    "generate.nat_group_size=60",
    "generate.partitions=2",
    "generate.false_label_rate=0.001",
    *[f"generate.label_coverage.{kind}=0.9" for kind in BOT_KINDS],
    "labels.random_negative_rate=1.0",
    "train.negative_sample_rate=0.25",  # trains on as many negatives as a half sample did
    "train.fractions=[0.5,0.25,0.25]",
    "train.min_positives=5",
    "train.forest.num_trees=[20]",
    "train.forest.max_depth=[4,6]",
]


# --- memory -----------------------------------------------------------------------------


def retried(fn: Callable[[], T], attempts: int = 20) -> T:
    """`fn` again when a thread or process exits while /proc is walked (FileNotFoundError)."""
    for _ in range(attempts - 1):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            return fn()
    return fn()


def process_tree() -> list[int]:
    """This process and all its descendants (the JVM and its Python workers)."""
    return [os.getpid(), *retried(lambda: _children(os.getpid()))]


def reset_peaks() -> None:
    """Set every process's VmHWM back to its current RSS (Linux: "5" > clear_refs)."""
    for pid in process_tree():
        with contextlib.suppress(OSError):  # exited since it was listed
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def read_peaks() -> dict[str, Any]:
    """Peak RSS since the last reset: driver, JVM, the whole tree, and per process."""
    peaks = retried(peak_rss_mib)
    own = f":{os.getpid()}"
    return {
        "driver_peak_mib": round(sum(v for k, v in peaks.items() if k.endswith(own)), 1),
        "jvm_peak_mib": round(sum(v for k, v in peaks.items() if k.startswith("java:")), 1),
        "tree_peak_mib": round(sum(peaks.values()), 1),
        "processes_mib": {k: round(v, 1) for k, v in peaks.items()},
    }


@dataclasses.dataclass(frozen=True)
class Measured:
    seconds: float
    memory: dict[str, Any]


def measured(fn: Callable[[], T]) -> tuple[T, Measured]:
    """Run `fn` with the tree's peaks reset first; wall seconds and peaks after."""
    reset_peaks()
    start = time.monotonic()
    result = fn()
    seconds = time.monotonic() - start
    return result, Measured(seconds, read_peaks())


# --- one scale: the stages ----------------------------------------------------------------


def stage_row(
    name: str, what: str, rows: int, m: Measured, **detail: float | None
) -> dict[str, Any]:
    log = logging.getLogger("bench")
    log.info("bench %s: %d rows (%s) in %.1fs", name, rows, what, m.seconds)
    return {
        "stage": name,
        "input": what,
        "input_rows": rows,
        "seconds": round(m.seconds, 2),
        "rows_per_s": round(rows / m.seconds) if m.seconds > 0 else None,
        **detail,
        **m.memory,
    }


@dataclasses.dataclass
class World:
    """What later steps need from the stages of one scale."""

    tweets: int = 0
    raw_rows: int = 0
    accounts: int = 0
    train: TrainResult | None = None
    score_seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class Forests:
    """What the scoring peer needs from the training peer."""

    sklearn: RandomForestClassifier
    columns: list[str]
    served: registry.ServedModel  # the MLlib model the train stage registered


# What each stage's row counts as its input (the unit of its rows/s), by stage name.
INPUTS: dict[str, str] = {
    "generate": "rows written, six exports",
    "ingest": "rows read, six exports",
    "validate raw": "raw rows, six tables",
    "features": "raw rows, six tables",
    "validate features": "account_features rows",
    "labels": "account_features rows",
    "train": "labelled accounts",
    "score": "accounts scored",
    "report": "accounts scored",
}


def run_stages(spark: SparkSession, cfg: Config, rows: list[dict[str, Any]]) -> World:
    """`pipeline.PIPELINE` in its order, through `run_stage` as `botdetect pipeline` runs it
    on a new world (full ingest and refresh, training always); one row per finished stage."""
    world = World()
    opts = RunOptions(full_ingest=True, full_refresh=True)
    for stage in PIPELINE:
        stage_cfg = stage.config(cfg)
        result, m = measured(lambda s=stage, c=stage_cfg: run_stage(spark, c, s, opts))
        extra: dict[str, Any] = {}
        if stage is GENERATE:
            count = sum(result.rows.values())
        elif stage is INGEST:
            world.tweets = next(r.read for r in result if r.table == "tweets")
            world.raw_rows = sum(r.written for r in result)
            count = sum(r.read for r in result)
        elif stage is FEATURES:
            world.accounts = result.accounts
            extra = {k: getattr(result, k, None) for k in ("partials_seconds", "rollup_seconds")}
            count = world.raw_rows
        elif stage is LABELS:
            labelled = sum(result.counts.values())
            count = world.accounts
        elif stage is TRAIN:
            world.train = result
            count = labelled
        elif stage is SCORE:
            world.score_seconds = m.seconds
            scored = result.accounts
            count = scored
        elif stage is REPORT:
            count = scored
        else:  # the gates: the rows they check
            count = world.raw_rows if stage is VALIDATE_RAW else world.accounts
        rows.append(stage_row(stage.name, INPUTS[stage.name], count, m, **extra))
    return world


# --- one scale: the peers -----------------------------------------------------------------


def features_peer(spark: SparkSession, cfg: Config) -> dict[str, Any]:
    """Spark's tweet partials against DuckDB's on the tweets export (bench_features.py)."""
    landing = f"{cfg.storage.landing_root.rstrip('/')}/tweets"
    try:
        (spark_s, duck_s), m = measured(
            lambda: compare_engines(spark, landing, cfg.features, cfg.spark.driver_memory)
        )
    except SystemExit as exc:  # the engines disagree: keep the stages' numbers
        return {"error": str(exc)}
    return {
        "spark_tweet_partials_s": round(spark_s, 2),
        "duckdb_s": round(duck_s, 2),
        "spark_over_duckdb": round(spark_s / duck_s, 2),
        "driver_peak_mib": m.memory["driver_peak_mib"],
    }


def date_rows(spark: SparkSession, cfg: Config, table: Table) -> DataFrame:
    """One table's rows for the run date."""
    df = read_table(spark, table.ref(cfg.storage))
    return df.where(F.col("as_of_date") == F.lit(cfg.run_date()))


def feature_matrix(
    df: DataFrame, columns: Sequence[str], null_fill: float, keep: Sequence[str]
) -> DataFrame:
    """`keep` plus the features as doubles with nulls filled, as the model pipeline does."""
    filled = [F.coalesce(F.col(c).cast("double"), F.lit(null_fill)).alias(c) for c in columns]
    return df.select(*keep, *filled)


def sklearn_max_features(strategy: str) -> str | float | int | None:
    """MLlib's featureSubsetStrategy as scikit-learn's max_features."""
    named = {"auto": "sqrt", "sqrt": "sqrt", "log2": "log2", "all": None, "onethird": 1 / 3}
    if strategy in named:
        return named[strategy]
    value = float(strategy)
    return value if value <= 1 else int(value)


def chosen_forest(
    cfg: Config, trained: TrainResult
) -> tuple[ForestParams, list[str], registry.ServedModel]:
    """The grid point the train stage chose, its feature columns and its registry entry."""
    import mlflow

    registry.setup_mlflow(cfg)
    params = mlflow.get_run(trained.run_id).data.params
    chosen = ForestParams(
        num_trees=int(params["forest_num_trees"]),
        max_depth=int(params["forest_max_depth"]),
        min_instances_per_node=int(params["forest_min_instances_per_node"]),
    )
    served = registry.find_model(cfg, version=trained.model_version)
    return chosen, served.feature_columns, served


def pr_auc(points: list[ev.Point]) -> float | None:
    value = ev.average_precision(points)
    return None if value is None else round(value, 4)


def mllib_forest(
    train_df: DataFrame, test_df: DataFrame, cfg: Config, params: ForestParams, columns: list[str]
) -> dict:
    """Fit the chosen forest again on the training rows (timed); PR-AUC on the test rows."""
    tcfg = cfg.train
    pipeline = forest_pipeline(columns, params, tcfg.forest, tcfg.null_fill, tcfg.seed)
    model, m = measured(lambda: fit(pipeline, train_df))
    return {
        "fit_s": round(m.seconds, 2),
        "test_pr_auc": pr_auc(
            ev.curve(
                ev.score_histogram(score(model, test_df, ["label", "w"]), tcfg.score_bins),
                tcfg.score_bins,
            )
        ),
        "driver_peak_mib": m.memory["driver_peak_mib"],
    }


def sklearn_forest(
    spark: SparkSession,
    train_df: DataFrame,
    test_df: DataFrame,
    cfg: Config,
    params: ForestParams,
    columns: list[str],
) -> tuple[dict[str, Any], RandomForestClassifier]:
    """The same forest in scikit-learn on the collected rows; PR-AUC the same way."""
    from sklearn.ensemble import RandomForestClassifier

    tcfg = cfg.train
    fill = tcfg.null_fill
    train_pd, collect = measured(
        lambda: feature_matrix(train_df, columns, fill, ["label", "weight"]).toPandas()
    )
    forest = RandomForestClassifier(
        n_estimators=params.num_trees,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_instances_per_node,
        max_features=sklearn_max_features(tcfg.forest.feature_subset_strategy),
        bootstrap=True,
        n_jobs=os.cpu_count(),
        random_state=tcfg.seed,
    )
    x, y, w = train_pd[columns].to_numpy(), train_pd["label"].to_numpy(), train_pd["weight"]
    _, fitted = measured(lambda: forest.fit(x, y, sample_weight=w.to_numpy()))
    test_pd = feature_matrix(test_df, columns, fill, ["label", "w"]).toPandas()
    scores = forest.predict_proba(test_pd[columns].to_numpy())[:, 1]
    scored = spark.createDataFrame(test_pd[["label", "w"]].assign(score=scores))
    points = ev.curve(ev.score_histogram(scored, tcfg.score_bins), tcfg.score_bins)
    return {
        "collect_s": round(collect.seconds, 2),
        "fit_s": round(fitted.seconds, 2),
        "test_pr_auc": pr_auc(points),
        "driver_peak_mib": max(collect.memory["driver_peak_mib"], fitted.memory["driver_peak_mib"]),
    }, forest


def training_peer(spark: SparkSession, cfg: Config, world: World) -> tuple[dict[str, Any], Forests]:
    """MLlib against scikit-learn on the train stage's own training and test rows."""
    cfg = training_config(cfg)
    tcfg = cfg.train
    params, columns, served = chosen_forest(cfg, world.train)
    features_df = date_rows(spark, cfg, ACCOUNT_FEATURES)
    labels_df = date_rows(spark, cfg, LABELS_TABLE)
    splits_df = read_table(spark, SPLITS.ref(cfg.storage))
    labelled = labelled_rows(features_df, labels_df, splits_df).persist()
    train_df = training_rows(
        labelled.where(F.col("split").isin(*DEVELOPMENT)),
        tcfg.negative_sample_rate,
        tcfg.seed,
        cfg.labels.use_expanded,
    )
    train_df = train_df.persist()
    try:
        test_df = evaluation_rows(labelled, ("test",))
        out = {
            "params": params.as_dict(),
            "n_features": len(columns),
            "train_rows": train_df.count(),
            "test_rows": test_df.count(),
            "train_stage_test_pr_auc": world.train.metrics.get("test_pr_auc"),
            "mllib": mllib_forest(train_df, test_df, cfg, params, columns),
        }
        out["sklearn"], forest = sklearn_forest(spark, train_df, test_df, cfg, params, columns)
    finally:
        train_df.unpersist()
        labelled.unpersist()
    return out, Forests(forest, columns, served)


def scoring_peer(
    spark: SparkSession, cfg: Config, world: World, forests: Forests
) -> dict[str, Any]:
    """Accounts/s: the score stage, the bare MLlib model, scikit-learn on collected rows."""
    import mlflow

    columns = forests.columns
    features_df = date_rows(spark, cfg, ACCOUNT_FEATURES)
    model = mlflow.spark.load_model(forests.served.uri)
    noop = score(model, features_df, ["account_id"]).write.format("noop").mode("overwrite")
    _, mllib = measured(noop.save)
    frame, collect = measured(
        lambda: feature_matrix(features_df, columns, cfg.train.null_fill, []).toPandas()
    )
    _, predict = measured(lambda: forests.sklearn.predict_proba(frame[columns].to_numpy()))
    n = world.accounts
    return {
        "accounts": n,
        "score_stage_accounts_per_s": round(n / world.score_seconds),
        "mllib_transform_accounts_per_s": round(n / mllib.seconds),
        "sklearn_predict_accounts_per_s": round(n / predict.seconds),
        "sklearn_collect_s": round(collect.seconds, 2),
        "sklearn_with_collect_accounts_per_s": round(n / (collect.seconds + predict.seconds)),
        "driver_peak_mib": collect.memory["driver_peak_mib"],
    }


def run_peers(spark: SparkSession, cfg: Config, world: World) -> dict[str, Any]:
    """All three peers; one failing is recorded and does not stop the others."""
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")  # for toPandas
    peers: dict[str, Any] = {}
    try:
        peers["features"] = features_peer(spark, cfg)
    except Exception as exc:  # e.g. DuckDB out of memory: the other peers still run
        logging.getLogger("bench").exception("bench: features peer failed")
        peers["features"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        peers["train"], forests = training_peer(spark, cfg, world)
        peers["score"] = scoring_peer(spark, cfg, world, forests)
    except Exception as exc:
        logging.getLogger("bench").exception("bench: training/scoring peer failed")
        peers["error"] = f"{type(exc).__name__}: {exc}"
    return peers


def run_scale(args: argparse.Namespace, accounts: int) -> int:
    """The child process: one world through every stage, then the peers; writes its JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = scale_root(args, accounts)
    overrides = [
        f"storage.root={root}",
        f"generate.accounts={accounts}",
        f"generate.days={args.days}",
        *args.overrides,
    ]
    cfg = load_config(args.conf, overrides)
    spark = get_spark(cfg.spark)
    out: dict[str, Any] = {"accounts": accounts, "stages": [], "error": None}
    out |= {"code": code_version(), "date": time.strftime("%Y-%m-%d")}
    start = time.monotonic()
    try:
        world = run_stages(spark, cfg, out["stages"])
        out |= {"tweets": world.tweets, "raw_rows": world.raw_rows, "scored": world.accounts}
        out["peers"] = {} if args.no_peers else run_peers(spark, cfg, world)
    except Exception as exc:
        logging.getLogger("bench").exception("bench: scale %d failed", accounts)
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["wall_seconds"] = round(time.monotonic() - start, 1)
    out["spark"] = spark.version
    scale_json(args, accounts).write_text(json.dumps(out, indent=2))
    return 0 if out["error"] is None else 1


# --- the parent: scales, analysis, table, plot -----------------------------------------------


def scale_root(args: argparse.Namespace, accounts: int) -> Path:
    return Path(args.root) / str(accounts)


def scale_json(args: argparse.Namespace, accounts: int) -> Path:
    return Path(args.root) / f"result_{accounts}.json"


def child_command(args: argparse.Namespace, accounts: int) -> list[str]:
    cmd = [sys.executable, __file__, "--scale-worker", "--accounts", str(accounts)]
    cmd += ["--days", str(args.days), "--root", args.root, "--conf", args.conf]
    for item in args.overrides:
        cmd += ["--set", item]
    return cmd + (["--no-peers"] if args.no_peers else [])


def measure_scale(args: argparse.Namespace, accounts: int) -> dict[str, Any]:
    """Run one scale in a fresh process; its JSON, or the failure if it wrote none."""
    shutil.rmtree(scale_root(args, accounts), ignore_errors=True)
    scale_json(args, accounts).unlink(missing_ok=True)
    print(f"\n=== scale: {accounts:,} accounts x {args.days} days ===", flush=True)
    code = subprocess.run(child_command(args, accounts), check=False).returncode
    path = scale_json(args, accounts)
    if path.exists():
        result = json.loads(path.read_text())
    else:
        result = {"accounts": accounts, "stages": [], "error": f"worker exited with {code}"}
    if not args.keep_data:
        shutil.rmtree(scale_root(args, accounts), ignore_errors=True)
    return result


def by_stage(runs: list[dict[str, Any]]) -> dict[str, list[tuple[dict, dict]]]:
    """stage -> [(run, stage row)] over the runs that finished it, smallest scale first."""
    out: dict[str, list[tuple[dict, dict]]] = {s: [] for s in STAGES}
    for run in sorted(runs, key=lambda r: r["accounts"]):
        for row in run["stages"]:
            out[row["stage"]].append((run, row))
    return out


def cost_vs_largest(points: list[tuple[dict, dict]]) -> list[float]:
    """Seconds per input row at each scale over that at the largest scale."""
    costs = [row["seconds"] / max(row["input_rows"], 1) for _, row in points]
    largest = costs[-1] or 1e-12
    return [round(c / largest, 3) for c in costs]


def driver_trend(points: list[tuple[dict, dict]]) -> dict[str, Any]:
    """Driver peak from the smallest scale to the largest: growth, and MiB per M tweet rows
    (the scale's size, the same unit for every stage)."""
    (small_run, small), (large_run, large) = points[0], points[-1]
    extra_tweets = (large_run.get("tweets", 0) - small_run.get("tweets", 0)) / 1e6
    grown = large["driver_peak_mib"] - small["driver_peak_mib"]
    return {
        "smallest_mib": small["driver_peak_mib"],
        "largest_mib": large["driver_peak_mib"],
        "growth": round(large["driver_peak_mib"] / small["driver_peak_mib"] - 1, 3),
        "mib_per_million_tweets": round(grown / extra_tweets, 1) if extra_tweets > 0 else None,
    }


def analyse(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-stage cost ratios and driver trends, and which goals hold."""
    stages = {s: p for s, p in by_stage(runs).items() if p}
    cost = {s: cost_vs_largest(p) for s, p in stages.items()}
    everywhere = {s: len(p) == len(runs) for s, p in stages.items()}  # no failed scale
    cost_flat = {
        s: everywhere[s] and all(abs(r - 1) <= FLAT_BAND for r in rs) for s, rs in cost.items()
    }
    # Linear or better: no scale costs more per row than the one below it (beyond the band).
    # Cost per row falling with scale is fixed costs amortising; rising would not scale.
    never_grows = {
        s: everywhere[s] and all(b <= a * (1 + FLAT_BAND) for a, b in itertools.pairwise(rs))
        for s, rs in cost.items()
    }
    driver = {s: driver_trend(p) for s, p in stages.items()}
    driver_flat = {s: everywhere[s] and d["growth"] <= FLAT_BAND for s, d in driver.items()}
    peers = [r.get("peers") or {} for r in runs]
    # The goal is judged at the largest scale only: None if its peer did not finish.
    largest_ratio = peers[-1].get("features", {}).get("spark_over_duckdb") if peers else None
    complete = [r for r in runs if r["error"] is None]
    return {
        "scale_count": len(runs),
        "cost_vs_largest": cost,
        "driver_peak_trend": driver,
        "goals": {
            "all_scales_completed": len(complete) == len(runs),
            "cost_per_row_flat_within_20pct": {"holds": all(cost_flat.values()), **cost_flat},
            "cost_per_row_never_grows_with_scale": {
                "holds": all(never_grows.values()),
                **never_grows,
            },
            "driver_peak_flat_within_20pct": {"holds": all(driver_flat.values()), **driver_flat},
            "features_spark_at_most_2x_duckdb": {
                "holds": largest_ratio is not None and largest_ratio <= DUCKDB_GOAL,
                "spark_over_duckdb_at_largest": largest_ratio,
            },
        },
    }


def verdict(holds: bool) -> str:
    return "met" if holds else "NOT MET"


def print_stages(runs: list[dict[str, Any]], analysis: dict[str, Any]) -> None:
    head = ("stage", "accounts", "input rows", "seconds", "rows/s", "cost/row", "driver", "tree")
    print("\n{:<18} {:>10} {:>13} {:>9} {:>11} {:>9} {:>8} {:>8}".format(*head))
    print(f"{'':<18} {'':>10} {'':>13} {'':>9} {'':>11} {'÷largest':>9} {'MiB':>8} {'MiB':>8}")
    for stage, points in by_stage(runs).items():
        ratios = analysis["cost_vs_largest"].get(stage, [])
        for (run, row), ratio in zip(points, ratios, strict=True):
            print(
                f"{stage:<18} {run['accounts']:>10,} {row['input_rows']:>13,} "
                f"{row['seconds']:>9.1f} {row['rows_per_s'] or 0:>11,} {ratio:>8.2f}x "
                f"{row['driver_peak_mib']:>8.0f} {row['tree_peak_mib']:>8.0f}"
            )


def print_peers(runs: list[dict[str, Any]]) -> None:
    print(
        f"\n{'accounts':>10} {'tweets':>12} | {'partials s':>10} {'duckdb s':>8} {'ratio':>6} | "
        f"{'fit s mllib':>11} {'sklearn':>7} {'PR-AUC mllib':>12} {'sklearn':>7} | "
        f"{'acc/s stage':>11} {'mllib':>9} {'sklearn':>9}"
    )
    for run in runs:
        peers = run.get("peers") or {}
        f, t, s = peers.get("features", {}), peers.get("train", {}), peers.get("score", {})
        m, k = t.get("mllib", {}), t.get("sklearn", {})
        print(
            f"{run['accounts']:>10,} {run.get('tweets', 0):>12,} | "
            f"{f.get('spark_tweet_partials_s', '-'):>10} {f.get('duckdb_s', '-'):>8} "
            f"{f.get('spark_over_duckdb', '-'):>6} | {m.get('fit_s', '-'):>11} "
            f"{k.get('fit_s', '-'):>7} {m.get('test_pr_auc', '-'):>12} "
            f"{k.get('test_pr_auc', '-'):>7} | {s.get('score_stage_accounts_per_s', '-'):>11} "
            f"{s.get('mllib_transform_accounts_per_s', '-'):>9} "
            f"{s.get('sklearn_predict_accounts_per_s', '-'):>9}"
        )
        for problem in (run.get("error"), peers.get("error"), f.get("error")):
            if problem:
                print(f"{'':>10} error: {problem}")


def print_goals(analysis: dict[str, Any]) -> None:
    goals = analysis["goals"]
    print(f"\ngoal: every scale completed: {verdict(goals['all_scales_completed'])}")
    cost = goals["cost_per_row_flat_within_20pct"]
    print(f"goal: cost per row within ±20% of the largest scale: {verdict(cost['holds'])}")
    for stage, ratios in analysis["cost_vs_largest"].items():
        shown = ", ".join(f"{r:.2f}x" for r in ratios)
        if len(ratios) < analysis["scale_count"]:
            shown += f" ({len(ratios)} of {analysis['scale_count']} scales)"
        print(f"  {stage:<18} {shown:<30} {verdict(cost[stage])}")
    grows = goals["cost_per_row_never_grows_with_scale"]
    print(f"goal: no stage's cost per row grows with scale (>20%): {verdict(grows['holds'])}")
    for stage in analysis["cost_vs_largest"]:
        print(f"  {stage:<18} {verdict(grows[stage])}")
    driver = goals["driver_peak_flat_within_20pct"]
    print(f"goal: driver peak grows at most 20% smallest -> largest: {verdict(driver['holds'])}")
    for stage, d in analysis["driver_peak_trend"].items():
        slope = d["mib_per_million_tweets"]
        print(
            f"  {stage:<18} {d['smallest_mib']:>7.0f} -> {d['largest_mib']:>7.0f} MiB "
            f"({d['growth']:+.0%}, {'-' if slope is None else slope} MiB per M tweets) "
            f"{verdict(driver[stage])}"
        )
    duck = goals["features_spark_at_most_2x_duckdb"]
    ratio = duck["spark_over_duckdb_at_largest"]
    print(
        f"goal: Spark tweet partials at most {DUCKDB_GOAL:g}x DuckDB (largest scale: "
        f"{'not measured' if ratio is None else f'{ratio}x'}): {verdict(duck['holds'])}"
    )


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Seconds per stage against input rows (log-log), and peak memory against tweets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    for stage, points in by_stage(runs).items():
        if points:
            xs = [row["input_rows"] for _, row in points]
            left.plot(xs, [row["seconds"] for _, row in points], marker="o", label=stage)
    left.set(xscale="log", yscale="log", xlabel="input rows", ylabel="seconds")
    left.set_title("seconds per stage")
    left.legend(fontsize=8)
    done = [r for r in sorted(runs, key=lambda r: r["accounts"]) if r["stages"] and "tweets" in r]
    tweets = [r["tweets"] for r in done]
    for key, label in (("driver_peak_mib", "Python driver"), ("tree_peak_mib", "process tree")):
        right.plot(
            tweets, [max(s[key] for s in r["stages"]) for r in done], marker="o", label=label
        )
    right.set(xscale="log", xlabel="tweet rows", ylabel="MiB (max over stages)")
    right.set_title("peak memory")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    analysis = analyse(runs)
    report = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "command": " ".join(sys.argv),
        "days": args.days,
        "scales": [r["accounts"] for r in runs],
        "overrides": args.overrides,
        "runs": runs,
        **analysis,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    plot(runs, out.with_suffix(".png"))
    return analysis


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accounts",
        default=DEFAULT_ACCOUNTS,
        help=f"comma-separated world sizes in accounts (default {DEFAULT_ACCOUNTS}); "
        '"" with --with: only analyse the earlier results',
    )
    parser.add_argument("--days", type=int, default=28, help="days of activity per world")
    parser.add_argument("--root", default="/tmp/botdetect-bench-pipeline", help="scratch space")
    parser.add_argument("--conf", default="local", help="environment or YAML (as the CLI)")
    add_set_option(parser, "configuration override passed to every scale (repeatable)")
    parser.add_argument(
        "--out", default=str(RESULTS / "pipeline"), help="writes OUT.json and OUT.png"
    )
    parser.add_argument(
        "--small-world",
        action="store_true",
        help="overrides that let worlds of a few thousand accounts train (before --set)",
    )
    parser.add_argument("--no-peers", action="store_true", help="stages only")
    parser.add_argument("--keep-data", action="store_true", help="keep each scale's tables")
    parser.add_argument(
        "--with",
        dest="earlier",
        action="append",
        default=[],
        metavar="JSON",
        help="an earlier result whose other scales join the analysis (repeatable): "
        "the largest scale can run in a session of its own",
    )
    parser.add_argument("--scale-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.scales = sorted(int(a) for a in args.accounts.split(",") if a.strip())
    if not args.scales and not args.earlier:
        parser.error("--accounts is empty: give --with files to analyse")
    if args.small_world:  # the children get the overrides themselves
        args.overrides = [*SMALL_WORLD, *args.overrides]
    return args


def earlier_runs(paths: Sequence[str], exclude: Sequence[int]) -> list[dict[str, Any]]:
    """The runs of earlier result files, minus the scales this invocation measures again."""
    found: dict[int, dict[str, Any]] = {}
    for path in paths:
        for run in json.loads(Path(path).read_text())["runs"]:
            if run["accounts"] not in exclude:
                found[run["accounts"]] = run  # a later file wins
    return list(found.values())


def main() -> None:
    args = parse_args()
    if args.scale_worker:
        sys.exit(run_scale(args, args.scales[0]))
    Path(args.root).mkdir(parents=True, exist_ok=True)
    earlier = earlier_runs(args.earlier, exclude=args.scales)
    runs: list[dict[str, Any]] = []
    start = time.monotonic()
    merged = sorted(earlier, key=lambda r: r["accounts"])
    if not args.scales:  # --accounts "": only the analysis of the --with files
        analysis = write_outputs(args, merged)
    for accounts in args.scales:
        runs.append(measure_scale(args, accounts))
        merged = sorted([*earlier, *runs], key=lambda r: r["accounts"])
        analysis = write_outputs(args, merged)  # after every scale: a later crash keeps these
    print_stages(merged, analysis)
    print_peers(merged)
    print_goals(analysis)
    print(f"\n{time.monotonic() - start:.0f} s in all; {Path(args.out).with_suffix('.json')}")


if __name__ == "__main__":
    main()
