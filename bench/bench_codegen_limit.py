"""Why conf/base.yml sets spark.sql.codegen.hugeMethodLimit=8000.

    .venv/bin/python bench/bench_codegen_limit.py

Times the generator's everyday-tweet text expression (with {url}/{num}/{tag} filling) over
2.3M rows, once with Spark's default limit and once with 8000, each in its own session.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

ROWS = 2_300_000


def measure(limit: str | None) -> float:
    from pyspark.sql import functions as F

    from botdetect.config import load_config
    from botdetect.generate import text
    from botdetect.session import get_spark

    spark_conf = load_config("local").spark
    sql = {k: v for k, v in spark_conf.sql.items() if k != "spark.sql.codegen.hugeMethodLimit"}
    if limit:
        sql["spark.sql.codegen.hugeMethodLimit"] = limit
    spark = get_spark(dataclasses.replace(spark_conf, sql=sql))
    key = F.col("id")
    df = spark.range(0, ROWS, numPartitions=8).select(
        text.fill_placeholders(text.human_text(7, key), 7, key).alias("text")
    )
    df.write.format("noop").mode("overwrite").save()  # JIT warm-up
    start = time.monotonic()
    df.write.format("noop").mode("overwrite").save()
    return time.monotonic() - start


if __name__ == "__main__":
    if len(sys.argv) > 1:
        limit = None if sys.argv[1] == "default" else sys.argv[1]
        print(f"{measure(limit):.2f}")
    else:
        for setting in ("default", "8000"):
            out = subprocess.run(
                [sys.executable, __file__, setting], capture_output=True, text=True, check=True
            )
            print(f"hugeMethodLimit={setting}: {out.stdout.strip()} s for {ROWS:,} rows")
