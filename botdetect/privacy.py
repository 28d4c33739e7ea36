"""Pseudonymisation of IP addresses and device ids before they reach feature tables.

Values are replaced by a keyed SHA-256 (HMAC construction, in built-in Spark functions)
truncated to a positive long: equal inputs stay equal, so sharing can still be counted,
but without the key the original cannot be recovered by hashing every IPv4 address.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

LOCAL_DEV_KEY = "botdetect-local-development-key"
_BLOCK = 64  # SHA-256 block size in bytes
_INNER_PAD = 0x36
_OUTER_PAD = 0x5C


class MissingKeyError(RuntimeError):
    """No pseudonymisation key where one is required."""


def pseudonym_key(env_var: str, env: str) -> str:
    """The key from the environment; prod refuses to run without it, local warns."""
    key = os.environ.get(env_var)
    if key:
        return key
    if env == "prod":
        raise MissingKeyError(
            f"the pseudonymisation key is missing: set ${env_var} (on Databricks, from a "
            "secret scope); prod never runs with the development key"
        )
    log.warning("$%s is not set: using the local development key (env=%s)", env_var, env)
    return LOCAL_DEV_KEY


def _pad(key: bytes, byte: int) -> str:
    """The key XOR-ed with the pad byte, as hex, for the HMAC construction."""
    padded = key.ljust(_BLOCK, b"\0") if len(key) <= _BLOCK else key
    return bytes(b ^ byte for b in padded).hex()


def keyed_hash(value: Column, key: str) -> Column:
    """HMAC-SHA256(key, value) truncated to 62 bits as a non-negative long; null stays null."""
    key_bytes = key.encode()
    if len(key_bytes) > _BLOCK:
        raise ValueError("the pseudonymisation key must be at most 64 bytes")
    inner = F.unhex(
        F.sha2(
            F.concat(
                F.unhex(F.lit(_pad(key_bytes, _INNER_PAD))), value.cast("string").cast("binary")
            ),
            256,
        )
    )
    outer = F.sha2(F.concat(F.unhex(F.lit(_pad(key_bytes, _OUTER_PAD))), inner), 256)
    return F.when(value.isNotNull(), F.conv(F.substring(outer, 1, 15), 16, 10).cast("long"))
