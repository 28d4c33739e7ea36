"""Connected components of the account-IP/device graph (shared infrastructure excluded).

GraphFrames' jar is not published on Maven Central for Spark 4, so components are found
with the classic two-phase min-label propagation on the bipartite graph: each resource
takes the smallest label of its accounts, each account the smallest label of its
resources. Botnet components have a small diameter once hot IPs are removed, so a few
rounds converge; each round is checkpointed so the plan does not grow.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger(__name__)


class ClusterConvergenceError(RuntimeError):
    """Label propagation did not converge within the configured rounds."""


def connected_components(edges_df: DataFrame, max_iterations: int) -> DataFrame:
    """(account_id, resource) edges -> (account_id, cluster_id) with the smallest member id.

    Accounts without edges are not in the result; callers give them their own id.
    """
    edges = edges_df.select("account_id", "resource").distinct().localCheckpoint()
    labels = edges.select("account_id").distinct().withColumn("label", F.col("account_id"))
    labels = labels.localCheckpoint()
    for round_no in range(1, max_iterations + 1):
        resource_labels = (
            edges.join(labels, "account_id", how="inner")
            .groupBy("resource")
            .agg(F.min("label").alias("label"))
        )
        proposed = (
            edges.join(resource_labels, "resource", how="inner")
            .groupBy("account_id")
            .agg(F.min("label").alias("proposed"))
        )
        updated = (
            labels.join(proposed, "account_id", how="left")
            .select(
                "account_id",
                F.least(F.col("label"), F.coalesce(F.col("proposed"), F.col("label"))).alias(
                    "label"
                ),
                (F.col("proposed") < F.col("label")).alias("changed"),
            )
            .localCheckpoint()
        )
        changed = updated.where("changed").count()
        labels = updated.drop("changed")
        log.info("clusters: round %d, %d labels changed", round_no, changed)
        if changed == 0:
            return labels.withColumnRenamed("label", "cluster_id")
    raise ClusterConvergenceError(
        f"connected components did not converge in {max_iterations} rounds; "
        "raise features.cluster_max_iterations or lower the hot IP/device caps"
    )


def cluster_sizes(components_df: DataFrame) -> DataFrame:
    """(account_id, cluster_id) -> plus cluster_size, the number of accounts in it."""
    sizes = components_df.groupBy("cluster_id").agg(F.count("*").alias("cluster_size"))
    return components_df.join(sizes, "cluster_id", how="inner")
