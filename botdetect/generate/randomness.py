"""Counter-based randomness for the synthetic world, as Spark columns.

Every random draw is a hash of (seed, a salt naming the draw, the row's ids)
(`botdetect.draws.uniform` and the integer draws below), so a value does not depend on
partitioning, task order or the number of executors: the same seed gives the same world
on a laptop and on a 500-node cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from botdetect.draws import uniform

_LONG_MASK_48 = (1 << 48) - 1


def randint(seed: int, salt: str, n: Column | int, *keys: Column | str) -> Column:
    """A deterministic integer in [0, n)."""
    return F.floor(uniform(seed, salt, *keys) * n).cast("long")


def bernoulli(seed: int, salt: str, p: Column | float, *keys: Column | str) -> Column:
    return uniform(seed, salt, *keys) < p


def exponential(seed: int, salt: str, mean: Column | float, *keys: Column | str) -> Column:
    """An exponential draw with the given mean (inverse-CDF of a uniform)."""
    return -F.log1p(-uniform(seed, salt, *keys)) * mean


def geometric(seed: int, salt: str, mean: Column | float, *keys: Column | str) -> Column:
    """A non-negative integer count whose mean is roughly `mean` (floored exponential)."""
    return F.floor(exponential(seed, salt, mean, *keys)).cast("int")


def pick(values: Sequence[str] | Column, index: Column) -> Column:
    """values[index] for a 0-based index column; `values` a Python list or an array column."""
    array = values if isinstance(values, Column) else F.array(*[F.lit(v) for v in values])
    return F.element_at(array, (index % F.size(array) + 1).cast("int"))


def positive_id(seed: int, salt: str, *keys: Column | str) -> Column:
    """A stable positive 48-bit id (device ids and the like)."""
    return F.xxhash64(F.lit(seed), F.lit(salt), *keys).bitwiseAND(F.lit(_LONG_MASK_48)) + 1


def ipv4(first_octet: Column | int, seed: int, salt: str, *keys: Column | str) -> Column:
    """An IPv4 string with a fixed first octet and the other three drawn from the keys."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *keys)
    first = first_octet if isinstance(first_octet, Column) else F.lit(first_octet)
    return F.concat_ws(
        ".",
        first.cast("string"),
        F.shiftright(h, 8).bitwiseAND(F.lit(255)).cast("string"),
        F.shiftright(h, 16).bitwiseAND(F.lit(255)).cast("string"),
        (F.shiftright(h, 24).bitwiseAND(F.lit(253)) + 1).cast("string"),
    )
