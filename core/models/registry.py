"""Model versions in the catalog: import, look up, list."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from modeldesk.catalog.names import VersionRef, normalise_name, parse_ref
from modeldesk.catalog.records import DATASET, MODEL
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.model_facts import ModelFacts, StoredFile, ValueInfo

__all__ = [
    "ModelVersion",
    "edit_model_version",
    "get_model_version",
    "list_model_versions",
    "list_model_versions_json",
    "model_version_by_id",
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
    facts: ModelFacts
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
    external_files: list[StoredFile] = field(default_factory=list)
    author_key: str | None = None  # fingerprint of the importer's signing key, if they had one
    author_statement: str | None = None  # what that key signed at import (see release.keys)
    author_signature: str | None = None  # base64

    @property
    def ref(self) -> str:
        """``NAME@V`` for this version."""
        return f"{self.name}@{self.version}"

    @property
    def inputs(self) -> list[ValueInfo]:
        """The model's graph inputs (name, kind, dtype, shape)."""
        return list(self.facts.inputs)

    @property
    def outputs(self) -> list[ValueInfo]:
        """The model's graph outputs (name, kind, dtype, shape)."""
        return list(self.facts.outputs)

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
            "author_key": self.author_key,
            "external_files": [entry.to_dict() for entry in self.external_files],
            "facts": self.facts.to_dict(),
        }


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
        StoredFile(file_row["path"], file_row["sha256"], int(file_row["size"]))
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
        facts=ModelFacts.from_dict(json.loads(row["facts"])),
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
        author_key=row["author_key"],
        author_statement=row["author_statement"],
        author_signature=row["author_signature"],
    )


def model_version_by_id(catalog: Catalog, row_id: int) -> ModelVersion:
    """The model version with this row id."""
    return _version_from_row(catalog, MODEL.version_row_by_id(catalog, row_id))


def get_model_version(catalog: Catalog, ref: str | VersionRef) -> ModelVersion:
    """The model version named by ``NAME@V`` / ``NAME@latest`` / ``NAME``."""
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    return _version_from_row(catalog, MODEL.find_version_row(catalog, parsed))


def list_model_versions(
    catalog: Catalog,
    name: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """A summary row per model version (see :func:`list_model_versions_json`)."""
    return list(json.loads(list_model_versions_json(catalog, name, tags=tags, limit=limit)))


def list_model_versions_json(
    catalog: Catalog,
    name: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    limit: int | None = None,
) -> str:
    """A JSON array of summary rows, built by SQLite: by name then version.

    Only versions of ``name`` (if given) carrying every tag in ``tags``; with ``limit``,
    the ``limit`` newest of them, newest first. Reads only summary columns, never the
    full facts, and builds the JSON in SQLite so a listing of tens of thousands of
    versions costs no Python object per field (the CLI prints it as it is).
    """
    conditions: list[str] = []
    params: list[Any] = []
    if name is not None:
        model_name = normalise_name(name, what="model name")
        if not catalog.query("SELECT 1 FROM model WHERE name = ?", (model_name,)):
            raise NotFoundError(f"model {model_name!r}: not in the catalog")
        conditions.append("m.name = ?")
        params.append(model_name)
    for key, value in (tags or {}).items():
        conditions.append(
            "EXISTS (SELECT 1 FROM json_each(v.tags) t WHERE t.key = ? AND t.value = ?)"
        )
        params += [normalise_name(key, what="tag"), str(value)]
    if limit is not None and limit < 1:
        raise BadInputError(f"--limit {limit}: give a positive number of versions")
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    order = "ORDER BY v.id DESC LIMIT ?" if limit is not None else "ORDER BY m.name, v.version"
    if limit is not None:
        params.append(limit)
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
            {order}
        )
    """
    (listing,) = catalog.conn.execute(sql, params).fetchone()
    return str(listing)


def edit_model_version(
    catalog: Catalog,
    ref: str | VersionRef,
    *,
    set_tags: dict[str, str] | None = None,
    remove_tags: list[str] | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Add or change some tags, remove others, and/or replace the description; audited.

    Removing a tag the version does not have is an error naming it, and nothing changes.
    """
    version = get_model_version(catalog, ref)
    tags = None
    if set_tags or remove_tags:
        tags = dict(version.tags)
        for key in remove_tags or []:
            key = normalise_name(key, what="tag")
            if key not in tags:
                raise BadInputError(f"model {version.ref} has no tag {key!r} to remove")
            del tags[key]
        tags.update({normalise_name(k, what="tag"): str(v) for k, v in (set_tags or {}).items()})
    return update_model_version(catalog, version.ref, tags=tags, description=description)


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
