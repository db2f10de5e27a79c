"""Model quality from predictions: classification and regression metrics, in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from modeldesk.debug.predict import Predictions

__all__ = ["classification_metrics", "metrics", "regression_metrics", "roc_auc", "row_losses"]

EPSILON = 1e-15
CALIBRATION_BINS = 10


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (the Mann-Whitney statistic); None without both classes."""
    positives = int(positive.sum())
    negatives = len(positive) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(scores)
    return float(
        (ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def classification_metrics(result: Predictions) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1, ROC AUC, log loss, confusion, calibration."""
    assert result.y_true is not None and result.probabilities is not None
    y, predicted, probabilities = result.y_true, result.predicted, result.probabilities
    classes = len(result.class_labels)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_class = []
    for index, name in enumerate(result.class_names):
        true_positive = confusion[index, index]
        predicted_total = confusion[:, index].sum()
        actual_total = confusion[index, :].sum()
        precision = true_positive / predicted_total if predicted_total else 0.0
        recall = true_positive / actual_total if actual_total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": name,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1),
                "support": int(actual_total),
            }
        )
    clipped = np.clip(probabilities[np.arange(len(y)), y], EPSILON, 1.0)
    if classes == 2:
        auc = roc_auc(y == 1, probabilities[:, 1])
    else:
        aucs = [roc_auc(y == index, probabilities[:, index]) for index in range(classes)]
        present = [value for value in aucs if value is not None]
        auc = float(np.mean(present)) if present else None
    return {
        "task": "classification",
        "rows": len(y),
        "accuracy": float((predicted == y).mean()),
        "roc_auc": auc,
        "roc_auc_kind": "binary" if classes == 2 else "one-vs-rest, macro average",
        "log_loss": float(-np.log(clipped).mean()),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "classes": result.class_names,
        "calibration": _calibration(y, probabilities) if classes == 2 else None,
    }


def _calibration(y: np.ndarray, probabilities: np.ndarray) -> list[dict[str, float]]:
    """Mean predicted probability of class 1 against its observed frequency, per bin."""
    predicted = probabilities[:, 1]
    bins = np.minimum((predicted * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    curve = []
    for index in range(CALIBRATION_BINS):
        inside = bins == index
        if inside.any():
            curve.append(
                {
                    "predicted": float(predicted[inside].mean()),
                    "observed": float((y[inside] == 1).mean()),
                    "count": int(inside.sum()),
                }
            )
    return curve


def regression_metrics(result: Predictions) -> dict[str, Any]:
    """MAE, RMSE, R² and residual summary."""
    assert result.y_true is not None
    residuals = result.y_true - result.predicted
    total = ((result.y_true - result.y_true.mean()) ** 2).sum()
    return {
        "task": "regression",
        "rows": len(residuals),
        "mae": float(np.abs(residuals).mean()),
        "rmse": float(np.sqrt((residuals**2).mean())),
        "r2": float(1 - (residuals**2).sum() / total) if total else None,
        "residual_mean": float(residuals.mean()),
        "residual_std": float(residuals.std()),
    }


def metrics(result: Predictions) -> dict[str, Any]:
    """The metrics that fit the task (empty of scores when the dataset has no label)."""
    if result.y_true is None:
        return {"task": result.task, "rows": len(result.predicted), "labelled": False}
    if result.task == "classification":
        return classification_metrics(result)
    return regression_metrics(result)


def row_losses(result: Predictions) -> np.ndarray:
    """Per-row loss: log loss of the true class, or absolute error."""
    assert result.y_true is not None
    if result.task == "classification":
        assert result.probabilities is not None
        chosen = result.probabilities[np.arange(len(result.y_true)), result.y_true]
        return -np.log(np.clip(chosen, EPSILON, 1.0))
    return np.abs(result.y_true - result.predicted)
