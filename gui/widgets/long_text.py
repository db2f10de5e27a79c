"""Long text values (a 13,000-character vocabulary in model metadata is real).

Tables show a shortened one-line preview (``core.formatting.shorten``); the whole value
is one double-click away in a dialog whose details expander holds it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from core.formatting import shorten

__all__ = ["PREVIEW_CHARS", "preview", "show_whole"]

PREVIEW_CHARS = 160


def preview(text: str | None, empty: str = "—") -> str:
    """A table cell's one-line preview of ``text`` (double-click shows all of it)."""
    if text is None:
        return empty
    shown = shorten(text, PREVIEW_CHARS)
    return shown if shown == text else f"{shown} — double-click for all"


def show_whole(parent: QWidget, title: str, parts: list[tuple[str, str | None]]) -> QMessageBox:
    """Open a dialog with each ``(label, text)`` whole behind its details expander."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setText("; ".join(f"{label}: {len(text or ''):,} characters" for label, text in parts))
    box.setDetailedText("\n\n".join(f"{label}:\n{text or ''}" for label, text in parts))
    box.open()
    return box
