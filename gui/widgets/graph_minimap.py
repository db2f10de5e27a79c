"""The graph canvas's overview in its corner: every box small, the visible part framed;
click or drag in it to move the view there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from modeldesk.gui.widgets.graph_items import SELECTED

if TYPE_CHECKING:
    from modeldesk.gui.widgets.graph_canvas import GraphCanvas

__all__ = ["Minimap"]


class Minimap(QWidget):
    """The whole scene small, with the visible part framed; click or drag to move there."""

    def __init__(self, canvas: GraphCanvas) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.picture: QPixmap | None = None
        self.setFixedSize(180, 140)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")

    def refresh(self) -> None:
        """Draw the boxes again into the overview picture (after the scene changed): a
        filled rectangle each, straight from the canvas's boxes, which is a few
        milliseconds for thousands where rendering the scene would be tens."""
        rect = self.canvas.graphics.sceneRect()
        if rect.isEmpty():
            self.picture = None
            self.update()
            return
        image = QImage(self.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(255, 255, 255, 235))
        painter = QPainter(image)
        scale, offset = self._mapping()
        for item in self.canvas.items_by_key.values():
            box = item.box
            painter.fillRect(
                QRectF(
                    (box.x - box.width / 2) * scale + offset.x(),
                    (box.y - box.height / 2) * scale + offset.y(),
                    max(box.width * scale, 1.0),
                    max(box.height * scale, 1.0),
                ),
                QColor(box.fill),
            )
        painter.end()
        self.picture = QPixmap.fromImage(image)
        self.update()

    def _target(self) -> QRectF:
        return QRectF(self.rect()).adjusted(4, 4, -4, -4)

    def _mapping(self) -> tuple[float, QPointF]:
        """Scale and offset from scene to minimap coordinates (KeepAspectRatio)."""
        rect, target = self.canvas.graphics.sceneRect(), self._target()
        scale = min(target.width() / max(rect.width(), 1), target.height() / max(rect.height(), 1))
        offset = QPointF(
            target.center().x() - rect.center().x() * scale,
            target.center().y() - rect.center().y() * scale,
        )
        return scale, offset

    def paintEvent(self, event) -> None:
        seen = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        if seen.contains(self.canvas.graphics.sceneRect()):
            return  # everything is in view: nothing to navigate to
        painter = QPainter(self)
        painter.setPen(QColor("#8a94a3"))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if self.picture is None:
            return
        painter.drawPixmap(0, 0, self.picture)
        scale, offset = self._mapping()
        seen = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        frame = QRectF(
            seen.left() * scale + offset.x(),
            seen.top() * scale + offset.y(),
            seen.width() * scale,
            seen.height() * scale,
        )
        painter.setPen(QPen(SELECTED, 2))
        painter.drawRect(frame.intersected(QRectF(self.rect())))

    def _move(self, point: QPointF) -> None:
        scale, offset = self._mapping()
        self.canvas.centerOn((point.x() - offset.x()) / scale, (point.y() - offset.y()) / scale)

    def mousePressEvent(self, event) -> None:
        self._move(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move(event.position())
