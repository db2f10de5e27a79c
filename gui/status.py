"""The status bar: running jobs with progress and cancel, and the notification area."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QProgressBar,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from modeldesk.gui.jobs import Job, JobRunner

__all__ = ["JobStatus", "Notifications"]


class JobStatus(QWidget):
    """Shows the oldest running job's progress; Cancel stops it. Hidden when idle."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this job; nothing it was doing is kept")
        self.cancel_button.clicked.connect(self.cancel_current)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        runner.started.connect(self._job_started)
        runner.ended.connect(lambda _job: self._refresh())
        self._refresh()

    def current(self) -> Job | None:
        """The job whose progress is shown."""
        return self.runner.active[0] if self.runner.active else None

    def cancel_current(self) -> None:
        """Cancel the job whose progress is shown."""
        job = self.current()
        if job is not None:
            job.cancel()
            self.label.setText(f"cancelling {job.title}…")

    def _job_started(self, job: Job) -> None:
        def progress(fraction: float, message: str) -> None:
            job.fraction, job.message = fraction, message
            if job is self.current():
                self._refresh()

        job.signals.progress.connect(progress)
        self._refresh()

    def _refresh(self) -> None:
        job = self.current()
        self.setVisible(job is not None)
        if job is None:
            return
        more = len(self.runner.active) - 1
        detail = f" — {job.message}" if job.message else ""
        self.label.setText(job.title + detail + (f"  (+{more} more)" if more else ""))
        self.bar.setValue(int(job.fraction * 1000))


class Notifications(QToolButton):
    """A status bar button listing warnings (a blob failing its hash check, a note)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messages: list[str] = []
        self.list = QListWidget()
        self.list.setMinimumWidth(520)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.list)
        menu.addAction(action)
        menu.addAction("Clear", self.clear)
        self.setMenu(menu)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._refresh()

    def add(self, message: str) -> None:
        """Add a warning to the list."""
        stamped = f"{datetime.now():%H:%M:%S}  {message}"
        self.messages.append(stamped)
        self.list.insertItem(0, stamped)
        self._refresh()

    def clear(self) -> None:
        """Forget every warning."""
        self.messages.clear()
        self.list.clear()
        self._refresh()

    def _refresh(self) -> None:
        count = len(self.messages)
        self.setText(f"⚠ {count}" if count else "No warnings")
        self.setToolTip(f"{count} warning(s)" if count else "Nothing to report")
