"""SHAP plots: beeswarm, dependence, waterfall and a two-version importance comparison.

The data comes shaped from ``modeldesk.explain.views``; these widgets only draw it. Points are
grouped into a few colour groups, one scatter item each with one brush, and set once:
with hundreds of thousands of points pyqtgraph's cost is per-point Python work in
``setData``, not painting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPalette

from modeldesk.explain.views import COLOUR_GROUPS, Beeswarm, Dependence, Waterfall
from modeldesk.gui.widgets.plots import ChartFrame

__all__ = ["BeeswarmPlot", "CompareChart", "DependencePlot", "WaterfallPlot", "group_colours"]

LOW, HIGH = QColor("#1e88e5"), QColor("#ff0d57")  # shap's blue-to-red feature value scale
MISSING = QColor(150, 150, 150)
POSITIVE, NEGATIVE = QColor("#ff0d57"), QColor("#1e88e5")
# Clicks further than this many pixels from every point select nothing.
CLICK_RADIUS_PX = 8


def group_colours() -> list[QColor]:
    """The colour of each feature-value group, low (blue) to high (red)."""
    colours = []
    for index in range(COLOUR_GROUPS):
        t = index / max(COLOUR_GROUPS - 1, 1)
        colours.append(
            QColor(
                round(LOW.red() + t * (HIGH.red() - LOW.red())),
                round(LOW.green() + t * (HIGH.green() - LOW.green())),
                round(LOW.blue() + t * (HIGH.blue() - LOW.blue())),
            )
        )
    return colours


class PointGroups(pg.GraphicsObject):
    """Many same-size points in a few colours, rasterised with numpy at paint time.

    pyqtgraph's ScatterPlotItem does per-point Python work in ``setData`` (about 3 µs a
    point: 2 s for 600,000), and Qt's ``drawPoints`` under a scaling transform takes
    ~0.4 s a frame for as many. Here each colour's points stay numpy arrays; a frame maps
    them to device pixels, writes one pixel per point into an image (later colour groups
    on top), grows each pixel into a square of the point size, and draws that image once:
    tens of milliseconds, so panning and zooming stay smooth.
    """

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[QColor, np.ndarray, np.ndarray]] = []
        self.size_px = 4
        self._bounds = QRectF()

    def set_groups(
        self, x: np.ndarray, y: np.ndarray, group: np.ndarray, colours: list[QColor], size: int
    ) -> None:
        """Replace the points; ``group[i]`` indexes ``colours`` (-1: the first colour)."""
        self.prepareGeometryChange()
        self.size_px = size
        self.groups = []
        for index, colour in enumerate(colours):
            chosen = (group + 1) == index
            if chosen.any():
                self.groups.append(
                    (colour, x[chosen].astype(np.float64), y[chosen].astype(np.float64))
                )
        finite = np.isfinite(x) & np.isfinite(y)
        if finite.any():
            left, right = float(x[finite].min()), float(x[finite].max())
            bottom, top = float(y[finite].min()), float(y[finite].max())
            self._bounds = QRectF(left, bottom, max(right - left, 1e-9), max(top - bottom, 1e-9))
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def dataBounds(self, axis: int, frac: float = 1.0, orthoRange=None) -> tuple[float, float]:
        # Lets the view box auto-range on the points.
        if self._bounds.isNull():
            return (0.0, 0.0)
        if axis == 0:
            return (self._bounds.left(), self._bounds.right())
        return (self._bounds.top(), self._bounds.bottom())

    def pixelPadding(self) -> float:
        return self.size_px / 2

    def paint(self, painter: QPainter, *args) -> None:
        transform = painter.transform()
        if transform.m12() or transform.m21() or not transform.isAffine():
            return  # views here only scale and translate
        device = painter.device()
        ratio = device.devicePixelRatioF()
        width, height = int(device.width() * ratio), int(device.height() * ratio)
        if width <= 0 or height <= 0 or not self.groups:
            return
        pixels = np.zeros((height, width), dtype=np.uint32)
        for colour, x, y in self.groups:
            column = ((x * transform.m11() + transform.m31()) * ratio).astype(np.int64)
            row = ((y * transform.m22() + transform.m32()) * ratio).astype(np.int64)
            inside = (column >= 0) & (column < width) & (row >= 0) & (row < height)
            pixels[row[inside], column[inside]] = colour.rgba()
        _grow(pixels, max(int(self.size_px * ratio) // 2, 0))
        image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_ARGB32)
        image.setDevicePixelRatio(ratio)
        painter.resetTransform()
        painter.drawImage(0, 0, image)
        painter.setTransform(transform)


def _grow(pixels: np.ndarray, radius: int) -> None:
    """Fill empty pixels within ``radius`` (a square) of a drawn one, in place."""
    for axis in (1, 0):
        if radius <= 0:
            return
        source = pixels.copy()
        for shift in range(1, radius + 1):
            ahead = (slice(None), slice(shift, None)) if axis else (slice(shift, None),)
            behind = (slice(None), slice(None, -shift)) if axis else (slice(None, -shift),)
            for target, origin in ((ahead, behind), (behind, ahead)):
                region = pixels[target]
                np.copyto(region, source[origin], where=region == 0)


class _PointCloud(ChartFrame):
    """Points in colour groups, with nearest-point clicks."""

    def __init__(self, title: str, on_point: Callable[[int], None] | None = None) -> None:
        super().__init__(title)
        self.on_point = on_point
        self.points = PointGroups()
        self.plot.addItem(self.points)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.ids = np.zeros(0, dtype=np.int64)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def set_points(
        self, x: np.ndarray, y: np.ndarray, ids: np.ndarray, group: np.ndarray, size: int = 4
    ) -> None:
        """Replace the points; ``group`` picks each point's colour (-1: missing value)."""
        self.x, self.y, self.ids = x, y, ids
        self.points.set_groups(x, y, group, [MISSING, *group_colours()], size)

    @property
    def point_count(self) -> int:
        """How many points are drawn."""
        return len(self.x)

    def point_near(self, x: float, y: float) -> int | None:
        """The id of the point nearest (in pixels) to view coordinates ``x, y``."""
        if not len(self.x):
            return None
        width, height = self.plot.getPlotItem().vb.viewPixelSize()
        distance = ((self.x - x) / max(width, 1e-12)) ** 2 + (
            (self.y - y) / max(height, 1e-12)
        ) ** 2
        nearest = int(np.argmin(distance))
        if distance[nearest] > CLICK_RADIUS_PX**2:
            return None
        return int(self.ids[nearest])

    def _clicked(self, event) -> None:
        if self.on_point is None:
            return
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        found = self.point_near(point.x(), point.y())
        if found is not None:
            self.on_point(found)


class BeeswarmPlot(_PointCloud):
    """Every row's SHAP value per feature, coloured by the feature's value."""

    def __init__(self, on_point: Callable[[int], None] | None = None) -> None:
        super().__init__(
            "SHAP values by feature (colour: feature value, blue low → red high)", on_point
        )

    def show_beeswarm(self, data: Beeswarm, space: str) -> None:
        """Draw a laid-out beeswarm."""
        # No grid: with a label per lane its lines cost more to paint than 600k points.
        self.plot.showGrid(x=False, y=False)
        self.set_points(data.x, data.y, data.row, data.group, size=3)
        lanes = [(-i, name) for i, name in enumerate(data.lanes)]
        self.plot.getAxis("left").setTicks([lanes])
        self.plot.setLabel("bottom", f"SHAP value ({space})")
        self.plot.addLine(x=0, pen=pg.mkPen((128, 128, 128), width=1))
        self.plot.enableAutoRange()


class DependencePlot(_PointCloud):
    """One feature's value against its SHAP value, coloured by its strongest interaction."""

    def __init__(self, on_point: Callable[[int], None] | None = None) -> None:
        super().__init__("Dependence", on_point)

    def show_dependence(self, data: Dependence, space: str) -> None:
        """Draw a dependence plot."""
        self.plot.getAxis("left").setTicks(None)
        self.set_points(data.x, data.y, np.arange(len(data.x)), data.group, size=5)
        colour = f"; colour: {data.colour_feature}" if data.colour_feature else ""
        self.set_title(f"Dependence on {data.feature}{colour} (blue low → red high)")
        self.plot.setLabel("bottom", data.feature)
        self.plot.setLabel("left", f"SHAP value of {data.feature}")
        self.plot.setToolTip(f"values in {space}")
        self.plot.enableAutoRange()


class WaterfallPlot(ChartFrame):
    """One row: from the base value, each feature's push up (red) or down (blue)."""

    def __init__(self) -> None:
        super().__init__("Waterfall")
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.showGrid(x=True, y=False, alpha=0.15)
        self.labels: list[str] = []

    def show_waterfall(self, data: Waterfall, output_name: str, space: str) -> None:
        """Draw one row's waterfall."""
        self.plot.clear()
        self.labels = list(data.labels)
        positions = [-i for i in range(len(data.labels))]
        brushes = [pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE) for v in data.contributions]
        bars = pg.BarGraphItem(
            x0=data.starts, y=positions, height=0.6, width=data.contributions,
            brushes=brushes, pen=None,
        )  # fmt: skip
        self.plot.addItem(bars)
        ink = self.palette().color(QPalette.ColorRole.Text)
        for start, amount, y in zip(data.starts, data.contributions, positions, strict=True):
            # Right of each bar: that side of a row is always free (later bars sit lower).
            text = pg.TextItem(f"{amount:+.3g}", anchor=(0, 0.5), color=ink)
            text.setPos(max(start, start + amount), y)
            self.plot.addItem(text)
        pen = pg.mkPen((128, 128, 128), style=pg.QtCore.Qt.PenStyle.DashLine)
        self.plot.addLine(x=data.base, pen=pen)
        self.plot.addLine(x=data.output, pen=pg.mkPen((128, 128, 128)))
        self.plot.getAxis("left").setTicks([list(zip(positions, self.labels, strict=True))])
        self.plot.setLabel("bottom", f"{output_name}: {space}")
        self.set_title(f"Row {data.row}: base value {data.base:.4g} → output {data.output:.4g}")
        ends = np.concatenate([data.starts, data.starts + data.contributions])
        low, high = float(ends.min()), float(ends.max())
        span = max(high - low, 1e-9)
        # Room on the right for the value labels.
        self.plot.setXRange(low - 0.03 * span, high + 0.15 * span, padding=0)
        self.plot.setYRange(-len(self.labels) + 0.5, 0.5, padding=0.02)


class CompareChart(ChartFrame):
    """Mean |SHAP| per feature of two model versions, side by side."""

    def __init__(self) -> None:
        super().__init__("Version compare: mean |SHAP|")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=True, y=False, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.rows: list[tuple[str, float, float]] = []

    def show_compare(
        self,
        rows: Sequence[tuple[str, float, float]],
        first: str,
        second: str,
        *,
        axis: str = "mean |SHAP value|",
    ) -> None:
        """Two bars per feature: ``first`` above ``second``."""
        self.plot.clear()
        self.legend.clear()
        self.rows = list(rows)
        positions = np.array([-i for i in range(len(rows))], dtype=float)
        for offset, index, name, colour in (
            (0.18, 1, first, "#8c8c8c"),
            (-0.18, 2, second, "#3b7dd8"),
        ):
            widths = [row[index] for row in rows]
            bars = pg.BarGraphItem(
                x0=0, y=positions + offset, height=0.34, width=widths,
                brush=pg.mkBrush(colour), pen=None, name=name,
            )  # fmt: skip
            self.plot.addItem(bars)
        self.plot.getAxis("left").setTicks(
            [[(p, row[0]) for p, row in zip(positions, rows, strict=True)]]
        )
        self.plot.setLabel("bottom", axis)
        self.plot.enableAutoRange()
