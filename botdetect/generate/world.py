"""The synthetic platform: accounts, botnets and their daily activity, as Spark plans.

The driver only computes a handful of scalars (how many accounts of each kind, the id
permutation); every row is produced by executors from `spark.range` with counter-based
randomness (`botdetect.generate.randomness`), so generation scales with the cluster and the
same seed always gives the same tables.

Accounts are laid out by index in contiguous ranges, one per kind, so that a botnet is a
run of consecutive indexes and its controller (IP pool, devices, schedule) is a function of
its id. The public `account_id` is a permutation of the index, so ids reveal nothing.

Two kinds exist to keep the edge of the block band busy: `evasive` spam bots that look
human on every single signal (volume, rhythm, text, residential IPs) and can only be told
apart by several weak ones together, and benign `feed_automation` (deal, headline and
status feeds) that looks like spam on most signals. The benign automation kinds are
`BENIGN_AUTOMATION_KINDS`; evaluation groups them to report false positives on automation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from botdetect.config import BOT_KINDS, GenerateConfig
from botdetect.contract import NO_ACTION
from botdetect.draws import uniform
from botdetect.generate import text
from botdetect.generate.randomness import (
    bernoulli,
    exponential,
    geometric,
    ipv4,
    pick,
    positive_id,
    randint,
)

HUMAN = "human"
AUTOMATION = "benign_automation"
FEED = "feed_automation"
# Benign kinds that post on a schedule; callers count them together as "benign automation".
BENIGN_AUTOMATION_KINDS = (AUTOMATION, FEED)
NAIVE, PARAPHRASE, LOW_SLOW, HUMAN_RHYTHM, LATE, EVASIVE = BOT_KINDS
BOTNET_KINDS = (NAIVE, PARAPHRASE, LOW_SLOW, HUMAN_RHYTHM, LATE, EVASIVE)

ID_OFFSET = 1_000_000
DAY = 86_400
MAX_TWEETS_PER_DAY = 999  # tweet ids reserve three digits for the sequence number
POPULAR_SEQS = 3  # every popular account tweets at least this often per day
DIURNAL_HOURS = [
    h
    for h, w in enumerate([1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 8, 9, 9, 8, 6, 3])
    for _ in range(w)
]
TZ_OFFSETS = [-8, -5, -3, 0, 0, 1, 1, 2, 5, 8, 9]
BOTNET_IP_POOL = {NAIVE: 4, PARAPHRASE: 4, LATE: 3, LOW_SLOW: 16, HUMAN_RHYTHM: 0}
BOTNET_DEVICE_POOL = {NAIVE: 3, PARAPHRASE: 3, LATE: 2, LOW_SLOW: 0, HUMAN_RHYTHM: 5}
# Seconds of jitter around a botnet's shared login schedule (its synchrony).
LOGIN_JITTER = {NAIVE: 90, PARAPHRASE: 120, LATE: 60, LOW_SLOW: 600, HUMAN_RHYTHM: 900}

# Evasive bots. Each number keeps one signal weak rather than absent: a detector has to
# combine them, and none alone separates the kind from the human tail it overlaps.
EVASIVE_ACTIVITY = (0.7, 2.0)  # mean tweets/day as multiples of human_tweets_per_day
EVASIVE_PUSH_SHARE = 0.15  # tweets that push the campaign (a link, often a stranger tagged)
EVASIVE_VICTIM_P = 0.5  # a campaign tweet mentions one random stranger
EVASIVE_CONTROLLER_LOGIN_P = 0.015  # logins from the botnet's one controller host
EVASIVE_AGE_DAYS = (30, 400)  # created this many days before the world starts, one by one
EVASIVE_RING = (-4, -3, -2, -1, 1, 2, 3, 4)  # follow each other inside the botnet
EVASIVE_STRANGER_FOLLOWS = (2, 11)  # [low, high) follows of random accounts
# A scheduled evasive botnet (`evasive_scheduled_share` of them) acts only in its
# controller's sessions: a few a day at human hours of the botnet's time zone, each bot's
# login or tweet within seconds of the session's start. Nothing else changes: its own
# lines and devices, human volume, reworded text. Only lock-step similarity sees it.
EVASIVE_SESSIONS = 3
EVASIVE_SESSION_JITTER = 20  # seconds after the session's start
HOURLY_JITTER = 30  # an hourly person's tweet goes out this many seconds after the hour

# Feed automation: a period in seconds (24-96 tweets a day), operators running blocks of
# 3-5 feeds, most from one office IP and server, and humans who follow a feed.
# Ops reviews: users report this share of non-spam accounts, and ops finds nothing.
CLEAN_REPORT_RATE = 0.01
MISSED_REPORT_RATE = 0.3  # unlabelled bots that draw a report ops reviews and passes
REVIEW_MINUTES_MIN, REVIEW_MINUTES_SPAN = 1.5, 25.0  # 1.5 + 25 u^2: median ~7.8 minutes
FEED_PERIODS = [900, 1200, 1800, 2400, 3600]
FEED_BLOCK = 8  # consecutive feeds split into two operators of 3-5
FEED_SHARED_HOST_P = 0.6  # operators that run all their feeds from one IP and device
FEED_CLOUD_OCTETS = [3, 34, 52, 104]
FEED_FAN_P = 0.25  # non-popular humans following one feed...
FEED_FAN_SKEW = 2.5  # ...drawn as u ** skew over the feeds: the first feeds are the big ones


@dataclasses.dataclass(frozen=True)
class WorldPlan:
    """The scalars a world is made of; cheap to compute on the driver."""

    accounts: int
    days: int
    seed: int
    world_start: dt.date
    world_end: dt.date
    platform_start: dt.date
    ranges: Mapping[str, tuple[int, int]]  # kind -> [start, end) of account indexes
    popular: tuple[int, int]
    nat: tuple[int, int]
    nat_group_size: int
    botnet_size: int
    campaign_start_day: int
    perm_a: int
    perm_b: int
    cfg: GenerateConfig

    @property
    def world_start_epoch(self) -> int:
        return _epoch(self.world_start)

    @property
    def world_end_epoch(self) -> int:
        """The last second of the as-of date."""
        return _epoch(self.world_end) + DAY - 1


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def plan_world(cfg: GenerateConfig, as_of: dt.date, platform_start: dt.date) -> WorldPlan:
    """Split the account indexes into kinds and choose the id permutation."""
    n = cfg.accounts
    n_popular = max(1, round(n * cfg.popular_share))
    n_auto = round(n * cfg.benign_automation_share)
    n_feed = round(n * cfg.feed_automation_share)
    n_bots = round(n * cfg.prevalence)
    mix_total = sum(cfg.bot_mix.get(k, 0.0) for k in BOT_KINDS) or 1.0
    bot_counts = {k: round(n_bots * cfg.bot_mix.get(k, 0.0) / mix_total) for k in BOT_KINDS}
    ranges: dict[str, tuple[int, int]] = {}
    cursor = n_popular
    # New kinds come after the older ones, so an older kind keeps its place for a seed.
    for kind, count in [(AUTOMATION, n_auto), *bot_counts.items(), (FEED, n_feed)]:
        count = max(0, min(count, n - cursor))
        ranges[kind] = (cursor, cursor + count)
        cursor += count
    ranges[HUMAN] = (cursor, n)
    n_nat = min(n - cursor, round(n * cfg.nat_share))
    perm_a = max(1, n // 2 + cfg.seed % max(1, n // 4))
    while math.gcd(perm_a, n) != 1:
        perm_a += 1
    return WorldPlan(
        accounts=n,
        days=cfg.days,
        seed=cfg.seed,
        world_start=as_of - dt.timedelta(days=cfg.days - 1),
        world_end=as_of,
        platform_start=platform_start,
        ranges=ranges,
        popular=(0, n_popular),
        nat=(cursor, cursor + n_nat),
        nat_group_size=cfg.nat_group_size,
        botnet_size=cfg.botnet_size,
        campaign_start_day=max(1, cfg.days - cfg.late_campaign_days),
        perm_a=perm_a % n or 1,
        perm_b=(cfg.seed * 7919) % n,
        cfg=cfg,
    )


def account_id_of(plan: WorldPlan, index: Column) -> Column:
    """The public account id of an account index (a bijection on [0, accounts))."""
    return F.lit(ID_OFFSET) + (F.lit(plan.perm_a) * index + F.lit(plan.perm_b)) % plan.accounts


def tweet_id_of(epoch_day: Column, index: Column, seq: Column | int) -> Column:
    """Tweet ids grow with time (like snowflake ids) and are unique per account and day."""
    seq_col = seq if isinstance(seq, Column) else F.lit(seq)
    return (epoch_day.cast("long") * 1_000_000_000 + index) * 1000 + seq_col


def by_kind(values: Mapping[str, Column | object], default: Column | object = None) -> Column:
    """A CASE over the `kind` column."""
    expr = None
    for kind, value in values.items():
        value_col = value if isinstance(value, Column) else F.lit(value)
        cond = F.col("kind") == kind
        expr = F.when(cond, value_col) if expr is None else expr.when(cond, value_col)
    default_col = default if isinstance(default, Column) else F.lit(default)
    return default_col if expr is None else expr.otherwise(default_col)


def _kind_of_index(plan: WorldPlan) -> Column:
    expr = F.when(F.col("index") < plan.popular[1], F.lit(HUMAN))
    for kind, (start, end) in plan.ranges.items():
        if end > start:
            expr = expr.when((F.col("index") >= start) & (F.col("index") < end), F.lit(kind))
    return expr.otherwise(F.lit(HUMAN))


def account_plan(spark: SparkSession, plan: WorldPlan) -> DataFrame:
    """One row per account index with its kind, botnet and controller attributes."""
    seed = plan.seed
    idx = F.col("index")
    kind_start = by_kind({k: plan.ranges[k][0] for k in BOTNET_KINDS}, 0)
    df = (
        spark.range(0, plan.accounts, numPartitions=plan.cfg.partitions)
        .withColumnRenamed("id", "index")
        .withColumn("kind", _kind_of_index(plan))
        .withColumn("account_id", account_id_of(plan, idx))
        .withColumn("is_popular", idx < plan.popular[1])
        .withColumn("is_nat", (idx >= plan.nat[0]) & (idx < plan.nat[1]))
        .withColumn(
            "nat_group",
            F.when(F.col("is_nat"), F.floor((idx - plan.nat[0]) / plan.nat_group_size)),
        )
        .withColumn("is_bot", F.col("kind").isin(*BOTNET_KINDS))
        .withColumn("botnet_local", F.floor((idx - kind_start) / plan.botnet_size))
        .withColumn(
            "botnet_id",
            F.when(
                F.col("is_bot"),
                by_kind({k: (i + 1) * 100_000 for i, k in enumerate(BOTNET_KINDS)}, 0)
                + F.col("botnet_local"),
            ).cast("long"),
        )
        .withColumn(
            "lead_index",
            F.when(F.col("is_bot"), kind_start + F.col("botnet_local") * plan.botnet_size),
        )
        .withColumn("is_lead", F.col("lead_index") == idx)
        .withColumn("lead_account_id", account_id_of(plan, F.col("lead_index")))
        .withColumn("feed_operator", _feed_operator(plan))
        .withColumn(
            # The host a feed runs on: its operator's (>= 0), shared by the operator's
            # feeds, or a server of its own (< 0).
            "feed_host",
            F.when(
                F.col("kind") == FEED,
                F.when(
                    bernoulli(seed, "feed_shared", FEED_SHARED_HOST_P, F.col("feed_operator")),
                    F.col("feed_operator"),
                ).otherwise(F.lit(-1) - idx),
            ),
        )
    )
    return (
        df.withColumn(
            "tz",
            by_kind(
                {
                    HUMAN: pick_int(TZ_OFFSETS, randint(seed, "tz", len(TZ_OFFSETS), idx)),
                    HUMAN_RHYTHM: pick_int(TZ_OFFSETS, randint(seed, "tz", len(TZ_OFFSETS), idx)),
                    EVASIVE: pick_int(TZ_OFFSETS, randint(seed, "tz", len(TZ_OFFSETS), idx)),
                },
                0,
            ),
        )
        .withColumn("activity", _activity(plan))
        .withColumn(
            "scheduled",
            (F.col("kind") == EVASIVE)
            & bernoulli(seed, "ev_sched", plan.cfg.evasive_scheduled_share, F.col("botnet_id")),
        )
        .withColumn(
            "hourly",
            (F.col("kind") == HUMAN)
            & ~F.col("is_popular")
            & bernoulli(seed, "hourly", plan.cfg.hourly_human_share, idx),
        )
        .withColumn(
            "auto_style",
            F.when(F.col("kind") == AUTOMATION, idx % 3).when(
                # An operator runs one style of feed (a deals company, a newsroom).
                F.col("kind") == FEED,
                randint(seed, "feed_style", 3, F.col("feed_operator")),
            ),
        )
        .withColumn(
            "auto_period",
            F.when(
                F.col("kind") == FEED,
                pick_int(FEED_PERIODS, randint(seed, "feed_per", len(FEED_PERIODS), idx)),
            ).otherwise(pick_int([3600, 7200, 10800, 14400, 21600], randint(seed, "per", 5, idx))),
        )
        .withColumn("auto_phase", randint(seed, "phase", 3600, idx))
        # Never null, and declared so: otherwise the optimizer infers `created_epoch IS NOT
        # NULL` from the join in `account_days` and pushes it below these projections with
        # every column inlined, a copy of the kind lookup per kind that grows each table's
        # generated code past the JVM's 64 KB method limit.
        .withColumn(
            "created_epoch", F.coalesce(_created_epoch(plan), F.lit(_epoch(plan.platform_start)))
        )
        .withColumn("created_at", F.timestamp_seconds(F.col("created_epoch")))
        .withColumn("home_ip", ipv4(24 + randint(seed, "oct", 75, idx), seed, "home", idx))
        .withColumn(
            "nat_ip", F.concat(F.lit("100.64."), F.col("nat_group").cast("string"), F.lit(".1"))
        )
        .withColumn("own_device", positive_id(seed, "device", idx))
        .withColumn("template", randint(seed, "template", 1000, F.col("botnet_id")))
        .withColumn(
            "feed_ip",
            F.when(
                F.col("kind") == FEED,
                ipv4(
                    pick_int(FEED_CLOUD_OCTETS, randint(seed, "feed_oct", 4, F.col("feed_host"))),
                    seed,
                    "feed_ip",
                    F.col("feed_host"),
                ),
            ),
        )
        .withColumn(
            "feed_device",
            F.when(F.col("kind") == FEED, positive_id(seed, "feed_device", F.col("feed_host"))),
        )
    )


def _activity(plan: WorldPlan) -> Column:
    """Mean tweets a day: an exponential spread for humans, a narrow human band for evasive
    bots (enough volume to matter to their operator, none that stands out)."""
    seed, idx = plan.seed, F.col("index")
    mean = plan.cfg.human_tweets_per_day
    lo, hi = EVASIVE_ACTIVITY
    return F.when(
        F.col("kind") == EVASIVE, mean * (lo + (hi - lo) * uniform(seed, "ev_activity", idx))
    ).otherwise(exponential(seed, "activity", mean, idx))


def _feed_operator(plan: WorldPlan) -> Column:
    """The operator of a feed: blocks of FEED_BLOCK consecutive feeds split at a drawn point
    into two operators of 3-5 feeds each. Null for other kinds."""
    local = F.col("index") - plan.ranges[FEED][0]
    block = F.floor(local / FEED_BLOCK)
    split = 3 + randint(plan.seed, "feed_split", FEED_BLOCK - 5, block)
    operator = block * 2 + F.when(local % FEED_BLOCK >= split, 1).otherwise(0)
    return F.when(F.col("kind") == FEED, operator)


def pick_int(values: list[int], index: Column) -> Column:
    array = F.array(*[F.lit(v) for v in values])
    return F.element_at(array, (index % len(values) + 1).cast("int"))


def _created_epoch(plan: WorldPlan) -> Column:
    """Account creation time: humans spread over the platform's life, bots in bursts.

    Evasive bots are registered one at a time over months (no burst to find), but young:
    an operator cannot buy years of history for every account.
    """
    seed = plan.seed
    idx = F.col("index")
    botnet = F.col("botnet_id")
    start = plan.world_start_epoch
    platform = _epoch(plan.platform_start)
    span = plan.world_end_epoch - platform
    burst_at = lambda lo, hi: start - (lo + randint(seed, "burst", hi - lo, botnet)) * DAY  # noqa: E731
    member_offset = F.when(F.col("is_lead"), 0).otherwise(randint(seed, "memb", 6 * 3600, idx) + 1)
    campaign = start + plan.campaign_start_day * DAY - DAY
    second_of_day = randint(seed, "created_s", DAY, idx)
    popular = F.lit(start) - (365 + randint(seed, "created", 3000, idx)) * DAY + second_of_day
    return by_kind(
        {
            HUMAN: F.when(F.col("is_popular"), popular).otherwise(
                F.lit(platform) + F.floor(F.pow(uniform(seed, "created", idx), 0.6) * span)
            ),
            AUTOMATION: F.lit(start)
            - (100 + randint(seed, "created", 3000, idx)) * DAY
            + second_of_day,
            NAIVE: burst_at(5, 120) + member_offset,
            PARAPHRASE: burst_at(10, 200) + member_offset,
            HUMAN_RHYTHM: burst_at(30, 365) + member_offset * 12,
            LOW_SLOW: F.lit(start)
            - (200 + randint(seed, "created", 1800, idx)) * DAY
            + second_of_day,
            LATE: F.lit(campaign) + member_offset,
            EVASIVE: F.lit(start)
            - (
                EVASIVE_AGE_DAYS[0]
                + randint(seed, "created", EVASIVE_AGE_DAYS[1] - EVASIVE_AGE_DAYS[0], idx)
            )
            * DAY
            + second_of_day,
            FEED: F.lit(start) - (30 + randint(seed, "created", 3000, idx)) * DAY + second_of_day,
        },
        platform,
    ).cast("long")


def day_grid(spark: SparkSession, plan: WorldPlan) -> DataFrame:
    """One row per simulated day."""
    return (
        spark.range(0, plan.days, numPartitions=1)
        .withColumnRenamed("id", "day_index")
        .withColumn(
            "event_date", F.date_add(F.lit(plan.world_start), F.col("day_index").cast("int"))
        )
        .withColumn("day_epoch", F.lit(plan.world_start_epoch) + F.col("day_index") * DAY)
        .withColumn("epoch_day", F.datediff(F.col("event_date"), F.lit(dt.date(1970, 1, 1))))
    )


def account_days(accounts_df: DataFrame, days_df: DataFrame) -> DataFrame:
    """Every (account, day) after the account's creation day: the unit of activity."""
    return accounts_df.crossJoin(F.broadcast(days_df)).where(
        F.col("day_epoch") > F.col("created_epoch")
    )


def repeat_rows(df: DataFrame, count_name: str, count: Column, index_name: str) -> DataFrame:
    """Each row `count` times (none when count <= 0), numbered 0.. in `index_name`."""
    return (
        df.withColumn(count_name, count)
        .where(F.col(count_name) > 0)
        .withColumn(index_name, F.explode(F.sequence(F.lit(0), F.col(count_name) - 1)))
    )


def botnet_pool_ip(seed: int, botnet: Column, host: Column) -> Column:
    """Host `host` of the botnet's controller subnet (one /24 per botnet)."""
    return F.concat(
        F.lit("185."),
        randint(seed, "net_b", 250, botnet).cast("string"),
        F.lit("."),
        randint(seed, "net_c", 250, botnet).cast("string"),
        F.lit("."),
        (10 + host).cast("string"),
    )


def _daily_tweet_count(plan: WorldPlan) -> Column:
    seed = plan.seed
    key = (F.col("index"), F.col("day_index"))
    u = uniform(seed, "ntweets", *key)
    late_active = F.col("day_index") >= plan.campaign_start_day
    count = by_kind(
        {
            HUMAN: F.when(
                F.col("is_popular"), POPULAR_SEQS + geometric(seed, "nt", 8.0, *key)
            ).otherwise(geometric(seed, "nt", F.col("activity"), *key)),
            AUTOMATION: F.lit(DAY) / F.col("auto_period"),
            NAIVE: 20 + F.floor(u * 100),
            PARAPHRASE: 10 + F.floor(u * 50),
            LOW_SLOW: 1 + F.floor(u * 4),
            HUMAN_RHYTHM: 2 + geometric(seed, "nt", 10.0, *key),
            LATE: F.when(late_active, 30 + F.floor(u * 80)).otherwise(0),
            # Like a human's: many days with nothing, some with several.
            EVASIVE: geometric(seed, "nt", F.col("activity"), *key),
            FEED: F.lit(DAY) / F.col("auto_period"),
        },
        0,
    )
    return F.least(count.cast("int"), F.lit(MAX_TWEETS_PER_DAY))


def _evasive_push(seed: int, *key: Column) -> Column:
    """Whether an evasive bot's tweet pushes its campaign (the rest is everyday chatter)."""
    return (F.col("kind") == EVASIVE) & bernoulli(seed, "ev_push", EVASIVE_PUSH_SHARE, *key)


def _diurnal_second(seed: int, salt: str, tz: Column, *keys: Column) -> Column:
    """A second of the UTC day drawn from a human daily rhythm in local time `tz`."""
    hour = pick_int(DIURNAL_HOURS, randint(seed, salt, len(DIURNAL_HOURS), *keys))
    utc_hour = F.pmod(hour - tz, F.lit(24))
    return utc_hour * 3600 + randint(seed, salt + "_s", 3600, *keys)


def _session_second(seed: int, session: Column, *key: Column) -> Column:
    """A second of the UTC day in session `session` (mod EVASIVE_SESSIONS) of the
    account's controller that day."""
    botnet, day = F.col("botnet_id"), F.col("day_index")
    session = F.pmod(session, F.lit(EVASIVE_SESSIONS))
    tz = pick_int(TZ_OFFSETS, randint(seed, "ev_tz", len(TZ_OFFSETS), botnet))
    start = _diurnal_second(seed, "ev_session_t", tz, botnet, day, session)
    return start + randint(seed, "ev_jitter", EVASIVE_SESSION_JITTER, *key)


def tweets(account_days_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `tweets` source table."""
    seed = plan.seed
    idx, seq = F.col("index"), F.col("seq")
    key = (idx, F.col("day_index"), seq)
    # The human-rhythm second is read by several kinds: computed once, in its own column.
    exploded = (
        repeat_rows(account_days_df, "n_tweets", _daily_tweet_count(plan), "seq")
        .withColumn("tweet_id", tweet_id_of(F.col("epoch_day"), idx, seq))
        .withColumn("diurnal_s", _diurnal_second(seed, "tweet_t", F.col("tz"), *key))
    )
    burst_start = randint(seed, "burst", DAY, idx, F.col("day_index"))
    diurnal = F.col("diurnal_s")
    on_the_hour = F.floor(diurnal / 3600) * 3600 + randint(seed, "hourly_s", HOURLY_JITTER, *key)
    second = by_kind(
        {
            HUMAN: F.when(F.col("is_popular") & (seq < POPULAR_SEQS), seq * 3600 + 60)
            .when(F.col("hourly"), on_the_hour)
            .otherwise(diurnal),
            HUMAN_RHYTHM: diurnal,
            EVASIVE: F.when(
                F.col("scheduled"),
                _session_second(seed, randint(seed, "ev_session", EVASIVE_SESSIONS, *key), *key),
            ).otherwise(diurnal),
            LOW_SLOW: _diurnal_second(seed, "tweet_t", F.lit(0), *key),
            AUTOMATION: F.col("auto_phase")
            + seq * F.col("auto_period")
            + randint(seed, "jit", 3, *key),
            # A scheduler's period, with a queue's worth of delay.
            FEED: F.col("auto_phase")
            + seq * F.col("auto_period")
            + randint(seed, "jit", 120, *key),
            NAIVE: burst_start + seq * 45 + randint(seed, "jit", 30, *key),
        },
        randint(seed, "tweet_t", DAY, *key),
    )
    created_epoch = F.col("day_epoch") + F.pmod(second, F.lit(DAY))

    # Replies go to popular accounts' first tweets of the day, which always exist.
    reply_p = by_kind(
        {HUMAN: 0.15, NAIVE: 0.30, LOW_SLOW: 0.50, AUTOMATION: 0.0, FEED: 0.0, EVASIVE: 0.15},
        0.10,
    )
    popular_index = randint(seed, "reply_to", max(1, plan.popular[1]), *key)
    parent = F.when(
        bernoulli(seed, "is_reply", reply_p, *key),
        tweet_id_of(F.col("epoch_day"), popular_index, randint(seed, "rseq", POPULAR_SEQS, *key)),
    )

    victims = F.transform(
        F.sequence(F.lit(1), F.greatest(F.col("n_mentions"), F.lit(1))),
        lambda i: account_id_of(plan, randint(seed, "victim", plan.accounts, i, *key)),
    )
    friend = account_id_of(
        plan,
        F.pmod(
            idx + pick_int([-3, -2, -1, 1, 2, 3], randint(seed, "fr", 6, *key)),
            F.lit(plan.accounts),
        ),
    )
    n_mentions = by_kind(
        {
            NAIVE: 1 + randint(seed, "nm", 3, *key),
            PARAPHRASE: F.when(bernoulli(seed, "nm", 0.5, *key), 1).otherwise(0),
            LOW_SLOW: F.lit(1),
            HUMAN_RHYTHM: F.when(bernoulli(seed, "nm", 0.3, *key), 1).otherwise(0),
            LATE: F.lit(2),
            # One stranger at a time, only in campaign tweets: many distinct recipients over
            # weeks, never a burst of them.
            EVASIVE: F.when(
                _evasive_push(seed, *key) & bernoulli(seed, "nm", EVASIVE_VICTIM_P, *key), 1
            ).otherwise(0),
        },
        0,
    )
    empty = F.array().cast("array<bigint>")
    # Everyday tweets mention a friend now and then; an evasive bot's "friends" are its
    # neighbours in the botnet.
    chats = F.col("kind").isin(HUMAN, EVASIVE) & bernoulli(seed, "mention", 0.2, *key)
    mentions = (
        F.when(F.col("n_mentions") > 0, victims).when(chats, F.array(friend)).otherwise(empty)
    )
    return (
        exploded.withColumn("n_mentions", n_mentions)
        .withColumn("created_at", F.timestamp_seconds(created_epoch))
        .withColumn("text", _tweet_text(plan, *key))
        .withColumn("parent_tweet_id", parent.cast("long"))
        .withColumn("mentioned_account_ids", mentions)
        .select(
            "tweet_id",
            "account_id",
            "created_at",
            "text",
            "parent_tweet_id",
            "mentioned_account_ids",
            "event_date",
        )
    )


def _tweet_text(plan: WorldPlan, *key: Column) -> Column:
    seed = plan.seed
    tpl = F.col("template")
    template = by_kind(
        {
            AUTOMATION: text.pick_template(text.AUTOMATION_TEMPLATES, F.col("auto_style")),
            NAIVE: text.pick_template(text.NAIVE_TEMPLATES, tpl),
            PARAPHRASE: text.pick_template(text.PARAPHRASE_TEMPLATES, tpl),
            LOW_SLOW: text.pick_template(text.LOW_SLOW_TEMPLATES, tpl),
            HUMAN_RHYTHM: text.pick_template(text.HUMAN_LIKE_SPAM_TEMPLATES, tpl),
            LATE: text.pick_template(text.LATE_CAMPAIGN_TEMPLATES, tpl),
            # Drawn per tweet, not per botnet: the botnet has no template of its own.
            EVASIVE: text.pick_template(
                text.EVASIVE_TEMPLATES, randint(seed, "ev_tpl", len(text.EVASIVE_TEMPLATES), *key)
            ),
            FEED: text.pick_template(text.FEED_TEMPLATES, F.col("auto_style")),
        },
    )
    # Humans, half of the human-rhythm bots' tweets and most of the evasive bots' are
    # everyday text; an evasive campaign tweet often opens with some too.
    pushes = _evasive_push(seed, *key)
    is_everyday = (
        (F.col("kind") == HUMAN)
        | ((F.col("kind") == HUMAN_RHYTHM) & ~bernoulli(seed, "hr_spam", 0.5, *key))
        | ((F.col("kind") == EVASIVE) & ~pushes)
    )
    chatter = is_everyday | (pushes & bernoulli(seed, "ev_chatter", 0.6, *key))
    # Each large expression appears once (concat_ws skips the null side): repeating one
    # in several branches blows Spark's generated-code size limit.
    raw = F.concat_ws(
        " ",
        F.when(chatter, text.human_text(seed, *key)),
        F.when(~is_everyday, text.render(template, seed, *key)),
    )
    return text.fill_placeholders(raw, seed, *key)


def interactions(account_days_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `interactions` source table: likes and retweets of tweets that exist."""
    seed = plan.seed
    idx, j = F.col("index"), F.col("j")
    key = (idx, F.col("day_index"), j)
    day_key = (idx, F.col("day_index"))
    late_active = F.col("day_index") >= plan.campaign_start_day
    count = by_kind(
        {
            HUMAN: F.when(F.col("is_popular"), 1).otherwise(geometric(seed, "ni", 2.0, *day_key)),
            AUTOMATION: F.lit(0),
            NAIVE: 5 + randint(seed, "ni", 20, *day_key),
            PARAPHRASE: 5 + randint(seed, "ni", 20, *day_key),
            LOW_SLOW: F.lit(1),
            HUMAN_RHYTHM: geometric(seed, "ni", 3.0, *day_key),
            LATE: F.when(late_active, 10 + randint(seed, "ni", 20, *day_key)).otherwise(0),
            EVASIVE: geometric(seed, "ni", 2.0, *day_key),
            FEED: F.lit(0),
        },
        0,
    ).cast("int")
    # Botnet members amplify their lead's first tweet of the day (always present). Evasive
    # bots engage like people: their lead may not tweet that day, and retweeting one
    # account in unison is exactly what they avoid.
    amplifies = F.col("is_bot") & ~F.col("kind").isin(LOW_SLOW, EVASIVE)
    amplify = amplifies & bernoulli(seed, "amp", 0.7, *key)
    popular_tweet = tweet_id_of(
        F.col("epoch_day"),
        randint(seed, "target", max(1, plan.popular[1]), *key),
        randint(seed, "tseq", POPULAR_SEQS, *key),
    )
    target = F.when(amplify, tweet_id_of(F.col("epoch_day"), F.col("lead_index"), 0)).otherwise(
        popular_tweet
    )
    action_u = uniform(seed, "action", *key)
    retweet_share = F.when(F.col("is_bot") & (F.col("kind") != EVASIVE), 0.6).otherwise(0.3)
    action = (
        F.when(action_u < retweet_share, "retweet")
        .when(action_u < retweet_share + 0.25, "favorite")
        .when(action_u < retweet_share + 0.33, "reply")
        .otherwise("quote")
    )
    slot = F.floor(F.lit(DAY) / F.col("n_inter")).cast("long")
    # Slotting the day keeps (account, tweet, action, created_at) unique by construction.
    second = j * slot + randint(seed, "it", slot, *key)
    return repeat_rows(account_days_df, "n_inter", count, "j").select(
        "account_id",
        target.alias("tweet_id"),
        action.alias("action"),
        F.timestamp_seconds(F.col("day_epoch") + second).alias("created_at"),
        "event_date",
    )


def logins(account_days_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `logins` source table: who logged in from which IP and device, and when."""
    seed = plan.seed
    idx, j = F.col("index"), F.col("j")
    botnet = F.col("botnet_id")
    key = (idx, F.col("day_index"), j)
    day_key = (idx, F.col("day_index"))
    late_active = F.col("day_index") >= plan.campaign_start_day
    human_count = F.when(
        bernoulli(seed, "active", 0.6, *day_key), 1 + randint(seed, "nl", 2, *day_key)
    ).otherwise(0)
    count = by_kind(
        {
            HUMAN: F.when(F.col("is_popular"), 2).otherwise(human_count),
            AUTOMATION: F.lit(1),
            FEED: 1 + randint(seed, "nl", 2, *day_key),
            EVASIVE: human_count,
            NAIVE: 2 + randint(seed, "nl", 3, *day_key),
            PARAPHRASE: 2 + randint(seed, "nl", 3, *day_key),
            LOW_SLOW: F.lit(1),
            HUMAN_RHYTHM: 1 + randint(seed, "nl", 2, *day_key),
            LATE: F.when(late_active, 2 + randint(seed, "nl", 3, *day_key)).otherwise(0),
        },
        0,
    ).cast("int")
    human_second = (
        _diurnal_second(seed, "login_t", F.col("tz"), *day_key)
        + j * 4 * 3600
        + randint(seed, "lj", 3 * 3600, *key)
    )
    # Bots of one botnet log in on their controller's schedule, within a few seconds.
    jitter = by_kind(LOGIN_JITTER, 60)
    bot_second = (
        # Early enough that the day's last login (j <= 3) stays on the same day.
        randint(seed, "schedule", DAY - 7 * 3600, botnet, F.col("day_index"))
        + j * 2 * 3600
        + randint(seed, "lj", jitter, *key)
    )
    # A feed operator's cron job logs all its feeds in at once (from one host, if shared).
    feed_second = (
        randint(seed, "feed_login", 3600, F.col("feed_host"))
        + j * 6 * 3600
        + randint(seed, "lj", 20, *key)
    )
    second = (
        F.when(F.col("is_bot") & (F.col("kind") != EVASIVE), bot_second)
        # A day's logins fall in different sessions: never two in the same second.
        .when(
            F.col("scheduled"),
            _session_second(seed, j + randint(seed, "ev_first", EVASIVE_SESSIONS, *day_key), *key),
        )
        .when(F.col("kind") == AUTOMATION, F.col("auto_phase") + j * 3600)
        .when(F.col("kind") == FEED, feed_second)
        .otherwise(human_second)
    )

    pool_ip = botnet_pool_ip(seed, botnet, randint(seed, "host", by_kind(BOTNET_IP_POOL, 1), *key))
    proxy_ip = ipv4(100 + randint(seed, "proxy_oct", 80, *key), seed, "proxy", *key)
    mobile_ip = ipv4(24 + randint(seed, "mob_oct", 75, *key), seed, "mobile", *key)
    human_ip = (
        F.when(F.col("is_nat") & bernoulli(seed, "at_nat", 0.8, *key), F.col("nat_ip"))
        .when(bernoulli(seed, "mobile", 0.1, *key), mobile_ip)
        .otherwise(F.col("home_ip"))
    )
    # An evasive bot logs in from its own residential line and device, like a person,
    # except for a rare session relayed through the botnet's controller host.
    from_controller = (F.col("kind") == EVASIVE) & bernoulli(
        seed, "ev_ctrl", EVASIVE_CONTROLLER_LOGIN_P, *key
    )
    controller_ip = botnet_pool_ip(seed, botnet, F.lit(0))
    ip = (
        F.when(F.col("kind") == HUMAN_RHYTHM, proxy_ip)
        .when(from_controller, controller_ip)
        .when(F.col("is_bot") & (F.col("kind") != EVASIVE), pool_ip)
        .when(F.col("kind") == FEED, F.col("feed_ip"))
        .otherwise(human_ip)
    )
    pool_device = positive_id(
        seed, "bot_device", botnet, randint(seed, "dev", by_kind(BOTNET_DEVICE_POOL, 1), *key)
    )
    second_device = positive_id(seed, "device2", idx)
    human_device = F.when(bernoulli(seed, "dev2", 0.3, *key), second_device).otherwise(
        F.col("own_device")
    )
    device = (
        F.when(F.col("is_bot") & ~F.col("kind").isin(LOW_SLOW, EVASIVE), pool_device)
        .when(F.col("kind") == FEED, F.col("feed_device"))
        .otherwise(human_device)
    )
    # Evasive bots fail a little more than people (captchas, reused passwords): weakly.
    fail_p = (
        F.when(F.col("kind") == EVASIVE, 0.05)
        .when(F.col("is_bot"), 0.2)
        .when(F.col("kind") == FEED, 0.005)
        .otherwise(0.03)
    )
    failed = bernoulli(seed, "fail", fail_p, *key)
    bot_reason = pick(
        ["bad_password", "captcha_failed", "rate_limited"], randint(seed, "fr", 3, *key)
    )
    return repeat_rows(account_days_df, "n_logins", count, "j").select(
        "account_id",
        F.timestamp_seconds(F.col("day_epoch") + F.pmod(second, F.lit(DAY))).alias("login_at"),
        device.alias("device_id"),
        ip.alias("ip"),
        (~failed).alias("success"),
        F.when(failed, F.when(F.col("is_bot"), bot_reason).otherwise("bad_password")).alias(
            "fail_reason"
        ),
        "event_date",
    )


def _kind_end(plan: WorldPlan) -> Column:
    return by_kind({k: plan.ranges[k][1] for k in BOTNET_KINDS}, plan.accounts)


def _index_list(n: Column, draw: object) -> Column:
    """[draw(1), ..., draw(n)], or an empty list when n <= 0."""
    return F.when(
        n > 0, F.transform(F.sequence(F.lit(1), F.greatest(n, F.lit(1))), draw)
    ).otherwise(F.array().cast("array<bigint>"))


def follows(accounts_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `follows` source table: friends follow back, bots follow sprees and each other."""
    seed, n = plan.seed, plan.accounts
    idx = F.col("index")
    n_random = by_kind(
        {
            HUMAN: F.when(F.col("is_popular"), 5).otherwise(randint(seed, "nf", 8, idx)),
            AUTOMATION: F.lit(0),
            NAIVE: 50 + randint(seed, "nf", 250, idx),
            PARAPHRASE: 50 + randint(seed, "nf", 250, idx),
            LATE: 50 + randint(seed, "nf", 250, idx),
            LOW_SLOW: F.lit(20),
            HUMAN_RHYTHM: F.lit(30),
            # A few more strangers than a person follows, hoping for follow-backs.
            EVASIVE: EVASIVE_STRANGER_FOLLOWS[0]
            + randint(seed, "nf", EVASIVE_STRANGER_FOLLOWS[1] - EVASIVE_STRANGER_FOLLOWS[0], idx),
            FEED: randint(seed, "nf", 4, idx),
        },
        0,
    )
    random_follows = _index_list(n_random, lambda i: randint(seed, "followee", n, idx, i))
    follows_popular = F.col("kind").isin(HUMAN, EVASIVE) & ~F.col("is_popular")
    popular_follows = _index_list(
        F.when(follows_popular, 3).otherwise(0),
        lambda i: randint(seed, "pop_followee", max(1, plan.popular[1]), idx, i),
    )
    # Feeds have real audiences: some people follow one.
    feed_start, feed_end = plan.ranges[FEED]
    fan = (F.col("kind") == HUMAN) & ~F.col("is_popular") & (feed_end > feed_start)
    feed_follows = _index_list(
        F.when(fan & bernoulli(seed, "feed_fan", FEED_FAN_P, idx), 1).otherwise(0),
        # Audiences are skewed: a few big feeds, many small ones that look less established.
        lambda i: (
            feed_start
            + F.floor(
                F.pow(uniform(seed, "feed_followee", idx, i), FEED_FAN_SKEW)
                * (feed_end - feed_start)
            )
        ).cast("long"),
    )
    # Friendship is symmetric: both sides draw the same number, so follows are reciprocal.
    offsets = F.array(*[F.lit(o) for o in range(-8, 9) if o != 0])
    friends = F.filter(
        F.transform(offsets, lambda o: F.pmod(idx + o, F.lit(n))),
        lambda f: uniform(seed, "friends", F.least(idx, f), F.greatest(idx, f)) < 0.6,
    )
    friend_follows = F.when(F.col("kind") == HUMAN, friends).otherwise(
        F.array().cast("array<bigint>")
    )
    members = F.least(F.lit(plan.botnet_size), _kind_end(plan) - F.col("lead_index"))
    ring = F.transform(
        F.array(*[F.lit(o) for o in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)]),
        lambda o: F.col("lead_index") + F.pmod(idx - F.col("lead_index") + o, members),
    )
    # An evasive botnet follows itself too, but only a few neighbours each: enough
    # follow-backs for a human-looking reciprocity, not a clique.
    evasive_ring = F.transform(
        F.array(*[F.lit(o) for o in EVASIVE_RING]),
        lambda o: F.col("lead_index") + F.pmod(idx - F.col("lead_index") + o, members),
    )
    ring_follows = (
        F.when(F.col("kind").isin(NAIVE, PARAPHRASE, LATE, HUMAN_RHYTHM), ring)
        .when(F.col("kind") == EVASIVE, evasive_ring)
        .otherwise(F.array().cast("array<bigint>"))
    )
    # Bots follow during the world; evasive bots spread it over their life, as people do.
    since = F.when(
        F.col("is_bot") & (F.col("kind") != EVASIVE),
        F.greatest(F.col("created_epoch"), F.lit(plan.world_start_epoch)),
    )
    since = since.otherwise(F.col("created_epoch"))
    followed = F.col("followed_index")
    created = since + F.floor(
        uniform(seed, "follow_t", idx, followed) * (F.lit(plan.world_end_epoch) - since)
    )
    return (
        accounts_df.withColumn(
            "followed_index",
            F.explode(
                F.concat(
                    random_follows, popular_follows, friend_follows, ring_follows, feed_follows
                )
            ),
        )
        .where(followed != idx)
        .select(
            "account_id",
            account_id_of(plan, followed).alias("followed_account_id"),
            F.timestamp_seconds(created.cast("long")).alias("created_at"),
        )
        .dropDuplicates(["account_id", "followed_account_id"])
    )


def ops_actions(accounts_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `ops_actions` source table: partial, delayed and sometimes wrong spam labels."""
    seed, cfg = plan.seed, plan.cfg
    idx = F.col("index")
    coverage = by_kind({k: cfg.label_coverage.get(k, 0.0) for k in BOTNET_KINDS}, 0.0)
    active_from = F.greatest(F.col("created_epoch"), F.lit(plan.world_start_epoch))
    delay_days = by_kind(
        {NAIVE: 1 + uniform(seed, "delay", idx) * 7}, 1 + uniform(seed, "delay", idx) * 20
    )
    spam_at = active_from + F.floor(delay_days * DAY)
    restriction = F.when(bernoulli(seed, "restr", 0.6, idx), "suspend").otherwise("lock")
    # Automation draws wrong spam locks; feeds (a link in every tweet) most of all.
    wrong_p = F.lit(cfg.false_label_rate) * (
        F.when(F.col("kind") == AUTOMATION, 10)
        .when(F.col("kind") == FEED, 15)
        .when(F.col("is_nat"), 3)
        .otherwise(1)
    )
    wrong_at = F.lit(plan.world_start_epoch) + randint(seed, "wrong_t", plan.days * DAY, idx)
    is_wrong = ~F.col("is_bot") & bernoulli(seed, "wrong", wrong_p, idx)
    cleared_at = wrong_at + (1 + randint(seed, "clear_t", 5, idx)) * DAY
    abuse = (F.col("kind") == HUMAN) & bernoulli(seed, "abuse", 0.002, idx)
    abuse_at = F.lit(plan.world_start_epoch) + randint(seed, "abuse_t", plan.days * DAY, idx)
    note = F.concat(
        F.lit("case "),
        randint(seed, "case", 900_000, idx).cast("string"),
        F.lit(": "),
        pick(
            ["reported by several users", "matched a spam rule", "manual review", "appeal"],
            randint(seed, "note", 4, idx),
        ),
        F.lit(", last login from "),
        F.col("home_ip"),
    )

    # Users report some accounts that ops then finds clean: reviews with no action.
    reported_clean = ~F.col("is_bot") & bernoulli(seed, "report", CLEAN_REPORT_RATE, idx)
    # ...and some bots ops never restricts: reviewed on a report, passed as clean (the
    # reviews a model that flags them first makes unnecessary).
    labelled = F.col("is_bot") & bernoulli(seed, "labelled", coverage, idx)
    missed = F.col("is_bot") & ~labelled & bernoulli(seed, "missed", MISSED_REPORT_RATE, idx)
    missed_at = F.lit(plan.world_start_epoch) + randint(seed, "missed_t", plan.days * DAY, idx)
    reported_at = F.lit(plan.world_start_epoch) + randint(seed, "report_t", plan.days * DAY, idx)
    # What made ops look: a user report or one of ops's own rules.
    found_by = pick(["user_report", "ops_rule"], randint(seed, "trigger", 2, idx))

    def action(
        when: Column,
        at: Column,
        restr: Column | str,
        reason: Column | str,
        trigger: Column | str,
    ) -> Column:
        def lit(value: Column | str) -> Column:
            return value if isinstance(value, Column) else F.lit(value)

        return F.when(
            when,
            F.struct(
                at.cast("long").alias("at"),
                lit(restr).alias("restriction"),
                lit(reason).alias("reason"),
                lit(trigger).alias("trigger"),
            ),
        )

    candidates = F.array(
        action(
            labelled,
            spam_at,
            restriction,
            "spam",
            found_by,
        ),
        action(is_wrong, wrong_at, "lock", "spam", found_by),
        action(
            is_wrong & bernoulli(seed, "cleared", cfg.cleared_share, idx),
            cleared_at,
            "cleared",
            "spam",
            "appeal",
        ),
        action(
            abuse,
            abuse_at,
            pick(["warn", "suspend"], randint(seed, "abuse_r", 2, idx)),
            pick(["abuse", "impersonation", "other"], randint(seed, "abuse_k", 3, idx)),
            "user_report",
        ),
        action(reported_clean, reported_at, NO_ACTION, "spam", "user_report"),
        action(missed, missed_at, NO_ACTION, "spam", "user_report"),
    )
    return (
        accounts_df.withColumn("act", F.explode(candidates))
        .where(F.col("act").isNotNull() & (F.col("act.at") <= plan.world_end_epoch))
        .select(
            "account_id",
            F.timestamp_seconds(F.col("act.at")).alias("action_at"),
            F.col("act.restriction").alias("restriction"),
            F.col("act.reason").alias("reason"),
            note.alias("reviewer_note"),
            F.col("act.trigger").alias("review_trigger"),
            review_minutes(seed, idx, F.col("act.at")).alias("review_minutes"),
        )
    )


def review_minutes(seed: int, idx: Column, at: Column) -> Column:
    """Minutes one review took: most take a few, a long tail takes up to half an hour."""
    u = uniform(seed, "review_min", idx, at)
    return F.round(REVIEW_MINUTES_MIN + REVIEW_MINUTES_SPAN * u * u, 1)


def accounts(accounts_df: DataFrame, plan: WorldPlan) -> DataFrame:
    """The `accounts` source table."""
    seed = plan.seed
    idx, botnet = F.col("index"), F.col("botnet_id")
    first = pick(text.FIRST_NAMES, randint(seed, "first", len(text.FIRST_NAMES), idx))
    last = pick(text.LAST_NAMES, randint(seed, "last", len(text.LAST_NAMES), idx))
    word = pick(text.HUMAN_WORDS, randint(seed, "hword", len(text.HUMAN_WORDS), idx))
    spam_word = pick(text.SPAM_WORDS, randint(seed, "sword", len(text.SPAM_WORDS), idx))

    def digits(n: int) -> Column:
        return F.lpad(randint(seed, f"digits{n}", 10**n, idx).cast("string"), n, "0")

    # Evasive bots take a person's handle, with a taken name's digits a little more often.
    digit_p = F.when(F.col("kind") == EVASIVE, 0.6).otherwise(0.4)
    human_handle = F.concat(
        first,
        F.when(bernoulli(seed, "h_last", 0.5, idx), F.concat(F.lit("_"), last)).otherwise(""),
        F.when(bernoulli(seed, "h_dig", digit_p, idx), digits(2)).otherwise(""),
    )
    feed_style = pick(["deals", "headlines", "status"], F.col("auto_style"))
    handle = by_kind(
        {
            AUTOMATION: F.concat(
                pick(["weather_", "news_", "pi_"], F.col("auto_style")), word, digits(2)
            ),
            NAIVE: F.concat(spam_word, digits(8)),
            PARAPHRASE: F.concat(first, word, digits(4)),
            LATE: F.concat(pick(["sol", "moon", "pepe"], idx), F.lit("_"), spam_word, digits(6)),
            FEED: F.concat(feed_style, F.lit("_"), word, digits(2)),
        },
        human_handle,
    )
    display = by_kind(
        {
            NAIVE: F.initcap(spam_word),
            LATE: F.upper(spam_word),
            AUTOMATION: F.initcap(word),
            FEED: F.concat(F.initcap(word), F.lit(" "), F.initcap(feed_style)),
        },
        F.concat(F.initcap(first), F.lit(" "), F.initcap(last)),
    )
    pool_ip = botnet_pool_ip(seed, botnet, randint(seed, "chost", by_kind(BOTNET_IP_POOL, 1), idx))
    creation_ip = by_kind(
        {
            HUMAN: F.when(
                F.col("is_nat") & bernoulli(seed, "c_nat", 0.5, idx), F.col("nat_ip")
            ).otherwise(F.col("home_ip")),
            NAIVE: pool_ip,
            PARAPHRASE: pool_ip,
            LATE: pool_ip,
            HUMAN_RHYTHM: ipv4(100 + randint(seed, "cp_oct", 80, idx), seed, "cproxy", idx),
            # An operator registers its feeds from its office, months or years apart.
            FEED: F.col("feed_ip"),
        },
        # Evasive bots sign up one by one from their own residential line.
        F.col("home_ip"),
    )
    pool_device = positive_id(
        seed, "bot_device", botnet, randint(seed, "cdev", by_kind(BOTNET_DEVICE_POOL, 1), idx)
    )
    creation_device = (
        F.when(F.col("is_bot") & ~F.col("kind").isin(LOW_SLOW, EVASIVE), pool_device)
        .when(F.col("kind") == FEED, F.col("feed_device"))
        .otherwise(F.col("own_device"))
    )
    verified_p = F.when(F.col("is_popular"), 0.6).otherwise(
        by_kind({HUMAN: 0.01, AUTOMATION: 0.4, FEED: 0.5}, 0.0)
    )
    return accounts_df.select(
        "account_id",
        handle.alias("handle"),
        display.alias("display_name"),
        "created_at",
        creation_device.alias("creation_device_id"),
        creation_ip.alias("creation_ip"),
        bernoulli(seed, "verified", verified_p, idx).alias("verified"),
    )


def ground_truth(accounts_df: DataFrame) -> DataFrame:
    """What each account really is; evaluation reads it, training never does."""
    return accounts_df.select(
        "account_id",
        F.col("is_bot").alias("is_spam_bot"),
        F.col("kind").alias("bot_kind"),
        "botnet_id",
    )


def generate_world(
    spark: SparkSession, cfg: GenerateConfig, as_of: dt.date, platform_start: dt.date
) -> tuple[WorldPlan, dict[str, DataFrame]]:
    """Plan a world and return its six source tables plus `ground_truth` as DataFrames."""
    plan = plan_world(cfg, as_of, platform_start)
    accounts_df = account_plan(spark, plan)
    activity_df = account_days(accounts_df, day_grid(spark, plan))
    tables = {
        "accounts": accounts(accounts_df, plan),
        "tweets": tweets(activity_df, plan),
        "interactions": interactions(activity_df, plan),
        "follows": follows(accounts_df, plan),
        "logins": logins(activity_df, plan),
        "ops_actions": ops_actions(accounts_df, plan),
        "ground_truth": ground_truth(accounts_df),
    }
    return plan, tables
