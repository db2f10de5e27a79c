"""Reviewing a release candidate from another workstation (``release review FILE.mdrc``).

The candidate is untrusted until checked: its structure and its exporter's signature
(:func:`~modeldesk.release.candidate.open_candidate`), the author's signature of the
model content, and every record it carries against the bytes it carries. Then, in this
order so that a refusal changes nothing, it is brought in at the same version numbers
and hashes: datasets (read and profiled here), the model (examined here like any
import), target profiles this catalog lacks, suites, the policy (this catalog's own
wins if it has one), and the runs, whose records are rebuilt from their results. A
name@version this catalog holds with other content is refused before anything is
written. Last comes the release itself, created by the candidate's creator and brought
in by the reviewer's signed ``release.review`` row; reviewing the same file again finds
it. The gates are then evaluated here, on this catalog's evidence.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.names import normalise_name
from modeldesk.catalog.store import Catalog
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress
from modeldesk.release.adopt import (
    AdoptionLog,
    adopt_datasets,
    adopt_model,
    adopt_profiles,
    adopt_runs,
    adopt_suites_and_policy,
    copy_dataset_files,
    need,
    precheck,
)
from modeldesk.release.candidate import CandidateError, OpenCandidate, open_candidate
from modeldesk.release.gates import GateReport
from modeldesk.release.keys import SigningKey, authorship_statement
from modeldesk.release.records import Release, get_release, insert_decision, insert_release
from modeldesk.release.trust import RELEASE_MANAGER, TrustError, trusted_keys

__all__ = ["Review", "review_candidate"]


@dataclass
class Review:
    """What a review brought in, what it noticed, and the gates here afterwards."""

    release: Release
    created: bool
    adopted: list[str]
    notes: list[str]
    report: GateReport
    candidate_evidence: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``release review --json`` prints."""
        return {
            "release": self.release.id,
            "model": self.release.model.ref,
            "created": self.created,
            "adopted": self.adopted,
            "notes": self.notes,
            "evidence_matches": self.report.evidence_sha256 == self.candidate_evidence,
            "gates": self.report.to_dict(),
        }


def _check_people(catalog: Catalog, signer: SigningKey, record: dict) -> None:
    keys = trusted_keys(catalog)
    reviewer = keys.get(signer.fingerprint)
    if reviewer is None or not reviewer.has_role(RELEASE_MANAGER):
        raise TrustError(
            f"reviewing a candidate: your key {signer.public.short} is not a trusted release "
            "manager's in this catalog"
        )
    model, release = record["model"], record["release"]
    author = keys.get(str(model.get("author_key")))
    if author is None or author.revoked:
        state = "was revoked here" if author else "is not trusted here"
        raise TrustError(f"candidate {model['name']}@{model['version']}: its author's key {state}")
    statement = need(model.get("author_statement"), str, "the author's statement")
    expected = authorship_statement(model["name"], model["version"], model["sha256"])
    try:
        signature = base64.b64decode(need(model.get("author_signature"), str, "a signature"))
    except ValueError:
        raise CandidateError("candidate.json: the author's signature is not base64") from None
    if statement != expected or not author.public.verify(signature, statement.encode()):
        raise CandidateError(
            f"candidate {model['name']}@{model['version']}: the author's signature by "
            f"{author.label} does not hold for this content"
        )
    creator = keys.get(str(release.get("creator_key")))
    if creator is None or creator.revoked:
        raise TrustError(
            f"candidate {model['name']}@{model['version']}: the release's creator key "
            f"{str(release.get('creator_key'))[:16]} is not trusted here"
        )


def _check_record(candidate: OpenCandidate) -> dict:
    """candidate.json's fields, typed and named as this catalog would name them."""
    record = candidate.record
    release = need(record.get("release"), dict, "release")
    model = need(record.get("model"), dict, "model")
    model["name"] = normalise_name(need(model.get("name"), str, "model.name"), what="model name")
    need(model.get("version"), int, "model.version")
    need(model.get("sha256"), str, "model.sha256")
    if (release.get("model"), release.get("version"), release.get("model_sha256")) != (
        model["name"],
        model["version"],
        model["sha256"],
    ):
        raise CandidateError("candidate.json: the release names another model than it carries")
    targets = need(release.get("targets"), list, "release.targets")
    if not targets or not all(isinstance(t, str) for t in targets):
        raise CandidateError("candidate.json: release.targets names no profiles")
    for name in ("channel", "created_at", "created_by", "creator_key"):
        need(release.get(name), str, f"release.{name}")
    for name in ("suites", "datasets", "validation_runs", "bench_runs", "profiles", "decisions"):
        for item in need(record.get(name, []), list, name):
            need(item, dict, f"an entry of {name}")
    need(model.get("file_name"), str, "model.file_name")
    need(model.get("external_files", {}), dict, "model.external_files")
    return record


def _conflicts(catalog: Catalog, record: dict) -> list[str]:
    """Every name@version the candidate carries that this catalog holds with other content."""
    checks = [("model_version", "model", "model_id", record["model"])]
    checks += [("dataset_version", "dataset", "dataset_id", d) for d in record["datasets"]]
    checks += [("suite_version", "suite", "suite_id", s) for s in record["suites"]]
    found = []
    for table, parent, key, item in checks:
        rows = catalog.query(
            f"SELECT v.sha256 FROM {table} v JOIN {parent} p ON p.id = v.{key} "
            "WHERE p.name = ? AND v.version = ?",
            (item.get("name"), item.get("version")),
        )
        if rows and rows[0]["sha256"] != item.get("sha256"):
            found.append(f"{parent} {item.get('name')}@{item.get('version')}")
    return found


def _release_here(
    catalog: Catalog,
    signer: SigningKey,
    candidate: OpenCandidate,
    record: dict,
    model: ModelVersion,
    log: AdoptionLog,
) -> tuple[int, bool]:
    """The release here (found again, or created as the candidate's creator made it),
    with the decisions it carried whose signatures hold; signed by the reviewer."""
    from modeldesk.release.policy import get_policy

    spec = record["release"]
    targets = json.dumps(spec["targets"])
    found = catalog.query(
        "SELECT id FROM release WHERE model_version_id = ? AND model_sha256 = ? AND channel = ? "
        "AND targets = ? AND creator_key = ? AND created_at = ?",
        (model.id, model.sha256, spec["channel"], targets, spec["creator_key"], spec["created_at"]),
    )
    keys = trusted_keys(catalog)
    carried = []
    for item in record["decisions"]:
        key = keys.get(str(item.get("key")))
        try:
            signature = base64.b64decode(str(item.get("signature")))
        except ValueError:
            signature = b""
        statement = str(item.get("statement", ""))
        if key is None or not key.public.verify(signature, statement.encode()):
            log.notes.append(
                f"a decision by key {str(item.get('key'))[:16]} was left out: "
                "its key is not trusted here or its signature does not hold"
            )
            continue
        carried.append((item, key, statement, item["signature"]))
    policy = get_policy(catalog, model.name)
    with catalog.write("release.review", f"model {model.ref}", signer=signer) as tx:
        if found:
            release_id, created = int(found[0]["id"]), False
        else:
            release_id = insert_release(
                tx.conn,
                model,
                channel=normalise_name(spec["channel"], what="channel"),
                targets=spec["targets"],
                policy_id=policy.id if policy else None,
                creator_key=spec["creator_key"],
                created_at=spec["created_at"],
                created_by=spec["created_by"],
                now=tx.at,
            )
            created = True
        known = {
            row[0]
            for row in tx.conn.execute(
                "SELECT signature FROM approval WHERE release_id = ?", (release_id,)
            )
        }
        for item, key, statement, signature in carried:
            if signature in known:
                continue
            insert_decision(
                tx.conn,
                release_id,
                decision=json.loads(statement).get("decision"),
                key=key.fingerprint,
                comment=str(item.get("comment", "")),
                statement=statement,
                signature_b64=signature,
                created_at=str(item.get("created_at", "")),
                created_by=key.name,
            )
            log.adopted.append(f"{json.loads(statement).get('decision')} by {key.label}")
        tx.subject = f"release #{release_id}: {model.ref}"
        tx.detail = {
            "release": release_id,
            "model": model.ref,
            "sha256": model.sha256,
            "candidate": candidate.path.name,
            "exported_by": candidate.signer,
            "creator_key": spec["creator_key"],
            "created": created,
            "evidence_sha256": record.get("evidence_sha256"),
        }
    return release_id, created


def review_candidate(
    catalog: Catalog,
    signer: SigningKey,
    path: Path,
    *,
    rerun: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Review:
    """Bring the candidate file ``path`` into this catalog for ``signer`` (a trusted
    release manager) to review; with ``rerun``, run the required suites and benchmark
    every target here too. Returns the release here and its gates."""
    from modeldesk.release.lifecycle import settle_state

    candidate = open_candidate(catalog, path)
    record = _check_record(candidate)
    _check_people(catalog, signer, record)
    conflicts = _conflicts(catalog, record)
    if conflicts:
        raise CandidateError(
            f"{path.name}: this catalog holds {', '.join(conflicts)} with other content; "
            "nothing was brought in"
        )
    results = precheck(catalog, candidate, record)
    log = AdoptionLog()
    with catalog.blobs.scratch("review") as scratch:
        files = copy_dataset_files(candidate, record, scratch)  # read here before anything is kept
        model = adopt_model(
            catalog, signer, candidate, record, scratch, log, Stage(progress, 0.0, 0.6), cancel
        )
        adopt_datasets(catalog, record, files, log, cancel)
    adopt_profiles(catalog, record, log)
    adopt_suites_and_policy(catalog, signer, candidate, record, log)
    adopt_runs(catalog, candidate, record, results, model, log)
    check_cancel(cancel, str(path))
    release_id, created = _release_here(catalog, signer, candidate, record, model, log)
    if rerun:
        _rerun(catalog, get_release(catalog, release_id), Stage(progress, 0.6, 0.95), cancel)
    release, report = settle_state(catalog, signer, release_id)
    progress(1, 1, f"release #{release_id}")
    return Review(
        release, created, log.adopted, log.notes, report, str(record.get("evidence_sha256", ""))
    )


def _rerun(catalog: Catalog, release: Release, progress: ProgressCallback, cancel) -> None:
    """Run the policy's suites and benchmark each target here, recording the runs."""
    from modeldesk.bench.run import bench
    from modeldesk.validate.registry import get_suite
    from modeldesk.validate.run import run_suite

    suites = release.policy.policy.required_suites if release.policy else ()
    steps = len(suites) + 1
    for index, name in enumerate(suites):
        run_suite(
            catalog,
            get_suite(catalog, name),
            release.model.ref,
            progress=Stage(progress, index / steps, (index + 1) / steps),
            cancel=cancel,
        )
    bench(
        catalog,
        release.model.ref,
        list(release.targets),
        progress=Stage(progress, len(suites) / steps, 1.0),
        cancel=cancel,
    )
