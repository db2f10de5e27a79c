"""Catalog health: ``check`` finds what is wrong, ``gc`` removes unreferenced blobs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from modeldesk.catalog.audit import verify_chain
from modeldesk.catalog.paths import file_name_problem, relative_path_problem
from modeldesk.catalog.store import Catalog
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["CheckReport", "GcReport", "check_catalog", "collect_garbage", "discard_unreferenced"]


@dataclass
class CheckReport:
    """Problems found (the catalog is healthy when there are none) and notes."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blobs_checked: int = 0
    audit_rows: int = 0

    @property
    def ok(self) -> bool:
        """True if nothing is wrong."""
        return not self.problems


@dataclass
class GcReport:
    """What garbage collection removed."""

    blobs_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    temp_files_removed: int = 0


def _referenced(catalog: Catalog) -> set[str]:
    return {row[0] for row in catalog.conn.execute("SELECT DISTINCT sha256 FROM blob_reference")}


def check_catalog(
    catalog: Catalog,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> CheckReport:
    """Check database integrity, foreign keys, every named blob's hash and the audit chain."""
    report = CheckReport()
    conn = catalog.conn
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        report.problems += [f"catalog.db: {message}" for message in integrity]
    for table, rowid, parent, _index in conn.execute("PRAGMA foreign_key_check"):
        report.problems.append(f"{table} row {rowid}: refers to a missing {parent} row")

    report.problems += _path_problems(catalog)

    named = sorted(_referenced(catalog))
    for done, sha256 in enumerate(named, start=1):
        check_cancel(cancel, "catalog check")
        problem = catalog.blobs.verify(sha256)
        if problem is not None:
            owners = catalog.query(
                "SELECT owner, owner_id FROM blob_reference WHERE sha256 = ?", (sha256,)
            )
            named_by = ", ".join(f"{row['owner']} #{row['owner_id']}" for row in owners)
            report.problems.append(f"{problem}; named by {named_by}")
        progress(done, len(named), "verifying blobs")
    report.blobs_checked = len(named)

    report.problems += verify_chain(conn)
    report.audit_rows = int(conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    orphans = set(catalog.blobs.iter_hashes()) - set(named)
    if orphans:
        report.notes.append(
            f"{len(orphans)} blob(s) named by no record ('catalog gc' removes them)"
        )
    temps = [
        temp
        for temp in catalog.blobs.iter_temps()
        if not (temp.is_dir() and catalog.blobs.scratch_in_use(temp))
    ]
    if temps:
        report.notes.append(f"{len(temps)} temporary file(s) from interrupted writes")
    return report


def _path_problems(catalog: Catalog) -> list[str]:
    """File names and external-data paths in catalog.db that would leave their folder."""
    problems = []
    rows = catalog.query(
        "SELECT v.id, m.name || '@' || v.version AS ref, v.file_name, f.path FROM model_version v"
        " JOIN model m ON m.id = v.model_id LEFT JOIN model_file f ON f.model_version_id = v.id"
    )
    seen = set()
    for row in rows:
        if row["id"] not in seen:
            seen.add(row["id"])
            problem = file_name_problem(row["file_name"])
            if problem is not None:
                problems.append(
                    f"model_version #{row['id']} ({row['ref']}): file name "
                    f"{row['file_name']!r} {problem}"
                )
        if row["path"] is not None:
            problem = relative_path_problem(row["path"])
            if problem is not None:
                problems.append(
                    f"model_file of model_version #{row['id']} ({row['ref']}): path "
                    f"{row['path']!r} {problem}"
                )
    return problems


def collect_garbage(catalog: Catalog, *, min_age_s: float | None = None) -> GcReport:
    """Remove blobs that no record names, and temporary files of interrupted writes.

    Holds the blob store's exclusive lock, so an import that has written its
    blob but not yet committed the row naming it is waited for, not robbed.
    Where the OS has no file locks, only files older than ``min_age_s``
    (default one hour) are removed.
    """
    try:
        import fcntl  # noqa: F401

        default_age = 0.0
    except ImportError:
        default_age = 3600.0
    age_limit = default_age if min_age_s is None else min_age_s
    report = GcReport()
    now = time.time()
    with catalog.blobs.guard(exclusive=True):
        referenced = _referenced(catalog)
        for sha256 in list(catalog.blobs.iter_hashes()):
            if sha256 in referenced:
                continue
            path = catalog.blobs.path(sha256)
            stat = path.stat()
            if now - stat.st_mtime < age_limit:
                continue
            catalog.blobs.remove(sha256)
            report.blobs_removed.append(sha256)
            report.bytes_freed += stat.st_size
        for temp in catalog.blobs.iter_temps():
            if temp.is_dir() and catalog.blobs.scratch_in_use(temp):
                continue  # another process is working in it
            if now - temp.lstat().st_mtime >= age_limit:
                catalog.blobs.remove_temp(temp)
                report.temp_files_removed += 1
    if report.blobs_removed or report.temp_files_removed:
        with catalog.write(
            "catalog.gc",
            "catalog",
            {"blobs_removed": len(report.blobs_removed), "bytes_freed": report.bytes_freed},
        ):
            pass
    return report


def discard_unreferenced(catalog: Catalog, hashes: list[str]) -> None:
    """Remove blobs an interrupted import created, unless a record names them by now.

    Takes the store's exclusive lock, so an import of the same bytes that is
    still writing finishes (and names the blob) first. Not audited: these
    blobs never became part of the catalog's record.
    """
    if not hashes:
        return
    with catalog.blobs.guard(exclusive=True):
        referenced = _referenced(catalog)
        for sha256 in hashes:
            if sha256 not in referenced:
                catalog.blobs.remove(sha256)
