"""Field captures in the catalog: import (checked, stored as a Parquet blob), list, show.

A capture names the model it ran: a release id (``--release``, or ``release`` in its
``capture.json``), a model version (``--model``) or the model's sha256 (from the
manifest). What the flags and the manifest say must agree; the capture is checked
against that model before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.field.read import CaptureTable, read_capture
from modeldesk.models.registry import ModelVersion, get_model_version, model_version_by_id
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["Capture", "capture_table", "get_capture", "import_capture", "list_captures"]


@dataclass(frozen=True)
class Capture:
    """One stored field capture."""

    id: int
    name: str
    model: ModelVersion
    release_id: int | None
    device: str | None
    profile: str | None
    source_name: str
    source_format: str
    source_sha256: str
    sha256: str
    rows: int
    features: list[str]
    outputs: dict[str, int]
    first_at: str
    last_at: str
    manifest: dict[str, Any]
    warnings: list[str]
    created_at: str
    created_by: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``field show --json`` prints."""
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model.ref,
            "model_sha256": self.model.sha256,
            "release": self.release_id,
            "device": self.device,
            "profile": self.profile,
            "source": {
                "name": self.source_name,
                "format": self.source_format,
                "sha256": self.source_sha256,
            },
            "sha256": self.sha256,
            "rows": self.rows,
            "features": self.features,
            "outputs": self.outputs,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "warnings": self.warnings,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


def _time_text(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _model_for(
    catalog: Catalog, path: Path, manifest: dict[str, Any], release: int | None, model: str | None
) -> tuple[ModelVersion, int | None]:
    """The model version the capture ran, from the flags and the manifest, which agree."""
    from modeldesk.release.records import get_release

    if release is not None and model is not None:
        raise BadInputError("give --release or --model, not both")
    named = manifest.get("release")
    if release is not None and named is not None and named != release:
        raise BadInputError(f"{path}: capture.json names release #{named}, not #{release}")
    release = release if release is not None else (named if model is None else None)
    if release is not None:
        found = get_release(catalog, release)
        version, release_id = found.model, found.id
    elif model is not None:
        version, release_id = get_model_version(catalog, model), None
    elif manifest.get("model_sha256"):
        rows = catalog.query(
            "SELECT id FROM model_version WHERE sha256 = ? ORDER BY id DESC",
            (manifest["model_sha256"],),
        )
        if not rows:
            raise NotFoundError(
                f"{path}: capture.json names model sha256 {manifest['model_sha256'][:16]}…, "
                "which no model version in this catalog has"
            )
        version, release_id = model_version_by_id(catalog, rows[0]["id"]), None
    else:
        raise BadInputError(
            f"{path}: say which model ran: --release ID or --model NAME@V (or a capture.json)"
        )
    sha = manifest.get("model_sha256")
    if sha and sha != version.sha256:
        raise BadInputError(
            f"{path}: capture.json names model sha256 {sha[:16]}…, but {version.ref} is "
            f"{version.sha256[:16]}…"
        )
    return version, release_id


def _checked_into(
    path: Path, model: ModelVersion, target: Path, progress: ProgressCallback, cancel: Any
) -> CaptureTable:
    """Check the capture at ``path`` and write its checked rows to ``target`` (Parquet):
    a Parquet capture streamed row group by row group, the others read whole."""
    import pyarrow.parquet as pq

    from modeldesk.field.read import (
        STORED_ROW_GROUP,
        stored_parquet_options,
        stream_parquet_capture,
    )

    if path.suffix.lower() in (".parquet", ".pq"):
        return stream_parquet_capture(path, model, target, progress=progress, cancel=cancel)
    checked = read_capture(path, model, progress=progress, cancel=cancel)
    pq.write_table(checked.table, target, row_group_size=STORED_ROW_GROUP,
                   **stored_parquet_options(checked.table.schema))  # fmt: skip
    return checked


def import_capture(
    catalog: Catalog,
    path: Path,
    *,
    release: int | None = None,
    model: str | None = None,
    device: str | None = None,
    name: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Capture:
    """Check the capture at ``path`` against the model it ran and store it (audited)."""
    from modeldesk.catalog.blobs import hash_file
    from modeldesk.field.read import check_device, read_manifest

    path = Path(path)
    if device is not None:
        check_device(device, "--device")
    if not path.is_file():
        raise BadInputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    manifest = read_manifest(path)
    version, release_id = _model_for(catalog, path, manifest, release, model)
    with catalog.blobs.guard():
        temp = catalog.blobs.new_temp()
        try:
            checked = _checked_into(path, version, temp, progress, cancel)
            sha256 = catalog.blobs.adopt(temp)
        except BaseException:
            catalog.blobs.remove_temp(temp)
            raise
        layout = {"features": checked.features, "outputs": checked.outputs}
        device = device or manifest.get("device") or None
        with catalog.write("field.import", f"capture of {version.ref}") as tx:
            cursor = tx.conn.execute(
                "INSERT INTO field_capture (name, model_version_id, release_id, device, profile,"
                " source_name, source_format, source_sha256, sha256, rows, layout, first_at,"
                " last_at, manifest, warnings, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name or path.stem,
                    version.id,
                    release_id,
                    device,
                    manifest.get("profile") or None,
                    path.name,
                    checked.format,
                    hash_file(path),
                    sha256,
                    checked.rows,
                    json.dumps(layout),
                    _time_text(checked.first),
                    _time_text(checked.last),
                    json.dumps(manifest, sort_keys=True),
                    json.dumps(checked.warnings),
                    tx.at,
                    tx.actor,
                ),
            )
            capture_id = int(cursor.lastrowid or 0)
            tx.subject = f"capture #{capture_id} of {version.ref}"
            tx.detail = {"capture": capture_id, "rows": checked.rows, "sha256": sha256}
    return get_capture(catalog, capture_id)


def _capture(catalog: Catalog, row: Any) -> Capture:
    layout = json.loads(row["layout"])
    return Capture(
        id=row["id"],
        name=row["name"],
        model=model_version_by_id(catalog, row["model_version_id"]),
        release_id=row["release_id"],
        device=row["device"],
        profile=row["profile"],
        source_name=row["source_name"],
        source_format=row["source_format"],
        source_sha256=row["source_sha256"],
        sha256=row["sha256"],
        rows=row["rows"],
        features=list(layout["features"]),
        outputs=dict(layout["outputs"]),
        first_at=row["first_at"],
        last_at=row["last_at"],
        manifest=json.loads(row["manifest"]),
        warnings=json.loads(row["warnings"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def get_capture(catalog: Catalog, capture_id: int) -> Capture:
    """A stored capture by id."""
    rows = catalog.query("SELECT * FROM field_capture WHERE id = ?", (capture_id,))
    if not rows:
        raise NotFoundError(f"no field capture #{capture_id} (see 'modeldesk field list')")
    return _capture(catalog, rows[0])


def list_captures(catalog: Catalog, model: str | None = None) -> list[Capture]:
    """Stored captures, newest first; of one model's versions with ``model``."""
    rows = catalog.query(
        "SELECT field_capture.* FROM field_capture JOIN model_version"
        " ON model_version.id = field_capture.model_version_id"
        " JOIN model ON model.id = model_version.model_id"
        " WHERE (? IS NULL OR model.name = ?) ORDER BY field_capture.id DESC",
        (model, model),
    )
    return [_capture(catalog, row) for row in rows]


def capture_table(catalog: Catalog, capture: Capture) -> Any:
    """The capture's stored rows (an Arrow table), read from its verified blob."""
    import pyarrow.parquet as pq

    return pq.read_table(catalog.blobs.verified_path(capture.sha256))
