"""No stage funnels its data through one task.

Every table the end-to-end world's two pipeline runs write has its physical plan recorded
(`recorded_write_plans` in conftest). A plan may gather rows into a single partition only
to finish a global aggregate of per-partition partial results, or a limit: bounded work.
Anything else in one partition (`coalesce(1)`, a window without `partitionBy`, a global
sort into one task) grows with the data and is refused here.
"""

from __future__ import annotations

import re

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

pytestmark = pytest.mark.slow

# What may sit directly under an exchange into one partition: partial aggregates with no
# grouping keys (a global count or sum) and per-partition limits.
BOUNDED_CHILD = re.compile(r"(Hash|ObjectHash|Sort)Aggregate\(keys=\[\],.*partial_|LocalLimit")


def _nodes(plan: str) -> list[tuple[int, str]]:
    """(depth, operator text) per line of a plan tree, in order."""
    out = []
    for line in plan.splitlines():
        match = re.match(r"^([\s:|+\-]*)(\S.*)$", line)
        if match:
            out.append((len(match.group(1)), match.group(2)))
    return out


def single_task_steps(plan: str) -> list[str]:
    """The operators of `plan` that put unbounded work into one task."""
    nodes = _nodes(plan)
    found = []
    for i, (depth, text) in enumerate(nodes):
        if re.match(r"Coalesce 1\b", text) or "RoundRobinPartitioning(1)" in text:
            found.append(text)
        elif text.startswith("Exchange SinglePartition"):
            child = next((t for d, t in nodes[i + 1 :] if d > depth), "")
            if not BOUNDED_CHILD.search(child):
                found.append(f"{text} over {child}")
    return found


def test_the_check_finds_what_it_refuses(spark):
    df = spark.range(100).withColumnRenamed("id", "account_id")

    def plan(frame):
        return frame._jdf.queryExecution().executedPlan().toString()

    assert single_task_steps(plan(df.coalesce(1))) != []
    assert single_task_steps(plan(df.repartition(1))) != []
    unpartitioned = df.select(F.row_number().over(Window.orderBy("account_id")).alias("n"))
    assert single_task_steps(plan(unpartitioned)) != []
    assert single_task_steps(plan(df.agg(F.count("*")))) == []  # partial, then final
    assert single_task_steps(plan(df.groupBy(F.col("account_id") % 3).count())) == []
    assert single_task_steps(plan(df.limit(5))) == []


def test_no_table_write_funnels_through_one_task(e2e_world):
    written = {table for table, _ in e2e_world.plans}
    # Both runs' stages, ingest to report, were recorded.
    assert {"raw.tweets", "features.account_features", "labels.labels", "scores.scores"} <= written
    assert {"scores.review_queue", "quality.quality_results"} <= written
    bad = {table: steps for table, plan in e2e_world.plans if (steps := single_task_steps(plan))}
    assert bad == {}
