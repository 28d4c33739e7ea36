"""Lock-step activity: accounts whose logins and tweets fall in the same time buckets.

One controller schedules its bots, so their actions share short time buckets far more
often than independent people's do, even when every bot has its own IP, device and
wording. Each account's activity over `lockstep_window_days` is a set of
`lockstep_bucket_seconds`-wide buckets (`features_daily.activity_buckets`); two accounts
are lock-step partners when their sets share at least `lockstep_min_shared` buckets and
their Jaccard similarity is at least `lockstep_min_similarity`, and the shared buckets are
not explained by clocks: modulo the usual period that fits them best (`clock_phases`) they
spread over at least `lockstep_min_phases` effective phases. Coincidences at the same
phase of a period every time are a shared clock (feeds every 15 minutes, cron jobs on the
hour, posting at the top of the hour), not a shared controller, whose sessions fall at
any time.

Comparing every pair that shares a bucket cannot scale: at a million accounts every
minute of the day holds thousands of active accounts. So:

1. Crowded buckets leave every set first: a bucket with more active accounts than
   `lockstep_crowd_factor` times the window's mean per bucket (the top of the hour, a
   viral moment) says nothing about a shared controller.
2. Candidate pairs come from MinHash locality-sensitive hashing of the sets
   (`lockstep_bands` bands of `lockstep_rows` functions): a pair of similarity J shares a
   band key with probability 1 - (1 - J^r)^b, so partners are found and independent
   people (J near 0) almost never meet. A band key shared by more than
   `lockstep_max_key_accounts` accounts makes no pairs, which bounds the work: at most
   (max - 1) / 2 candidate pairs per account and band.
3. Each candidate pair's similarity is then computed exactly from the two sets.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from botdetect.config import FeaturesConfig
from botdetect.features.cluster import cluster_sizes, connected_components
from botdetect.features.daily import BUCKETS_COLUMN
from botdetect.features.rollup import in_window

LOCKSTEP_COLUMNS = ["lockstep_partners", "lockstep_max_similarity", "lockstep_component_size"]


def account_buckets(daily_df: DataFrame, as_of: dt.date, cfg: FeaturesConfig) -> DataFrame:
    """(account_id, bucket): the distinct active buckets of each account in the window.

    No `distinct` is needed (it was a shuffle of every row): `features_daily` has one row
    per account and event day, each row's buckets are distinct, and a bucket lies inside
    one day (its width divides an hour, so a day holds whole buckets) and so in one row.
    """
    return daily_df.where(in_window(as_of, cfg.lockstep_window_days)).select(
        "account_id", F.explode(BUCKETS_COLUMN).alias("bucket")
    )


def uncrowded(buckets_df: DataFrame, crowd_factor: float) -> DataFrame:
    """`buckets_df` without its crowded buckets: those with more active accounts than
    `crowd_factor` times the mean over the buckets that have any."""
    per_bucket = buckets_df.groupBy("bucket").agg(F.count("*").alias("active"))
    limit = per_bucket.agg((F.avg("active") * F.lit(crowd_factor)).alias("limit"))
    kept = per_bucket.crossJoin(limit).where(F.col("active") <= F.col("limit")).select("bucket")
    return buckets_df.join(F.broadcast(kept), "bucket", how="inner")


def bucket_sets(buckets_df: DataFrame, min_size: int) -> DataFrame:
    """(account_id, buckets): sorted bucket arrays of the accounts with at least
    `min_size` buckets (fewer can never share `min_size`). Buckets are held as 32-bit
    integers (minutes since 1970 fit until the year 6053): the candidate pairs' join
    moves one of these arrays per pair, the largest shuffle of the step."""
    return (
        buckets_df.groupBy("account_id")
        .agg(F.array_sort(F.collect_list(F.col("bucket").cast("int"))).alias("buckets"))
        .where(F.size("buckets") >= min_size)
    )


def band_keys(sets_df: DataFrame, bands: int, rows: int, seed: int) -> DataFrame:
    """(account_id, band, key): one MinHash band key per band of each account's set.

    The minimum of each hash function is an aggregate over the set's exploded elements
    rather than a lambda over the array (Spark interprets lambdas; an aggregate is
    compiled). `bucket_sets` leaves the sets partitioned by account, so on its output the
    aggregate adds no shuffle.
    """
    element = F.col("bucket").cast("long")  # the hashes of the 64-bit bucket ids
    mins = (
        sets_df.select("account_id", F.explode("buckets").alias("bucket"))
        .groupBy("account_id")
        .agg(
            *[
                F.min(F.xxhash64(F.lit(seed + i), element)).alias(f"m{i}")
                for i in range(bands * rows)
            ]
        )
    )
    keys = F.array(
        *[
            F.struct(
                F.lit(b).alias("band"),
                F.xxhash64(*[F.col(f"m{i}") for i in range(b * rows, (b + 1) * rows)]).alias("key"),
            )
            for b in range(bands)
        ]
    )
    return mins.select("account_id", F.inline(keys))


def candidate_pairs(keys_df: DataFrame, max_key_accounts: int) -> DataFrame:
    """(a, b) with a < b: accounts sharing a band key held by at most `max_key_accounts`."""
    per_key = keys_df.groupBy("band", "key").agg(F.count("*").alias("holders"))
    usable = keys_df.join(
        per_key.where((F.col("holders") >= 2) & (F.col("holders") <= max_key_accounts)),
        ["band", "key"],
        how="inner",
    ).select("band", "key", "account_id")
    other = usable.withColumnRenamed("account_id", "b")
    return (
        usable.withColumnRenamed("account_id", "a")
        .join(other, ["band", "key"], how="inner")
        .where(F.col("a") < F.col("b"))
        .select("a", "b")
        .distinct()
    )


def scored_pairs(candidates_df: DataFrame, sets_df: DataFrame, cfg: FeaturesConfig) -> DataFrame:
    """(a, b, shared, similarity, phases): each candidate pair's shared buckets and Jaccard
    similarity, and the `clock_phases` of the shared buckets where they can decide the
    rule. Effective phases are dear (a count per slot of every period and placement), so
    pairs that do not share enough get 0.0, and pairs whose fewest distinct slots (with
    slots from the top of the hour, an upper bound of the effective phases) fall short of
    `lockstep_min_phases` get that count; at 1.15M accounts that leaves thousands of the
    million pairs of automation on one schedule. Candidates whose set sizes alone rule out
    `lockstep_min_similarity` are not scored (not in the result)."""
    # A pair's similarity is at most its smaller set's size over its larger's (the same
    # division, so rounding cannot part them): pairs that cannot reach
    # `lockstep_min_similarity` are dropped on the sizes alone (two numbers per account)
    # before their sets are joined.
    sizes = sets_df.select("account_id", F.size("buckets").alias("n"))
    na = sizes.select(F.col("account_id").alias("a"), F.col("n").alias("na"))
    nb = sizes.select(F.col("account_id").alias("b"), F.col("n").alias("nb"))
    possible = (
        candidates_df.join(na, "a", how="inner")
        .join(nb, "b", how="inner")
        .where(F.least("na", "nb") / F.greatest("na", "nb") >= F.lit(cfg.lockstep_min_similarity))
    )
    a = sets_df.select(F.col("account_id").alias("a"), F.col("buckets").alias("sa"))
    b = sets_df.select(F.col("account_id").alias("b"), F.col("buckets").alias("sb"))
    joined = possible.join(a, "a", how="inner").join(b, "b", how="inner")
    common = joined.select("a", "b", "na", "nb", F.array_intersect("sa", "sb").alias("common"))
    # Sets hold distinct buckets: their union has na + nb - shared of them.
    scored = common.select(
        "a",
        "b",
        "common",
        F.size("common").alias("shared"),
        (F.size("common") / (F.col("na") + F.col("nb") - F.size("common"))).alias("similarity"),
    )
    close = _shares_enough(cfg)
    counts = _distinct_slots(F.col("common"), cfg)
    bound = (F.least(*counts) if len(counts) > 1 else counts[0]).cast("double")
    phases = (
        F.when(~close, F.lit(0.0))
        .when(bound < cfg.lockstep_min_phases, bound)
        .otherwise(clock_phases(F.col("common"), cfg))
    )
    return scored.select("a", "b", "shared", "similarity", phases.alias("phases"))


def clock_phases(buckets: Column, cfg: FeaturesConfig) -> Column:
    """How many phases `buckets` effectively take modulo the clock period that explains
    them best: the fewest, over the periods of `lockstep_clock_periods_minutes` and every
    placement of slots `lockstep_clock_tolerance_seconds` wide, of n^2 / sum(count^2) over
    the slots (n buckets; the inverse Simpson index).

    One job on a clock (a feed every 15 minutes, a bot hourly, a person at the top of the
    hour) comes back at the same phase of its period every time, give or take its delay:
    one slot, once the slots are placed to hold the delay. Two such jobs coinciding give
    one slot per pair of clocks (their tweets, one's logins against the other's tweets),
    and the busiest clock holds most of the buckets: fewer than two effective phases. A
    controller's sessions fall at any phase, spread evenly over the slots: n buckets over
    k slots take about n k / (n + k - 1), near k once n is well above it. Counting
    distinct slots instead cannot tell two jittered clocks, four half-empty slots, from a
    spread.
    """
    slot, periods = _clock_grid(cfg)
    squares = [
        _sum_of_squared_counts(F.transform(buckets, _slot_of(period, slot, offset)))
        for period in periods
        for offset in range(min(slot, period))
    ]
    n = F.size(buckets).cast("double")
    most = F.greatest(*squares) if len(squares) > 1 else squares[0]
    return F.when(n > 0, n * n / most).otherwise(F.lit(0.0))


def _clock_grid(cfg: FeaturesConfig) -> tuple[int, list[int]]:
    """(slot width, the clock periods), in buckets."""
    width = cfg.lockstep_bucket_seconds
    slot = max(1, cfg.lockstep_clock_tolerance_seconds // width)
    return slot, sorted({max(1, m * 60 // width) for m in cfg.lockstep_clock_periods_minutes})


def _distinct_slots(buckets: Column, cfg: FeaturesConfig) -> list[Column]:
    """Per clock period, the distinct slots `buckets` take, slots from the top of the
    hour: each is at least the effective phases of that period and placement."""
    slot, periods = _clock_grid(cfg)
    return [F.size(F.array_distinct(F.transform(buckets, _slot_of(p, slot, 0)))) for p in periods]


def _slot_of(period: int, slot: int, offset: int):
    """x -> the slot of bucket x's phase in `period`, slots starting at `offset` (no
    default arguments: Spark reads a lambda's arity, and a second parameter would be the
    element's index)."""
    return lambda x: F.floor(F.pmod(x + F.lit(offset), F.lit(period)) / slot)


def _sum_of_squared_counts(values: Column) -> Column:
    """The sum over the distinct values of an array of how often each occurs, squared."""
    return F.aggregate(
        F.array_distinct(values),
        F.lit(0).cast("double"),
        lambda acc, v: acc + F.pow(F.size(F.filter(values, lambda y: y == v)), 2),
    )


def _shares_enough(cfg: FeaturesConfig) -> Column:
    """A scored pair shares enough buckets, closely enough, to be partners."""
    return (F.col("shared") >= cfg.lockstep_min_shared) & (
        F.col("similarity") >= cfg.lockstep_min_similarity
    )


def is_lockstep(cfg: FeaturesConfig) -> Column:
    """The rule a scored pair must pass to be a lock-step pair."""
    return _shares_enough(cfg) & (F.col("phases") >= cfg.lockstep_min_phases)


def lockstep_pairs(daily_df: DataFrame, as_of: dt.date, cfg: FeaturesConfig) -> DataFrame:
    """(a, b, shared, similarity) for every lock-step pair (a < b) of the window."""
    sets = bucket_sets(
        uncrowded(account_buckets(daily_df, as_of, cfg), cfg.lockstep_crowd_factor),
        cfg.lockstep_min_shared,
    )
    keys = band_keys(sets, cfg.lockstep_bands, cfg.lockstep_rows, cfg.minhash_seed)
    candidates = candidate_pairs(keys, cfg.lockstep_max_key_accounts)
    return scored_pairs(candidates, sets, cfg).where(is_lockstep(cfg))


def pair_edges(pairs_df: DataFrame, kind: str) -> DataFrame:
    """(account_id, resource) rows linking both accounts of each pair, for components."""
    resource = F.xxhash64(F.lit(kind), F.col("a"), F.col("b"))
    return pairs_df.select(F.col("a").alias("account_id"), resource.alias("resource")).unionByName(
        pairs_df.select(F.col("b").alias("account_id"), resource.alias("resource"))
    )


def lockstep_features(pairs_df: DataFrame, max_iterations: int) -> DataFrame:
    """Per account with a partner: partners, strongest similarity, component size."""
    both = pairs_df.select(F.col("a").alias("account_id"), "similarity").unionByName(
        pairs_df.select(F.col("b").alias("account_id"), "similarity")
    )
    per_account = both.groupBy("account_id").agg(
        F.count("*").cast("long").alias("lockstep_partners"),
        F.max("similarity").alias("lockstep_max_similarity"),
    )
    components = cluster_sizes(
        connected_components(pair_edges(pairs_df, "lockstep"), max_iterations)
    )
    return per_account.join(
        components.select(
            "account_id", F.col("cluster_size").cast("long").alias("lockstep_component_size")
        ),
        "account_id",
        how="left",
    )
