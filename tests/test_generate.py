"""The synthetic platform: deterministic, to contract, and hard in the ways the README describes."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.contract import SOURCE_TABLES
from botdetect.generate.world import BENIGN_AUTOMATION_KINDS, generate_world, plan_world
from botdetect.table_catalog import GROUND_TRUTH
from tests.conftest import jvm_rows

AS_OF = dt.date(2026, 11, 28)
PLATFORM_START = dt.date(2010, 1, 1)
OVERRIDES = [
    "generate.accounts=3000",
    "generate.days=6",
    "generate.partitions=2",
    "generate.botnet_size=10",
    "generate.nat_group_size=100",
    "generate.false_label_rate=0.05",
    "generate.late_campaign_days=2",
    "generate.evasive_scheduled_share=1.0",
]


def world(spark, *extra: str):
    cfg = load_config("local", [*OVERRIDES, *extra]).generate
    return generate_world(spark, cfg, AS_OF, PLATFORM_START)


@pytest.fixture(scope="module")
def tiny_world(spark):
    plan, tables = world(spark)
    cached = {name: df.cache() for name, df in tables.items()}
    yield plan, cached
    for df in cached.values():
        df.unpersist()


def _types(schema):
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def test_schemas_equal_the_contract(tiny_world):
    _, tables = tiny_world
    for name, table in SOURCE_TABLES.items():
        assert _types(tables[name].schema) == _types(table.schema), name
    assert _types(tables["ground_truth"].schema) == _types(GROUND_TRUTH.schema)


def test_same_seed_gives_identical_tables_and_another_seed_does_not(spark, tiny_world):
    _, first = tiny_world
    _, again = world(spark)
    for name in ("tweets", "logins", "follows", "ops_actions", "accounts"):
        assert_df_equality(first[name], again[name], ignore_row_order=True)
    _, other = world(spark, "generate.seed=8")
    assert other["tweets"].exceptAll(first["tweets"]).limit(1).count() == 1


def test_plan_counts_match_prevalence_and_mix():
    cfg = load_config("local", ["generate.accounts=100000"]).generate
    plan = plan_world(cfg, AS_OF, PLATFORM_START)
    sizes = {k: end - start for k, (start, end) in plan.ranges.items()}
    bots = sum(sizes[k] for k in cfg.bot_mix)
    assert bots == 2000  # 2% of 100k
    for kind, share in cfg.bot_mix.items():
        assert sizes[kind] == round(2000 * share)
    assert sizes["benign_automation"] == 1000
    assert sizes["feed_automation"] == 500  # feed_automation_share, outside prevalence
    assert sizes["evasive"] == 400  # 20% of the bots
    assert sum(sizes.values()) + plan.popular[1] == 100_000


def test_truth_prevalence_and_kinds(tiny_world):
    _, tables = tiny_world
    truth = tables["ground_truth"]
    counts = {r["bot_kind"]: r["count"] for r in truth.groupBy("bot_kind").count().collect()}
    assert sum(counts.values()) == 3000
    assert truth.where("is_spam_bot").count() == 60
    assert set(counts) == {
        "human",
        "benign_automation",
        "naive_template",
        "paraphrase",
        "low_and_slow",
        "human_rhythm",
        "late_campaign",
        "evasive",
        "feed_automation",
    }
    assert truth.where("is_spam_bot AND botnet_id IS NULL").count() == 0
    assert truth.where("NOT is_spam_bot AND botnet_id IS NOT NULL").count() == 0


def test_account_ids_are_unique_and_keys_never_null(tiny_world):
    _, tables = tiny_world
    for name, table in SOURCE_TABLES.items():
        df = tables[name]
        assert df.count() == df.dropDuplicates(list(table.primary_key)).count(), name
        for column in table.required:
            assert df.where(F.col(column).isNull()).count() == 0, (name, column)


def test_botnet_members_share_controllers(tiny_world):
    plan, tables = tiny_world
    logins = tables["logins"].join(tables["ground_truth"], "account_id")
    naive = logins.where(F.col("bot_kind") == "naive_template")
    per_botnet = naive.groupBy("botnet_id").agg(
        F.countDistinct("ip").alias("ips"),
        F.countDistinct("device_id").alias("devices"),
        F.countDistinct("account_id").alias("members"),
    )
    rows = per_botnet.collect()
    assert rows, "no naive botnet logged in"
    for row in rows:
        assert row["ips"] <= 4 and row["devices"] <= 3
        if row["members"] == plan.botnet_size:  # the kind's last botnet may be a small one
            assert row["members"] > row["ips"]
    created = tables["accounts"].join(tables["ground_truth"], "account_id")
    spread = (
        created.where(F.col("bot_kind") == "naive_template")
        .groupBy("botnet_id")
        .agg((F.max("created_at").cast("long") - F.min("created_at").cast("long")).alias("s"))
    )
    assert spread.where(F.col("s") > 6 * 3600).count() == 0  # created in a 6-hour burst


def test_botnet_logins_are_synchronised(tiny_world):
    _, tables = tiny_world
    logins = tables["logins"].join(tables["ground_truth"], "account_id")
    first_login = (
        logins.where(F.col("bot_kind") == "naive_template")
        .groupBy("botnet_id", "event_date", "account_id")
        .agg(F.min("login_at").cast("long").alias("t"))
        .groupBy("botnet_id", "event_date")
        .agg((F.max("t") - F.min("t")).alias("spread"))
    )
    assert first_login.where(F.col("spread") > 90).count() == 0


def test_nat_ips_carry_many_benign_accounts(tiny_world):
    _, tables = tiny_world
    per_ip = (
        tables["logins"]
        .join(tables["ground_truth"], "account_id")
        .groupBy("ip")
        .agg(
            F.countDistinct("account_id").alias("accounts"),
            F.max(F.col("is_spam_bot").cast("int")).alias("any_bot"),
        )
    )
    hot = per_ip.where(F.col("accounts") >= 40)
    assert hot.count() >= 1
    assert hot.where(F.col("any_bot") == 1).count() == 0


def test_ops_labels_are_partial_and_sometimes_wrong(tiny_world):
    _, tables = tiny_world
    spam = (
        tables["ops_actions"]
        .where("reason = 'spam' AND restriction IN ('suspend', 'lock')")
        .select("account_id")
        .distinct()
        .join(tables["ground_truth"], "account_id")
    )
    labelled_bots = spam.where("is_spam_bot").count()
    assert 0 < labelled_bots < 60
    assert spam.where("NOT is_spam_bot").count() > 0
    assert tables["ops_actions"].where("restriction = 'cleared'").count() > 0
    latest = tables["ops_actions"].agg(F.max("action_at")).first()[0]
    assert latest < dt.datetime(2026, 11, 29)  # nothing from after the as-of date


def test_late_campaign_starts_in_the_last_days(tiny_world):
    plan, tables = tiny_world
    late = tables["tweets"].join(
        tables["ground_truth"].where("bot_kind = 'late_campaign'"), "account_id"
    )
    first_day = late.agg(F.min("event_date")).first()[0]
    assert first_day == plan.world_start + dt.timedelta(days=plan.campaign_start_day)
    assert late.where(F.col("text").contains("airdrop") | F.col("text").contains("$")).count() > 0


def _masked_text():
    """Tweet text with URLs and numbers masked, as the template features see it."""
    return F.regexp_replace(
        F.regexp_replace(F.lower("text"), r"https?://\S+", "<url>"), r"\d+", "<num>"
    )


def test_naive_bots_repeat_a_template_humans_do_not(tiny_world):
    _, tables = tiny_world
    masked = _masked_text()
    per_kind = (
        tables["tweets"]
        .join(tables["ground_truth"], "account_id")
        .groupBy("bot_kind")
        .agg(F.count("*").alias("n"), F.countDistinct(masked).alias("distinct"))
    )
    share = {r["bot_kind"]: r["distinct"] / r["n"] for r in per_kind.collect()}
    assert share["naive_template"] < 0.01
    assert share["paraphrase"] > 0.1  # paraphrasing keeps exact duplicates rare
    assert share["human"] > 0.8


def test_benign_automation_is_regular(tiny_world):
    _, tables = tiny_world
    auto = tables["tweets"].join(
        tables["ground_truth"].where("bot_kind = 'benign_automation'"), "account_id"
    )
    per_day = auto.groupBy("account_id", "event_date").count()
    counts = {r["count"] for r in per_day.collect()}
    assert counts <= {4, 6, 8, 12, 24}


def test_replies_point_at_existing_tweets(tiny_world):
    _, tables = tiny_world
    tweets = tables["tweets"]
    replies = tweets.where(F.col("parent_tweet_id").isNotNull()).select("parent_tweet_id")
    missing = replies.join(
        tweets.select(F.col("tweet_id").alias("parent_tweet_id")), "parent_tweet_id", "left_anti"
    )
    assert replies.count() > 0
    assert missing.count() == 0
    targets = tables["interactions"].select("tweet_id").distinct()
    assert targets.join(tweets, "tweet_id", "left_anti").count() == 0


def test_new_kinds_have_their_configured_shares(spark, tiny_world):
    _, tables = tiny_world
    per_kind = (
        tables["ground_truth"]
        .where(F.col("bot_kind").isin("evasive", *BENIGN_AUTOMATION_KINDS))
        .groupBy("bot_kind", "is_spam_bot")
        .agg(F.count("*").alias("accounts"), F.countDistinct("botnet_id").alias("botnets"))
    )
    expected = jvm_rows(
        spark,
        [
            # 20% of 60 bots, in botnets of 10; 1% and 0.5% of 3,000 accounts, benign.
            ("evasive", True, 12, 2),
            ("benign_automation", False, 30, 0),
            ("feed_automation", False, 15, 0),
        ],
        per_kind.schema,
    )
    assert_df_equality(per_kind, expected, ignore_row_order=True, ignore_nullable=True)


def _per_account_day(tables, kind: str):
    """Tweets per (account, day alive), zero days included, for one kind."""
    truth = tables["ground_truth"].where(F.col("bot_kind") == kind).select("account_id")
    days = tables["logins"].select("event_date").distinct()
    alive = (
        tables["accounts"]
        .join(truth, "account_id")
        .crossJoin(days)
        .where(F.to_date("created_at") < F.col("event_date"))
        .select("account_id", "event_date")
    )
    counts = tables["tweets"].groupBy("account_id", "event_date").count()
    return alive.join(counts, ["account_id", "event_date"], "left").fillna(0, ["count"])


def test_evasive_bots_tweet_at_human_scale(tiny_world):
    _, tables = tiny_world
    evasive = _per_account_day(tables, "evasive")
    humans = _per_account_day(tables, "human")
    ev = evasive.agg(F.avg("count").alias("mean"), F.max("count").alias("max")).first()
    human_mean = humans.agg(F.avg("count")).first()[0]
    # Within a few times a person's mean, never a naive spammer's 20+ a day.
    assert 0.5 * human_mean < ev["mean"] < 3 * human_mean
    assert ev["max"] < 20
    assert evasive.where("count = 0").count() > 0  # quiet days, like people


def test_evasive_bots_log_in_from_their_own_ips(tiny_world):
    _, tables = tiny_world
    truth = tables["ground_truth"]
    evasive = tables["logins"].join(truth.where("bot_kind = 'evasive'"), "account_id")
    per_ip = evasive.groupBy("ip").agg(F.countDistinct("account_id").alias("accounts"))
    n_ips = per_ip.count()
    # Mostly one account per IP; the shared ones are the controller host, one per botnet.
    assert per_ip.where("accounts = 1").count() >= 0.9 * n_ips
    assert per_ip.where("accounts > 1").count() <= evasive.select("botnet_id").distinct().count()
    per_account = evasive.groupBy("account_id").agg(F.countDistinct("ip").alias("ips"))
    assert per_account.where("ips > 1").count() > 0  # a phone now and then
    created = tables["accounts"].join(truth.where("bot_kind = 'evasive'"), "account_id")
    assert created.select("creation_ip").distinct().count() == created.count()
    assert created.select("creation_device_id").distinct().count() == created.count()


def test_scheduled_evasive_botnets_act_only_in_their_controllers_sessions(tiny_world):
    _, tables = tiny_world
    truth = tables["ground_truth"].where("bot_kind = 'evasive'")
    events = (
        tables["logins"]
        .select("account_id", F.col("login_at").alias("at"))
        .unionByName(tables["tweets"].select("account_id", F.col("created_at").alias("at")))
        .join(truth, "account_id")
        .groupBy("botnet_id", F.to_date("at").alias("day"))
        .agg(
            F.array_sort(F.collect_list(F.col("at").cast("long"))).alias("ts"),
            F.countDistinct("account_id").alias("bots"),
        )
        .collect()
    )
    assert events and any(r["bots"] > 1 for r in events)
    for row in events:
        # Sessions: runs of events less than the jitter apart; at most EVASIVE_SESSIONS a day.
        starts = [t for i, t in enumerate(row["ts"]) if i == 0 or t - row["ts"][i - 1] > 20]
        assert len(starts) <= 3, row
    # Each bot still has its own line and device (test above) and a person's volume.


def test_hourly_people_tweet_at_the_top_of_the_hour(tiny_world):
    _, tables = tiny_world
    humans = tables["ground_truth"].where("bot_kind = 'human'")
    per_account = (
        tables["tweets"]
        .join(humans, "account_id")
        .groupBy("account_id")
        .agg(
            F.count("*").alias("n"),
            F.sum(((F.unix_timestamp("created_at") % 3600) < 30).cast("int")).alias("on_hour"),
        )
        .where("n >= 3")
    )
    hourly = per_account.where("on_hour = n").count()
    # generate.hourly_human_share of people; by chance, three tweets on the hour: ~1e-6.
    assert 0 < hourly <= 0.03 * per_account.count()


def test_evasive_text_is_varied_and_links_only_sometimes(tiny_world):
    _, tables = tiny_world
    masked = _masked_text()
    evasive = tables["tweets"].join(
        tables["ground_truth"].where("bot_kind = 'evasive'"), "account_id"
    )
    row = evasive.agg(
        F.count("*").alias("n"),
        F.countDistinct(masked).alias("distinct"),
        F.avg(F.col("text").rlike("https?://").cast("int")).alias("url_share"),
        F.avg((F.size("mentioned_account_ids") > 0).cast("int")).alias("mention_share"),
    ).first()
    assert row["distinct"] / row["n"] > 0.8  # no shared template
    assert 0.15 < row["url_share"] < 0.6  # a minority of tweets push the campaign
    assert 0.05 < row["mention_share"] < 0.6


def test_feed_automation_links_every_tweet_and_is_not_spam(tiny_world):
    _, tables = tiny_world
    truth = tables["ground_truth"].where("bot_kind = 'feed_automation'")
    assert truth.where("is_spam_bot OR botnet_id IS NOT NULL").count() == 0
    feeds = tables["tweets"].join(truth, "account_id")
    url_share = feeds.agg(F.avg(F.col("text").rlike("https?://").cast("int"))).first()[0]
    assert url_share > 0.9
    per_day = feeds.groupBy("account_id", "event_date").count()
    assert {r["count"] for r in per_day.collect()} <= {24, 36, 48, 72, 96}
    # Some operators run several feeds from one IP.
    per_ip = (
        tables["logins"]
        .join(truth, "account_id")
        .groupBy("ip")
        .agg(F.countDistinct("account_id").alias("accounts"))
    )
    assert per_ip.agg(F.max("accounts")).first()[0] in (3, 4, 5)
    # Ops lock some of them as spam, and clear most later.
    locked = (
        tables["ops_actions"]
        .join(truth, "account_id")
        .groupBy("restriction")
        .agg(F.countDistinct("account_id").alias("accounts"))
    )
    counts = {r["restriction"]: r["accounts"] for r in locked.collect()}
    assert counts.get("lock", 0) > 0
    assert 0 < counts.get("cleared", 0) <= counts["lock"]
