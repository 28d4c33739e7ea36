"""Storage layout of the account tables, before and after clustering by account_id.

`account_features` and `scores` get one date partition per run, written from a frame that
the last join hash-partitioned by account_id. Written as it comes, every file of a date
spans the whole id range, so looking up one account (an appeal, an ops investigation, the
report's join of past scores) opens every file of every date. Written through
`tables.clustered`, each file holds its own id range and Delta skips all the others.

This bench writes the same synthetic account table both ways, several dates each, with the
account_features width (the key columns plus every feature column), and measures:
  - the write time of one date partition;
  - files per date and their mean size;
  - for single-account lookups over all dates: the files whose account_id range holds the
    account (what Delta's min/max data skipping must open) and the median query time;
  - the same for one query of a batch of accounts.

    .venv/bin/python bench/bench_layout.py --accounts 1000000 --dates 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.features.catalog import feature_columns
from botdetect.io import tables
from botdetect.session import get_spark

FIRST_DATE = dt.date(2026, 11, 1)
PRIME = 1_000_003  # scrambles ids so that no input partition holds a contiguous range


def account_table(spark: SparkSession, accounts: int, day: dt.date) -> DataFrame:
    """One date of an account table as the feature job hands it to the writer: after a
    shuffle by account_id (the last join), which AQE may coalesce."""
    ids = spark.range(accounts).select(((F.col("id") * PRIME) % accounts).alias("account_id"))
    seed = day.toordinal()
    values = [
        F.round(F.rand(seed + i) * (10 ** (i % 4)), i % 3).alias(name)
        for i, name in enumerate(feature_columns([1, 7, 28]))
    ]
    return ids.select(
        "account_id",
        F.lit(day).alias("as_of_date"),
        F.col("account_id").alias("cluster_id"),
        *values,
    ).repartition("account_id")


def file_ranges(spark: SparkSession, ref: tables.TableRef) -> list[dict[str, Any]]:
    """Per data file: its date, rows and smallest and largest account_id."""
    rows = (
        tables.read_table(spark, ref)
        .groupBy(F.col("_metadata.file_path").alias("file"), "as_of_date")
        .agg(
            F.count("*").alias("rows"),
            F.min("account_id").alias("lo"),
            F.max("account_id").alias("hi"),
        )
        .collect()
    )
    return [r.asDict() for r in rows]


def files_holding(ranges: list[dict[str, Any]], ids: list[int]) -> int:
    return sum(1 for r in ranges if any(r["lo"] <= i <= r["hi"] for i in ids))


def measure_layout(
    spark: SparkSession, root: Path, layout: str, args: argparse.Namespace
) -> dict[str, Any]:
    ref = tables.TableRef("features", "account_features", path=str(root / layout))
    shutil.rmtree(root / layout, ignore_errors=True)
    cluster_by = "account_id" if layout == "clustered" else None
    write_seconds = []
    for n in range(args.dates):
        day = FIRST_DATE + dt.timedelta(days=n)
        df = account_table(spark, args.accounts, day)
        start = time.monotonic()
        tables.write_date_partition(df, ref, "as_of_date", day, cluster_by=cluster_by)
        write_seconds.append(time.monotonic() - start)
    ranges = file_ranges(spark, ref)
    data_bytes = sum(p.stat().st_size for p in (root / layout).rglob("*.parquet"))
    picks = random.Random(5).sample(range(args.accounts), args.lookups + args.batch)
    singles, batch = picks[: args.lookups], picks[args.lookups :]
    table = tables.read_table(spark, ref)
    lookup_seconds = []
    for account in singles:
        start = time.monotonic()
        table.where(F.col("account_id") == account).collect()
        lookup_seconds.append(time.monotonic() - start)
    start = time.monotonic()
    table.where(F.col("account_id").isin(batch)).collect()
    batch_seconds = time.monotonic() - start
    files = len(ranges)
    return {
        "layout": layout,
        "write_seconds_per_date": round(statistics.median(write_seconds), 2),
        "files_per_date": files / args.dates,
        "mean_file_mib": round(data_bytes / files / 2**20, 2),
        "files_opened_per_lookup": statistics.mean(files_holding(ranges, [a]) for a in singles),
        "lookup_seconds_median": round(statistics.median(lookup_seconds), 3),
        "files_opened_batch": files_holding(ranges, batch),
        "batch_seconds": round(batch_seconds, 2),
        "files_total": files,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--dates", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=16, help="shuffle partitions")
    parser.add_argument("--lookups", type=int, default=20, help="single-account lookups")
    parser.add_argument("--batch", type=int, default=1000, help="accounts in the batch lookup")
    parser.add_argument("--root", default="/tmp/botdetect-bench-layout")
    parser.add_argument("--out", default="bench/results/layout.json")
    args = parser.parse_args()
    cfg = load_config(
        "local",
        [f"spark.shuffle_partitions={args.partitions}", "spark.driver_memory=8g"],
    )
    spark = get_spark(cfg.spark)
    root = Path(args.root)
    results = [measure_layout(spark, root, layout, args) for layout in ("unclustered", "clustered")]
    shutil.rmtree(root, ignore_errors=True)
    out = {
        "machine": f"{platform.machine()}, Spark {spark.version}",
        "accounts": args.accounts,
        "dates": args.dates,
        "columns": 3 + len(feature_columns([1, 7, 28])),
        "shuffle_partitions": args.partitions,
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    keys = list(results[0])
    print(" | ".join(keys))
    for row in results:
        print(" | ".join(str(row[k]) for k in keys))


if __name__ == "__main__":
    main()
