"""`botdetect train --as-of-date D`: fit, choose thresholds, confirm, log and register.

1. Labelled rows of D (`account_features` joined with `labels`), split by botnet component.
2. A random-forest grid fitted on train, each candidate judged on validation by recall at
   the block threshold (precision >= train.block_precision at the true prevalence), then
   average precision. A logistic-regression baseline is fitted and judged the same way.
3. The block and review thresholds of the chosen forest come from validation; test
   confirms them with 95% Wilson intervals.
4. Against the generator's ground truth, when the world is synthetic: every account of
   the test components is scored, and recall by bot kind, false-positive rates of benign
   automation, new and verified accounts, and the share of botnets caught are logged.
5. MLflow: params, metrics, plots, feature list, signature, input Delta versions; the
   model is registered with the alias `challenger`, and `champion` moves only if the
   challenger beats it on the same test accounts (see `registry.decide_promotion`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.features.catalog import feature_columns
from botdetect.generate.stage import TRUTH_LAYER
from botdetect.io.tables import read_table, table_exists, table_ref, table_version
from botdetect.quality.stage import require_gate
from botdetect.train import evaluate as ev
from botdetect.train import registry
from botdetect.train.dataset import (
    TrainingDataError,
    check_classes,
    evaluation_rows,
    labelled_rows,
    split_of,
    training_rows,
)
from botdetect.train.models import (
    ForestParams,
    feature_importances,
    fit,
    forest_grid,
    forest_pipeline,
    logistic_pipeline,
    score,
)
from botdetect.train.plots import importance_png, pr_curve_png

log = logging.getLogger(__name__)

NEW_ACCOUNT_DAYS = 7


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A fitted model judged on validation."""

    model: PipelineModel
    points: list[ev.Point]
    block: float | None
    review: float | None

    @property
    def objective(self) -> tuple[float, float]:
        """(recall at the block threshold, average precision): larger is better."""
        point = ev.at_threshold(self.points, self.block)
        recall = point.recall if point is not None and point.recall is not None else 0.0
        return recall, ev.average_precision(self.points) or 0.0


@dataclasses.dataclass(frozen=True)
class TrainResult:
    as_of_date: dt.date
    run_id: str
    model_name: str
    model_version: str
    promoted: bool
    reason: str
    block_threshold: float | None
    review_threshold: float | None
    metrics: dict[str, float]


def no_rows_message(
    features: str, has_features: bool, labels: str, has_labels: bool, as_of: dt.date
) -> str:
    """Why no labelled feature row exists for the date, naming the table to fix."""
    if not has_features:
        return (
            f"table {features} has no rows for {as_of} (no accounts, or features were not "
            f"computed for that date); run `botdetect features --as-of-date {as_of}`"
        )
    if not has_labels:
        return (
            f"table {labels} has no rows for {as_of} (no labelled accounts, or labels were not "
            "written for that date); run `botdetect labels` for that date"
        )
    return f"tables {features} and {labels} share no account for {as_of}"


def model_curve(model: PipelineModel, eval_df: DataFrame, bins: int) -> list[ev.Point]:
    """The weighted curve of a model on an evaluation split (label, w)."""
    return ev.curve(ev.score_histogram(score(model, eval_df, ["label", "w"]), bins), bins)


def judge(model: PipelineModel, eval_df: DataFrame, cfg: Config) -> Candidate:
    """Score a split, build its curve and pick both thresholds on it."""
    tcfg = cfg.train
    points = model_curve(model, eval_df, tcfg.score_bins)
    block = ev.lowest_threshold(points, tcfg.block_precision)
    review = ev.lowest_threshold(points, tcfg.review_precision)
    return Candidate(model, points, block, review)


def curve_metrics(points: list[ev.Point], prefix: str) -> dict[str, float]:
    out = {}
    for name, value in (("pr_auc", ev.average_precision(points)), ("roc_auc", ev.roc_auc(points))):
        if value is not None:
            out[f"{prefix}_{name}"] = value
    return out


def threshold_metrics(
    scored_df: DataFrame, by: Column, thresholds: Mapping[str, float | None], prefix: str
) -> dict[str, float]:
    """Weighted recall, precision and false-positive rate per slice value and threshold.

    `scored_df` has score, label and w. One aggregation; one row per slice value returns.
    """
    is_pos = F.col("label") == 1
    aggs = [
        F.sum(F.when(is_pos, F.col("w")).otherwise(0.0)).alias("pos"),
        F.sum(F.when(is_pos, 0.0).otherwise(F.col("w"))).alias("neg"),
    ]
    usable = {k: v for k, v in thresholds.items() if v is not None}
    for name, t in usable.items():
        flagged = F.col("score") >= t
        aggs.append(F.sum(F.when(flagged & is_pos, F.col("w")).otherwise(0.0)).alias(f"tp_{name}"))
        aggs.append(F.sum(F.when(flagged & ~is_pos, F.col("w")).otherwise(0.0)).alias(f"fp_{name}"))
    out: dict[str, float] = {}
    for row in scored_df.groupBy(by.alias("slice")).agg(*aggs).collect():
        key = f"{prefix}_{row['slice']}"
        out[f"{key}_positives"] = row["pos"]
        out[f"{key}_negatives"] = row["neg"]
        for name in usable:
            tp, fp = row[f"tp_{name}"], row[f"fp_{name}"]
            if row["pos"] > 0:
                out[f"{key}_{name}_recall"] = tp / row["pos"]
            if row["neg"] > 0:
                out[f"{key}_{name}_fpr"] = fp / row["neg"]
            if tp + fp > 0:
                out[f"{key}_{name}_precision"] = tp / (tp + fp)
    return out


def truth_metrics(
    model: PipelineModel,
    test_accounts_df: DataFrame,
    truth_df: DataFrame,
    thresholds: Mapping[str, float | None],
) -> dict[str, float]:
    """Against the generator's truth, on every account of the test components."""
    scored = score(model, test_accounts_df, ["account_id", "account_age_days", "is_verified"]).join(
        truth_df, "account_id", "inner"
    )
    scored = (
        scored.withColumn("label", F.col("is_spam_bot").cast("int"))
        .withColumn("w", F.lit(1.0))
        .persist()
    )
    try:
        out = threshold_metrics(scored, F.lit("all"), thresholds, "truth")
        out |= threshold_metrics(scored, F.col("bot_kind"), thresholds, "truth_kind")
        new = F.when(F.col("account_age_days") < NEW_ACCOUNT_DAYS, "new").otherwise("older")
        out |= threshold_metrics(scored, new, thresholds, "truth_age")
        verified = F.when(F.col("is_verified") > 0, "verified").otherwise("unverified")
        out |= threshold_metrics(scored, verified, thresholds, "truth_status")
        for name, t in thresholds.items():
            if t is None:
                continue
            caught = (
                scored.where(F.col("botnet_id").isNotNull())
                .groupBy("botnet_id")
                .agg(F.max((F.col("score") >= t).cast("int")).alias("caught"))
                .agg(F.avg("caught").alias("share"), F.count("*").alias("n"))
                .first()
            )
            if caught["n"]:
                out[f"truth_botnets_caught_{name}"] = caught["share"]
                out["truth_botnets"] = float(caught["n"])
    finally:
        scored.unpersist()
    return out


def _ops_slices(
    model: PipelineModel, test_df: DataFrame, thresholds: Mapping[str, float | None]
) -> dict[str, float]:
    scored = score(model, test_df, ["label", "w", "account_age_days", "is_verified"])
    new = F.when(F.col("account_age_days") < NEW_ACCOUNT_DAYS, "new").otherwise("older")
    verified = F.when(F.col("is_verified") > 0, "verified").otherwise("unverified")
    return threshold_metrics(scored, new, thresholds, "test_age") | threshold_metrics(
        scored, verified, thresholds, "test_status"
    )


def _champion_point(
    cfg: Config, test_df: DataFrame
) -> tuple[registry.ServedModel | None, tuple[float, float] | None]:
    """The current champion and its (recall, precision) at its block threshold on `test_df`."""
    import mlflow

    try:
        champion = registry.find_model(cfg, registry.CHAMPION)
    except registry.ModelNotFoundError:
        return None, None
    try:
        model = mlflow.spark.load_model(champion.uri)
        points = model_curve(model, test_df, cfg.train.score_bins)
    except Exception as exc:  # an old champion that cannot score today's features
        log.warning("train: champion v%s cannot score this test set: %s", champion.version, exc)
        return champion, None
    point = ev.at_threshold(points, champion.block_threshold)
    if point is None or point.recall is None or point.precision is None:
        return champion, None
    return champion, (point.recall, point.precision)


def run_train(spark: SparkSession, cfg: Config, *, force: bool = False) -> TrainResult:
    import mlflow

    as_of = cfg.run_date()
    require_gate(spark, cfg, "features", as_of, force=force, consumer="train")
    tcfg = cfg.train
    features_ref = table_ref(cfg.storage, "features", "account_features")
    labels_ref = table_ref(cfg.storage, "labels", "labels")
    columns = feature_columns(sorted(cfg.features.windows))
    features_df = read_table(spark, features_ref).where(F.col("as_of_date") == F.lit(as_of))
    missing = [c for c in columns if c not in features_df.columns]
    if missing:
        raise TrainingDataError(
            f"table {features_ref.label}: columns {missing[:5]} of the feature catalogue are "
            "missing; rerun `botdetect features --full-refresh`"
        )
    labels_df = read_table(spark, labels_ref).where(F.col("as_of_date") == F.lit(as_of))
    labelled = labelled_rows(features_df, labels_df, tcfg.seed, tcfg.fractions).persist()
    train_df = training_rows(
        labelled, tcfg.negative_sample_rate, tcfg.seed, cfg.labels.use_expanded
    ).persist()
    try:
        counts = {
            (r["split"], r["label"]): r["count"]
            for r in labelled.where(F.col("label_source") != "expanded")
            .groupBy("split", "label")
            .count()
            .collect()
        }
        if not counts:
            raise TrainingDataError(
                no_rows_message(
                    features_ref.label,
                    features_df.limit(1).count() > 0,
                    labels_ref.label,
                    labels_df.limit(1).count() > 0,
                    as_of,
                )
            )
        check_classes(counts, tcfg.min_positives)
        validation_df = evaluation_rows(labelled, "validation")
        test_df = evaluation_rows(labelled, "test")
        train_counts = {r["label"]: r["count"] for r in train_df.groupBy("label").count().collect()}
        setup_id = registry.setup_mlflow(cfg)
        log.info(
            "train %s: MLflow experiment %s at %s", as_of, setup_id, registry.tracking_uri(cfg)
        )
        with mlflow.start_run(run_name=f"train-{as_of}") as run:
            mlflow.set_tags({"stage": "train", "as_of_date": as_of.isoformat(), "env": cfg.env})
            mlflow.log_params(
                {
                    "as_of_date": as_of.isoformat(),
                    "negative_sample_rate": tcfg.negative_sample_rate,
                    "random_negative_rate": cfg.labels.random_negative_rate,
                    "use_expanded": cfg.labels.use_expanded,
                    "fractions": json.dumps(tcfg.fractions),
                    "seed": tcfg.seed,
                    "n_features": len(columns),
                    "null_fill": tcfg.null_fill,
                    "block_precision_target": tcfg.block_precision,
                    "review_precision_target": tcfg.review_precision,
                    "train_positives": train_counts.get(1, 0),
                    "train_negatives": train_counts.get(0, 0),
                    "input_version_account_features": table_version(spark, features_ref),
                    "input_version_labels": table_version(spark, labels_ref),
                    "conf_fingerprint": cfg.fingerprint(),
                }
            )
            best = _search_forest(cfg, columns, train_df, validation_df)
            metrics, tested = _evaluate(
                spark, cfg, best, columns, features_df, test_df, train_df, validation_df
            )
            mlflow.log_metrics(metrics)
            version = _log_model(cfg, best, columns, features_df, as_of)
            champion, champion_point = _champion_point(cfg, test_df)
            point = ev.at_threshold(tested.points, best.block)
            challenger_point = (
                (point.recall, point.precision)
                if point is not None and point.recall is not None and point.precision is not None
                else None
            )
            decision = registry.decide_promotion(
                challenger_point,
                champion_point,
                tcfg.precision_tolerance,
                champion.version if champion else None,
            )
            _apply_aliases(cfg, version, decision)
            mlflow.set_tags(
                {"promoted": str(decision.promote), "promotion_reason": decision.reason}
            )
            log.info("train %s: model v%s; champion: %s", as_of, version, decision.reason)
            return TrainResult(
                as_of_date=as_of,
                run_id=run.info.run_id,
                model_name=cfg.mlflow.model_name,
                model_version=version,
                promoted=decision.promote,
                reason=decision.reason,
                block_threshold=best.block,
                review_threshold=best.review,
                metrics=metrics,
            )
    finally:
        train_df.unpersist()
        labelled.unpersist()


def _search_forest(
    cfg: Config, columns: list[str], train_df: DataFrame, validation_df: DataFrame
) -> Candidate:
    """Fit every grid point on train; keep the best on validation (each is a nested run)."""
    import mlflow

    tcfg = cfg.train
    best: Candidate | None = None
    best_params: ForestParams | None = None
    for params in forest_grid(tcfg.forest):
        pipeline = forest_pipeline(columns, params, tcfg.forest, tcfg.null_fill, tcfg.seed)
        candidate = judge(fit(pipeline, train_df), validation_df, cfg)
        recall, ap = candidate.objective
        with mlflow.start_run(
            run_name=f"forest-{params.num_trees}-{params.max_depth}", nested=True
        ):
            mlflow.log_params(params.as_dict())
            mlflow.log_metrics({"val_recall_at_block": recall, "val_pr_auc": ap})
        log.info("train: forest %s: validation recall@block %.4f, PR-AUC %.4f", params, recall, ap)
        if best is None or candidate.objective > best.objective:
            best, best_params = candidate, params
    assert best is not None and best_params is not None  # the grid is never empty (conf check)
    mlflow.log_params({f"forest_{k}": v for k, v in best_params.as_dict().items()})
    return best


def _evaluate(
    spark: SparkSession,
    cfg: Config,
    best: Candidate,
    columns: list[str],
    features_df: DataFrame,
    test_df: DataFrame,
    train_df: DataFrame,
    validation_df: DataFrame,
) -> tuple[dict[str, float], Candidate]:
    """Validation and test metrics of the forest and the baseline; truth metrics if any."""
    import mlflow

    tcfg = cfg.train
    thresholds = {"block": best.block, "review": best.review}
    tested = judge(best.model, test_df, cfg)
    metrics = curve_metrics(best.points, "val") | curve_metrics(tested.points, "test")
    for name, t in thresholds.items():
        metrics |= ev.summary(best.points, t, f"val_{name}")
        metrics |= ev.summary(tested.points, t, f"test_{name}")
    metrics |= _ops_slices(best.model, test_df, thresholds)

    baseline = fit(logistic_pipeline(columns, tcfg.logistic, tcfg.null_fill), train_df)
    base_val = judge(baseline, validation_df, cfg)
    base_test = judge(baseline, test_df, cfg)
    metrics |= curve_metrics(base_val.points, "lr_val") | curve_metrics(base_test.points, "lr_test")
    metrics |= ev.summary(base_test.points, base_val.block, "lr_test_block")

    truth_ref = table_ref(cfg.storage, TRUTH_LAYER, "ground_truth")
    if table_exists(spark, truth_ref):
        test_accounts = features_df.where(
            split_of(F.col("cluster_id"), tcfg.seed, tcfg.fractions) == "test"
        )
        metrics |= truth_metrics(
            best.model, test_accounts, read_table(spark, truth_ref), thresholds
        )

    importances = feature_importances(best.model, columns)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        pr_curve_png(tested.points, thresholds, out / "pr_curve_test.png", "test (ops labels)")
        pr_curve_png(best.points, thresholds, out / "pr_curve_validation.png", "validation")
        importance_png(importances, out / "feature_importance.png")
        (out / "feature_importances.json").write_text(json.dumps(importances, indent=1))
        (out / "feature_columns.json").write_text(json.dumps(columns, indent=1))
        (out / "thresholds.json").write_text(json.dumps(thresholds, indent=1))
        (out / "test_pr_curve.json").write_text(
            json.dumps(
                [
                    {"threshold": p.threshold, "precision": p.precision, "recall": p.recall}
                    for p in tested.points
                    if p.precision is not None
                ]
            )
        )
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
    return {k: float(v) for k, v in metrics.items()}, tested


def _log_model(
    cfg: Config, best: Candidate, columns: list[str], features_df: DataFrame, as_of: dt.date
) -> str:
    """Log and register the forest; tag the version with what scoring needs."""
    import mlflow
    import pyspark
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    # Doubles: integer columns in a signature cannot carry missing values.
    sample = features_df.select(*[F.col(c).cast("double") for c in columns]).limit(5).toPandas()
    signature = infer_signature(sample, sample.iloc[:, :0].assign(prediction=0.0)["prediction"])
    info = mlflow.spark.log_model(
        best.model,
        artifact_path="model",
        registered_model_name=cfg.mlflow.model_name,
        signature=signature,
        pip_requirements=[f"pyspark=={pyspark.__version__}"],
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    tags = {
        registry.TAG_BLOCK: "none" if best.block is None else repr(best.block),
        registry.TAG_REVIEW: "none" if best.review is None else repr(best.review),
        registry.TAG_AS_OF: as_of.isoformat(),
        registry.TAG_FEATURES: ",".join(columns),
        registry.TAG_RUN: mlflow.active_run().info.run_id,
    }
    for key, value in tags.items():
        client.set_model_version_tag(cfg.mlflow.model_name, version, key, value)
    return version


def _apply_aliases(cfg: Config, version: str, decision: registry.Promotion) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    name = cfg.mlflow.model_name
    client.set_registered_model_alias(name, registry.CHALLENGER, version)
    client.set_model_version_tag(name, version, "promotion", decision.reason)
    if decision.promote:
        client.set_registered_model_alias(name, registry.CHAMPION, version)
