# Databricks notebook source
# MAGIC %md
# MAGIC # Explore the world: features and labels
# MAGIC A thin driver over the library for one as-of date: row counts of the raw tables, the
# MAGIC quarantine by rule, accounts per bot kind (synthetic worlds have a ground truth),
# MAGIC labels by source, and a few key features averaged by bot kind and by label.
# MAGIC
# MAGIC Parameters (see `botdetect.notebook`): the widgets `conf`, `as_of_date` and `overrides`
# MAGIC on Databricks; elsewhere `BOTDETECT_NB_CONF`, `BOTDETECT_NB_AS_OF_DATE` and
# MAGIC `BOTDETECT_NB_OVERRIDES` (`;`-separated `key=value`). CI runs this notebook on the tiny
# MAGIC end-to-end world (tests/test_notebooks.py).

# COMMAND ----------
from pyspark.sql import functions as F

from botdetect.contract import SOURCE_TABLES
from botdetect.io.tables import read_table, table_exists
from botdetect.notebook import notebook_config
from botdetect.session import get_spark
from botdetect.table_catalog import ACCOUNT_FEATURES, GROUND_TRUTH, LABELS, QUARANTINE, RAW

cfg = notebook_config()
spark = get_spark(cfg.spark)
as_of = cfg.run_date()
print(f"env {cfg.env}, as of {as_of}, tables under {cfg.storage.catalog or cfg.storage.root}")

# Features shown below: repetition, botnet templates, shared IPs, cluster size, volume.
KEY_FEATURES = [
    "self_dup_ratio_28d",
    "max_template_accounts",
    "max_accounts_per_ip",
    "cluster_size",
    "tweets_per_active_day_7d",
]

# COMMAND ----------
# MAGIC %md
# MAGIC ## Raw tables and quarantine

# COMMAND ----------
for name in SOURCE_TABLES:
    ref = RAW[name].ref(cfg.storage)
    count = read_table(spark, ref).count() if table_exists(spark, ref) else "not ingested yet"
    print(f"{ref.label:<18} {count}")

# COMMAND ----------
quarantine = QUARANTINE.ref(cfg.storage)
if table_exists(spark, quarantine):
    rejected = read_table(spark, quarantine)
    print(f"{quarantine.label}: {rejected.count()} rows")
    (
        rejected.groupBy("source_table", "rule", "column")
        .count()
        .orderBy(F.desc("count"))
        .show(truncate=False)
    )
else:
    print("no quarantine table yet")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Ground truth (synthetic worlds only)

# COMMAND ----------
truth_ref = GROUND_TRUTH.ref(cfg.storage)
truth = None
if table_exists(spark, truth_ref):
    truth = read_table(spark, truth_ref).select(
        "account_id", F.coalesce("bot_kind", F.lit("human")).alias("bot_kind")
    )
    truth.groupBy("bot_kind").agg(F.count("*").alias("accounts")).orderBy("bot_kind").show()
else:
    print("no ground truth: a real platform's world")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Labels by source
# MAGIC Labels wait `labels.horizon_days` for ops actions, so not every date has them: this
# MAGIC shows the latest labelled date on or before the as-of date.

# COMMAND ----------
all_labels = read_table(spark, LABELS.ref(cfg.storage))
labels_date = (
    all_labels.where(F.col("as_of_date") <= F.lit(as_of)).agg(F.max("as_of_date")).first()[0]
)
print(f"labels as of {labels_date}")
labels = all_labels.where(F.col("as_of_date") == F.lit(labels_date))
(
    labels.groupBy("label_source", "label")
    .agg(F.count("*").alias("accounts"), F.round(F.sum("weight"), 1).alias("weight"))
    .orderBy("label_source", "label")
    .show()
)
for row in labels.groupBy("label_source").count().orderBy("label_source").collect():
    print(f"label_source {row['label_source']:<10} {row['count']}")

# COMMAND ----------
# MAGIC %md
# MAGIC ## Key features by bot kind and by label

# COMMAND ----------
account_features = read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
features = account_features.where(F.col("as_of_date") == F.lit(as_of)).select(
    "account_id", *KEY_FEATURES
)
means = [F.round(F.avg(c), 3).alias(c) for c in KEY_FEATURES]
print(f"account_features on {as_of}: {features.count()} accounts")

# COMMAND ----------
if truth is not None:
    (
        features.join(truth, "account_id", "left")
        .groupBy(F.coalesce("bot_kind", F.lit("unknown")).alias("bot_kind"))
        .agg(F.count("*").alias("accounts"), *means)
        .orderBy("bot_kind")
        .show(truncate=False)
    )

# COMMAND ----------
# By label: the features of the labelled date, which are what the model trains on.
(
    account_features.where(F.col("as_of_date") == F.lit(labels_date))
    .select("account_id", *KEY_FEATURES)
    .join(labels.select("account_id", "label", "label_source"), "account_id", "left")
    .groupBy("label", F.coalesce("label_source", F.lit("unlabelled")).alias("label_source"))
    .agg(F.count("*").alias("accounts"), *means)
    .orderBy("label", "label_source")
    .show(truncate=False)
)
