"""Light listings for browsing a catalog: record names and their version numbers.

These are the queries a navigator runs on every expand, so they read only
what a tree needs and stay fast with tens of thousands of versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from modeldesk.catalog.records import DATASET, MODEL, RecordKind
from modeldesk.catalog.store import Catalog

__all__ = ["KINDS", "RecordSummary", "VersionSummary", "list_records", "list_versions"]

KINDS: dict[str, RecordKind] = {"model": MODEL, "dataset": DATASET}


@dataclass(frozen=True)
class RecordSummary:
    """A named record with how many versions it has."""

    kind: str
    name: str
    versions: int
    latest_version: int
    latest_at: str


class VersionSummary(NamedTuple):
    """One version of a record, as a tree row shows it (a tuple: cheap by the ten thousand)."""

    kind: str
    name: str
    version: int
    created_at: str
    created_by: str

    @property
    def ref(self) -> str:
        """``NAME@V``."""
        return f"{self.name}@{self.version}"


def list_records(catalog: Catalog, kind: str) -> list[RecordSummary]:
    """Every record of ``kind`` (``model`` or ``dataset``), by name."""
    table = KINDS[kind]
    rows = catalog.conn.execute(
        f"SELECT r.name, COUNT(v.id), COALESCE(MAX(v.version), 0), COALESCE(MAX(v.created_at), '')"
        f" FROM {table.noun} r LEFT JOIN {table.version_table} v ON v.{table.foreign_key} = r.id"
        " GROUP BY r.id ORDER BY r.name"
    ).fetchall()
    return [RecordSummary(kind, name, count, latest, at) for name, count, latest, at in rows]


def list_versions(catalog: Catalog, kind: str, name: str) -> list[VersionSummary]:
    """The versions of one record, newest first (as a registry shows them)."""
    table = KINDS[kind]
    rows = catalog.conn.execute(
        f"SELECT v.version, v.created_at, v.created_by FROM {table.version_table} v"
        f" JOIN {table.noun} r ON r.id = v.{table.foreign_key} WHERE r.name = ?"
        " ORDER BY v.version DESC",
        (name,),
    ).fetchall()
    return [VersionSummary(kind, name, version, at, by) for version, at, by in rows]
