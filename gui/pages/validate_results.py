"""What a validation run found, as the Validate tab shows it.

The results table (check, kind, value, interval bar against the threshold, verdict
badge, time); below it the chosen check's message and evidence rows (double-click one
to explain it), for a champion check where the two versions' explanations differ on
the rows they disagree on, and the versions x checks matrix of the suite's history.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.gui.widgets.shap_plots import CompareChart
from modeldesk.gui.widgets.table import DataTable
from modeldesk.gui.widgets.verdicts import (
    IntervalCell,
    IntervalDelegate,
    VerdictDelegate,
    verdict_colour,
)
from modeldesk.validate.evidence import EvidenceTable, evidence_table

__all__ = ["ResultsPanel"]

RESULT_HEADERS = ["verdict", "check", "kind", "value", "interval vs threshold", "threshold",
                  "time (s)"]  # fmt: skip
VERDICT_COLUMN, CHECK_COLUMN, INTERVAL_COLUMN = 0, 1, 4
DIFFERENCE_BARS = 12
MAX_CHECK_WIDTH = 190  # a long id is elided; its tooltip and the message show it whole


def _result_row(check: dict[str, Any]) -> list[Any]:
    return [
        check["verdict"],
        check["id"],
        check["kind"],
        check.get("value"),
        IntervalCell.of(check),
        check.get("threshold", ""),
        round(check.get("seconds", 0.0), 3),
    ]


class ResultsPanel(QWidget):
    """One run's results, a check's evidence, and the suite's versions x checks."""

    row_chosen = Signal(str, int)  # dataset ref, row: explain this row
    run_chosen = Signal(int)  # a matrix cell: show that recorded run
    explain_disagreements = Signal(dict)  # a champion check's JSON: compare explanations

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: dict[str, Any] | None = None
        self.check: dict[str, Any] | None = None
        self.evidence: EvidenceTable | None = None
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.results = DataTable(RESULT_HEADERS, self, filter_hint="Filter checks")
        self.results.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.view.setItemDelegateForColumn(
            INTERVAL_COLUMN,
            IntervalDelegate(self._source_row, INTERVAL_COLUMN, self.results.view),
        )
        self.results.view.setItemDelegateForColumn(
            VERDICT_COLUMN, VerdictDelegate(self.results.view)
        )
        self.results.selection_changed.connect(self._check_selected)

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence_note = QLabel(self)
        self.evidence_rows = DataTable(["row"], self, filter_hint="Filter evidence")
        self.evidence_rows.row_activated.connect(self._evidence_activated)
        evidence = QWidget(self)
        evidence_layout = QVBoxLayout(evidence)
        evidence_layout.setContentsMargins(0, 0, 0, 0)
        evidence_layout.addWidget(self.message)
        evidence_layout.addWidget(self.evidence_note)
        evidence_layout.addWidget(self.evidence_rows, 1)

        self.difference_note = QLabel(
            "Choose a champion check to see where the two versions' explanations differ "
            "on the rows they disagree on.",
            self,
        )
        self.difference_note.setWordWrap(True)
        self.difference_button = QPushButton("Explain the disagreeing rows", self)
        self.difference_button.setEnabled(False)
        self.difference_button.clicked.connect(self._ask_difference)
        self.difference_chart = CompareChart()
        self.difference_table = DataTable(
            ["feature", "mean SHAP (baseline)", "mean SHAP (candidate)", "mean |difference|"],
            self,
        )
        difference = QWidget(self)
        difference_layout = QVBoxLayout(difference)
        difference_layout.setContentsMargins(0, 0, 0, 0)
        difference_layout.addWidget(self.difference_note)
        difference_layout.addWidget(self.difference_button, 0, Qt.AlignmentFlag.AlignLeft)
        splitter = QSplitter(Qt.Orientation.Horizontal, difference)
        splitter.addWidget(self.difference_chart)
        splitter.addWidget(self.difference_table)
        difference_layout.addWidget(splitter, 1)

        self.matrix = QTableWidget(self)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.cellClicked.connect(self._matrix_clicked)
        self.matrix_runs: dict[str, int] = {}

        self.details = QTabWidget(self)
        self.details.addTab(evidence, "Evidence")
        self.details.addTab(difference, "Explanations differ")
        self.details.addTab(self.matrix, "Versions × checks")
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.addWidget(self.results)
        body.addWidget(self.details)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(body, 1)

    def _source_row(self, index: Any) -> list[Any]:
        return self.results.model.rows[self.results.proxy.mapToSource(index).row()]

    # -- one run --------------------------------------------------------------------
    def show_run(self, run: dict[str, Any]) -> None:
        """Show a run (its JSON form, fresh or recorded)."""
        self.run = run
        counts = run.get("counts", {})
        tally = ", ".join(f"{n} {verdict.lower()}" for verdict, n in counts.items() if n)
        colour = verdict_colour(run["verdict"]).name()
        self.summary.setText(
            f"<b>{html.escape(run['model'])}</b> against <b>{html.escape(run['suite'])}</b> "
            f"on {html.escape(run['dataset'])}: <b style='color:{colour}'>{run['verdict']}</b>"
            f" ({tally}) · {run['rows_predicted']:,} rows predicted"
            + (f" · {run['seconds']:.2f} s" if run.get("seconds") else "")
            + (f" · run {run['id']}" if run.get("id") else " · not recorded")
        )
        self.results.set_rows([_result_row(check) for check in run["checks"]])
        self.results.view.setColumnWidth(VERDICT_COLUMN, 104)
        check_width = self.results.view.columnWidth(CHECK_COLUMN)
        self.results.view.setColumnWidth(CHECK_COLUMN, min(check_width, MAX_CHECK_WIDTH))
        self.results.view.setColumnWidth(INTERVAL_COLUMN, 190)
        self._show_check(None)
        failing = [i for i, c in enumerate(run["checks"]) if c["verdict"] != "PASS"]
        if failing:
            self.select_check(run["checks"][failing[0]]["id"])

    def select_check(self, check_id: str) -> None:
        """Select a check's row (and show its evidence)."""
        for row in range(self.results.proxy.rowCount()):
            if self.results.proxy.index(row, CHECK_COLUMN).data() == check_id:
                self.results.view.selectRow(row)
                return

    def _check_selected(self, rows: list[int]) -> None:
        if self.run is None or not rows:
            return
        check_id = self.results.model.rows[rows[0]][CHECK_COLUMN]
        self._show_check(next(c for c in self.run["checks"] if c["id"] == check_id))

    def _show_check(self, check: dict[str, Any] | None) -> None:
        self.check = check
        if check is None:
            self.message.setText("")
            self.evidence_note.setText("")
            self.evidence_rows.model.headers = ["row"]
            self.evidence_rows.set_rows([])
            self.difference_button.setEnabled(False)
            return
        self.message.setText(f"{check['id']}: {check['message']}")
        table = evidence_table(check)
        self.evidence = table
        self.evidence_rows.model.headers = table.headers
        self.evidence_rows.set_rows(table.rows)
        explainable = any(row is not None for row in table.row_ids)
        hint = " · double-click a row to explain it" if explainable else ""
        self.evidence_note.setText((table.note or "no evidence rows") + hint)
        champion = check["kind"] == "champion" and bool(check["evidence"].get("disagreeing_rows"))
        self.difference_button.setEnabled(champion)
        if champion:
            self.difference_note.setText(
                f"{check['evidence']['disagreements']} rows where {html.escape(self.run_model())}"
                f" and {html.escape(check['evidence']['baseline'])} predict differently."
            )

    def run_model(self) -> str:
        """The model version of the run shown."""
        return self.run["model"] if self.run else ""

    def _evidence_activated(self, row: int) -> None:
        if self.evidence is None or self.check is None or self.run is None:
            return
        row_id = self.evidence.row_ids[row]
        if row_id is not None:
            self.row_chosen.emit(self.check.get("dataset") or self.run["dataset"], int(row_id))

    def _ask_difference(self) -> None:
        if self.check is not None:
            self.difference_button.setEnabled(False)
            self.difference_note.setText("explaining both versions on the disagreeing rows…")
            self.explain_disagreements.emit(self.check)

    def show_difference(self, difference: Any) -> None:
        """Draw where two versions' explanations differ (an ExplanationDifference)."""
        self.difference_button.setEnabled(True)
        top = difference.features[:DIFFERENCE_BARS]
        self.difference_chart.set_title(
            f"Mean SHAP on the {len(difference.rows)} disagreeing rows ({difference.output})"
        )
        self.difference_chart.show_compare(
            [(name, old, new) for name, new, old, _ in top],
            difference.baseline,
            difference.candidate,
            axis="mean SHAP value",
        )
        self.difference_table.set_rows(
            [[name, old, new, gap] for name, new, old, gap in difference.features]
        )
        units = "" if difference.same_space else (
            " Their values are in different units (" + " vs ".join(difference.spaces)
            + "): compare the ranking, not the lengths."
        )  # fmt: skip
        self.difference_note.setText(
            f"Features by how differently {html.escape(difference.candidate)} and "
            f"{html.escape(difference.baseline)} use them where they disagree.{units}"
        )

    def difference_failed(self, message: str) -> None:
        """The comparison could not be made: say why, offer it again."""
        self.difference_button.setEnabled(True)
        self.difference_note.setText(message)

    # -- the suite's history ----------------------------------------------------------
    def show_history(self, history: Any, current_ref: str | None = None) -> None:
        """Versions x checks: each version's newest run of the suite (a History)."""
        self.matrix_runs = dict(history.runs)
        self.matrix.clear()
        self.matrix.setRowCount(len(history.versions))
        self.matrix.setColumnCount(len(history.checks))
        self.matrix.setVerticalHeaderLabels(history.versions)
        self.matrix.setHorizontalHeaderLabels(history.checks)
        for row, ref in enumerate(history.versions):
            for column, check_id in enumerate(history.checks):
                verdict = history.verdicts[ref].get(check_id, "")
                item = QTableWidgetItem(verdict or "—")
                if verdict:
                    item.setBackground(QBrush(verdict_colour(verdict).lighter(170)))
                    item.setForeground(QBrush(verdict_colour(verdict).darker(130)))
                item.setToolTip(f"{ref}: run {history.runs[ref]}")
                self.matrix.setItem(row, column, item)
        self.matrix.resizeColumnsToContents()
        if current_ref in history.versions:  # marked, not selected: selection hides colours
            header = self.matrix.verticalHeaderItem(history.versions.index(current_ref))
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            header.setText(f"▸ {current_ref}")

    def matrix_verdict(self, ref: str, check_id: str) -> str:
        """The verdict the matrix shows for a version and a check ('' if none)."""
        rows = [
            self.matrix.verticalHeaderItem(r).text().removeprefix("▸ ")
            for r in range(self.matrix.rowCount())
        ]
        columns = [
            self.matrix.horizontalHeaderItem(c).text() for c in range(self.matrix.columnCount())
        ]
        if ref not in rows or check_id not in columns:
            return ""
        text = self.matrix.item(rows.index(ref), columns.index(check_id)).text()
        return "" if text == "—" else text

    def _matrix_clicked(self, row: int, _column: int) -> None:
        ref = self.matrix.verticalHeaderItem(row).text().removeprefix("▸ ")
        if ref in self.matrix_runs:
            self.run_chosen.emit(self.matrix_runs[ref])
