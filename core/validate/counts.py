"""Row weights of many resamples at once, and their totals over sets of rows.

A bootstrap's statistics are evaluated on a (rows x resamples) matrix of row counts.
Most of that work is one kind of sum: each resample's total count over some rows (the
rows of a class, of a slice, the rows a model gets wrong). :class:`Counts` computes
those totals as cheaply as the counts allow, and each only once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["GATHER_SHARE", "SMALL_COUNT", "Counts"]

GATHER_SHARE = 3  # rows fewer than a third of the counts': gathered, not a full product
SMALL_COUNT = np.iinfo(np.uint8).max  # counts up to this fit the one-byte copy


class Counts:
    """Row weights of R resamples held rows x resamples, with totals over sets of rows.

    ``drawn``: every resample's total over all the rows, when it is the same for all (a
    bootstrap resample draws as many rows as there are); a total over most rows is then
    that less the total over the few others, so no total reads more than half the rows.
    ``small``: the same counts as one byte each, when they fit: a quarter of the bytes
    to read, and sums of small integers are exact in any type.
    Totals are remembered: a run's checks ask for the same ones over and over. Callers
    must not change an array this returns.
    """

    def __init__(
        self, by_row: np.ndarray, *, drawn: int | None = None, small: np.ndarray | None = None
    ) -> None:
        self.by_row = by_row
        self.drawn = drawn
        self.small = small
        # A sum of one-byte counts over at most all the rows: the narrowest exact type.
        self._wide = np.uint16 if drawn is not None and drawn <= np.iinfo(np.uint16).max else None
        self._totals: dict[tuple[str, bytes], np.ndarray] = {}

    @classmethod
    def of_weights(cls, weights: np.ndarray) -> Counts:
        """Any (R x rows) weights, nothing known of their totals (a point estimate)."""
        return cls(weights.T)

    def __len__(self) -> int:
        return len(self.by_row)

    @property
    def resamples(self) -> int:
        """How many resamples (columns)."""
        return self.by_row.shape[1]

    def rows(self, row_ids: np.ndarray | None) -> np.ndarray:
        """The counts of rows ``row_ids`` in their order, or of every row (rows x resamples)."""
        by_row = self.by_row
        return by_row if row_ids is None or len(row_ids) == len(by_row) else by_row[row_ids]

    def every(self, row_ids: np.ndarray | None) -> Any:
        """Each resample's total over rows ``row_ids`` (None: every row)."""
        if row_ids is None or len(row_ids) == len(self.by_row):
            if self.drawn is not None:
                return self.drawn  # the same for every resample
            row_ids = np.arange(len(self.by_row))
        return self.total(row_ids)

    def total(self, rows: np.ndarray) -> np.ndarray:
        """Each resample's total count over ``rows`` (distinct row numbers), read-only."""
        key = (rows.dtype.str, rows.tobytes())
        known = self._totals.get(key)
        if known is not None:
            return known
        if self.drawn is not None and 2 * len(rows) > len(self.by_row):
            others = np.ones(len(self.by_row), dtype=bool)
            others[rows] = False
            found = self.drawn - self._sum(np.flatnonzero(others))
        else:
            found = self._sum(rows)
        found.flags.writeable = False  # shared by every statistic that asks
        self._totals[key] = found
        return found

    def _sum(self, rows: np.ndarray) -> np.ndarray:
        by_row = self.by_row
        if len(rows) == 0:
            return np.zeros(by_row.shape[1], dtype=by_row.dtype)
        if self.small is not None and self._wide is not None:
            return self.small[rows].sum(axis=0, dtype=self._wide).astype(by_row.dtype)
        if len(rows) * GATHER_SHARE < len(by_row):
            return by_row[rows].sum(axis=0, dtype=by_row.dtype)
        marks = np.zeros(len(by_row), dtype=by_row.dtype)
        marks[rows] = 1
        return by_row.T @ marks
