"""Errors become a one-line dialog with details behind an expander, and a log entry."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from modeldesk.catalog.location import log_folder
from modeldesk.gui.jobs import JobError

__all__ = ["gui_log_path", "log_error", "show_error"]

_logger = logging.getLogger("modeldesk.gui")


def gui_log_path() -> Path:
    """The desktop app's log file."""
    return log_folder() / "modeldesk-gui.log"


def _ensure_handler() -> None:
    path = gui_log_path()
    current = [h for h in _logger.handlers if getattr(h, "baseFilename", None) == str(path)]
    if current:
        return
    for old in list(_logger.handlers):  # the log folder moved (tests, a new session)
        _logger.removeHandler(old)
        old.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def log_error(error: JobError) -> None:
    """Write an error and its details to the log file."""
    _ensure_handler()
    _logger.error("%s\n%s", error.message, error.details)


def show_error(parent: QWidget, error: JobError) -> QMessageBox:
    """Log the error and show it in a dialog that does not block the window."""
    log_error(error)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("ModelDesk")
    box.setText(error.message)
    if error.details:
        box.setDetailedText(error.details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()
    return box
