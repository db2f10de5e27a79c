"""Dataset versions in the catalog: import, look up, list, edit the dictionary."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from modeldesk.catalog.names import VersionRef, normalise_name, parse_ref
from modeldesk.catalog.records import DATASET
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError

__all__ = [
    "ROLES",
    "ColumnInfo",
    "DatasetVersion",
    "get_dataset_version",
    "list_dataset_versions",
    "update_column",
]

ROLES = ("feature", "label", "id", "ignore")


@dataclass(frozen=True)
class ColumnInfo:
    """One entry of a dataset version's data dictionary."""

    position: int
    name: str
    dtype: str
    role: str
    unit: str | None
    description: str | None
    stats: dict[str, Any]


@dataclass(frozen=True)
class DatasetVersion:
    """One stored version of a dataset."""

    id: int
    name: str
    version: int
    sha256: str
    size: int
    source_name: str
    source_format: str
    source_sha256: str
    rows: int
    column_count: int
    label: str | None
    parent_version: int | None
    description: str | None
    created_at: str
    created_by: str
    columns: list[ColumnInfo] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``NAME@V`` for this version."""
        return f"{self.name}@{self.version}"

    def feature_columns(self) -> list[str]:
        """Names of the columns whose role is ``feature``, in order."""
        return [column.name for column in self.columns if column.role == "feature"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of this version and its dictionary."""
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "sha256": self.sha256,
            "size": self.size,
            "source_name": self.source_name,
            "source_format": self.source_format,
            "source_sha256": self.source_sha256,
            "rows": self.rows,
            "columns": [
                {
                    "position": c.position,
                    "name": c.name,
                    "dtype": c.dtype,
                    "role": c.role,
                    "unit": c.unit,
                    "description": c.description,
                    "stats": c.stats,
                }
                for c in self.columns
            ],
            "label": self.label,
            "parent_version": self.parent_version,
            "description": self.description,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def _version_from_row(catalog: Catalog, row: sqlite3.Row, *, with_columns: bool) -> DatasetVersion:
    parent_version = None
    if row["parent_id"] is not None:
        parent_version = int(DATASET.version_row_by_id(catalog, row["parent_id"])["version"])
    columns: list[ColumnInfo] = []
    if with_columns:
        columns = [
            ColumnInfo(
                position=c["position"],
                name=c["name"],
                dtype=c["dtype"],
                role=c["role"],
                unit=c["unit"],
                description=c["description"],
                stats=json.loads(c["stats"]),
            )
            for c in catalog.query(
                "SELECT * FROM data_column WHERE dataset_version_id = ? ORDER BY position",
                (row["id"],),
            )
        ]
    return DatasetVersion(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        sha256=row["sha256"],
        size=row["size"],
        source_name=row["source_name"],
        source_format=row["source_format"],
        source_sha256=row["source_sha256"],
        rows=row["rows"],
        column_count=row["columns"],
        label=row["label"],
        parent_version=parent_version,
        description=row["description"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        columns=columns,
    )


def get_dataset_version(
    catalog: Catalog, ref: str | VersionRef, *, with_columns: bool = True
) -> DatasetVersion:
    """The dataset version named by ``NAME@V`` / ``NAME@latest`` / ``NAME``."""
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    return _version_from_row(
        catalog, DATASET.find_version_row(catalog, parsed), with_columns=with_columns
    )


# Parquet rows the process keeps, by content hash: an entry is bytes that matched their
# hash when read, so it can never go stale. Larger tables are read again each time.
_TABLES_KEPT = 4
_TABLES_KEPT_BYTES = 64 << 20
_recent_tables: dict[str, Any] = {}


def read_rows(catalog: Catalog, dataset: DatasetVersion) -> Any:
    """The dataset version's rows as an Arrow table (immutable), its bytes verified."""
    import pyarrow.parquet as pq

    table = _recent_tables.get(dataset.sha256)
    if table is None:
        table = pq.read_table(catalog.blobs.verified_path(dataset.sha256))
        if table.nbytes <= _TABLES_KEPT_BYTES:
            if len(_recent_tables) >= _TABLES_KEPT:
                _recent_tables.pop(next(iter(_recent_tables)))
            _recent_tables[dataset.sha256] = table
    return table


def dataset_version_by_id(catalog: Catalog, row_id: int) -> DatasetVersion:
    """The dataset version with this row id."""
    return _version_from_row(catalog, DATASET.version_row_by_id(catalog, row_id), with_columns=True)


def list_dataset_versions(catalog: Catalog, name: str | None = None) -> list[DatasetVersion]:
    """Every dataset version (of ``name`` if given), by name then version."""
    sql = "SELECT v.*, d.name AS name FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id"
    params: tuple[Any, ...] = ()
    if name is not None:
        sql += " WHERE d.name = ?"
        params = (normalise_name(name, what="dataset name"),)
        if not catalog.query("SELECT 1 FROM dataset WHERE name = ?", params):
            raise NotFoundError(f"dataset {params[0]!r}: not in the catalog")
    rows = catalog.query(sql + " ORDER BY d.name, v.version", params)
    return [_version_from_row(catalog, row, with_columns=False) for row in rows]


def update_column(
    catalog: Catalog,
    ref: str | VersionRef,
    column: str,
    *,
    role: str | None = None,
    unit: str | None = None,
    description: str | None = None,
) -> ColumnInfo:
    """Edit one data dictionary entry (role, unit, description); audited."""
    version = get_dataset_version(catalog, ref)
    matches = [c for c in version.columns if c.name == column]
    if not matches:
        raise NotFoundError(f"dataset {version.ref}: has no column {column!r}")
    if role is not None and role not in ROLES:
        raise BadInputError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    changes = {
        key: value
        for key, value in (("role", role), ("unit", unit), ("description", description))
        if value is not None
    }
    if not changes:
        return matches[0]
    with catalog.write(
        "dataset.column.update", f"dataset {version.ref} column {column}", changes
    ) as tx:
        if role == "label":
            # One label per version: the previous label becomes a feature.
            tx.conn.execute(
                "UPDATE data_column SET role = 'feature' WHERE dataset_version_id = ?"
                " AND role = 'label'",
                (version.id,),
            )
        assignments = ", ".join(f"{key} = ?" for key in changes)
        tx.conn.execute(
            f"UPDATE data_column SET {assignments} WHERE dataset_version_id = ? AND name = ?",
            (*changes.values(), version.id, column),
        )
        if role is not None:
            label_row = tx.conn.execute(
                "SELECT name FROM data_column WHERE dataset_version_id = ? AND role = 'label'",
                (version.id,),
            ).fetchone()
            tx.conn.execute(
                "UPDATE dataset_version SET label = ? WHERE id = ?",
                (label_row[0] if label_row else None, version.id),
            )
    updated = get_dataset_version(catalog, version.ref)
    return next(c for c in updated.columns if c.name == column)
