"""Sample intervals for the delivery figures, without scipy.

Rates carry a Wilson interval, event counts per week an exact Poisson (Garwood) one,
quantiles a distribution-free one from order statistics; all at 95 %. scipy would give
the same numbers (tests check it does) but importing it costs a command 2 s.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "CONFIDENCE",
    "binomial_quantile",
    "poisson_rate_interval",
    "quantile",
    "quantile_interval",
    "wilson_interval",
]

CONFIDENCE = 0.95
_Z = 1.959963984540054  # the normal quantile for a two-sided 95 % interval


def wilson_interval(successes: int, trials: int) -> list[float] | None:
    """Wilson's score interval of a share; None with no trials."""
    if trials == 0:
        return None
    z = _Z
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z
        * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
        / (1 + z * z / trials)
    )
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _poisson_cdf(k: int, mean: float) -> float:
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    return sum(math.exp(i * log_mean - mean - math.lgamma(i + 1)) for i in range(k + 1))


def _bisect(function: Callable[[float], bool], low: float, high: float) -> float:
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if function(middle) else (low, middle)
    return (low + high) / 2


def poisson_rate_interval(count: int, weeks: float) -> list[float] | None:
    """The exact (Garwood) interval of a Poisson count, per week: solved on the Poisson
    distribution up to 100 events, by Byar's approximation above (within 1e-4 there)."""
    if weeks <= 0:
        return None
    half = (1 - CONFIDENCE) / 2
    if count > 100:
        above = count + 1
        low = count * (1 - 1 / (9 * count) - _Z / (3 * math.sqrt(count))) ** 3
        high = above * (1 - 1 / (9 * above) + _Z / (3 * math.sqrt(above))) ** 3
    else:
        ceiling = 10.0 * (count + 10)
        # low: P(X >= count) = half; high: P(X <= count) = half.
        low = (
            0.0
            if count == 0
            else _bisect(lambda m: 1 - _poisson_cdf(count - 1, m) < half, 0.0, ceiling)
        )
        high = _bisect(lambda m: _poisson_cdf(count, m) > half, 0.0, ceiling)
    return [low / weeks, high / weeks]


def binomial_quantile(p: float, n: int, q: float) -> int:
    """The smallest k with P(Binomial(n, q) <= k) >= p, summed from the log pmf; the sum
    starts twelve standard deviations below the mean (what lies below is under 1e-30)."""
    log_q, log_rest = math.log(q), math.log1p(-q)
    top = math.lgamma(n + 1)
    first = max(0, math.floor(n * q - 12 * math.sqrt(n * q * (1 - q))))
    total = 0.0
    for k in range(first, n + 1):
        total += math.exp(
            top - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_q + (n - k) * log_rest
        )
        if total >= p - 1e-12:
            return k
    return n


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by linear interpolation (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def quantile_interval(values: list[float], q: float) -> list[float] | None:
    """A distribution-free interval for the q-quantile from order statistics; None when
    too few values for one at the confidence level."""
    n = len(values)
    if n == 0:
        return None
    alpha = 1 - CONFIDENCE
    low = binomial_quantile(alpha / 2, n, q)  # 1-based order statistic
    high = binomial_quantile(1 - alpha / 2, n, q) + 1
    if low < 1 or high > n:
        return None
    ordered = sorted(values)
    return [ordered[low - 1], ordered[high - 1]]
