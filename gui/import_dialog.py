"""Ask how to import a dropped or chosen file: its name and, for a model, its lineage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from modeldesk.catalog.browse import list_records, list_versions
from modeldesk.catalog.store import Catalog

__all__ = ["IMPORTABLE_SUFFIXES", "ImportDialog", "ImportRequest", "kind_of"]

# The same suffixes modeldesk.datasets.reader accepts; spelled out so the window does not
# load pyarrow before a dataset is actually imported.
IMPORTABLE_SUFFIXES = {".onnx": "model", ".csv": "dataset", ".parquet": "dataset", ".pq": "dataset"}
NONE = "(none)"


def kind_of(path: Path) -> str | None:
    """``model`` for .onnx, ``dataset`` for .csv / .parquet, else None."""
    return IMPORTABLE_SUFFIXES.get(path.suffix.lower())


def default_name(path: Path) -> str:
    """The file's stem without a trailing version (``churn-v3.onnx`` -> ``churn``)."""
    stem = re.sub(r"[-_. ]?v?\d+$", "", path.stem, flags=re.IGNORECASE)
    return stem or path.stem


@dataclass(frozen=True)
class ImportRequest:
    """What the user chose for one file."""

    kind: str
    path: Path
    name: str
    parent: int | None = None
    trained_on: str | None = None
    label: str | None = None


class ImportDialog(QDialog):
    """Name, parent version and training dataset for a model; name and label for data."""

    def __init__(self, catalog: Catalog, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.path = path
        self.kind = kind_of(path) or "dataset"
        self.setWindowTitle(f"Import {path.name}")
        self.name = QComboBox(self)
        self.name.setEditable(True)
        self.name.addItems([record.name for record in list_records(catalog, self.kind)])
        self.name.setCurrentText(default_name(path))
        self.name.currentTextChanged.connect(self._name_changed)
        self.parent_version = QComboBox(self)
        self.trained_on = QComboBox(self)
        self.label = QComboBox(self)

        form = QFormLayout()
        form.addRow("Name:", self.name)
        if self.kind == "model":
            form.addRow("Parent version:", self.parent_version)
            self.trained_on.addItem(NONE)
            for record in list_records(catalog, "dataset"):
                self.trained_on.addItems(
                    [version.ref for version in list_versions(catalog, "dataset", record.name)]
                )
            form.addRow("Trained on:", self.trained_on)
        else:
            from modeldesk.datasets.reader import peek_columns

            self.label.addItem(NONE)
            self.label.addItems(peek_columns(path))
            form.addRow("Label column:", self.label)
        self._name_changed(self.name.currentText())

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<b>{path.name}</b> as a new {self.kind} version"))
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _name_changed(self, name: str) -> None:
        if self.kind != "model":
            return
        self.parent_version.clear()
        self.parent_version.addItem(NONE)
        versions = list_versions(self.catalog, "model", name.strip()) if name.strip() else []
        self.parent_version.addItems([str(version.version) for version in versions])
        # A new version usually derives from the latest one.
        self.parent_version.setCurrentIndex(1 if versions else 0)

    def request(self) -> ImportRequest:
        """The choices made in the dialog."""
        parent = self.parent_version.currentText()
        trained_on = self.trained_on.currentText()
        label = self.label.currentText()
        return ImportRequest(
            kind=self.kind,
            path=self.path,
            name=self.name.currentText().strip(),
            parent=int(parent) if parent.isdigit() else None,
            trained_on=trained_on if trained_on and trained_on != NONE else None,
            label=label if label and label != NONE else None,
        )
