"""Where a model is wrong: slices of the data sorted worst first, and the worst rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeldesk.debug.metrics import row_losses
from modeldesk.debug.predict import Predictions

__all__ = ["QUANTILE_BINS", "Slice", "slices", "worst_rows"]

QUANTILE_BINS = 5
TOP_CATEGORIES = 10
MIN_SLICE_ROWS = 5


@dataclass(frozen=True)
class Slice:
    """Rows of one column's bin or category, and how the model does on them."""

    column: str
    description: str  # "[10.1, 13.2)" or "= red"
    count: int
    metric_name: str  # "error rate" or "MAE"
    metric: float
    overall: float
    # Which rows fall in the slice (for listing them); not part of the JSON form.
    rows: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (without the row numbers)."""
        return {
            "column": self.column,
            "description": self.description,
            "count": self.count,
            "metric_name": self.metric_name,
            "metric": self.metric,
            "overall": self.overall,
        }


def _slice_metric(result: Predictions) -> tuple[str, np.ndarray]:
    assert result.y_true is not None
    if result.task == "classification":
        return "error rate", (result.predicted != result.y_true).astype(np.float64)
    return "MAE", np.abs(result.y_true - result.predicted)


def slices(result: Predictions, *, min_rows: int = MIN_SLICE_ROWS) -> list[Slice]:
    """Every column's quantile bins (numbers) or categories (text), worst first."""
    if result.y_true is None:
        return []
    name, per_row = _slice_metric(result)
    overall = float(per_row.mean())
    found: list[Slice] = []
    skipped = {c.name for c in result.dataset.columns if c.role in ("label", "id", "ignore")}
    for column_name in result.table.column_names:
        if column_name in skipped or column_name == result.model.label:
            continue
        column = result.table.column(column_name)
        values = column.to_pylist() if column.type in ("string", "large_string") else None
        if values is None:
            try:
                numbers = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
            except (TypeError, ValueError):
                values = [str(value) for value in column.to_pylist()]
        if values is not None:
            found += _category_slices(column_name, values, per_row, name, overall, min_rows)
        else:
            found += _number_slices(column_name, numbers, per_row, name, overall, min_rows)
    return sorted(found, key=lambda item: (-item.metric, -item.count))


def _number_slices(
    column: str, numbers: np.ndarray, per_row: np.ndarray, name: str, overall: float, min_rows: int
) -> list[Slice]:
    finite = np.isfinite(numbers)
    if finite.sum() < min_rows:
        return []
    edges = np.unique(np.quantile(numbers[finite], np.linspace(0, 1, QUANTILE_BINS + 1)))
    if len(edges) < 2:
        return []
    found = []
    for index, (low, high) in enumerate(itertools.pairwise(edges)):
        last = index == len(edges) - 2
        inside = finite & (numbers >= low) & ((numbers <= high) if last else (numbers < high))
        count = int(inside.sum())
        if count >= min_rows:
            closing = "]" if last else ")"
            found.append(
                Slice(
                    column,
                    f"[{low:.4g}, {high:.4g}{closing}",
                    count,
                    name,
                    float(per_row[inside].mean()),
                    overall,
                    np.flatnonzero(inside),
                )
            )
    return found


def _category_slices(
    column: str, values: list[Any], per_row: np.ndarray, name: str, overall: float, min_rows: int
) -> list[Slice]:
    labels = np.array(["(missing)" if value is None else str(value) for value in values])
    categories, counts = np.unique(labels, return_counts=True)
    found = []
    for category in categories[np.argsort(-counts)][:TOP_CATEGORIES]:
        inside = labels == category
        if inside.sum() >= min_rows:
            found.append(
                Slice(
                    column,
                    f"= {category}",
                    int(inside.sum()),
                    name,
                    float(per_row[inside].mean()),
                    overall,
                    np.flatnonzero(inside),
                )
            )
    return found


def worst_rows(result: Predictions, count: int = 20) -> list[dict[str, Any]]:
    """The rows with the highest loss, with their label, prediction and loss."""
    if result.y_true is None:
        return []
    losses = row_losses(result)
    order = np.argsort(-losses, kind="stable")[:count]
    rows = []
    for row in order:
        entry: dict[str, Any] = {"row": int(row), "loss": float(losses[row])}
        if result.task == "classification":
            entry["label"] = result.class_names[int(result.y_true[row])]
            entry["predicted"] = result.class_names[int(result.predicted[row])]
            assert result.probabilities is not None
            entry["probability_of_label"] = float(result.probabilities[row, result.y_true[row]])
        else:
            entry["label"] = float(result.y_true[row])
            entry["predicted"] = float(result.predicted[row])
        rows.append(entry)
    return rows
