"""The model page: every version with its key facts, and a compare of any two."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from modeldesk.formatting import human_bytes
from modeldesk.gui.context import AppContext
from modeldesk.gui.widgets.model_diff import ModelDiffView
from modeldesk.gui.widgets.table import DataTable
from modeldesk.models.compare import compare_versions
from modeldesk.models.registry import get_model_version, list_model_versions

__all__ = ["ModelPage"]


class ModelPage(QWidget):
    """A model's versions; pick two and compare them."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.name: str | None = None
        self.rows: list[dict] = []
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.table = DataTable(
            [
                "version",
                "created",
                "by",
                "size",
                "parameters",
                "inputs",
                "outputs",
                "parent",
                "tags",
            ],
            self,
            filter_hint="Filter versions",
        )
        self.table.row_activated.connect(self._open_row)
        self.table.selection_changed.connect(self._selection_changed)
        self.old_choice = QComboBox(self)
        self.new_choice = QComboBox(self)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.clicked.connect(self.compare_chosen)
        self.graph_button = QPushButton("Compare graphs", self)
        self.graph_button.setToolTip("Open the newer version's graph with the changes coloured")
        self.graph_button.clicked.connect(self.compare_graphs)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Compare"))
        chooser.addWidget(self.old_choice)
        chooser.addWidget(QLabel("with"))
        chooser.addWidget(self.new_choice)
        chooser.addWidget(self.compare_button)
        chooser.addWidget(self.graph_button)
        chooser.addStretch(1)
        self.diff = ModelDiffView(self)
        lower = QWidget(self)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(chooser)
        lower_layout.addWidget(self.diff, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setSizes([260, 420])
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(splitter, 1)

    def show_model(self, name: str) -> None:
        """List ``name``'s versions and compare the two newest."""
        self.name = name
        self.rows = list_model_versions(self.context.catalog, name)
        self.title.setText(
            f"<h2>{html.escape(name)}</h2>{len(self.rows)} version(s). Double-click a version to "
            "open it; select two to compare them."
        )
        self.table.set_rows(
            [
                [
                    row["version"],
                    row["created_at"][:19].replace("T", " "),
                    row["created_by"],
                    human_bytes(row["file_size"]),
                    row["param_count"],
                    "; ".join(row["inputs"]),
                    "; ".join(row["outputs"]),
                    row["parent_version"] or "",
                    ", ".join(f"{k}={v}" for k, v in sorted(row["tags"].items())),
                ]
                for row in self.rows
            ]
        )
        refs = [row["ref"] for row in self.rows]
        for combo in (self.old_choice, self.new_choice):
            combo.clear()
            combo.addItems(refs)
        can_compare = len(refs) >= 2
        self.compare_button.setEnabled(can_compare)
        self.graph_button.setEnabled(can_compare)
        self.compare_button.setToolTip(
            "" if can_compare else "A model needs two versions to compare"
        )
        if can_compare:
            self.old_choice.setCurrentIndex(len(refs) - 2)
            self.new_choice.setCurrentIndex(len(refs) - 1)
            self.compare_chosen()
        else:
            self.diff.setEnabled(False)

    def compare_chosen(self) -> None:
        """Compare the two versions chosen in the combo boxes."""
        old_ref, new_ref = self.old_choice.currentText(), self.new_choice.currentText()
        if not old_ref or not new_ref:
            return
        catalog = self.context.catalog
        self.diff.setEnabled(True)
        self.diff.show_diff(
            compare_versions(
                get_model_version(catalog, old_ref), get_model_version(catalog, new_ref)
            )
        )

    def compare_graphs(self) -> None:
        """Open the newer chosen version's Graph tab with the diff from the other."""
        old_ref, new_ref = self.old_choice.currentText(), self.new_choice.currentText()
        if old_ref and new_ref and old_ref != new_ref:
            self.context.graph_diff.emit(old_ref, new_ref)

    def _selection_changed(self, rows: list[int]) -> None:
        if len(rows) == 2:
            first, second = sorted(rows, key=lambda row: self.rows[row]["version"])
            self.old_choice.setCurrentText(self.rows[first]["ref"])
            self.new_choice.setCurrentText(self.rows[second]["ref"])
            self.compare_chosen()

    def _open_row(self, row: int) -> None:
        if self.name is not None:
            self.context.open("model", self.name, self.rows[row]["version"])
