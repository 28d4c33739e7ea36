"""`labels.splits`: an account's split is fixed the first time it is seen.

With seed 23 and fractions 70/15/15, `split_of` hashes component ids 1-59 to `train`
except 2, 6, 9, 23, 41, 51, 56 (`test`) and 27, 30, 33, 40, 43, 52 (`validation`);
`test_the_hash_of_the_ids_used_here` checks the ones these tests rely on.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from botdetect.config import load_config
from botdetect.io.tables import read_table, table_version
from botdetect.table_catalog import SPLITS
from botdetect.train.dataset import labelled_rows, split_of
from botdetect.train.splits import assign_new, splits_ref, update_splits
from tests.conftest import jvm_rows

SEED, FRACTIONS = 23, [0.7, 0.15, 0.15]
D1, D2 = dt.date(2026, 11, 14), dt.date(2026, 11, 21)


@pytest.fixture
def cfg(tmp_path):
    return load_config(
        "local",
        [f"storage.root={tmp_path}", f"train.seed={SEED}", "train.fractions=[0.7,0.15,0.15]"],
    )


def _features(spark, rows, as_of=D1):
    """account_features of one date: (account_id, cluster_id) and a feature column."""
    return jvm_rows(spark, rows, "account_id long, cluster_id long").select(
        "account_id", F.lit(as_of).alias("as_of_date"), "cluster_id", F.lit(1.0).alias("f")
    )


def _rows(spark, rows):
    return jvm_rows(spark, rows, SPLITS.schema)


def _pairs(spark, rows):
    return jvm_rows(spark, rows, "account_id long, split string")


def _table(spark, cfg):
    return read_table(spark, splits_ref(cfg))


def _hash(spark, ids):
    df = jvm_rows(spark, [(i,) for i in ids], "cluster_id long")
    got = df.select("cluster_id", split_of(F.col("cluster_id"), SEED, FRACTIONS).alias("s"))
    return {r["cluster_id"]: r["s"] for r in got.collect()}


def test_the_hash_of_the_ids_used_here(spark):
    assert _hash(spark, [1, 2, 3, 4, 5, 6, 9, 27, 28, 41]) == {
        1: "train",
        2: "test",
        3: "train",
        4: "train",
        5: "train",
        6: "test",
        9: "test",
        27: "validation",
        28: "train",
        41: "test",
    }


def test_a_first_run_assigns_by_the_component_hash(spark, cfg):
    features = _features(spark, [(1, 1), (3, 1), (2, 2), (6, 6), (27, 27), (28, 27)])
    got = update_splits(spark, cfg, features, D1)

    expected = [
        (1, "train", D1, 1),
        (3, "train", D1, 1),
        (2, "test", D1, 2),
        (6, "test", D1, 6),
        (27, "validation", D1, 27),
        (28, "validation", D1, 27),
    ]
    assert_df_equality(
        _table(spark, cfg), _rows(spark, expected), ignore_row_order=True, ignore_nullable=True
    )
    # Exactly what split_of gave before the table existed.
    hashed = features.select("account_id", split_of(F.col("cluster_id"), SEED, FRACTIONS))
    assert_df_equality(
        got, hashed.toDF("account_id", "split"), ignore_row_order=True, ignore_nullable=True
    )


def test_a_split_assignment_survives_a_change_of_cluster_id(spark, cfg):
    update_splits(spark, cfg, _features(spark, [(3, 3), (6, 6), (27, 27), (28, 27)]), D1)
    before = _table(spark, cfg).collect()
    version = table_version(spark, splits_ref(cfg))

    # D2: 6 joins 3's component (its id is now 3, which hashes to train); 27 has left
    # the window, so 28 is a singleton (28 hashes to train).
    later = _features(spark, [(3, 3), (6, 3), (28, 28)], D2)
    got = update_splits(spark, cfg, later, D2)

    assert_df_equality(
        got,
        _pairs(spark, [(3, "train"), (6, "test"), (28, "validation")]),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert sorted(_table(spark, cfg).collect()) == sorted(before)  # the rows as first written
    assert table_version(spark, splits_ref(cfg)) == version  # nothing new: no commit


def test_a_new_account_takes_the_split_of_its_assigned_component(spark):
    assigned = _rows(spark, [(27, "validation", D1, 27), (30, "validation", D1, 27)])
    # D2: the component grew and its smallest member is now the new account 5 (which
    # hashes to train); 50 joins it too; 41 is a new component of its own.
    features = _features(spark, [(5, 5), (27, 5), (30, 5), (50, 5), (41, 41)], D2)
    got = assign_new(features, assigned, SEED, FRACTIONS, D2)
    expected = [
        (5, "validation", D2, 5),
        (50, "validation", D2, 5),
        (41, "test", D2, 41),
    ]
    assert_df_equality(got, _rows(spark, expected), ignore_row_order=True, ignore_nullable=True)


def test_merged_components_follow_most_members_then_the_smallest_member(spark):
    assigned = _rows(
        spark,
        [
            # Component 2 (test, 3 members) and component 3 (train, 2 members).
            (2, "test", D1, 2),
            (60, "test", D1, 2),
            (61, "test", D1, 2),
            (3, "train", D1, 3),
            (70, "train", D1, 3),
            # Component 27 (validation) and component 9 (test), 2 members each.
            (27, "validation", D1, 27),
            (90, "validation", D1, 27),
            (9, "test", D1, 9),
            (91, "test", D1, 9),
        ],
    )
    features = _features(
        spark,
        [
            # 2 and 3 merge through the new account 1 (hashes to train): most members: test.
            *[(a, 1) for a in (1, 2, 3, 60, 61, 70, 80)],
            # 27 and 9 merge through the new account 4 (hashes to train): a 2-2 tie goes to
            # the split of the smallest assigned member, 9: test (validation by split order).
            *[(a, 4) for a in (4, 9, 27, 90, 91, 95)],
        ],
        D2,
    )
    got = assign_new(features, assigned, SEED, FRACTIONS, D2)
    expected = [
        (1, "test", D2, 1),
        (80, "test", D2, 1),
        (4, "test", D2, 4),
        (95, "test", D2, 4),
    ]
    assert_df_equality(got, _rows(spark, expected), ignore_row_order=True, ignore_nullable=True)


def test_reruns_for_the_same_and_an_earlier_date_change_nothing(spark, cfg):
    first = _features(spark, [(2, 2), (3, 3), (27, 27), (28, 27)], D1)
    second = _features(spark, [(1, 1), (2, 1), (3, 3), (28, 28), (41, 41)], D2)
    got_first = update_splits(spark, cfg, first, D1).collect()
    got_second = update_splits(spark, cfg, second, D2).collect()
    after = _table(spark, cfg)
    expected = [
        (2, "test", D1, 2),
        (3, "train", D1, 3),
        (27, "validation", D1, 27),
        (28, "validation", D1, 27),
        (1, "test", D2, 1),  # joined 2's component
        (41, "test", D2, 41),
    ]
    assert_df_equality(after, _rows(spark, expected), ignore_row_order=True, ignore_nullable=True)
    rows, version = sorted(after.collect()), table_version(spark, splits_ref(cfg))

    assert sorted(update_splits(spark, cfg, second, D2).collect()) == sorted(got_second)
    assert sorted(update_splits(spark, cfg, first, D1).collect()) == sorted(got_first)
    assert sorted(_table(spark, cfg).collect()) == rows
    assert table_version(spark, splits_ref(cfg)) == version


def test_an_empty_date_inserts_nothing(spark, cfg):
    empty = _features(spark, [])
    assert update_splits(spark, cfg, empty, D1).count() == 0
    assert _table(spark, cfg).count() == 0  # the table exists, empty
    assert _table(spark, cfg).schema == SPLITS.schema
    update_splits(spark, cfg, _features(spark, [(2, 2)]), D1)
    version = table_version(spark, splits_ref(cfg))
    assert update_splits(spark, cfg, _features(spark, [], D2), D2).count() == 0
    assert table_version(spark, splits_ref(cfg)) == version


def test_a_null_cluster_id_is_a_singleton_of_the_account(spark):
    none = jvm_rows(spark, [], SPLITS.schema)
    # As the features stage does: each account is its own component, so two accounts
    # with a null id are hashed apart, not lumped into one "null" component.
    got = assign_new(_features(spark, [(2, None), (27, None)]), none, SEED, FRACTIONS, D1)
    expected = [(2, "test", D1, 2), (27, "validation", D1, 27)]
    assert_df_equality(got, _rows(spark, expected), ignore_row_order=True, ignore_nullable=True)


def test_labelled_rows_take_the_split_from_the_splits_frame(spark):
    features = _features(spark, [(2, 2), (3, 3), (6, 6)])
    labels = jvm_rows(
        spark,
        [(2, 1, "ops", 1.0, 1.0), (3, 0, "random", 1.0, 0.5)],
        "account_id long, label int, label_source string, weight double, sample_rate double",
    )
    # 3 hashes to train, but its stored split wins.
    splits = _pairs(spark, [(2, "test"), (3, "validation"), (6, "test")])
    got = labelled_rows(features, labels, splits).select("account_id", "cluster_id", "split")
    expected = jvm_rows(
        spark,
        [(2, 2, "test"), (3, 3, "validation")],
        "account_id long, cluster_id long, split string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_relative_storage_root_works_as_in_make_demo(spark, tmp_path):
    # `make demo` keeps tables under ./lakehouse: Delta's builder parses a relative
    # location as a table identifier unless it is made absolute. (Relative to the working
    # directory the session's JVM shares with this process.)
    root = "./" + os.path.relpath(tmp_path / "lake")
    relative = load_config(None, [f"storage.root={root}", f"train.seed={SEED}"])
    got = update_splits(spark, relative, _features(spark, [(1, 1), (2, 1)]), D1)
    assert sorted(r["account_id"] for r in got.collect()) == [1, 2]
    assert (tmp_path / "lake" / "labels" / "splits" / "_delta_log").is_dir()
