"""catalog.db's schema as ordered, named migrations of plain SQL.

``PRAGMA user_version`` holds how many migrations have been applied; the
``schema_migration`` table names them. Each migration runs its statements on the
connection inside the one transaction that also bumps the version (see
``Catalog._migrate``), so running them twice, or from two processes at once, is
safe, and a migration that fails leaves catalog.db as it was. No library's own
transaction handling is involved: a helper that commits on its own (as some
sqlite-utils releases do) would leave a half-migrated file. Append new migrations;
never edit or reorder a released one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

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

_INITIAL = [
    """CREATE TABLE "schema_migration" (
   "name" TEXT PRIMARY KEY,
   "applied_at" TEXT
)""",
    """CREATE TABLE "audit" (
   "id" INTEGER PRIMARY KEY,
   "at" TEXT NOT NULL,
   "actor" TEXT NOT NULL,
   "action" TEXT NOT NULL,
   "subject" TEXT NOT NULL,
   "detail" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "hash" TEXT NOT NULL
)""",
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    """CREATE TABLE "dataset" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "description" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT NOT NULL
)""",
    'CREATE UNIQUE INDEX "idx_dataset_name" ON "dataset" ("name")',
    """CREATE TABLE "dataset_version" (
   "id" INTEGER PRIMARY KEY,
   "dataset_id" INTEGER NOT NULL REFERENCES "dataset"("id"),
   "version" INTEGER NOT NULL,
   "sha256" TEXT NOT NULL,
   "size" INTEGER,
   "source_name" TEXT,
   "source_format" TEXT,
   "source_sha256" TEXT,
   "source_size" INTEGER,
   "rows" INTEGER NOT NULL,
   "columns" INTEGER NOT NULL,
   "label" TEXT,
   "parent_id" INTEGER REFERENCES "dataset_version"("id"),
   "description" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE UNIQUE INDEX "idx_dataset_version_dataset_id_version"'
    ' ON "dataset_version" ("dataset_id", "version")',
    'CREATE INDEX "idx_dataset_version_source_sha256" ON "dataset_version" ("source_sha256")',
    """CREATE TABLE "data_column" (
   "dataset_version_id" INTEGER REFERENCES "dataset_version"("id"),
   "position" INTEGER,
   "name" TEXT NOT NULL,
   "dtype" TEXT NOT NULL,
   "role" TEXT NOT NULL,
   "unit" TEXT,
   "description" TEXT,
   "stats" TEXT NOT NULL,
   PRIMARY KEY ("dataset_version_id", "position")
)""",
    'CREATE UNIQUE INDEX "idx_data_column_dataset_version_id_name"'
    ' ON "data_column" ("dataset_version_id", "name")',
    """CREATE TABLE "model" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "task" TEXT,
   "owner" TEXT,
   "description" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT NOT NULL
)""",
    'CREATE UNIQUE INDEX "idx_model_name" ON "model" ("name")',
    """CREATE TABLE "model_version" (
   "id" INTEGER PRIMARY KEY,
   "model_id" INTEGER NOT NULL REFERENCES "model"("id"),
   "version" INTEGER NOT NULL,
   "sha256" TEXT NOT NULL,
   "file_name" TEXT,
   "file_size" INTEGER NOT NULL,
   "ir_version" INTEGER,
   "producer" TEXT,
   "opsets" TEXT,
   "param_count" INTEGER,
   "initializer_bytes" INTEGER,
   "inputs_summary" TEXT,
   "outputs_summary" TEXT,
   "facts" TEXT NOT NULL,
   "parent_id" INTEGER REFERENCES "model_version"("id"),
   "trained_on_id" INTEGER REFERENCES "dataset_version"("id"),
   "label" TEXT,
   "features" TEXT,
   "feature_binding" TEXT,
   "classes" TEXT,
   "tags" TEXT,
   "description" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE UNIQUE INDEX "idx_model_version_model_id_version"'
    ' ON "model_version" ("model_id", "version")',
    'CREATE INDEX "idx_model_version_sha256" ON "model_version" ("sha256")',
    """CREATE TABLE "model_file" (
   "model_version_id" INTEGER REFERENCES "model_version"("id"),
   "path" TEXT,
   "sha256" TEXT NOT NULL,
   "size" INTEGER NOT NULL,
   PRIMARY KEY ("model_version_id", "path")
)""",
    BLOB_REFERENCE_VIEW,
]

# Derived results (predictions, explanations) are caches: re-computable from the
# record, keyed by everything that went into them, and not audited.
_BLOB_REFERENCE_WITH_DERIVED = (
    BLOB_REFERENCE_VIEW
    + """
    UNION ALL
    SELECT sha256, 'derived', key FROM derived
"""
)

_DERIVED = [
    """CREATE TABLE "derived" (
   "key" TEXT PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "model_version_id" INTEGER NOT NULL REFERENCES "model_version"("id"),
   "dataset_version_id" INTEGER NOT NULL REFERENCES "dataset_version"("id"),
   "params" TEXT NOT NULL,
   "sha256" TEXT NOT NULL,
   "summary" TEXT,
   "created_at" TEXT,
   "seconds" REAL
)""",
    'CREATE INDEX "idx_derived_model_version_id_dataset_version_id_kind"'
    ' ON "derived" ("model_version_id", "dataset_version_id", "kind")',
    "DROP VIEW blob_reference",
    _BLOB_REFERENCE_WITH_DERIVED,
]

_BLOB_REFERENCE_WITH_BENCH = (
    _BLOB_REFERENCE_WITH_DERIVED
    + """
    UNION ALL
    SELECT results_sha256, 'bench_run', id FROM bench_run WHERE results_sha256 IS NOT NULL
"""
)

_BENCHMARKS = [
    """CREATE TABLE "profile" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "kind" TEXT NOT NULL,
   "settings" TEXT NOT NULL,
   "description" TEXT,
   "created_at" TEXT NOT NULL,
   "updated_at" TEXT NOT NULL
)""",
    'CREATE UNIQUE INDEX "idx_profile_name" ON "profile" ("name")',
    """CREATE TABLE "bench_run" (
   "id" INTEGER PRIMARY KEY,
   "model_version_id" INTEGER NOT NULL REFERENCES "model_version"("id"),
   "profile_name" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "error" TEXT,
   "settings" TEXT NOT NULL,
   "device" TEXT,
   "summary" TEXT,
   "results_sha256" TEXT,
   "passed" INTEGER,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE INDEX "idx_bench_run_model_version_id_profile_name_created_at"'
    ' ON "bench_run" ("model_version_id", "profile_name", "created_at")',
    "DROP VIEW blob_reference",
    _BLOB_REFERENCE_WITH_BENCH,
]


_BLOB_REFERENCE_WITH_VALIDATION = (
    _BLOB_REFERENCE_WITH_BENCH
    + """
    UNION ALL
    SELECT results_sha256, 'validation_run', id FROM validation_run
"""
)

# Validation suites are versioned records (their TOML text kept whole, never executed);
# a run is evidence: which suite text, model content and data it read, and its verdicts.
_VALIDATION = [
    """CREATE TABLE "suite" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "model_name" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE UNIQUE INDEX "idx_suite_name" ON "suite" ("name")',
    """CREATE TABLE "suite_version" (
   "id" INTEGER PRIMARY KEY,
   "suite_id" INTEGER NOT NULL REFERENCES "suite"("id"),
   "version" INTEGER NOT NULL,
   "sha256" TEXT NOT NULL,
   "text" TEXT NOT NULL,
   "source_name" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE UNIQUE INDEX "idx_suite_version_suite_id_version"'
    ' ON "suite_version" ("suite_id", "version")',
    """CREATE TABLE "validation_run" (
   "id" INTEGER PRIMARY KEY,
   "suite_version_id" INTEGER NOT NULL REFERENCES "suite_version"("id"),
   "model_version_id" INTEGER NOT NULL REFERENCES "model_version"("id"),
   "dataset_version_id" INTEGER NOT NULL REFERENCES "dataset_version"("id"),
   "model_sha256" TEXT NOT NULL,
   "verdict" TEXT NOT NULL,
   "counts" TEXT NOT NULL,
   "rows_predicted" INTEGER NOT NULL,
   "results_sha256" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT,
   "seconds" REAL
)""",
    'CREATE INDEX "idx_validation_run_model_version_id_suite_version_id"'
    ' ON "validation_run" ("model_version_id", "suite_version_id")',
    "DROP VIEW blob_reference",
    _BLOB_REFERENCE_WITH_VALIDATION,
]


# Identities are signing keys: an audit row may carry its signer's signature (trusting
# and revoking keys, every release transition), and a model version names the key of
# whoever imported it (its author, who may not approve its release).
# Releases: a policy per model (versioned TOML text), releases of a model version with
# their state, and approvals or rejections, each signed by its release manager's key.
# A packaged release records the hash of its bundle's attestation (which names every
# file's digest); the bundle is a file it wrote, not a blob (a copy in the catalog
# would double a large model's packaging time).
_KEYS_AND_RELEASES = [
    'ALTER TABLE "audit" ADD COLUMN "signature" TEXT',
    'ALTER TABLE "model_version" ADD COLUMN "author_key" TEXT',
    'ALTER TABLE "model_version" ADD COLUMN "author_statement" TEXT',
    'ALTER TABLE "model_version" ADD COLUMN "author_signature" TEXT',
    'CREATE INDEX "idx_audit_action" ON "audit" ("action")',
    """CREATE TABLE "release_policy" (
   "id" INTEGER PRIMARY KEY,
   "model_name" TEXT NOT NULL,
   "version" INTEGER NOT NULL,
   "sha256" TEXT NOT NULL,
   "text" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT NOT NULL
)""",
    'CREATE UNIQUE INDEX "idx_release_policy_model_name_version"'
    ' ON "release_policy" ("model_name", "version")',
    """CREATE TABLE "release" (
   "id" INTEGER PRIMARY KEY,
   "model_version_id" INTEGER NOT NULL REFERENCES "model_version"("id"),
   "model_sha256" TEXT NOT NULL,
   "channel" TEXT NOT NULL,
   "targets" TEXT NOT NULL,
   "state" TEXT NOT NULL,
   "policy_id" INTEGER REFERENCES "release_policy"("id"),
   "counter" INTEGER,
   "creator_key" TEXT NOT NULL,
   "attestation_sha256" TEXT,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT NOT NULL,
   "updated_at" TEXT NOT NULL
)""",
    'CREATE INDEX "idx_release_model_version_id" ON "release" ("model_version_id")',
    """CREATE TABLE "approval" (
   "id" INTEGER PRIMARY KEY,
   "release_id" INTEGER NOT NULL REFERENCES "release"("id"),
   "decision" TEXT NOT NULL,
   "key" TEXT NOT NULL,
   "comment" TEXT NOT NULL,
   "statement" TEXT NOT NULL,
   "signature" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT NOT NULL
)""",
    'CREATE INDEX "idx_approval_release_id" ON "approval" ("release_id")',
]


# Deployments: what happened in the field, as events with their own time (recorded
# later, from elsewhere, in any order). A deploy puts a packaged release live on a target
# (a rollback is a deploy of an earlier release, naming the one it replaced); a fail marks
# the deployment then live on the target as failed. A release may fix a failed one (a
# hotfix). Stage times of a release (approved, packaged) are kept for lead times.
_DEPLOYMENTS = [
    'ALTER TABLE "release" ADD COLUMN "fixes_id" INTEGER REFERENCES "release"("id")',
    'ALTER TABLE "release" ADD COLUMN "approved_at" TEXT',
    'ALTER TABLE "release" ADD COLUMN "packaged_at" TEXT',
    """CREATE TABLE "deployment_event" (
   "id" INTEGER PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "release_id" INTEGER NOT NULL REFERENCES "release"("id"),
   "target" TEXT NOT NULL,
   "at" TEXT NOT NULL,
   "rollback_of" INTEGER REFERENCES "release"("id"),
   "note" TEXT,
   "actor_key" TEXT NOT NULL,
   "recorded_at" TEXT NOT NULL,
   "recorded_by" TEXT NOT NULL
)""",
    'CREATE INDEX "idx_deployment_event_target_at" ON "deployment_event" ("target", "at")',
    'CREATE INDEX "idx_deployment_event_release_id" ON "deployment_event" ("release_id")',
]


_BLOB_REFERENCE_WITH_FIELD = (
    _BLOB_REFERENCE_WITH_VALIDATION
    + "\n    UNION ALL\n    SELECT sha256, 'field_capture', id FROM field_capture\n"
)


# Field captures: what a device saw and answered, stored as a checked Parquet blob, with
# the model version it ran (and the release, when the capture names one).
_FIELD_CAPTURES = [
    """CREATE TABLE "field_capture" (
   "id" INTEGER PRIMARY KEY,
   "name" TEXT NOT NULL,
   "model_version_id" INTEGER NOT NULL REFERENCES "model_version"("id"),
   "release_id" INTEGER REFERENCES "release"("id"),
   "device" TEXT,
   "profile" TEXT,
   "source_name" TEXT NOT NULL,
   "source_format" TEXT NOT NULL,
   "source_sha256" TEXT NOT NULL,
   "sha256" TEXT NOT NULL,
   "rows" INTEGER NOT NULL,
   "layout" TEXT NOT NULL,
   "first_at" TEXT NOT NULL,
   "last_at" TEXT NOT NULL,
   "manifest" TEXT NOT NULL,
   "warnings" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "created_by" TEXT
)""",
    'CREATE INDEX "idx_field_capture_model_version_id" ON "field_capture" ("model_version_id")',
    "DROP VIEW blob_reference",
    _BLOB_REFERENCE_WITH_FIELD,
]


# Graph views' caches (a graph described, a layout), keyed by the .onnx file's hash and
# everything else that defines them; like derived results, re-computable and not audited.
_GRAPH_CACHE = [
    """CREATE TABLE "graph_cache" (
   "key" TEXT PRIMARY KEY,
   "kind" TEXT NOT NULL,
   "model_sha256" TEXT NOT NULL,
   "sha256" TEXT NOT NULL,
   "created_at" TEXT NOT NULL
)""",
    'CREATE INDEX "idx_graph_cache_model_sha256" ON "graph_cache" ("model_sha256")',
    "DROP VIEW blob_reference",
    _BLOB_REFERENCE_WITH_FIELD
    + "\n    UNION ALL\n    SELECT sha256, 'graph_cache', key FROM graph_cache\n",
]


def _statements(statements: list[str]) -> Callable[[sqlite3.Connection], None]:
    """A migration that runs ``statements`` one by one inside the caller's transaction.

    Not ``executescript``: it commits before it starts, which would end the
    transaction the version bump belongs to.
    """

    def migrate(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return migrate


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_initial", _statements(_INITIAL)),
    ("0002_derived_results", _statements(_DERIVED)),
    ("0003_benchmarks", _statements(_BENCHMARKS)),
    ("0004_validation", _statements(_VALIDATION)),
    ("0005_keys_and_releases", _statements(_KEYS_AND_RELEASES)),
    ("0006_deployments", _statements(_DEPLOYMENTS)),
    ("0007_field_captures", _statements(_FIELD_CAPTURES)),
    ("0008_graph_cache", _statements(_GRAPH_CACHE)),
]

SCHEMA_VERSION = len(MIGRATIONS)
