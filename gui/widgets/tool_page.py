"""What the tabs that run long jobs share: tools across the top (wrapping), a progress
bar and a status line under them, and the body filling the rest; the bar follows a
job's progress reports."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from modeldesk.gui.widgets.flow import FlowLayout

__all__ = ["job_progress_bar", "lay_out_tool_page", "show_progress", "start_progress"]


def job_progress_bar(parent: QWidget) -> QProgressBar:
    """A hidden bar in thousandths, shown while a job runs."""
    bar = QProgressBar(parent)
    bar.setRange(0, 1000)
    bar.setTextVisible(True)
    bar.setVisible(False)
    return bar


def lay_out_tool_page(page: QWidget, tools: Iterable[QWidget], progress: QProgressBar,
                      status: QLabel, body: QWidget) -> None:  # fmt: skip
    """Tools across the top, then the progress bar and status, then ``body``."""
    top = FlowLayout()
    for widget in tools:
        top.addWidget(widget)
    layout = QVBoxLayout(page)
    layout.addLayout(top)
    layout.addWidget(progress)
    layout.addWidget(status)
    layout.addWidget(body, 1)


def start_progress(bar: QProgressBar, title: str) -> None:
    """Show the bar at zero, titled."""
    bar.setValue(0)
    bar.setFormat(title)
    bar.setVisible(True)


def show_progress(bar: QProgressBar, fraction: float, message: str) -> None:
    """A job's progress report (``on_progress``) on the bar."""
    bar.setValue(int(fraction * 1000))
    if message:
        bar.setFormat(f"{message} · %p%")
