"""`botdetect train --as-of-date D`: one model choice, calibrated, thresholded, confirmed.

1. Labelled rows of D (`account_features`, `labels` and the persisted `labels.splits`).
   The train and validation splits are the development rows; test is held out, and an
   account's split never moves, so no model is ever tested on accounts it trained on.
2. Candidates: every forest grid point and the regularised logistic regression. Each is
   cross-fitted over `train.folds` folds of components of the development rows; an
   isotonic calibrator, fitted on its out-of-fold margins with the sampling weights, maps
   scores to a probability of spam at the population's prevalence; block and review
   thresholds come from a lower confidence bound of precision with botnets as the sampling
   unit (`bootstrap.confident_threshold`).
3. One rule chooses, whatever the family: a block band first, then recall at the block
   threshold, then average precision. Both families' results are logged.
4. The best of each family is refitted on all development rows and confirmed on test; the
   chosen one is registered with its calibrator as the last stage of its pipeline.
5. Against the generator's ground truth, when the world is synthetic: every account of the
   test components, by bot kind, benign automation, new and verified accounts.
6. Promotion (`registry.decide_promotion`): the challenger against the champion on the
   same test accounts, with a paired cluster bootstrap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.regression import IsotonicRegressionModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config
from botdetect.features.catalog import feature_columns
from botdetect.io.tables import read_table, table_exists, table_version
from botdetect.model import registry
from botdetect.model.explain import directions_tag, feature_directions
from botdetect.model.scoring import FOREST, LOGISTIC, family, score
from botdetect.table_catalog import ACCOUNT_FEATURES, GROUND_TRUTH, LABELS
from botdetect.train import evaluate as ev
from botdetect.train.bootstrap import (
    BootstrapCurves,
    confident_threshold,
    min_effective_rows,
    percentile,
    replicate_histograms,
    replicate_sums,
)
from botdetect.train.dataset import (
    DEVELOPMENT,
    TrainingDataError,
    check_classes,
    evaluation_rows,
    fold_of,
    labelled_rows,
    training_rows,
)
from botdetect.train.models import (
    calibrate,
    calibrated,
    feature_importances,
    fit,
    fit_calibrator,
    forest_grid,
    forest_pipeline,
    logistic_pipeline,
    raw_score,
)
from botdetect.train.plots import importance_png, pr_curve_png
from botdetect.train.splits import update_splits

log = logging.getLogger(__name__)

NEW_ACCOUNT_DAYS = 7
EVAL_KEEP = ["account_id", "cluster_id", "label", "label_source", "w"]


@dataclasses.dataclass(frozen=True)
class Spec:
    """A model to try: its family, a readable name, its parameters and its pipeline."""

    family: str
    name: str
    params: dict[str, float | int | str]
    pipeline: Pipeline


@dataclasses.dataclass(frozen=True)
class Judged:
    """A scored set: its weighted curve, its bootstrap replicates and the two thresholds
    the rule gives on it."""

    points: list[ev.Point]
    boot: BootstrapCurves
    block: float | None
    review: float | None


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A spec judged on its out-of-fold scores over the development rows."""

    spec: Spec
    calibrator: IsotonicRegressionModel
    judged: Judged

    @property
    def objective(self) -> tuple[int, float, float]:
        """(has a block band, recall at the block threshold, average precision)."""
        point = ev.at_threshold(self.judged.points, self.judged.block)
        recall = point.recall if point is not None and point.recall is not None else 0.0
        blocks = int(self.judged.block is not None)
        return blocks, recall, ev.average_precision(self.judged.points) or 0.0


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
    family: str = ""
    grid_point: str = ""


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


def model_columns(cfg: Config) -> list[str]:
    """The catalogued feature columns the model uses: all but `train.exclude_features`.

    An excluded name that is not a catalogued column is an error, not a silent no-op.
    """
    catalogued = feature_columns(sorted(cfg.features.windows))
    unknown = sorted(set(cfg.train.exclude_features) - set(catalogued))
    if unknown:
        raise TrainingDataError(
            f"train.exclude_features names {unknown}, which are not feature columns "
            "(`botdetect features --describe` lists them)"
        )
    return [c for c in catalogued if c not in set(cfg.train.exclude_features)]


def candidate_specs(cfg: Config, columns: list[str]) -> list[Spec]:
    """Every forest grid point, then the logistic regression: one list, one rule."""
    tcfg = cfg.train
    specs = [
        Spec(
            FOREST,
            f"forest-{p.num_trees}-{p.max_depth}-{p.min_instances_per_node}",
            dict(p.as_dict()),
            forest_pipeline(columns, p, tcfg.forest, tcfg.null_fill, tcfg.seed),
        )
        for p in forest_grid(tcfg.forest)
    ]
    lcfg = tcfg.logistic
    for reg in lcfg.reg_param:
        specs.append(
            Spec(
                LOGISTIC,
                f"logistic-{reg}-{lcfg.elastic_net_param}",
                {"reg_param": reg, "elastic_net_param": lcfg.elastic_net_param},
                logistic_pipeline(columns, lcfg, tcfg.null_fill, reg),
            )
        )
    return specs


def review_band_start(review: float | None, block: float | None, floor: float) -> float | None:
    """The review threshold served: the rule's, never below `floor` (the rate-limit band
    lies between `score.rate_limit_threshold` and it) and never above the block threshold."""
    if review is None:
        return None
    start = max(review, floor)
    return min(start, block) if block is not None else start


def judge_scored(scored_df: DataFrame, cfg: Config) -> Judged:
    """Curve, bootstrap replicates and thresholds of a scored set (score, label, w,
    cluster_id). Two aggregations; at most `replicates x bins` rows reach the driver."""
    tcfg = cfg.train
    scored = scored_df.persist()
    try:
        points = ev.curve(ev.score_histogram(scored, tcfg.score_bins), tcfg.score_bins)
        histograms = replicate_histograms(
            scored, tcfg.score_bins, tcfg.bootstrap_replicates, tcfg.seed
        )
    finally:
        scored.unpersist()
    boot = BootstrapCurves.from_histograms(histograms, tcfg.score_bins)
    block, _ = confident_threshold(points, boot, tcfg.block_precision, tcfg.confidence)
    review, _ = confident_threshold(points, boot, tcfg.review_precision, tcfg.confidence)
    return Judged(points, boot, block, review_band_start(review, block, tcfg.review_min_score))


def fit_rows(dev_df: DataFrame, cfg: Config) -> DataFrame:
    """The rows models fit on, out of development rows: reliable ones only (column
    `reliable`, when present), negatives down-sampled, expanded positives per conf."""
    tcfg = cfg.train
    rows = dev_df.where(F.col("reliable")) if "reliable" in dev_df.columns else dev_df
    return training_rows(rows, tcfg.negative_sample_rate, tcfg.seed, cfg.labels.use_expanded)


def out_of_fold(spec: Spec, dev_df: DataFrame, cfg: Config) -> DataFrame:
    """Margins of every development row from the model fitted without its fold."""
    parts = []
    for k in range(cfg.train.folds):
        held = F.col("fold") == k
        model = fit(spec.pipeline, fit_rows(dev_df.where(~held), cfg))
        parts.append(raw_score(model, dev_df.where(held), EVAL_KEEP))
    return functools.reduce(DataFrame.unionByName, parts)


def mark_reliable(dev_df: DataFrame, cfg: Config, columns: list[str]) -> tuple[DataFrame, float]:
    """Development rows with `reliable`: False for sampled negatives that look like bots.

    Random negatives are unlabelled accounts, not confirmed humans: some are bots ops
    never caught (whole botnets with no labelled member). Trained on as negatives, they
    teach a model that bot behaviour is human. A two-step positive-unlabelled method:
    a logistic regression (fast, and its margin ranks rather than memorises) is
    cross-fitted over the folds, and a random negative whose out-of-fold margin reaches
    the `train.unreliable_quantile` of the ops positives' margins (it looks more like a
    bot than that share of confirmed bots, in a model that never saw it) is not trained
    on. Confirmed negatives (cleared, verified) always are. Evaluation keeps every row:
    the population, not the training set, decides precision. Returns the rows and the
    margin cut (nan when the step is off or there is no ops positive).
    """
    tcfg = cfg.train
    if tcfg.unreliable_quantile >= 1:
        return dev_df.withColumn("reliable", F.lit(True)), float("nan")
    # The strongest regularisation of the grid: stable margins across folds.
    reg = max(tcfg.logistic.reg_param)
    spec = Spec(
        LOGISTIC, "reliable", {}, logistic_pipeline(columns, tcfg.logistic, tcfg.null_fill, reg)
    )
    oof = out_of_fold(spec, dev_df, cfg).persist()
    try:
        cuts = oof.where(F.col("label_source") == "ops").approxQuantile(
            "raw", [tcfg.unreliable_quantile], 0.001
        )
        if not cuts:
            return dev_df.withColumn("reliable", F.lit(True)), float("nan")
        cut = float(cuts[0])
        flagged = oof.where((F.col("label_source") == "random") & (F.col("raw") >= cut)).select(
            "account_id", F.lit(False).alias("reliable")
        )
        marked = dev_df.join(flagged, "account_id", how="left").withColumn(
            "reliable", F.coalesce(F.col("reliable"), F.lit(True))
        )
        return marked, cut
    finally:
        oof.unpersist()


def cross_fit(spec: Spec, dev_df: DataFrame, cfg: Config) -> Candidate:
    """Out-of-fold margins, their calibrator, and the thresholds on calibrated scores."""
    oof = out_of_fold(spec, dev_df, cfg).persist()
    try:
        calibrator = fit_calibrator(oof)
        judged = judge_scored(calibrate(calibrator, oof), cfg)
    finally:
        oof.unpersist()
    return Candidate(spec, calibrator, judged)


def choose(candidates: list[Candidate]) -> Candidate:
    """The candidate with the best objective; the first listed wins a tie."""
    best = candidates[0]
    for c in candidates[1:]:
        if c.objective > best.objective:
            best = c
    return best


def point_index(points: list[ev.Point], threshold: float | None) -> int | None:
    """The index in `points` of `ev.at_threshold(points, threshold)`."""
    if threshold is None:
        return None
    for i, p in enumerate(points):
        if p.threshold <= threshold + 1e-12:
            return i
    return None


def band_metrics(
    judged: Judged, thresholds: Mapping[str, float | None], prefix: str, confidence: float
) -> dict[str, float]:
    """Per band: precision, recall, flagged rows and Wilson intervals at the threshold
    (`ev.summary`), plus the cluster-bootstrap interval of precision and its lower bound."""
    out: dict[str, float] = {}
    tail = (1.0 - confidence) / 2
    for name, t in thresholds.items():
        out |= ev.summary(judged.points, t, f"{prefix}_{name}")
        index = point_index(judged.points, t)
        if index is None:
            continue
        values = judged.boot.precisions(index)
        if values:
            lo, hi = percentile(values, tail), percentile(values, 1 - tail)
            out[f"{prefix}_{name}_precision_boot_lo"] = lo
            out[f"{prefix}_{name}_precision_boot_hi"] = hi
            out[f"{prefix}_{name}_precision_bound"] = percentile(values, 1 - confidence)
            # The reported interval is the wider of the bootstrap's and Wilson's: with no
            # false positive in the band, every replicate has precision 1 and the
            # bootstrap collapses to [1, 1], while Wilson still says how few rows there are.
            wilson = judged.points[index].precision_interval()
            if wilson is not None:
                lo, hi = min(lo, wilson[0]), max(hi, wilson[1])
            out[f"{prefix}_{name}_precision_interval_lo"] = lo
            out[f"{prefix}_{name}_precision_interval_hi"] = hi
        out[f"{prefix}_{name}_effective_flagged"] = judged.points[index].effective_flagged
    return out


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
        truth_df, "account_id", how="inner"
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


def _test_slices(scored: DataFrame, thresholds: Mapping[str, float | None]) -> dict[str, float]:
    """Test metrics by account age, verified status and label stratum (scored test rows)."""
    new = F.when(F.col("account_age_days") < NEW_ACCOUNT_DAYS, "new").otherwise("older")
    verified = F.when(F.col("is_verified") > 0, "verified").otherwise("unverified")
    return (
        threshold_metrics(scored, new, thresholds, "test_age")
        | threshold_metrics(scored, verified, thresholds, "test_status")
        | threshold_metrics(scored, F.col("label_source"), thresholds, "test_stratum")
    )


def paired_comparison(
    challenger: PipelineModel,
    challenger_block: float,
    champion: PipelineModel,
    champion_block: float,
    test_df: DataFrame,
    cfg: Config,
) -> registry.Comparison:
    """Both models at their own block thresholds on the same test rows."""
    ours = score(challenger, test_df, ["account_id", "cluster_id", "label", "w"])
    theirs = score(champion, test_df, ["account_id"]).withColumnRenamed("score", "champion_score")
    both = ours.join(theirs, "account_id", how="inner")
    tcfg = cfg.train
    return compare_flags(
        both,
        challenger_block,
        champion_block,
        tcfg.bootstrap_replicates,
        tcfg.seed,
        tcfg.confidence,
    )


def compare_flags(
    both_df: DataFrame,
    challenger_block: float,
    champion_block: float,
    replicates: int,
    seed: int,
    confidence: float,
) -> registry.Comparison:
    """Recall and precision of two sets of flags on the same rows (cluster_id, label, w,
    score, champion_score), with a paired cluster bootstrap of the recall gain and the
    precision change: both models' counts are summed in the same replicate."""
    pos = F.col("w") * (F.col("label") == 1).cast("double")
    neg = F.col("w") * (F.col("label") != 1).cast("double")
    ch = (F.col("score") >= challenger_block).cast("double")
    cp = (F.col("champion_score") >= champion_block).cast("double")
    counts = both_df.select(
        "cluster_id",
        (pos * ch).alias("tp_ch"),
        (neg * ch).alias("fp_ch"),
        (pos * cp).alias("tp_cp"),
        (neg * cp).alias("fp_cp"),
        pos.alias("pos"),
        F.lit(1.0).alias("n"),
    )
    columns = ["tp_ch", "fp_ch", "tp_cp", "fp_cp", "pos", "n"]
    full, drawn = replicate_sums(counts, columns, replicates, seed)

    def recall(s: Mapping[str, float], key: str) -> float:
        return s[f"tp_{key}"] / s["pos"] if s["pos"] > 0 else 0.0

    def precision(s: Mapping[str, float], key: str) -> float | None:
        flagged = s[f"tp_{key}"] + s[f"fp_{key}"]
        return s[f"tp_{key}"] / flagged if flagged > 0 else None

    q = 1.0 - confidence
    gains = [recall(r, "ch") - recall(r, "cp") for r in drawn if r["pos"] > 0]
    changes = []
    for r in drawn:
        a, b = precision(r, "ch"), precision(r, "cp")
        if a is not None and b is not None:
            changes.append(a - b)
    return registry.Comparison(
        accounts=int(full["n"]),
        recall=(recall(full, "ch"), recall(full, "cp")),
        precision=(precision(full, "ch"), precision(full, "cp")),
        recall_gain_lo=percentile(gains, q) if gains else 0.0,
        precision_change_lo=percentile(changes, q) if len(changes) * 2 >= len(drawn) else None,
    )


def _judge_champion(
    cfg: Config, served: PipelineModel, block: float | None, test_df: DataFrame
) -> tuple[registry.ServedModel | None, registry.Comparison | None]:
    """The current champion and, when both models block, their comparison. A champion
    that cannot be loaded or cannot score the test rows raises ChampionError."""
    import mlflow

    try:
        champion = registry.find_model(cfg, registry.CHAMPION)
    except registry.ModelNotFoundError:
        return None, None
    if champion.block_threshold is None or block is None:
        return champion, None
    try:
        model = mlflow.spark.load_model(champion.uri)
        comparison = paired_comparison(served, block, model, champion.block_threshold, test_df, cfg)
    except Exception as exc:
        raise registry.ChampionError(
            f"champion v{champion.version} of {champion.name} cannot be loaded or cannot "
            f"score this test set ({type(exc).__name__}: {str(exc).splitlines()[0][:300]}); "
            "nothing was promoted. Fix or retire the champion (move the alias by hand), "
            "then rerun train"
        ) from exc
    return champion, comparison


def run_train(spark: SparkSession, cfg: Config) -> TrainResult:
    import mlflow

    as_of = cfg.run_date()
    tcfg = cfg.train
    features_ref = ACCOUNT_FEATURES.ref(cfg.storage)
    labels_ref = LABELS.ref(cfg.storage)
    columns = model_columns(cfg)
    features_df = read_table(spark, features_ref).where(F.col("as_of_date") == F.lit(as_of))
    missing = [c for c in columns if c not in features_df.columns]
    if missing:
        raise TrainingDataError(
            f"table {features_ref.label}: columns {missing[:5]} of the feature catalogue are "
            "missing; rerun `botdetect features --full-refresh`"
        )
    first = features_df.limit(1).collect()
    # Every feature is written non-null, so a null one was added after this date's features.
    absent = [c for c in columns if first and first[0][c] is None]
    if absent:
        raise TrainingDataError(
            f"table {features_ref.label}: columns {absent[:5]} of the feature catalogue were "
            f"added after the features of {as_of} were computed; rerun `botdetect features "
            f"--as-of-date {as_of}`"
        )
    labels_df = read_table(spark, labels_ref).where(F.col("as_of_date") == F.lit(as_of))
    if labels_df.limit(1).count() == 0 or not first:
        raise TrainingDataError(
            no_rows_message(
                features_ref.label,
                bool(first),
                labels_ref.label,
                labels_df.limit(1).count() > 0,
                as_of,
            )
        )
    splits_df = update_splits(spark, cfg, features_df, as_of)
    labelled = labelled_rows(features_df, labels_df, splits_df).persist()
    dev_df: DataFrame | None = None
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
                f"tables {features_ref.label} and {labels_ref.label} share no account for {as_of}"
            )
        check_classes(counts, tcfg.min_positives)
        dev_df = (
            evaluation_rows(labelled, DEVELOPMENT)
            .withColumn("fold", fold_of(F.col("cluster_id"), tcfg.seed, tcfg.folds))
            .persist()
        )
        test_df = evaluation_rows(labelled, ("test",))
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
                    "folds": tcfg.folds,
                    "bootstrap_replicates": tcfg.bootstrap_replicates,
                    "confidence": tcfg.confidence,
                    "seed": tcfg.seed,
                    "n_features": len(columns),
                    "null_fill": tcfg.null_fill,
                    "block_precision_target": tcfg.block_precision,
                    "review_precision_target": tcfg.review_precision,
                    "block_min_effective_rows": min_effective_rows(tcfg.block_precision),
                    "review_min_score": tcfg.review_min_score,
                    "input_version_account_features": table_version(spark, features_ref),
                    "input_version_labels": table_version(spark, labels_ref),
                    "conf_fingerprint": cfg.fingerprint(),
                }
            )
            marked, cut = mark_reliable(dev_df, cfg, columns)
            dev_df.unpersist()
            dev_df = marked.persist()
            dropped = _unreliable_counts(spark, cfg, dev_df)
            mlflow.log_metrics({"unreliable_margin_cut": cut} if cut == cut else {})
            mlflow.log_metrics(dropped)
            candidates = _search(cfg, dev_df)
            best = choose(candidates)
            finals = _refit_families(cfg, candidates, dev_df)
            served = finals[best.spec.family]
            thresholds = {"block": best.judged.block, "review": best.judged.review}
            metrics = _evaluate(spark, cfg, best, served, finals, candidates, columns, test_df)
            metrics |= _truth(spark, cfg, served, features_df, splits_df, thresholds)
            mlflow.log_metrics(metrics)
            forests = [c for c in candidates if c.spec.family == FOREST]
            mlflow.log_params(
                {"model_family": best.spec.family, "grid_point": best.spec.name}
                | {f"chosen_{k}": v for k, v in best.spec.params.items()}
                | {f"forest_{k}": v for k, v in choose(forests).spec.params.items()}
            )
            _log_artifacts(served, columns, best, test_df, cfg, thresholds)
            directions = feature_directions(fit_rows(dev_df, cfg), columns, tcfg.null_fill)
            version = _log_model(cfg, served, best, columns, features_df, as_of, directions)
            _apply_aliases(cfg, version, None)
            champion, comparison = _judge_champion(cfg, served, best.judged.block, test_df)
            decision = registry.decide_promotion(
                challenger_blocks=best.judged.block is not None,
                champion_version=champion.version if champion else None,
                champion_blocks=champion is not None and champion.block_threshold is not None,
                comparison=comparison,
                tolerance=tcfg.precision_tolerance,
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
                block_threshold=best.judged.block,
                review_threshold=best.judged.review,
                metrics=metrics,
                family=best.spec.family,
                grid_point=best.spec.name,
            )
    finally:
        if dev_df is not None:
            dev_df.unpersist()
        labelled.unpersist()


def _unreliable_counts(spark: SparkSession, cfg: Config, dev_df: DataFrame) -> dict[str, float]:
    """How many sampled negatives the reliable-negatives step set aside, and, in synthetic
    worlds, how many of them are bots by the generator's truth (shown, never used)."""
    aside = dev_df.where(~F.col("reliable")).select("account_id")
    out = {"unreliable_negatives": float(aside.count())}
    out["random_negatives"] = float(dev_df.where(F.col("label_source") == "random").count())
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    if out["unreliable_negatives"] and table_exists(spark, truth_ref):
        truth = read_table(spark, truth_ref).select("account_id", "is_spam_bot")
        bots = aside.join(truth, "account_id", how="inner").where(F.col("is_spam_bot")).count()
        out["truth_unreliable_bot_share"] = bots / out["unreliable_negatives"]
        random_bots = (
            dev_df.where(F.col("label_source") == "random")
            .join(truth, "account_id", how="inner")
            .where(F.col("is_spam_bot"))
            .count()
        )
        out["truth_random_negative_bots"] = float(random_bots)
    return out


def _search(cfg: Config, dev_df: DataFrame) -> list[Candidate]:
    """Cross-fit every candidate on the development rows (each a nested MLflow run)."""
    import mlflow

    columns = model_columns(cfg)
    out = []
    for spec in candidate_specs(cfg, columns):
        candidate = cross_fit(spec, dev_df, cfg)
        blocks, recall, ap = candidate.objective
        judged = candidate.judged
        with mlflow.start_run(run_name=spec.name, nested=True):
            mlflow.log_params({"family": spec.family, **spec.params})
            mlflow.log_metrics(
                {
                    "val_has_block_band": float(blocks),
                    "val_recall_at_block": recall,
                    "val_pr_auc": ap,
                }
                | band_metrics(
                    judged,
                    {"block": judged.block, "review": judged.review},
                    "val",
                    cfg.train.confidence,
                )
            )
        log.info(
            "train: %s: block %s, out-of-fold recall@block %.4f, PR-AUC %.4f",
            spec.name,
            "none" if judged.block is None else f"{judged.block:.5f}",
            recall,
            ap,
        )
        out.append(candidate)
    return out


def _refit_families(
    cfg: Config, candidates: list[Candidate], dev_df: DataFrame
) -> dict[str, PipelineModel]:
    """The best candidate of each family, refitted on all development rows, calibrated."""
    rows = fit_rows(dev_df, cfg)
    out = {}
    for fam in (FOREST, LOGISTIC):
        mine = [c for c in candidates if c.spec.family == fam]
        if mine:
            best = choose(mine)
            out[fam] = calibrated(fit(best.spec.pipeline, rows), best.calibrator)
    return out


def _evaluate(
    spark: SparkSession,
    cfg: Config,
    best: Candidate,
    served: PipelineModel,
    finals: Mapping[str, PipelineModel],
    candidates: list[Candidate],
    columns: list[str],
    test_df: DataFrame,
) -> dict[str, float]:
    """Development (out-of-fold) and test metrics of the chosen model and of each family."""
    tcfg = cfg.train
    thresholds = {"block": best.judged.block, "review": best.judged.review}
    metrics = curve_metrics(best.judged.points, "val")
    metrics |= band_metrics(best.judged, thresholds, "val", tcfg.confidence)
    keep = [*EVAL_KEEP, "account_age_days", "is_verified"]
    scored = score(served, test_df, keep).persist()
    try:
        tested = judge_scored(scored, cfg)
        metrics |= curve_metrics(tested.points, "test")
        metrics |= band_metrics(tested, thresholds, "test", tcfg.confidence)
        metrics |= _test_slices(scored, thresholds)
    finally:
        scored.unpersist()
    for fam, prefix in ((FOREST, "rf"), (LOGISTIC, "lr")):
        mine = [c for c in candidates if c.spec.family == fam]
        if not mine or fam not in finals:
            continue
        top = choose(mine)
        own = {"block": top.judged.block, "review": top.judged.review}
        metrics |= curve_metrics(top.judged.points, f"{prefix}_val")
        metrics |= band_metrics(top.judged, own, f"{prefix}_val", tcfg.confidence)
        metrics[f"{prefix}_val_has_block_band"] = float(top.judged.block is not None)
        fam_test = judge_scored(score(finals[fam], test_df, EVAL_KEEP), cfg)
        metrics |= curve_metrics(fam_test.points, f"{prefix}_test")
        metrics |= band_metrics(fam_test, own, f"{prefix}_test", tcfg.confidence)
    metrics["chosen_is_forest"] = float(best.spec.family == FOREST)
    return {k: float(v) for k, v in metrics.items()}


def _truth(
    spark: SparkSession,
    cfg: Config,
    served: PipelineModel,
    features_df: DataFrame,
    splits_df: DataFrame,
    thresholds: Mapping[str, float | None],
) -> dict[str, float]:
    """Truth metrics on every account of the test components, in synthetic worlds."""
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    if not table_exists(spark, truth_ref):
        return {}
    test_accounts = features_df.join(
        splits_df.where(F.col("split") == "test").select("account_id"), "account_id", how="inner"
    )
    return truth_metrics(served, test_accounts, read_table(spark, truth_ref), thresholds)


def _log_artifacts(
    served: PipelineModel,
    columns: list[str],
    best: Candidate,
    test_df: DataFrame,
    cfg: Config,
    thresholds: Mapping[str, float | None],
) -> None:
    import mlflow

    importances = feature_importances(served, columns)
    tested = ev.curve(
        ev.score_histogram(score(served, test_df, ["label", "w"]), cfg.train.score_bins),
        cfg.train.score_bins,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        pr_curve_png(tested, thresholds, out / "pr_curve_test.png", "test (ops labels)")
        pr_curve_png(best.judged.points, thresholds, out / "pr_curve_validation.png", "out of fold")
        importance_png(importances, out / "feature_importance.png")
        (out / "feature_importances.json").write_text(json.dumps(importances, indent=1))
        (out / "feature_columns.json").write_text(json.dumps(columns, indent=1))
        (out / "thresholds.json").write_text(json.dumps(thresholds, indent=1))
        (out / "test_pr_curve.json").write_text(
            json.dumps(
                [
                    {"threshold": p.threshold, "precision": p.precision, "recall": p.recall}
                    for p in tested
                    if p.precision is not None
                ]
            )
        )
        mlflow.log_artifacts(str(out), artifact_path="evaluation")


def _log_model(
    cfg: Config,
    served: PipelineModel,
    best: Candidate,
    columns: list[str],
    features_df: DataFrame,
    as_of: dt.date,
    directions: Mapping[str, int],
) -> str:
    """Log and register the chosen model; tag the version with what scoring needs (the
    thresholds, the features and the side of each feature spam sits on, for reasons)."""
    import mlflow
    import pyspark
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    # Doubles: integer columns in a signature cannot carry missing values.
    sample = features_df.select(*[F.col(c).cast("double") for c in columns]).limit(5).toPandas()
    signature = infer_signature(sample, sample.iloc[:, :0].assign(prediction=0.0)["prediction"])
    info = mlflow.spark.log_model(
        served,
        artifact_path="model",
        registered_model_name=cfg.mlflow.model_name,
        signature=signature,
        pip_requirements=[f"pyspark=={pyspark.__version__}"],
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    block, review = best.judged.block, best.judged.review
    tags = {
        registry.TAG_BLOCK: "none" if block is None else repr(block),
        registry.TAG_REVIEW: "none" if review is None else repr(review),
        registry.TAG_AS_OF: as_of.isoformat(),
        registry.TAG_FEATURES: ",".join(columns),
        registry.TAG_DIRECTIONS: directions_tag(directions, columns),
        registry.TAG_RUN: mlflow.active_run().info.run_id,
        registry.TAG_FAMILY: family(served),
        "grid_point": best.spec.name,
    }
    for key, value in tags.items():
        client.set_model_version_tag(cfg.mlflow.model_name, version, key, value)
    return version


def _apply_aliases(cfg: Config, version: str, decision: registry.Promotion | None) -> None:
    """`challenger` always; `champion` when the decision promotes."""
    from mlflow import MlflowClient

    client = MlflowClient()
    name = cfg.mlflow.model_name
    client.set_registered_model_alias(name, registry.CHALLENGER, version)
    if decision is None:
        return
    client.set_model_version_tag(name, version, "promotion", decision.reason)
    if decision.promote:
        client.set_registered_model_alias(name, registry.CHAMPION, version)
