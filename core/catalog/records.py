"""Versioned named records: shared lookups for models and datasets.

A record (``model``, ``dataset``) has a unique name; its versions
(``model_version``, ``dataset_version``) are numbered 1, 2, ... per name.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from modeldesk.catalog.names import VersionRef
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError

__all__ = [
    "DATASET",
    "MODEL",
    "SUITE",
    "RecordKind",
    "get_or_create_record",
    "next_version",
    "version_for",
]


@dataclass(frozen=True)
class RecordKind:
    """Table names for one kind of versioned record."""

    noun: str  # "model" or "dataset": also the record table's name
    version_table: str
    foreign_key: str

    def find_version_row(self, catalog: Catalog, ref: VersionRef) -> sqlite3.Row:
        """The version row for ``ref`` (latest when ``ref.version`` is None)."""
        sql = (
            f"SELECT v.*, r.name AS name FROM {self.version_table} v "
            f"JOIN {self.noun} r ON r.id = v.{self.foreign_key} WHERE r.name = ? "
        )
        if ref.version is None:
            rows = catalog.query(sql + "ORDER BY v.version DESC LIMIT 1", (ref.name,))
        else:
            rows = catalog.query(sql + "AND v.version = ?", (ref.name, ref.version))
        if rows:
            return rows[0]
        if not catalog.query(f"SELECT 1 FROM {self.noun} WHERE name = ?", (ref.name,)):
            raise NotFoundError(f"{self.noun} {ref.name!r}: not in the catalog")
        if ref.version is None:
            raise NotFoundError(f"{self.noun} {ref.name!r}: has no versions")
        raise NotFoundError(f"{self.noun} {ref}: no such version")

    def version_row_by_id(self, catalog: Catalog, row_id: int) -> sqlite3.Row:
        """The version row with this primary key, with its record's name."""
        rows = catalog.query(
            f"SELECT v.*, r.name AS name FROM {self.version_table} v "
            f"JOIN {self.noun} r ON r.id = v.{self.foreign_key} WHERE v.id = ?",
            (row_id,),
        )
        if not rows:
            raise NotFoundError(f"{self.noun} version #{row_id}: not in the catalog")
        return rows[0]


MODEL = RecordKind("model", "model_version", "model_id")
DATASET = RecordKind("dataset", "dataset_version", "dataset_id")
SUITE = RecordKind("suite", "suite_version", "suite_id")


def get_or_create_record(
    conn: sqlite3.Connection, kind: RecordKind, name: str, at: str, actor: str, **extra: object
) -> int:
    """The id of the record named ``name``, creating it inside the open transaction."""
    row = conn.execute(f"SELECT id FROM {kind.noun} WHERE name = ?", (name,)).fetchone()
    if row:
        return int(row[0])
    columns = ["name", "created_at", "created_by", *extra]
    placeholders = ", ".join("?" for _ in columns)
    cursor = conn.execute(
        f"INSERT INTO {kind.noun} ({', '.join(columns)}) VALUES ({placeholders})",
        (name, at, actor, *extra.values()),
    )
    return int(cursor.lastrowid or 0)


def next_version(conn: sqlite3.Connection, kind: RecordKind, record_id: int) -> int:
    """The next version number for a record, read inside the open write transaction."""
    row = conn.execute(
        f"SELECT COALESCE(MAX(version), 0) FROM {kind.version_table} WHERE {kind.foreign_key} = ?",
        (record_id,),
    ).fetchone()
    return int(row[0]) + 1


def version_for(
    conn: sqlite3.Connection, kind: RecordKind, record_id: int, wanted: int | None
) -> int:
    """The version number a new version takes: the next one, or ``wanted`` (a version
    adopted from another catalog keeps its number) if it is still free."""
    if wanted is None:
        return next_version(conn, kind, record_id)
    taken = conn.execute(
        f"SELECT 1 FROM {kind.version_table} WHERE {kind.foreign_key} = ? AND version = ?",
        (record_id, wanted),
    ).fetchone()
    if taken:
        name = conn.execute(f"SELECT name FROM {kind.noun} WHERE id = ?", (record_id,)).fetchone()
        raise BadInputError(f"{kind.noun} {name[0]}@{wanted} exists here with other content")
    return wanted
