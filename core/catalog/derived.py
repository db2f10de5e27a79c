"""Derived results (predictions, explanations) cached as blobs, keyed by their inputs.

A derived result is a pure function of a model version's content, a dataset
version's content, the feature mapping between them, the runtimes that computed it
and some options, so it is stored once under a key hashed from all of them and read
back instead of recomputed. Every key is built here, by :func:`derived_key`, from
every one of those inputs, so no caller can forget one: two versions whose ``.onnx``
bytes are equal but whose external weights differ get different keys, and so do the
same inputs under another ONNX Runtime or shap. These rows are caches, not part of
the audited record: ``catalog gc`` keeps their blobs while the row exists, and a blob
that fails its hash check is simply recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

from modeldesk.catalog.store import Catalog, utc_now
from modeldesk.errors import IntegrityError, NotFoundError
from modeldesk.models.model_facts import StoredFile

__all__ = [
    "FORMAT",
    "DerivedEntry",
    "ModelContent",
    "derived_key",
    "has_derived",
    "list_derived",
    "load_derived",
    "runtime_versions",
    "store_derived",
]

# ModelDesk's result format: bump when the stored layout of a derived kind changes (or
# how a result is computed), so old entries are not read.
FORMAT = 2


class ModelContent(Protocol):
    """What a model version's content is made of (a ``ModelVersion`` is one)."""

    @property
    def sha256(self) -> str: ...  # the .onnx file

    @property
    def external_files(self) -> Sequence[StoredFile]: ...


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


def runtime_versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``packages`` (read from their metadata, nothing imported)."""
    return {package: _installed_version(package) for package in packages}


@functools.lru_cache(maxsize=64)
def _installed_version(package: str) -> str:
    # Reading a distribution's metadata walks sys.path (milliseconds); a process does not
    # change its installed packages under itself, so once per package is enough.
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def derived_key(
    kind: str,
    *,
    model: ModelContent,
    datasets: Mapping[str, str],
    features: Sequence[str],
    binding: str,
    runtimes: Iterable[str],
    options: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of a ``kind`` result: a hash of everything that defines it.

    ``model`` contributes its ``.onnx`` hash and every external data file (path and
    hash); ``datasets`` maps each role (``rows``, ``background``) to a dataset version's
    content hash; ``features`` and ``binding`` are the feature mapping; ``runtimes``
    names the packages that compute the result (their installed versions are part of
    the key, as is :data:`FORMAT`); ``options`` holds every other choice (JSON values).
    """
    inputs = {
        "format": FORMAT,
        "kind": kind,
        "model": {
            "onnx": model.sha256,
            "external": sorted((entry.path, entry.sha256) for entry in model.external_files),
        },
        "datasets": dict(datasets),
        "features": list(features),
        "binding": binding,
        "runtimes": runtime_versions(sorted(set(runtimes))),
        "options": dict(options or {}),
    }
    text = json.dumps(inputs, sort_keys=True, allow_nan=False)
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
