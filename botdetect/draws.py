"""Deterministic draws as Spark columns: a hash of (seed, a salt naming the draw, the
row's keys) mapped to [0, 1).

A value does not depend on partitioning, task order or the number of executors, so a
down-sample, a split or a bootstrap replicate is the same on a laptop and on a cluster,
and a rerun for the same date draws the same rows. The synthetic generator builds its
world from the same draws (`generate/randomness.py`).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

_MANTISSA_MASK = (1 << 53) - 1
_SCALE = float(1 << 53)


def uniform(seed: int, salt: str, *keys: Column | str) -> Column:
    """A deterministic draw in [0, 1) for the given keys."""
    hashed = F.xxhash64(F.lit(seed), F.lit(salt), *keys)
    return hashed.bitwiseAND(F.lit(_MANTISSA_MASK)).cast("double") / F.lit(_SCALE)
