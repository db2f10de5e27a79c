"""Content-addressed blobs, the audit chain, catalog check and gc."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from modeldesk.catalog.audit import verify_chain
from modeldesk.catalog.maintenance import check_catalog, collect_garbage
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.datasets.registry import get_dataset_version
from modeldesk.errors import IntegrityError


def test_put_file_stores_under_its_hash_and_dedupes(catalog: Catalog, tmp_path: Path):
    source = tmp_path / "payload.bin"
    source.write_bytes(b"hello blobs" * 1000)
    sha, size = catalog.blobs.put_file(source)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == sha
    assert size == source.stat().st_size
    stored = catalog.path / "blobs" / "sha256" / sha[:2] / sha[2:]
    assert stored.read_bytes() == source.read_bytes()
    assert catalog.blobs.put_file(source) == (sha, size)
    assert list(catalog.blobs.iter_hashes()) == [sha]
    assert list(catalog.blobs.iter_temps()) == []


def test_a_flipped_blob_is_reported_by_check_and_refused_on_read(catalog: Catalog, csv_file):
    version = import_dataset(catalog, csv_file("a,b\n1,2\n3,4\n"), name="tiny").version
    blob = catalog.blobs.path(version.sha256)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))

    report = check_catalog(catalog)
    assert not report.ok
    assert any(
        version.sha256 in problem and "does not match" in problem for problem in report.problems
    )
    with pytest.raises(IntegrityError, match=version.sha256):
        catalog.blobs.verified_path(version.sha256)
    with pytest.raises(IntegrityError, match=version.sha256):
        catalog.blobs.read_bytes(version.sha256)


def test_check_reports_a_missing_blob(catalog: Catalog, csv_file):
    version = import_dataset(catalog, csv_file("a\n1\n"), name="tiny").version
    catalog.blobs.path(version.sha256).unlink()
    report = check_catalog(catalog)
    assert any("missing" in problem for problem in report.problems)


def test_check_passes_on_a_healthy_catalog(catalog: Catalog, csv_file):
    import_dataset(catalog, csv_file("a,b\n1,2\n"), name="one")
    report = check_catalog(catalog)
    assert report.ok, report.problems
    assert report.blobs_checked == 1
    assert report.audit_rows == 1


def test_gc_removes_only_unnamed_blobs_and_temp_files(catalog: Catalog, csv_file):
    version = import_dataset(catalog, csv_file("a\n1\n2\n"), name="kept").version
    orphan = catalog.blobs.put_bytes(b"nobody names me")
    temp = catalog.blobs.new_temp()
    temp.write_bytes(b"half written")

    report = collect_garbage(catalog)

    assert report.blobs_removed == [orphan]
    assert report.temp_files_removed == 1
    assert report.bytes_freed == len(b"nobody names me")
    assert catalog.blobs.exists(version.sha256)
    assert not catalog.blobs.exists(orphan)
    assert not temp.exists()
    get_dataset_version(catalog, "kept@1")
    assert check_catalog(catalog).ok


def test_audit_rows_chain_and_cannot_be_updated_or_deleted(catalog: Catalog, csv_file):
    for index in range(3):
        import_dataset(catalog, csv_file(f"a\n{index}\n", f"d{index}.csv"), name=f"d{index}")
    assert verify_chain(catalog.conn) == []
    rows = catalog.query("SELECT id, prev_hash, hash FROM audit ORDER BY id")
    assert [row["id"] for row in rows] == [1, 2, 3]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        catalog.conn.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        catalog.conn.execute("DELETE FROM audit")


def test_editing_the_audit_log_behind_sqlites_back_is_detected(
    catalog: Catalog, catalog_path: Path, csv_file, run_cli
):
    for index in range(3):
        import_dataset(catalog, csv_file(f"a\n{index}\n", f"d{index}.csv"), name=f"d{index}")
    raw = sqlite3.connect(catalog_path / "catalog.db")
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
    raw.commit()
    raw.close()

    problems = verify_chain(catalog.conn)
    assert problems == ["audit row 2: content does not match its hash"]
    result = run_cli("--catalog", catalog_path, "audit", "verify")
    assert result.code == 1
    assert "audit row 2" in result.out
    assert run_cli("--catalog", catalog_path, "catalog", "check").code == 1


def test_gc_waits_for_an_import_that_holds_the_blob_store(catalog: Catalog, catalog_path: Path):
    # An import writes its blob, then commits the row naming it; gc in between
    # must wait rather than delete the not-yet-named blob.
    import threading

    written = threading.Event()
    finish = threading.Event()
    removed: list[list[str]] = []

    def importer() -> None:
        with catalog.blobs.guard():
            catalog.blobs.put_bytes(b"about to be named")
            written.set()
            finish.wait(timeout=30)

    def collector() -> None:
        with Catalog.open(catalog_path) as other:
            removed.append(collect_garbage(other).blobs_removed)

    first = threading.Thread(target=importer)
    first.start()
    written.wait(timeout=30)
    second = threading.Thread(target=collector)
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive()  # blocked on the store's lock
    finish.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert len(removed) == 1
