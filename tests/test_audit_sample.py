"""The audit loop's moving parts: the random audit sample of a scoring run, the simulated
ops team's worklist and verdicts, and its files in the ops export."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.contract import OPS_ACTIONS
from botdetect.generate.ops_team import verdicts, worklist
from botdetect.io.landing import read_export, replace_export_files
from botdetect.score.audit_sample import audit_draw, audit_sample
from botdetect.table_catalog import AUDIT_REQUESTS
from tests.conftest import jvm_rows

D = dt.date(2026, 11, 27)


def _scores(spark, bands):
    rows = []
    next_id = 1
    for decision, n in bands.items():
        for _ in range(n):
            rows.append((next_id, decision, 0.5))
            next_id += 1
    return jvm_rows(spark, rows, "account_id long, decision string, score double")


def _types(df_or_schema):
    schema = getattr(df_or_schema, "schema", df_or_schema)
    return [(f.name, f.dataType) for f in schema.fields]


def _smallest_draws(spark, scores, decision, k):
    ranked = (
        scores.where(F.col("decision") == decision)
        .select("account_id", audit_draw(D, F.col("account_id")).alias("d"))
        .orderBy("d", "account_id")
        .limit(k)
        .collect()
    )
    return sorted(r["account_id"] for r in ranked)


def test_each_band_gets_a_simple_random_sample_of_its_budget_with_its_size(spark):
    sizes = {"block": 30, "review": 5, "rate_limit": 12, "allow": 400}
    scores = _scores(spark, sizes)
    budgets = {"block": 10, "review": 10, "allow": 20}  # review: fewer accounts than budget
    sample = audit_sample(scores, sizes, budgets, D)
    got = {
        r["decision"]: (r["n"], r["N"], r["sampled"])
        for r in sample.groupBy("decision")
        .agg(
            F.count("*").alias("n"),
            F.first("band_accounts").alias("N"),
            F.first("band_sampled").alias("sampled"),
        )
        .collect()
    }
    # rate_limit has no budget: not audited. Review is taken whole.
    assert got == {"block": (10, 30, 10), "review": (5, 5, 5), "allow": (20, 400, 20)}
    for band, k in (("block", 10), ("allow", 20)):
        chosen = sorted(r["account_id"] for r in sample.where(F.col("decision") == band).collect())
        assert chosen == _smallest_draws(spark, scores, band, k)
    assert _types(sample) == _types(AUDIT_REQUESTS.schema)
    # A rerun for the date asks for the same accounts; another date for others.
    assert_df_equality(sample, audit_sample(scores, sizes, budgets, D), ignore_row_order=True)
    other = audit_sample(scores, sizes, budgets, D + dt.timedelta(days=1))
    assert {r[0] for r in other.collect()} != {r[0] for r in sample.collect()}


def test_nothing_to_audit_gives_an_empty_sample_with_the_schema(spark):
    scores = _scores(spark, {"allow": 3})
    empty = audit_sample(scores, {"allow": 3}, {"allow": 0}, D)
    assert empty.count() == 0 and _types(empty) == _types(AUDIT_REQUESTS.schema)
    none = audit_sample(scores.limit(0), {}, {"allow": 5}, D)
    assert none.count() == 0 and _types(none) == _types(AUDIT_REQUESTS.schema)


def _queue(spark, clusters):
    member = "struct<expected_value:double,account_id:bigint>"
    return jvm_rows(
        spark,
        [(c, p, [{"expected_value": ev, "account_id": a} for a, ev in m]) for c, p, m in clusters],
        f"cluster_id long, priority double, members array<{member}>",
    )


def test_the_worklist_puts_audits_first_then_the_queue_by_priority_and_value(spark):
    audits = jvm_rows(spark, [(7,), (3,)], "account_id long")
    queue = _queue(
        spark,
        [
            (1, 5.0, [(11, 3.0), (12, 2.0)]),
            (2, 9.0, [(21, 1.0), (3, 8.0), (22, 4.0)]),  # 3 is also audited: an audit
        ],
    )
    got = worklist(audits, queue)
    expected = jvm_rows(
        spark,
        [
            (3, "random_audit", 1),
            (7, "random_audit", 2),
            (22, "model_queue", 3),
            (21, "model_queue", 4),
            (11, "model_queue", 5),
            (12, "model_queue", 6),
        ],
        "account_id long, review_trigger string, position int",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_verdicts_follow_the_truth_within_capacity_as_ops_rows(spark):
    work = jvm_rows(
        spark,
        [
            (1, "random_audit", 1),
            (2, "random_audit", 2),
            (3, "model_queue", 3),
            (4, "model_queue", 4),
        ],
        "account_id long, review_trigger string, position int",
    )
    truth = jvm_rows(
        spark, [(1, True), (2, False), (3, True), (4, True)], "account_id long, is_spam_bot boolean"
    )
    day = D + dt.timedelta(days=1)
    got = verdicts(work, truth, day, capacity=3, error_rate=0.0, seed=7)
    assert got.schema.fieldNames() == OPS_ACTIONS.columns
    rows = sorted((r[0], r[2], r[3], r[5]) for r in got.collect())
    assert rows == [
        (1, "suspend", "spam", "random_audit"),
        (2, "none", "spam", "random_audit"),
        (3, "suspend", "spam", "model_queue"),
    ]
    bounds = got.agg(F.min("action_at"), F.max("action_at"), F.min("review_minutes")).first()
    assert dt.datetime.combine(day, dt.time(8)) <= bounds[0] <= bounds[1]
    assert bounds[1] < dt.datetime.combine(day, dt.time(18))
    assert bounds[2] > 0
    # Every verdict wrong at error rate 1: the flip is applied, not ignored. (The config
    # caps it at 0.5; the function takes any rate.)
    flipped = verdicts(work, truth, day, capacity=3, error_rate=1.0, seed=7)
    assert sorted((r[0], r[2]) for r in flipped.collect()) == [
        (1, "none"),
        (2, "suspend"),
        (3, "none"),
    ]


def test_export_files_of_a_tag_are_replaced_and_the_rest_kept(spark, tmp_path):
    landing = str(tmp_path)
    first = jvm_rows(
        spark,
        [(1, dt.datetime(2026, 11, 20, 9), "lock", "spam", "n", None, None)],
        OPS_ACTIONS.schema,
    )
    first.write.mode("overwrite").parquet(f"{landing}/ops_actions")  # "the platform's" export
    added = jvm_rows(
        spark,
        [(2, dt.datetime(2026, 11, 28, 9), "none", "spam", "x", "random_audit", 3.0)],
        OPS_ACTIONS.schema,
    )
    replace_export_files(added, landing, OPS_ACTIONS, "parquet", tag="ops-sim-2026-11-27")
    again = added.withColumn("account_id", F.lit(3).cast("long"))
    placed = replace_export_files(again, landing, OPS_ACTIONS, "parquet", tag="ops-sim-2026-11-27")
    assert placed and all("part-ops-sim-2026-11-27-" in p for p in placed)
    read = read_export(spark, landing, OPS_ACTIONS, "parquet", {})
    assert sorted(r[0] for r in read.select("account_id").collect()) == [1, 3]
    assert not list(tmp_path.glob("ops_actions/_staging*"))
