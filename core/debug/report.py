"""Everything a debug view shows, computed in one call (run it off the GUI thread)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.debug.metrics import metrics, row_losses
from modeldesk.debug.predict import predict
from modeldesk.debug.slices import Slice, slices, worst_rows
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["DebugReport", "debug_report"]


@dataclass
class DebugReport:
    """Metrics, slices and rows of one model version on one dataset version."""

    model: str
    dataset: str
    task: str
    trained_on_this: bool
    metrics: dict[str, Any]
    slices: list[Slice]
    worst_rows: list[dict[str, Any]]
    class_names: list[str] = field(default_factory=list)
    y_true: np.ndarray | None = None
    predicted: np.ndarray | None = None
    losses: np.ndarray | None = None

    def metric(self, name: str) -> float:
        """One headline metric by name (``accuracy``, ``roc_auc``, ``log_loss``, ``mae``,
        ``rmse``, ...); raises ``KeyError`` naming the ones this report has."""
        value = self.metrics.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            numeric = sorted(
                key
                for key, item in self.metrics.items()
                if isinstance(item, int | float) and not isinstance(item, bool)
            )
            where = f"{self.model} on {self.dataset}"
            raise KeyError(f"{where}: no metric {name!r} (it has {', '.join(numeric)})")
        return float(value)

    def rows_in_cell(self, true_index: int, predicted_index: int) -> list[int]:
        """Rows whose label is class ``true_index`` and prediction ``predicted_index``."""
        if self.y_true is None or self.predicted is None:
            return []
        inside = (self.y_true == true_index) & (self.predicted == predicted_index)
        return [int(row) for row in np.flatnonzero(inside)]


def debug_report(
    catalog: Catalog,
    model_ref: str,
    data_ref: str,
    *,
    worst: int = 50,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> DebugReport:
    """Predict ``data_ref`` with ``model_ref`` and gather what a debug view shows."""
    result = predict(catalog, model_ref, data_ref, progress=progress, cancel=cancel)
    labelled = result.y_true is not None
    return DebugReport(
        model=result.model.ref,
        dataset=result.dataset.ref,
        task=result.task,
        trained_on_this=result.trained_on_this,
        metrics=metrics(result),
        slices=slices(result),
        worst_rows=worst_rows(result, worst),
        class_names=result.class_names,
        y_true=result.y_true,
        predicted=result.predicted,
        losses=row_losses(result) if labelled else None,
    )
