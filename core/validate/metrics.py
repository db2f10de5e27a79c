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


AUC_PAIRS_AS_MATRIX = 4_000_000  # positive x negative rows up to which AUC is one product


def _auc(scores: np.ndarray, positive: np.ndarray) -> Statistic:
    """Weighted ROC AUC: P(score of a positive > a negative's), ties counting half.

    For up to a few million positive x negative pairs it is one matrix product: with
    ``beats[i, j]`` 1 when positive i outscores negative j (1/2 on a tie), a resample's
    wins are ``w_pos @ beats @ w_neg``. Beyond that, rows go in score order and the
    negatives below each positive are running sums.
    """
    pos_rows, neg_rows = np.flatnonzero(positive), np.flatnonzero(~positive)
    if len(pos_rows) * len(neg_rows) <= AUC_PAIRS_AS_MATRIX:
        difference = scores[pos_rows][:, None] - scores[neg_rows][None, :]
        beats = RowQuantity((difference > 0) + 0.5 * (difference == 0))

        def by_pairs(weights: np.ndarray) -> np.ndarray:
            w_pos, w_neg = weights[:, pos_rows], weights[:, neg_rows]
            wins = (beats.dot(w_pos) * w_neg).sum(axis=1)
            return ratio(wins, w_pos.sum(axis=1) * w_neg.sum(axis=1))

        return by_pairs
    return _auc_by_order(scores, positive)


def _auc_by_order(scores: np.ndarray, positive: np.ndarray) -> Statistic:
    """AUC over score-ordered rows: groups of equal scores read off running sums."""
    order = np.argsort(scores, kind="stable")
    ordered_scores = scores[order]
    is_positive = positive[order]
    ends = np.flatnonzero(np.r_[ordered_scores[1:] != ordered_scores[:-1], True])
    ties = len(ends) < len(scores)

    # Rows of the transposed weights (rows x resamples): running sums down axis 0 are
    # whole-vector additions, many times faster than numpy's cumsum along axis 1.
    def by_group(values: np.ndarray) -> np.ndarray:
        running = running_sums(values)[ends]  # values: a fresh array, summed in place
        return np.diff(running, axis=0, prepend=0)

    def compute(weights: np.ndarray) -> np.ndarray:
        ordered = weights.T[order]
        pos = np.where(is_positive[:, None], ordered, 0)
        neg = ordered - pos
        if ties:
            pos, neg = by_group(pos), by_group(neg)
        below = running_sums(neg.copy()) - neg  # negatives in strictly lower groups
        wins = (pos * (below + neg / 2)).sum(axis=0)
        return ratio(wins, pos.sum(axis=0) * neg.sum(axis=0))

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
