"""Pan and zoom of the Graph tab's canvas on an ~860-node model, frames per second.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/bench_graph_fps.py [--frames 120]

A scoped residual network of 143 blocks (862 nodes) is described, unfolded and laid out
here, then drawn in the canvas at 1280 x 800. Each frame moves the view (a pan step, or a
zoom step in and out) and repaints the viewport synchronously; the median frame time
gives frames per second, at the fitted (whole-graph) zoom and at 1:1, where every label
is drawn. Anchor, in the same run: the same frames over a scene of plain rectangles at
the same places. Target: 30 frames per second or better at both zooms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from targets import Targets

import onnx_factory

TARGET_FPS = 30.0
BLOCKS = 143  # 862 nodes


def _frames(view, count: int) -> float:
    """The median time of ``count`` frames of pans and zooms around the current view."""
    times = []
    bar = view.verticalScrollBar()
    for number in range(count):
        started = time.perf_counter()
        if number % 4 == 3:
            factor = 1.1 if number % 8 == 3 else 1 / 1.1
            view.scale(factor, factor)
        else:
            bar.setValue(bar.value() + (40 if (number // 16) % 2 == 0 else -40))
        view.viewport().repaint()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Measure the canvas and the anchor at the fitted zoom and at 1:1."""
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView

    from modeldesk.graph.describe import describe_model
    from modeldesk.graph.render import drawing
    from modeldesk.graph.scene import GraphModel
    from modeldesk.gui.widgets.graph_canvas import GraphCanvas

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    options = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    model = GraphModel(describe_model(onnx_factory.residual_network(BLOCKS))["graph"])
    scene = model.scene(set(model.groups))
    layout = scene.layout()
    boxes, edges = drawing(model, scene, layout)
    canvas = GraphCanvas()
    canvas.resize(1280, 800)
    canvas.show()
    canvas.present(boxes, edges, layout.width, layout.height)
    while not canvas.complete:
        app.processEvents()
    plain_scene = QGraphicsScene()
    for box in boxes:
        plain_scene.addRect(
            box.x - box.width / 2,
            box.y - box.height / 2,
            box.width,
            box.height,
            QColor(box.stroke),
            QColor(box.fill),
        )
    plain = QGraphicsView(plain_scene)
    plain.resize(1280, 800)
    plain.show()
    app.processEvents()
    targets = Targets()
    nodes = sum(1 for item in scene.items.values() if item.kind == "node")
    print(f"{nodes} nodes, {len(edges)} edges, scene {layout.width:.0f} x {layout.height:.0f}")
    for zoom in ("fitted", "1:1"):
        for view in (canvas, plain):
            view.resetTransform()
            if zoom == "fitted":
                view.fitInView(
                    plain_scene.sceneRect() if view is plain else canvas.graphics.sceneRect()
                )
            else:
                view.centerOn(layout.width / 2, layout.height / 2)
        ours, anchor = _frames(canvas, options.frames), _frames(plain, options.frames)
        fps = 1 / ours
        print(
            f"{zoom}: {fps:.0f} frames/s (median frame {ours * 1000:.1f} ms), "
            f"{ours / anchor:.1f}x plain rectangles' {anchor * 1000:.1f} ms; target >= "
            f"{TARGET_FPS:.0f} fps {targets.check(f'{zoom} fps', fps >= TARGET_FPS)}"
        )
    targets.finish()


if __name__ == "__main__":
    main()
