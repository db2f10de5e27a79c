"""Opening a catalog folder and writing to it, one audited transaction at a time."""

from __future__ import annotations

import contextlib
import getpass
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modeldesk.catalog.audit import Signer, append_audit
from modeldesk.catalog.blobs import BlobStore
from modeldesk.errors import CatalogBusyError, CatalogError, NotFoundError, SchemaVersionError

__all__ = ["DB_NAME", "Catalog", "WriteTransaction", "current_actor", "utc_now"]

DB_NAME = "catalog.db"
BUSY_TIMEOUT_MS = 5_000
# How long a writer keeps retrying BEGIN IMMEDIATE before giving up.
WRITE_LOCK_PATIENCE_S = 60.0


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def current_actor() -> str:
    """Who is making a change: ``MODELDESK_USER`` if set, else the login name."""
    explicit = os.environ.get("MODELDESK_USER")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@dataclass
class WriteTransaction:
    """An open write transaction; ``audit`` is appended when it commits."""

    conn: sqlite3.Connection
    catalog: Catalog
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=utc_now)
    actor: str = field(default_factory=current_actor)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


class Catalog:
    """A catalog folder: ``catalog.db`` plus ``blobs/``.

    Use ``Catalog.init(path)`` to create one and ``Catalog.open(path)`` to open
    an existing one. Reads use ``conn`` directly; every change goes through
    ``write()``, which opens ``BEGIN IMMEDIATE`` and appends the audit row.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.blobs = BlobStore(path / "blobs")
        self._write_lock = threading.RLock()
        # What time a write records. The demo builder and tests replace it to record a
        # history as of past dates (deployments may not be later than it says is now).
        self.clock: Callable[[], str] = utc_now

    # -- opening -----------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> Catalog:
        """Create a new, empty catalog at ``path`` (an empty or missing folder)."""
        folder = Path(path).expanduser().absolute()
        if (folder / DB_NAME).exists():
            raise CatalogError(f"{folder}: already holds a catalog ({DB_NAME} exists)")
        if folder.exists() and not folder.is_dir():
            raise CatalogError(f"{folder}: exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CatalogError(f"{folder}: cannot create the catalog ({error.strerror})") from None
        return cls._connect(folder)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> Catalog:
        """Open the catalog at ``path``; with ``create``, make it if it is missing."""
        folder = Path(path).expanduser().absolute()
        if not (folder / DB_NAME).is_file():
            if create and (not folder.exists() or folder.is_dir()):
                return cls.init(folder)
            if not folder.exists():
                raise NotFoundError(f"{folder}: no such catalog folder")
            raise NotFoundError(
                f"{folder}: not a ModelDesk catalog (no {DB_NAME}); "
                f"create one with 'modeldesk catalog init {folder}'"
            )
        return cls._connect(folder)

    @classmethod
    def _connect(cls, folder: Path) -> Catalog:
        db_path = folder / DB_NAME
        # WAL needs to create catalog.db-wal/-shm beside the database, and imports write
        # blobs: a catalog on a read-only folder cannot even be read, so say so plainly.
        unwritable = [
            path
            for path in (folder, db_path, folder / "blobs")
            if path.exists() and not os.access(path, os.W_OK)
        ]
        if unwritable:
            raise CatalogError(
                f"{unwritable[0]}: not writable; ModelDesk needs write access to the "
                "catalog folder, its catalog.db and blobs/"
            )
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            conn = sqlite3.connect(
                db_path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as error:
            raise CatalogError(f"{db_path}: cannot open the catalog database ({error})") from None
        if mode.lower() != "wal":
            conn.close()
            raise CatalogError(f"{db_path}: could not switch to WAL journal mode (got {mode})")
        catalog = cls(folder, conn)
        try:
            catalog._migrate()
        except BaseException:
            conn.close()
            raise
        return catalog

    def _migrate(self) -> None:
        from modeldesk.catalog.schema import MIGRATIONS, SCHEMA_VERSION

        found = self.schema_version()
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path / DB_NAME}: schema version {found} is newer than this ModelDesk "
                f"supports ({SCHEMA_VERSION}); upgrade ModelDesk to open it"
            )
        if found == SCHEMA_VERSION:
            return
        for index, (name, migrate) in enumerate(MIGRATIONS, start=1):
            with self._immediate():
                # Re-read inside the lock: another process may have migrated meanwhile.
                if self.schema_version() >= index:
                    continue
                migrate(self.conn)
                self.conn.execute(
                    "INSERT INTO schema_migration (name, applied_at) VALUES (?, ?)",
                    (name, utc_now()),
                )
                self.conn.execute(f"PRAGMA user_version = {index}")

    def schema_version(self) -> int:
        """The number of migrations applied to this catalog.db."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE with retries; COMMIT on success, ROLLBACK on any error.

        A deferred transaction that reads and then writes fails at once with
        SQLITE_BUSY in WAL mode whatever the busy timeout, so writers take the
        write lock up front and retry briefly if another writer holds it.
        """
        with self._write_lock:
            deadline = time.monotonic() + WRITE_LOCK_PATIENCE_S
            delay = 0.005
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as error:
                    if not _is_busy(error) or time.monotonic() > deadline:
                        if _is_busy(error):
                            raise CatalogBusyError(
                                f"{self.path / DB_NAME}: another process kept the catalog "
                                f"locked for over {WRITE_LOCK_PATIENCE_S:.0f} s"
                            ) from None
                        raise
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.25)
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(
        self,
        action: str,
        subject: str,
        detail: dict[str, Any] | None = None,
        *,
        signer: Signer | None = None,
    ) -> Iterator[WriteTransaction]:
        """One audited write: yields a transaction; the audit row is added at commit.

        The caller may refine ``tx.subject`` and ``tx.detail`` inside the block
        (for example with the version number it allocated). With ``signer`` the audit
        row is signed by that key.
        """
        with self._immediate() as conn:
            tx = WriteTransaction(conn, self, action, subject, dict(detail or {}), self.clock())
            yield tx
            append_audit(
                conn,
                at=tx.at,
                actor=tx.actor,
                action=tx.action,
                subject=tx.subject,
                detail=tx.detail,
                signer=signer,
            )

    @contextlib.contextmanager
    def write_derived(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for derived, re-computable rows (caches): not audited."""
        with self._immediate() as conn:
            yield conn

    # -- reading ------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read query and return rows addressable by column name."""
        cursor = self.conn.execute(sql, params)
        cursor.row_factory = sqlite3.Row
        return cursor.fetchall()
