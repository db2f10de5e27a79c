"""Plots that export: every chart in the app can be saved as PNG or SVG."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["BarChart", "ChartFrame", "export_plot", "no_data_label"]

BAR_COLOUR = "#3b7dd8"


def export_plot(plot: pg.PlotWidget, path: str) -> None:
    """Save a plot as PNG or SVG, chosen by the file's suffix."""
    if path.lower().endswith(".svg"):
        _export_svg(plot, path)
        return
    from pyqtgraph import exporters

    exporter = exporters.ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = max(int(plot.width()), 800)
    exporter.export(path)


def _export_svg(plot: pg.PlotWidget, path: str) -> None:
    # pyqtgraph's own SVGExporter fails on PySide6 (it cannot parse the path data
    # PySide hands it); Qt's SVG generator paints the same scene reliably.
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    size = plot.size()
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(QSize(size.width(), size.height()))
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setTitle("ModelDesk chart")
    painter = QPainter(generator)
    try:
        plot.render(painter)
    finally:
        painter.end()


class ChartFrame(QWidget):
    """A titled pyqtgraph plot with an Export… button, following the app's palette."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>", self)
        self.title.setWordWrap(True)  # long titles wrap rather than widen the page
        export = QToolButton(self)
        export.setText("Export…")
        export.setToolTip("Save this chart as PNG or SVG")
        export.clicked.connect(self._ask_export)
        self.plot = pg.PlotWidget(self)
        self.plot.setMenuEnabled(True)
        self.plot.hideButtons()
        for axis in ("left", "bottom"):
            # "(x0.001)" beside an axis label is easy to miss and then misreads every tick.
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.top = QHBoxLayout()
        self.top.addWidget(self.title, 1)
        self.top.addWidget(export)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.top)
        layout.addWidget(self.plot)
        self.apply_palette()

    def set_title(self, title: str) -> None:
        """Change the chart's heading."""
        self.title.setText(f"<b>{title}</b>")

    def apply_palette(self) -> None:
        """Follow the application palette (light or dark)."""
        palette = self.palette()
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        foreground = palette.color(QPalette.ColorRole.Text)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setPen(foreground)
            self.plot.getAxis(axis).setTextPen(foreground)

    def changeEvent(self, event: QEvent) -> None:
        # Follow the app when the system switches between light and dark.
        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)

    def export(self, path: str) -> None:
        """Save the chart to ``path`` (``.png`` or ``.svg``)."""
        export_plot(self.plot, path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chart", "chart.png", "PNG image (*.png);;SVG image (*.svg)"
        )
        if path:
            self.export(path)


class BarChart(ChartFrame):
    """Labelled bars (horizontal by default: long labels stay readable), with export."""

    def __init__(
        self, title: str, parent: QWidget | None = None, *, horizontal: bool = True
    ) -> None:
        super().__init__(title, parent)
        self.horizontal = horizontal
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=horizontal, y=not horizontal, alpha=0.2)
        self._bars: pg.BarGraphItem | None = None
        self.labels: list[str] = []
        self.values: list[float] = []

    def set_bars(
        self,
        labels: Sequence[str],
        values: Sequence[float],
        *,
        value_axis: str = "",
        edges: Sequence[float] | None = None,
    ) -> None:
        """Show one bar per label; with ``edges``, a histogram over those bin edges."""
        self.plot.clear()
        self.labels, self.values = list(labels), [float(v) for v in values]
        brush = pg.mkBrush(QColor(BAR_COLOUR))
        if edges is not None:
            widths = [high - low for low, high in itertools.pairwise(edges)]
            self._bars = pg.BarGraphItem(
                x0=list(edges[:-1]), width=widths, height=self.values, brush=brush, pen=None
            )
            self.plot.getAxis("bottom").setTicks(None)
            self.plot.getAxis("left").setTicks(None)
            self.plot.setLabel("left", value_axis or "rows")
        elif self.horizontal:
            # Top label first: bar i sits at y = -i.
            positions = [-index for index in range(len(self.values))]
            self._bars = pg.BarGraphItem(
                x0=0, y=positions, height=0.7, width=self.values, brush=brush, pen=None
            )
            ticks = [list(zip(positions, self.labels, strict=True))]
            self.plot.getAxis("left").setTicks(ticks)
            self.plot.getAxis("bottom").setTicks(None)
            self.plot.setLabel("bottom", value_axis)
        else:
            positions = list(range(len(self.values)))
            self._bars = pg.BarGraphItem(
                x=positions, height=self.values, width=0.7, brush=brush, pen=None
            )
            self.plot.getAxis("bottom").setTicks([list(zip(positions, self.labels, strict=True))])
            self.plot.setLabel("left", value_axis)
        self.plot.addItem(self._bars)
        self.plot.enableAutoRange()
        if self.horizontal and edges is None:
            self.setMinimumHeight(min(80 + 18 * len(self.values), 480))

    @property
    def bar_count(self) -> int:
        """How many bars are shown."""
        return len(self.values)


def no_data_label(text: str, parent: QWidget | None = None) -> QLabel:
    """A centred, muted note shown where a chart has nothing to show."""
    label = QLabel(text, parent)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setEnabled(False)
    return label
