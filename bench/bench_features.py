"""Feature job benchmark: full refresh, daily increment, and Spark against DuckDB.

    .venv/bin/python bench/bench_features.py --accounts 100000 --days 28

1. Generates and ingests a world (skipped when --root already holds one).
2. Times `botdetect features --full-refresh` (every day of the 28-day window) and then a
   daily run for the next as-of date (one new day of partials plus the roll-up).
3. Times the tweet-level daily aggregates (`tweet_partials`) in Spark and the same
   aggregates written in DuckDB SQL, both reading the same Parquet export.

Writes bench/results/features_<accounts>.json. Peak memory is the high-water RSS of
the Python driver and the JVM.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

from bench_generate_ingest import RESULTS, add_set_option, peak_rss_mib
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import FeaturesConfig, load_config
from botdetect.features.controller import with_sharers
from botdetect.features.daily import tweet_partials
from botdetect.features.rollup import kind_elements, window_elements
from botdetect.features.stage import run_features
from botdetect.features.text import NUMBER_RE, URL_RE
from botdetect.generate.stage import run_generate
from botdetect.ingest import run_ingest
from botdetect.session import get_spark

DUCKDB_SQL = """
WITH t AS (
  SELECT account_id, event_date, tweet_id, parent_tweet_id, created_at,
         coalesce(mentioned_account_ids, []) AS mentions,
         coalesce(regexp_matches(text, 'https?://'), false) AS has_url,
         trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(coalesce(text, '')),
           '{url}', ' <url> ', 'g'), '@\\w+', ' <user> ', 'g'), '{num}', ' <num> ', 'g'),
           '\\s+', ' ', 'g')) AS norm,
         epoch(created_at)::BIGINT AS ts
  FROM read_parquet('{path}/**/*.parquet', hive_partitioning = true)
), w AS (
  SELECT *, hash(norm) AS template,
         CASE WHEN norm = '' THEN 0 ELSE len(string_split(norm, ' ')) END AS tokens,
         list_distinct(list_filter(string_split(norm, ' '),
                                   x -> x <> '' AND NOT starts_with(x, '<'))) AS words
  FROM t
), r AS (
  SELECT w.*, p.account_id AS parent_author,
         ts - lag(ts) OVER (PARTITION BY w.account_id, w.event_date
                            ORDER BY w.created_at, w.tweet_id) AS gap
  FROM w LEFT JOIN (SELECT tweet_id, account_id FROM t) p ON w.parent_tweet_id = p.tweet_id
)
SELECT account_id, event_date,
       count(*) AS n_tweets,
       count(parent_tweet_id) AS n_replies,
       sum(has_url::INT) AS n_with_url,
       sum((hour(created_at) IN ({night}))::INT) AS n_night,
       {hours},
       count(DISTINCT ts // 60) AS active_minutes,
       min(ts) AS first_tweet_ts, max(ts) AS last_tweet_ts,
       count(gap) AS n_gaps, sum(gap) AS gap_sum, sum(gap * gap) AS gap_sq_sum,
       list_sort(list_distinct(list(template))) AS templates,
       list_sort(list_distinct(list(CASE WHEN tokens > {max_tokens} THEN template END)))
         AS long_templates,
       list_sort(list_distinct(list(CASE WHEN len(words) > 0 THEN
           hash(list_min(list_transform(words, x -> hash(x, 17))),
                list_min(list_transform(words, x -> hash(x, 18)))) END))) AS nd_keys,
       list_sort(list_distinct(flatten(list(
           CASE WHEN parent_author IS NOT NULL AND parent_author <> account_id
                THEN list_append(mentions, parent_author) ELSE mentions END)))) AS recipients
FROM r
GROUP BY account_id, event_date
"""


# Totals both engines must agree on: the DuckDB SQL computes the same aggregates, not a
# cheaper subset. (Near-duplicate key counts depend on the hash function, so they are left
# out; template ids are 64-bit hashes in both, where collisions are negligible.)
CHECKED = {
    "partial_rows": "count(*)",
    "n_tweets": "sum(n_tweets)",
    "n_replies": "sum(n_replies)",
    "n_with_url": "sum(n_with_url)",
    "n_night": "sum(n_night)",
    "active_minutes": "sum(active_minutes)",
    "n_gaps": "sum(n_gaps)",
    "gap_sum": "sum(gap_sum)",
    "gap_sq_sum": "sum(gap_sq_sum)",
    "templates": "sum(len(templates))",
    "long_templates": "sum(len(long_templates))",
    "recipients": "sum(len(recipients))",
}
CHECK_SQL = ", ".join(f"{expr}::DOUBLE AS {name}" for name, expr in CHECKED.items())


def spark_totals(partials: DataFrame) -> dict[str, float]:
    """The CHECKED totals of Spark's tweet partials."""
    exprs = [
        F.expr(expr.replace("len(", "size(")).cast("double").alias(name)
        for name, expr in CHECKED.items()
    ]
    return partials.agg(*exprs).first().asDict()


def duckdb_memory(driver_memory: str) -> str:
    """DuckDB's memory limit equal to a Spark memory setting ("4g" -> "4GiB"): the two
    engines get the same memory, and together they fit where the driver alone did."""
    units = {"k": "KiB", "m": "MiB", "g": "GiB", "t": "TiB"}
    return f"{driver_memory[:-1]}{units[driver_memory[-1].lower()]}"


def duckdb_partials(path: str, cfg: FeaturesConfig, memory_limit: str) -> tuple[float, list[tuple]]:
    """Seconds for DuckDB to compute the tweet aggregates into a table (all cores)."""
    import duckdb

    hours = ",\n       ".join(
        f"sum(CASE WHEN hour(created_at) = {h} THEN 1 ELSE 0 END) AS h{h:02d}" for h in range(24)
    )
    sql = DUCKDB_SQL.format(
        path=path,
        url=URL_RE,
        num=NUMBER_RE,
        hours=hours,
        night=", ".join(str(h) for h in cfg.night_hours),
        max_tokens=cfg.common_template_max_tokens,
    )
    # DuckDB spills only with a temp directory; insertion order means nothing to an
    # aggregate and costs it memory. (Even so, 8 GiB was not enough for the 51M-tweet
    # export: see the README.)
    spill = tempfile.mkdtemp(prefix="botdetect-duckdb-")
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": spill,
            "preserve_insertion_order": False,
        }
    )
    try:  # an out-of-memory error must not leave the spill files behind (27 GB at 51M)
        start = time.monotonic()
        con.execute(f"CREATE TABLE partials AS {sql}")
        seconds = time.monotonic() - start
        rows = con.execute("SELECT count(*) FROM partials").fetchone()[0]
        print(f"duckdb: {rows} partial rows in {seconds:.1f}s")
        return seconds, con.execute(f"SELECT {CHECK_SQL} FROM partials").fetchall()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def compare_engines(
    spark: SparkSession, landing: str, cfg: FeaturesConfig, memory: str | None
) -> tuple[float, float]:
    """Seconds for Spark's `tweet_partials` and DuckDB's SQL on the same Parquet export.

    DuckDB gets `memory` (the Spark driver's setting). Exits when the two disagree on any
    CHECKED total. With `memory` None only Spark runs (DuckDB's time is NaN) and its
    totals are printed.
    """
    export = spark.read.parquet(landing)
    # Warm-up (JIT, file listing) on the first day only: the same plan at 1/days the cost.
    first_day = export.agg(F.min("event_date")).first()[0]
    warm_up = tweet_partials(export.where(F.col("event_date") == F.lit(first_day)), cfg)
    warm_up.write.format("noop").mode("overwrite").save()
    start = time.monotonic()
    tweet_partials(export, cfg).write.format("noop").mode("overwrite").save()
    spark_s = time.monotonic() - start
    print(f"spark: tweet partials in {spark_s:.1f}s")
    if memory is None:  # Spark alone: its totals, for a DuckDB run in another process
        print("spark totals", spark_totals(tweet_partials(export, cfg)))
        return spark_s, float("nan")
    duck_s, duck_totals = duckdb_partials(landing, cfg, duckdb_memory(memory))
    totals = spark_totals(tweet_partials(export, cfg))
    mismatched = {
        name: (value, duck)
        for (name, value), duck in zip(totals.items(), duck_totals[0], strict=True)
        if abs(value - duck) > 1e-6 * max(abs(value), 1.0)
    }
    if mismatched:
        raise SystemExit(f"Spark and DuckDB disagree (spark, duckdb): {mismatched}")
    print(f"spark {spark_s:.1f}s, duckdb {duck_s:.1f}s: {spark_s / duck_s:.2f}x; totals agree")
    return spark_s, duck_s


def _largest_key(df: DataFrame, key: list[str]) -> dict[str, float]:
    """Rows of the most frequent key of a join input, and its share of all rows."""
    counts = df.groupBy(*key).count()
    total, largest = counts.agg(F.sum("count"), F.max("count")).first()
    return {"rows": total, "largest_key_rows": largest, "largest_key_share": largest / total}


def join_key_skew(
    spark: SparkSession, root: str, as_of: dt.date, cfg: FeaturesConfig
) -> dict[str, dict[str, float]]:
    """How concentrated the keys of the joins exposed to hot IPs and templates are.

    Measured on the inputs the feature job joins, after its hot-key handling: a share
    well above 1 / shuffle partitions would put one task behind all others.
    """
    daily = spark.read.format("delta").load(f"{root}/features/features_daily")
    elements = window_elements(daily, as_of, max(cfg.windows))
    ip_pairs = with_sharers(kind_elements(elements, "ip_hashes"))
    template_pairs = with_sharers(kind_elements(elements, "long_templates"))
    return {
        "ip_pairs_all": _largest_key(ip_pairs, ["resource"]),
        "ip_pairs_non_hot": _largest_key(
            ip_pairs.where(F.col("sharers") <= cfg.hot_ip_accounts), ["resource"]
        ),
        "template_pairs_all": _largest_key(template_pairs, ["resource"]),
        "template_pairs_non_common": _largest_key(
            template_pairs.where(F.col("sharers") <= cfg.common_template_accounts), ["resource"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--root", default=None)
    parser.add_argument(
        "--partials-only",
        action="store_true",
        help="only the Spark / DuckDB comparison (no feature runs; no JSON written)",
    )
    add_set_option(parser, "configuration override, e.g. spark.driver_memory=8g (repeatable)")
    parser.add_argument(
        "--duckdb-only",
        metavar="MEMORY",
        default=None,
        help="with --partials-only and an existing world: only DuckDB, in a process "
        "without Spark, with this memory limit (e.g. 16g); prints its time and totals",
    )
    parser.add_argument(
        "--spark-only",
        action="store_true",
        help="with --partials-only: only Spark; prints its time and totals",
    )
    args = parser.parse_args()
    root = args.root or f"/tmp/botdetect-bench-features-{args.accounts}"
    as_of = dt.date(2026, 11, 27)
    cfg = load_config(
        "local",
        [
            f"storage.root={root}",
            f"generate.accounts={args.accounts}",
            f"generate.days={args.days + 1}",
            f"as_of_date={as_of + dt.timedelta(days=1)}",
            "ingest.max_reject_fraction=0",
            *args.overrides,
        ],
    )
    if args.partials_only and args.duckdb_only:
        seconds, totals = duckdb_partials(
            f"{root}/landing/tweets", cfg.features, duckdb_memory(args.duckdb_only)
        )
        print(
            f"duckdb {seconds:.1f}s with {args.duckdb_only}; totals",
            dict(zip(CHECKED, totals[0], strict=True)),
        )
        return
    spark = get_spark(cfg.spark)
    if not Path(root, "raw", "tweets", "_delta_log").is_dir():
        run_generate(spark, cfg)
        run_ingest(spark, cfg, full=True)
    tweets_rows = spark.read.format("delta").load(f"{root}/raw/tweets").count()

    if args.partials_only:
        memory = None if args.spark_only else cfg.spark.driver_memory
        compare_engines(spark, f"{root}/landing/tweets", cfg.features, memory)
        return
    start = time.monotonic()
    full = run_features(spark, dataclasses.replace(cfg, as_of_date=as_of), full_refresh=True)
    full_s = time.monotonic() - start
    start = time.monotonic()
    daily = run_features(spark, cfg)
    daily_s = time.monotonic() - start
    assert daily.daily_dates == [cfg.as_of_date], daily.daily_dates

    spark_partials_s, duck_s = compare_engines(
        spark, f"{root}/landing/tweets", cfg.features, cfg.spark.driver_memory
    )

    report = {
        "accounts": args.accounts,
        "window_days": args.days,
        "tweets": tweets_rows,
        "full_refresh_seconds": round(full_s, 1),
        "full_refresh_tweets_per_s": round(tweets_rows / full_s),
        "daily_increment_seconds": round(daily_s, 1),
        "daily_over_full": round(daily_s / full_s, 3),
        "full_refresh_partials_seconds": round(full.partials_seconds, 1),
        "full_refresh_rollup_seconds": round(full.rollup_seconds, 1),
        "daily_partials_seconds": round(daily.partials_seconds, 1),
        "daily_rollup_seconds": round(daily.rollup_seconds, 1),
        "join_key_skew": join_key_skew(spark, root, as_of, cfg.features),
        "tweet_partials_spark_seconds": round(spark_partials_s, 1),
        "tweet_partials_duckdb_seconds": round(duck_s, 1),
        "spark_over_duckdb": round(spark_partials_s / duck_s, 2),
        "engines_agree_on": list(CHECKED),
        "peak_rss_mib": peak_rss_mib(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"features_{args.accounts}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
