"""Verdict badges and interval bars for tables of validation results.

A result's interval is drawn as a bar on its own scale (the interval, its point
estimate and the threshold, with a margin), the threshold as an upright line: a bar
wholly on the passing side is a PASS, one across the line is INCONCLUSIVE. The cell's
text (what copy and sort use) stays the interval written out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

__all__ = ["IntervalCell", "IntervalDelegate", "VerdictDelegate", "verdict_colour"]

Index = QModelIndex | QPersistentModelIndex
VERDICT_COLOURS = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "INCONCLUSIVE": "#b26a00",
    "ERROR": "#6a1b9a",
    "SKIPPED": "#607d8b",
}
_LIMIT = re.compile(r"(?:>=|<=)\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)")


def verdict_colour(verdict: str) -> QColor:
    """The colour a verdict is shown in (grey for one not known)."""
    return QColor(VERDICT_COLOURS.get(verdict, "#757575"))


@dataclass(frozen=True)
class IntervalCell:
    """What an interval bar draws; ``str()`` is the cell's text."""

    value: float | None
    low: float | None
    high: float | None
    limits: tuple[float, ...]
    verdict: str

    @classmethod
    def of(cls, check: dict[str, Any]) -> IntervalCell:
        """From a check's JSON form (as a run records it)."""
        interval = check.get("interval") or {}
        limits = tuple(float(x) for x in _LIMIT.findall(check.get("threshold") or ""))
        return cls(check.get("value"), interval.get("low"), interval.get("high"), limits,
                   check.get("verdict", ""))  # fmt: skip

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return ""
        return f"[{self.low:.4g}, {self.high:.4g}]"

    def scale(self) -> tuple[float, float] | None:
        """The span the bar is drawn on: everything shown, with a margin."""
        points = [x for x in (self.low, self.high, self.value, *self.limits) if x is not None]
        if not points:
            return None
        low, high = min(points), max(points)
        pad = (high - low) * 0.12 or max(abs(high), 1e-3) * 0.05
        return low - pad, high + pad


class IntervalDelegate(QStyledItemDelegate):
    """Paints an ``IntervalCell`` (stored as the row's value) as a bar and a line."""

    def __init__(self, rows_of: Any, column: int, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows_of = rows_of  # index -> the source row's values
        self.column = column

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        cell = self.rows_of(index)[self.column]
        span = cell.scale() if isinstance(cell, IntervalCell) else None
        if span is None or cell.low is None or cell.high is None:
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        area = QRectF(option.rect).adjusted(6, 4, -6, -4)

        def x_of(value: float) -> float:
            return area.left() + (value - span[0]) / (span[1] - span[0]) * area.width()

        middle = area.center().y()
        colour = verdict_colour(cell.verdict)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        colour.setAlpha(150)
        painter.setBrush(colour)
        bar = QRectF(QPointF(x_of(cell.low), middle - 4), QPointF(x_of(cell.high), middle + 4))
        painter.drawRoundedRect(bar.adjusted(0, 0, 1, 0), 3, 3)
        if cell.value is not None:
            colour.setAlpha(255)
            painter.setBrush(colour)
            painter.drawEllipse(QPointF(x_of(cell.value), middle), 3.5, 3.5)
        text = option.palette.color(QPalette.ColorRole.Text)
        pen = QPen(text, 1.5, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        for limit in cell.limits:
            painter.drawLine(QPointF(x_of(limit), area.top()), QPointF(x_of(limit), area.bottom()))
        painter.restore()


class VerdictDelegate(QStyledItemDelegate):
    """Paints a verdict as a coloured badge."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        verdict = str(index.data() or "")
        if not verdict:
            super().paint(painter, option, index)
            return
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = option.font
        font.setBold(True)
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        painter.setFont(font)
        width = painter.fontMetrics().horizontalAdvance(verdict) + 14
        badge = QRectF(option.rect.left() + 4, option.rect.top() + 3, width,
                       option.rect.height() - 6)  # fmt: skip
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(verdict_colour(verdict))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, verdict)
        painter.restore()
