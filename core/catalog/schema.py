"""catalog.db's schema as ordered, named migrations.

``PRAGMA user_version`` holds how many migrations have been applied; the
``schema_migration`` table names them. Each migration runs in its own
transaction together with the version bump, so running them twice (or
concurrently from two processes) is safe. Append new migrations; never edit
or reorder a released one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlite-utils is slow to import; only migrations need it
    import sqlite_utils

__all__ = ["BLOB_REFERENCE_VIEW", "MIGRATIONS", "SCHEMA_VERSION"]

# Every (table, column) that names a blob. gc keeps exactly these; check
# verifies exactly these. Later migrations redefine the view as tables appear.
BLOB_REFERENCE_VIEW = """
CREATE VIEW blob_reference AS
    SELECT sha256, 'model_version' AS owner, id AS owner_id FROM model_version
    UNION ALL
    SELECT sha256, 'model_file', model_version_id FROM model_file
    UNION ALL
    SELECT sha256, 'dataset_version', id FROM dataset_version
"""


def _initial(db: sqlite_utils.Database) -> None:
    db["schema_migration"].create({"name": str, "applied_at": str}, pk="name")
    db["audit"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "subject": str,
            "detail": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
        not_null={"at", "actor", "action", "subject", "detail", "prev_hash", "hash"},
    )
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit"
            " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )

    db["dataset"].create(
        {"id": int, "name": str, "description": str, "created_at": str, "created_by": str},
        pk="id",
        not_null={"name", "created_at", "created_by"},
    )
    db["dataset"].create_index(["name"], unique=True)
    db["dataset_version"].create(
        {
            "id": int,
            "dataset_id": int,
            "version": int,
            "sha256": str,
            "size": int,
            "source_name": str,
            "source_format": str,
            "source_sha256": str,
            "source_size": int,
            "rows": int,
            "columns": int,
            "label": str,
            "parent_id": int,
            "description": str,
            "created_at": str,
            "created_by": str,
        },
        pk="id",
        not_null={"dataset_id", "version", "sha256", "rows", "columns", "created_at"},
        foreign_keys=[("dataset_id", "dataset", "id"), ("parent_id", "dataset_version", "id")],
    )
    db["dataset_version"].create_index(["dataset_id", "version"], unique=True)
    db["dataset_version"].create_index(["source_sha256"])
    db["data_column"].create(
        {
            "dataset_version_id": int,
            "position": int,
            "name": str,
            "dtype": str,
            "role": str,
            "unit": str,
            "description": str,
            "stats": str,
        },
        pk=("dataset_version_id", "position"),
        not_null={"name", "dtype", "role", "stats"},
        foreign_keys=[("dataset_version_id", "dataset_version", "id")],
    )
    db["data_column"].create_index(["dataset_version_id", "name"], unique=True)

    db["model"].create(
        {
            "id": int,
            "name": str,
            "task": str,
            "owner": str,
            "description": str,
            "created_at": str,
            "created_by": str,
        },
        pk="id",
        not_null={"name", "created_at", "created_by"},
    )
    db["model"].create_index(["name"], unique=True)
    db["model_version"].create(
        {
            "id": int,
            "model_id": int,
            "version": int,
            "sha256": str,
            "file_name": str,
            "file_size": int,
            "ir_version": int,
            "producer": str,
            "opsets": str,
            "param_count": int,
            "initializer_bytes": int,
            "inputs_summary": str,
            "outputs_summary": str,
            "facts": str,
            "parent_id": int,
            "trained_on_id": int,
            "label": str,
            "features": str,
            "feature_binding": str,
            "classes": str,
            "tags": str,
            "description": str,
            "created_at": str,
            "created_by": str,
        },
        pk="id",
        not_null={"model_id", "version", "sha256", "file_size", "facts", "created_at"},
        foreign_keys=[
            ("model_id", "model", "id"),
            ("parent_id", "model_version", "id"),
            ("trained_on_id", "dataset_version", "id"),
        ],
    )
    db["model_version"].create_index(["model_id", "version"], unique=True)
    db["model_version"].create_index(["sha256"])
    db["model_file"].create(
        {"model_version_id": int, "path": str, "sha256": str, "size": int},
        pk=("model_version_id", "path"),
        not_null={"sha256", "size"},
        foreign_keys=[("model_version_id", "model_version", "id")],
    )
    db.execute(BLOB_REFERENCE_VIEW)


# Derived results (predictions, explanations) are caches: re-computable from the
# record, keyed by everything that went into them, and not audited.
_BLOB_REFERENCE_WITH_DERIVED = (
    BLOB_REFERENCE_VIEW
    + """
    UNION ALL
    SELECT sha256, 'derived', key FROM derived
"""
)


def _derived(db: sqlite_utils.Database) -> None:
    db["derived"].create(
        {
            "key": str,
            "kind": str,
            "model_version_id": int,
            "dataset_version_id": int,
            "params": str,
            "sha256": str,
            "summary": str,
            "created_at": str,
            "seconds": float,
        },
        pk="key",
        not_null={"kind", "model_version_id", "dataset_version_id", "params", "sha256"},
        foreign_keys=[
            ("model_version_id", "model_version", "id"),
            ("dataset_version_id", "dataset_version", "id"),
        ],
    )
    db["derived"].create_index(["model_version_id", "dataset_version_id", "kind"])
    db.execute("DROP VIEW blob_reference")
    db.execute(_BLOB_REFERENCE_WITH_DERIVED)


_BLOB_REFERENCE_WITH_BENCH = (
    _BLOB_REFERENCE_WITH_DERIVED
    + """
    UNION ALL
    SELECT results_sha256, 'bench_run', id FROM bench_run WHERE results_sha256 IS NOT NULL
"""
)


def _benchmarks(db: sqlite_utils.Database) -> None:
    db["profile"].create(
        {
            "id": int,
            "name": str,
            "kind": str,
            "settings": str,
            "description": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "kind", "settings", "created_at", "updated_at"},
    )
    db["profile"].create_index(["name"], unique=True)
    db["bench_run"].create(
        {
            "id": int,
            "model_version_id": int,
            "profile_name": str,
            "status": str,
            "error": str,
            "settings": str,
            "device": str,
            "summary": str,
            "results_sha256": str,
            "passed": int,
            "created_at": str,
            "created_by": str,
        },
        pk="id",
        not_null={"model_version_id", "profile_name", "status", "settings", "created_at"},
        foreign_keys=[("model_version_id", "model_version", "id")],
    )
    db["bench_run"].create_index(["model_version_id", "profile_name", "created_at"])
    db.execute("DROP VIEW blob_reference")
    db.execute(_BLOB_REFERENCE_WITH_BENCH)


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_derived_results", _derived),
    ("0003_benchmarks", _benchmarks),
]

SCHEMA_VERSION = len(MIGRATIONS)
