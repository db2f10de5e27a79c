"""The distances and tests drift is measured with, on counts (no scipy in the core).

Everything here works on binned counts or on the reference sample's grid, so a field
capture is streamed once and never sorted. p-values: Kolmogorov's asymptotic
distribution with Stephens' small-sample correction for KS, the regularised upper
incomplete gamma function for chi-squared (checked against scipy in the tests).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "chi_squared_test",
    "js_distance",
    "ks_p_value",
    "psi",
    "psi_noise",
]

SMOOTHING = 1e-4  # added to every bin's share, so an empty bin has a finite PSI term


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros(len(counts))
    return (shares + SMOOTHING) / (1 + SMOOTHING * len(counts))


def psi(reference: np.ndarray, field: np.ndarray) -> float:
    """Population stability index of two histograms over the same bins."""
    expected, actual = _shares(reference), _shares(field)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_noise(bins: int, field_rows: int, reference_rows: int) -> float:
    """The PSI expected from sampling alone when nothing drifted: PSI is about the
    chi-squared statistic over n, so (bins - 1) * (1/n + 1/m)."""
    if field_rows == 0 or reference_rows == 0:
        return math.inf
    return (bins - 1) * (1 / field_rows + 1 / reference_rows)


def js_distance(reference: np.ndarray, field: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, from 0 to 1) of two histograms."""
    p = reference / reference.sum() if reference.sum() else reference
    q = field / field.sum() if field.sum() else field
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        kept = a > 0
        return float(np.sum(a[kept] * np.log2(a[kept] / m[kept])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def ks_p_value(statistic: float, field_rows: int, reference_rows: int) -> float:
    """Two-sample KS p-value: Kolmogorov's limit distribution at Stephens' lambda."""
    if field_rows == 0 or reference_rows == 0:
        return 1.0
    effective = field_rows * reference_rows / (field_rows + reference_rows)
    root = math.sqrt(effective)
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 0.2:
        return 1.0
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, 2 * total))


def _upper_gamma(a: float, x: float) -> float:
    """The regularised upper incomplete gamma Q(a, x): a series below a + 1, else
    Lentz's continued fraction (both to 1e-14)."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-14:
            break
    return min(1.0, math.exp(log_front) * h)


def chi_squared_test(reference: np.ndarray, field: np.ndarray) -> tuple[float, float, float]:
    """Homogeneity of two count vectors (a 2 x K table): (statistic, p-value, Cramer's V)."""
    kept = (reference + field) > 0
    table = np.vstack([reference[kept], field[kept]]).astype(np.float64)
    total = table.sum()
    if table.shape[1] < 2 or not table[0].sum() or not table[1].sum():
        return 0.0, 1.0, 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    p_value = _upper_gamma(dof / 2, statistic / 2)
    cramers_v = math.sqrt(statistic / (total * min(1, dof))) if total else 0.0
    return statistic, p_value, cramers_v
