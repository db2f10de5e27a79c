"""Packaging an approved release into its signed bundle (``NAME-VERSION-rN.mdrel``).

The bundle is a zip of stored (uncompressed) files, in this order: the model and its
external data under ``model/``; ``model.sig``, the model folder signed in the OpenSSF
model-signing v1 format (``model_signing verify key`` accepts it); ``MODEL_CARD.md``;
``manifest.json``; and last ``attestation.dsse.json``, a DSSE envelope over an in-toto
Statement v1 naming every other file and its digest, signed by the packaging release
manager. The manifest carries the author's and approvers' signed statements, so a
device checks all of them with ``verify_bundle.py`` alone.

It is written to ``.partial`` and renamed once complete and on disk, so a killed
packaging leaves no bundle or a whole one. Files stream from the catalog's blobs
(hashed as they are copied), so memory stays flat whatever the model's size.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import stat
import threading
import zipfile
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, IntegrityError
from modeldesk.progress import ProgressCallback, check_cancel, no_progress
from modeldesk.release.gates import GateReport, evaluate_gates
from modeldesk.release.keys import SigningKey
from modeldesk.release.model_card import model_card
from modeldesk.release.records import APPROVED, PACKAGED, Release, get_release, mark_packaged
from modeldesk.release.trust import RELEASE_MANAGER, TrustError, trusted_keys
from modeldesk.release.verify_bundle import (
    ATTESTATION,
    BUNDLE_FORMAT,
    CARD,
    MANIFEST,
    MODEL_DIR,
    MODEL_SIG,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Key,
    canonical,
    pae,
)

__all__ = [
    "add_entry",
    "audit_against_bundle",
    "bundle_name",
    "catalog_keys",
    "copy_entry",
    "model_signature",
    "package_release",
    "refusal_here",
    "signed_envelope",
]

CHUNK = 1 << 20
TOP_FEATURES = 5  # features by mean |SHAP| in the manifest and model card
SIGSTORE_BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MODEL_SIGNING_PREDICATE = "https://model_signing/signature/v1.0"


def bundle_name(release: Release, counter: int) -> str:
    """``NAME-VERSION-rN.mdrel``."""
    return f"{release.model.name}-{release.model.version}-r{counter}.mdrel"


def model_signature(signer: SigningKey, digests: dict[str, str], folder_name: str) -> str:
    """The OpenSSF model-signing v1 signature (a Sigstore bundle, key mode) of a model
    folder whose files (relative names) hash to ``digests``.

    Written from the format's published description: an in-toto statement whose
    resources are every file's SHA-256 by name, in name order; its subject digest the
    SHA-256 of those digests' bytes in that order; DSSE-signed by the key; the bundle
    names the key by the SHA-256 of its PEM.
    """
    names = sorted(digests)
    root = hashlib.sha256(b"".join(bytes.fromhex(digests[n]) for n in names)).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": folder_name, "digest": {"sha256": root}}],
        "predicateType": MODEL_SIGNING_PREDICATE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [{"name": n, "algorithm": "sha256", "digest": digests[n]} for n in names],
        },
    }
    payload = json.dumps(statement, sort_keys=True).encode()
    signature = signer.sign(pae(PAYLOAD_TYPE, payload))
    hint = hashlib.sha256(signer.public.pem.encode("ascii")).hexdigest()
    bundle = {
        "mediaType": SIGSTORE_BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    return json.dumps(bundle, indent=2) + "\n"


def _packager(catalog: Catalog, signer: SigningKey, release: Release) -> None:
    key = trusted_keys(catalog).get(signer.fingerprint)
    if key is None or not key.has_role(RELEASE_MANAGER):
        raise TrustError(
            f"packaging release #{release.id}: your key {signer.public.short} is not a trusted "
            "release manager's in this catalog"
        )


def _evidence(catalog: Catalog, release: Release, report: GateReport) -> dict[str, Any]:
    from modeldesk.validate.registry import validation_run

    validation, benchmarks, datasets = [], {}, {}
    for gate in report.gates:
        if gate.kind == "suite":
            results = validation_run(catalog, gate.evidence["run"])
            checks = [
                {
                    k: check.get(k)
                    for k in ("id", "kind", "verdict", "value", "interval", "threshold", "evidence")
                }
                for check in results.get("checks", [])
            ]
            validation.append(
                {
                    "suite": gate.evidence["suite"],
                    "suite_sha256": gate.evidence["suite_sha256"],
                    "results_sha256": gate.evidence["results_sha256"],
                    "verdict": results.get("verdict"),
                    "checks": checks,
                }
            )
            datasets.update(gate.evidence.get("datasets", {}))
        elif gate.kind == "benchmark":
            profile = gate.evidence["profile"]
            benchmarks[profile] = {
                "results_sha256": gate.evidence["results_sha256"],
                "summary": gate.evidence["summary"],
            }
    return {"validation": validation, "benchmarks": benchmarks, "datasets": datasets}


def _explanation(catalog: Catalog, release: Release) -> dict[str, Any] | None:
    """The top features by mean |SHAP| of the newest explanation of this version, if one
    was computed (the model card shows them; nothing is computed here)."""
    from modeldesk.explain.result import newest_explanation

    found = newest_explanation(catalog, release.model.id)
    if found is None:
        return None
    output = found.output_names[found.output_index(None)]
    return {
        "dataset": found.dataset, "method": found.method, "space": found.space,
        "rows": len(found.rows), "output": output,
        "top_features": [{"feature": name, "mean_abs_shap": value}
                         for name, value in found.importance()[:TOP_FEATURES]],
    }  # fmt: skip


def _contract(release: Release) -> dict[str, Any]:
    facts = release.model.facts.to_dict()
    return {"inputs": facts.get("inputs"), "outputs": facts.get("outputs")}


def _runtime(catalog: Catalog, release: Release) -> dict[str, Any]:
    """What the model needs to run as it was validated: this ONNX Runtime, its opsets,
    and the execution providers of the target profiles it was benchmarked on."""
    import onnxruntime

    from modeldesk.bench.profiles import get_profile

    providers: list[str] = []
    for target in release.targets:
        providers += [p for p in get_profile(catalog, target).providers if p not in providers]
    return {
        "onnxruntime": onnxruntime.__version__,
        "opsets": dict(release.model.facts.opset_versions),
        "providers": providers,
    }


def _add_reference(catalog: Catalog, model: Any, archive: zipfile.ZipFile,
                   files: dict[str, dict[str, Any]]) -> dict[str, Any] | None:  # fmt: skip
    """Add the training data's reference profile and sample (what field drift, estimate
    and triage read offline); what the manifest says of them."""
    from modeldesk.field.bundled import reference_entries

    found = reference_entries(catalog, model)
    if found is None:
        return None
    entries, summary = found
    for name, data in entries.items():
        files[name] = dict(zip(("sha256", "size"), add_entry(archive, name, data), strict=True))
    return summary


def signed_envelope(
    signer: SigningKey, subjects: dict[str, str], predicate_type: str, predicate: dict[str, Any]
) -> bytes:
    """A DSSE envelope, signed by ``signer``, over an in-toto Statement v1 whose subjects
    are ``subjects`` ({file name: sha256}) in name order."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in sorted(subjects.items())],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    payload = canonical(statement)
    signature = signer.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": signer.fingerprint, "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }
    return json.dumps(envelope, indent=2).encode() + b"\n"


def copy_entry(source: Path, archive: zipfile.ZipFile, name: str, cancel) -> tuple[str, int]:
    """Stream ``source`` into the archive as ``name`` (stored, fixed time and mode, so
    the same bytes make the same entry); its SHA-256 and size."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as reader, archive.open(info, "w") as writer:
        while chunk := reader.read(CHUNK):
            check_cancel(cancel, name)
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def add_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> tuple[str, int]:
    """Write ``data`` into the archive as ``name`` (stored); its SHA-256 and size."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    archive.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return hashlib.sha256(data).hexdigest(), len(data)


def package_release(
    catalog: Catalog,
    signer: SigningKey,
    release_id: int,
    out_dir: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Path:
    """Write the signed bundle of an approved release into ``out_dir``; its path.

    Refused, naming why, unless the release is approved and every gate still holds, the
    packager is a trusted release manager and the version carries its author's signature.
    Packaging a packaged release again rewrites the same bundle (same counter).
    """
    release = get_release(catalog, release_id)
    if release.state not in (APPROVED, PACKAGED):
        raise BadInputError(f"release #{release.id} is {release.state}; only an approved one ships")
    _packager(catalog, signer, release)
    # The model's bytes are hashed as they are copied into the bundle, and checked there:
    # hashing them for the integrity gate too would read them twice.
    report = evaluate_gates(catalog, release, hash_blobs=False)
    failing = report.failing()
    if failing:
        reasons = "; ".join(f"{gate.id}: {gate.message}" for gate in failing)
        raise BadInputError(f"packaging release #{release.id}: gate(s) fail: {reasons}")
    model = release.model
    if not (model.author_key and model.author_statement and model.author_signature):
        raise BadInputError(
            f"packaging release #{release.id}: {model.ref} carries no author signature (it was "
            "imported without a key); import it again with the author's key"
        )
    counter = release.counter or 1 + int(
        catalog.query(
            "SELECT COALESCE(MAX(r.counter), 0) AS top FROM release r "
            "JOIN model_version v ON v.id = r.model_version_id "
            "WHERE v.model_id = (SELECT model_id FROM model_version WHERE id = ?) "
            "AND r.channel = ?",
            (model.id, release.channel),
        )[0]["top"]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / bundle_name(release, counter)
    partial = final.with_name(final.name + ".partial")
    head = catalog.query("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")[0]["hash"]
    now = dt.datetime.now(dt.UTC)
    expiry_days = release.policy.policy.expiry_days if release.policy else None
    sources = [(model.file_name, model.sha256, catalog.blobs.path(model.sha256))]
    sources += [(f.path, f.sha256, catalog.blobs.path(f.sha256)) for f in model.external_files]
    keys = trusted_keys(catalog)
    files: dict[str, dict[str, Any]] = {}
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=False) as archive:
            model_digests = {}
            for index, (relative, expected, source) in enumerate(sources):
                progress(index, len(sources) + 3, f"adding {relative}")
                digest, size = copy_entry(source, archive, MODEL_DIR + relative, cancel)
                if digest != expected:
                    raise IntegrityError(
                        f"packaging release #{release.id}: integrity: blob {expected} of "
                        f"{model.ref} ({relative}): content does not match its hash"
                    )
                files[MODEL_DIR + relative] = {"sha256": digest, "size": size}
                model_digests[relative] = digest
            sig = model_signature(signer, model_digests, "model").encode()
            files[MODEL_SIG] = dict(
                zip(("sha256", "size"), add_entry(archive, MODEL_SIG, sig), strict=True)
            )
            progress(len(sources), len(sources) + 3, "profiling the training data")
            reference = _add_reference(catalog, model, archive, files)
            manifest = {
                "format": BUNDLE_FORMAT,
                "model": model.name,
                "version": model.version,
                "channel": release.channel,
                "counter": counter,
                "targets": list(release.targets),
                "model_file": model.file_name,
                "model_sha256": model.sha256,
                **_evidence(catalog, release, report),
                "explanation": _explanation(catalog, release),
                "contract": _contract(release),
                "reference": reference,
                "runtime": _runtime(catalog, release),
                "policy": release.policy.policy.text if release.policy else None,
                "approvals_required": release.policy.policy.approvals if release.policy else 1,
                "author": {
                    "key": model.author_key,
                    "statement": model.author_statement,
                    "signature": model.author_signature,
                },
                "approvals": [
                    {
                        "key": d.key,
                        "statement": d.statement,
                        "comment": d.comment,
                        "created_at": d.created_at,
                        "signature": base64.b64encode(d.signature).decode("ascii"),
                    }
                    for d in release.approvals
                    if d.key in report.gates[-1].evidence.get("valid", [])
                ],
                "evidence_sha256": report.evidence_sha256,
                "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "expires_at": (now + dt.timedelta(days=expiry_days))
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
                if expiry_days
                else None,
                "audit_head": head,
            }
            people = {fp: key.label for fp, key in keys.items()}
            card = model_card(manifest | {"files": files}, model.description, people).encode()
            files[CARD] = dict(zip(("sha256", "size"), add_entry(archive, CARD, card), strict=True))
            manifest["files"] = files
            manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
            manifest_digest, _ = add_entry(archive, MANIFEST, manifest_bytes)
            subjects = {**{n: f["sha256"] for n, f in files.items()}, MANIFEST: manifest_digest}
            envelope_bytes = signed_envelope(
                signer,
                subjects,
                PREDICATE_TYPE,
                {"model": model.name, "version": model.version,
                 "channel": release.channel, "counter": counter},
            )  # fmt: skip
            progress(len(sources) + 2, len(sources) + 3, "signing")
            add_entry(archive, ATTESTATION, envelope_bytes)  # the signature, written last
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    attestation = hashlib.sha256(envelope_bytes).hexdigest()
    with catalog.write(
        "release.package", f"release #{release.id}: {final.name}", signer=signer
    ) as tx:
        mark_packaged(tx.conn, release.id, counter=counter, attestation=attestation, now=tx.at)
        tx.detail = {
            "release": release.id,
            "counter": counter,
            "bundle": final.name,
            "attestation_sha256": attestation,
            "audit_head": head,
        }
    progress(1, 1, f"wrote {final}")
    return final


def audit_against_bundle(catalog: Catalog, bundle: Path) -> list[str]:
    """Problems with the catalog's audit log up to the head a bundle recorded: rows
    removed or changed before it (empty: intact). The bundle is verified first, with the
    keys this catalog trusts, when their records are intact."""
    from modeldesk.catalog.audit import verify_chain
    from modeldesk.release.verify_bundle import Refused, read_manifest, verify_bundle

    problems = []
    try:
        verify_bundle(bundle, catalog_keys(catalog))
    except IntegrityError as error:  # the log itself is broken: say so, compare anyway
        problems.append(f"{error}; {bundle.name} is compared without checking its signatures")
    except Refused as error:
        return [f"{bundle.name}: refused ({refusal_here(error)})"]
    try:
        head = read_manifest(bundle).get("audit_head")
    except Refused as error:
        return [*problems, f"{bundle.name}: refused ({error})"]
    rows = catalog.query("SELECT id FROM audit WHERE hash = ?", (head,))
    if not rows:
        return [
            *problems,
            f"{bundle.name} recorded audit head {str(head)[:16]}, which this catalog's log "
            "does not hold: rows before it were removed or changed",
        ]
    return problems + verify_chain(catalog.conn, upto=rows[0]["id"])


def refusal_here(error: Exception) -> str:
    """A verifier's refusal worded for keys that are a catalog's, not a ``--keys`` file."""
    return (
        str(error)
        .replace("not one in --keys", "not trusted in this catalog")
        .replace("release manager in --keys", "release manager trusted in this catalog")
    )


def catalog_keys(catalog: Catalog) -> dict[str, Key]:
    """The catalog's trusted keys in the form the bundle verifier takes."""
    from cryptography.hazmat.primitives import serialization

    return {
        fp: Key(key.name, fp, key.roles, key.revoked,
                serialization.load_pem_public_key(key.public.pem.encode("ascii")))
        for fp, key in trusted_keys(catalog).items()
    }  # fmt: skip
