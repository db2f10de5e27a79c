"""Helpers shared by tests (importable from any test folder)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

__all__ = ["catalog_snapshot"]


def catalog_snapshot(path: Path) -> dict[str, object]:
    """Every table's rows and every file under blobs/ with its hash."""
    conn = sqlite3.connect(path / "catalog.db")
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        content: dict[str, object] = {
            table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables
        }
        content["user_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    files = {}
    for file in sorted((path / "blobs").rglob("*")):
        if file.is_file() and file.name != ".lock":
            files[file.relative_to(path).as_posix()] = hashlib.sha256(file.read_bytes()).hexdigest()
    content["blobs"] = files
    return content
