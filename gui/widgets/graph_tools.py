"""The Graph tab's tools (fit, zoom, find, fold, runtime overlay, compare, export) with
their keyboard shortcuts, and writing what the tab shows to PNG or SVG."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QPushButton,
    QWidget,
)

from modeldesk.graph.overlay import Overlay
from modeldesk.graph.render import scene_svg
from modeldesk.gui.pages.graph_jobs import Drawn
from modeldesk.gui.widgets.graph_canvas import GraphCanvas

__all__ = ["GraphTools", "ask_export", "export_view"]


class GraphTools:
    """The tool widgets across the top of the Graph tab, owned by ``parent``."""

    def __init__(self, parent: QWidget, canvas: GraphCanvas) -> None:
        self.fit = QPushButton("Fit", parent)
        self.fit.setToolTip("Show the whole graph (Ctrl+0)")
        self.zoom_out = QPushButton("−", parent)
        self.zoom_out.setToolTip("Zoom out (Ctrl+-); or the mouse wheel")
        self.zoom_in = QPushButton("+", parent)
        self.zoom_in.setToolTip("Zoom in (Ctrl++); drag to pan")
        self.find = QLineEdit(parent)
        self.find.setPlaceholderText("Find a node or tensor (Ctrl+F)")
        self.find.setToolTip("A node's name, op type or a tensor's name; Enter shows the next")
        self.find.setClearButtonEnabled(True)
        self.find.setMinimumWidth(240)
        self.unfold_all = QPushButton("Unfold all", parent)
        self.unfold_all.setToolTip("Open every scope group (laid out on the worker pool)")
        self.fold_all = QPushButton("Fold all", parent)
        self.overlay = QPushButton("Runtime", parent)
        self.overlay.setCheckable(True)
        self.runtime = QComboBox(parent)
        self.runtime.setToolTip("The benchmark profile whose newest run the overlay shows")
        self.compare = QComboBox(parent)
        self.compare.setToolTip("Show one graph with the changes since another version")
        self.export = QPushButton("Export…", parent)
        self.export.setToolTip("Save the graph as PNG (at any scale) or SVG")
        self.cancel = QPushButton("Cancel", parent)
        for button in (self.zoom_out, self.zoom_in):
            button.setMaximumWidth(40)  # one character: the theme's minimum width wastes the row
        for combo in (self.runtime, self.compare):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.cancel.setVisible(False)
        self.fit.clicked.connect(canvas.fit)
        self.zoom_out.clicked.connect(lambda: canvas.zoom(1 / 1.4))
        self.zoom_in.clicked.connect(lambda: canvas.zoom(1.4))
        for keys, act in (
            ("Ctrl+F", self.find.setFocus),
            ("Ctrl+0", canvas.fit),
            ("Ctrl+=", lambda: canvas.zoom(1.4)),
            ("Ctrl+-", lambda: canvas.zoom(1 / 1.4)),
            ("Ctrl+R", self.overlay.click),
        ):
            QShortcut(QKeySequence(keys), parent, act)

    def widgets(self) -> list[QWidget]:
        """In the order they are shown."""
        return [
            self.fit,
            self.zoom_out,
            self.zoom_in,
            self.find,
            self.unfold_all,
            self.fold_all,
            self.overlay,
            self.runtime,
            self.compare,
            self.export,
            self.cancel,
        ]

    def enable(self, enabled: bool, overlay_possible: bool) -> None:
        """Enable the tools (not while a job runs); the overlay only when it can apply."""
        for widget in self.widgets():
            if widget not in (self.overlay, self.runtime, self.cancel):
                widget.setEnabled(enabled)
        self.overlay.setEnabled(enabled and overlay_possible)
        self.runtime.setEnabled(enabled and overlay_possible)


def ask_export(parent: QWidget, name: str) -> tuple[Path, float] | None:
    """Ask where to export and, for a PNG, at what scale; None when cancelled."""
    chosen, _ = QFileDialog.getSaveFileName(
        parent, "Export the graph", f"{name}.svg", "SVG picture (*.svg);;PNG image (*.png)"
    )
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() != ".png":
        return path, 1.0
    scale, accepted = QInputDialog.getDouble(
        parent,
        "PNG size",
        "Scale (1 = the layout's size; capped at 32,767 pixels a side):",
        2.0,
        0.1,
        16.0,
        1,
    )
    return (path, scale) if accepted else None


def export_view(
    path: Path,
    canvas: GraphCanvas,
    drawn: Drawn,
    *,
    diff: bool,
    overlay: Overlay | None,
    title: str,
    scale: float = 2.0,
) -> Path | None:
    """Write the shown graph to ``path``: SVG from the same scene, or the canvas as a PNG
    at ``scale``. The path written, or None when it could not be."""
    if path.suffix.lower() == ".png":
        return path if canvas.image(scale).save(str(path)) else None
    path = path if path.suffix.lower() == ".svg" else path.with_suffix(".svg")
    svg = scene_svg(drawn.model, drawn.scene, drawn.layout, diff=diff, overlay=overlay, title=title)
    try:
        path.write_text(svg, encoding="utf-8")
    except OSError:
        return None
    return path
