"""Light and dark palettes that follow the system's colour scheme."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_theme", "dark_palette", "is_dark", "palette_for"]


def dark_palette() -> QPalette:
    """A calm dark palette (Fusion's colours, darkened)."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#202124",
        QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a",
        QPalette.ColorRole.AlternateBase: "#24262a",
        QPalette.ColorRole.ToolTipBase: "#2d2f33",
        QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.Text: "#e8eaed",
        QPalette.ColorRole.Button: "#2a2c30",
        QPalette.ColorRole.ButtonText: "#e8eaed",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.Highlight: "#3b7dd8",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#9aa0a6",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))
    return palette


def is_dark() -> bool:
    """True when the system asks for a dark colour scheme."""
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def palette_for(app: QApplication, scheme: Qt.ColorScheme) -> QPalette:
    """The dark palette for a dark scheme, the style's own otherwise."""
    return dark_palette() if scheme == Qt.ColorScheme.Dark else app.style().standardPalette()


def apply_theme(app: QApplication) -> None:
    """Use Fusion with a palette matching the system, and follow it when it changes."""
    app.setStyle("Fusion")
    hints = QGuiApplication.styleHints()
    app.setPalette(palette_for(app, hints.colorScheme()))
    hints.colorSchemeChanged.connect(lambda scheme: app.setPalette(palette_for(app, scheme)))
