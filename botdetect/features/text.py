"""Column functions over tweet text: normalisation, templates and near-duplicate keys.

Regular expressions are the cost of this module on billions of tweets, so each mask runs
only on texts where a cheap substring test says it can match, and the white-space pass
rewrites only runs that change (not every single space).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

URL_RE = r"https?://\S+|www\.\S+"
MENTION_RE = r"@\w+"
NUMBER_RE = r"[$€£]?\d[\w.,%]*"  # a number with its unit or suffix: 21C, 5k, $1,000
# Replacing these with one space equals collapsing every run of white space (\s+).
WHITESPACE_RE = r"\s{2,}|[^\S ]"
MINHASH_FUNCTIONS = 2  # one band of two rows: tweets collide with probability J^2


def _mask(text: Column, pattern: str, token: str, can_match: Column) -> Column:
    return F.when(can_match, F.regexp_replace(text, pattern, f" {token} ")).otherwise(text)


def normalise_text(text: Column) -> Column:
    """Lower-case, mask URLs, mentions and numbers, collapse white space."""
    lowered = F.lower(text)
    masked = _mask(lowered, URL_RE, "<url>", lowered.contains("http") | lowered.contains("www."))
    masked = _mask(masked, MENTION_RE, "<user>", masked.contains("@"))
    masked = _mask(masked, NUMBER_RE, "<num>", masked.rlike(r"\d"))
    return F.trim(F.regexp_replace(masked, WHITESPACE_RE, " "))


def template_hash(normalised: Column) -> Column:
    """A 64-bit id of a normalised text: equal templates, equal ids."""
    return F.xxhash64(normalised)


def tokens(normalised: Column) -> Column:
    """The normalised text's tokens (masks included); empty for an empty text."""
    return F.when(normalised == "", F.array().cast("array<string>")).otherwise(
        F.split(normalised, " ")
    )


def minhash_words(token_array: Column) -> Column:
    """The tokens a near-duplicate key hashes: words, without the masks."""
    return F.filter(token_array, lambda w: ~w.startswith("<"))


def near_duplicate_key_of_words(words: Column, seed: int) -> Column:
    """A MinHash band key over a word array (see `near_duplicate_key`).

    `words` should be a column computed once (Spark does not share a higher-order
    function's work between the expressions that use it).
    """
    mins = [F.array_min(F.transform(words, _hash_with(seed + i))) for i in range(MINHASH_FUNCTIONS)]
    return F.when(F.size(words) > 0, F.xxhash64(*mins))


def near_duplicate_key(normalised: Column, seed: int) -> Column:
    """A MinHash band key over the text's word set (masks excluded).

    Two tweets share the key with probability J^2, J the Jaccard similarity of their
    words: paraphrases of one template collide often, unrelated tweets almost never.
    Null for a text with no words.
    """
    return near_duplicate_key_of_words(minhash_words(tokens(normalised)), seed)


def _hash_with(seed: int) -> Callable[[Column], Column]:
    """One MinHash function: Spark inspects the lambda's arity, so no default arguments."""
    return lambda word: F.xxhash64(F.lit(seed), word)
