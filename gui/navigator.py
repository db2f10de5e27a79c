"""The catalog navigator: models -> versions, datasets -> versions, fed lazily.

Record names are read when the tree is built; a record's versions only when
it is expanded, so a catalog with 10,000 versions opens as fast as one with
ten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QLineEdit, QStyle, QTreeView, QVBoxLayout, QWidget

from core.catalog.browse import RecordSummary, VersionSummary

__all__ = ["CatalogTreeModel", "NavigatorWidget", "Selection"]

Index = QModelIndex | QPersistentModelIndex
GROUPS = (("model", "Models"), ("dataset", "Datasets"))


@dataclass(frozen=True)
class Selection:
    """What is selected in the navigator: a kind, maybe a name, maybe a version."""

    kind: str
    name: str | None = None
    version: int | None = None


@dataclass(eq=False)
class _Node:
    kind: str  # "group", "record" or "version"
    label: str
    selection: Selection
    parent: _Node | None
    children: list[_Node] = field(default_factory=list)
    loaded: bool = False
    tooltip: str = ""

    def row(self) -> int:
        return self.parent.children.index(self) if self.parent else 0


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
        self.reload()

    def reload(self) -> None:
        """Read the record names again; versions are re-read when expanded."""
        self.beginResetModel()
        self._root.children = [
            _Node("group", title, Selection(kind), self._root, loaded=True)
            for kind, title in GROUPS
        ]
        for group in self._root.children:
            records = self._list_records(group.selection.kind)
            group.children = [
                _Node(
                    "record",
                    f"{record.name}  ({record.versions})",
                    Selection(record.kind, record.name),
                    group,
                    tooltip=f"{record.kind} {record.name}: {record.versions} version(s), "
                    f"latest {record.name}@{record.latest_version}",
                )
                for record in records
            ]
        self.endResetModel()

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
        return self.createIndex(node.row(), 0, node)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(self._node(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 1

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        node = self._node(parent)
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
        node.children = [
            _Node(
                "version",
                f"v{version.version}   {version.created_at[:16].replace('T', ' ')}",
                Selection(version.kind, version.name, version.version),
                node,
                loaded=True,
                tooltip=f"{version.ref} by {version.created_by}",
            )
            for version in versions
        ]
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
        self.model = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter models and datasets")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)

        self.tree = QTreeView(self)
        self.tree.setModel(self.proxy)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)  # keeps long lists cheap to scroll
        self.tree.expand(self.proxy.index(0, 0))
        self.tree.expand(self.proxy.index(1, 0))
        self.tree.selectionModel().currentChanged.connect(self._current_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)

    def reload(self) -> None:
        """Re-read the catalog, keeping the current selection where it still exists."""
        current = self.current()
        self.model.reload()
        self.tree.expand(self.proxy.index(0, 0))
        self.tree.expand(self.proxy.index(1, 0))
        if current is not None:
            self.select(current)

    def current(self) -> Selection | None:
        """The selected item, if any."""
        index = self.tree.currentIndex()
        return index.data(Qt.ItemDataRole.UserRole) if index.isValid() else None

    def select(self, selection: Selection) -> bool:
        """Select (and reveal) a group, record or version; False if it is not there."""
        source = self.model.find(selection)
        if not source.isValid():
            return False
        index = self.proxy.mapFromSource(source)
        if not index.isValid():  # hidden by the filter
            self.filter.clear()
            index = self.proxy.mapFromSource(source)
        self.tree.scrollTo(index)
        self.tree.setCurrentIndex(index)
        return True

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self.tree.expand(self.proxy.index(0, 0))
        self.tree.expand(self.proxy.index(1, 0))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.selected.emit(current.data(Qt.ItemDataRole.UserRole))
