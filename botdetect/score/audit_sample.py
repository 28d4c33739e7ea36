"""The audit sample of a scoring run: which scored accounts ops should review at random.

Precision on live data cannot come from ops's own reviews: they look where users report
and where rules fire, never at a random account. So every scoring run draws, per decision
band (a stratum), a simple random sample of `score.audit_sample[band]` accounts, and
writes it with the band's size, so that the verdicts that come back estimate each band's
spam share, and any mix of bands, without bias (report/audited.py).

The draw is a hash of (as-of date, account id): the same date and bands give the same
sample, so a rerun does not ask ops for different accounts. Within a band the accounts
with the smallest draws are taken, which is a simple random sample without replacement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from botdetect.io.rows import rows_frame
from botdetect.table_catalog import AUDIT_REQUESTS, schema_of

_MASK = (1 << 53) - 1
# Rows kept before ranking: (margin x budget + slack) / band size of each band. The rank
# only has to order a few hundred rows per band instead of every allowed account.
_MARGIN, _SLACK = 4, 64


def audit_draw(as_of: dt.date, account_id: Column) -> Column:
    """A uniform draw in [0, 1) per (date, account), the same on every rerun."""
    hashed = F.xxhash64(F.lit(as_of.isoformat()), F.lit("audit"), account_id)
    return hashed.bitwiseAND(F.lit(_MASK)).cast("double") / F.lit(float(_MASK + 1))


def audit_sample(
    scores_df: DataFrame,
    band_sizes: Mapping[str, int],
    budgets: Mapping[str, int],
    as_of: dt.date,
) -> DataFrame:
    """Up to `budgets[band]` accounts of each band of `scores_df` (account_id, decision,
    score, for one date), drawn at random, with the band's size and sample size.

    `band_sizes` are the accounts per decision (the run has counted them already); a band
    missing from `budgets` or with budget 0 is not audited. The pre-filter keeps each row
    with probability (4 x budget + 64) / size, so a band keeps fewer rows than its budget
    only with vanishing probability; `band_sampled` counts what was really drawn, so the
    weights stay right even then.
    """
    keep = {
        band: min(1.0, (_MARGIN * budgets[band] + _SLACK) / size)
        for band, size in band_sizes.items()
        if size > 0 and budgets.get(band, 0) > 0
    }
    if not keep:
        return rows_frame(scores_df.sparkSession, [], schema_of(AUDIT_REQUESTS))
    draw = audit_draw(as_of, F.col("account_id"))
    rate = F.lit(None).cast("double")
    limit = F.lit(None).cast("long")
    size = F.lit(None).cast("long")
    for band, p in keep.items():
        chosen = F.col("decision") == band
        rate = F.when(chosen, F.lit(p)).otherwise(rate)
        limit = F.when(chosen, F.lit(budgets[band])).otherwise(limit)
        size = F.when(chosen, F.lit(band_sizes[band])).otherwise(size)
    candidates = scores_df.select(
        "account_id",
        "decision",
        "score",
        draw.alias("draw"),
        rate.alias("rate"),
        limit.alias("budget"),
        size.alias("band_accounts"),
    ).where(F.col("draw") < F.col("rate"))
    band = Window.partitionBy("decision")
    ranked = candidates.withColumn(
        "rank", F.row_number().over(band.orderBy("draw", "account_id"))
    ).where(F.col("rank") <= F.col("budget"))
    return ranked.select(
        F.lit(as_of).alias("as_of_date"),
        F.col("account_id").cast("long"),
        "decision",
        F.col("score").cast("double"),
        F.col("band_accounts").cast("long"),
        F.count("*").over(band).cast("long").alias("band_sampled"),
    )
