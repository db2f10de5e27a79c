"""Debugging a model version on a dataset version: predictions, metrics, slices, worst rows."""

from core.debug.metrics import metrics, row_losses
from core.debug.predict import Predictions, predict
from core.debug.report import DebugReport, debug_report
from core.debug.slices import Slice, slices, worst_rows

__all__ = [
    "DebugReport",
    "Predictions",
    "Slice",
    "debug_report",
    "metrics",
    "predict",
    "row_losses",
    "slices",
    "worst_rows",
]
