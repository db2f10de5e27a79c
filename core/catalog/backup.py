"""``catalog backup``: a consistent copy of a catalog that may be open and in use.

catalog.db is copied with SQLite's online backup API (one consistent snapshot, even
while another process writes), then exactly the blobs that snapshot names are copied,
each verified against its hash as it is written. The copy is assembled in a hidden
folder beside the destination, checked with ``catalog check``, and only then renamed
into place: a failed or cancelled backup leaves no half-made catalog behind.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from modeldesk.catalog.blobs import BlobStore
from modeldesk.catalog.maintenance import check_catalog
from modeldesk.catalog.store import DB_NAME, Catalog
from modeldesk.errors import CatalogError, IntegrityError
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = ["BackupReport", "backup_catalog"]


@dataclass(frozen=True)
class BackupReport:
    """What a backup copied, and the check of the copy."""

    path: Path
    blobs: int
    bytes: int
    audit_rows: int


def backup_catalog(
    catalog: Catalog,
    destination: str | os.PathLike[str],
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> BackupReport:
    """Copy ``catalog`` to the new folder ``destination`` (see the module docstring)."""
    target = Path(destination).expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CatalogError(f"{target}: exists and is not an empty folder; choose a new one")
    if target.is_relative_to(catalog.path):
        raise CatalogError(f"{target}: is inside the catalog being backed up")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        copied, size = _copy(catalog, partial, progress, cancel)
        with Catalog.open(partial) as copy:
            report = check_catalog(copy, progress=Stage(progress, 0.9, 1.0), cancel=cancel)
        if not report.ok:
            raise IntegrityError(
                f"{target}: the copy fails its check ({report.problems[0]}); nothing kept"
            )
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupReport(target, copied, size, report.audit_rows)


def _copy(
    catalog: Catalog, folder: Path, progress: ProgressCallback, cancel: threading.Event | None
) -> tuple[int, int]:
    """The database snapshot, then every blob it names; returns (blobs, bytes)."""
    # While the shared blob lock is held, gc elsewhere cannot remove a blob the snapshot
    # names (its row may be deleted after the snapshot is taken).
    with catalog.blobs.guard():
        progress(0, 1, "copying catalog.db")
        target_db = sqlite3.connect(folder / DB_NAME)
        try:
            catalog.conn.backup(target_db)
            named = [
                row[0] for row in target_db.execute("SELECT DISTINCT sha256 FROM blob_reference")
            ]
        finally:
            target_db.close()
        check_cancel(cancel, f"backing up {catalog.path}")
        store = BlobStore(folder / "blobs")
        total = 0
        stage = Stage(progress, 0.05, 0.9)
        for done, sha256 in enumerate(sorted(named), start=1):
            check_cancel(cancel, f"backing up {catalog.path}")
            source = catalog.blobs.path(sha256)
            if not source.is_file():
                raise IntegrityError(
                    f"blob {sha256} named by {catalog.path / DB_NAME} is missing; "
                    "see 'modeldesk catalog check'"
                )
            try:  # hashed as it is copied: a blob whose bytes changed is refused
                _, size = store.put_file(source, expected_sha256=sha256, cancel=cancel)
            except IntegrityError:
                raise IntegrityError(
                    f"blob {sha256} in {catalog.path}: content does not match its hash; "
                    "see 'modeldesk catalog check'"
                ) from None
            total += size
            stage(done, len(named), "copying blobs")
    return len(named), total
