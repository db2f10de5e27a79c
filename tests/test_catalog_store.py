"""The catalog folder: opening, pragmas, migrations, write transactions."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from modeldesk.catalog.schema import SCHEMA_VERSION
from modeldesk.catalog.store import Catalog
from modeldesk.errors import CatalogError, NotFoundError, SchemaVersionError

from helpers import catalog_snapshot

ROOT = Path(__file__).resolve().parent.parent


def test_init_creates_a_wal_database_with_foreign_keys_and_schema_version(tmp_path: Path):
    with Catalog.init(tmp_path / "new") as catalog:
        assert catalog.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert catalog.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert catalog.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        assert catalog.schema_version() == SCHEMA_VERSION
        names = [row[0] for row in catalog.conn.execute("SELECT name FROM schema_migration")]
        assert names == [
            "0001_initial",
            "0002_derived_results",
            "0003_benchmarks",
            "0004_validation",
            "0005_keys_and_releases",
            "0006_deployments",
            "0007_field_captures",
            "0008_graph_cache",
        ]
    assert (tmp_path / "new" / "blobs" / "sha256").is_dir()


def test_init_refuses_an_existing_catalog(catalog_path: Path):
    with pytest.raises(CatalogError, match="already holds a catalog"):
        Catalog.init(catalog_path)


def test_open_names_a_folder_that_is_not_a_catalog(tmp_path: Path):
    with pytest.raises(NotFoundError, match="not a ModelDesk catalog"):
        Catalog.open(tmp_path)
    with pytest.raises(NotFoundError, match="no such catalog folder"):
        Catalog.open(tmp_path / "missing")


def test_reopening_runs_no_migration_twice(catalog_path: Path):
    before = catalog_snapshot(catalog_path)
    Catalog.open(catalog_path).close()
    Catalog.open(catalog_path).close()
    assert catalog_snapshot(catalog_path) == before


def test_a_catalog_from_a_newer_schema_is_refused_and_left_alone(catalog_path: Path):
    conn = sqlite3.connect(catalog_path / "catalog.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = catalog_snapshot(catalog_path)
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 5}"):
        Catalog.open(catalog_path)
    assert catalog_snapshot(catalog_path) == before


def _as_unprivileged(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a child to which file permissions apply.

    An ordinary user runs it as they are. Root writes anywhere, so as root the child runs
    under ``setpriv`` with every capability dropped (no CAP_DAC_OVERRIDE): permissions
    then bind it as they bind any user. (It cannot become ``nobody`` instead: this
    virtual environment's Python lives under /root, which only root may enter.)
    """
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root without setpriv (util-linux) to drop privileges")
        command = [setpriv, "--bounding-set=-all", "--inh-caps=-all", *command]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def test_a_catalog_folder_without_write_access_is_refused_and_left_alone(catalog_path: Path):
    before = catalog_snapshot(catalog_path)
    catalog_path.chmod(0o555)
    script = (
        "import sys\n"
        "from modeldesk.catalog.store import Catalog\n"
        "from modeldesk.errors import CatalogError\n"
        "try:\n"
        f"    Catalog.open({str(catalog_path)!r})\n"
        "except CatalogError as error:\n"
        "    print(error)\n"
        "else:\n"
        "    sys.exit('opened a catalog it cannot write')\n"
    )
    try:
        result = _as_unprivileged(script)
    finally:
        catalog_path.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert f"{catalog_path}: not writable" in result.stdout
    assert catalog_snapshot(catalog_path) == before


def test_write_commits_change_and_audit_row_together(catalog: Catalog):
    with catalog.write("test.create", "dataset demo") as tx:
        tx.conn.execute(
            "INSERT INTO dataset (name, created_at, created_by) VALUES ('demo', 'now', 'me')"
        )
    rows = catalog.query("SELECT action, subject, actor FROM audit")
    assert [tuple(row) for row in rows] == [("test.create", "dataset demo", "tester")]


def test_a_failed_write_leaves_neither_change_nor_audit_row(catalog: Catalog, catalog_path: Path):
    before = catalog_snapshot(catalog_path)
    with pytest.raises(RuntimeError), catalog.write("test.create", "dataset demo") as tx:
        tx.conn.execute(
            "INSERT INTO dataset (name, created_at, created_by) VALUES ('demo', 'now', 'me')"
        )
        raise RuntimeError("boom")
    assert catalog_snapshot(catalog_path) == before
    assert not catalog.conn.in_transaction


def test_writer_waits_for_another_writer_instead_of_failing(catalog: Catalog, catalog_path: Path):
    # Another connection holds the write lock; our write must wait and then succeed.
    other = sqlite3.connect(catalog_path / "catalog.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    writer_started = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            writer_started.set()
            with catalog.write("test.wait", "dataset late") as tx:
                tx.conn.execute(
                    "INSERT INTO dataset (name, created_at, created_by) VALUES ('late', 'n', 'm')"
                )
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    writer_started.wait()
    # The writer cannot finish while the lock is held.
    thread.join(timeout=0.3)
    assert thread.is_alive()
    other.execute("COMMIT")
    released.set()
    thread.join(timeout=30)
    other.close()
    assert errors == []
    assert catalog.query("SELECT name FROM dataset")[0]["name"] == "late"


def test_deferred_read_then_write_is_what_begin_immediate_avoids(catalog_path: Path):
    # The failure mode the store is built around: in WAL mode a deferred
    # transaction that has read cannot upgrade to a write while another
    # connection wrote meanwhile; it fails at once, whatever the timeout.
    first = sqlite3.connect(catalog_path / "catalog.db", isolation_level=None, timeout=5)
    second = sqlite3.connect(catalog_path / "catalog.db", isolation_level=None, timeout=5)
    first.execute("BEGIN")
    first.execute("SELECT COUNT(*) FROM dataset").fetchone()
    second.execute("INSERT INTO dataset (name, created_at, created_by) VALUES ('x', 'n', 'm')")
    with pytest.raises(sqlite3.OperationalError, match="locked|busy|snapshot"):
        first.execute("INSERT INTO dataset (name, created_at, created_by) VALUES ('y', 'n', 'm')")
    first.execute("ROLLBACK")
    first.close()
    second.close()


def test_a_catalog_from_before_derived_results_is_upgraded_in_place(tmp_path: Path, monkeypatch):
    from modeldesk.catalog import schema
    from modeldesk.catalog.maintenance import check_catalog

    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        patch.setattr(schema, "SCHEMA_VERSION", 1)
        with Catalog.init(tmp_path / "old") as old:
            assert old.schema_version() == 1
            blob = old.blobs.put_bytes(b"a model")
            with old.write("test", "blob"):
                pass
    with Catalog.open(tmp_path / "old") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION == 8
        tables = {row[0] for row in upgraded.conn.execute("SELECT name FROM sqlite_master")}
        assert {"derived", "profile", "bench_run", "blob_reference", "audit"} <= tables
        assert {"suite", "suite_version", "validation_run"} <= tables
        # The new view still names every earlier owner, and derived rows too.
        view = upgraded.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'blob_reference'"
        ).fetchone()[0]
        assert "model_file" in view and "derived" in view and "bench_run" in view
        assert "field_capture" in view and "field_capture" in tables
        assert "validation_run" in view
        audit_columns = {row[1] for row in upgraded.conn.execute("PRAGMA table_info(audit)")}
        version_columns = {
            row[1] for row in upgraded.conn.execute("PRAGMA table_info(model_version)")
        }
        assert "signature" in audit_columns and "author_key" in version_columns
        assert check_catalog(upgraded).ok
        assert upgraded.blobs.exists(blob)


def test_a_failing_migration_leaves_catalog_db_as_it_was(catalog_path: Path, monkeypatch):
    import modeldesk.catalog.schema as schema

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("the disk is full")

    before = catalog_snapshot(catalog_path)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, ("9999_half", half_done)])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with pytest.raises(RuntimeError, match="disk is full"):
        Catalog.open(catalog_path)
    assert catalog_snapshot(catalog_path) == before  # no table, no version bump, no row
    monkeypatch.undo()
    with Catalog.open(catalog_path) as reopened:
        assert reopened.schema_version() == SCHEMA_VERSION
