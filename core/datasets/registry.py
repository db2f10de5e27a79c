"""Dataset versions in the catalog: import, look up, list, edit the dictionary."""

from __future__ import annotations

import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.catalog.blobs import hash_file
from core.catalog.maintenance import discard_unreferenced
from core.catalog.names import VersionRef, normalise_name, parse_ref
from core.catalog.records import DATASET, get_or_create_record, next_version
from core.catalog.store import Catalog
from core.errors import BadInputError, NotFoundError
from core.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = [
    "ROLES",
    "ColumnInfo",
    "DatasetImport",
    "DatasetVersion",
    "get_dataset_version",
    "import_dataset",
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


@dataclass(frozen=True)
class DatasetImport:
    """The outcome of an import: the version, and whether this call created it."""

    version: DatasetVersion
    created: bool
    notes: list[str] = field(default_factory=list)


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


def _guess_role(name: str, stats: dict[str, Any], rows: int) -> str:
    lowered = name.lower()
    looks_like_id = lowered in ("id", "uuid", "index") or lowered.endswith("_id")
    if looks_like_id and stats.get("missing") == 0 and stats.get("distinct") == rows:
        return "id"
    return "feature"


def _find_same_source(
    catalog: Catalog, name: str, path: Path, label: str | None
) -> DatasetVersion | None:
    """An existing version of ``name`` imported from a file with identical bytes."""
    size = path.stat().st_size
    candidates = catalog.query(
        "SELECT v.*, d.name AS name FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id "
        "WHERE d.name = ? AND v.source_size = ? ORDER BY v.version",
        (name, size),
    )
    if not candidates:
        return None
    digest = hash_file(path)
    for row in candidates:
        if row["source_sha256"] == digest and (label is None or row["label"] == label):
            return _version_from_row(catalog, row, with_columns=True)
    return None


def import_dataset(
    catalog: Catalog,
    file: str | Path,
    *,
    name: str,
    label: str | None = None,
    parent: int | None = None,
    description: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> DatasetImport:
    """Import a CSV or Parquet file as the next version of dataset ``name``.

    The table is stored as a zstd Parquet blob with a data dictionary of
    column types, roles and statistics. A file whose bytes equal an earlier
    version's source is not imported again: that version is returned.
    """
    import pyarrow.parquet as pq

    from core.datasets.reader import read_source
    from core.datasets.stats import dtype_label, table_stats

    name = normalise_name(name, what="dataset name")
    path = Path(file)
    existing = _find_same_source(catalog, name, path, label) if path.is_file() else None
    if existing is not None:
        return DatasetImport(existing, created=False)
    parent_id = None
    if parent is not None:
        parent_id = DATASET.find_version_row(catalog, VersionRef(name, parent))["id"]

    source = read_source(path, progress=Stage(progress, 0.0, 0.6), cancel=cancel)
    table = source.table
    if label is not None and label not in table.column_names:
        raise BadInputError(f"{path}: --label {label!r} is not a column of the file")
    notes = [
        f"column {c!r} mixes numbers and text: kept as text" for c in source.text_columns_from_mixed
    ]
    notes += [f"a column with a blank name was named {c!r}" for c in source.renamed_blank_columns]
    rows, source_format, source_sha, source_size = (
        table.num_rows,
        source.format,
        source.sha256,
        source.size,
    )

    created_blobs: list[str] = []
    try:
        with catalog.blobs.guard():
            temp = catalog.blobs.new_temp()
            try:
                # The Parquet writer and the statistics both release the GIL:
                # run them side by side.
                with ThreadPoolExecutor(max_workers=1) as writer:
                    written = writer.submit(pq.write_table, table, temp, compression="zstd")
                    try:
                        stats = table_stats(
                            table, progress=Stage(progress, 0.6, 0.95), cancel=cancel
                        )
                    finally:
                        written.result()
                check_cancel(cancel, str(path))
                blob_size = temp.stat().st_size
                sha256 = hash_file(temp)
                if not catalog.blobs.exists(sha256):
                    created_blobs.append(sha256)
                catalog.blobs.adopt(temp, sha256)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            columns = []
            for position, (column_name, column_stats) in enumerate(
                zip(table.column_names, stats, strict=True)
            ):
                role = (
                    "label"
                    if column_name == label
                    else _guess_role(column_name, column_stats, table.num_rows)
                )
                dtype = dtype_label(table.schema.field(position).type)
                columns.append((position, column_name, dtype, role, column_stats))
            del table, source
            progress(0.97, 1.0, "recording")
            with catalog.write("dataset.import", f"dataset {name}") as tx:
                dataset_id = get_or_create_record(tx.conn, DATASET, name, tx.at, tx.actor)
                version = next_version(tx.conn, DATASET, dataset_id)
                cursor = tx.conn.execute(
                    "INSERT INTO dataset_version (dataset_id, version, sha256, size, source_name,"
                    " source_format, source_sha256, source_size, rows, columns, label, parent_id,"
                    " description, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        dataset_id,
                        version,
                        sha256,
                        blob_size,
                        path.name,
                        source_format,
                        source_sha,
                        source_size,
                        rows,
                        len(columns),
                        label,
                        parent_id,
                        description,
                        tx.at,
                        tx.actor,
                    ),
                )
                version_id = int(cursor.lastrowid or 0)
                tx.conn.executemany(
                    "INSERT INTO data_column"
                    " (dataset_version_id, position, name, dtype, role, stats)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        (version_id, position, column_name, dtype, role, json.dumps(column_stats))
                        for position, column_name, dtype, role, column_stats in columns
                    ),
                )
                tx.subject = f"dataset {name}@{version}"
                tx.detail = {
                    "name": name,
                    "version": version,
                    "sha256": sha256,
                    "source": path.name,
                    "source_sha256": source_sha,
                    "rows": rows,
                    "columns": len(columns),
                }
    except BaseException:
        # A cancelled or failed import leaves no blob of its own behind.
        discard_unreferenced(catalog, created_blobs)
        raise
    progress(1.0, 1.0, "imported")
    return DatasetImport(dataset_version_by_id(catalog, version_id), created=True, notes=notes)


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
