"""Model versions in the catalog: import, look up, list."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.catalog.blobs import hash_file
from core.catalog.maintenance import discard_unreferenced
from core.catalog.names import VersionRef, normalise_name, parse_ref
from core.catalog.records import DATASET, MODEL, get_or_create_record, next_version
from core.catalog.store import Catalog
from core.datasets.registry import DatasetVersion, get_dataset_version
from core.errors import NotFoundError
from core.models.examine import examine_model, sniff_model_file
from core.models.features import FeatureMapping, resolve_feature_mapping
from core.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = [
    "ModelImport",
    "ModelVersion",
    "get_model_version",
    "import_model",
    "list_model_versions",
    "list_model_versions_json",
    "update_model_version",
]


@dataclass(frozen=True)
class ModelVersion:
    """One stored version of a model, with the facts its ONNX file states."""

    id: int
    name: str
    version: int
    sha256: str
    file_name: str
    file_size: int
    facts: dict[str, Any]
    parent_version: int | None
    trained_on: str | None
    label: str | None
    features: list[str] | None
    feature_binding: str | None
    classes: list[str] | None
    tags: dict[str, str]
    description: str | None
    created_at: str
    created_by: str
    external_files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``NAME@V`` for this version."""
        return f"{self.name}@{self.version}"

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The model's graph inputs (name, kind, dtype, shape)."""
        return list(self.facts.get("inputs", []))

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The model's graph outputs (name, kind, dtype, shape)."""
        return list(self.facts.get("outputs", []))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of this version."""
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "sha256": self.sha256,
            "file_name": self.file_name,
            "file_size": self.file_size,
            "parent_version": self.parent_version,
            "trained_on": self.trained_on,
            "label": self.label,
            "features": self.features,
            "feature_binding": self.feature_binding,
            "classes": self.classes,
            "tags": self.tags,
            "description": self.description,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "external_files": self.external_files,
            "facts": self.facts,
        }


@dataclass(frozen=True)
class ModelImport:
    """The outcome of an import: the version, and whether this call created it."""

    version: ModelVersion
    created: bool


def _loads(text: str | None, default: Any) -> Any:
    return json.loads(text) if text else default


def _version_from_row(catalog: Catalog, row: sqlite3.Row) -> ModelVersion:
    parent_version = None
    if row["parent_id"] is not None:
        parent_version = int(MODEL.version_row_by_id(catalog, row["parent_id"])["version"])
    trained_on = None
    if row["trained_on_id"] is not None:
        dataset_row = DATASET.version_row_by_id(catalog, row["trained_on_id"])
        trained_on = f"{dataset_row['name']}@{dataset_row['version']}"
    files = [
        dict(file_row)
        for file_row in catalog.query(
            "SELECT path, sha256, size FROM model_file WHERE model_version_id = ? ORDER BY path",
            (row["id"],),
        )
    ]
    return ModelVersion(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        sha256=row["sha256"],
        file_name=row["file_name"],
        file_size=row["file_size"],
        facts=json.loads(row["facts"]),
        parent_version=parent_version,
        trained_on=trained_on,
        label=row["label"],
        features=_loads(row["features"], None),
        feature_binding=row["feature_binding"],
        classes=_loads(row["classes"], None),
        tags=_loads(row["tags"], {}),
        description=row["description"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        external_files=files,
    )


def get_model_version(catalog: Catalog, ref: str | VersionRef) -> ModelVersion:
    """The model version named by ``NAME@V`` / ``NAME@latest`` / ``NAME``."""
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    return _version_from_row(catalog, MODEL.find_version_row(catalog, parsed))


def list_model_versions(catalog: Catalog, name: str | None = None) -> list[dict[str, Any]]:
    """A summary row per model version (of ``name`` if given), by name then version."""
    return list(json.loads(list_model_versions_json(catalog, name)))


def list_model_versions_json(catalog: Catalog, name: str | None = None) -> str:
    """``list_model_versions`` as a JSON array, built by SQLite.

    Reads only summary columns, never the full facts, and builds the JSON in
    SQLite so a listing of tens of thousands of versions costs no Python
    object per field (the CLI prints it as it is).
    """
    where, params = "", ()
    if name is not None:
        params = (normalise_name(name, what="model name"),)
        if not catalog.query("SELECT 1 FROM model WHERE name = ?", params):
            raise NotFoundError(f"model {params[0]!r}: not in the catalog")
        where = "WHERE m.name = ?"
    sql = f"""
        SELECT json_group_array(json(row)) FROM (
            SELECT json_object(
                'name', m.name, 'version', v.version, 'ref', m.name || '@' || v.version,
                'sha256', v.sha256, 'file_size', v.file_size, 'param_count', v.param_count,
                'producer', v.producer, 'opsets', json(v.opsets),
                'inputs', json(v.inputs_summary), 'outputs', json(v.outputs_summary),
                'tags', json(v.tags), 'created_at', v.created_at, 'created_by', v.created_by,
                'parent_version', p.version
            ) AS row
            FROM model_version v JOIN model m ON m.id = v.model_id
            LEFT JOIN model_version p ON p.id = v.parent_id
            {where}
            ORDER BY m.name, v.version
        )
    """
    (listing,) = catalog.conn.execute(sql, params).fetchone()
    return str(listing)


def _io_summary(values: list[dict[str, Any]]) -> list[str]:
    from core.models.contract import format_io

    return [format_io(value) for value in values]


def _find_same_content(catalog: Catalog, name: str, sha256: str) -> list[sqlite3.Row]:
    return catalog.query(
        "SELECT v.*, m.name AS name FROM model_version v JOIN model m ON m.id = v.model_id"
        " WHERE m.name = ? AND v.sha256 = ? ORDER BY v.version",
        (name, sha256),
    )


def _hash_external_files(
    path: Path, facts: dict[str, Any], cancel: threading.Event | None
) -> list[tuple[str, str, int]]:
    """(relative path, sha256, size) per external data file the examiner accepted."""
    folder = path.parent
    return [
        (entry["path"], hash_file(folder / entry["path"], cancel=cancel), int(entry["size"]))
        for entry in facts.get("external_data", [])
    ]


def _record_row(
    tx_conn: sqlite3.Connection,
    model_id: int,
    version: int,
    sha256: str,
    path: Path,
    facts: dict[str, Any],
    *,
    parent_id: int | None,
    trained_on: DatasetVersion | None,
    label: str | None,
    mapping: FeatureMapping | None,
    classes: list[str] | None,
    tags: dict[str, str],
    at: str,
    actor: str,
    description: str | None = None,
) -> int:
    cursor = tx_conn.execute(
        "INSERT INTO model_version (model_id, version, sha256, file_name, file_size, ir_version,"
        " producer, opsets, param_count, initializer_bytes, inputs_summary, outputs_summary,"
        " facts, parent_id, trained_on_id, label, features, feature_binding, classes, tags,"
        " description, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            model_id,
            version,
            sha256,
            path.name,
            facts["file_size"],
            facts["ir_version"],
            " ".join(filter(None, [facts["producer_name"], facts["producer_version"]])),
            json.dumps({item["domain"]: item["version"] for item in facts["opsets"]}),
            facts["param_count"],
            facts["initializer_bytes"],
            json.dumps(_io_summary(facts["inputs"])),
            json.dumps(_io_summary(facts["outputs"])),
            json.dumps(facts),
            parent_id,
            trained_on.id if trained_on else None,
            label,
            json.dumps(mapping.columns) if mapping else None,
            mapping.binding if mapping else None,
            json.dumps(classes) if classes is not None else None,
            json.dumps(tags, sort_keys=True),
            description,
            at,
            actor,
        ),
    )
    return int(cursor.lastrowid or 0)


def _write_version(
    catalog: Catalog,
    name: str,
    path: Path,
    sha256: str,
    facts: dict[str, Any],
    externals: list[tuple[str, str, int]],
    *,
    parent: int | None,
    parent_id: int | None,
    dataset: DatasetVersion | None,
    label: str | None,
    mapping: FeatureMapping | None,
    classes: list[str] | None,
    tags: dict[str, str],
    description: str | None,
) -> int:
    """Record the version, its external files and its audit row in one transaction."""
    with catalog.write("model.import", f"model {name}") as tx:
        model_id = get_or_create_record(
            tx.conn, MODEL, name, tx.at, tx.actor, task=facts.get("task")
        )
        version = next_version(tx.conn, MODEL, model_id)
        version_id = _record_row(
            tx.conn,
            model_id,
            version,
            sha256,
            path,
            facts,
            parent_id=parent_id,
            trained_on=dataset,
            label=label,
            mapping=mapping,
            classes=classes,
            tags=tags,
            at=tx.at,
            actor=tx.actor,
            description=description,
        )
        tx.conn.executemany(
            "INSERT INTO model_file (model_version_id, path, sha256, size) VALUES (?, ?, ?, ?)",
            ((version_id, rel, file_sha, size) for rel, file_sha, size in externals),
        )
        tx.subject = f"model {name}@{version}"
        tx.detail = {
            "name": name,
            "version": version,
            "sha256": sha256,
            "file": path.name,
            "external_files": len(externals),
            "parent_version": parent,
            "trained_on": dataset.ref if dataset else None,
        }
    return version_id


def import_model(
    catalog: Catalog,
    file: str | Path,
    *,
    name: str,
    parent: int | None = None,
    trained_on: str | None = None,
    label: str | None = None,
    features: list[str] | None = None,
    classes: list[str] | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> ModelImport:
    """Import an ONNX file as the next version of model ``name``.

    The file is examined in a child process first (type, size, checker,
    shape inference, a trial ONNX Runtime session); nothing is stored unless
    it passes. A file whose bytes equal an existing version of the same name
    returns that version and creates nothing.
    """
    name = normalise_name(name, what="model name")
    path = Path(file)
    sniff_model_file(path)
    tags = {normalise_name(k, what="tag"): str(v) for k, v in (tags or {}).items()}

    # Resolve every reference before the expensive work, so mistakes fail fast.
    parent_id = None
    if parent is not None:
        parent_id = MODEL.find_version_row(catalog, VersionRef(name, parent))["id"]
    dataset = get_dataset_version(catalog, trained_on) if trained_on else None

    sha256 = hash_file(path, progress=Stage(progress, 0.0, 0.1), cancel=cancel)
    same = _find_same_content(catalog, name, sha256)
    facts = None
    if same:
        stored = _version_from_row(catalog, same[0])
        if not stored.external_files:
            return ModelImport(stored, created=False)
        facts = examine_model(path, progress=Stage(progress, 0.1, 0.6), cancel=cancel)
        externals = _hash_external_files(path, facts, cancel)
        for row in same:
            candidate = _version_from_row(catalog, row)
            stored_files = [(f["path"], f["sha256"], f["size"]) for f in candidate.external_files]
            if sorted(stored_files) == sorted(externals):
                return ModelImport(candidate, created=False)
    if facts is None:
        facts = examine_model(path, progress=Stage(progress, 0.1, 0.6), cancel=cancel)
        externals = _hash_external_files(path, facts, cancel)

    mapping = resolve_feature_mapping(
        facts["inputs"], dataset, features=features, label=label, model_file=path
    )
    if label is None and dataset is not None:
        label = dataset.label
    if classes is None:
        classes = _classes_from_metadata(facts) or facts.get("class_names")
    check_cancel(cancel, str(path))

    created_blobs: list[str] = []
    try:
        with catalog.blobs.guard():
            for source, file_sha in [(path, sha256)] + [
                (path.parent / relative, ext_sha) for relative, ext_sha, _ in externals
            ]:
                if not catalog.blobs.exists(file_sha):
                    created_blobs.append(file_sha)
                catalog.blobs.put_file(
                    source,
                    expected_sha256=file_sha,
                    progress=Stage(progress, 0.6, 0.9),
                    cancel=cancel,
                )
            check_cancel(cancel, str(path))
            version_id = _write_version(
                catalog,
                name,
                path,
                sha256,
                facts,
                externals,
                parent=parent,
                parent_id=parent_id,
                dataset=dataset,
                label=label,
                mapping=mapping,
                classes=classes,
                tags=tags,
                description=description,
            )
    except BaseException:
        # A cancelled or failed import leaves no blob of its own behind.
        discard_unreferenced(catalog, created_blobs)
        raise
    progress(1, 1, "imported")
    return ModelImport(
        _version_from_row(catalog, MODEL.version_row_by_id(catalog, version_id)), True
    )


def _classes_from_metadata(facts: dict[str, Any]) -> list[str] | None:
    """Class names from metadata_props (``classes``, ``class_names`` or ``labels``)."""
    metadata = facts.get("metadata", {})
    for key in ("classes", "class_names", "labels"):
        raw = metadata.get(key)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = [item.strip() for item in raw.split(",")]
        if isinstance(parsed, list) and parsed:
            return [str(item) for item in parsed]
        if isinstance(parsed, dict) and parsed:
            # {"0": "cat", "1": "dog"}: order by key as a number where possible.
            def order(item: tuple[str, Any]) -> tuple[int, str]:
                key_text = str(item[0])
                return (int(key_text), "") if key_text.isdigit() else (1 << 62, key_text)

            return [str(value) for _, value in sorted(parsed.items(), key=order)]
    return None


def update_model_version(
    catalog: Catalog,
    ref: str | VersionRef,
    *,
    tags: dict[str, str] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Replace a version's tags and/or description (Markdown); audited."""
    version = get_model_version(catalog, ref)
    changes: dict[str, Any] = {}
    if tags is not None:
        changes["tags"] = {normalise_name(k, what="tag"): str(v) for k, v in tags.items()}
    if description is not None:
        changes["description"] = description
    if not changes:
        return version
    with catalog.write("model.update", f"model {version.ref}", changes) as tx:
        if "tags" in changes:
            tx.conn.execute(
                "UPDATE model_version SET tags = ? WHERE id = ?",
                (json.dumps(changes["tags"], sort_keys=True), version.id),
            )
        if "description" in changes:
            tx.conn.execute(
                "UPDATE model_version SET description = ? WHERE id = ?",
                (description, version.id),
            )
    return get_model_version(catalog, version.ref)
