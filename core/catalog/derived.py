"""Derived results (predictions, explanations) cached as blobs, keyed by their inputs.

A derived result is a pure function of a model version, a dataset version and some
parameters, so it is stored once under a key hashed from all of them and read back
instead of recomputed. Editing a version's feature mapping changes the key, because
the mapping is part of it. These rows are caches, not part of the audited record:
``catalog gc`` keeps their blobs while the row exists, and a blob that fails its hash
check is simply recomputed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.catalog.store import Catalog, utc_now
from core.errors import IntegrityError, NotFoundError

__all__ = [
    "DerivedEntry",
    "derived_key",
    "has_derived",
    "list_derived",
    "load_derived",
    "store_derived",
]

# Bump when the stored layout of a derived kind changes, so old entries are not read.
FORMAT = 1


@dataclass(frozen=True)
class DerivedEntry:
    """One cached result's row."""

    key: str
    kind: str
    params: dict[str, Any]
    sha256: str
    summary: dict[str, Any]
    created_at: str
    seconds: float


def derived_key(kind: str, inputs: dict[str, Any]) -> str:
    """A stable hash of ``kind`` and every input (JSON-serialisable) of a result."""
    text = json.dumps({"format": FORMAT, "kind": kind, **inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def has_derived(catalog: Catalog, key: str) -> bool:
    """Whether a result is stored for ``key`` (its blob is checked when it is read)."""
    return bool(catalog.query("SELECT 1 FROM derived WHERE key = ?", (key,)))


def load_derived(catalog: Catalog, key: str) -> bytes | None:
    """The stored bytes for ``key``, or None when absent or damaged (recompute then)."""
    rows = catalog.query("SELECT sha256 FROM derived WHERE key = ?", (key,))
    if not rows:
        return None
    try:
        return catalog.blobs.read_bytes(rows[0]["sha256"])
    except (IntegrityError, NotFoundError, OSError):
        return None


def store_derived(
    catalog: Catalog,
    key: str,
    *,
    kind: str,
    model_version_id: int,
    dataset_version_id: int,
    params: dict[str, Any],
    data: bytes,
    summary: dict[str, Any] | None = None,
    seconds: float = 0.0,
) -> None:
    """Keep ``data`` as the result for ``key`` (replacing an older row for the key)."""
    with catalog.blobs.guard():
        sha256 = catalog.blobs.put_bytes(data)
        with catalog.write_derived() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO derived (key, kind, model_version_id, "
                "dataset_version_id, params, sha256, summary, created_at, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    kind,
                    model_version_id,
                    dataset_version_id,
                    json.dumps(params, sort_keys=True),
                    sha256,
                    json.dumps(summary or {}, sort_keys=True),
                    utc_now(),
                    round(seconds, 3),
                ),
            )


def list_derived(catalog: Catalog, kind: str, model_version_id: int) -> list[DerivedEntry]:
    """Cached results of ``kind`` for a model version, newest first."""
    rows = catalog.query(
        "SELECT * FROM derived WHERE kind = ? AND model_version_id = ? "
        "ORDER BY created_at DESC, rowid DESC",
        (kind, model_version_id),
    )
    return [
        DerivedEntry(
            row["key"],
            row["kind"],
            json.loads(row["params"]),
            row["sha256"],
            json.loads(row["summary"] or "{}"),
            row["created_at"],
            row["seconds"] or 0.0,
        )
        for row in rows
    ]
