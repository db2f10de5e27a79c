"""The metrics a check can name, as statistics of weighted rows (see ``stats.bootstrap``).

Each takes a (R x rows) matrix of row weights and returns R values, so the same code
gives the point estimate (weights all 1), a bootstrap and a paired difference. Names
follow ``modeldesk debug``: ``accuracy``, ``error_rate``, ``log_loss``, ``roc_auc``,
``recall[CLASS]``, ``precision[CLASS]``, ``f1[CLASS]`` for classifiers; ``mae``,
``rmse``, ``r2`` and ``residual_mean`` for regressors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modeldesk.errors import BadInputError
from modeldesk.validate.counts import Counts
from modeldesk.validate.weighted import (
    Combined,
    LinearStatistic,
    Statistic,
    ratio,
    running_sums,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "Outcomes",
    "metric_names",
    "ratio",
    "statistic",
]

CLASSIFICATION_METRICS = ("accuracy", "error_rate", "log_loss", "roc_auc")
PER_CLASS_METRICS = ("recall", "precision", "f1")
REGRESSION_METRICS = ("mae", "rmse", "r2", "residual_mean")
HIGHER_IS_BETTER = {"accuracy", "roc_auc", "recall", "precision", "f1", "r2"}
_PER_CLASS = re.compile(r"^(recall|precision|f1)\[(.+)\]$")
EPSILON = 1e-15


@dataclass(frozen=True)
class Outcomes:
    """What one model did on the labelled rows of one dataset (row order kept)."""

    task: str  # classification or regression
    y_true: np.ndarray  # class indexes or targets
    predicted: np.ndarray  # class indexes or predicted values
    probabilities: np.ndarray | None  # rows x classes (classification)
    class_names: list[str]

    @property
    def rows(self) -> int:
        """How many rows."""
        return len(self.y_true)

    def subset(self, mask: np.ndarray) -> Outcomes:
        """The outcomes of the rows where ``mask`` holds."""
        probabilities = None if self.probabilities is None else self.probabilities[mask]
        return Outcomes(
            self.task, self.y_true[mask], self.predicted[mask], probabilities, self.class_names
        )


def metric_names(outcomes: Outcomes) -> list[str]:
    """Every metric name that fits these outcomes' task."""
    if outcomes.task == "regression":
        return list(REGRESSION_METRICS)
    per_class = [f"{kind}[{name}]" for kind in PER_CLASS_METRICS for name in outcomes.class_names]
    return [*CLASSIFICATION_METRICS, *per_class]


def higher_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better (accuracy) or worse (MAE)."""
    return name.split("[", 1)[0] in HIGHER_IS_BETTER


class _Auc:
    """Weighted ROC AUC: P(score of a positive > a negative's), ties counting half.

    The negatives go in score order; their running weight sums, read at each positive's
    place (found once by ``searchsorted``), are the weight of the negatives it beats, and
    the running sums a tie spans add half theirs. A resample is a few passes over its
    rows (rows x resamples, running sums as row additions), not a positives x negatives
    product.

    Only where the classes overlap do the resamples differ in more than totals: a
    positive above every negative beats them all, and the negatives below every
    overlapping positive are beaten by each. Those two groups' weights follow from the
    classes' totals (weighted sums a run's checks share) less the overlap's rows, so
    the row-by-row work covers the overlap alone, which for a useful classifier is a
    small part of the rows.
    """

    def __init__(self, scores: np.ndarray, positive: np.ndarray) -> None:
        positives, negatives = np.flatnonzero(positive), np.flatnonzero(~positive)
        self.all_positives = positives
        self.negatives = negatives[np.argsort(scores[negatives], kind="stable")]
        neg_scores, pos_scores = scores[self.negatives], scores[positives]
        below = np.searchsorted(neg_scores, pos_scores, side="left")  # strictly below
        upto = np.searchsorted(neg_scores, pos_scores, side="right")  # ... and tied
        top = below == len(self.negatives)  # above every negative
        self.positives = positives[~top]
        self.start = int(below[~top].min()) if (~top).any() else len(self.negatives)
        self.below, self.upto = below[~top] - self.start, upto[~top] - self.start
        self.ties = bool((upto > below).any())

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """The AUC for each row of weights."""
        return self.of_counts(Counts.of_weights(weights), None)

    def of_counts(self, counts: Counts, row_ids: np.ndarray | None) -> np.ndarray:
        """The AUC on shared counts (``row_ids``: where its rows are among them)."""
        negatives, positives, every_positive = self.negatives, self.positives, self.all_positives
        if row_ids is not None:
            negatives, positives = row_ids[negatives], row_ids[positives]
            every_positive = row_ids[every_positive]
        by_row, every_row = counts.by_row, counts.every(row_ids)
        positive_weight = counts.total(every_positive)
        # running[k]: the negatives' weight below the k-th negative of the overlap.
        running = np.empty((len(negatives) - self.start + 1, by_row.shape[1]), by_row.dtype)
        # Gathered straight into place ("clip": valid indexes, and no buffered copy).
        np.take(by_row, negatives[self.start :], axis=0, out=running[1:], mode="clip")
        negative_weight = every_row - positive_weight
        # The negatives below the overlap: every negative less the overlap's.
        running[0] = negative_weight - running[1:].sum(axis=0, dtype=by_row.dtype)
        running_sums(running)
        credit = running[self.below]
        if self.ties:
            credit += (running[self.upto] - credit) * 0.5
        w_pos = by_row[positives]
        top_weight = positive_weight - w_pos.sum(axis=0, dtype=by_row.dtype)  # above all
        wins = np.einsum("ij,ij->j", w_pos, credit) + top_weight * negative_weight
        return ratio(wins, positive_weight * negative_weight)


def _auc(scores: np.ndarray, positive: np.ndarray) -> Statistic:
    return _Auc(scores, positive)


def _sums_ratio(sums: np.ndarray) -> np.ndarray:
    return ratio(sums[:, 0], sums[:, 1])


def _per_row(*quantities: np.ndarray, finish: Callable[[np.ndarray], np.ndarray]) -> Statistic:
    return LinearStatistic(np.column_stack(quantities), finish)


def statistic(name: str, outcomes: Outcomes, *, where: str = "metric") -> Statistic:
    """The statistic of metric ``name``; a ``BadInputError`` when it does not fit the task."""
    available = metric_names(outcomes)
    if name not in available:
        task = outcomes.task
        raise BadInputError(
            f"{where}: {name!r} is not a {task} metric (choose from {', '.join(available)})"
        )
    y, predicted = outcomes.y_true, outcomes.predicted
    rows = np.ones(len(y))
    if outcomes.task == "regression":
        residual = y - predicted
        if name == "mae":
            return LinearStatistic.mean(np.abs(residual))
        if name == "rmse":
            return _per_row(residual**2, rows, finish=lambda s: np.sqrt(_sums_ratio(s)))
        if name == "residual_mean":
            return LinearStatistic.mean(residual)
        # R² from sums: a float32 sum of squares about zero loses the spread, so the
        # targets are centred first (R² does not depend on where zero is).
        centred = y - y.mean()

        def r2(s: np.ndarray) -> np.ndarray:
            spread = s[:, 2] - ratio(s[:, 1] ** 2, s[:, 3])
            return 1 - ratio(s[:, 0], spread)

        return _per_row(residual**2, centred, centred**2, rows, finish=r2)
    correct = (y == predicted).astype(np.float64)
    if name == "accuracy":
        return LinearStatistic.mean(correct)
    if name == "error_rate":
        return _per_row(correct, rows, finish=lambda s: 1 - _sums_ratio(s))
    probabilities = outcomes.probabilities
    assert probabilities is not None
    if name == "log_loss":
        chosen = probabilities[np.arange(len(y)), y.astype(int)]
        return LinearStatistic.mean(-np.log(np.clip(chosen, EPSILON, 1.0)))
    if name == "roc_auc":
        classes = probabilities.shape[1]
        if classes == 2:
            return _auc(probabilities[:, 1], y == 1)
        parts = [_auc(probabilities[:, index], y == index) for index in range(classes)]
        return Combined(parts, lambda values: np.nanmean(np.stack(values), axis=0))
    match = _PER_CLASS.match(name)
    assert match is not None
    index = outcomes.class_names.index(match[2])
    hit, actual, called = (y == index) & (predicted == index), y == index, predicted == index
    if match[1] == "recall":
        return _per_row(hit, actual, finish=_sums_ratio)
    if match[1] == "precision":
        return _per_row(hit, called, finish=_sums_ratio)
    return _per_row(hit, actual, called, finish=lambda s: ratio(2 * s[:, 0], s[:, 1] + s[:, 2]))
