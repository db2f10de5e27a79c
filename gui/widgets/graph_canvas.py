"""The graph canvas: a laid-out scene drawn in a QGraphicsView, with zoom on the wheel,
pan by dragging, fit, a minimap in the corner and items that report clicks.

Items draw themselves by level of detail: zoomed far out a node is a filled box, so a
thousand nodes pan and zoom smoothly; text and edge labels appear as they become
readable. A large scene is added in slices from the event loop, so the GUI thread never
blocks on item creation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from modeldesk.graph.render import DrawnBox, DrawnEdge
from modeldesk.gui.widgets.graph_items import BoxItem, EdgeItem
from modeldesk.gui.widgets.graph_minimap import Minimap

__all__ = ["GraphCanvas"]

ITEMS_PER_SLICE = 400  # added per turn of the event loop: a few milliseconds each
MIN_SCALE, MAX_SCALE = 0.01, 6.0


class GraphCanvas(QGraphicsView):
    """Boxes and edges with zoom, pan, fit, a minimap and find-and-centre."""

    chosen = Signal(object)  # the key of the selected box, or None
    activated = Signal(str)  # a box double-clicked (unfold a group, open a body)
    menu_requested = Signal(str, object)  # key, global position
    populated = Signal()  # every box of the last present() is in the scene

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = QGraphicsScene(self)
        self.setScene(self.graphics)
        self._retired: list[QGraphicsItem] = []  # the last scene's items, removed in slices
        self._retired_scene: QGraphicsScene | None = None
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setBackgroundBrush(QColor("#ffffff"))
        self.items_by_key: dict[str, BoxItem] = {}
        self.auto_fit = True  # refit on resize until the user zooms
        self._pending: list[Callable[[], None]] = []
        self._feeder = QTimer(self)
        self._feeder.setInterval(0)
        self._feeder.timeout.connect(self._feed)
        self.minimap = Minimap(self)
        self.graphics.selectionChanged.connect(self._selection_changed)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.valueChanged.connect(self.minimap.update)

    # -- content --------------------------------------------------------------------
    def present(
        self, boxes: Sequence[DrawnBox], edges: Sequence[DrawnEdge], width: float, height: float
    ) -> None:
        """Replace the scene with ``boxes`` and ``edges`` (added over a few turns of the
        event loop when there are many; ``populated`` says when all are in)."""
        self._feeder.stop()
        self._retire()
        self.items_by_key = {}
        self.graphics.setSceneRect(QRectF(-40, -40, width + 80, height + 80))
        adders: list[Callable[[], None]] = []
        for start in range(0, len(edges), ITEMS_PER_SLICE):
            adders.append(lambda part=edges[start : start + ITEMS_PER_SLICE]: self._add_edges(part))
        for start in range(0, len(boxes), ITEMS_PER_SLICE):
            adders.append(lambda part=boxes[start : start + ITEMS_PER_SLICE]: self._add_boxes(part))
        self._pending = adders
        if not adders:
            self.minimap.refresh()
            self.populated.emit()
        self.auto_fit = True
        self.fit()
        self._feed()  # the first slice now: a small graph is complete at once
        if self._pending or self._retired_scene is not None:
            self._feeder.start()

    def _retire(self) -> None:
        """Swap in a new scene; the old one's items are removed a slice at a time (deleting
        thousands at once would hold the GUI thread for tens of milliseconds)."""
        if self._retired_scene is not None:  # still emptying the one before: finish it
            self._retired_scene.clear()
            self._retired_scene.deleteLater()
        old = self.graphics
        self._retired, self._retired_scene = old.items(), old
        self.graphics = QGraphicsScene(self)
        self.graphics.selectionChanged.connect(self._selection_changed)
        self.setScene(self.graphics)

    def _clear_retired(self) -> None:
        if self._retired_scene is None:
            return
        for item in self._retired[-ITEMS_PER_SLICE:]:
            self._retired_scene.removeItem(item)
        del self._retired[-ITEMS_PER_SLICE:]
        if not self._retired:
            self._retired_scene.deleteLater()
            self._retired_scene = None

    def _add_edges(self, edges: Sequence[DrawnEdge]) -> None:
        for edge in edges:
            if len(edge.points) >= 2:
                self.graphics.addItem(EdgeItem(edge))

    def _add_boxes(self, boxes: Sequence[DrawnBox]) -> None:
        for box in boxes:
            item = BoxItem(box)
            self.items_by_key[box.key] = item
            self.graphics.addItem(item)

    def _feed(self) -> None:
        if self._pending:
            self._pending.pop(0)()
            if not self._pending:
                self.minimap.refresh()
                self.populated.emit()
        elif self._retired_scene is not None:
            self._clear_retired()
        if not self._pending and self._retired_scene is None:
            self._feeder.stop()

    @property
    def complete(self) -> bool:
        """Whether every item of the last ``present`` is in the scene."""
        return not self._pending

    # -- moving ---------------------------------------------------------------------
    def fit(self) -> None:
        """The whole graph in the window (never magnified past 1:1)."""
        rect = self.graphics.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.0:
            self.resetTransform()
            self.centerOn(rect.center().x(), rect.top() + self.viewport().height() / 2)
        self.minimap.update()

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` around the centre, within sensible limits."""
        self.auto_fit = False
        current = self.transform().m11()
        factor = min(max(current * factor, MIN_SCALE), MAX_SCALE) / current
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(anchor)
        self.minimap.update()

    def focus(self, key: str) -> bool:
        """Select the box ``key`` and centre it, readable; False when it is not shown."""
        item = self.items_by_key.get(key)
        if item is None:
            return False
        self.graphics.clearSelection()
        item.setSelected(True)
        if self.transform().m11() < 0.8:
            self.zoom(1.0 / self.transform().m11())
        self.auto_fit = False
        self.centerOn(item)
        self.minimap.update()
        return True

    def selected_key(self) -> str | None:
        """The key of the selected box, if any."""
        chosen = self.graphics.selectedItems()
        return chosen[0].box.key if chosen and isinstance(chosen[0], BoxItem) else None

    # -- events ---------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.auto_fit = False
            current = self.transform().m11()
            factor = min(max(current * 1.15**steps, MIN_SCALE), MAX_SCALE) / current
            self.scale(factor, factor)
            self.minimap.update()

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, BoxItem):
            self.activated.emit(item.box.key)
        else:
            super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event) -> None:
        item = self.itemAt(event.pos())
        if isinstance(item, BoxItem):
            self.menu_requested.emit(item.box.key, event.globalPos())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()
        self.minimap.move(
            self.viewport().width() - self.minimap.width() - 8,
            self.viewport().height() - self.minimap.height() - 8,
        )

    def _selection_changed(self) -> None:
        self.chosen.emit(self.selected_key())

    def image(self, scale: float = 2.0) -> QImage:
        """The whole scene rendered at ``scale`` (for a PNG), within 32,767 pixels a side."""
        rect = self.graphics.sceneRect()
        scale = min(scale, 32_767 / max(rect.width(), 1), 32_767 / max(rect.height(), 1))
        image = QImage(
            max(int(rect.width() * scale), 1),
            max(int(rect.height() * scale), 1),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.fill(QColor("#ffffff"))
        painter = QPainter(image)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        self.graphics.render(painter, QRectF(image.rect()), rect)
        painter.end()
        return image
