"""``catalog backup``: a consistent, checked copy of a catalog, even while it is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modeldesk.catalog.backup import backup_catalog
from modeldesk.catalog.maintenance import check_catalog
from modeldesk.catalog.store import Catalog
from modeldesk.errors import CatalogError, IntegrityError

from helpers import catalog_snapshot

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def test_a_backup_holds_every_record_and_blob(demo, tmp_path, run_cli):
    result = run_cli("--catalog", demo.path, "catalog", "backup", tmp_path / "copy", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["blobs"] > 10 and report["audit_rows"] > 10
    assert catalog_snapshot(tmp_path / "copy") == catalog_snapshot(demo.path)
    with Catalog.open(tmp_path / "copy") as copy:
        assert check_catalog(copy).ok
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".copy")] == []


def test_a_backup_taken_while_another_process_imports_is_consistent(catalog_path, tmp_path):
    writer = subprocess.Popen(
        [sys.executable, str(TESTS / "import_worker.py"), str(catalog_path), "data", "60",
         "w", str(tmp_path / "files")],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        with Catalog.open(catalog_path) as catalog:
            # Back up as soon as the writer has committed something, while it goes on.
            while not catalog.query("SELECT 1 FROM dataset_version") and writer.poll() is None:
                time.sleep(0.01)
            report = backup_catalog(catalog, tmp_path / "copy")
    finally:
        out, err = writer.communicate(timeout=600)
    assert writer.returncode == 0, err.decode()
    assert len(json.loads(out)) == 60
    with Catalog.open(report.path) as copy:
        assert check_catalog(copy).ok
        versions = [row["version"] for row in copy.query("SELECT version FROM dataset_version")]
    assert sorted(versions) == list(range(1, len(versions) + 1))  # a prefix, no gaps


def test_a_destination_that_is_not_new_is_refused(demo, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(CatalogError, match="not an empty folder"):
        backup_catalog(demo, taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    with pytest.raises(CatalogError, match="inside the catalog"):
        backup_catalog(demo, demo.path / "nested")


def test_a_damaged_blob_stops_the_backup_and_leaves_nothing(demo, tmp_path):
    blob = next(p for p in (demo.path / "blobs" / "sha256").rglob("*") if p.is_file()
                and len(p.parent.name) == 2)  # fmt: skip
    blob.write_bytes(b"changed on disk")
    with pytest.raises(IntegrityError, match="does not match its hash"):
        backup_catalog(demo, tmp_path / "copy")
    assert list(tmp_path.iterdir()) == [demo.path]
