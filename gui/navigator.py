"""The catalog navigator: models -> versions, datasets -> versions, fed lazily.

Record names are read when the tree is built; a record's versions only when
it is expanded, so a catalog with 10,000 versions opens as fast as one with
ten. The filter lives in the model (it hides records whose name does not
match) rather than in a QSortFilterProxyModel, which would map every child
of every expanded record through Python on each expand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QLineEdit, QStyle, QTreeView, QVBoxLayout, QWidget

from modeldesk.catalog.browse import RecordSummary, VersionSummary

__all__ = ["CatalogTreeModel", "NavigatorWidget", "Selection"]

Index = QModelIndex | QPersistentModelIndex
GROUPS = (("model", "Models"), ("dataset", "Datasets"))


@dataclass(frozen=True)
class Selection:
    """What is selected in the navigator: a kind, maybe a name, maybe a version."""

    kind: str
    name: str | None = None
    version: int | None = None


class _Node:
    """One row of the tree; versions keep only their summary and build labels on demand."""

    __slots__ = (
        "children",
        "kind",
        "label",
        "loaded",
        "parent",
        "position",
        "selection",
        "tooltip",
    )

    def __init__(
        self,
        kind: str,
        label: str,
        selection: Selection | None,
        parent: _Node | None,
        *,
        loaded: bool = False,
        tooltip: str = "",
    ) -> None:
        self.kind = kind  # "root", "group", "record" or "version"
        self.label = label
        self.selection = selection
        self.parent = parent
        self.children: list[_Node] = []
        self.loaded = loaded
        self.tooltip = tooltip
        self.position = 0  # row under its parent, kept so parent() is O(1)


class _VersionNode(_Node):
    __slots__ = ("summary",)

    def __init__(self, summary: VersionSummary, parent: _Node) -> None:
        self.summary = summary
        self.kind = "version"
        self.parent = parent
        self.children = []
        self.loaded = True
        self.position = 0

    @property  # type: ignore[override]
    def label(self) -> str:
        return f"v{self.summary.version}   {self.summary.created_at[:16].replace('T', ' ')}"

    @property  # type: ignore[override]
    def selection(self) -> Selection:
        return Selection(self.summary.kind, self.summary.name, self.summary.version)

    @property  # type: ignore[override]
    def tooltip(self) -> str:
        return f"{self.summary.name}@{self.summary.version} by {self.summary.created_by}"


def _adopt(parent: _Node, children: list[_Node]) -> None:
    for position, child in enumerate(children):
        child.position = position
    parent.children = children


def _record_node(record: RecordSummary, group: _Node) -> _Node:
    return _Node(
        "record",
        f"{record.name}  ({record.versions})",
        Selection(record.kind, record.name),
        group,
        tooltip=f"{record.kind} {record.name}: {record.versions} version(s), "
        f"latest {record.name}@{record.latest_version}",
    )


class CatalogTreeModel(QAbstractItemModel):
    """A lazily filled tree over ``list_records`` / ``list_versions`` callables."""

    def __init__(
        self,
        list_records: Callable[[str], list[RecordSummary]],
        list_versions: Callable[[str, str], list[VersionSummary]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._list_records = list_records
        self._list_versions = list_versions
        self._root = _Node("root", "", Selection(""), None, loaded=True)
        self._filter = ""
        self.reload()

    def reload(self) -> None:
        """Read the record names again; versions are re-read when expanded."""
        self.beginResetModel()
        groups = [
            _Node("group", title, Selection(kind), self._root, loaded=True)
            for kind, title in GROUPS
        ]
        _adopt(self._root, groups)
        needle = self._filter.casefold()
        for group in groups:
            records = [
                record
                for record in self._list_records(group.selection.kind)
                if needle in record.name.casefold()
            ]
            _adopt(group, [_record_node(record, group) for record in records])
        self.endResetModel()

    def set_filter(self, text: str) -> None:
        """Show only records whose name contains ``text`` (case-insensitive)."""
        if text != self._filter:
            self._filter = text
            self.reload()

    # -- Qt's model interface ----------------------------------------------------
    def _node(self, index: Index) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self._node(parent)
        if column != 0 or not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, 0, node.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self._node(index).parent
        if node is None or node is self._root:
            return QModelIndex()
        return self.createIndex(node.position, 0, node)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(self._node(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 1

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        node = self._node(parent)
        if node.kind == "version":
            return False
        if node.kind == "record":
            return True
        return bool(node.children)

    def canFetchMore(self, parent: Index) -> bool:
        node = self._node(parent)
        return node.kind == "record" and not node.loaded

    def fetchMore(self, parent: Index) -> None:
        node = self._node(parent)
        if node.kind != "record" or node.loaded:
            return
        selection = node.selection
        versions = self._list_versions(selection.kind, selection.name or "")
        node.loaded = True
        if not versions:
            return
        self.beginInsertRows(parent, 0, len(versions) - 1)
        _adopt(node, [_VersionNode(version, node) for version in versions])
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return node.label
        if role == Qt.ItemDataRole.ToolTipRole:
            return node.tooltip or None
        if role == Qt.ItemDataRole.UserRole:
            return node.selection
        if role == Qt.ItemDataRole.DecorationRole:
            return _icon(node.kind)
        return None

    # -- finding things ---------------------------------------------------------------
    def find(self, selection: Selection) -> QModelIndex:
        """The index of a group, record or version (fetching versions as needed)."""
        for group_row, group in enumerate(self._root.children):
            if group.selection.kind != selection.kind:
                continue
            group_index = self.index(group_row, 0)
            if selection.name is None:
                return group_index
            for record_row, record in enumerate(group.children):
                if record.selection.name != selection.name:
                    continue
                record_index = self.index(record_row, 0, group_index)
                if selection.version is None:
                    return record_index
                self.fetchMore(record_index)
                for version_row, version in enumerate(record.children):
                    if version.selection.version == selection.version:
                        return self.index(version_row, 0, record_index)
        return QModelIndex()


def _icon(kind: str) -> Any:
    from PySide6.QtWidgets import QApplication

    style = QApplication.style()
    pixmap = {
        "group": QStyle.StandardPixmap.SP_DirIcon,
        "record": QStyle.StandardPixmap.SP_FileDialogDetailedView,
        "version": QStyle.StandardPixmap.SP_FileIcon,
    }.get(kind)
    return style.standardIcon(pixmap) if pixmap is not None else None


class NavigatorWidget(QWidget):
    """A filter box over the catalog tree; emits ``selected`` as the selection moves."""

    selected = Signal(object)  # Selection

    def __init__(self, model: CatalogTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter models and datasets")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.tree = QTreeView(self)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)  # keeps long lists cheap to scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)
        self._quiet = False
        self.model = model
        self.set_model(model)

    def set_model(self, model: CatalogTreeModel) -> None:
        """Show another catalog's tree."""
        self.model = model
        self.tree.setModel(model)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        self._expand_groups()

    def _expand_groups(self) -> None:
        for row in range(self.model.rowCount()):
            self.tree.expand(self.model.index(row, 0))

    def reload(self) -> None:
        """Re-read the catalog, keeping the current selection where it still exists."""
        current = self.current()
        expanded = self._expanded_records()
        self.model.reload()
        self._expand_groups()
        for selection in expanded:
            index = self.model.find(selection)
            if index.isValid():
                self.tree.expand(index)
        if current is not None:
            # Re-select quietly: the page showing this item is already up to date.
            self._quiet = True
            try:
                self.select(current)
            finally:
                self._quiet = False

    def _expanded_records(self) -> list[Selection]:
        records = []
        for group_row in range(self.model.rowCount()):
            group = self.model.index(group_row, 0)
            for row in range(self.model.rowCount(group)):
                index = self.model.index(row, 0, group)
                if self.tree.isExpanded(index):
                    records.append(index.data(Qt.ItemDataRole.UserRole))
        return records

    def current(self) -> Selection | None:
        """The selected item, if any."""
        index = self.tree.currentIndex()
        return index.data(Qt.ItemDataRole.UserRole) if index.isValid() else None

    def select(self, selection: Selection) -> bool:
        """Select (and reveal) a group, record or version; False if it is not there."""
        index = self.model.find(selection)
        if not index.isValid() and self.filter.text():
            self.filter.clear()  # hidden by the filter
            index = self.model.find(selection)
        if not index.isValid():
            return False
        self.tree.scrollTo(index)
        self.tree.setCurrentIndex(index)
        return True

    def _filter_changed(self, text: str) -> None:
        self.model.set_filter(text)
        self._expand_groups()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self._quiet:
            self.selected.emit(current.data(Qt.ItemDataRole.UserRole))
