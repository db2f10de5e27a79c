"""Long text values (a 13,000-character vocabulary in model metadata is real).

Tables show a shortened one-line preview (``modeldesk.formatting.shorten``) whose tooltip
says how long the value is; the whole value is one double-click away, in a dialog
that shows it wrapped, scrollable and copyable.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from modeldesk.formatting import shorten
from modeldesk.gui.widgets.table import RowStyle

__all__ = ["PREVIEW_CHARS", "LongTextDialog", "preview", "preview_style", "show_whole"]

PREVIEW_CHARS = 160


def preview(text: str | None, empty: str = "—") -> str:
    """A table cell's one-line preview of ``text``."""
    return empty if text is None else shorten(text, PREVIEW_CHARS)


def preview_style(*texts: str | None) -> RowStyle | None:
    """A row style whose tooltip says a shortened value is there whole on double-click."""
    long = [text for text in texts if text is not None and preview(text) != text]
    if not long:
        return None
    sizes = " and ".join(f"{len(text):,} characters" for text in long)
    return RowStyle(tooltip=f"{sizes}: double-click to read it whole")


class LongTextDialog(QDialog):
    """Each ``(label, text)`` whole: wrapped, scrollable, selectable, with Copy."""

    def __init__(self, parent: QWidget, title: str, parts: list[tuple[str, str | None]]) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.views: list[QPlainTextEdit] = []
        for label, text in parts:
            layout.addWidget(QLabel(f"<b>{label}</b> — {len(text or ''):,} characters", self))
            view = QPlainTextEdit(text or "", self)
            view.setReadOnly(True)
            view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            layout.addWidget(view, 1)
            self.views.append(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 480)

    def copy(self) -> None:
        """Put the whole text (every part) on the clipboard."""
        QGuiApplication.clipboard().setText("\n\n".join(v.toPlainText() for v in self.views))


def show_whole(parent: QWidget, title: str, parts: list[tuple[str, str | None]]) -> LongTextDialog:
    """Open a :class:`LongTextDialog` (not modal: the window stays usable)."""
    dialog = LongTextDialog(parent, title, parts)
    dialog.open()
    return dialog
