# Databricks notebook source
# MAGIC %md
# MAGIC # Explore the raw tables
# MAGIC A thin driver over the library: row counts per raw table, the quarantine by rule,
# MAGIC and accounts per kind in the synthetic world's ground truth.
# MAGIC Runs as a Databricks notebook or locally (`.venv/bin/python notebooks/explore_world.py`).

# COMMAND ----------
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.contract import RAW_LAYER, SOURCE_TABLES
from botdetect.io.tables import read_table, table_exists, table_ref
from botdetect.session import get_spark

cfg = load_config("local")
spark = get_spark(cfg.spark)

# COMMAND ----------
for name in SOURCE_TABLES:
    ref = table_ref(cfg.storage, RAW_LAYER, name)
    count = read_table(spark, ref).count() if table_exists(spark, ref) else "not ingested yet"
    print(f"{ref.label:<18} {count}")

# COMMAND ----------
quarantine = table_ref(cfg.storage, "quality", "quarantine")
if table_exists(spark, quarantine):
    read_table(spark, quarantine).groupBy("source_table", "rule", "column").count().show()

# COMMAND ----------
truth = table_ref(cfg.storage, "truth", "ground_truth")
if table_exists(spark, truth):
    read_table(spark, truth).groupBy("bot_kind").agg(F.count("*").alias("accounts")).show()
