"""The Field tab: a model's captures from devices, each analysed as ``field report`` does
(parity, which model, drift, estimate, triage) on the worker pool, with progress and
cancel; the report exported as one file; and, when a capture shows the device failing,
the release marked failed on its target (a signed event the delivery figures read).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QWidget,
)

from modeldesk.gui.context import AppContext
from modeldesk.gui.jobs import Job
from modeldesk.gui.pages import field_jobs as jobs
from modeldesk.gui.pages.field_results import FieldResults
from modeldesk.gui.widgets.table import DataTable, RowStyle
from modeldesk.gui.widgets.tool_page import (
    job_progress_bar,
    lay_out_tool_page,
    show_progress,
    start_progress,
)

__all__ = ["FieldView"]

CAPTURE_FILES = "Captures (*.csv *.jsonl *.json *.parquet *.pq *.npz)"


class FieldView(QWidget):
    """Captures of one model, and the analysis of the selected one."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_name: str | None = None
        self.model_ref: str | None = None
        self.captures: list[Any] = []
        self.selected: Any = None
        self.reports: dict[tuple[int, str | None], dict[str, Any]] = {}
        self.bundle: str | None = None
        self.job: Job | None = None

        self.import_button = QPushButton("Import capture…", self)
        self.import_button.setToolTip("Check a capture file against its model and store it")
        self.import_button.clicked.connect(self.ask_import)
        self.bundle_button = QPushButton("Reference bundle…", self)
        self.bundle_button.setToolTip(
            "Read the training data's profile from a release bundle (for a catalog "
            "without the training data)"
        )
        self.bundle_button.clicked.connect(self.ask_bundle)
        self.bundle_label = QLabel("reference: the training data", self)
        self.analyse_button = QPushButton("Analyse again", self)
        self.analyse_button.clicked.connect(lambda: self.analyse(force=True))
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export report…", self)
        self.export_button.setToolTip("One self-contained HTML (or Markdown) file for an incident")
        self.export_button.clicked.connect(self.ask_export)
        self.fail_button = QPushButton("Mark release failed on target…", self)
        self.fail_button.clicked.connect(self.ask_mark_failed)
        self.progress = job_progress_bar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.table = DataTable(
            [
                "id",
                "name",
                "model",
                "device",
                "profile",
                "release",
                "rows",
                "from",
                "to",
                "warnings",
            ],
            self,
            filter_hint="Filter captures",
        )
        self.table.selection_changed.connect(self._capture_chosen)
        self.results = FieldResults(self)

        body = QSplitter(Qt.Orientation.Vertical, self)
        body.addWidget(self.table)
        body.addWidget(self.results)
        body.setStretchFactor(0, 1)
        body.setStretchFactor(1, 4)
        tools = (self.import_button, self.bundle_button, self.bundle_label,
                 self.analyse_button, self.cancel_button, self.export_button,
                 self.fail_button)  # fmt: skip
        lay_out_tool_page(self, tools, self.progress, self.status, body)
        self._buttons()

    # -- captures -----------------------------------------------------------------------
    def set_model(self, model_name: str, model_ref: str) -> None:
        """Show the captures of ``model_name`` (imports default to ``model_ref``)."""
        self.model_name, self.model_ref = model_name, model_ref
        self.reload()

    def reload(self, select: int | None = None) -> Job | None:
        """Read the model's captures again (on the pool), then select ``select``."""
        if self.model_name is None:
            return None
        return self.context.run(
            "reading field captures",
            jobs.captures,
            model_name=self.model_name,
            on_done=lambda found: self._captures_read(found, select),
        )

    def _captures_read(self, captures: list[Any], select: int | None) -> None:
        self.captures = captures
        self.table.set_rows(
            [[c.id, c.name, c.model.ref, c.device or "", c.profile or "",
              f"#{c.release_id}" if c.release_id is not None else "", c.rows,
              c.first_at[:19], c.last_at[:19], "; ".join(c.warnings)] for c in captures],
            [RowStyle(tooltip="\n".join(c.warnings)) if c.warnings else None for c in captures],
        )  # fmt: skip
        if not captures:
            self.selected = None
            self.status.setText(
                "No captures of this model yet. Import one recorded on a device "
                "(core/field/capture.py records them around InferenceSession.run)."
            )
        wanted = select if select is not None else (captures[0].id if captures else None)
        for row, capture in enumerate(captures):
            if capture.id == wanted:
                self.table.view.selectRow(row)
        self._buttons()

    def _capture_chosen(self, rows: list[int]) -> None:
        if not rows:
            return
        self.selected = self.captures[rows[0]]
        self._buttons()
        self.analyse()

    # -- analysing ----------------------------------------------------------------------
    def analyse(self, *, force: bool = False) -> Job | None:
        """Analyse the selected capture (shown at once when analysed before)."""
        if self.selected is None:
            return None
        key = (self.selected.id, self.bundle)
        if key in self.reports and not force:
            self._show(self.reports[key])
            return None
        if self.job is not None:
            self.job.cancel()
        capture_id = self.selected.id
        start_progress(self.progress, f"analysing capture #{capture_id}")
        self.status.setText("")
        job = self.context.run(
            f"analysing capture #{capture_id}",
            jobs.analyse,
            capture_id=capture_id,
            bundle=self.bundle,
            on_done=lambda report: self._analysed(key, report),
            on_error=lambda error: self.status.setText(html.escape(error.message)),
            on_progress=self._progressed,
            on_finished=lambda: self._ended(job),
            key=f"field-analyse:{id(self)}",
        )
        self.job = job
        self._buttons()
        return job

    def _progressed(self, fraction: float, message: str) -> None:
        show_progress(self.progress, fraction, message)

    def _ended(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self.progress.setVisible(False)
            if job.cancelled:
                self.status.setText("Cancelled.")
            self._buttons()

    def _analysed(self, key: tuple[int, str | None], report: dict[str, Any]) -> None:
        self.reports[key] = report
        if self.selected is not None and self.selected.id == key[0]:
            self._show(report)

    def _show(self, report: dict[str, Any]) -> None:
        self.results.show_report(report)
        parity = report.get("parity")
        verdict = parity["verdict"] if parity else "not run"
        self.status.setText(f"Capture #{report['capture']['id']}: parity {verdict}.")
        self._buttons()

    def cancel(self) -> None:
        """Stop the running analysis (nothing is stored by one)."""
        if self.job is not None:
            self.job.cancel()

    def current_report(self) -> dict[str, Any] | None:
        """The selected capture's analysis, if it has finished."""
        if self.selected is None:
            return None
        return self.reports.get((self.selected.id, self.bundle))

    def _buttons(self) -> None:
        running = self.job is not None
        has_model = self.model_name is not None
        self.import_button.setEnabled(has_model)
        self.analyse_button.setEnabled(self.selected is not None and not running)
        self.cancel_button.setEnabled(running)
        report = self.current_report()
        self.export_button.setEnabled(report is not None)
        self.export_button.setToolTip(
            "One self-contained HTML (or Markdown) file for an incident"
            if report is not None
            else "Select a capture and let its analysis finish first"
        )
        capture = self.selected
        can_fail = capture is not None and capture.release_id is not None and bool(capture.profile)
        self.fail_button.setEnabled(can_fail)
        self.fail_button.setToolTip(
            f"Record that release #{capture.release_id} failed on {capture.profile}"
            if can_fail
            else "The capture must name its release and target profile (in its capture.json)"
        )

    # -- files ----------------------------------------------------------------------------
    def ask_import(self, path: str | None = None) -> Job | None:
        """Import a capture file (asked for when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import a field capture", "", CAPTURE_FILES)
        if not path:
            return None
        return self.context.run(
            f"importing {Path(path).name}",
            jobs.import_capture,
            path=path,
            model_ref=self.model_ref,
            on_done=self._imported,
            on_error=lambda error: self.status.setText(html.escape(error.message)),
        )

    def _imported(self, capture: Any) -> None:
        self.status.setText(f"Imported capture #{capture.id} ({capture.rows:,} rows).")
        self.context.catalog_changed.emit()
        self.reload(select=capture.id)

    def ask_bundle(self, path: str | None = None) -> None:
        """Use a release bundle's reference profile (or the training data, given "")."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Release bundle with the reference", "", "Release bundles (*.mdrel)"
            )
            if not path and self.bundle is None:
                return
        self.bundle = path or None
        self.bundle_label.setText(
            f"reference: {Path(path).name}" if path else "reference: the training data"
        )
        self.analyse()

    def ask_export(self, path: str | None = None) -> Job | None:
        """Write the selected capture's report as HTML or Markdown."""
        report = self.current_report()
        if report is None:
            return None
        if path is None:
            name = f"field-capture-{report['capture']['id']}.html"
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the field report", name, "HTML (*.html);;Markdown (*.md)"
            )
        if not path:
            return None
        return self.context.run(
            "writing the field report",
            jobs.write_report,
            report=report,
            path=path,
            on_done=lambda written: self.status.setText(f"Wrote {html.escape(written)}."),
            on_error=lambda error: self.status.setText(html.escape(error.message)),
        )

    # -- marking the release failed --------------------------------------------------
    def ask_mark_failed(self) -> None:
        """Ask for the reason (prefilled from the analysis), then record the failure."""
        from modeldesk.gui.widgets.keys_dialog import ask

        capture = self.selected
        if capture is None or capture.release_id is None or not capture.profile:
            return
        form = QDialog(self)
        form.setWindowTitle(f"Mark release #{capture.release_id} failed on {capture.profile}")
        reason = QLineEdit(self.failure_reason(), form)
        fields = QFormLayout(form)
        fields.addRow("Reason", reason)
        if ask(form, fields):
            self.mark_failed(reason.text().strip())

    def failure_reason(self) -> str:
        """The reason a failure recorded from this capture gives by default."""
        report = self.current_report() or {}
        parity = report.get("parity")
        verdict = parity["verdict"] if parity else "not analysed"
        return f"field capture #{self.selected.id}: parity {verdict}"

    def mark_failed(self, reason: str, signer: Any = None) -> Job | None:
        """Record the selected capture's release as failed on its target, signed."""
        from modeldesk.gui.pages import release_jobs
        from modeldesk.gui.widgets.keys_dialog import signing_key
        from modeldesk.release.deployments import NewEvent

        capture = self.selected
        if capture is None or capture.release_id is None or not capture.profile:
            return None
        if not reason:
            self.status.setText("Say why the release failed (the reason is kept with it).")
            return None
        signer = signer or signing_key(self)
        if signer is None:
            return None
        event = NewEvent("fail", capture.release_id, capture.profile, note=reason)
        return self.context.run(
            "recording the failure",
            release_jobs.record_event,
            signer=signer,
            event=event,
            on_done=lambda recorded: self._failure_recorded(recorded),
            on_error=lambda error: self.status.setText(html.escape(error.message)),
        )

    def _failure_recorded(self, event: Any) -> None:
        self.status.setText(
            f"Recorded that release #{event.release_id} failed on {event.target}: the "
            "delivery figures count it."
        )
        self.context.catalog_changed.emit()
