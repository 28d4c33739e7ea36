"""Estimates from random audits (report/audited.py): known answers, edges, coverage."""

from __future__ import annotations

import random

import pytest

from botdetect.report.audited import (
    Estimate,
    Stratum,
    TweetStratum,
    for_reviewer_error,
    spam_tweets,
    stratified_share,
    wilson,
    z_value,
)


def test_one_stratum_is_wilsons_interval():
    # 8 spam in 10 audits of a huge band: the textbook Wilson 95% interval (0.490, 0.943).
    est = stratified_share([Stratum(10**9, 10, 8)], 0.95)
    assert est.value == pytest.approx(0.8)
    assert (est.lo, est.hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert (est.audited, est.population) == (10, 10**9)


def test_all_clean_audits_keep_a_lower_bound_below_one():
    # 300 of 300 audits right: the lower bound is near 0.9874, the rule-of-three scale.
    est = stratified_share([Stratum(50_000, 300, 300)], 0.95)
    assert est.value == 1.0
    assert est.hi == 1.0
    assert est.lo == pytest.approx(0.98735, abs=1e-4)


def test_a_band_audited_in_full_has_no_sampling_error():
    est = stratified_share([Stratum(40, 40, 30)], 0.95)
    assert (est.value, est.lo, est.hi) == (0.75, 0.75, 0.75)
    # ...unless verdicts are draws of their own (reviewers err): then Wilson on 40.
    drawn = stratified_share([Stratum(40, 40, 30)], 0.95, finite_population=False)
    assert (drawn.lo, drawn.hi) == pytest.approx(wilson(0.75, 40, z_value(0.95)))


def test_strata_are_weighted_by_their_size_not_their_sample():
    # Two days of one band: 100 accounts all spam, 300 accounts none; ten audits each.
    est = stratified_share([Stratum(100, 10, 10), Stratum(300, 10, 0)], 0.95)
    assert est.value == pytest.approx(0.25)
    assert est.lo < 0.25 < est.hi
    assert (est.audited, est.population) == (20, 400)


def test_strata_without_verdicts_are_left_out_and_none_when_nothing_is_audited():
    est = stratified_share([Stratum(100, 4, 2), Stratum(900, 0, 0)], 0.95)
    assert (est.value, est.population) == (0.5, 100)
    assert stratified_share([Stratum(900, 0, 0)], 0.95) is None
    assert stratified_share([], 0.95) is None


def test_impossible_strata_and_confidences_are_refused():
    with pytest.raises(ValueError, match="positives <= sampled <= population"):
        Stratum(10, 5, 6)
    with pytest.raises(ValueError, match="positives <= sampled <= population"):
        Stratum(10, 11, 0)
    with pytest.raises(ValueError, match="confidence"):
        z_value(1.0)


def test_wilson_edges():
    assert wilson(0.3, 0, 1.96) == (0.0, 1.0)
    assert wilson(0.3, float("inf"), 1.96) == (0.3, 0.3)
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_stratified_intervals_cover_the_true_share_at_their_confidence():
    """Draw 400 audits of three bands of a known population; the 95% interval of the
    combined share should contain the truth in about 95% of repetitions."""
    rng = random.Random(20261204)
    bands = [(2_000, 0.995, 60), (8_000, 0.6, 40), (90_000, 0.01, 100)]  # size, share, n
    populations = [[i < round(size * share) for i in range(size)] for size, share, _ in bands]
    truth = sum(sum(p) for p in populations) / sum(size for size, _, _ in bands)
    hits = 0
    for _ in range(400):
        strata = []
        for (size, _, n), people in zip(bands, populations, strict=True):
            drawn = rng.sample(people, n)
            strata.append(Stratum(size, n, sum(drawn)))
        hits += stratified_share(strata, 0.95).contains(truth)
    assert 0.92 <= hits / 400 <= 0.99


def test_spam_tweets_weighs_accounts_by_what_they_sent():
    # A band audited in full: 2 spam accounts sent 90 of its 100 tweets.
    full = TweetStratum(4, 100, ((60, True), (30, True), (6, False), (4, False)))
    est = spam_tweets([full], 0.95)
    assert (est.value, est.lo, est.hi) == (0.9, 0.9, 0.9)
    # Two bands: the second (1,000 tweets) is half spam by tweets in its sample.
    half = TweetStratum(1_000, 1_000, ((10, True), (10, False)))
    est = spam_tweets([full, half], 0.95)
    assert est.value == pytest.approx((90 + 500) / 1_100)
    assert est.lo < est.value < est.hi
    assert spam_tweets([TweetStratum(10, 50, ())], 0.95) is None


def test_reviewer_error_is_taken_out_of_the_estimate_and_its_interval():
    # A perfect band audited by reviewers wrong 0.5% of the time shows 99.5% spam.
    est = Estimate(0.995, 0.97, 0.999, 200, 5000)
    fixed = for_reviewer_error(est, 0.005)
    assert fixed.value == pytest.approx(1.0)
    assert fixed.lo == pytest.approx((0.97 - 0.005) / 0.99)
    assert fixed.hi == 1.0  # clipped
    assert (fixed.audited, fixed.population) == (200, 5000)
    # A clean band shows the error rate itself as spam: back to 0.
    assert for_reviewer_error(Estimate(0.005, 0.0, 0.02, 100, 9000), 0.005).value == 0.0
    assert for_reviewer_error(est, 0.0) is est
    assert for_reviewer_error(None, 0.005) is None
    with pytest.raises(ValueError, match="reviewer error rate"):
        for_reviewer_error(est, 0.5)


def test_spam_tweets_keeps_an_interval_when_every_audit_agrees():
    # 100 of 5,000 accounts audited, all spam: the share is 1, the interval is not a point.
    band = TweetStratum(5_000, 50_000, tuple((10, True) for _ in range(100)))
    est = spam_tweets([band], 0.95)
    assert est.value == 1.0 and est.hi == 1.0
    assert 0.95 < est.lo < 0.99
    # In full, without reviewer error, it is exact; with it, a draw like any other.
    full = TweetStratum(100, 1_000, tuple((10, True) for _ in range(100)))
    assert spam_tweets([full], 0.95).lo == 1.0
    assert spam_tweets([full], 0.95, finite_population=False).lo < 1.0
