"""A table that sorts, filters, copies and exports: every table in the app is one."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

__all__ = ["DataTable", "RowStyle", "RowsModel"]

Index = QModelIndex | QPersistentModelIndex
RESIZE_SAMPLE_ROWS = 40
MAX_COLUMN_WIDTH = 420
RESIZE_SAMPLE_ROWS = 40


@dataclass(frozen=True)
class RowStyle:
    """How one row stands out (a breaking change, a warning)."""

    background: str | None = None
    bold: bool = False
    tooltip: str | None = None


class RowsModel(QAbstractTableModel):
    """Rows of plain values under a header; numbers sort as numbers.

    ``editable`` names columns the user may edit; an edit calls
    ``on_edit(row, column, text)`` and the owner decides what to store.
    """

    def __init__(self, headers: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self.rows: list[list[Any]] = []
        self.texts: list[list[str]] = []
        self.styles: list[RowStyle | None] = []
        self.editable: set[int] = set()
        self.on_edit: Callable[[int, int, str], None] | None = None

    def set_rows(
        self, rows: Sequence[Sequence[Any]], styles: Sequence[RowStyle | None] = ()
    ) -> None:
        """Replace every row."""
        self.beginResetModel()
        self.rows = [list(row) for row in rows]
        self.texts = [[_display(value) for value in row] for row in self.rows]
        self.styles = list(styles) + [None] * (len(self.rows) - len(styles))
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Display comes first and is precomputed: views ask for it on every paint.
        if role == Qt.ItemDataRole.DisplayRole or role == Qt.ItemDataRole.EditRole:
            return self.texts[index.row()][index.column()]
        if role not in _ROLES_ANSWERED:
            return None
        value = self.rows[index.row()][index.column()]
        style = self.styles[index.row()]
        if role == Qt.ItemDataRole.UserRole:  # the sort key
            return value if isinstance(value, int | float) else _display(value).lower()
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(value, int | float):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if style is not None:
            if role == Qt.ItemDataRole.BackgroundRole and style.background:
                return QBrush(QColor(style.background))
            if role == Qt.ItemDataRole.FontRole and style.bold:
                font = QFont()
                font.setBold(True)
                return font
            if role == Qt.ItemDataRole.ToolTipRole and style.tooltip:
                return style.tooltip
        if role == Qt.ItemDataRole.ToolTipRole:
            text = self.texts[index.row()][index.column()]
            return text if len(text) > 60 else None
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() in self.editable:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() not in self.editable:
            return False
        if self.on_edit is not None:
            self.on_edit(index.row(), index.column(), str(value))
        return True


_ROLES_ANSWERED = {
    Qt.ItemDataRole.UserRole,
    Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
    Qt.ItemDataRole.ToolTipRole,
}


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class DataTable(QWidget):
    """A filter box over a sortable table; Ctrl+C copies, the menu exports CSV."""

    row_activated = Signal(int)  # source row index, on double-click or Enter
    selection_changed = Signal(list)  # source row indexes

    def __init__(
        self, headers: Sequence[str], parent: QWidget | None = None, *, filter_hint: str = "Filter"
    ) -> None:
        super().__init__(parent)
        self.model = RowsModel(headers, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)

        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText(filter_hint)
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)

        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Size columns from the first rows only: asking every cell of a long table
        # for its size costs a Python call per cell on the GUI thread.
        self.view.horizontalHeader().setResizeContentsPrecision(RESIZE_SAMPLE_ROWS)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.doubleClicked.connect(self._activated)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        copy = QAction("Copy", self.view)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.view.addAction(copy)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter)
        layout.addWidget(self.view)

    def set_rows(
        self, rows: Sequence[Sequence[Any]], styles: Sequence[RowStyle | None] = ()
    ) -> None:
        """Show these rows (the filter and sort order stay)."""
        self.model.set_rows(rows, styles)
        self._fit_columns()

    def _fit_columns(self) -> None:
        # Measured here from the first rows' text rather than by
        # resizeColumnsToContents, which asks every cell for every role through
        # Python on the GUI thread.
        metrics = self.view.fontMetrics()
        bold = self.view.font()
        bold.setBold(True)
        header_metrics = QFontMetrics(bold)
        header = self.view.horizontalHeader()
        sample = self.model.texts[:RESIZE_SAMPLE_ROWS]
        for column, title in enumerate(self.model.headers):
            widest = max((metrics.horizontalAdvance(row[column]) for row in sample), default=0)
            width = max(widest, header_metrics.horizontalAdvance(title)) + 18
            header.resizeSection(column, min(width, MAX_COLUMN_WIDTH))

    def visible_rows(self) -> list[list[str]]:
        """The rows as shown (filtered and sorted), as text."""
        return [
            [
                self.proxy.index(row, column).data() or ""
                for column in range(self.proxy.columnCount())
            ]
            for row in range(self.proxy.rowCount())
        ]

    def selected_source_rows(self) -> list[int]:
        """Source row indexes of the selected rows, in view order."""
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.proxy.mapToSource(self.proxy.index(row, 0)).row() for row in rows]

    def as_tsv(self, *, selected_only: bool) -> str:
        """Tab-separated text with a header line, as spreadsheets paste it."""
        rows = self.visible_rows()
        if selected_only:
            chosen = {index.row() for index in self.view.selectionModel().selectedRows()}
            rows = [row for number, row in enumerate(rows) if number in chosen]
        lines = ["\t".join(self.model.headers)] + ["\t".join(row) for row in rows]
        return "\n".join(lines)

    def copy_selection(self) -> None:
        """Copy the selected rows (or all visible rows if none) to the clipboard."""
        has_selection = bool(self.view.selectionModel().selectedRows())
        QGuiApplication.clipboard().setText(self.as_tsv(selected_only=has_selection))

    def export_csv(self, path: str) -> None:
        """Write the visible rows to a CSV file."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.model.headers)
        writer.writerows(self.visible_rows())
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())

    def _context_menu(self, position: Any) -> None:
        menu = QMenu(self)
        menu.addAction("Copy", self.copy_selection)
        menu.addAction(
            "Copy all",
            lambda: QGuiApplication.clipboard().setText(self.as_tsv(selected_only=False)),
        )
        menu.addAction("Export CSV…", self._ask_export)
        menu.exec(self.view.viewport().mapToGlobal(position))

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export table", "table.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _activated(self, index: QModelIndex) -> None:
        self.row_activated.emit(self.proxy.mapToSource(index).row())

    def _selection_changed(self, *_: Any) -> None:
        self.selection_changed.emit(self.selected_source_rows())
