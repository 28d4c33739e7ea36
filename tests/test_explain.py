"""Reason codes list only what pushed an account toward spam, for forests and regressions;
feature directions from training rows; the directions tag."""

from __future__ import annotations

import logging

import pytest
from chispa import assert_df_equality
from pyspark.ml import PipelineModel
from pyspark.ml.classification import LogisticRegressionModel, RandomForestClassificationModel
from pyspark.ml.feature import SQLTransformer, StandardScalerModel

from botdetect.model.explain import (
    Explainer,
    directions_tag,
    explained_cuts,
    explainer_for,
    feature_directions,
    reason_codes,
)
from botdetect.model.registry import ServedModel
from botdetect.train.models import ForestParams, fit, forest_pipeline, logistic_pipeline
from tests.conftest import DEFAULTS, jvm_rows

COLUMNS = ("tweets_1d", "account_age_days", "followers", "const")
ACCOUNT = "account_id long, tweets_1d double, account_age_days double, followers double"
REASONS = "account_id long, why array<string>"


@pytest.fixture(scope="module")
def population(spark):
    """100 accounts: tweets and followers 0..99, ages 0..990 days, one constant."""
    return jvm_rows(
        spark,
        [(i, float(i), 10.0 * i, float(i), 7.0) for i in range(100)],
        f"{ACCOUNT}, const double",
    )


def _why(spark, explainer, population, rows, top):
    accounts = jvm_rows(spark, rows, ACCOUNT).selectExpr("*", "7.0 AS const")
    cuts = explained_cuts(population, explainer)
    return accounts.select("account_id", reason_codes(explainer, cuts, top).alias("why"))


def _forest(directions):
    return Explainer(
        kind="forest",
        features=COLUMNS,
        weights=(0.4, 0.3, 0.2, 0.1),
        means=(0.0,) * 4,
        stds=(1.0,) * 4,
        directions=directions,
        fills=(-1.0,) * 4,
    )


# Spam accounts tweet more, are younger and have fewer followers; `const` has no side.
LINEAR = Explainer(
    kind="linear",
    features=COLUMNS,
    weights=(2.0, -1.5, -0.5, 3.0),
    means=(50.0, 500.0, 50.0, 7.0),
    stds=(25.0, 250.0, 20.0, 0.0),
    directions=(1, -1, -1, 0),
    fills=(-1.0,) * 4,
)


def test_forest_reasons_are_on_the_spam_side_only(spark, population):
    got = _why(
        spark,
        _forest((1, -1, -1, 0)),
        population,
        [
            # 99 tweets (p99) and a new account (p1); 99 followers are the human side.
            (1, 99.0, 0.0, 99.0),
            (2, 50.0, 990.0, 99.0),  # an old, popular account: nothing to hold against it
            (3, 95.0, 500.0, 2.0),  # importance x distance: tweets .4 x .91, followers .2 x .95
            (4, None, 50.0, 50.0),  # no tweet count is not a high one (filled -1: p0)
            (5, 89.0, 110.0, 11.0),  # just inside p10..p90 everywhere
        ],
        top=3,
    )
    expected = jvm_rows(
        spark,
        [
            (1, ["tweets_1d=99 (p99)", "account_age_days=0 (p1)"]),
            (2, []),
            (3, ["tweets_1d=95 (p96)", "followers=2 (p3)"]),
            (4, ["account_age_days=50 (p6)"]),
            (5, []),
        ],
        REASONS,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_forest_without_directions_reads_only_high_values(spark, population):
    # Versions registered before directions: only values above p90 can be reasons.
    got = _why(
        spark,
        _forest(None),
        population,
        [(1, 99.0, 0.0, 99.0), (2, 50.0, 990.0, 50.0), (3, 50.0, 0.0, 0.0)],
        top=3,
    )
    expected = jvm_rows(
        spark,
        [
            (1, ["tweets_1d=99 (p99)", "followers=99 (p99)"]),
            (2, ["account_age_days=990 (p99)"]),
            (3, []),
        ],
        REASONS,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_regression_reasons_rank_by_coefficient_times_standardised_value(spark, population):
    got = _why(
        spark,
        LINEAR,
        population,
        [
            # tweets 2 x 1.2 = 2.4 before followers -0.5 x -2.5 = 1.25, though p1 is
            # further from the median than p81; the constant (std 0) moves nothing.
            (1, 80.0, 500.0, 0.0),
            # age 3.0, tweets 0.8, followers 0.125: any positive contribution is a reason.
            (2, 60.0, 0.0, 45.0),
            (3, 40.0, 990.0, 99.0),  # few tweets, old, popular: every contribution < 0
            (4, 50.0, 500.0, None),  # no followers value: filled -1, z = -2.55 -> 1.275
        ],
        top=3,
    )
    expected = jvm_rows(
        spark,
        [
            (1, ["tweets_1d=80 (p81)", "followers=0 (p1)"]),
            (2, ["account_age_days=0 (p1)", "tweets_1d=60 (p61)", "followers=45 (p46)"]),
            (3, []),
            (4, ["followers=null (p0)"]),
        ],
        REASONS,
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    top1 = _why(spark, LINEAR, population, [(2, 60.0, 0.0, 45.0)], top=1)
    expected1 = jvm_rows(spark, [(2, ["account_age_days=0 (p1)"])], REASONS)
    assert_df_equality(top1, expected1, ignore_nullable=True)


def test_strongest_keeps_features_that_can_be_reasons(spark):
    # |coefficient| per training std: the constant feature (std 0) cannot move a score.
    assert LINEAR.strongest(2).features == ("tweets_1d", "account_age_days")
    assert LINEAR.strongest(10).features == ("tweets_1d", "account_age_days", "followers")
    # A forest feature with no side is dropped; unknown sides keep every feature.
    forest = _forest((1, 0, -1, 1)).strongest(10)
    assert (forest.features, forest.directions) == (
        ("tweets_1d", "followers", "const"),
        (1, -1, 1),
    )
    assert _forest(None).strongest(2).features == ("tweets_1d", "account_age_days")
    with pytest.raises(ValueError, match="sizes"):
        Explainer("linear", ("a",), (1.0, 2.0), (0.0,), (1.0,), (1,), (None,))


def _training_rows(spark):
    """Spam: many tweets, new accounts, few followers; humans the opposite."""
    spam = [(i, 1, 1.0, 60.0 + i, 5.0 * i, float(i), 7.0) for i in range(20)]
    humans = [(100 + i, 0, 1.0, float(i), 500.0 + 50 * i, 50.0 + i, 7.0) for i in range(20)]
    return jvm_rows(
        spark,
        spam + humans,
        "account_id long, label int, weight double, tweets_1d double, "
        "account_age_days double, followers double, const double",
    )


def _served(fitted: PipelineModel) -> PipelineModel:
    # A stage after the classifier, as the calibrator is: stages are found by type.
    return PipelineModel(
        stages=[*fitted.stages, SQLTransformer(statement="SELECT * FROM __THIS__")]
    )


def test_a_fitted_regression_explains_with_its_own_coefficients_scaler_and_fill(spark):
    train = _training_rows(spark)
    columns = list(COLUMNS[:3])
    served = _served(fit(logistic_pipeline(columns, DEFAULTS.train.logistic, -1.0, 0.01), train))
    explainer = explainer_for(served, columns, None)
    model = next(s for s in served.stages if isinstance(s, LogisticRegressionModel))
    scaler = next(s for s in served.stages if isinstance(s, StandardScalerModel))
    assert explainer.kind == "linear"
    assert explainer.weights == tuple(model.coefficients.toArray())
    assert explainer.means == tuple(scaler.mean.toArray())
    assert explainer.stds == tuple(scaler.std.toArray())
    assert explainer.fills == (-1.0, -1.0, -1.0)
    assert explainer.directions == (1, -1, -1)
    accounts = jvm_rows(
        spark,
        [
            (1, 90.0, 3000.0, 500.0),  # spammy volume from an old, popular account
            (2, 0.0, 3000.0, 500.0),  # human everywhere
            (3, 75.0, 0.0, 0.0),  # spam side everywhere
        ],
        ACCOUNT,
    )
    cuts = explained_cuts(train, explainer)
    got = accounts.select("account_id", reason_codes(explainer, cuts, 3).alias("why"))
    values = {"tweets_1d": 75.0, "account_age_days": 0.0, "followers": 0.0}
    contribution = {
        c: w * (values[c] - m) / s
        for c, w, m, s in zip(
            columns, explainer.weights, explainer.means, explainer.stds, strict=True
        )
    }
    order = sorted(columns, key=lambda c: -contribution[c])
    texts = {
        "tweets_1d": "tweets_1d=75 (p89)",  # 35 of the 40 training rows are below
        "account_age_days": "account_age_days=0 (p1)",
        "followers": "followers=0 (p1)",
    }
    expected = jvm_rows(
        spark, [(1, ["tweets_1d=90 (p99)"]), (2, []), (3, [texts[c] for c in order])], REASONS
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_fitted_forest_explains_with_importances_and_stored_directions(spark, caplog):
    train = _training_rows(spark)
    columns = list(COLUMNS)
    pipeline = forest_pipeline(columns, ForestParams(5, 3, 1), DEFAULTS.train.forest, -1.0, seed=3)
    served = _served(fit(pipeline, train))
    forest = next(s for s in served.stages if isinstance(s, RandomForestClassificationModel))
    directions = {"tweets_1d": 1, "account_age_days": -1, "followers": -1, "const": 0}
    explainer = explainer_for(served, columns, directions)
    assert explainer.kind == "forest"
    assert explainer.weights == tuple(forest.featureImportances.toArray())
    assert explainer.directions == (1, -1, -1, 0)
    assert explainer.fills == (-1.0,) * 4
    with caplog.at_level(logging.WARNING, logger="botdetect.model.explain"):
        unknown = explainer_for(served, columns, None)
    assert unknown.directions is None
    assert [r.message.split(":")[0] for r in caplog.records] == [
        "model version has no feature_directions tag"
    ]
    with pytest.raises(ValueError, match="no direction for feature"):
        explainer_for(served, columns, {"tweets_1d": 1})
    assembler_only = PipelineModel(stages=served.stages[:2])
    with pytest.raises(ValueError, match="no logistic regression or random forest"):
        explainer_for(assembler_only, columns, None)


def test_feature_directions_from_weighted_percentile_ranks(spark):
    columns = ["tweets", "age", "same", "empty", "sparse", "w_flip", "ratio"]
    rows = [
        # label, weight, tweets, age, same, empty, sparse, w_flip, ratio
        (1, 1.0, 50.0, 1.0, 1.0, None, 3.0, 0.0, None),
        (1, 1.0, 60.0, 2.0, 2.0, None, 0.0, 0.0, None),
        (1, 0.05, 70.0, 3.0, 1.0, None, 0.0, 10.0, None),
        (1, 0.05, 80.0, 4.0, 2.0, None, 0.0, 10.0, None),
        (0, 1.0, 1.0, 100.0, 1.0, None, 0.0, 5.0, 0.2),
        (0, 1.0, 2.0, 200.0, 2.0, None, 0.0, 5.0, 0.3),
        (0, 1.0, 3.0, 300.0, 1.0, None, 0.0, 5.0, 0.4),
        (0, 1.0, 4.0, 400.0, 2.0, None, 0.0, 5.0, 0.5),
    ]
    schema = "label int, weight double, " + ", ".join(f"{c} double" for c in columns)
    train = jvm_rows(spark, rows, schema)
    assert feature_directions(train, columns, -1.0) == {
        "tweets": 1,
        "age": -1,
        "same": 0,  # the same weighted distribution in both classes
        "empty": 0,  # all null: every row sits at the fill
        "sparse": 1,  # both medians are 0; a spam account is the only non-zero one
        "w_flip": -1,  # a tie unweighted; the heavy spam rows sit below every human
        "ratio": -1,  # null for spam: the model sees -1, below every human
    }
    assert feature_directions(train.where("label = 1"), columns, -1.0) == dict.fromkeys(columns, 0)
    assert feature_directions(train.limit(0), columns, -1.0) == dict.fromkeys(columns, 0)
    assert feature_directions(train, [], -1.0) == {}


def test_directions_tag_round_trips_through_the_served_model():
    columns = ["tweets_1d", "account_age_days", "const"]
    directions = {"tweets_1d": 1, "account_age_days": -1, "const": 0}
    tag = directions_tag(directions, columns)
    assert tag == "+-0"
    tags = {"feature_columns": ",".join(columns), "feature_directions": tag}
    assert ServedModel("m", "4", "models:/m/4", "run", tags).feature_directions == directions
    old = ServedModel("m", "3", "models:/m/3", "run", {"feature_columns": "a,b"})
    assert old.feature_directions is None
    for bad in ("+-", "+x0"):
        broken = ServedModel("m", "5", "models:/m/5", "run", {**tags, "feature_directions": bad})
        with pytest.raises(ValueError, match="feature_directions"):
            _ = broken.feature_directions
