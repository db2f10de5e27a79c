"""The dataset version page: data dictionary, a column's histogram, rows, changes."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from modeldesk.datasets.preview import RowPage, compare_dataset_versions, preview_rows
from modeldesk.datasets.registry import (
    ROLES,
    DatasetVersion,
    get_dataset_version,
    update_column,
)
from modeldesk.formatting import human_bytes
from modeldesk.gui.context import AppContext
from modeldesk.gui.jobs import JobError
from modeldesk.gui.widgets.plots import BarChart
from modeldesk.gui.widgets.table import DataTable

__all__ = ["PAGE_ROWS", "DatasetVersionPage"]

PAGE_ROWS = 100
DICTIONARY_HEADERS = [
    "column",
    "type",
    "role",
    "unit",
    "description",
    "count",
    "missing",
    "distinct",
    "min",
    "max",
    "mean",
    "std",
]
EDITABLE = {"role": 2, "unit": 3, "description": 4}


def _number(stats: dict[str, Any], key: str) -> Any:
    value = stats.get(key)
    return value if isinstance(value, int | float) else ("" if value is None else str(value))


class DatasetVersionPage(QWidget):
    """A dataset version's dictionary, statistics, rows and changes."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.version: DatasetVersion | None = None
        self.page: RowPage | None = None
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.tabs = QTabWidget(self)

        self.dictionary = DataTable(DICTIONARY_HEADERS, self, filter_hint="Filter columns")
        self.dictionary.model.editable = set(EDITABLE.values())
        self.dictionary.model.on_edit = self._edit_column
        self.dictionary.selection_changed.connect(self._column_selected)
        self.histogram = BarChart("Select a column to see its distribution", self)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.dictionary)
        splitter.addWidget(self.histogram)
        splitter.setSizes([360, 260])
        self.tabs.addTab(splitter, "Dictionary")

        self.rows_table = DataTable([], self, filter_hint="Filter this page of rows")
        self.previous_button = QPushButton("◀ Previous", self)
        self.next_button = QPushButton("Next ▶", self)
        self.page_label = QLabel(self)
        self.previous_button.clicked.connect(lambda: self._load_page(self._offset() - PAGE_ROWS))
        self.next_button.clicked.connect(lambda: self._load_page(self._offset() + PAGE_ROWS))
        pager = QHBoxLayout()
        pager.addWidget(self.previous_button)
        pager.addWidget(self.next_button)
        pager.addWidget(self.page_label)
        pager.addStretch(1)
        rows = QWidget(self)
        rows_layout = QVBoxLayout(rows)
        rows_layout.addLayout(pager)
        rows_layout.addWidget(self.rows_table, 1)
        self.tabs.addTab(rows, "Rows")

        self.changes_note = QLabel(self)
        self.changes_note.setWordWrap(True)
        self.changes = DataTable(["column", "change", "before", "after"], self)
        changes = QWidget(self)
        changes_layout = QVBoxLayout(changes)
        changes_layout.addWidget(self.changes_note)
        changes_layout.addWidget(self.changes, 1)
        self.tabs.addTab(changes, "Changes")
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)

    def show_version(self, name: str, version: int | None) -> None:
        """Load and show ``name@version`` (latest when None)."""
        ref = f"{name}@{version if version is not None else 'latest'}"
        self.version = get_dataset_version(self.context.catalog, ref)
        self.page = None
        self._render(self.version)
        if self.tabs.currentIndex() == 1:
            self._load_page(0)

    def _render(self, version: DatasetVersion) -> None:
        description = (
            f"<br><i>{html.escape(version.description)}</i>" if version.description else ""
        )
        self.title.setText(
            f"<h2>{html.escape(version.ref)}</h2>{version.rows:,} rows × {version.column_count} "
            f"columns · label <b>{html.escape(version.label or '—')}</b> · from "
            f"{html.escape(version.source_name)} · {human_bytes(version.size)} as Parquet · "
            f"imported {version.created_at[:19].replace('T', ' ')} by "
            f"{html.escape(version.created_by)}{description}"
        )
        self.dictionary.set_rows(
            [
                [
                    column.name,
                    column.dtype,
                    column.role,
                    column.unit or "",
                    column.description or "",
                    column.stats.get("count"),
                    column.stats.get("missing"),
                    column.stats.get("distinct"),
                    _number(column.stats, "min"),
                    _number(column.stats, "max"),
                    _number(column.stats, "mean"),
                    _number(column.stats, "std"),
                ]
                for column in version.columns
            ]
        )
        self._render_changes(version)

    # -- dictionary --------------------------------------------------------------------
    def _column_selected(self, rows: list[int]) -> None:
        if self.version is None or not rows:
            return
        self.show_column(self.version.columns[rows[0]].name)

    def show_column(self, name: str) -> None:
        """Show a column's histogram (numbers) or its most frequent values (text)."""
        if self.version is None:
            return
        column = next(c for c in self.version.columns if c.name == name)
        stats = column.stats
        self.histogram.title.setText(f"<b>{html.escape(name)}</b> ({column.dtype})")
        if "histogram" in stats:
            edges, counts = stats["histogram"]["edges"], stats["histogram"]["counts"]
            self.histogram.set_bars(
                [f"{low:.4g}" for low in edges[:-1]], counts, value_axis="rows", edges=edges
            )
        elif stats.get("top"):
            values = stats["top"]
            self.histogram.set_bars(
                [str(value) for value, _ in values],
                [count for _, count in values],
                value_axis="rows",
            )
        else:
            self.histogram.set_bars([], [])

    def _edit_column(self, row: int, column: int, text: str) -> None:
        if self.version is None:
            return
        field = next(key for key, position in EDITABLE.items() if position == column)
        if field == "role" and text not in ROLES:
            self.context.error.emit(
                JobError(f"role {text!r}: must be one of {', '.join(ROLES)}", "", True)
            )
            return
        ref, name = self.version.ref, self.version.columns[row].name

        def saved(_: object) -> None:
            if self.version is not None and self.version.ref == ref:
                self.show_version(self.version.name, self.version.version)
            self.context.catalog_changed.emit()

        self.context.run(
            f"editing {ref} {name}",
            update_column,
            on_done=saved,
            ref=ref,
            column=name,
            **{field: text},
        )

    # -- rows ---------------------------------------------------------------------------
    def _offset(self) -> int:
        return self.page.offset if self.page is not None else 0

    def _tab_changed(self, index: int) -> None:
        if index == 1 and self.page is None and self.version is not None:
            self._load_page(0)

    def _load_page(self, offset: int) -> None:
        if self.version is None:
            return
        version = self.version
        offset = max(0, min(offset, max(version.rows - 1, 0)))
        self.page_label.setText("reading…")
        self.previous_button.setEnabled(False)
        self.next_button.setEnabled(False)
        self.context.run(
            f"reading rows of {version.ref}",
            preview_rows,
            on_done=self._show_page,
            key=f"rows:{id(self)}",
            version=version,
            offset=offset,
            limit=PAGE_ROWS,
            verify=self.page is None,  # the file is hash-checked when first opened
        )

    def _show_page(self, page: RowPage) -> None:
        self.page = page
        self.rows_table.model.headers = page.columns
        self.rows_table.set_rows(page.rows)
        last = page.offset + len(page.rows)
        self.page_label.setText(f"rows {page.offset + 1:,}–{last:,} of {page.total_rows:,}")
        self.previous_button.setEnabled(page.offset > 0)
        self.next_button.setEnabled(last < page.total_rows)

    # -- changes ---------------------------------------------------------------------------
    def _render_changes(self, version: DatasetVersion) -> None:
        previous_number = version.parent_version or (
            version.version - 1 if version.version > 1 else None
        )
        if previous_number is None:
            self.changes_note.setText("The first version: nothing to compare with.")
            self.changes.set_rows([])
            return
        previous = get_dataset_version(self.context.catalog, f"{version.name}@{previous_number}")
        changes = compare_dataset_versions(previous, version)
        before_rows, after_rows = changes.rows
        self.changes_note.setText(
            f"Compared with {previous.ref}: rows {before_rows:,} → {after_rows:,} "
            f"({after_rows - before_rows:+,}); "
            + ("schema unchanged." if changes.unchanged_schema else "schema changed.")
        )
        self.changes.set_rows(
            [[name, "added", "—", "present"] for name in changes.added]
            + [[name, "removed", "present", "—"] for name in changes.removed]
            + [[name, "type", old, new] for name, (old, new) in changes.retyped.items()]
            + [[name, "role", old, new] for name, (old, new) in changes.role_changed.items()]
        )
