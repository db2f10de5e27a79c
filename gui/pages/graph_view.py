"""The Graph tab: a model version's graph with its scope groups folded, inferred shapes on
the edges, subgraphs behind breadcrumbs, the runtime overlay of its newest benchmark and
the diff against another version. All work (describing, diffing, laying out, reading a
weight) runs on the worker pool; this page only shapes results for the canvas."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from modeldesk.graph.overlay import Overlay
from modeldesk.graph.render import drawing
from modeldesk.graph.scene import GraphModel, node_key
from modeldesk.gui.context import AppContext
from modeldesk.gui.jobs import Job, JobError
from modeldesk.gui.pages.graph_actions import item_menu, status_text
from modeldesk.gui.pages.graph_jobs import (
    Drawn,
    Opened,
    draw,
    load_overlay,
    open_graph,
    weight_statistics,
)
from modeldesk.gui.widgets.graph_canvas import GraphCanvas
from modeldesk.gui.widgets.graph_panel import GraphPanel
from modeldesk.gui.widgets.graph_tools import GraphTools, ask_export, export_view
from modeldesk.gui.widgets.tool_page import (
    job_progress_bar,
    lay_out_tool_page,
    show_progress,
    start_progress,
)

__all__ = ["GraphView"]

NO_DIFF = "Compare with: none"


class GraphView(QWidget):
    """A version's graph; opened the first time the tab is shown."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.ref: str | None = None
        self.siblings: list[str] = []
        self.against: str | None = None
        self.opened: Opened | None = None
        self.failure: str | None = None  # why the last job failed, shown in the status line
        self.stack: list[Drawn] = []  # the main graph, then each body opened from it
        self.overlay: Overlay | None = None
        self.job: Job | None = None
        self.matches: list[tuple[int, str]] = []
        self.match_index = -1
        self._stale = True  # the shown graph is not the current version's yet
        self._focus_after: str | None = None

        self.canvas = GraphCanvas(self)
        self.tools = tools = GraphTools(self, self.canvas)
        self.find, self.unfold_all, self.fold_all = tools.find, tools.unfold_all, tools.fold_all
        self.runtime, self.compare, self.cancel = tools.runtime, tools.compare, tools.cancel
        self.overlay_toggle = tools.overlay
        self.progress = job_progress_bar(self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.crumbs = QLabel(self)
        self.crumbs.setTextFormat(Qt.TextFormat.RichText)
        self.crumbs.linkActivated.connect(self._crumb)
        self.panel = GraphPanel(self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 320])
        self.panel.setMaximumWidth(520)
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.crumbs)
        column.addWidget(splitter, 1)
        lay_out_tool_page(self, tools.widgets(), self.progress, self.status, body)

        self.find.returnPressed.connect(self.find_next)
        self.find.textChanged.connect(self._find_changed)
        self.unfold_all.clicked.connect(lambda: self._relayout(set(self._model().groups)))
        self.fold_all.clicked.connect(lambda: self._relayout(set()))
        self.overlay_toggle.toggled.connect(self._runtime_chosen)
        self.runtime.activated.connect(self._profile_chosen)
        self.compare.activated.connect(self._compare_chosen)
        tools.export.clicked.connect(self._export)
        self.cancel.clicked.connect(self._cancel)
        self.canvas.chosen.connect(self._chosen)
        self.canvas.activated.connect(self._activated)
        self.canvas.menu_requested.connect(self._menu)
        self.canvas.populated.connect(self._populated)
        self.panel.link.connect(self._link)
        self._set_tools(False)

    # -- opening --------------------------------------------------------------------
    def set_model(self, ref: str, siblings: list[str]) -> None:
        """Show ``ref``'s graph (opened when the tab is first shown)."""
        self.ref, self.siblings, self.against = ref, [s for s in siblings if s != ref], None
        self.compare.clear()
        self.compare.addItems([NO_DIFF, *self.siblings])
        self._stale = True
        if self.isVisible():
            self.reload()

    def compare_with(self, against: str | None) -> None:
        """Open the diff of this version against ``against`` (None: the graph alone)."""
        self.against = against
        self.compare.setCurrentText(against or NO_DIFF)
        self.reload()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale and self.ref is not None:
            self.reload()

    def reload(self) -> None:
        """Describe and lay out the graph (or diff) on the worker pool."""
        if self.ref is None:
            return
        self._stale = False
        self.overlay = None
        self.failure = None
        what = f"{self.against} → {self.ref}" if self.against else self.ref
        self._run(
            f"Opening the graph of {what}",
            open_graph,
            self._opened,
            ref=self.ref,
            against=self.against,
        )

    def _opened(self, opened: Opened) -> None:
        self.opened = opened
        self.stack = [opened.drawn]
        self.runtime.clear()
        self.runtime.addItems(opened.profiles)
        self.overlay_toggle.blockSignals(True)  # a new graph opens without the overlay
        self.overlay_toggle.setChecked(False)
        self.overlay_toggle.blockSignals(False)
        self.overlay_toggle.setToolTip(
            "Colour nodes by their time in the newest benchmark on the chosen profile (Ctrl+R)"
            if opened.profiles
            else "No benchmark of this version yet: run one on the Bench tab"
        )
        self._present()

    # -- drawing --------------------------------------------------------------------
    def _model(self) -> GraphModel:
        return self.stack[-1].model

    def _present(self) -> None:
        drawn = self.stack[-1]
        diff = self.opened is not None and self.opened.compared is not None
        boxes, edges = drawn.boxes, drawn.edges  # shaped on the worker pool
        if self.overlay is not None:
            boxes, edges = drawing(
                drawn.model, drawn.scene, drawn.layout, diff=diff, overlay=self.overlay
            )
        self.canvas.present(boxes, edges, drawn.layout.width, drawn.layout.height)
        self._show_crumbs()
        self._show_properties()
        self.status.setText(status_text(drawn))

    def _populated(self) -> None:
        if self._focus_after is not None:
            self.canvas.focus(self._focus_after)
            self._focus_after = None

    def _show_crumbs(self) -> None:
        parts = []
        for index, drawn in enumerate(self.stack):
            label = (self.ref or "") if index == 0 else drawn.route.rsplit("/", 1)[-1]
            if index == len(self.stack) - 1:
                parts.append(f"<b>{html.escape(label)}</b>")
            else:
                parts.append(f"<a href='{index}'>{html.escape(label)}</a>")
        self.crumbs.setText(" › ".join(parts))
        self.crumbs.setVisible(len(self.stack) > 1)

    def _show_properties(self) -> None:
        if self.opened is None:
            return
        key = self.canvas.selected_key()
        drawn = self.stack[-1]
        compared = self.opened.compared
        if key is not None and key in drawn.scene.items:
            self.panel.show_item(drawn.scene.items[key], drawn.model, self.overlay, compared)
        else:
            self.panel.show_model(
                self.opened.ref,
                self.opened.described,
                drawn.model,
                compared,
                self.overlay,
                drawn.route,
            )

    # -- folding and bodies ---------------------------------------------------------
    def _relayout(self, unfolded: set[tuple[str, ...]], focus: str | None = None) -> None:
        if not self.stack or self.opened is None:
            return
        drawn, opened = self.stack[-1], self.opened

        def done(result: Drawn) -> None:
            self.stack[-1] = result
            self._focus_after = focus
            self._present()

        self._run(
            f"Laying out {len(unfolded):,} unfolded groups",
            draw,
            done,
            model=drawn.model,
            cache_as=opened.cache_as,
            route=drawn.route,
            unfolded=unfolded,
            diff=opened.compared is not None,
        )

    def _activated(self, key: str) -> None:
        drawn = self.stack[-1]
        item = drawn.scene.items.get(key)
        if item is None:
            return
        if item.path is not None:
            self._relayout(drawn.unfolded | {item.path})
        elif item.node is not None and drawn.model.nodes[item.node]["subgraphs"]:
            self._open_body(item.node, next(iter(drawn.model.nodes[item.node]["subgraphs"])))

    def _open_body(self, node_id: int, body: str) -> None:
        if self.opened is None:
            return
        parent = self.stack[-1]
        graph = parent.model.nodes[node_id]["subgraphs"][body]
        route = f"{parent.route}/{parent.model.nodes[node_id]['name']}.{body}"
        self._run(
            f"Opening {body}",
            draw,
            lambda result: (self.stack.append(result), self._present()),
            model=GraphModel(graph),
            cache_as=self.opened.cache_as,
            route=route,
        )

    def _crumb(self, link: str) -> None:
        del self.stack[int(link) + 1 :]
        self._present()

    def _menu(self, key: str, where: Any) -> None:
        menu = item_menu(self, self.stack[-1], key, self._relayout, self._open_body)
        if menu is not None:
            menu.exec(where)

    # -- finding --------------------------------------------------------------------
    def _find_changed(self, text: str) -> None:
        self.matches = self._model().find(text) if self.stack and text.strip() else []
        self.match_index = -1
        if text.strip():
            self.status.setText(
                f"{len(self.matches)} match(es) for {text!r}; Enter shows the next"
                if self.matches
                else f"Nothing matches {text!r}"
            )

    def find_next(self) -> None:
        """Show the next node matching the find box (unfolding its groups if needed)."""
        if not self.matches:
            self._find_changed(self.find.text())
        if not self.matches:
            return
        self.match_index = (self.match_index + 1) % len(self.matches)
        node_id, matched = self.matches[self.match_index]
        self.status.setText(f"Match {self.match_index + 1} of {len(self.matches)}: {matched}")
        self._show_node(node_id)

    def _show_node(self, node_id: int) -> None:
        drawn = self.stack[-1]
        needed = drawn.model.ancestors(node_id) - drawn.unfolded
        key = node_key(node_id)
        if needed and not self.canvas.focus(key):
            self._relayout(drawn.unfolded | needed, key)
        else:
            self.canvas.focus(key)

    # -- overlay, diff, panel links -------------------------------------------------
    def _runtime_chosen(self) -> None:
        profile = self.runtime.currentText()
        if not self.overlay_toggle.isChecked() or not profile or self.ref is None or not self.stack:
            self.overlay = None
            self._present()
            return
        names = {node["name"] for node in self.stack[0].model.graph["nodes"]}
        self._run(
            f"Reading the newest benchmark on {profile}",
            load_overlay,
            self._overlaid,
            ref=self.ref,
            profile=profile,
            names=names,
        )

    def _profile_chosen(self) -> None:
        if self.overlay_toggle.isChecked():
            self._runtime_chosen()
        else:
            self.overlay_toggle.setChecked(True)  # choosing a profile means: show it

    def _overlaid(self, overlay: Overlay | None) -> None:
        self.overlay = overlay
        if overlay is None:
            self.status.setText("That profile's runs were not profiled per node")
        self._present()

    def _compare_chosen(self) -> None:
        choice = self.compare.currentText()
        self.compare_with(None if choice == NO_DIFF else choice)

    def _chosen(self, key: str | None) -> None:
        self._show_properties()

    def _link(self, link: str) -> None:
        kind, _, rest = link.partition(":")
        if kind == "node" and rest.isdigit():
            self._show_node(int(rest))
        elif kind == "unfold":
            self._relayout(self.stack[-1].unfolded | {tuple(rest.split("/"))})
        elif kind == "open":
            node, _, body = rest.partition(":")
            self._open_body(int(node), body)
        elif kind == "more":
            self.panel.expanded.add(rest)
            self._show_properties()
        elif kind == "stats" and self.opened is not None:
            self._run(
                f"Reading weight {rest}",
                weight_statistics,
                lambda found, name=rest: self._statistics(name, found),
                sha256=self._weights_source(rest),
                name=rest,
            )

    def _weights_source(self, name: str) -> str:
        """The .onnx hash holding a weight (in a diff, a removed node's weight is the old
        version's)."""
        assert self.opened is not None
        compared = self.opened.compared
        if compared is not None and name.startswith("−"):
            return compared.old.sha256
        return self.opened.sha256

    def _statistics(self, name: str, found: dict[str, Any]) -> None:
        self.panel.statistics[name] = found
        self._show_properties()

    def _export(self) -> None:
        if not self.stack:
            return
        chosen = ask_export(self, self.ref or "graph")
        if chosen is not None:
            self.export_to(*chosen)

    def export_to(self, path: Path, scale: float = 2.0) -> None:
        """Write what is shown to ``path``: SVG (from the same scene), or PNG at ``scale``."""
        diff = self.opened is not None and self.opened.compared is not None
        written = export_view(
            path,
            self.canvas,
            self.stack[-1],
            diff=diff,
            overlay=self.overlay,
            title=self.ref or "",
            scale=scale,
        )
        self.status.setText(f"Exported {written}" if written else f"{path}: could not be written")

    # -- jobs -----------------------------------------------------------------------
    def _run(self, title: str, fn: Any, on_done: Any, **kwargs: Any) -> None:
        start_progress(self.progress, title)
        self.cancel.setVisible(True)
        self._set_tools(False)
        self.job = self.context.run(
            title,
            fn,
            on_done=on_done,
            on_error=self._failed,
            on_progress=lambda f, m: show_progress(self.progress, f, m),
            on_finished=self._finished,
            key=f"graph:{id(self)}",
            **kwargs,
        )

    def _finished(self) -> None:
        self.progress.setVisible(False)
        self.cancel.setVisible(False)
        self._set_tools(bool(self.stack))
        self.job = None

    def _failed(self, error: JobError) -> None:
        self.failure = error.message
        self.status.setText(error.message)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelled")

    def _set_tools(self, enabled: bool) -> None:
        compared = self.opened is not None and self.opened.compared is not None
        self.tools.enable(enabled, self.runtime.count() > 0 and not compared)
