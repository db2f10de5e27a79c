"""Remembered state (QSettings): the last catalog, recent catalogs, window layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

__all__ = ["MAX_RECENT", "app_settings", "last_catalog", "recent_catalogs", "remember_catalog"]

MAX_RECENT = 8


def app_settings() -> QSettings:
    """ModelDesk's settings store (tests point QSettings at a temporary folder)."""
    return QSettings("ModelDesk", "ModelDesk")


def recent_catalogs() -> list[Path]:
    """Recently opened catalogs that still exist, newest first."""
    stored = app_settings().value("catalogs/recent", [], type=list) or []
    return [Path(item) for item in stored if (Path(item) / "catalog.db").is_file()]


def last_catalog() -> Path | None:
    """The catalog open when the app last closed, if it still exists."""
    stored = app_settings().value("catalogs/last", "", type=str)
    return Path(stored) if stored and (Path(stored) / "catalog.db").is_file() else None


def remember_catalog(path: Path) -> None:
    """Record ``path`` as the last and most recent catalog."""
    settings = app_settings()
    recent = [str(path)] + [str(p) for p in recent_catalogs() if p != path]
    settings.setValue("catalogs/recent", recent[:MAX_RECENT])
    settings.setValue("catalogs/last", str(path))
