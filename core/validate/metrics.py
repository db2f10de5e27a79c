"""The metrics a check can name, as statistics of weighted rows (see ``stats.bootstrap``).

Each takes a (R x rows) matrix of row weights and returns R values, so the same code
gives the point estimate (weights all 1), a bootstrap and a paired difference. Names
follow ``modeldesk debug``: ``accuracy``, ``error_rate``, ``log_loss``, ``roc_auc``,
``recall[CLASS]``, ``precision[CLASS]``, ``f1[CLASS]`` for classifiers; ``mae``,
``rmse``, ``r2`` and ``residual_mean`` for regressors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from modeldesk.errors import BadInputError
from modeldesk.validate.stats import Statistic, running_sums

__all__ = [
    "CLASSIFICATION_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "Outcomes",
    "RowQuantity",
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


class RowQuantity:
    """A per-row quantity (rows) or several (rows x k), kept in both precisions:
    resample counts are float32 (fast products), the point estimate's weights float64."""

    def __init__(self, values: np.ndarray) -> None:
        self.f64 = np.asarray(values, dtype=np.float64)
        self.f32 = self.f64.astype(np.float32)

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """Each resample's weighted sum of the quantity (or of each of them)."""
        return weights @ (self.f32 if weights.dtype == np.float32 else self.f64)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (no row of that kind drawn)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _auc(scores: np.ndarray, positive: np.ndarray) -> Statistic:
    """Weighted ROC AUC: P(score of a positive > a negative's), ties counting half.

    The negatives go in score order; their running weight sums, read at each positive's
    place (found once by ``searchsorted``), are the weight of the negatives it beats, and
    the running sums a tie spans add half theirs. A resample is a few passes over its
    rows (rows x resamples, running sums as row additions), not a positives x negatives
    product.
    """
    pos_rows, neg_rows = np.flatnonzero(positive), np.flatnonzero(~positive)
    neg_order = neg_rows[np.argsort(scores[neg_rows], kind="stable")]
    neg_scores, pos_scores = scores[neg_order], scores[pos_rows]
    below = np.searchsorted(neg_scores, pos_scores, side="left")  # negatives strictly below
    upto = np.searchsorted(neg_scores, pos_scores, side="right")  # ... and those tied
    ties = bool((upto > below).any())

    def compute(weights: np.ndarray) -> np.ndarray:
        by_row = weights.T
        running = np.empty((len(neg_order) + 1, len(weights)), dtype=weights.dtype)
        running[0] = 0
        running[1:] = by_row[neg_order]
        running_sums(running[1:])
        credit = running[below]
        if ties:
            credit += (running[upto] - credit) * 0.5
        w_pos = by_row[pos_rows]
        wins = np.einsum("ij,ij->j", w_pos, credit)
        return ratio(wins, w_pos.sum(axis=0) * running[-1])

    return compute


def statistic(name: str, outcomes: Outcomes, *, where: str = "metric") -> Statistic:
    """The statistic of metric ``name``; a ``BadInputError`` when it does not fit the task."""
    available = metric_names(outcomes)
    if name not in available:
        task = outcomes.task
        raise BadInputError(
            f"{where}: {name!r} is not a {task} metric (choose from {', '.join(available)})"
        )
    y, predicted = outcomes.y_true, outcomes.predicted
    if outcomes.task == "regression":
        residual = y - predicted
        if name == "mae":
            absolute = RowQuantity(np.abs(residual))
            return lambda w: ratio(absolute.dot(w), w.sum(axis=1))
        if name == "rmse":
            squares = RowQuantity(residual**2)
            return lambda w: np.sqrt(ratio(squares.dot(w), w.sum(axis=1)))
        if name == "residual_mean":
            signed = RowQuantity(residual)
            return lambda w: ratio(signed.dot(w), w.sum(axis=1))
        # R² from sums: a float32 sum of squares about zero loses the spread, so the
        # targets are centred first (R² does not depend on where zero is).
        centred = y - y.mean()
        squares, targets, targets2 = (
            RowQuantity(residual**2),
            RowQuantity(centred),
            RowQuantity(centred**2),
        )

        def r2(w: np.ndarray) -> np.ndarray:
            total = w.sum(axis=1)
            spread = targets2.dot(w) - ratio(targets.dot(w) ** 2, total)
            return 1 - ratio(squares.dot(w), spread)

        return r2
    correct = RowQuantity(y == predicted)
    if name == "accuracy":
        return lambda w: ratio(correct.dot(w), w.sum(axis=1))
    if name == "error_rate":
        return lambda w: 1 - ratio(correct.dot(w), w.sum(axis=1))
    probabilities = outcomes.probabilities
    assert probabilities is not None
    if name == "log_loss":
        chosen = probabilities[np.arange(len(y)), y.astype(int)]
        loss = RowQuantity(-np.log(np.clip(chosen, EPSILON, 1.0)))
        return lambda w: ratio(loss.dot(w), w.sum(axis=1))
    if name == "roc_auc":
        classes = probabilities.shape[1]
        if classes == 2:
            return _auc(probabilities[:, 1], y == 1)
        parts = [_auc(probabilities[:, index], y == index) for index in range(classes)]
        return lambda w: np.nanmean(np.stack([part(w) for part in parts]), axis=0)
    match = _PER_CLASS.match(name)
    assert match is not None
    index = outcomes.class_names.index(match[2])
    hit = RowQuantity((y == index) & (predicted == index))
    actual, called = RowQuantity(y == index), RowQuantity(predicted == index)
    if match[1] == "recall":
        return lambda w: ratio(hit.dot(w), actual.dot(w))
    if match[1] == "precision":
        return lambda w: ratio(hit.dot(w), called.dot(w))
    return lambda w: ratio(2 * hit.dot(w), actual.dot(w) + called.dot(w))
