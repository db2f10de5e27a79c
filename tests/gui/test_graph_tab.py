"""The Graph tab: a 2,400-node model opens folded, unfolds with the layout on the worker
pool while the GUI thread keeps beating, finds a node inside a folded group, shows a
weight's statistics and exports PNG and SVG; the runtime overlay of a stored benchmark,
the diff reached from the model page's compare, and a subgraph behind a breadcrumb."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from modeldesk.bench.profiles import Profile, add_profile
from modeldesk.bench.run import bench_profile
from modeldesk.catalog.store import Catalog
from modeldesk.graph.scene import node_key
from modeldesk.gui.navigator import Selection
from modeldesk.gui.pages.graph_actions import item_menu
from modeldesk.models.importer import import_model

import onnx_factory

BLOCKS = 400  # 6 nodes a block: 2,404 nodes with the head


@pytest.fixture
def graph_catalog(demo_path, tmp_path):
    """The demo catalog with a large scoped model, a two-version small one and a model
    with control flow."""
    with Catalog.open(demo_path) as catalog:
        for name, model in [
            ("wide", onnx_factory.residual_network(BLOCKS)),
            ("net", onnx_factory.residual_network(3)),
            ("net", onnx_factory.residual_network(3, extra_relu_after=1)),
            ("flow", onnx_factory.control_flow()),
        ]:
            path = onnx_factory.save(model, tmp_path / "models" / f"{name}-{id(model)}.onnx")
            import_model(catalog, path, name=name)
    return demo_path


def _graph_tab(window, qtbot, name: str, version: int = 1):
    window.open_selection(Selection("model", name, version))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.graph)
    graph = page.graph
    qtbot.waitUntil(
        lambda: (
            graph.opened is not None
            and graph.opened.ref == f"{name}@{version}"
            and graph.job is None
            and graph.canvas.complete
        ),
        timeout=120_000,
    )
    return graph


def test_a_large_graph_unfolds_off_the_gui_thread_and_is_found_and_exported(
    graph_catalog, window, qtbot, tmp_path, monkeypatch
):
    import modeldesk.graph.scene as scene_module

    graph = _graph_tab(window, qtbot, "wide")
    first = graph.stack[-1]
    # A first look: the model folded to a few dozen boxes, nothing to dismiss.
    assert len(first.scene.items) <= 45 and len(first.model.nodes) == BLOCKS * 6 + 4
    assert not window.error_boxes

    # Unfold everything. No duration is assumed: each progress report of the real layout
    # waits until the GUI thread has beaten again, which it cannot if the layout blocks it.
    beats, changed = [0], threading.Condition()
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {"reports": 0, "threads": set(), "stalled": False}
    real_layout = scene_module.layered_layout
    cpu = {"last": time.thread_time(), "longest": 0.0}

    def beat() -> None:
        now = time.thread_time()  # the GUI thread's own CPU time: a busy machine adds none
        cpu["longest"] = max(cpu["longest"], now - cpu["last"])
        cpu["last"] = now
        with changed:
            beats[0] += 1
            changed.notify_all()

    def layout_interleaved_with_beats(*args, progress, cancel, **options):
        seen["threads"].add(threading.get_ident())

        def report(done, total, message):
            with changed:
                before = beats[0]
                if not changed.wait_for(lambda: beats[0] > before, timeout=60):
                    seen["stalled"] = True
            seen["reports"] += 1
            progress(done, total, message)

        return real_layout(*args, progress=report, cancel=cancel, **options)

    monkeypatch.setattr(scene_module, "layered_layout", layout_interleaved_with_beats)
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    cpu["last"] = time.thread_time()
    graph.unfold_all.click()
    qtbot.waitUntil(
        lambda: graph.job is None and graph.canvas.complete and len(graph.stack[-1].unfolded) > 1,
        timeout=300_000,
    )
    heartbeat.stop()
    monkeypatch.undo()  # later layouts need no beats
    drawn = graph.stack[-1]
    assert gui_thread not in seen["threads"] and not seen["stalled"]
    assert seen["reports"] >= 5 and beats[0] >= seen["reports"]
    # Adding 2,400 boxes to the canvas happened in slices: no beat waited on 50 ms of work.
    assert cpu["longest"] < 0.05, cpu
    nodes = [item for item in drawn.scene.items.values() if item.kind == "node"]
    assert len(nodes) == BLOCKS * 6 + 4
    assert set(graph.canvas.items_by_key) == set(drawn.scene.items)

    # Fold it all again, then find a node deep in a folded group: it is unfolded and shown.
    graph.fold_all.click()
    qtbot.waitUntil(lambda: graph.job is None and not graph.stack[-1].unfolded, timeout=120_000)
    graph.find.setText("/model/layers.217/bn/BatchNormalization")
    graph.find_next()
    target = next(
        n["id"]
        for n in drawn.model.graph["nodes"]
        if n["name"] == "/model/layers.217/bn/BatchNormalization"
    )
    qtbot.waitUntil(lambda: graph.canvas.selected_key() == node_key(target), timeout=120_000)
    assert ("model", "layers.217") in graph.stack[-1].unfolded
    assert "BatchNormalization" in graph.panel.toPlainText()
    # Its context menu folds any scope around it; a folded group's menu unfolds it.
    asked: list[tuple] = []
    menu = item_menu(graph, graph.stack[-1], node_key(target), lambda *a: asked.append(a), None)
    folds = [a.text() for a in menu.actions()]
    assert "Fold model/layers.217" in folds
    menu.actions()[folds.index("Fold model/layers.217")].trigger()
    assert ("model", "layers.217") not in asked[-1][0] and asked[-1][1] == "g:model/layers.217"
    folded = next(k for k, item in graph.stack[-1].scene.items.items() if item.kind == "group")
    menu = item_menu(graph, graph.stack[-1], folded, lambda *a: asked.append(a), None)
    assert [a.text() for a in menu.actions()] == ["Unfold"]

    # A weight's statistics, read in the examiner child on demand.
    graph.panel.link.emit("stats:layers.217.bn.var")
    qtbot.waitUntil(lambda: "sparsity" in graph.panel.toPlainText(), timeout=60_000)

    png, svg = tmp_path / "wide.png", tmp_path / "wide.svg"
    graph.export_to(png, scale=0.5)
    graph.export_to(svg)
    assert not QImage(str(png)).isNull()
    assert svg.read_text().count("<rect") == 1 + len(graph.stack[-1].scene.items)


def test_overlay_diff_and_a_subgraph(graph_catalog, window, qtbot):
    catalog = window.context.catalog
    plain = Profile("plain", opt_level="disabled", iterations=5, warmup=1)
    add_profile(catalog, plain)
    bench_profile(catalog, "net@1", plain)
    graph = _graph_tab(window, qtbot, "net")
    assert graph.overlay_toggle.isEnabled()
    graph.runtime.setCurrentText("plain")
    graph.overlay_toggle.click()
    qtbot.waitUntil(lambda: graph.overlay is not None and graph.job is None, timeout=60_000)
    assert "Slowest on plain" in graph.panel.toPlainText()
    drawn = graph.stack[-1]
    badges = {key: item.box.badge for key, item in graph.canvas.items_by_key.items()}
    timed = [k for k in badges if k.startswith("n:") and badges[k]]
    assert len(timed) == sum(1 for k in drawn.scene.items if k.startswith("n:"))
    graph.overlay_toggle.click()  # one toggle: off again, the badges gone
    assert graph.overlay is None
    assert not any(item.box.badge for item in graph.canvas.items_by_key.values())

    # From the model page's compare: the newer version's graph with the one added node.
    window.open_selection(Selection("model", "net"))
    window.model_page.old_choice.setCurrentText("net@1")
    window.model_page.new_choice.setCurrentText("net@2")
    window.model_page.graph_button.click()
    page = window.model_version_page
    qtbot.waitUntil(
        lambda: (
            page.tabs.currentWidget() is page.graph
            and graph.opened is not None
            and graph.opened.compared is not None
            and graph.job is None
            and graph.canvas.complete
        ),
        timeout=120_000,
    )
    assert graph.opened.ref == "net@2" and graph.compare.currentText() == "net@1"
    graph.unfold_all.click()
    qtbot.waitUntil(lambda: graph.job is None and len(graph.stack[-1].unfolded) > 1, timeout=60_000)
    marked = [item.box for item in graph.canvas.items_by_key.values() if item.box.emphasis]
    assert [box.tooltip for box in marked] == ["/model/layers.1/extra/Relu"]
    assert "1 added, 0 removed, 0 changed" in graph.panel.toPlainText()

    # A body behind a breadcrumb, with the values it reads from outside drawn dashed.
    graph = _graph_tab(window, qtbot, "flow")
    graph.canvas.activated.emit(node_key(0))  # the If node: its first body
    qtbot.waitUntil(lambda: len(graph.stack) == 2 and graph.job is None, timeout=60_000)
    body = graph.stack[-1]
    assert body.route in ("main/If_0.then_branch", "main/If_0.else_branch")
    assert graph.crumbs.isVisibleTo(graph)
    assert {e.source for e in body.scene.edges if e.dashed} == {"c:one", "c:x"}
    graph.crumbs.linkActivated.emit("0")
    assert len(graph.stack) == 1 and not graph.crumbs.isVisibleTo(graph)
    assert not window.error_boxes
