"""The daily feature run on a kept world, and where its roll-up spends its time.

    .venv/bin/python bench/bench_pipeline.py --accounts 250000 --keep-data ...
    .venv/bin/python bench/bench_rollup.py --root /tmp/botdetect-bench-pipeline/250000 \
        --set spark.driver_memory=8g --set spark.shuffle_partitions=16

The world must already hold raw tables, a passed raw quality gate and the window's
`features_daily` partitions for the as-of date (a `bench_pipeline.py --keep-data` scale
has all three).

1. Runs `botdetect features` for the as-of date without `--full-refresh`: one day of
   partials plus the roll-up, the work of a scheduled daily run. `--skip-daily` leaves it
   out.
2. Times each part of the roll-up on its own, each ending in a `noop` write so that
   nothing is collected: the window's element table (persisted, as the job does), the
   activity aggregates, template sharing, IP and device sharing, near-duplicate and
   lock-step pairs (persisted, as the job checkpoints them), the infrastructure components
   and the controller components that merge lock-step edges into them, creation bursts,
   follows, and with `--fused` the whole roll-up as one plan for reference. Then the
   sizes of the lock-step step: active (account, bucket) rows, the pairs that share a
   bucket (what comparing every such pair would cost), and the LSH candidates and
   lock-step pairs with and without the crowded-bucket cut-off. The parts share scans and
   shuffles in the fused plan, so their sum exceeds it.

3. With `--bounds`, what bounds any roll-up that re-reads the window, and what per-day HLL
   sketches would cost instead of the exact per-tweet-key sets: a bare scan and group of
   the window's daily rows, the activity sums alone, rewriting the date's
   `account_features` (the write every daily run pays), per-day sketches built from the
   arrays and unioned over each window, and the element table without the per-tweet keys.
   Scratch data goes to a temporary directory, removed at the end.

Writes bench/results/rollup_<accounts>.json (or --out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_generate_ingest import RESULTS, add_set_option, peak_rss_mib
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import Config, FeaturesConfig, load_config
from botdetect.features.cluster import cluster_sizes, connected_components, merged_components
from botdetect.features.controller import (
    creation_bursts,
    near_duplicate_pairs,
    non_hot_edges,
    resource_sharing,
    template_sharing,
    with_sharers,
)
from botdetect.features.lockstep import (
    account_buckets,
    band_keys,
    bucket_sets,
    candidate_pairs,
    is_lockstep,
    lockstep_pairs,
    pair_edges,
    scored_pairs,
    uncrowded,
)
from botdetect.features.profile import follow_features, profile_features
from botdetect.features.rollup import (
    SET_COLUMNS,
    activity_features,
    in_window,
    kind_elements,
    window_elements,
    window_sums,
)
from botdetect.features.stage import (
    RollupInputs,
    build_account_features,
    rollup_inputs,
    run_features,
)
from botdetect.io.tables import clustered, read_table
from botdetect.privacy import pseudonym_key
from botdetect.session import get_spark
from botdetect.table_catalog import ACCOUNT_FEATURES

log = logging.getLogger("bench")


def noop_write(df: DataFrame) -> None:
    """Compute `df` in full without collecting or storing it."""
    df.write.format("noop").mode("overwrite").save()


def rollup_parts(
    inputs: RollupInputs,
    as_of: dt.date,
    cfg: FeaturesConfig,
    *,
    fused: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Seconds of each roll-up part, and the sizes of its inputs."""
    daily_df, accounts_df = inputs.daily, inputs.accounts
    windows = sorted(cfg.windows)
    parts: list[dict[str, Any]] = []
    start = time.monotonic()
    elements = window_elements(daily_df, as_of, windows[-1]).persist(StorageLevel.MEMORY_AND_DISK)
    by_kind = {
        SET_COLUMNS[r["kind"]]: r["count"] for r in elements.groupBy("kind").count().collect()
    }
    seconds = round(time.monotonic() - start, 2)
    parts.append({"part": "window elements (explode, persist)", "seconds": seconds})
    lockstep: DataFrame | None = None
    try:
        ip_pairs = with_sharers(kind_elements(elements, "ip_hashes"))
        device_pairs = with_sharers(kind_elements(elements, "device_hashes"))
        edges = non_hot_edges(ip_pairs, cfg.hot_ip_accounts, "ip").unionByName(
            non_hot_edges(device_pairs, cfg.hot_device_accounts, "device")
        )
        lockstep = lockstep_pairs(daily_df, as_of, cfg).persist(StorageLevel.MEMORY_AND_DISK)
        shared: dict[str, DataFrame] = {}  # the infrastructure components, for the next step
        steps: list[tuple[str, Callable[[], DataFrame]]] = [
            (
                "activity (sums, distinct counts)",
                lambda: activity_features(daily_df, elements, as_of, windows),
            ),
            ("template sharing", lambda: template_sharing(elements, cfg)),
            ("IP sharing", lambda: resource_sharing(ip_pairs, cfg.hot_ip_accounts, "ip")),
            (
                "device sharing",
                lambda: resource_sharing(device_pairs, cfg.hot_device_accounts, "device"),
            ),
            ("near-duplicate pairs", lambda: near_duplicate_pairs(elements, cfg)),
            # Persisted as the job checkpoints them: the controller step reuses the pairs.
            ("lock-step pairs (LSH, exact check)", lambda: lockstep),
            (
                "connected components",
                lambda: cluster_sizes(
                    shared.setdefault(
                        "infrastructure",
                        connected_components(edges, cfg.cluster_max_iterations),
                    )
                ),
            ),
            (
                "controller components (lock-step edges merged in)",
                lambda: merged_components(
                    shared["infrastructure"],
                    pair_edges(lockstep, "lockstep"),
                    cfg.cluster_max_iterations,
                ),
            ),
            ("creation bursts", lambda: creation_bursts(accounts_df, cfg)),
            ("follows", lambda: follow_features(inputs.follows, inputs.spam, as_of, windows)),
            ("profile", lambda: profile_features(accounts_df, as_of)),
        ]
        if fused:
            steps.append(
                (
                    "whole roll-up, fused (reference)",
                    lambda: build_account_features(
                        daily_df,
                        accounts_df,
                        inputs.follows,
                        inputs.spam,
                        as_of,
                        cfg,
                        elements,
                    ),
                )
            )
        for name, build in steps:
            start = time.monotonic()
            noop_write(build())  # connected components runs its rounds in build()
            seconds = round(time.monotonic() - start, 2)
            log.info("roll-up part %s: %.1f s", name, seconds)
            parts.append({"part": name, "seconds": seconds})
    finally:
        elements.unpersist()
        if lockstep is not None:
            lockstep.unpersist()
    # What the explode reads (set elements summed over the window's days) against what it
    # keeps (distinct per account): the room an element state carried day to day would have.
    exploded = daily_df.agg(
        F.count("*").alias("rows"),
        *[F.sum(F.size(F.coalesce(c, F.array()))).alias(c) for c in SET_COLUMNS],
    ).first()
    sizes = {
        "features_daily_rows": exploded["rows"],
        "exploded_rows": sum(exploded[c] or 0 for c in SET_COLUMNS),
        **{f"exploded_rows_{c}": exploded[c] or 0 for c in SET_COLUMNS},
        "element_rows": sum(by_kind.values()),
        **{f"element_rows_{k}": v for k, v in sorted(by_kind.items())},
    }
    return parts, sizes


def lockstep_sizes(daily_df: DataFrame, as_of: dt.date, cfg: FeaturesConfig) -> dict[str, Any]:
    """How many pairs lock-step similarity looks at, with and without the crowd cut-off,
    against the pairs that share a bucket (what comparing every such pair would cost)."""
    buckets = account_buckets(daily_df, as_of, cfg).persist(StorageLevel.MEMORY_AND_DISK)
    per_bucket = buckets.groupBy("bucket").agg(F.count("*").alias("n"))
    totals = per_bucket.agg(
        F.count("*").alias("buckets"),
        F.sum("n").alias("account_buckets"),
        F.max("n").alias("max_accounts_per_bucket"),
        F.sum(F.col("n") * (F.col("n") - 1) / 2).alias("pairs_sharing_a_bucket"),
    ).first()
    out: dict[str, Any] = {f"lockstep_{k}": v for k, v in totals.asDict().items()}
    try:
        for label, kept in (
            ("", uncrowded(buckets, cfg.lockstep_crowd_factor)),
            ("_without_crowd_cut", buckets),
        ):
            sets = bucket_sets(kept, cfg.lockstep_min_shared).persist()
            keys = band_keys(sets, cfg.lockstep_bands, cfg.lockstep_rows, cfg.minhash_seed)
            candidates = candidate_pairs(keys, cfg.lockstep_max_key_accounts).persist()
            pairs = scored_pairs(candidates, sets, cfg).where(is_lockstep(cfg))
            out[f"lockstep_account_buckets_kept{label}"] = kept.count()
            out[f"lockstep_candidate_pairs{label}"] = candidates.count()
            out[f"lockstep_pairs{label}"] = pairs.count()
            candidates.unpersist()
            sets.unpersist()
    finally:
        buckets.unpersist()
    return out


# Set columns whose distinct counts per-day HLL sketches would replace: the per-tweet keys.
SKETCHED = ["templates", "nd_keys", "recipients"]


def bound_parts(
    spark: SparkSession, cfg: Config, daily_df: DataFrame, as_of: dt.date, scratch: Path
) -> list[dict[str, Any]]:
    """Seconds of the steps that bound a window-reading roll-up, and of a sketched one."""
    windows = sorted(cfg.features.windows)
    lg_k = 12  # 4 KiB per sketch at most, about 1.6% relative error; exact to ~300 elements
    sketch_path = str(scratch / "sketches")

    def scan() -> None:
        noop_write(daily_df.groupBy("account_id").count())

    def sums() -> None:
        noop_write(window_sums(daily_df, as_of, windows))

    def rewrite() -> None:
        ref = ACCOUNT_FEATURES.ref(cfg.storage)
        day = read_table(spark, ref).where(F.col("as_of_date") == F.lit(as_of))
        clustered(day, "account_id").write.format("delta").save(str(scratch / "rewrite"))

    def build_sketches() -> None:
        exploded = daily_df.select(
            "account_id",
            "event_date",
            F.inline(
                F.array(
                    *[
                        F.struct(F.lit(c).alias("kind"), F.col(c).alias("elements"))
                        for c in SKETCHED
                    ]
                )
            ),
        ).select("account_id", "event_date", "kind", F.explode("elements").alias("element"))
        per_day = exploded.groupBy("account_id", "event_date").agg(
            *[
                F.hll_sketch_agg(F.when(F.col("kind") == c, F.col("element")), lg_k).alias(c)
                for c in SKETCHED
            ]
        )
        per_day.write.parquet(sketch_path)

    def union_sketches() -> None:
        noop_write(estimates())

    def estimates() -> DataFrame:
        return (
            spark.read.parquet(sketch_path)
            .groupBy("account_id")
            .agg(
                *[
                    F.hll_sketch_estimate(
                        F.hll_union_agg(F.when(in_window(as_of, w), F.col(c)))
                    ).alias(f"{c}_{w}")
                    for w in windows
                    for c in SKETCHED
                ]
            )
        )

    def unsketched_elements() -> None:
        # As the parts time the full element table: persisted, then counted by kind.
        emptied = daily_df.select(
            "account_id",
            "event_date",
            *[
                (F.array().cast("array<bigint>") if c in SKETCHED else F.col(c)).alias(c)
                for c in SET_COLUMNS
            ],
        )
        elements = window_elements(emptied, as_of, windows[-1]).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        elements.groupBy("kind").count().collect()
        elements.unpersist()

    steps: list[tuple[str, Callable[[], None]]] = [
        ("bound: scan and group the window's daily rows", scan),
        ("bound: activity sums alone", sums),
        ("bound: rewrite the date's account_features", rewrite),
        ("sketch: per-day HLL sketches from the arrays (once)", build_sketches),
        ("sketch: HLL union over every window", union_sketches),
        ("sketch: element table without per-tweet keys", unsketched_elements),
    ]
    parts: list[dict[str, Any]] = []
    for name, run in steps:
        start = time.monotonic()
        run()
        seconds = round(time.monotonic() - start, 2)
        log.info("%s: %.1f s", name, seconds)
        parts.append({"part": name, "seconds": seconds})
    # How far the sketches' distinct recipients over the largest window are from the exact
    # feature the job wrote (not timed).
    largest = windows[-1]
    exact = (
        read_table(spark, ACCOUNT_FEATURES.ref(cfg.storage))
        .where(F.col("as_of_date") == F.lit(as_of))
        .select("account_id", F.col(f"distinct_recipients_{largest}d").alias("exact"))
    )
    error = F.abs(F.col(f"recipients_{largest}") - F.col("exact")) / F.greatest("exact", F.lit(1))
    accuracy = (
        exact.join(estimates(), "account_id", "inner")
        .agg(
            F.count("*").alias("accounts"),
            F.avg((error == 0).cast("int")).alias("share_exact"),
            F.percentile_approx(error, 0.99).alias("p99_relative_error"),
            F.max(error).alias("max_relative_error"),
        )
        .first()
    )
    parts.append({"part": f"sketch accuracy, distinct recipients {largest}d", **accuracy.asDict()})
    return parts


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="a world kept by bench_pipeline.py")
    parser.add_argument("--conf", default="local")
    add_set_option(parser, "configuration override, as the CLI takes it (repeatable)")
    parser.add_argument("--skip-daily", action="store_true", help="only the roll-up parts")
    parser.add_argument("--skip-parts", action="store_true", help="only the daily run")
    parser.add_argument(
        "--fused", action="store_true", help="also time the whole roll-up as one plan"
    )
    parser.add_argument(
        "--bounds", action="store_true", help="also time the floor and a sketched roll-up"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = load_config(args.conf, [f"storage.root={args.root}", *args.overrides])
    as_of = cfg.run_date()
    spark = get_spark(cfg.spark)
    report: dict[str, Any] = {"root": args.root, "as_of_date": str(as_of)}
    if not args.skip_daily:
        start = time.monotonic()
        daily = run_features(spark, cfg)
        report["daily_run"] = {
            "seconds": round(time.monotonic() - start, 1),
            "days_of_partials": len(daily.daily_dates),
            "partials_seconds": round(daily.partials_seconds, 1),
            "rollup_seconds": round(daily.rollup_seconds, 1),
        }
        log.info("daily run: %s", report["daily_run"])

    key = pseudonym_key(cfg.features.pseudonym_key_env, cfg.env)
    if not args.skip_parts:
        report |= roll_up_breakdown(spark, cfg, as_of, key, fused=args.fused)
    if args.bounds:
        scratch = Path(tempfile.mkdtemp(prefix="botdetect-bounds-"))
        try:
            report["bounds"] = bound_parts(
                spark, cfg, rollup_inputs(spark, cfg, as_of, key).daily, as_of, scratch
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    report["peak_rss_mib"] = peak_rss_mib()
    out = Path(args.out) if args.out else RESULTS / f"rollup_{cfg.generate.accounts}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    for part in [*report.get("parts", []), *report.get("bounds", [])]:
        if "seconds" in part:
            print(f"{part['part']:<55} {part['seconds']:>9.1f} s")
        else:
            print(part)
    print(f"wrote {out}")


def roll_up_breakdown(
    spark: SparkSession, cfg: Config, as_of: dt.date, key: str, *, fused: bool
) -> dict[str, Any]:
    """The world's sizes and the seconds of each roll-up part for `as_of`."""
    inputs = rollup_inputs(spark, cfg, as_of, key)
    parts, sizes = rollup_parts(inputs, as_of, cfg.features, fused=fused)
    sizes |= lockstep_sizes(inputs.daily, as_of, cfg.features)
    return {"accounts": inputs.accounts.count(), **sizes, "parts": parts}


if __name__ == "__main__":
    main()
