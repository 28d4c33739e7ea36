"""Estimates from ops's random audits: a band's precision, prevalence, spam tweets.

Every scoring run draws a simple random sample of each decision band (score/audit_sample.py);
ops's verdicts on it say what share of the band is spam. A stratum is one band of one
scoring date: its size N (accounts in the band that day), how many sampled accounts came
back with a verdict n, and how many of them were spam y. Several strata (a band over the
shadow period, or every band of a day) combine as a stratified estimate, each weighted by
its size.

Intervals. One stratum gets the Wilson score interval, with the finite-population
correction (n / (1 - n/N) effective rows: a band audited in full has no sampling error).
Several strata get the same interval on their effective sample size, p(1 - p) / variance,
the usual way of carrying Wilson's good behaviour near 0 and 1 to a stratified sample.
The variance uses Agresti-Coull's adjusted share (y + z^2/2) / (n + z^2) in each stratum,
so a stratum where every audit agreed still carries its sampling error instead of none.

Spam tweets: the share of a band's tweets that spam accounts sent is a ratio estimate
(sum of t_i y_i over sum of t_i over the audited accounts, t = tweets), scaled by the
band's tweet count; its variance is the usual linearised one, with pseudo-accounts as
Agresti-Coull adds pseudo-counts.

Verdicts not yet returned are missing at random within their stratum (the sample was
random; ops's order of work is not about the account), so n counts returned verdicts.

Reviewers err. When a share e of verdicts is wrong either way (QA's overturn rate on
double-reviewed cases), a band whose true spam share is p shows q = p (1 - e) + (1 - p) e
spam verdicts: a perfect block band audits at 1 - e, a clean allow band at e.
`for_reviewer_error` inverts that, p = (q - e) / (1 - 2e), on the estimate and both ends
of its interval (the map is increasing), clipped to [0, 1]. With reviewer error a band
audited in full still has an error of its own, so the caller then drops the
finite-population correction (`stratified_share(..., finite_population=False)`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist


@dataclasses.dataclass(frozen=True)
class Stratum:
    """One band of one date: N accounts, n audited with a verdict, y of them spam."""

    population: int
    sampled: int
    positives: int

    def __post_init__(self) -> None:
        if not 0 <= self.positives <= self.sampled <= self.population:
            raise ValueError(
                f"a stratum needs 0 <= positives <= sampled <= population, got "
                f"{self.positives}, {self.sampled}, {self.population}"
            )

    @property
    def sampled_fraction(self) -> float:
        return self.sampled / self.population if self.population else 1.0


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A share with its interval, and what it rests on."""

    value: float
    lo: float
    hi: float
    audited: int  # verdicts behind it
    population: int  # accounts (or tweets) it speaks for

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(p: float, n_eff: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for a share p observed on n_eff effective rows."""
    if n_eff <= 0:
        return 0.0, 1.0
    if math.isinf(n_eff):
        return p, p
    z2 = z * z
    centre = (p + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = z / (1 + z2 / n_eff) * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff * n_eff))
    return max(0.0, centre - half), min(1.0, centre + half)


def stratified_share(
    strata: Sequence[Stratum], confidence: float, *, finite_population: bool = True
) -> Estimate | None:
    """The spam share of the accounts the strata cover, with its interval.

    Strata without a verdict are left out (they are not covered: `population` says how
    many accounts the estimate speaks for); None when no stratum has one. Without
    `finite_population` the verdicts count as draws even when a band is audited in full:
    verdicts with reviewer error are random whoever is reviewed.
    """
    covered = [s for s in strata if s.sampled > 0]
    if not covered:
        return None
    z = z_value(confidence)
    total = sum(s.population for s in covered)
    value = sum(s.population / total * s.positives / s.sampled for s in covered)
    adjusted, variance = 0.0, 0.0
    for s in covered:
        weight = s.population / total
        p_adj = (s.positives + z * z / 2) / (s.sampled + z * z)
        adjusted += weight * p_adj
        fpc = 1 - s.sampled_fraction if finite_population else 1.0
        variance += weight**2 * fpc * p_adj * (1 - p_adj) / s.sampled
    n_eff = math.inf if variance == 0 else adjusted * (1 - adjusted) / variance
    lo, hi = wilson(value, n_eff, z)
    return Estimate(value, lo, hi, sum(s.sampled for s in covered), total)


@dataclasses.dataclass(frozen=True)
class TweetStratum:
    """One band of one date for tweet-weighted shares: its accounts and tweets, and the
    audited accounts as (tweets, is spam) pairs."""

    population: int
    tweets: int
    audited: tuple[tuple[int, bool], ...]


def spam_tweets(
    strata: Sequence[TweetStratum], confidence: float, *, finite_population: bool = True
) -> Estimate | None:
    """Spam tweets over all the strata's tweets (a ratio estimate per stratum), with a
    normal interval; strata without audited tweets are left out, None if none is left.

    The variance is the linearised one of a ratio, with the same care as Agresti-Coull's:
    z^2/2 pseudo-accounts of the sample's mean size on each side (spam and not) enter the
    residuals, so a band whose audited accounts all agree keeps its sampling error
    instead of none."""
    covered = [s for s in strata if sum(t for t, _ in s.audited) > 0]
    if not covered:
        return None
    z = z_value(confidence)
    total = sum(s.tweets for s in covered)
    if total == 0:
        return None
    spam, variance = 0.0, 0.0
    pseudo = z * z / 2
    for s in covered:
        n = len(s.audited)
        sent = sum(t for t, _ in s.audited)
        spam_sent = sum(t for t, bad in s.audited if bad)
        spam += s.tweets * spam_sent / sent
        mean_t = sent / n
        adjusted = (spam_sent + pseudo * mean_t) / (sent + 2 * pseudo * mean_t)
        squares = sum((t * ((1.0 if bad else 0.0) - adjusted)) ** 2 for t, bad in s.audited)
        squares += pseudo * (mean_t * (1 - adjusted)) ** 2 + pseudo * (mean_t * adjusted) ** 2
        s2 = squares / (n + 2 * pseudo - 1)
        f = n / s.population if finite_population and s.population else 0.0
        variance += s.tweets**2 * (1 - f) * s2 / (n * mean_t * mean_t)
    share = spam / total
    half = z * math.sqrt(variance) / total
    return Estimate(
        share,
        max(0.0, share - half),
        min(1.0, share + half),
        sum(len(s.audited) for s in covered),
        total,
    )


def for_reviewer_error(est: Estimate | None, error_rate: float) -> Estimate | None:
    """The estimate of the true share, given verdicts wrong with probability
    `error_rate` either way (0 leaves it as it is)."""
    if est is None or error_rate == 0:
        return est
    if not 0 <= error_rate < 0.5:
        raise ValueError(f"a reviewer error rate must be in [0, 0.5), got {error_rate}")

    def true_share(q: float) -> float:
        return min(1.0, max(0.0, (q - error_rate) / (1 - 2 * error_rate)))

    return dataclasses.replace(
        est, value=true_share(est.value), lo=true_share(est.lo), hi=true_share(est.hi)
    )
