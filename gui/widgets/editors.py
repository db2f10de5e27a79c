"""Small editors used on pages: key/value tags and a Markdown description."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

__all__ = ["MarkdownEditor", "TagEditor"]


class TagEditor(QWidget):
    """Edit ``key = value`` tags; ``saved`` carries the new dict when the user saves."""

    saved = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["tag", "value"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(140)
        self.add_button = QPushButton("Add", self)
        self.remove_button = QPushButton("Remove", self)
        self.save_button = QPushButton("Save tags", self)
        self.add_button.clicked.connect(self._add_row)
        self.remove_button.clicked.connect(self._remove_row)
        self.save_button.clicked.connect(lambda: self.saved.emit(self.tags()))
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def set_tags(self, tags: dict[str, str]) -> None:
        """Show these tags."""
        self.table.setRowCount(0)
        for key, value in sorted(tags.items()):
            self._add_row(key, value)

    def tags(self) -> dict[str, str]:
        """The tags as edited (rows without a key are dropped)."""
        result: dict[str, str] = {}
        for row in range(self.table.rowCount()):
            key_item, value_item = self.table.item(row, 0), self.table.item(row, 1)
            key = key_item.text().strip() if key_item else ""
            if key:
                result[key] = value_item.text() if value_item else ""
        return result

    def _add_row(self, key: str = "", value: str = "") -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(key if isinstance(key, str) else ""))
        self.table.setItem(row, 1, QTableWidgetItem(value))

    def _remove_row(self) -> None:
        for row in sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(row)


class MarkdownEditor(QWidget):
    """Rendered Markdown with an Edit button; ``saved`` carries the new text."""

    saved = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = QTextBrowser(self)
        self.viewer.setOpenExternalLinks(False)
        self.editor = QPlainTextEdit(self)
        self.editor.setPlaceholderText("Describe this version in Markdown…")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.viewer)
        self.stack.addWidget(self.editor)
        self.stack.setMaximumHeight(160)
        self.edit_button = QPushButton("Edit description", self)
        self.save_button = QPushButton("Save", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.edit_button.clicked.connect(self._start_editing)
        self.save_button.clicked.connect(self._save)
        self.cancel_button.clicked.connect(self._stop_editing)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.edit_button, self.save_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        layout.addLayout(buttons)
        self._text = ""
        self._stop_editing()

    def set_text(self, text: str | None) -> None:
        """Show this Markdown, rendered."""
        self._text = text or ""
        self.viewer.setMarkdown(self._text or "_No description yet._")
        self._stop_editing()

    def _start_editing(self) -> None:
        self.editor.setPlainText(self._text)
        self.stack.setCurrentWidget(self.editor)
        self.edit_button.hide()
        self.save_button.show()
        self.cancel_button.show()

    def _stop_editing(self) -> None:
        self.stack.setCurrentWidget(self.viewer)
        self.edit_button.show()
        self.save_button.hide()
        self.cancel_button.hide()

    def _save(self) -> None:
        self.saved.emit(self.editor.toPlainText())
        self._stop_editing()
