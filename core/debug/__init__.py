"""Debugging a model version on a dataset version: predictions, metrics, slices, worst rows."""

from modeldesk.debug.metrics import metrics, row_losses
from modeldesk.debug.predict import Predictions, predict
from modeldesk.debug.report import DebugReport, debug_report
from modeldesk.debug.slices import Slice, slices, worst_rows

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
