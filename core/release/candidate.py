"""A release candidate as a file (``.mdrc``): what a release manager on another
workstation needs to review a release, signed by whoever exported it.

The same zip layout and checks as a bundle (stored entries, the DSSE attestation last,
naming every other entry's digest), with:

- ``model/``: the model and its external data, as in the catalog;
- ``datasets/NAME@V.parquet``: the dataset versions the validation runs read (and each
  required suite's own dataset), byte for byte, so their hashes still hold;
- ``evidence/validation/SHA.json`` and ``evidence/bench/SHA.json``: the full results of
  the runs the gates use, byte for byte;
- ``candidate.json``: the release, the model's record and its author's signed statement,
  the policy and suite texts, the target profiles, dataset dictionaries, the runs'
  records, decisions so far, and the evidence hash the exporter's catalog computed.

Reading one back checks everything a bundle's verifier checks on structure and
signature, against the reviewing catalog's trusted keys, before any of it is used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.progress import ProgressCallback, check_cancel, no_progress
from modeldesk.release.bundle import (
    add_entry,
    catalog_keys,
    copy_entry,
    refusal_here,
    signed_envelope,
)
from modeldesk.release.gates import evaluate_gates
from modeldesk.release.keys import SigningKey
from modeldesk.release.records import Release, get_release
from modeldesk.release.trust import TrustError, trusted_keys
from modeldesk.release.verify_bundle import (
    ATTESTATION,
    MODEL_DIR,
    Entry,
    Refused,
    check_files,
    parse_json,
    read_entries,
    read_small,
    signed_statement,
)

__all__ = [
    "CANDIDATE_FORMAT",
    "CandidateError",
    "OpenCandidate",
    "export_candidate",
    "open_candidate",
]

CANDIDATE_FORMAT = "modeldesk-release-candidate-v1"
CANDIDATE_PREDICATE = "https://modeldesk.dev/release-candidate/v1"
CANDIDATE_JSON = "candidate.json"
DATASET_DIR, VALIDATION_DIR, BENCH_DIR = "datasets/", "evidence/validation/", "evidence/bench/"


class CandidateError(BadInputError):
    """A candidate file that is not what it claims, or does not fit this catalog."""


def _model_record(release: Release) -> dict[str, Any]:
    model = release.model
    return {
        "name": model.name,
        "version": model.version,
        "sha256": model.sha256,
        "file_name": model.file_name,
        "external_files": {f.path: f.sha256 for f in model.external_files},
        "label": model.label,
        "features": model.features,
        "classes": model.classes,
        "tags": model.tags,
        "description": model.description,
        "trained_on": model.trained_on,
        "parent_version": model.parent_version,
        "author_key": model.author_key,
        "author_statement": model.author_statement,
        "author_signature": model.author_signature,
        "created_at": model.created_at,
        "created_by": model.created_by,
    }


def _dataset_record(dataset) -> dict[str, Any]:
    data = dataset.to_dict()
    return {
        **{k: data[k] for k in ("name", "version", "sha256", "label", "description")},
        **{k: data[k] for k in ("source_name", "source_format", "source_sha256")},
        "file": f"{DATASET_DIR}{dataset.ref}.parquet",
        "columns": [
            {k: c[k] for k in ("name", "role", "unit", "description")} for c in data["columns"]
        ],
    }


def _evidence(catalog: Catalog, release: Release, report) -> dict[str, Any]:
    """The suites, runs, datasets and profiles the gates read, as candidate.json lists
    them, with the blobs to carry: {entry name: blob sha256}."""
    from modeldesk.bench.profiles import BUILTIN_PROFILES, get_profile
    from modeldesk.bench.run import list_runs
    from modeldesk.datasets.registry import get_dataset_version
    from modeldesk.validate.registry import get_suite, validation_run

    policy = release.policy.policy if release.policy else None
    suites, runs, benches, datasets, blobs = [], [], [], {}, {}
    for name in policy.required_suites if policy else ():
        stored = get_suite(catalog, name)
        suites.append(
            {
                "name": stored.name,
                "version": stored.version,
                "sha256": stored.sha256,
                "text": catalog.query("SELECT text FROM suite_version WHERE id = ?", (stored.id,))[
                    0
                ]["text"],
            }
        )
        wanted = {stored.suite.dataset: None}
        gate = next(g for g in report.gates if g.id == f"suite:{name}")
        if "run" in gate.evidence:
            results = validation_run(catalog, gate.evidence["run"])
            sha = gate.evidence["results_sha256"]
            runs.append(
                {
                    "suite": stored.ref,
                    "dataset": results["dataset"],
                    "results_sha256": sha,
                    "file": f"{VALIDATION_DIR}{sha}.json",
                }
            )
            blobs[runs[-1]["file"]] = sha
            wanted |= dict.fromkeys(results.get("datasets", {}))
        for ref in wanted:
            dataset = get_dataset_version(catalog, ref)
            datasets[dataset.ref] = _dataset_record(dataset)
            blobs[datasets[dataset.ref]["file"]] = dataset.sha256
    for gate in report.gates:
        if gate.kind == "benchmark" and "run" in gate.evidence:
            (run,) = list_runs(catalog, run_id=gate.evidence["run"])
            sha = gate.evidence["results_sha256"]
            benches.append(
                {
                    "profile": run.profile,
                    "results_sha256": sha,
                    "file": f"{BENCH_DIR}{sha}.json",
                    "settings": run.settings,
                    "device": run.device,
                    "summary": run.summary,
                }
            )
            blobs[benches[-1]["file"]] = sha
    profiles = [
        get_profile(catalog, target).to_dict()
        for target in release.targets
        if target not in BUILTIN_PROFILES
    ]
    return {
        "suites": suites,
        "datasets": list(datasets.values()),
        "validation_runs": runs,
        "bench_runs": benches,
        "profiles": profiles,
        "blobs": blobs,
    }


def export_candidate(
    catalog: Catalog,
    signer: SigningKey,
    release_id: int,
    out: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Path:
    """Write release ``release_id`` as a candidate file ``out`` (``.mdrc``), signed by
    ``signer`` (a key this catalog trusts). Written to ``.partial`` and renamed when
    complete. Gates that fail are carried as they are: the reviewer sees them."""
    release = get_release(catalog, release_id)
    key = trusted_keys(catalog).get(signer.fingerprint)
    if key is None or key.revoked:
        raise TrustError(
            f"exporting release #{release.id}: your key {signer.public.short} is not trusted here"
        )
    model = release.model
    if not (model.author_key and model.author_statement and model.author_signature):
        raise BadInputError(
            f"exporting release #{release.id}: {model.ref} carries no author signature (it was "
            "imported without a key); import it again with the author's key"
        )
    if out.suffix != ".mdrc":
        raise BadInputError(f"--out {out}: a candidate file's name ends in .mdrc")
    report = evaluate_gates(catalog, release)
    evidence = _evidence(catalog, release, report)
    blobs = evidence.pop("blobs")
    entries = [(MODEL_DIR + model.file_name, model.sha256)]
    entries += [(MODEL_DIR + f.path, f.sha256) for f in model.external_files]
    entries += sorted(blobs.items())
    record = {
        "format": CANDIDATE_FORMAT,
        "release": {
            "model": model.name,
            "version": model.version,
            "model_sha256": release.model_sha256,
            "channel": release.channel,
            "targets": list(release.targets),
            "creator_key": release.creator_key,
            "created_at": release.created_at,
            "created_by": release.created_by,
            "state": release.state,
        },
        "model": _model_record(release),
        "policy": None
        if release.policy is None
        else {
            "version": release.policy.version,
            "text": release.policy.policy.text,
            "sha256": release.policy.policy.sha256,
        },
        **evidence,
        "decisions": [d.to_dict() for d in release.decisions],
        "evidence_sha256": report.evidence_sha256,
        "gates": [gate.to_dict() for gate in report.gates],
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "exported_by": signer.fingerprint,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    digests: dict[str, str] = {}
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED, allowZip64=False) as archive:
            for index, (name, sha) in enumerate(entries):
                progress(index, len(entries) + 1, f"adding {name}")
                digest, _ = copy_entry(catalog.blobs.path(sha), archive, name, cancel)
                if digest != sha:
                    raise BadInputError(
                        f"exporting release #{release.id}: blob {sha} ({name}) "
                        "does not match its hash"
                    )
                digests[name] = digest
            data = json.dumps(record, indent=2, sort_keys=True).encode() + b"\n"
            digests[CANDIDATE_JSON], _ = add_entry(archive, CANDIDATE_JSON, data)
            check_cancel(cancel, str(out))
            predicate = {k: record["release"][k] for k in ("model", "version", "channel")}
            envelope = signed_envelope(signer, digests, CANDIDATE_PREDICATE, predicate)
            add_entry(archive, ATTESTATION, envelope)  # the signature, written last
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    progress(1, 1, f"wrote {out}")
    return out


@dataclass
class OpenCandidate:
    """A candidate file whose structure and signature held: its record, who signed
    it, and its entries (read their bytes with :meth:`copy_out`)."""

    path: Path
    record: dict[str, Any]
    signer: str  # fingerprint
    entries: dict[str, Entry]
    digests: dict[str, str]

    def copy_out(self, name: str, target: Path) -> None:
        """Write entry ``name`` to ``target``, checking its digest again as it goes."""
        from modeldesk.release.verify_bundle import stream_entry

        entry = self._entry(name)
        with open(self.path, "rb") as handle, target.open("wb") as sink:
            try:
                digest = stream_entry(handle, entry, sink)
            except Refused as error:
                raise CandidateError(f"{self.path.name}: refused ({error})") from None
            if digest != self.digests[name]:
                raise CandidateError(f"{self.path.name}: {name} changed while it was read")

    def read(self, name: str) -> bytes:
        """Entry ``name``'s bytes (a small one: evidence, never a model)."""
        entry = self._entry(name)
        with open(self.path, "rb") as handle:
            try:
                data = read_small(handle, entry)
            except Refused as error:
                raise CandidateError(f"{self.path.name}: refused ({error})") from None
        if hashlib.sha256(data).hexdigest() != self.digests[name]:
            raise CandidateError(f"{self.path.name}: {name} changed while it was read")
        return data

    def _entry(self, name: Any) -> Entry:
        if not isinstance(name, str) or name not in self.entries or name == CANDIDATE_JSON:
            raise CandidateError(
                f"{self.path.name}: {CANDIDATE_JSON} names {name!r}, not a file it carries"
            )
        return self.entries[name]


def open_candidate(catalog: Catalog, path: Path) -> OpenCandidate:
    """Check a candidate file against this catalog's trusted keys: its zip structure, the
    exporter's signature over every entry's digest, and that candidate.json is one.
    ``CandidateError`` says why not, naming the file."""
    try:
        return _open(catalog, path)
    except Refused as error:
        raise CandidateError(f"{path.name}: refused ({refusal_here(error)})") from None


def _open(catalog: Catalog, path: Path) -> OpenCandidate:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        raise BadInputError(f"{path}: cannot be read ({error.strerror})") from None
    with handle:
        entries = read_entries(handle, os.fstat(handle.fileno()).st_size)
        statement, signer = signed_statement(
            handle,
            entries,
            catalog_keys(catalog),
            predicate_type=CANDIDATE_PREDICATE,
            need_manager=False,
        )
        digests = check_files(handle, entries, statement)
        by_name = {entry.name: entry for entry in entries}
        if CANDIDATE_JSON not in by_name:
            raise Refused(f"no {CANDIDATE_JSON}")
        record = parse_json(read_small(handle, by_name[CANDIDATE_JSON]), CANDIDATE_JSON)
    if not isinstance(record, dict) or record.get("format") != CANDIDATE_FORMAT:
        raise Refused(f"{CANDIDATE_JSON}: not a {CANDIDATE_FORMAT} record")
    predicate = statement.get("predicate") or {}
    release = record.get("release")
    if not isinstance(release, dict) or any(
        release.get(k) != predicate.get(k) for k in ("model", "version", "channel")
    ):
        raise Refused(f"{CANDIDATE_JSON}: its release differs from the signed statement")
    return OpenCandidate(path, record, signer.fingerprint, by_name, digests)
