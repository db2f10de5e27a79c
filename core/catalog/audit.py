"""The append-only audit log: each row carries the hash of the row before it.

Rows are appended inside the same transaction as the change they describe, so
a change and its audit row land together or not at all. Triggers in the
schema refuse UPDATE and DELETE on the table; ``verify_chain`` detects edits
made behind SQLite's back.

A row may be signed: the signer's key fingerprint is part of its detail (so the hash
covers it) and ``signature`` signs the row's hash. The catalog layer only stores
signatures; ``modeldesk.release.trust`` checks them against the keys the catalog trusts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "GENESIS_HASH",
    "SIGNER_FIELD",
    "AuditRow",
    "Signer",
    "append_audit",
    "audit_row_count",
    "audit_rows",
    "recent_audit_rows",
    "row_hash",
    "signed_audit_rows",
    "signed_payload",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
SIGNER_FIELD = "signer"  # the detail field naming a signed row's key fingerprint


class Signer(Protocol):
    """What signs an audit row: a key's fingerprint and a ``sign(bytes)``."""

    @property
    def fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class AuditRow:
    """One audit log entry."""

    id: int
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    signature: bytes | None = None

    @property
    def signer(self) -> str | None:
        """The fingerprint of the key that signed the row (None: unsigned)."""
        value = self.detail.get(SIGNER_FIELD)
        return value if isinstance(value, str) else None


def signed_payload(digest: str) -> bytes:
    """What a row's signature signs: its hash (which covers the signer's fingerprint)."""
    return f"modeldesk-audit-v1:{digest}".encode("ascii")


def row_hash(
    prev_hash: str, row_id: int, at: str, actor: str, action: str, subject: str, detail: str
) -> str:
    """The hash that chains an audit row to the one before it."""
    canonical = json.dumps(
        [prev_hash, row_id, at, actor, action, subject, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append_audit(
    conn: sqlite3.Connection,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
    signer: Signer | None = None,
) -> str:
    """Append one row inside the caller's open transaction; return its hash.

    With ``signer``, the row names its key and carries its signature of the hash."""
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    row_id = prev_id + 1
    if signer is not None:
        detail = {**detail, SIGNER_FIELD: signer.fingerprint}
    detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = row_hash(prev_hash, row_id, at, actor, action, subject, detail_text)
    values = [row_id, at, actor, action, subject, detail_text, prev_hash, digest]
    columns = "id, at, actor, action, subject, detail, prev_hash, hash"
    if signer is not None:  # (an unsigned row names no signature column: any schema takes it)
        values.append(base64.b64encode(signer.sign(signed_payload(digest))).decode("ascii"))
        columns += ", signature"
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO audit ({columns}) VALUES ({marks})", values)
    return digest


def verify_chain(conn: sqlite3.Connection, upto: int | None = None) -> list[str]:
    """Return one message per broken link in the audit chain (empty if intact), of the
    rows up to id ``upto`` if given."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    cursor = conn.execute(
        "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit "
        "WHERE id <= ? ORDER BY id",
        (upto if upto is not None else 2**62,),
    )
    for row_id, at, actor, action, subject, detail, prev_hash, digest in cursor:
        if row_id != expected_id:
            problems.append(f"audit row {row_id}: expected row {expected_id} (rows missing)")
        if prev_hash != expected_prev:
            problems.append(f"audit row {row_id}: does not chain to the row before it")
        if row_hash(prev_hash, row_id, at, actor, action, subject, detail) != digest:
            problems.append(f"audit row {row_id}: content does not match its hash")
        expected_prev = digest
        expected_id = row_id + 1
    return problems


def audit_row_count(conn: sqlite3.Connection) -> int:
    """How many rows the audit log holds."""
    return int(conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


_COLUMNS = "id, at, actor, action, subject, detail, prev_hash, hash, signature"


def _rows(cursor: Iterator[tuple]) -> list[AuditRow]:
    return [
        AuditRow(
            row_id, at, actor, action, subject, json.loads(detail), prev_hash, digest,
            base64.b64decode(signature) if signature else None,
        )
        for row_id, at, actor, action, subject, detail, prev_hash, digest, signature in cursor
    ]  # fmt: skip


def recent_audit_rows(conn: sqlite3.Connection, limit: int) -> list[AuditRow]:
    """The newest ``limit`` audit rows, newest first."""
    return _rows(conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id DESC LIMIT ?", (limit,)))


def audit_rows(conn: sqlite3.Connection, actions: tuple[str, ...]) -> list[AuditRow]:
    """Every row of these actions, oldest first, each checked against its own hash (a row
    whose content does not match is a ``ValueError`` naming it)."""
    marks = ", ".join("?" for _ in actions)
    raw = conn.execute(
        f"SELECT {_COLUMNS} FROM audit WHERE action IN ({marks}) ORDER BY id", actions
    ).fetchall()
    for row_id, at, actor, action, subject, detail, prev_hash, digest, _ in raw:
        if row_hash(prev_hash, row_id, at, actor, action, subject, detail) != digest:
            raise ValueError(f"audit row {row_id} ({action}): content does not match its hash")
    return _rows(iter(raw))


def signed_audit_rows(conn: sqlite3.Connection) -> list[AuditRow]:
    """Every row that names a signer or carries a signature, oldest first."""
    query = (
        f"SELECT {_COLUMNS} FROM audit WHERE signature IS NOT NULL "
        f"OR json_extract(detail, '$.{SIGNER_FIELD}') IS NOT NULL ORDER BY id"
    )
    return _rows(iter(conn.execute(query).fetchall()))
