"""The model version page: I/O, opsets, ops, metadata, lineage, contract, tags, notes."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.catalog.browse import list_versions
from modeldesk.formatting import human_bytes
from modeldesk.gui.context import AppContext
from modeldesk.gui.pages.bench_view import BenchView
from modeldesk.gui.pages.debug_view import DebugView
from modeldesk.gui.pages.explain_view import ExplainView
from modeldesk.gui.pages.field_view import FieldView
from modeldesk.gui.pages.graph_view import GraphView
from modeldesk.gui.pages.release_view import ReleaseView
from modeldesk.gui.pages.validate_view import ValidateView
from modeldesk.gui.widgets.editors import MarkdownEditor, TagEditor
from modeldesk.gui.widgets.long_text import preview, preview_style, show_whole
from modeldesk.gui.widgets.model_diff import ModelDiffView
from modeldesk.gui.widgets.plots import BarChart
from modeldesk.gui.widgets.table import DataTable
from modeldesk.models.compare import compare_versions
from modeldesk.models.contract import format_shape
from modeldesk.models.model_facts import ValueInfo
from modeldesk.models.registry import ModelVersion, get_model_version, update_model_version

__all__ = ["ModelVersionPage"]


def _link(kind: str, ref: str) -> str:
    return f"<a href='{kind}:{html.escape(ref, quote=True)}'>{html.escape(ref)}</a>"


def _io_row(side: str, value: ValueInfo) -> list[str]:
    shape = format_shape(value.shape) if value.kind != "sequence" else "—"
    return [side, value.name, value.kind, value.dtype, shape]


class ModelVersionPage(QWidget):
    """Everything the catalog knows about one model version."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.version: ModelVersion | None = None

        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = QTabWidget(self)

        # Overview: facts, lineage, tags, description.
        self.facts = QFormLayout()
        self.facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.lineage = QLabel(self)
        self.lineage.setTextFormat(Qt.TextFormat.RichText)
        self.lineage.linkActivated.connect(self._follow_link)
        self.tags = TagEditor(self)
        self.tags.saved.connect(self._save_tags)
        self.description = MarkdownEditor(self)
        self.description.saved.connect(self._save_description)
        overview = QWidget(self)
        overview_layout = QVBoxLayout(overview)
        facts_box = QGroupBox("Model", overview)
        facts_box.setLayout(self.facts)
        lineage_box = QGroupBox("Lineage", overview)
        QVBoxLayout(lineage_box).addWidget(self.lineage)
        tags_box = QGroupBox("Tags", overview)
        QVBoxLayout(tags_box).addWidget(self.tags)
        description_box = QGroupBox("Description", overview)
        QVBoxLayout(description_box).addWidget(self.description)
        for box in (facts_box, lineage_box, tags_box, description_box):
            overview_layout.addWidget(box)
        overview_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(overview)
        scroll.setWidgetResizable(True)
        self.tabs.addTab(scroll, "Overview")

        self.io_table = DataTable(["side", "name", "kind", "dtype", "shape"], self)
        self.tabs.addTab(self.io_table, "Inputs && outputs")

        self.graph = GraphView(context, self)
        self.tabs.addTab(self.graph, "Graph")

        self.op_chart = BarChart("Operators by count", self)
        self.op_table = DataTable(
            ["op", "count", "time (µs, latest bench)"], self, filter_hint="Filter ops"
        )
        ops = QWidget(self)
        ops_layout = QVBoxLayout(ops)
        ops_layout.addWidget(self.op_chart, 3)
        ops_layout.addWidget(self.op_table, 2)
        self.tabs.addTab(ops, "Operators")

        self.metadata = DataTable(["key", "value"], self, filter_hint="Filter metadata")
        self.metadata.row_activated.connect(self._show_full_metadata)
        self.tabs.addTab(self.metadata, "Metadata")

        self.contract_note = QLabel(self)
        self.contract = ModelDiffView(self)
        contract = QWidget(self)
        contract_layout = QVBoxLayout(contract)
        contract_layout.addWidget(self.contract_note)
        contract_layout.addWidget(self.contract, 1)
        self.tabs.addTab(contract, "Changes")

        self.debug = DebugView(context, self)
        self.tabs.addTab(self.debug, "Debug")
        self.explain = ExplainView(context, self)
        self.tabs.addTab(self.explain, "Explain")
        self.bench = BenchView(context, self)
        self.tabs.addTab(self.bench, "Bench")
        self.validate = ValidateView(context, self)
        self.tabs.addTab(self.validate, "Validate")
        self.release = ReleaseView(context, self)
        self.tabs.addTab(self.release, "Release")
        self.field = FieldView(context, self)
        self.tabs.addTab(self.field, "Field")
        self.debug.row_chosen.connect(self._explain_row)
        self.validate.row_chosen.connect(self._explain_row)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)

    def show_graph_diff(self, against: str) -> None:
        """The Graph tab, with the changes since ``against`` drawn."""
        self.tabs.setCurrentWidget(self.graph)
        self.graph.compare_with(against)

    def _explain_row(self, data_ref: str, row: int) -> None:
        self.tabs.setCurrentWidget(self.explain)
        self.explain.open_row(data_ref, row)

    def show_version(self, name: str, version: int | None) -> None:
        """Load and show ``name@version`` (latest when None)."""
        ref = f"{name}@{version if version is not None else 'latest'}"
        self.version = get_model_version(self.context.catalog, ref)
        self._render(self.version)

    def _render(self, version: ModelVersion) -> None:
        facts = version.facts
        self.title.setText(
            f"<h2>{html.escape(version.ref)}</h2>"
            f"<span>{html.escape(version.file_name)} · {human_bytes(version.file_size)} · "
            f"imported {version.created_at[:19].replace('T', ' ')} by "
            f"{html.escape(version.created_by)}</span>"
        )
        while self.facts.rowCount():
            self.facts.removeRow(0)
        rows = [
            ("SHA-256", version.sha256),
            ("Producer", facts.producer or "?"),
            ("IR version", str(facts.ir_version)),
            ("Opsets", ", ".join(f"{o.domain} {o.version}" for o in facts.opsets)),
            ("Parameters", f"{facts.param_count:,} ({human_bytes(facts.initializer_bytes)})"),
            (
                "Nodes",
                f"{facts.node_count:,}"
                + (f" in {facts.subgraph_count + 1} graphs" if facts.subgraph_count else ""),
            ),
            ("Task", facts.task or "—"),
            ("Classes", ", ".join(version.classes) if version.classes else "—"),
            ("Label", version.label or "—"),
            (
                "Features",
                f"{len(version.features)} columns ({version.feature_binding})"
                if version.features
                else "—",
            ),
        ]
        if facts.runtime_error:
            rows.append(("ONNX Runtime", f"cannot load it: {facts.runtime_error}"))
        for label, value in rows:
            field = QLabel(html.escape(value))
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            if label == "Features" and version.features:
                field.setToolTip(", ".join(version.features))
            self.facts.addRow(f"{label}:", field)

        lineage = []
        if version.parent_version:
            lineage.append(
                "Derived from " + _link("model", f"{version.name}@{version.parent_version}")
            )
        if version.trained_on:
            lineage.append("Trained on " + _link("dataset", version.trained_on))
        self.lineage.setText(
            "<br>".join(lineage) or "No parent version or training dataset recorded."
        )

        self.debug.set_model(version.ref)
        siblings = [v.ref for v in list_versions(self.context.catalog, "model", version.name)]
        self.explain.set_model(version.ref, siblings)
        self.graph.set_model(version.ref, siblings)
        self.tags.set_tags(version.tags)
        self.description.set_text(version.description)
        self.io_table.set_rows(
            [_io_row("input", value) for value in version.inputs]
            + [_io_row("output", value) for value in version.outputs]
        )
        ops = list(facts.ops.items())
        self.op_chart.set_bars(
            [op for op, _ in ops], [count for _, count in ops], value_axis="nodes"
        )
        self.bench.set_model(version.name, version.ref)
        self.validate.set_model(version.name, version.ref)
        self.release.set_model(version.name, version.ref)
        self.field.set_model(version.name, version.ref)
        times = self.bench.op_times(version.ref)
        self.op_table.set_rows([[op, count, times.get(op, "")] for op, count in ops])
        metadata = facts.metadata.items()
        self.metadata.set_rows(
            [[key, preview(value)] for key, value in metadata],
            [preview_style(value) for _, value in metadata],
        )
        self._render_changes(version)

    def _render_changes(self, version: ModelVersion) -> None:
        previous_number = version.parent_version or (
            version.version - 1 if version.version > 1 else None
        )
        if previous_number is None:
            self.contract_note.setText("The first version: nothing to compare with.")
            self.contract.setEnabled(False)
            return
        previous = get_model_version(self.context.catalog, f"{version.name}@{previous_number}")
        self.contract.setEnabled(True)
        self.contract_note.setText(
            f"Compared with {'its parent' if version.parent_version else 'the previous version'} "
            f"{previous.ref}."
        )
        self.contract.show_diff(compare_versions(previous, version))

    def breaking_change_count(self) -> int:
        """How many breaking changes the Changes tab lists (for tests and badges)."""
        return sum(1 for row in self.contract.contract.model.rows if row[0] == "BREAKING")

    def _follow_link(self, link: str) -> None:
        kind, _, ref = link.partition(":")
        name, _, number = ref.rpartition("@")
        self.context.open(kind, name, int(number))

    def _show_full_metadata(self, row: int) -> None:
        if self.version is None:
            return
        key = self.metadata.model.rows[row][0]
        show_whole(self, f"Metadata: {key}", [(key, self.version.facts.metadata.get(key, ""))])

    def _save_tags(self, tags: dict[str, str]) -> None:
        self._update(tags=tags)

    def _save_description(self, text: str) -> None:
        self._update(description=text)

    def _update(self, **changes: Any) -> None:
        if self.version is None:
            return
        ref = self.version.ref

        def saved(updated: ModelVersion) -> None:
            if self.version is not None and self.version.ref == updated.ref:
                self.version = updated
                self._render(updated)
            self.context.catalog_changed.emit()

        self.context.run(f"saving {ref}", update_model_version, on_done=saved, ref=ref, **changes)
