"""The boxes and edges a graph canvas draws, by level of detail: zoomed far out a node
is a filled block and an edge a plain line, so a thousand nodes pan and zoom smoothly;
text, arrowheads and edge labels appear as they become readable."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from modeldesk.graph.render import DrawnBox, DrawnEdge, label_point

__all__ = ["SELECTED", "BoxItem", "EdgeItem"]

TEXT_DETAIL = 0.4  # below this zoom a box is drawn without its text
LABEL_DETAIL = 0.75  # edge labels from this zoom
SELECTED = QColor("#f5a623")


class BoxItem(QGraphicsItem):
    """One box: a node, a folded group, an input or output."""

    TITLE_FONT = QFont()
    LINE_FONT = QFont()

    def __init__(self, box: DrawnBox) -> None:
        super().__init__()
        self.box = box
        self.setPos(box.x, box.y)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setToolTip(box.tooltip)
        self._rect = QRectF(-box.width / 2, -box.height / 2, box.width, box.height)
        badge = 8 + 7 * len(box.badge) if box.badge else 0
        self._bounds = self._rect.adjusted(-3, -3, 3 + badge, 3)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        box = self.box
        detail = option.levelOfDetailFromTransform(painter.worldTransform())  # type: ignore[attr-defined]
        fill = QColor(box.fill)
        if detail < TEXT_DETAIL:  # far out: a box is a coloured block, not smoothed
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.fillRect(self._rect, SELECTED if self.isSelected() else fill)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        width = 3.0 if self.isSelected() or box.emphasis else 1.2
        pen = QPen(SELECTED if self.isSelected() else QColor(box.stroke), width)
        if box.dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setPen(QColor(box.text))
        title_font = QFont(self.TITLE_FONT)
        title_font.setPointSizeF(8.0)
        title_font.setBold(True)
        painter.setFont(title_font)
        inner = self._rect.width() - 8
        metrics = QFontMetricsF(title_font)
        top = self._rect.top()
        painter.drawText(
            QRectF(self._rect.left() + 4, top + 3, inner, 15),
            Qt.AlignmentFlag.AlignCenter,
            metrics.elidedText(box.title, Qt.TextElideMode.ElideMiddle, inner),
        )
        line_font = QFont(self.LINE_FONT)
        line_font.setPointSizeF(6.8)
        painter.setFont(line_font)
        metrics = QFontMetricsF(line_font)
        for number, line in enumerate(box.lines):
            painter.drawText(
                QRectF(self._rect.left() + 4, top + 18 + 14 * number, inner, 13),
                Qt.AlignmentFlag.AlignCenter,
                metrics.elidedText(line, Qt.TextElideMode.ElideRight, inner),
            )
        if box.badge:
            painter.setPen(QColor("#7f1d1d"))
            painter.drawText(QPointF(self._rect.right() + 5, 4), box.badge)


class EdgeItem(QGraphicsItem):
    """One edge with its arrowhead and shape label."""

    def __init__(self, edge: DrawnEdge) -> None:
        super().__init__()
        self.edge = edge
        self.setZValue(-1)
        path = QPainterPath(QPointF(*edge.points[0]))
        for point in edge.points[1:]:
            path.lineTo(QPointF(*point))
        self._path = path
        (x0, y0), (x1, y1) = edge.points[-2], edge.points[-1]
        angle = math.atan2(y1 - y0, x1 - x0)
        tip = QPointF(x1, y1)
        self._arrow = QPolygonF(
            [
                tip,
                tip - QPointF(math.cos(angle - 0.4) * 8, math.sin(angle - 0.4) * 8),
                tip - QPointF(math.cos(angle + 0.4) * 8, math.sin(angle + 0.4) * 8),
            ]
        )
        self._label_at = QPointF(*label_point(edge.points))
        self._bounds = path.boundingRect().adjusted(-9, -9, 9 + 7 * len(edge.label), 9)
        self._pen = QPen(QColor(edge.colour), 1.2)
        self._thin = QPen(QColor(edge.colour), 0)  # cosmetic: one pixel at any zoom
        if edge.dashed:
            self._pen.setStyle(Qt.PenStyle.DashLine)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        detail = option.levelOfDetailFromTransform(painter.worldTransform())  # type: ignore[attr-defined]
        far = detail < TEXT_DETAIL
        # Far out, thousands of smoothed paths would cost most of a frame: plain lines.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not far)
        painter.setPen(self._thin if far else self._pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if far:
            return
        painter.setBrush(QColor(self.edge.colour))
        painter.drawPolygon(self._arrow)
        if self.edge.label and detail >= LABEL_DETAIL:
            font = painter.font()
            font.setPointSizeF(6.5)
            painter.setFont(font)
            painter.setPen(QColor("#52606d"))
            painter.drawText(self._label_at, self.edge.label)
