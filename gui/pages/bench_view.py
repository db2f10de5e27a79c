"""The Bench tab: a model's versions x hardware profiles, their runs and what they measured.

The matrix shows the newest run of each version under each profile (p-budget latency
and a pass/fail badge); selecting cells and pressing Run benchmarks each as its own job,
with progress and cancel. A selected run shows its latency distribution, its budget
verdict and the slowest op types and nodes with the execution provider that ran them;
the history plot shows the budget percentile across versions per profile, so a
regression shows as a rise.
"""

from __future__ import annotations

import html
from dataclasses import fields
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.bench.profiles import (
    Profile,
    add_profile,
    edit_profile,
    get_profile,
    list_profiles,
    remove_profile,
    unresolved_dims,
)
from modeldesk.bench.run import BenchRun, bench, history, latest_matrix, run_results
from modeldesk.catalog.browse import list_versions
from modeldesk.errors import BadInputError
from modeldesk.gui.context import AppContext
from modeldesk.gui.jobs import JobError
from modeldesk.gui.widgets.bench_charts import profile_tables, show_histogram, show_trend
from modeldesk.gui.widgets.flow import FlowLayout
from modeldesk.gui.widgets.plots import ChartFrame
from modeldesk.gui.widgets.profile_editor import ProfileDialog
from modeldesk.gui.widgets.table import DataTable
from modeldesk.models.registry import get_model_version

__all__ = ["BenchView"]

PASS, FAIL = QColor("#2e7d32"), QColor("#c62828")


class BenchView(QWidget):
    """Run and read benchmarks of one model's versions under the catalog's profiles."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_name: str | None = None
        self.versions: list[str] = []
        self.profiles: list[str] = []
        self.runs: dict[tuple[str, str], BenchRun] = {}
        self.shown: BenchRun | None = None
        self.pending: set[tuple[str, str]] = set()
        # Sizes the user gave for dynamic axes, kept for this page's later runs.
        self.dims: dict[str, int] = {}
        self.axis_dims: dict[str, int] = {}

        self.matrix = QTableWidget(self)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.run_button = QPushButton("Run selected", self)
        self.run_button.setToolTip("Benchmark each selected version x profile (one job each)")
        self.run_button.clicked.connect(self.run_selected)
        self.new_button = QPushButton("New profile…", self)
        self.new_button.clicked.connect(lambda: self.open_editor(None))
        self.edit_button = QPushButton("Edit profile…", self)
        self.edit_button.setToolTip("Edit the current column's profile (a built-in one is copied)")
        self.edit_button.clicked.connect(lambda: self.open_editor(self.current_profile()))
        self.remove_button = QPushButton("Remove profile", self)
        self.remove_button.clicked.connect(self.remove_current_profile)
        self.editor: ProfileDialog | None = None
        self.status = QLabel(self)
        self.badge = QLabel(self)
        self.badge.setTextFormat(Qt.TextFormat.RichText)
        self.badge.setWordWrap(True)  # a long verdict must not widen the page
        self.distribution = ChartFrame("Latency distribution", self)
        self.distribution.plot.setLabel("bottom", "latency (ms)")
        self.distribution.plot.setLabel("left", "iterations")
        self.trend = ChartFrame("Budget percentile across versions", self)
        self.trend.plot.setLabel("bottom", "model version")
        self.trend.plot.setLabel("left", "latency (ms)")
        self.trend.plot.addLegend(offset=(-10, 10))
        self.ops = DataTable(["op", "nodes", "time (µs)", "share", "providers"], self)
        self.nodes = DataTable(["node", "op", "time (µs)", "provider"], self)

        # Buttons wrap onto a second line in a narrow window rather than widen the page.
        top = FlowLayout()
        for button in (self.run_button, self.new_button, self.edit_button, self.remove_button):
            top.addWidget(button)
        self.status.setWordWrap(True)
        details = QTabWidget(self)
        details.addTab(self.ops, "Op types")
        details.addTab(self.nodes, "Slowest nodes")
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.distribution)
        right.addWidget(details)
        left_box = QWidget(self)
        left = QVBoxLayout(left_box)
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(top)
        left.addWidget(self.status)
        left.addWidget(self.matrix, 2)
        left.addWidget(self.badge)
        left.addWidget(self.trend, 2)
        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.addWidget(left_box)
        body.addWidget(right)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(body, 1)

    # -- the matrix -----------------------------------------------------------------
    def set_model(self, model_name: str, current_ref: str) -> None:
        """Show the matrix of ``model_name``'s versions (newest first) x the profiles."""
        catalog = self.context.catalog
        self.model_name = model_name
        self.versions = [v.ref for v in list_versions(catalog, "model", model_name)]
        self.profiles = [p.name for p in list_profiles(catalog)]
        self.refresh()
        if current_ref in self.versions:
            self.matrix.setCurrentCell(self.versions.index(current_ref), 0)

    def refresh(self) -> None:
        """Re-read the newest runs and redraw the matrix and the history."""
        if self.model_name is None:
            return
        self.runs = latest_matrix(self.context.catalog, self.model_name)
        self.matrix.setRowCount(len(self.versions))
        self.matrix.setColumnCount(len(self.profiles))
        self.matrix.setVerticalHeaderLabels(self.versions)
        self.matrix.setHorizontalHeaderLabels(self.profiles)
        for row, ref in enumerate(self.versions):
            for column, profile in enumerate(self.profiles):
                self.matrix.setItem(row, column, self._cell(ref, profile))
        self.matrix.resizeColumnsToContents()
        self._draw_history()

    def _cell(self, ref: str, profile: str) -> QTableWidgetItem:
        run = self.runs.get((ref, profile))
        if (ref, profile) in self.pending:
            return QTableWidgetItem("running…")
        if run is None:
            return QTableWidgetItem("—")
        if run.status != "ok":
            item = QTableWidgetItem(run.status)
            item.setForeground(QBrush(FAIL))
            item.setToolTip(run.error or "")
            return item
        pct = run.summary.get("percentile", 95)
        text = f"p{pct} {run.summary[f'p{pct}_ms']:.3g} ms"
        item = QTableWidgetItem(text + {True: " ✓", False: " ✗", None: ""}[run.passed])
        if run.passed is not None:
            item.setForeground(QBrush(PASS if run.passed else FAIL))
        return item

    def selected_cells(self) -> list[tuple[str, str]]:
        """(version ref, profile) of every selected cell."""
        return [
            (self.versions[index.row()], self.profiles[index.column()])
            for index in self.matrix.selectedIndexes()
        ]

    def ask_dim(self, label: str) -> int | None:
        """Ask for the size of one dynamic axis (None: the user declined)."""
        value, ok = QInputDialog.getInt(self, "Dynamic dimension", label, 1, 1, 1 << 24)
        return value if ok else None

    def _dims_for(self, ref: str, profile_name: str) -> tuple[dict, dict] | None:
        """Values for the dynamic axes neither the model nor the profile sizes, asked for."""
        profile = get_profile(self.context.catalog, profile_name)
        model = get_model_version(self.context.catalog, ref)
        dims = {**profile.dims, **self.dims}
        axis_dims = {**profile.axis_dims, **self.axis_dims}
        for key, name in unresolved_dims(model.inputs, dims, axis_dims):
            label = f"{ref}: size of dim '{name}' ({key})" if name else f"{ref}: size of {key}"
            value = self.ask_dim(label)
            if value is None:
                return None
            if name:
                self.dims[name] = dims[name] = value
            else:
                self.axis_dims[key] = axis_dims[key] = value
        return dims, axis_dims

    def run_selected(self) -> None:
        """Benchmark each selected cell as its own job (asking for unsized dims first)."""
        for ref, profile in self.selected_cells():
            if (ref, profile) in self.pending:
                continue
            sizes = self._dims_for(ref, profile)
            if sizes is None:
                self.status.setText("not run: a dynamic dimension has no value")
                continue
            self.pending.add((ref, profile))
            self.context.run(
                f"benchmarking {ref} under {profile}",
                bench,
                on_done=lambda runs, cell=(ref, profile): self._finished(cell, runs),
                on_error=lambda error, cell=(ref, profile): self._failed(cell, error),
                # A cancelled job delivers nothing; its end still frees the cell.
                on_finished=lambda cell=(ref, profile): self._ended(cell),
                key=f"bench:{ref}:{profile}",
                model_ref=ref,
                profiles=[profile],
                dims=sizes[0],
                axis_dims=sizes[1],
            )
        self.refresh()

    def _ended(self, cell: tuple[str, str]) -> None:
        if cell in self.pending:
            self.pending.discard(cell)
            self.refresh()

    def _finished(self, cell: tuple[str, str], runs: list[BenchRun]) -> None:
        self.pending.discard(cell)
        self.refresh()
        if runs:
            self.show_run(runs[0])

    def _failed(self, cell: tuple[str, str], error: Any) -> None:
        self.pending.discard(cell)
        self.refresh()
        self.context.error.emit(error)

    # -- profiles -------------------------------------------------------------------
    def current_profile(self) -> str | None:
        """The profile of the current matrix column."""
        column = self.matrix.currentColumn()
        return self.profiles[column] if 0 <= column < len(self.profiles) else None

    def open_editor(self, name: str | None) -> ProfileDialog:
        """Open the profile editor (a built-in profile opens as a copy to save)."""
        base = get_profile(self.context.catalog, name) if name else None
        self.editor = ProfileDialog(base, self)
        self.editor.accepted.connect(self._save_profile)
        self.editor.open()
        return self.editor

    def _save_profile(self) -> None:
        dialog = self.editor
        if dialog is None:
            return
        try:
            profile = dialog.profile()
        except BadInputError as error:
            self.context.error.emit(JobError(str(error), "", True, "BadInputError"))
            return
        editing = dialog.editing
        changes = {
            f.name: getattr(profile, f.name)
            for f in fields(Profile)
            if f.name not in ("name", "builtin")
        }

        def save(catalog: Any) -> str:
            if editing:
                edit_profile(catalog, profile.name, **changes)
            else:
                add_profile(catalog, profile)
            return profile.name

        self.context.run(f"saving profile {profile.name}", save, on_done=self._profiles_changed)

    def remove_current_profile(self) -> None:
        """Remove the current column's profile (its past runs stay recorded)."""
        name = self.current_profile()
        if name is None:
            return

        def remove(catalog: Any) -> str:
            remove_profile(catalog, name)
            return name

        self.context.run(f"removing profile {name}", remove, on_done=self._profiles_changed)

    def _profiles_changed(self, _name: str) -> None:
        self.profiles = [p.name for p in list_profiles(self.context.catalog)]
        self.refresh()

    # -- one run --------------------------------------------------------------------
    def _cell_clicked(self, row: int, column: int) -> None:
        run = self.runs.get((self.versions[row], self.profiles[column]))
        if run is not None:
            self.show_run(run)

    def show_run(self, run: BenchRun) -> None:
        """Show a run's distribution, budget verdict and profile."""
        self.shown = run
        summary = run.summary
        if run.status != "ok":
            self.badge.setText(
                f"<b>{html.escape(run.model)} · {html.escape(run.profile)}</b>: "
                f"<span style='color:{FAIL.name()}'>{html.escape(run.status)}</span> — "
                f"{html.escape(run.error or '')}"
            )
        else:
            pct = summary.get("percentile", 95)
            measured = summary[f"p{pct}_ms"]
            budget = summary.get("budget_ms")
            verdict = ""
            if budget:
                colour = PASS if run.passed else FAIL
                word = "PASS" if run.passed else "FAIL"
                verdict = (f" against a budget of {budget:g} ms: <b style='color:"
                           f"{colour.name()}'>{word}</b>")  # fmt: skip
            estimate = summary.get("estimated_device_ms")
            if estimate:
                verdict += (f"; estimated on the device {estimate['value']:.3g} ms "
                            f"(± {estimate['relative_error']:.0%}, an estimate)")  # fmt: skip
            self.badge.setText(
                f"<b>{html.escape(run.model)} · {html.escape(run.profile)}</b>: "
                f"p{pct} {measured:.4g} ms{verdict} · load {summary['load_ms']:.1f} ms · "
                f"first {summary['first_ms']:.2f} ms · "
                f"peak {summary.get('peak_rss_mb') or 0:.0f} MB"
                " · percentiles as onnxruntime_perf_test takes them"
            )
        results = run_results(self.context.catalog, run.id) if run.status == "ok" else None
        self.distribution.plot.clear()
        self.ops.set_rows([])
        self.nodes.set_rows([])
        if results is None:
            return
        first = results["batches"][0]
        show_histogram(
            self.distribution,
            first["latencies_ms"],
            f"Latency distribution: {run.profile}, batch {first['batch']}, "
            f"{len(first['latencies_ms'])} iterations",
        )
        ops, nodes = profile_tables(results.get("profile") or {})
        self.ops.set_rows(ops)
        self.nodes.set_rows(nodes)

    def _draw_history(self) -> None:
        if self.model_name is not None:
            show_trend(self.trend, history(self.context.catalog, self.model_name))

    def op_times(self, ref: str) -> dict[str, int]:
        """Microseconds per op type from the newest successful run of ``ref``."""
        newest = [r for (v, _), r in self.runs.items() if v == ref and r.status == "ok"]
        if not newest:
            return {}
        run = max(newest, key=lambda r: r.id)
        results = run_results(self.context.catalog, run.id) or {}
        return {op["op"]: op["us"] for op in (results.get("profile") or {}).get("ops", [])}
