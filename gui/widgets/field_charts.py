"""The Field tab's charts: parity errors per decade, errors over time, and a feature's
training-versus-field histogram. They draw what core computed; nothing is counted here."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from modeldesk.gui.widgets.plots import BAR_COLOUR, ChartFrame

__all__ = ["ErrorHistogram", "ErrorOverTime", "OverlayHistogram"]

REFERENCE_COLOUR = QColor(120, 120, 120, 150)  # training: grey, drawn behind
FIELD_COLOUR = QColor(216, 107, 37, 170)  # field: orange (never red against green)
LIMIT_COLOUR = QColor("#c62828")


def _shares(counts: list[float]) -> np.ndarray:
    values = np.asarray(counts, dtype=np.float64)
    return values / values.sum() if values.sum() else values


class ErrorHistogram(ChartFrame):
    """How many rows' largest absolute error falls in each decade, per output."""

    def __init__(self) -> None:
        super().__init__("Absolute error per row")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.counts: list[int] = []

    def show_errors(self, output: str, histogram: dict[str, Any], atol: float) -> None:
        """Draw ``output``'s error histogram (decades; exact zeros as their own bar)."""
        self.plot.clear()
        exponents = np.log10(np.asarray(histogram["edges"], dtype=np.float64))
        self.counts = [histogram["zero"], *histogram["counts"]]
        lefts = [exponents[0] - 2.5, *exponents[:-1]]  # exact zeros apart, on the left
        bars = pg.BarGraphItem(x0=lefts, width=[1.0] * len(self.counts), height=self.counts,
                               brush=pg.mkBrush(QColor(BAR_COLOUR)), pen=None)  # fmt: skip
        self.plot.addItem(bars)
        if atol > 0:  # where the absolute tolerance sits
            line = pg.InfiniteLine(np.log10(atol), angle=90, pen=pg.mkPen(LIMIT_COLOUR, width=2))
            self.plot.addItem(line)
        ticks = [(exponents[0] - 2.0, "0")]
        ticks += [(e, f"1e{int(e)}") for e in exponents[::3]]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.setLabel("bottom", f"|device − lab| of {output} (log scale; line: atol)")
        self.plot.setLabel("left", "rows")
        self.set_title(f"Absolute error per row: {output}")
        self.plot.enableAutoRange()


class ErrorOverTime(ChartFrame):
    """Per time window: the share of rows beyond tolerance and of flipped decisions."""

    def __init__(self) -> None:
        super().__init__("Beyond tolerance over time")
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, 5))
        self.windows: list[dict[str, Any]] = []

    def show_windows(self, windows: list[dict[str, Any]], limit: float) -> None:
        """Draw each window's shares at its middle, with the limit as a line."""
        self.plot.clear()
        self.windows = [w for w in windows if w["rows"]]
        if not self.windows:
            return
        middles = [(w["start"] + w["end"]) / 2 for w in self.windows]
        for key, colour, name in (("beyond", BAR_COLOUR, "beyond tolerance"),
                                  ("flips", "#d86b25", "flipped decisions")):  # fmt: skip
            shares = [100 * w[key] / w["rows"] for w in self.windows]
            self.plot.plot(middles, shares, pen=pg.mkPen(colour, width=2), symbol="o",
                           symbolSize=6, symbolBrush=colour, name=name)  # fmt: skip
        self.plot.addLine(
            y=100 * limit, pen=pg.mkPen(LIMIT_COLOUR, style=pg.QtCore.Qt.PenStyle.DashLine)
        )
        span = max(middles[-1] - middles[0], 1.0)
        ticks = [(m, _when(m, span)) for m in middles[:: max(1, len(middles) // 6)]]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.setLabel("left", "% of rows (dashed: limit)")
        self.plot.setLabel("bottom", "time (UTC)")
        self.plot.enableAutoRange()


def _when(seconds: float, span: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%H:%M:%S" if span < 86_400 else "%m-%d %H:%M")


class OverlayHistogram(ChartFrame):
    """One feature's training (grey) and field (orange) distributions, as shares."""

    def __init__(self) -> None:
        super().__init__("Training vs field")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, 5))
        self.feature: str | None = None

    def show_feature(self, item: dict[str, Any]) -> None:
        """Draw a drift result's feature: its histogram, or its category counts."""
        self.plot.clear()
        self.feature = item["feature"]
        if "histogram" in item:
            found = item["histogram"]
            edges = np.asarray(found["edges"], dtype=np.float64)
            widths = np.diff(edges)
            for counts, colour, name in ((found["reference"], REFERENCE_COLOUR, "training"),
                                         (found["field"], FIELD_COLOUR, "field")):  # fmt: skip
                self.plot.addItem(pg.BarGraphItem(
                    x0=edges[:-1], width=widths, height=_shares(counts), brush=colour, pen=None,
                    name=name))  # fmt: skip
            self.plot.getAxis("bottom").setTicks(None)
            self.plot.setLabel("bottom", item["feature"])
        elif "categories" in item:
            found = item["categories"]
            positions = np.arange(len(found["names"]), dtype=np.float64)
            for shift, counts, colour, name in (
                (-0.2, found["reference"], REFERENCE_COLOUR, "training"),
                (0.2, found["field"], FIELD_COLOUR, "field"),
            ):
                self.plot.addItem(pg.BarGraphItem(x=positions + shift, width=0.4,
                                                  height=_shares(counts), brush=colour, pen=None,
                                                  name=name))  # fmt: skip
            labels = [
                (float(p), str(n)[:14]) for p, n in zip(positions, found["names"], strict=True)
            ]
            self.plot.getAxis("bottom").setTicks([labels])
            self.plot.setLabel("bottom", item["feature"])
        self.plot.setLabel("left", "share of rows")
        psi = item.get("psi")
        self.set_title(
            f"{item['feature']}: training vs field (PSI {psi:.3g}, {item['interpretation']})"
            if psi is not None
            else item["feature"]
        )
        self.plot.enableAutoRange()
