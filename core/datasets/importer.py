"""Importing CSV and Parquet files as dataset versions."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeldesk.catalog.blobs import hash_file
from modeldesk.catalog.maintenance import discard_unreferenced
from modeldesk.catalog.names import VersionRef, normalise_name
from modeldesk.catalog.records import DATASET, get_or_create_record, version_for
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import ROLES, DatasetVersion, dataset_version_by_id
from modeldesk.errors import BadInputError, IntegrityError
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = ["DatasetImport", "adopt_dataset", "import_dataset"]


@dataclass(frozen=True)
class DatasetImport:
    """The outcome of an import: the version, and whether this call created it."""

    version: DatasetVersion
    created: bool
    notes: list[str] = field(default_factory=list)


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
            return dataset_version_by_id(catalog, row["id"])
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
    from modeldesk.datasets.reader import read_source

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
            sha256, blob_size, stats = _store_as_parquet(
                catalog, table, created_blobs, progress=progress, cancel=cancel, what=str(path)
            )
            columns = _dictionary_rows(table, stats, label)
            del table, source
            progress(0.97, 1.0, "recording")
            version_id = _record_version(
                catalog,
                name,
                {
                    "sha256": sha256,
                    "size": blob_size,
                    "source_name": path.name,
                    "source_format": source_format,
                    "source_sha256": source_sha,
                    "source_size": source_size,
                    "rows": rows,
                    "columns": len(columns),
                    "label": label,
                    "parent_id": parent_id,
                    "description": description,
                },
                columns,
            )
    except BaseException:
        # A cancelled or failed import leaves no blob of its own behind.
        discard_unreferenced(catalog, created_blobs)
        raise
    progress(1.0, 1.0, "imported")
    return DatasetImport(dataset_version_by_id(catalog, version_id), created=True, notes=notes)


def _store_as_parquet(
    catalog: Catalog,
    table: Any,
    created_blobs: list[str],
    *,
    progress: ProgressCallback,
    cancel: threading.Event | None,
    what: str,
) -> tuple[str, int, list[dict[str, Any]]]:
    """Write ``table`` as a zstd Parquet blob while computing its statistics.

    Returns (hash, size, per-column statistics); a blob this call created is
    appended to ``created_blobs`` so a later failure can take it back.
    """
    import pyarrow.parquet as pq

    from modeldesk.datasets.stats import table_stats

    temp = catalog.blobs.new_temp()
    try:
        # The Parquet writer and the statistics both release the GIL: run them side by side.
        with ThreadPoolExecutor(max_workers=1) as writer:
            written = writer.submit(pq.write_table, table, temp, compression="zstd")
            try:
                stats = table_stats(table, progress=Stage(progress, 0.6, 0.95), cancel=cancel)
            finally:
                written.result()
        check_cancel(cancel, what)
        size = temp.stat().st_size
        sha256 = hash_file(temp)
        if not catalog.blobs.exists(sha256):
            created_blobs.append(sha256)
        catalog.blobs.adopt(temp, sha256)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return sha256, size, stats


def _dictionary_rows(
    table: Any, stats: list[dict[str, Any]], label: str | None
) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    """(position, name, dtype, role, statistics) per column."""
    from modeldesk.datasets.stats import dtype_label

    rows = []
    for position, (column_name, column_stats) in enumerate(
        zip(table.column_names, stats, strict=True)
    ):
        role = (
            "label"
            if column_name == label
            else _guess_role(column_name, column_stats, table.num_rows)
        )
        rows.append(
            (
                position,
                column_name,
                dtype_label(table.schema.field(position).type),
                role,
                column_stats,
            )
        )
    return rows


def _record_version(
    catalog: Catalog,
    name: str,
    fields: dict[str, Any],
    columns: list[tuple[int, str, str, str, dict[str, Any]]],
    *,
    version: int | None = None,
    notes: dict[str, tuple[str | None, str | None]] | None = None,
) -> int:
    """Insert the version, its dictionary and its audit row in one transaction; a
    ``version`` number is kept if free, ``notes`` gives columns a unit and description."""
    notes = notes or {}
    with catalog.write("dataset.import", f"dataset {name}") as tx:
        dataset_id = get_or_create_record(tx.conn, DATASET, name, tx.at, tx.actor)
        version = version_for(tx.conn, DATASET, dataset_id, version)
        row = {
            "dataset_id": dataset_id,
            "version": version,
            **fields,
            "created_at": tx.at,
            "created_by": tx.actor,
        }
        cursor = tx.conn.execute(
            f"INSERT INTO dataset_version ({', '.join(row)})"
            f" VALUES ({', '.join('?' for _ in row)})",
            tuple(row.values()),
        )
        version_id = int(cursor.lastrowid or 0)
        tx.conn.executemany(
            "INSERT INTO data_column (dataset_version_id, position, name, dtype, role, stats,"
            " unit, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    version_id,
                    position,
                    column_name,
                    dtype,
                    role,
                    json.dumps(column_stats),
                    *notes.get(column_name, (None, None)),
                )
                for position, column_name, dtype, role, column_stats in columns
            ),
        )
        tx.subject = f"dataset {name}@{version}"
        tx.detail = {
            "name": name,
            "version": version,
            "sha256": fields["sha256"],
            "source": fields["source_name"],
            "source_sha256": fields["source_sha256"],
            "rows": fields["rows"],
            "columns": fields["columns"],
        }
    return version_id


def adopt_dataset(
    catalog: Catalog,
    file: Path,
    *,
    name: str,
    version: int,
    sha256: str,
    carried: dict[str, Any],
    cancel: threading.Event | None = None,
) -> DatasetImport:
    """Store a dataset version brought from another catalog (a release candidate) byte
    for byte, as ``name@version``: its runs name this content by hash.

    ``file`` is its Parquet blob; it is read and its dictionary's types and statistics
    computed here, taking from ``carried`` (the other catalog's record) only the label,
    description and each column's role, unit and description. The same content already
    at that number is returned as it is; other content there is refused.
    """
    from modeldesk.datasets.reader import read_source
    from modeldesk.datasets.stats import table_stats

    name = normalise_name(name, what="dataset name")
    rows = catalog.query(
        "SELECT v.id, v.sha256 FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id"
        " WHERE d.name = ? AND v.version = ?",
        (name, version),
    )
    if rows and rows[0]["sha256"] == sha256:
        return DatasetImport(dataset_version_by_id(catalog, rows[0]["id"]), created=False)
    if rows:
        raise BadInputError(f"dataset {name}@{version} exists here with other content")
    if hash_file(file, cancel=cancel) != sha256:
        raise IntegrityError(f"{file}: does not hash to dataset {name}@{version}'s {sha256[:12]}")
    table = read_source(file, cancel=cancel).table
    label = carried.get("label")
    if label is not None and label not in table.column_names:
        raise BadInputError(f"dataset {name}@{version}: its label {label!r} is not a column")
    columns = _dictionary_rows(table, table_stats(table, cancel=cancel), label)
    described = {str(c.get("name")): c for c in carried.get("columns", []) if isinstance(c, dict)}
    columns = [
        (position, column, dtype, _carried_role(described.get(column), role), stats)
        for position, column, dtype, role, stats in columns
    ]
    notes = {
        column: (_text(entry.get("unit")), _text(entry.get("description")))
        for column, entry in described.items()
    }
    created = [] if catalog.blobs.exists(sha256) else [sha256]
    try:
        with catalog.blobs.guard():
            _, size = catalog.blobs.put_file(file, expected_sha256=sha256, cancel=cancel)
            fields = {
                "sha256": sha256,
                "size": size,
                **{
                    k: _text(carried.get(k))
                    for k in ("source_name", "source_format", "source_sha256")
                },
                "source_size": carried.get("source_size")
                if isinstance(carried.get("source_size"), int)
                else None,
                "rows": table.num_rows,
                "columns": len(columns),
                "label": label,
                "parent_id": None,
                "description": _text(carried.get("description")),
            }
            version_id = _record_version(
                catalog, name, fields, columns, version=version, notes=notes
            )
    except BaseException:  # a failed adoption leaves no blob of its own behind
        discard_unreferenced(catalog, created)
        raise
    return DatasetImport(dataset_version_by_id(catalog, version_id), created=True)


def _text(value: Any, limit: int = 4096) -> str | None:
    """A carried text field: a string of bounded length, or nothing."""
    return value[:limit] if isinstance(value, str) else None


def _carried_role(entry: dict[str, Any] | None, computed: str) -> str:
    # The label's role follows the label; any other carried role must be a known one.
    role = entry.get("role") if entry else None
    if computed == "label" or role == "label" or role not in ROLES:
        return computed
    return str(role)
