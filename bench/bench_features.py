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
import time
from pathlib import Path

from bench_generate_ingest import RESULTS, peak_rss_mib

from botdetect.config import load_config
from botdetect.features.daily import tweet_partials
from botdetect.features.stage import run_features
from botdetect.features.text import NUMBER_RE, URL_RE
from botdetect.generate.stage import run_generate
from botdetect.ingest import run_ingest
from botdetect.session import get_spark

DUCKDB_SQL = """
WITH t AS (
  SELECT account_id, event_date, created_at, parent_tweet_id, mentioned_account_ids, text,
         trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(coalesce(text, '')),
           '{url}', ' <url> ', 'g'), '@\\w+', ' <user> ', 'g'), '{num}', ' <num> ', 'g'),
           '\\s+', ' ', 'g')) AS norm,
         epoch(created_at) AS ts
  FROM read_parquet('{path}/**/*.parquet', hive_partitioning = true)
), g AS (
  SELECT *, ts - lag(ts) OVER (PARTITION BY account_id, event_date ORDER BY created_at) AS gap,
         list_distinct(list_filter(string_split(norm, ' '),
                                   w -> w <> '' AND NOT starts_with(w, '<'))) AS words
  FROM t
)
SELECT account_id, event_date,
       count(*) AS n_tweets,
       count(parent_tweet_id) AS n_replies,
       sum(CASE WHEN regexp_matches(text, 'https?://') THEN 1 ELSE 0 END) AS n_with_url,
       sum(CASE WHEN hour(created_at) < 6 THEN 1 ELSE 0 END) AS n_night,
       {hours},
       count(DISTINCT date_trunc('minute', created_at)) AS active_minutes,
       min(ts) AS first_ts, max(ts) AS last_ts,
       count(gap) AS n_gaps, sum(gap) AS gap_sum, sum(gap * gap) AS gap_sq_sum,
       list_sort(list_distinct(list(hash(norm)))) AS templates,
       list_sort(list_distinct(list(CASE WHEN len(words) > 0 THEN
           hash(list_min(list_transform(words, w -> hash(w, 17))),
                list_min(list_transform(words, w -> hash(w, 18)))) END))) AS nd_keys,
       list_sort(list_distinct(flatten(list(coalesce(mentioned_account_ids, []))))) AS recipients
FROM g
GROUP BY account_id, event_date
"""


def duckdb_partials(path: str) -> float:
    """Seconds for DuckDB to compute the tweet aggregates into a table (all cores)."""
    import duckdb

    hours = ",\n       ".join(
        f"sum(CASE WHEN hour(created_at) = {h} THEN 1 ELSE 0 END) AS h{h:02d}" for h in range(24)
    )
    sql = DUCKDB_SQL.format(path=path, url=URL_RE, num=NUMBER_RE, hours=hours)
    con = duckdb.connect()
    start = time.monotonic()
    con.execute(f"CREATE TABLE partials AS {sql}")
    seconds = time.monotonic() - start
    rows = con.execute("SELECT count(*) FROM partials").fetchone()[0]
    print(f"duckdb: {rows} partial rows in {seconds:.1f}s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--root", default=None)
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
        ],
    )
    spark = get_spark(cfg.spark)
    if not Path(root, "raw", "tweets", "_delta_log").is_dir():
        run_generate(spark, cfg)
        run_ingest(spark, cfg, full=True)
    tweets_rows = spark.read.format("delta").load(f"{root}/raw/tweets").count()

    start = time.monotonic()
    run_features(spark, dataclasses.replace(cfg, as_of_date=as_of), full_refresh=True)
    full_s = time.monotonic() - start
    start = time.monotonic()
    daily = run_features(spark, cfg)
    daily_s = time.monotonic() - start
    assert daily.daily_dates == [cfg.as_of_date], daily.daily_dates

    landing = f"{root}/landing/tweets"
    export = spark.read.parquet(landing)
    tweet_partials(export, cfg.features).write.format("noop").mode("overwrite").save()  # warm-up
    start = time.monotonic()
    tweet_partials(export, cfg.features).write.format("noop").mode("overwrite").save()
    spark_partials_s = time.monotonic() - start
    duck_s = duckdb_partials(landing)

    report = {
        "accounts": args.accounts,
        "window_days": args.days,
        "tweets": tweets_rows,
        "full_refresh_seconds": round(full_s, 1),
        "full_refresh_tweets_per_s": round(tweets_rows / full_s),
        "daily_increment_seconds": round(daily_s, 1),
        "daily_over_full": round(daily_s / full_s, 3),
        "tweet_partials_spark_seconds": round(spark_partials_s, 1),
        "tweet_partials_duckdb_seconds": round(duck_s, 1),
        "spark_over_duckdb": round(spark_partials_s / duck_s, 2),
        "peak_rss_mib": peak_rss_mib(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"features_{args.accounts}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
