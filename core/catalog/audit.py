"""The append-only audit log: each row carries the hash of the row before it.

Rows are appended inside the same transaction as the change they describe, so
a change and its audit row land together or not at all. Triggers in the
schema refuse UPDATE and DELETE on the table; ``verify_chain`` detects edits
made behind SQLite's back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "AuditRow",
    "append_audit",
    "audit_row_count",
    "recent_audit_rows",
    "row_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


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
) -> str:
    """Append one row inside the caller's open transaction; return its hash."""
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    row_id = prev_id + 1
    detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = row_hash(prev_hash, row_id, at, actor, action, subject, detail_text)
    conn.execute(
        "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row_id, at, actor, action, subject, detail_text, prev_hash, digest),
    )
    return digest


def verify_chain(conn: sqlite3.Connection) -> list[str]:
    """Return one message per broken link in the audit chain (empty if intact)."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    cursor = conn.execute(
        "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY id"
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


def recent_audit_rows(conn: sqlite3.Connection, limit: int) -> list[AuditRow]:
    """The newest ``limit`` audit rows, newest first."""
    cursor = conn.execute(
        "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        AuditRow(row_id, at, actor, action, subject, json.loads(detail), prev_hash, digest)
        for row_id, at, actor, action, subject, detail, prev_hash, digest in cursor
    ]
