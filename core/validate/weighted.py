"""Statistics of weighted rows in the shapes a bootstrap evaluates fast.

A statistic maps a (resamples x rows) matrix of row weights to one value per resample:
the point estimate is its value at weights all 1, a bootstrap its values at resample
counts. Most metrics are functions of a few weighted sums of per-row quantities
(accuracy is "correct rows" over "rows"), so they are a :class:`LinearStatistic`: each
sum is one matrix-vector product over the counts, and a filtered subset of the
dataset's rows is the same product with zeros outside it (a small subset's rows are
read alone instead).

A statistic may also offer ``of_counts(counts, row_ids)``: its values on the run's
shared :class:`~modeldesk.validate.counts.Counts` (``row_ids``: which of their rows are
its rows; None when they all are, in order). :func:`evaluate_counts` uses it when there,
and otherwise gathers the rows and calls the statistic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from modeldesk.validate.counts import GATHER_SHARE, Counts

__all__ = [
    "Combined",
    "LinearStatistic",
    "WeightedPercentile",
    "column_sums",
    "evaluate_counts",
    "paired",
    "ratio",
    "running_sums",
]

NARROW_COLUMNS = 64  # below this many resamples numpy's own cumsum is the faster one
WINDOW_SIGMAS = 6  # a percentile's window: its rank's standard deviations either side
WINDOW_SLACK = 16  # ... plus these rows (small samples, heavy ties)

# A statistic of rows weighted by their counts in one resample: counts (R x n) -> (R,).
Statistic = Callable[[np.ndarray], np.ndarray]


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (no row of that kind drawn)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def running_sums(rows_first: np.ndarray) -> np.ndarray:
    """Cumulative sums down axis 0 of a (rows x resamples) matrix, in place.

    numpy's cumsum along axis 0 of a C-ordered matrix walks each column with a stride
    of a whole row; adding each row to the next is a contiguous vector addition, about
    3x faster for a bootstrap's 2,000 resamples. The additions are in the same order,
    so the sums are the same.
    """
    if rows_first.ndim < 2 or rows_first.shape[1] < NARROW_COLUMNS:  # a point estimate
        return np.cumsum(rows_first, axis=0, out=rows_first)
    rows = list(rows_first)  # the row views made once: the loop is then just additions
    for previous, row in itertools.pairwise(rows):
        np.add(row, previous, out=row)
    return rows_first


def evaluate_counts(statistic: Statistic, counts: Counts, row_ids: np.ndarray | None) -> Any:
    """``statistic`` on shared counts: rows ``row_ids`` of them, or all."""
    of_counts = getattr(statistic, "of_counts", None)
    if of_counts is not None:
        return of_counts(counts, row_ids)
    return statistic(counts.rows(row_ids).T)


def _rows_of(row_ids: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """Where a statistic's rows ``rows`` are among the shared counts' rows."""
    return rows if row_ids is None else row_ids[rows]


def column_sums(by_row: np.ndarray, quantities: np.ndarray) -> np.ndarray:
    """``by_row.T @ quantities`` (resamples x k) as one matrix-vector product per column.

    For the few columns a statistic has, OpenBLAS's matrix product packs the whole
    counts matrix first and takes about three matrix-vector products' time, whatever k.
    """
    counts = by_row.T
    sums = np.empty((len(counts), quantities.shape[1]), dtype=np.float32)
    for index in range(quantities.shape[1]):
        sums[:, index] = counts @ quantities[:, index]
    return sums


class LinearStatistic:
    """``finish(weights @ quantities)``: a function of weighted sums of per-row quantities.

    ``quantities`` is rows x k (float64); they are kept in float32 too, as resample
    counts are (small integers, exact in float32) so the product runs at float32 speed.

    Most quantities are indicators (a row is correct, flipped, of a class): their sum is
    the counts of the rows where they are 1, or of all rows less those where they are 0,
    whichever rows are fewer. Reading a few rows of the counts is far cheaper than a
    product over all of them, which only the other quantities need.
    """

    def __init__(self, quantities: np.ndarray, finish: Callable[[np.ndarray], np.ndarray]) -> None:
        values = np.asarray(quantities, dtype=np.float64)
        self.quantities = values[:, None] if values.ndim == 1 else values
        self.single = self.quantities.astype(np.float32)
        self.finish = finish
        # Per indicator column: (rows to read, whether they are the zeros to subtract).
        self.indicators: dict[int, tuple[np.ndarray, bool]] = {}
        for index, column in enumerate(self.quantities.T):
            ones = column == 1
            if np.all(ones | (column == 0)):
                fewer_zeros = 2 * int(ones.sum()) > len(column)
                self.indicators[index] = (np.flatnonzero(~ones if fewer_zeros else ones),
                                          fewer_zeros)  # fmt: skip
        self.general = [index for index in range(values.shape[-1]) if index not in self.indicators]

    @classmethod
    def mean(cls, values: np.ndarray) -> LinearStatistic:
        """The weighted mean of a per-row quantity."""
        column = np.asarray(values, dtype=np.float64)
        return cls(np.column_stack([column, np.ones(len(column))]), _mean_finish)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """The statistic for each row of weights (float64 weights: float64 sums)."""
        exact = weights.dtype == np.float64
        return self.finish(weights @ (self.quantities if exact else self.single))

    def of_counts(self, counts: Counts, row_ids: np.ndarray | None) -> np.ndarray:
        """On shared counts (``row_ids``: where the statistic's rows are among them)."""
        subset = None if row_ids is None or len(row_ids) == len(counts) else row_ids
        sums = np.empty((counts.resamples, self.single.shape[1]), dtype=np.float32)
        for index, (rows, zeros) in self.indicators.items():
            found = counts.total(_rows_of(row_ids, rows))
            sums[:, index] = counts.every(subset) - found if zeros else found
        if self.general:
            by_row, quantities = counts.by_row, self.single[:, self.general]
            if subset is None:
                sums[:, self.general] = column_sums(by_row, quantities)
            elif len(subset) * GATHER_SHARE < len(by_row):  # a small subset: its rows
                sums[:, self.general] = column_sums(by_row[subset], quantities)
            else:  # zeros outside the subset
                spread = np.zeros((len(by_row), len(self.general)), dtype=np.float32)
                spread[subset] = quantities
                sums[:, self.general] = column_sums(by_row, spread)
        return self.finish(sums)


def _mean_finish(sums: np.ndarray) -> np.ndarray:
    return ratio(sums[:, 0], sums[:, 1])


class Combined:
    """A function of several statistics on the same weights (a paired difference, a mean
    over classes); each part is evaluated as fast as it can be."""

    def __init__(
        self, parts: Sequence[Statistic], combine: Callable[[list[np.ndarray]], np.ndarray]
    ) -> None:
        self.parts = list(parts)
        self.combine = combine

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """The combination of the parts' values for each row of weights."""
        return self.combine([part(weights) for part in self.parts])

    def of_counts(self, counts: Counts, row_ids: np.ndarray | None) -> np.ndarray:
        """The combination of the parts' values on shared counts."""
        return self.combine([evaluate_counts(part, counts, row_ids) for part in self.parts])


def paired(new: Statistic, old: Statistic, sign: float) -> Statistic:
    """``sign * (new - old)`` on the same weights; two linear statistics share one product."""
    if isinstance(new, LinearStatistic) and isinstance(old, LinearStatistic):
        split = new.quantities.shape[1]
        first, second = new.finish, old.finish
        return LinearStatistic(
            np.hstack([new.quantities, old.quantities]),
            lambda sums: sign * (first(sums[:, :split]) - second(sums[:, split:])),
        )
    return Combined([new, old], lambda values: sign * (values[0] - values[1]))


class WeightedPercentile:
    """The value below which ``fraction`` of the weighted rows fall.

    Rows in value order; the answer is the first whose running weight exceeds
    ``floor(total * fraction)`` (the nearest-rank rule onnxruntime_perf_test uses).
    """

    def __init__(self, values: np.ndarray, fraction: float) -> None:
        self.order = np.argsort(np.asarray(values), kind="stable")
        self.ordered = np.asarray(values)[self.order]
        self.fraction = fraction

    def _pick(self, cumulative: np.ndarray, rank: np.ndarray, start: int = 0) -> np.ndarray:
        index = start + (cumulative <= rank).sum(axis=0)
        return self.ordered[np.minimum(index, len(self.ordered) - 1)]

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """The percentile for each row of weights (every row's running weight)."""
        cumulative = running_sums(weights.T[self.order])  # a gathered copy: summed in place
        return self._pick(cumulative, np.floor(cumulative[-1:].astype(np.float64) * self.fraction))

    def of_counts(self, counts: Counts, row_ids: np.ndarray | None) -> np.ndarray:
        """On shared counts, summing only a window of rows around the percentile's rank.

        The answer sits within a few standard deviations of ``fraction`` of the way
        through the rows, so a weighted sum gives each resample's weight below the
        window (the total is known), and only the window's rows are summed one by one. A resample
        whose answer falls outside the window (rare) is done over all rows.
        """
        rows = len(self.order)
        spread = math.sqrt(rows * self.fraction * (1 - self.fraction))
        half = math.ceil(WINDOW_SIGMAS * spread) + WINDOW_SLACK
        centre = round(self.fraction * (rows - 1))
        low, high = max(0, centre - half), min(rows, centre + half + 1)
        if high - low >= rows // 2:  # too few rows for a window to save anything
            return self(counts.rows(row_ids).T)
        below = counts.total(_rows_of(row_ids, self.order[:low]))
        total = np.broadcast_to(counts.every(row_ids), counts.resamples)
        rank = np.floor(total.astype(np.float64) * self.fraction)
        window = counts.by_row[_rows_of(row_ids, self.order[low:high])]  # a gathered copy
        running_sums(window)
        window += below
        found = self._pick(window, rank, low)
        outside = (below > rank) | ((window[-1] <= rank) & (high < rows))
        if outside.any():
            found[outside] = self(counts.rows(row_ids)[:, outside].T)
        return found
