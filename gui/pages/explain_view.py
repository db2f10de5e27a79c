"""The Explain tab: SHAP values of a model version on a dataset version, as plots.

Global importance, a beeswarm, a dependence plot and one row's waterfall, linked:
clicking a point opens its row's waterfall. A second version of the same model can be
compared feature by feature. Every computation runs on the worker pool.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.explain.options import DEFAULT_BACKGROUND, METHODS, PERTURBATIONS
from modeldesk.explain.views import ViewData, explain_view, view_data, waterfall
from modeldesk.gui.context import AppContext
from modeldesk.gui.pages.debug_view import dataset_choices
from modeldesk.gui.widgets.flow import FlowLayout, labelled
from modeldesk.gui.widgets.plots import BarChart
from modeldesk.gui.widgets.shap_plots import (
    BeeswarmPlot,
    CompareChart,
    DependencePlot,
    WaterfallPlot,
)

__all__ = ["ExplainView"]

# Runs estimated above this ask first (issue 4: "asks before a run estimated over a minute").
CONFIRM_ABOVE_S = 60.0
IMPORTANCE_BARS = 20


class ExplainView(QWidget):
    """Choose data, rows and method; explain; read the plots."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_ref: str | None = None
        self.view: ViewData | None = None

        self.dataset = QComboBox(self)
        self.dataset.setMinimumContentsLength(10)
        self.dataset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.rows = QLineEdit(self)
        self.rows.setPlaceholderText("N or a:b")
        self.rows.setMaximumWidth(100)
        self.rows.setToolTip("Rows to explain: N (the first N) or a:b (rows a to b-1)")
        self.method = QComboBox(self)
        self.method.addItems(METHODS)
        self.method.setToolTip(
            "auto: exact TreeSHAP for tree ensembles, Partition for images, Permutation else"
        )
        self.perturbation = QComboBox(self)
        self.perturbation.addItems(PERTURBATIONS)
        self.background = QLineEdit(str(DEFAULT_BACKGROUND), self)
        self.background.setMaximumWidth(60)
        self.background.setToolTip(
            "Background rows from the model's training dataset version: N, or all"
        )
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 999_999)
        self.explain_button = QPushButton("Explain", self)
        self.explain_button.clicked.connect(self.run)
        self.export_button = QPushButton("Export values…", self)
        self.export_button.setToolTip("Save the SHAP values as Parquet or CSV")
        self.export_button.clicked.connect(self._ask_export_values)
        self.export_button.setEnabled(False)
        self.output = QComboBox(self)
        self.output.setToolTip("Which class's values to show")
        self.output.activated.connect(self._output_changed)
        self.feature = QComboBox(self)
        self.feature.setToolTip("Feature of the dependence plot")
        self.feature.activated.connect(self._feature_changed)
        self.compare_with = QComboBox(self)
        self.compare_with.setMinimumContentsLength(8)
        self.compare_with.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.clicked.connect(self.compare)
        self.status = QLabel(self)
        self.status.setWordWrap(True)

        self.importance = BarChart("Global importance: mean |SHAP value|", self)
        self.beeswarm = BeeswarmPlot(self.show_row)
        self.dependence = DependencePlot(self.show_row)
        self.waterfall = WaterfallPlot()
        self.comparison = CompareChart()

        # The fields wrap onto more lines in a narrow window rather than widen the page.
        controls = FlowLayout()
        for label, widget in (
            ("Dataset:", self.dataset),
            ("Rows:", self.rows),
            ("Method:", self.method),
            ("Perturbation:", self.perturbation),
            ("Background:", self.background),
            ("Seed:", self.seed),
        ):
            controls.addWidget(labelled(label, widget, self))
        controls.addWidget(self.explain_button)
        results = FlowLayout()
        results.addWidget(labelled("Class:", self.output, self))
        results.addWidget(labelled("Compare with:", self.compare_with, self))
        results.addWidget(self.compare_button)
        results.addWidget(self.export_button)
        self.left = QTabWidget(self)
        self.left.addTab(self.beeswarm, "Beeswarm")
        self.left.addTab(self.importance, "Importance")
        self.left.addTab(self.comparison, "Version compare")
        dependence_box = QWidget(self)
        dependence_layout = QVBoxLayout(dependence_box)
        dependence_layout.setContentsMargins(0, 0, 0, 0)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Feature:"))
        chooser.addWidget(self.feature, 1)
        dependence_layout.addLayout(chooser)
        dependence_layout.addWidget(self.dependence, 1)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(dependence_box)
        right.addWidget(self.waterfall)
        body = QSplitter(Qt.Orientation.Horizontal, self)
        body.addWidget(self.left)
        body.addWidget(right)
        body.setSizes([600, 500])
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(results)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)

    # -- choosing -----------------------------------------------------------------
    def set_model(self, model_ref: str, siblings: list[str]) -> None:
        """Offer datasets (held-out first) and the model's other versions to compare."""
        self.model_ref = model_ref
        refs = dataset_choices(self.context.catalog, model_ref)
        self.dataset.clear()
        self.dataset.addItems(refs)
        self.explain_button.setEnabled(bool(refs))
        self.compare_with.clear()
        self.compare_with.addItems([ref for ref in siblings if ref != model_ref])
        self.compare_button.setEnabled(bool(refs) and self.compare_with.count() > 0)
        self.status.setText("")

    def options(self) -> dict[str, Any]:
        """The request as ``explain`` keyword arguments."""
        background = self.background.text().strip() or str(DEFAULT_BACKGROUND)
        return {
            "rows": self.rows.text().strip() or None,
            "method": self.method.currentText(),
            "perturbation": self.perturbation.currentText(),
            "background": background if background == "all" else _int_or_text(background),
            "seed": self.seed.value(),
        }

    # -- running ------------------------------------------------------------------
    def run(self, *, confirmed: bool = False) -> None:
        """Estimate first (model-agnostic methods), ask if long, then explain."""
        data_ref = self.dataset.currentText()
        if not self.model_ref or not data_ref:
            return
        self.explain_button.setEnabled(False)
        if confirmed:
            self._start(data_ref, self.options())
            return
        from modeldesk.explain.run import estimate_request

        self.status.setText("estimating the cost…")
        self._job(
            f"estimating an explanation of {self.model_ref}",
            estimate_request,
            lambda cost: self._estimated(cost, data_ref),
            data_ref,
            self.options(),
        )

    def _estimated(self, cost: Any, data_ref: str) -> None:
        if cost is not None and cost.seconds > CONFIRM_ABOVE_S:
            question = (
                f"This explanation should take about {cost.seconds / 60:.0f} minutes "
                f"({cost.describe()}).\nRun it?"
            )
            if not self.confirm(question):
                self.explain_button.setEnabled(True)
                self.status.setText("not run: " + cost.describe())
                return
        self._start(data_ref, self.options(), note=cost.describe() if cost else "")

    def confirm(self, question: str) -> bool:
        """Ask the user whether to go ahead with a long run."""
        answer = QMessageBox.question(self, "Long explanation", question)
        return answer == QMessageBox.StandardButton.Yes

    def _start(
        self, data_ref: str, options: dict[str, Any], row: int | None = None, note: str = ""
    ) -> None:
        estimate = f" (estimate: {html.escape(note)})" if note else ""
        self.status.setText(f"explaining {self.model_ref} on {data_ref}…{estimate}")
        self._job(
            f"explaining {self.model_ref} on {data_ref}",
            explain_view,
            lambda view: self.show_view(view, row),
            data_ref,
            options,
        )

    def _job(
        self,
        title: str,
        fn: Any,
        on_done: Any,
        data_ref: str,
        options: dict[str, Any],
    ) -> None:
        # One key for estimate and run: a new request replaces one still in flight.
        self.context.run(
            title,
            fn,
            on_done=on_done,
            on_error=self._failed,
            key=f"explain:{id(self)}",
            model_ref=self.model_ref,
            data_ref=data_ref,
            **options,
        )

    def _failed(self, error: Any) -> None:
        self.explain_button.setEnabled(True)
        self.status.setText("")
        self.context.error.emit(error)

    # -- showing ------------------------------------------------------------------
    def show_view(self, view: ViewData, row: int | None = None) -> None:
        """Draw a finished explanation."""
        self.view = view
        result = view.explanation
        self.explain_button.setEnabled(True)
        self.export_button.setEnabled(True)
        how = "cached" if result.cached else f"{result.seconds:.1f} s"
        notes = "; ".join(result.notes)
        self.status.setText(
            f"{html.escape(result.method)} ({html.escape(result.perturbation)}) on "
            f"{len(result.rows):,} rows of {html.escape(result.dataset)}, {how}. Values are in "
            f"<b>{html.escape(result.space)}</b>"
            + (": before the sigmoid/softmax" if result.space.startswith("margin") else "")
            + (f". {html.escape(notes)}" if notes else "")
        )
        self.output.clear()
        self.output.addItems(result.output_names)
        self.output.setCurrentIndex(view.output)
        self.output.setEnabled(result.outputs > 1)
        self.feature.clear()
        self.feature.addItems([name for name, _ in view.importance])
        self._draw(view)
        position = 0 if row is None else int(row - result.rows[0])
        self.show_row(position)

    def _draw(self, view: ViewData) -> None:
        space = view.explanation.space
        top = view.importance[:IMPORTANCE_BARS]
        self.importance.set_bars(
            [name for name, _ in top], [value for _, value in top], value_axis="mean |SHAP value|"
        )
        self.beeswarm.show_beeswarm(view.beeswarm, space)
        self.dependence.show_dependence(view.dependence, space)
        self.feature.setCurrentText(view.dependence.feature)

    def show_row(self, position: int) -> None:
        """Show the waterfall of the explanation's ``position``-th row."""
        view = self.view
        if view is None or not 0 <= position < len(view.explanation.rows):
            return
        result = view.explanation
        self.waterfall.show_waterfall(
            waterfall(result, position, view.output),
            result.output_names[view.output],
            result.space,
        )

    def open_row(self, data_ref: str, row: int) -> None:
        """Show one dataset row's waterfall, explaining it first if it is not shown yet."""
        view = self.view
        if view is not None and view.explanation.dataset == data_ref:
            rows = view.explanation.rows
            if len(rows) and rows[0] <= row <= rows[-1]:
                self.show_row(int(row - rows[0]))
                return
        index = self.dataset.findText(data_ref)
        if index >= 0:
            self.dataset.setCurrentIndex(index)
        self.rows.setText(f"{row}:{row + 1}")
        options = self.options()
        self._start(data_ref, options, row=row)

    def _output_changed(self, index: int) -> None:
        if self.view is not None and index >= 0:
            self._relayout(output=index)

    def _feature_changed(self, index: int) -> None:
        if self.view is None or index < 0:
            return
        names = self.view.explanation.feature_names
        self._relayout(output=self.view.output, feature=names.index(self.feature.currentText()))

    def _relayout(self, output: int, feature: int | None = None) -> None:
        view = self.view
        assert view is not None

        def lay_out(catalog: Any) -> ViewData:
            return view_data(view.explanation, output, feature)

        self.context.run(
            "laying out the explanation",
            lay_out,
            on_done=self._relaid,
            key=f"explain-layout:{id(self)}",
        )

    def _relaid(self, view: ViewData) -> None:
        self.view = view
        self._draw(view)

    # -- comparing and exporting --------------------------------------------------
    def compare(self) -> None:
        """Mean |SHAP| of this version and the chosen one on the same rows."""
        from modeldesk.explain.compare import compare_importance

        other, data_ref = self.compare_with.currentText(), self.dataset.currentText()
        if not self.model_ref or not other or not data_ref:
            return
        first, second = other, self.model_ref
        self.context.run(
            f"comparing {first} and {second}",
            compare_importance,
            on_done=self._compared,
            key=f"explain-compare:{id(self)}",
            model_a=first,
            model_b=second,
            data_ref=data_ref,
            **self.options(),
        )

    def _compared(self, comparison: Any) -> None:
        self.comparison.show_compare(
            comparison.rows[:IMPORTANCE_BARS], *comparison_names(comparison)
        )
        self.left.setCurrentWidget(self.comparison)
        if not comparison.same_space:
            self.status.setText(
                "Compare: the two versions' values are in different spaces ("
                + html.escape(" vs ".join(comparison.spaces))
                + "): compare the ranking, not the bar lengths."
            )

    def export_values(self, path: str) -> None:
        """Write the shown values (one column per feature and class, plus base values)."""
        if self.view is None:
            return
        explanation = self.view.explanation

        def write(catalog: Any) -> str:
            explanation.write(Path(path))
            return path

        self.context.run(
            f"exporting SHAP values to {Path(path).name}",
            write,
            on_done=lambda written: self.status.setText(f"wrote {html.escape(written)}"),
        )

    def _ask_export_values(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export SHAP values", "shap-values.parquet", "Parquet (*.parquet);;CSV (*.csv)"
        )
        if path:
            self.export_values(path)


def comparison_names(comparison: Any) -> tuple[str, str]:
    """Legend names: each version with the space its values are in."""
    return (
        f"{comparison.first} ({comparison.spaces[0]})",
        f"{comparison.second} ({comparison.spaces[1]})",
    )


def _int_or_text(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # core refuses it with a clear message
