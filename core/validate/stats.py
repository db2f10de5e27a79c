"""Bootstrap intervals and the verdicts built on them.

Every metric a check uses is a ratio of weighted sums over rows (accuracy, recall,
MAE, ...), a weighted AUC or percentile, so one resample is a vector of row counts and
a batch of resamples is a matrix of them (``weighted`` holds the statistics' fast
forms). A run's checks share one such matrix per dataset; without it, resamples are
drawn in chunks, so memory stays bounded whatever the row count. A paired comparison
applies the same resamples to both models.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modeldesk.validate.counts import SMALL_COUNT, Counts
from modeldesk.validate.weighted import Statistic, evaluate_counts

__all__ = [
    "FAIL",
    "INCONCLUSIVE",
    "PASS",
    "Interval",
    "SharedResamples",
    "bootstrap",
    "bootstrap_draws",
    "combine_verdicts",
    "derive_seed",
    "holm_all_rejected",
    "holm_any_rejected",
    "interval_of",
    "mcnemar_exact",
    "percentiles",
    "quantiles",
    "rows_to_decide",
    "share_beyond",
    "verdict_at_least",
    "verdict_at_most",
]

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
CHUNK_CELLS = 1 << 18  # resamples x rows drawn at once (a cache-sized chunk)
SHARED_CELLS = 1 << 23  # resamples x rows kept for a run's checks (32 MB of float32)
SHARED_KEPT = 4  # shared count matrices a process keeps between runs (at most 160 MB)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float
    confidence: float
    resamples: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (what "+-" means in a message)."""
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | int]:
        """The JSON form."""
        return {
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "resamples": self.resamples,
        }


def derive_seed(*parts: str) -> int:
    """A seed from the strings that define a computation (suite, check, model, data)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class SharedResamples:
    """Bootstrap row counts shared by a run's checks on one dataset: one per row count.

    Drawing counts costs far more than a statistic of them, and a run's checks mostly
    read the same rows, so they are evaluated on the same resamples (common random
    numbers: as for a paired comparison, differences between checks are then not
    resampling noise). The seed comes from the suite version, the model and the
    dataset's content; a check's own seed (with its id) drives its perturbations.
    """

    def __init__(self, resamples: int, seed: int, rows: int | None = None) -> None:
        self.resamples = resamples
        self.seed = seed
        self.rows = rows  # the dataset's rows: a subset's counts are rows of these
        self._counts: dict[int, Counts] = {}  # by row count: each remembers its totals

    def counts(self, rows: int | None = None) -> Counts | None:
        """The shared counts of ``rows`` rows (the dataset's when None), or None when too
        many to keep. One :class:`Counts` per run and row count, so that the run's checks
        share the totals it remembers."""
        rows = self.rows if rows is None else rows
        if rows is None or rows * self.resamples > SHARED_CELLS:
            return None
        if rows not in self._counts:
            by_row, small = _shared_counts(self.resamples, self.seed, rows)
            self._counts[rows] = Counts(by_row, drawn=rows, small=small)
        return self._counts[rows]


@functools.lru_cache(maxsize=SHARED_KEPT)
def _shared_counts(resamples: int, seed: int, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Shared counts, rows x resamples (a subset of rows is a contiguous gather), read-only,
    and the same as one byte each when they fit (they do unless a row is drawn over 255
    times in one resample).

    They are a pure function of their arguments, so a process keeps the last few: a
    rerun of a suite on unchanged inputs (the seed is derived from them) draws nothing.
    """
    by_row = np.ascontiguousarray(_counts(np.random.default_rng([seed, rows]), resamples, rows).T)
    by_row.flags.writeable = False
    small = by_row.astype(np.uint8) if by_row.max(initial=0) <= SMALL_COUNT else None
    if small is not None:
        small.flags.writeable = False
    return by_row, small


def _counts(generator: np.random.Generator, resamples: int, rows: int) -> np.ndarray:
    """Row counts of ``resamples`` bootstrap resamples of ``rows`` rows (float32)."""
    out = np.empty((resamples, rows), dtype=np.float32)
    per_chunk = max(1, min(resamples, CHUNK_CELLS // max(rows, 1)))
    offsets = np.arange(per_chunk)[:, None] * rows  # each resample counts into its own row
    for start in range(0, resamples, per_chunk):
        count = min(per_chunk, resamples - start)
        draws = generator.integers(0, rows, size=(count, rows))
        draws += offsets[:count]
        out[start : start + count] = np.bincount(draws.ravel(), minlength=count * rows).reshape(
            count, rows
        )
    return out


def bootstrap_draws(
    statistic: Statistic,
    rows: int,
    *,
    resamples: int,
    seed: int,
    shared: SharedResamples | None = None,
    row_ids: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """The statistic on all rows, and on ``resamples`` resamples of them (NaNs dropped).

    ``statistic`` takes a (R x rows) matrix of row counts (float32 for resamples,
    float64 ones for the point estimate) and returns R values. With ``shared``, the
    counts are the run's shared ones (``row_ids``: these rows of the dataset's);
    without it (or when the rows are too many to keep), they are drawn here from
    ``seed``, in chunks.
    A resample whose statistic is undefined (no row of a class drawn) is dropped.
    """
    if rows <= 0:
        return math.nan, np.zeros(0)
    point = float(statistic(np.ones((1, rows)))[0])
    common = None
    if shared is not None and shared.resamples == resamples:
        common = shared.counts(rows if row_ids is None else None)
    if common is not None:
        drawn = np.asarray(evaluate_counts(statistic, common, row_ids), dtype=np.float64)
    else:
        generator = np.random.default_rng(seed)
        per_chunk = max(1, CHUNK_CELLS // rows)
        parts = [
            statistic(_counts(generator, min(per_chunk, resamples - start), rows))
            for start in range(0, resamples, per_chunk)
        ]
        drawn = np.asarray(np.concatenate(parts), dtype=np.float64)
    return point, drawn[~np.isnan(drawn)]


def interval_of(point: float, drawn: np.ndarray, confidence: float) -> Interval:
    """The percentile interval of bootstrap draws around ``point``."""
    if len(drawn) == 0:
        return Interval(point, math.nan, math.nan, confidence, 0)
    tail = (1 - confidence) / 2 * 100
    low, high = percentiles(drawn, (tail, 100 - tail))
    return Interval(point, low, high, confidence, len(drawn))


def percentiles(values: np.ndarray, points: tuple[float, ...]) -> list[float]:
    """``np.percentile(values, points)`` (its default, linear method), bit for bit."""
    return quantiles(values, tuple(point / 100 for point in points))


def quantiles(values: np.ndarray, fractions: Sequence[float]) -> list[float]:
    """``np.quantile(values, fractions)`` (its default, linear method), bit for bit, from
    one partial sort: numpy's own call costs more than the work for a few thousand values."""
    count = len(values)
    positions = []
    for fraction in fractions:
        virtual = fraction * (count - 1)
        below = min(max(math.floor(virtual), 0), count - 1)
        positions.append((below, min(below + 1, count - 1), virtual - below))
    kth = sorted({index for below, above, _ in positions for index in (below, above)})
    ordered = np.partition(np.asarray(values, dtype=np.float64), kth)
    found = []
    for below, above, gamma in positions:
        a, b = ordered[below], ordered[above]
        step = b - a  # numpy's lerp, from the nearer end (exact at both ends)
        found.append(float(b - step * (1 - gamma) if gamma >= 0.5 else a + step * gamma))
    return found


def bootstrap(
    statistic: Statistic,
    rows: int,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    shared: SharedResamples | None = None,
    row_ids: np.ndarray | None = None,
) -> Interval:
    """The statistic on all rows and its percentile interval (see :func:`bootstrap_draws`)."""
    point, drawn = bootstrap_draws(
        statistic, rows, resamples=resamples, seed=seed, shared=shared, row_ids=row_ids
    )
    return interval_of(point, drawn, confidence)


def share_beyond(drawn: np.ndarray, threshold: float, *, below: bool) -> float:
    """A bootstrap p-value: the share of draws below (or above) ``threshold``, smoothed."""
    beyond = int((drawn < threshold).sum() if below else (drawn > threshold).sum())
    return (beyond + 1) / (len(drawn) + 1)


def holm_all_rejected(p_values: list[float], alpha: float) -> bool:
    """Holm's step-down: are all hypotheses rejected at family-wise level ``alpha``?"""
    ordered = sorted(p_values)
    return all(p <= alpha / (len(ordered) - i) for i, p in enumerate(ordered))


def holm_any_rejected(p_values: list[float], alpha: float) -> bool:
    """Holm's step-down: is at least one hypothesis rejected (the smallest p at alpha/k)?"""
    return bool(p_values) and min(p_values) <= alpha / len(p_values)


def combine_verdicts(verdicts: list[str]) -> str:
    """Several bounds on one check: FAIL if one fails, PASS if all pass, else INCONCLUSIVE."""
    if FAIL in verdicts:
        return FAIL
    return PASS if all(verdict == PASS for verdict in verdicts) else INCONCLUSIVE


def verdict_at_least(interval: Interval, threshold: float) -> str:
    """PASS when the whole interval is at or above ``threshold``, FAIL when all below."""
    if math.isnan(interval.low):
        return INCONCLUSIVE
    if interval.low >= threshold:
        return PASS
    if interval.high < threshold:
        return FAIL
    return INCONCLUSIVE


def verdict_at_most(interval: Interval, threshold: float) -> str:
    """PASS when the whole interval is at or below ``threshold``, FAIL when all above."""
    if math.isnan(interval.low):
        return INCONCLUSIVE
    if interval.high <= threshold:
        return PASS
    if interval.low > threshold:
        return FAIL
    return INCONCLUSIVE


def rows_to_decide(interval: Interval, threshold: float, rows: int) -> int | None:
    """Rows an interval would need to clear ``threshold`` at the observed effect.

    The half-width shrinks as one over the square root of the rows, so deciding an
    effect ``e`` with half-width ``h`` at ``n`` rows takes about ``n (h / e)^2``.
    None when the estimate sits on the threshold (no number of rows decides it).
    """
    effect = abs(interval.value - threshold)
    if effect == 0 or math.isnan(interval.half_width):
        return None
    return max(rows + 1, math.ceil(rows * (interval.half_width / effect) ** 2))


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value: rows only the first got right vs only the second."""
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    smaller = min(only_first, only_second)
    # P(X <= smaller) for X ~ Binomial(discordant, 1/2), summed in log space.
    log_half = discordant * math.log(0.5)
    terms = [
        math.lgamma(discordant + 1) - math.lgamma(k + 1) - math.lgamma(discordant - k + 1)
        for k in range(smaller + 1)
    ]
    top = max(terms)
    tail = math.exp(top + log_half) * sum(math.exp(term - top) for term in terms)
    return min(1.0, 2 * tail)
