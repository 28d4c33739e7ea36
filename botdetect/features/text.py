"""Column functions over tweet text: normalisation, templates and near-duplicate keys."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

URL_RE = r"https?://\S+|www\.\S+"
MENTION_RE = r"@\w+"
NUMBER_RE = r"[$€£]?\d[\w.,%]*"  # a number with its unit or suffix: 21C, 5k, $1,000
MINHASH_FUNCTIONS = 2  # one band of two rows: tweets collide with probability J^2


def normalise_text(text: Column) -> Column:
    """Lower-case, mask URLs, mentions and numbers, collapse white space."""
    lowered = F.lower(text)
    masked = F.regexp_replace(lowered, URL_RE, " <url> ")
    masked = F.regexp_replace(masked, MENTION_RE, " <user> ")
    masked = F.regexp_replace(masked, NUMBER_RE, " <num> ")
    return F.trim(F.regexp_replace(masked, r"\s+", " "))


def template_hash(normalised: Column) -> Column:
    """A 64-bit id of a normalised text: equal templates, equal ids."""
    return F.xxhash64(normalised)


def token_count(normalised: Column) -> Column:
    return F.when(normalised == "", 0).otherwise(F.size(F.split(normalised, " ")))


def near_duplicate_key(normalised: Column, seed: int) -> Column:
    """A MinHash band key over the text's word set (masks excluded).

    Two tweets share the key with probability J^2, J the Jaccard similarity of their
    words: paraphrases of one template collide often, unrelated tweets almost never.
    Null for a text with no words.
    """
    words = F.array_distinct(
        F.filter(F.split(normalised, " "), lambda w: (w != "") & ~w.startswith("<"))
    )
    mins = [F.array_min(F.transform(words, _hash_with(seed + i))) for i in range(MINHASH_FUNCTIONS)]
    return F.when(F.size(words) > 0, F.xxhash64(*mins))


def _hash_with(seed: int):
    """One MinHash function: Spark inspects the lambda's arity, so no default arguments."""
    return lambda word: F.xxhash64(F.lit(seed), word)
