"""The lock-step step alone on a kept world, and who it pairs, judged by the world's truth.

    .venv/bin/python bench/bench_lockstep.py --root /tmp/bb-250k/250000 \
        --set as_of_date=2026-11-28 --set generate.accounts=250000 \
        --set spark.driver_memory=14g --set spark.shuffle_partitions=32

Runs the feature job's lock-step step (`features.lockstep.lockstep_pairs`, persisted as
the job checkpoints it) on the window's `features_daily` partitions and times it alone.
Then, from the world's ground truth (synthetic worlds only): the lock-step pairs by the
kinds of their two accounts, the accounts with a partner by kind, and the largest
lock-step component holding an account that is not a spam bot (a person, benign
automation or a feed: the controls that must not gain partners in bulk).

Writes bench/results/lockstep_<accounts>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from bench_generate_ingest import RESULTS, add_set_option, peak_rss_mib
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.features.cluster import cluster_sizes, connected_components
from botdetect.features.lockstep import lockstep_pairs, pair_edges
from botdetect.io.tables import read_table
from botdetect.session import get_spark
from botdetect.table_catalog import FEATURES_DAILY, GROUND_TRUTH

log = logging.getLogger("bench")


def pairs_by_kinds(pairs_df: DataFrame, kinds_df: DataFrame) -> dict[str, int]:
    """Lock-step pairs counted by the sorted kinds of their accounts ("evasive/evasive")."""
    kind_a = kinds_df.select(F.col("account_id").alias("a"), F.col("kind").alias("ka"))
    kind_b = kinds_df.select(F.col("account_id").alias("b"), F.col("kind").alias("kb"))
    both = F.array_join(F.array_sort(F.array("ka", "kb")), "/")
    rows = (
        pairs_df.join(kind_a, "a", how="left")
        .join(kind_b, "b", how="left")
        .groupBy(both.alias("kinds"))
        .count()
        .collect()
    )
    return {r["kinds"]: r["count"] for r in sorted(rows, key=lambda r: -r["count"])}


def partners_by_kind(pairs_df: DataFrame, kinds_df: DataFrame) -> dict[str, int]:
    """Accounts with at least one lock-step partner, by kind."""
    accounts = pairs_df.select(F.col("a").alias("account_id")).unionByName(
        pairs_df.select(F.col("b").alias("account_id"))
    )
    rows = accounts.distinct().join(kinds_df, "account_id", how="left").groupBy("kind").count()
    return {r["kind"]: r["count"] for r in sorted(rows.collect(), key=lambda r: -r["count"])}


def largest_benign_component(components_df: DataFrame, kinds_df: DataFrame) -> dict[str, Any]:
    """The largest lock-step component with a member that is not a spam bot, and its kinds."""
    members = cluster_sizes(components_df).join(kinds_df, "account_id", how="left")
    benign = members.where(~F.col("is_spam_bot")).select("cluster_id").distinct()
    top = (
        members.join(benign, "cluster_id", how="inner")
        .groupBy("cluster_id", "cluster_size")
        .agg(F.collect_set("kind").alias("kinds"))
        .orderBy(F.desc("cluster_size"))
        .first()
    )
    return {"size": top["cluster_size"], "kinds": sorted(top["kinds"])} if top else {"size": 0}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="a world kept by a bench run")
    parser.add_argument("--conf", default="local")
    add_set_option(parser, "configuration override, as the CLI takes it (repeatable)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = load_config(args.conf, [f"storage.root={args.root}", *args.overrides])
    as_of = cfg.run_date()
    spark = get_spark(cfg.spark)
    daily = read_table(spark, FEATURES_DAILY.ref(cfg.storage))
    start = time.monotonic()
    pairs = lockstep_pairs(daily, as_of, cfg.features).persist(StorageLevel.MEMORY_AND_DISK)
    count = pairs.count()
    seconds = round(time.monotonic() - start, 1)
    log.info("lock-step pairs: %d in %.1f s", count, seconds)
    kinds = read_table(spark, GROUND_TRUTH.ref(cfg.storage)).select(
        "account_id", F.col("bot_kind").alias("kind"), "is_spam_bot"
    )
    components = connected_components(
        pair_edges(pairs, "lockstep"), cfg.features.cluster_max_iterations
    )
    report = {
        "root": args.root,
        "as_of_date": str(as_of),
        "rule": {
            k: getattr(cfg.features, k) for k in vars(cfg.features) if k.startswith("lockstep_")
        },
        "lockstep_step_seconds": seconds,
        "lockstep_pairs": count,
        "pairs_by_kinds": pairs_by_kinds(pairs, kinds),
        "accounts_with_partners_by_kind": partners_by_kind(pairs, kinds),
        "largest_component_with_a_benign_member": largest_benign_component(components, kinds),
        "peak_rss_mib": peak_rss_mib(),
    }
    out = Path(args.out) if args.out else RESULTS / f"lockstep_{cfg.generate.accounts}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
