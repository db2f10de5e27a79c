"""Pages for a whole catalog and for a dataset's versions."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from modeldesk.catalog.browse import list_records
from modeldesk.datasets.registry import list_dataset_versions
from modeldesk.formatting import human_bytes
from modeldesk.gui.context import AppContext
from modeldesk.gui.widgets.table import DataTable

__all__ = ["CatalogPage", "DatasetPage"]


class CatalogPage(QWidget):
    """The catalog's first page: its delivery dashboard, and what is in it."""

    release_requested = Signal(int)  # a release the dashboard asks to open

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.records = DataTable(["kind", "name", "versions", "latest"], self)
        self.records.row_activated.connect(self._open_row)
        self._rows: list[tuple[str, str]] = []
        self._kind: str | None = None
        records = QWidget(self)
        records_layout = QVBoxLayout(records)
        records_layout.addWidget(self.title)
        records_layout.addWidget(self.records, 1)
        # The dashboard's charts need pyqtgraph, which loads after the window has shown;
        # until then its tab says so (attach_dashboard puts it in).
        self.delivery: Any = None
        self._placeholder = QLabel("Loading the delivery dashboard…", self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._placeholder, "Delivery")
        self.records_tab = records
        self.tabs.addTab(records, "Records")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def attach_dashboard(self) -> None:
        """Build the delivery dashboard (its chart modules are loaded) and fill it."""
        from modeldesk.gui.pages.delivery_view import DeliveryView

        if self.delivery is not None:
            return
        self.delivery = DeliveryView(self.context, self)
        self.delivery.release_requested.connect(self.release_requested)
        current = self.tabs.currentIndex()
        self.tabs.removeTab(0)
        self.tabs.insertTab(0, self.delivery, "Delivery")
        self.tabs.setCurrentIndex(current)
        self._placeholder.deleteLater()
        self.delivery.reload()

    def show_catalog(self, kind: str | None = None) -> None:
        """Summarise the catalog: the dashboard first, or one kind of record's list."""
        self.tabs.setCurrentWidget(self.records_tab if kind else self.tabs.widget(0))
        self._kind = kind
        self.refresh()

    def refresh(self) -> None:
        """Read the records and the dashboard again, staying on the tab shown."""
        if self.delivery is not None:
            self.delivery.reload()
        kind = self._kind
        catalog = self.context.catalog
        kinds = [kind] if kind else ["model", "dataset"]
        records = [record for each in kinds for record in list_records(catalog, each)]
        self._rows = [(record.kind, record.name) for record in records]
        self.records.set_rows(
            [
                [
                    record.kind,
                    record.name,
                    record.versions,
                    f"{record.name}@{record.latest_version}",
                ]
                for record in records
            ]
        )
        models = sum(1 for record in records if record.kind == "model")
        self.title.setText(
            f"<h2>{html.escape(catalog.path.name)}</h2>"
            f"<p>{html.escape(str(catalog.path))}</p>"
            f"<p>{models} model(s) and {len(records) - models} dataset(s) shown. Drop "
            "<code>.onnx</code>, <code>.csv</code> or <code>.parquet</code> files on this window "
            "to import them, or use File → Import.</p>"
        )

    def _open_row(self, row: int) -> None:
        kind, name = self._rows[row]
        self.context.open(kind, name)


class DatasetPage(QWidget):
    """A dataset's versions."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.name: str | None = None
        self._versions: list[int] = []
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.table = DataTable(
            ["version", "rows", "columns", "label", "source", "size", "parent", "created"], self
        )
        self.table.row_activated.connect(self._open_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)

    def show_dataset(self, name: str) -> None:
        """List ``name``'s versions."""
        self.name = name
        versions = list_dataset_versions(self.context.catalog, name)
        self._versions = [version.version for version in versions]
        self.title.setText(
            f"<h2>{html.escape(name)}</h2>{len(versions)} version(s). Double-click one to open it."
        )
        self.table.set_rows(
            [
                [
                    v.version,
                    v.rows,
                    v.column_count,
                    v.label or "",
                    v.source_name,
                    human_bytes(v.size),
                    v.parent_version or "",
                    v.created_at[:19].replace("T", " "),
                ]
                for v in versions
            ]
        )

    def _open_row(self, row: int) -> None:
        if self.name is not None:
            self.context.open("dataset", self.name, self._versions[row])
