# Databricks notebook source
# MAGIC %md
# MAGIC # Model report
# MAGIC A thin driver over the library for one as-of date: the champion model (version,
# MAGIC thresholds, test metrics against the logistic baseline, top feature importances, all
# MAGIC from its MLflow training run), the day's decisions, the top review-queue clusters
# MAGIC and the monitoring alerts.
# MAGIC
# MAGIC Parameters (see `botdetect.notebook`): the widgets `conf`, `as_of_date` and `overrides`
# MAGIC on Databricks; elsewhere `BOTDETECT_NB_CONF`, `BOTDETECT_NB_AS_OF_DATE` and
# MAGIC `BOTDETECT_NB_OVERRIDES` (`;`-separated `key=value`). CI runs this notebook on the tiny
# MAGIC end-to-end world (tests/test_notebooks.py).

# COMMAND ----------
import json

import mlflow
from pyspark.sql import functions as F

from botdetect.io.tables import read_table, table_exists
from botdetect.model.registry import CHALLENGER, CHAMPION, find_model, setup_mlflow
from botdetect.notebook import notebook_config
from botdetect.session import get_spark
from botdetect.table_catalog import MONITORING, REVIEW_QUEUE, SCORES

cfg = notebook_config()
spark = get_spark(cfg.spark)
as_of = cfg.run_date()
setup_mlflow(cfg)
print(f"env {cfg.env}, as of {as_of}, model {cfg.mlflow.model_name}")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Champion and challenger

# COMMAND ----------
champion = find_model(cfg, CHAMPION)
challenger = find_model(cfg, CHALLENGER)
for alias, model in ((CHAMPION, champion), (CHALLENGER, challenger)):
    print(
        f"{alias}: version {model.version} (trained for {model.tags.get('as_of_date')}, "
        f"run {model.run_id})"
    )
print(f"block threshold  {champion.block_threshold}")
print(f"review threshold {champion.review_threshold}")
print(f"features         {len(champion.feature_columns)}")
run = mlflow.get_run(champion.run_id)
print(f"promotion        {run.data.tags.get('promotion_reason')}")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Test metrics: the forest against the logistic baseline
# MAGIC Test-split metrics on ops labels (block and review at the forest's thresholds; the
# MAGIC baseline's block row is at its own validation threshold). `truth_*` metrics exist
# MAGIC only for synthetic worlds.

# COMMAND ----------
metrics = run.data.metrics
ROWS = [
    "pr_auc",
    "roc_auc",
    "block_threshold",
    "block_precision",
    "block_precision_lo",
    "block_precision_hi",
    "block_recall",
    "block_flagged",
    "review_precision",
    "review_recall",
]


def fmt(value):
    return "-" if value is None else f"{value:.4f}"


print(f"{'metric':<22} {'forest':>10} {'baseline':>10}")
for name in ROWS:
    forest, baseline = metrics.get(f"test_{name}"), metrics.get(f"lr_test_{name}")
    print(f"{name:<22} {fmt(forest):>10} {fmt(baseline):>10}")

# COMMAND ----------
for name in sorted(k for k in metrics if k.startswith("truth_")):
    print(f"{name:<45} {metrics[name]:.4f}")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Top feature importances

# COMMAND ----------
importances = json.loads(
    mlflow.artifacts.load_text(f"runs:/{champion.run_id}/evaluation/feature_importances.json")
)
print(f"top {min(15, len(importances))} of {len(importances)} feature importances")
for feature, importance in importances[:15]:
    print(f"{feature:<30} {importance:.4f}")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Today's decisions and review queue

# COMMAND ----------
scores = read_table(spark, SCORES.ref(cfg.storage)).where(F.col("as_of_date") == F.lit(as_of))
(
    scores.groupBy("model_version", "mode", "status", "decision")
    .agg(F.count("*").alias("accounts"), F.round(F.avg("score"), 3).alias("mean_score"))
    .orderBy("model_version", "decision")
    .show(truncate=False)
)
for row in scores.groupBy("decision").count().orderBy("decision").collect():
    print(f"decision {row['decision']:<10} {row['count']}")

# COMMAND ----------
queue = read_table(spark, REVIEW_QUEUE.ref(cfg.storage)).where(F.col("as_of_date") == F.lit(as_of))
(
    queue.orderBy(F.desc("priority"))
    .select(
        "cluster_id",
        "accounts",
        F.round("priority", 1).alias("priority"),
        F.round("max_score", 3).alias("max_score"),
        F.col("members")[0]["reasons"].alias("top_member_reasons"),
    )
    .limit(10)
    .show(truncate=False)
)

# COMMAND ----------
# MAGIC %md
# MAGIC ## Monitoring

# COMMAND ----------
monitoring_ref = MONITORING.ref(cfg.storage)
if table_exists(spark, monitoring_ref):
    monitoring = read_table(spark, monitoring_ref).where(F.col("as_of_date") == F.lit(as_of))
    monitoring.groupBy("kind", "status").count().orderBy("kind", "status").show()
    alerts = monitoring.where(F.col("status").isin("alert", "warn"))
    print(f"monitoring alerts and warnings on {as_of}: {alerts.count()}")
    (
        alerts.select("kind", "name", F.round("value", 4).alias("value"), "threshold", "status")
        .orderBy("status", F.desc("value"))  # alert before warn
        .show(truncate=False)
    )
else:
    print("no monitoring table yet: run `botdetect report`")
