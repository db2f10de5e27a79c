"""The delivery dashboard's charts: a figure card with its trend per model, the timeline
of deployments per target, and the lead-time stages as stacked bars.

Each draws what :func:`modeldesk.delivery_board.delivery_board` computed; nothing here
counts or averages. The timeline draws each outcome as one path and one scatter, so a
window of thousands of deployments paints in a few items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from modeldesk.gui.widgets.plots import ChartFrame

__all__ = ["MODEL_COLOURS", "FigureCard", "StageBars", "TimelineChart", "model_colour"]

# Okabe-Ito: told apart with the common colour-vision deficiencies.
MODEL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# Each outcome has a colour and a symbol and is named in the legend: never colour alone.
OUTCOME_STYLE = {
    "live": ("#0072B2", "o", "live"),
    "superseded": ("#8c8c8c", "s", "superseded"),
    "rolled back": ("#E69F00", "t", "rolled back"),
    "failed": ("#D55E00", "x", "failed"),
}
ROLLBACK_RING = "#7b3294"
SYMBOL_GLYPHS = {"o": "●", "s": "■", "t": "▼", "x": "✖"}
STAGE_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")
STAGE_NAMES = {
    "registered_to_created": "registered → release created",
    "created_to_approved": "created → approved",
    "approved_to_packaged": "approved → packaged",
    "packaged_to_deployed": "packaged → deployed",
}
BAND_MARKS = {"elite": "★★★★", "high": "★★★☆", "medium": "★★☆☆", "low": "★☆☆☆"}


def model_colour(models: Sequence[str], model: str) -> str:
    """The colour of ``model`` among ``models`` (stable for one board)."""
    return MODEL_COLOURS[list(models).index(model) % len(MODEL_COLOURS)]


def _follow_palette(plot: pg.PlotWidget, widget: QWidget) -> None:
    palette = widget.palette()
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    foreground = palette.color(QPalette.ColorRole.Text)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(foreground)
        plot.getAxis(axis).setTextPen(foreground)


class FigureCard(QFrame):
    """One delivery figure: value, interval, band (a word and marks), and its trend line
    per model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.value = QLabel(self)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.band = QLabel(self)
        self.band.setWordWrap(True)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.trend = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem()})
        self.trend.setMouseEnabled(x=False, y=False)
        self.trend.hideButtons()
        self.trend.setMenuEnabled(False)
        self.trend.setFixedHeight(96)
        self.trend.getAxis("left").setWidth(36)
        self.lines: dict[str, pg.PlotDataItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        for widget in (self.title, self.value, self.band, self.note, self.trend):
            layout.addWidget(widget)
        _follow_palette(self.trend, self)

    def set_figure(
        self,
        text: Any,
        months: Sequence[float],
        series: dict[str, Sequence[float | None]],
        models: Sequence[str],
    ) -> None:
        """Show ``text`` (a ``FigureText``) and one trend line per model."""
        self.title.setText(f"<b>{text.title}</b>")
        self.value.setText(f"<span style='font-size:17pt'>{text.value}</span>")
        interval = (
            f"95 % interval {text.interval}"
            if text.interval != "-"
            else "too few for a 95 % interval"
        )
        self.value.setToolTip(interval)
        band = text.band
        mark = BAND_MARKS.get(band, "")
        self.band.setText(f"{mark} <b>{band}</b>" if mark else band)
        self.band.setToolTip(interval)
        self.note.setText(f"<small>{interval}<br>{text.note}</small>")
        self.trend.clear()
        self.lines = {}
        scale = 100.0 if text.unit == "share" else 1.0
        for model, values in series.items():
            y = np.array([np.nan if v is None else v * scale for v in values], dtype=float)
            pen = pg.mkPen(model_colour(models, model), width=2)
            line = self.trend.plot(
                np.asarray(months, dtype=float), y, pen=pen, connect="finite", name=model
            )
            self.lines[model] = line
        self.trend.enableAutoRange()


class TimelineChart(ChartFrame):
    """Deployments per target and model over time; a click on a point opens its release."""

    release_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Deployments per target", parent)
        self.plot.setAxisItems({"bottom": pg.DateAxisItem()})
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.plot.setMouseEnabled(x=True, y=False)
        self.legend = QLabel(self)  # beside the title: a legend inside would cover bars
        self.top.insertWidget(1, self.legend)
        self.points: list[dict[str, Any]] = []
        self.lanes: list[tuple[str, str]] = []
        self.scatters: dict[str, pg.ScatterPlotItem] = {}

    def set_timeline(
        self, points: list[dict[str, Any]], start: float, end: float, models: Sequence[str]
    ) -> None:
        """Draw ``points`` (the board's timeline) between ``start`` and ``end``."""
        self.plot.clear()
        self.points = points
        self.lanes = sorted({(p["target"], p["model"]) for p in points})
        lane_of = {lane: index for index, lane in enumerate(self.lanes)}
        self.scatters = {}
        for outcome, (colour, symbol, _) in OUTCOME_STYLE.items():
            chosen = [i for i, p in enumerate(points) if p["outcome"] == outcome]
            if not chosen:
                continue
            ys = np.array([-lane_of[(points[i]["target"], points[i]["model"])] for i in chosen])
            starts = np.array([max(points[i]["at"], start) for i in chosen])
            ends = np.array([points[i]["until"] for i in chosen])
            path = pg.PlotCurveItem(
                np.column_stack([starts, ends]).ravel(),
                np.repeat(ys, 2),
                connect="pairs",
                pen=pg.mkPen(QColor(colour), width=5),
            )
            self.plot.addItem(path)
            scatter = pg.ScatterPlotItem(
                x=np.array([points[i]["at"] for i in chosen]),
                y=ys,
                data=np.array(chosen),
                symbol=symbol,
                size=11,
                brush=pg.mkBrush(colour),
                pen=pg.mkPen("#202124", width=1),
                hoverable=True,
                tip=self._tip,
            )
            scatter.sigClicked.connect(self._clicked)
            self.plot.addItem(scatter)
            self.scatters[outcome] = scatter
        rollbacks = [i for i, p in enumerate(points) if p["rollback"]]
        if rollbacks:  # ringed: a rollback is a deployment of an earlier release
            ring = pg.ScatterPlotItem(
                x=np.array([points[i]["at"] for i in rollbacks]),
                y=np.array(
                    [-lane_of[(points[i]["target"], points[i]["model"])] for i in rollbacks]
                ),
                data=np.array(rollbacks),
                symbol="o",
                size=19,
                brush=None,
                pen=pg.mkPen(ROLLBACK_RING, width=2),
                hoverable=True,
                tip=self._tip,
            )
            ring.sigClicked.connect(self._clicked)
            self.plot.addItem(ring)
        self.legend.setText(
            "  ".join(
                f"<span style='color:{colour}'>{SYMBOL_GLYPHS[symbol]}</span> {label}"
                for colour, symbol, label in OUTCOME_STYLE.values()
            )
            + f"  <span style='color:{ROLLBACK_RING}'>◯</span> rollback"
        )
        lanes = enumerate(self.lanes)
        ticks = [(-index, f"{target} · {model}") for index, (target, model) in lanes]
        self.plot.getAxis("left").setTicks([ticks])
        self.plot.setXRange(start, end, padding=0.02)
        self.plot.setYRange(-max(len(self.lanes) - 1, 0) - 0.6, 0.9, padding=0)
        self.setMinimumHeight(140 + 26 * len(self.lanes))

    def _tip(self, x: float, y: float, data: Any) -> str:
        point = self.points[int(data)]
        kind = "rollback to " if point["rollback"] else ""
        fix = " (hotfix)" if point["hotfix"] else ""
        return (
            f"{kind}release #{point['release']}{fix}: {point['model']}@{point['version']} "
            f"on {point['target']}, {point['outcome']}"
        )

    def _clicked(self, _item: Any, spots: Any, *_: Any) -> None:
        if len(spots):
            self.click_point(int(spots[0].data()))

    def click_point(self, index: int) -> None:
        """Act as a click on the timeline's point ``index``: open its release."""
        self.release_clicked.emit(self.points[index]["release"])


class StageBars(ChartFrame):
    """Where the lead time goes: per model, the median hours of each stage, stacked."""

    model_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Lead time by stage (median hours)", parent)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.legend = QLabel(self)
        self.legend.setWordWrap(True)
        self.layout().insertWidget(1, self.legend)
        self.models: list[str] = []
        self.stacks: dict[str, list[float]] = {}

    def set_stages(self, stages: dict[str, dict[str, float | None]]) -> None:
        """One stacked bar per model, the top model first."""
        self.plot.clear()
        self.models = list(stages)
        positions = [-index for index in range(len(self.models))]
        left = np.zeros(len(self.models))
        self.stacks = {}
        for colour, stage in zip(STAGE_COLOURS, STAGE_NAMES, strict=True):
            widths = np.array([stages[m].get(stage) or 0.0 for m in self.models], dtype=float)
            self.stacks[stage] = widths.tolist()
            bars = pg.BarGraphItem(
                x0=left.copy(), y=positions, height=0.6, width=widths, brush=colour, pen=None
            )
            self.plot.addItem(bars)
            left += widths
        self.legend.setText(
            "  ".join(
                f"<span style='color:{colour}'>■</span> {label}"
                for colour, label in zip(STAGE_COLOURS, STAGE_NAMES.values(), strict=True)
            )
        )
        self.plot.getAxis("left").setTicks([list(zip(positions, self.models, strict=True))])
        self.plot.setLabel("bottom", "hours")
        self.plot.enableAutoRange()
        self.setMinimumHeight(150 + 28 * len(self.models))
