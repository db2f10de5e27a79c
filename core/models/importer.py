"""Importing ONNX files as model versions."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.blobs import hash_file
from modeldesk.catalog.maintenance import discard_unreferenced
from modeldesk.catalog.names import VersionRef, normalise_name
from modeldesk.catalog.records import MODEL, get_or_create_record, version_for
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion, get_dataset_version
from modeldesk.models.examine import examine_model, sniff_model_file
from modeldesk.models.features import FeatureMapping, resolve_feature_mapping
from modeldesk.models.model_facts import ModelFacts, ValueInfo
from modeldesk.models.registry import ModelVersion, model_version_by_id
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = ["AdoptedVersion", "ModelImport", "import_model"]


@dataclass(frozen=True)
class AdoptedVersion:
    """A version brought from another catalog (a release candidate): it keeps its number
    and its author, whose signed statement it carries."""

    version: int
    author_key: str
    author_statement: str
    author_signature: str


@dataclass(frozen=True)
class ModelImport:
    """The outcome of an import: the version, and whether this call created it."""

    version: ModelVersion
    created: bool


def _io_summary(values: list[ValueInfo]) -> list[str]:
    from modeldesk.models.contract import format_io

    return [format_io(value) for value in values]


def _find_same_content(catalog: Catalog, name: str, sha256: str) -> list[sqlite3.Row]:
    return catalog.query(
        "SELECT v.*, m.name AS name FROM model_version v JOIN model m ON m.id = v.model_id"
        " WHERE m.name = ? AND v.sha256 = ? ORDER BY v.version",
        (name, sha256),
    )


def _hash_external_files(
    path: Path, facts: ModelFacts, cancel: threading.Event | None
) -> list[tuple[str, str, int]]:
    """(relative path, sha256, size) per external data file the examiner accepted."""
    folder = path.parent
    return [
        (entry.path, hash_file(folder / entry.path, cancel=cancel), entry.size)
        for entry in facts.external_data
    ]


def _record_row(
    tx_conn: sqlite3.Connection,
    model_id: int,
    version: int,
    sha256: str,
    path: Path,
    facts: ModelFacts,
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
    author_key: str | None = None,
) -> int:
    cursor = tx_conn.execute(
        "INSERT INTO model_version (model_id, version, sha256, file_name, file_size, ir_version,"
        " producer, opsets, param_count, initializer_bytes, inputs_summary, outputs_summary,"
        " facts, parent_id, trained_on_id, label, features, feature_binding, classes, tags,"
        " description, created_at, created_by, author_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            model_id,
            version,
            sha256,
            path.name,
            facts.file_size,
            facts.ir_version,
            facts.producer,
            json.dumps(facts.opset_versions),
            facts.param_count,
            facts.initializer_bytes,
            json.dumps(_io_summary(facts.inputs)),
            json.dumps(_io_summary(facts.outputs)),
            json.dumps(facts.to_dict()),
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
            author_key,
        ),
    )
    return int(cursor.lastrowid or 0)


def _write_version(
    catalog: Catalog,
    name: str,
    path: Path,
    sha256: str,
    facts: ModelFacts,
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
    author: str | None,
    signer: Any,
    adopted: AdoptedVersion | None = None,
) -> int:
    """Record the version, its external files and its audit row in one transaction.

    ``author`` (the importer's key fingerprint) is the version's author, who may not
    approve its release; with ``signer`` (that key) the row and an authorship statement
    are signed. An ``adopted`` version keeps its number and its author's statement (the
    row is then signed by whoever brought it in)."""
    from modeldesk.release.keys import authorship_statement

    with catalog.write("model.import", f"model {name}", signer=signer) as tx:
        model_id = get_or_create_record(tx.conn, MODEL, name, tx.at, tx.actor, task=facts.task)
        version = version_for(tx.conn, MODEL, model_id, adopted.version if adopted else None)
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
            author_key=author,
        )
        statement = signature = None
        if adopted is not None:
            statement, signature = adopted.author_statement, adopted.author_signature
        elif signer is not None:  # the author's word that this content is their version
            statement = authorship_statement(name, version, sha256)
            signature = base64.b64encode(signer.sign(statement.encode())).decode("ascii")
        if statement is not None:
            tx.conn.execute(
                "UPDATE model_version SET author_statement = ?, author_signature = ? WHERE id = ?",
                (statement, signature, version_id),
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
            "author_key": author,
            "adopted": adopted is not None,
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
    signer: Any = None,
    adopted: AdoptedVersion | None = None,
) -> ModelImport:
    """Import an ONNX file as the next version of model ``name``.

    The file is examined in a child process first (type, size, checker,
    shape inference, a trial ONNX Runtime session); nothing is stored unless
    it passes. A file whose bytes equal an existing version of the same name
    returns that version and creates nothing. ``signer`` is the importer's
    signing key when the caller has opened it (the app asks for a passphrase);
    without it, the user's key is used if it opens without one. An ``adopted`` version
    (from a release candidate) takes its own number and author, and is returned as it
    is if the catalog already holds that number with this content.
    """
    from modeldesk.release.keys import importer_identity

    author, signer = (signer.fingerprint, signer) if signer is not None else importer_identity()
    if adopted is not None:
        author = adopted.author_key
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
    if adopted is not None:  # only the very version number counts as the same
        same = [row for row in same if row["version"] == adopted.version]
    facts: ModelFacts | None = None
    if same:
        stored = model_version_by_id(catalog, same[0]["id"])
        if not stored.external_files:
            return ModelImport(stored, created=False)
        facts = _examine(catalog, path, progress, cancel)
        externals = _hash_external_files(path, facts, cancel)
        for row in same:
            candidate = model_version_by_id(catalog, row["id"])
            stored_files = [(f.path, f.sha256, f.size) for f in candidate.external_files]
            if sorted(stored_files) == sorted(externals):
                return ModelImport(candidate, created=False)
    if facts is None:
        facts = _examine(catalog, path, progress, cancel)
        externals = _hash_external_files(path, facts, cancel)

    mapping = resolve_feature_mapping(
        facts.inputs, dataset, features=features, label=label, model_file=path
    )
    if label is None and dataset is not None:
        label = dataset.label
    if classes is None:
        classes = _classes_from_metadata(facts) or facts.class_names
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
                author=author,
                signer=signer,
                adopted=adopted,
            )
    except BaseException:
        # A cancelled or failed import leaves no blob of its own behind.
        discard_unreferenced(catalog, created_blobs)
        raise
    progress(1, 1, "imported")
    return ModelImport(model_version_by_id(catalog, version_id), True)


def _examine(
    catalog: Catalog, path: Path, progress: ProgressCallback, cancel: threading.Event | None
) -> ModelFacts:
    with catalog.blobs.scratch("examine") as scratch:
        return examine_model(
            path, progress=Stage(progress, 0.1, 0.6), cancel=cancel, scratch=scratch
        )


def _classes_from_metadata(facts: ModelFacts) -> list[str] | None:
    """Class names from metadata_props (``classes``, ``class_names`` or ``labels``)."""
    metadata = facts.metadata
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
