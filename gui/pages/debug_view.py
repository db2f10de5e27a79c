"""The Debug tab: how a model version does on a dataset version, and where it is wrong."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from modeldesk.catalog.browse import list_records, list_versions
from modeldesk.debug.feeds import rank_datasets
from modeldesk.debug.report import DebugReport, debug_report
from modeldesk.gui.context import AppContext
from modeldesk.gui.widgets.plots import ChartFrame, export_plot
from modeldesk.gui.widgets.table import DataTable
from modeldesk.models.registry import get_model_version

__all__ = ["DebugView", "dataset_choices"]

WARNING_STYLE = "color: #b35c00; font-weight: bold"


class ConfusionMatrix(pg.PlotWidget):
    """A heatmap of label against prediction; clicking a cell reports (label, predicted)."""

    def __init__(self, on_cell: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_cell = on_cell
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setLabel("left", "label (true class)")
        self.setBackground(self.palette().color(self.backgroundRole()))
        self.setLabel("bottom", "predicted class")
        self.texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0))
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_matrix(self, matrix: list[list[int]], names: list[str]) -> None:
        """Draw the matrix: rows are labels (top first), columns predictions."""
        self.matrix = np.array(matrix, dtype=float)
        size = len(names)
        # ImageItem's first axis is x: transpose so columns are predictions.
        self.image.setImage(self.matrix.T[:, ::-1], levels=(0, max(self.matrix.max(), 1)))
        self.image.setColorMap(pg.colormap.get("viridis"))
        for text in self.texts:
            self.removeItem(text)
        self.texts = []
        bright = 0.6 * max(self.matrix.max(), 1)
        for label, predicted in np.ndindex(size, size):
            count = self.matrix[label, predicted]
            # Dark digits on viridis' bright end, light ones on its dark end.
            colour = (20, 20, 20) if count > bright else (240, 240, 240)
            text = pg.TextItem(str(int(count)), anchor=(0.5, 0.5), color=colour)
            text.setPos(predicted + 0.5, size - label - 0.5)
            self.addItem(text)
            self.texts.append(text)
        ticks = [(i + 0.5, name) for i, name in enumerate(names)]
        self.getAxis("bottom").setTicks([ticks])
        self.getAxis("left").setTicks([[(size - i - 0.5, name) for i, name in enumerate(names)]])
        self.setRange(xRange=(0, size), yRange=(0, size), padding=0)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (label, predicted) cell under plot coordinates, if any."""
        size = len(self.matrix)
        predicted, label = int(x), size - 1 - int(y)
        if 0 <= predicted < size and 0 <= label < size and x >= 0 and y >= 0:
            return label, predicted
        return None

    def _clicked(self, event: Any) -> None:
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(point.x(), point.y())
        if cell is not None:
            self.on_cell(*cell)


def dataset_choices(catalog: Any, model_ref: str) -> list[str]:
    """Every dataset version, those that fit the model and are held out first."""
    refs = [
        version.ref
        for record in list_records(catalog, "dataset")
        for version in list_versions(catalog, "dataset", record.name)
    ]
    return rank_datasets(catalog, get_model_version(catalog, model_ref), refs)


class DebugView(QWidget):
    """Pick a dataset version, run the model on it, read metrics, slices and worst rows."""

    row_chosen = Signal(str, int)  # dataset version, row number: explain this row

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model_ref: str | None = None
        self.report: DebugReport | None = None
        self.shown_rows: list[int] = []
        self.dataset = QComboBox(self)
        self.run_button = QPushButton("Run", self)
        self.run_button.clicked.connect(self.run)
        self.status = QLabel(self)
        self.warning = QLabel(self)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.setWordWrap(True)
        self.metrics = DataTable(["metric", "value"], self, filter_hint="Filter metrics")
        self.confusion = ConfusionMatrix(self.show_cell, self)
        self.residuals = ChartFrame("Residuals", self)
        self.residuals.plot.setLabel("bottom", "predicted (model output)")
        self.residuals.plot.setLabel("left", "residual (label − predicted)")
        self.calibration = ChartFrame("Calibration (dashed: perfect)", self)
        self.calibration.plot.setLabel("bottom", "mean predicted probability")
        self.calibration.plot.setLabel("left", "observed frequency of the positive class")
        self.calibration.plot.setXRange(0, 1)
        self.calibration.plot.setYRange(0, 1)
        self.calibration_points: list[dict[str, float]] = []
        self.slices = DataTable(["column", "slice", "rows", "metric", "value", "overall"], self)
        self.slices.setToolTip("Double-click a slice to list its rows")
        self.slices.row_activated.connect(self.show_slice)
        self.rows = DataTable(["row", "loss", "label", "predicted", "p(label)"], self)
        self.rows.setToolTip("Double-click a row to see its explanation (Explain tab)")
        self.rows.row_activated.connect(self._row_activated)
        self.rows_title = QLabel("Worst rows", self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset:"))
        top.addWidget(self.dataset, 1)
        top.addWidget(self.run_button)
        top.addWidget(self.status, 1)
        upper = QSplitter(Qt.Orientation.Horizontal, self)
        upper.addWidget(self.metrics)
        upper.addWidget(self.confusion)
        upper.addWidget(self.residuals)
        upper.addWidget(self.calibration)
        upper.setSizes([330, 460, 460, 400])
        lower = QSplitter(Qt.Orientation.Horizontal, self)
        lower.addWidget(self.slices)
        rows_box = QWidget(self)
        rows_layout = QVBoxLayout(rows_box)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addWidget(self.rows_title)
        rows_layout.addWidget(self.rows)
        lower.addWidget(rows_box)
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.addWidget(upper)
        body.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.warning)
        layout.addWidget(body, 1)
        self.confusion.hide()
        self.residuals.hide()
        self.calibration.hide()

    def set_model(self, model_ref: str) -> None:
        """Offer the catalog's dataset versions, a held-out one first when there is one."""
        self.model_ref = model_ref
        refs = dataset_choices(self.context.catalog, model_ref)
        self.dataset.clear()
        self.dataset.addItems(refs)
        self.run_button.setEnabled(bool(refs))
        self.run_button.setToolTip("" if refs else "The catalog holds no dataset to run on")
        self.status.setText("")

    def run(self) -> None:
        """Run the model on the chosen dataset version on the worker pool."""
        data_ref = self.dataset.currentText()
        if not self.model_ref or not data_ref:
            return
        self.status.setText(f"running {self.model_ref} on {data_ref}…")
        self.run_button.setEnabled(False)

        def failed(error: Any) -> None:
            self.run_button.setEnabled(True)
            self.status.setText("")
            self.context.error.emit(error)

        self.context.run(
            f"debugging {self.model_ref} on {data_ref}",
            debug_report,
            on_done=self.show_report,
            on_error=failed,
            key=f"debug:{id(self)}",
            model_ref=self.model_ref,
            data_ref=data_ref,
        )

    def show_report(self, report: DebugReport) -> None:
        """Render a finished report."""
        self.report = report
        self.run_button.setEnabled(True)
        self.status.setText(f"{report.model} on {report.dataset}")
        self.warning.setText(
            f"⚠ {html.escape(report.dataset)} is the data {html.escape(report.model)} was trained "
            "on: every score here flatters it."
            if report.trained_on_this
            else ""
        )
        self.metrics.set_rows(_metric_rows(report.metrics))
        self.slices.set_rows(
            [
                [s.column, s.description, s.count, s.metric_name, s.metric, s.overall]
                for s in report.slices
            ]
        )
        self.show_worst_rows()
        classification = report.task == "classification" and "confusion" in report.metrics
        self.confusion.setVisible(classification)
        self.residuals.setVisible(report.task == "regression" and report.y_true is not None)
        curve = report.metrics.get("calibration") if classification else None
        self.calibration.setVisible(bool(curve))
        if curve:
            self.show_calibration(curve)
        if classification:
            self.confusion.show_matrix(report.metrics["confusion"], report.class_names)
        elif report.y_true is not None and report.predicted is not None:
            self.residuals.plot.clear()
            self.residuals.plot.plot(
                report.predicted,
                report.y_true - report.predicted,
                pen=None,
                symbol="o",
                symbolSize=4,
                symbolBrush=(59, 125, 216, 150),
                symbolPen=None,
            )

    def show_calibration(self, curve: list[dict[str, float]]) -> None:
        """Observed frequency of the positive class against the predicted probability."""
        self.calibration_points = curve
        self.calibration.plot.clear()
        diagonal = pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine)
        self.calibration.plot.plot([0, 1], [0, 1], pen=diagonal)
        self.calibration.plot.plot(
            [point["predicted"] for point in curve],
            [point["observed"] for point in curve],
            pen=pg.mkPen((59, 125, 216), width=2),
            symbol="o",
            symbolSize=[
                4 + 10 * (p["count"] / max(c["count"] for c in curve)) ** 0.5 for p in curve
            ],
            symbolBrush=(59, 125, 216),
            symbolPen=None,
        )

    def show_worst_rows(self) -> None:
        """List the worst rows of the whole dataset."""
        if self.report is not None:
            self.rows_title.setText("Worst rows")
            self.shown_rows = [int(entry["row"]) for entry in self.report.worst_rows]
            self.rows.set_rows([_row(entry) for entry in self.report.worst_rows])

    def show_cell(self, label: int, predicted: int) -> None:
        """List the rows of one confusion-matrix cell, worst first."""
        report = self.report
        if report is None or report.losses is None:
            return
        rows = sorted(report.rows_in_cell(label, predicted), key=lambda r: -report.losses[r])
        names = report.class_names
        self.rows_title.setText(
            f"Rows labelled {names[label]} and predicted {names[predicted]} ({len(rows)})"
        )
        self._list_rows(rows)

    def _list_rows(self, rows: list[int]) -> None:
        """Show these rows (dataset row numbers) with their loss, label and prediction."""
        report = self.report
        if report is None or report.losses is None:
            return

        def shown(values: Any, row: int) -> Any:
            if values is None:
                return ""
            if report.task == "classification":
                return report.class_names[int(values[row])]
            return float(values[row])

        self.shown_rows = rows
        table = []
        for row in rows:
            label, predicted = shown(report.y_true, row), shown(report.predicted, row)
            table.append([row, float(report.losses[row]), label, predicted, ""])
        self.rows.set_rows(table)

    def show_slice(self, index: int) -> None:
        """List the rows of one slice, worst first."""
        report = self.report
        if report is None or report.losses is None or not 0 <= index < len(report.slices):
            return
        chosen = report.slices[index]
        rows = sorted((int(r) for r in chosen.rows), key=lambda r: -report.losses[r])
        self.rows_title.setText(
            f"Rows where {chosen.column} {chosen.description.lstrip('= ')} ({len(rows)})"
            if chosen.description.startswith("=")
            else f"Rows where {chosen.column} is in {chosen.description} ({len(rows)})"
        )
        self._list_rows(rows)

    def _row_activated(self, index: int) -> None:
        if self.report is not None and 0 <= index < len(self.shown_rows):
            self.row_chosen.emit(self.report.dataset, self.shown_rows[index])

    def export_confusion(self, path: str) -> None:
        """Save the confusion matrix as PNG or SVG."""
        export_plot(self.confusion, path)


def _row(entry: dict[str, Any]) -> list[Any]:
    return [
        entry["row"],
        entry["loss"],
        entry["label"],
        entry["predicted"],
        entry.get("probability_of_label", ""),
    ]


def _metric_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for key in (
        "rows",
        "accuracy",
        "roc_auc",
        "log_loss",
        "mae",
        "rmse",
        "r2",
        "residual_mean",
        "residual_std",
    ):
        if metrics.get(key) is not None:
            rows.append([key, metrics[key]])
    for entry in metrics.get("per_class", []):
        for key in ("precision", "recall", "f1"):
            rows.append([f"{key} [{entry['class']}]", entry[key]])
    return rows
