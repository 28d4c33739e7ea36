"""Generator and ingest throughput (rows per second) on this machine.

    .venv/bin/python bench/bench_generate_ingest.py --accounts 200000 --days 7

Writes bench/results/generate_ingest.json and prints a table. Rows are all six source
tables together; time is wall time of the stage, including Spark's job scheduling.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

from botdetect.config import load_config
from botdetect.contract import SOURCE_TABLES
from botdetect.generate.world import generate_world
from botdetect.ingest import run_ingest
from botdetect.io.landing import write_export
from botdetect.session import get_spark

RESULTS = Path(__file__).resolve().parent / "results"


def add_set_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--set KEY=VALUE` (repeatable) into `args.overrides`, as the CLI takes it."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def peak_rss_mib() -> dict[str, float]:
    """High-water resident memory of this process and its children (the JVM), in MiB."""
    out = {}
    for pid in [os.getpid(), *_children(os.getpid())]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[f"{name}:{pid}"] = int(line.split()[1]) / 1024
    return out


def _children(pid: int) -> list[int]:
    kids = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # the process ended
        return kids
    for task in tasks:
        try:
            text = (task / "children").read_text().split()
        except FileNotFoundError:  # a JVM thread ended during the walk
            continue
        for child in map(int, text):
            kids += [child, *_children(child)]
    return kids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--root", default="/tmp/botdetect-bench")
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    cfg = load_config(
        "local",
        [
            f"storage.root={args.root}",
            f"generate.accounts={args.accounts}",
            f"generate.days={args.days}",
            "ingest.max_reject_fraction=0",
        ],
    )
    spark = get_spark(cfg.spark)
    start = time.monotonic()
    _, tables = generate_world(spark, cfg.generate, cfg.run_date(), cfg.platform_start)
    for name, table in SOURCE_TABLES.items():
        write_export(
            tables[name].select(*table.columns),
            cfg.storage.landing_root,
            table,
            cfg.generate.format,
        )
    generate_s = time.monotonic() - start
    start = time.monotonic()
    results = run_ingest(spark, cfg, full=True)
    ingest_s = time.monotonic() - start
    rows = {r.table: r.read for r in results}
    total = sum(rows.values())
    report = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "spark": spark.version,
        "accounts": args.accounts,
        "days": args.days,
        "rows": rows,
        "total_rows": total,
        "generate_seconds": round(generate_s, 1),
        "generate_rows_per_s": round(total / generate_s),
        "ingest_seconds": round(ingest_s, 1),
        "ingest_rows_per_s": round(total / ingest_s),
        "peak_rss_mib": peak_rss_mib(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "generate_ingest.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
