"""Bringing a release candidate's records into this catalog, each checked against the
bytes the candidate carries and adopted at its own version number and hash.

:func:`precheck` and :func:`copy_dataset_files` check all that can be checked before
anything is written; the ``adopt_*`` steps then write, in the order the review runs them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback
from modeldesk.release.candidate import CandidateError, OpenCandidate
from modeldesk.release.keys import SigningKey
from modeldesk.release.verify_bundle import MODEL_DIR

Cancel = threading.Event | None

__all__ = [
    "AdoptionLog",
    "adopt_datasets",
    "adopt_model",
    "adopt_profiles",
    "adopt_runs",
    "adopt_suites_and_policy",
    "copy_dataset_files",
    "need",
    "precheck",
]


@dataclass
class AdoptionLog:
    """What a review brought in, and what it noticed on the way."""

    adopted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def need(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """``value`` if it is a ``kind`` (an int is never a bool); else the field is malformed."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise CandidateError(f"candidate.json: {what} is missing or malformed")
    return value


def precheck(catalog: Catalog, candidate: OpenCandidate, record: dict) -> dict[str, dict]:
    """Everything that can be checked before anything is written: suite texts parse, each
    run's results agree with themselves and name carried (or held) suites, datasets and
    profiles. Returns each validation run's results by file name."""
    from modeldesk.bench.profiles import get_profile
    from modeldesk.errors import NotFoundError
    from modeldesk.validate.suite import parse_suite

    model = record["model"]
    files = {model["file_name"]: model["sha256"], **model["external_files"]}
    for relative, sha in files.items():
        if candidate.digests.get(f"{MODEL_DIR}{relative}") != sha:
            raise CandidateError(
                f"{candidate.path.name}: {MODEL_DIR}{relative} is not the content "
                f"{model['name']}@{model['version']} names"
            )
    suites = {}
    for item in record["suites"]:
        text = need(item.get("text"), str, "a suite's text")
        suites[f"{item.get('name')}@{item.get('version')}"] = parse_suite(
            text, path=candidate.path.name
        ).sha256
    datasets = {f"{d.get('name')}@{d.get('version')}": d.get("sha256") for d in record["datasets"]}
    held = {
        row["ref"]: row["sha256"]
        for row in catalog.query(
            "SELECT d.name || '@' || v.version AS ref, v.sha256 FROM dataset_version v "
            "JOIN dataset d ON d.id = v.dataset_id"
        )
    }
    results_by_file = {}
    for item in record["validation_runs"]:
        results = _results(candidate.read(item.get("file")), item, candidate)
        if suites.get(results["suite"]) != results.get("suite_sha256"):
            raise CandidateError(
                f"{candidate.path.name}: a run of {results['suite']} is not of "
                "a suite text it carries"
            )
        for ref, sha in {results["dataset"]: None, **(results.get("datasets") or {})}.items():
            if datasets.get(ref, held.get(ref)) is None or sha not in (
                None,
                datasets.get(ref, held.get(ref)),
            ):
                raise CandidateError(
                    f"{candidate.path.name}: a run of {results['suite']} read "
                    f"{ref}, which it does not carry as that content"
                )
        results_by_file[item["file"]] = results
    carried = {p.get("name") for p in record["profiles"]}
    for name in [*record["release"]["targets"], *(b.get("profile") for b in record["bench_runs"])]:
        if name not in carried:
            try:
                get_profile(catalog, str(name))
            except NotFoundError:
                raise CandidateError(
                    f"{candidate.path.name}: profile {name!r} is neither carried nor held here"
                ) from None
    return results_by_file


def _scratch_file(scratch: Path, candidate: OpenCandidate, name: str, as_name: str) -> Path:
    target = scratch / as_name
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate.copy_out(name, target)
    return target


def copy_dataset_files(candidate: OpenCandidate, record: dict, scratch: Path) -> list[Path]:
    """Each carried dataset copied out and read as a table (refused if it is not one)."""
    from modeldesk.datasets.reader import read_source

    files = []
    for index, item in enumerate(record["datasets"]):
        file = _scratch_file(scratch, candidate, item.get("file"), f"dataset-{index}.parquet")
        read_source(file)
        files.append(file)
    return files


def adopt_datasets(
    catalog: Catalog, record: dict, files: list[Path], log: AdoptionLog, cancel: Cancel
) -> None:
    """Store each carried dataset version byte for byte at its own number."""
    from modeldesk.datasets.importer import adopt_dataset

    for item, file in zip(record["datasets"], files, strict=True):
        outcome = adopt_dataset(
            catalog,
            file,
            name=need(item.get("name"), str, "dataset name"),
            version=need(item.get("version"), int, "dataset version"),
            sha256=need(item.get("sha256"), str, "dataset hash"),
            carried=item,
            cancel=cancel,
        )
        if outcome.created:
            log.adopted.append(f"dataset {outcome.version.ref}")


def adopt_model(
    catalog: Catalog,
    signer: SigningKey,
    candidate: OpenCandidate,
    record: dict,
    scratch: Path,
    log: AdoptionLog,
    progress: ProgressCallback,
    cancel: Cancel,
) -> ModelVersion:
    """Import the carried model files as their version, examined here like any import,
    keeping its author and the author's signed statement."""
    from modeldesk.catalog.names import VersionRef
    from modeldesk.catalog.records import MODEL
    from modeldesk.errors import NotFoundError
    from modeldesk.models.importer import AdoptedVersion, import_model

    model = record["model"]
    folder = scratch / "model"
    main = _scratch_file(folder, candidate, f"model/{model['file_name']}", model["file_name"])
    for relative in model["external_files"]:
        _scratch_file(folder, candidate, f"model/{relative}", relative)
    trained_on = model.get("trained_on") if isinstance(model.get("trained_on"), str) else None
    if trained_on and not catalog.query(
        "SELECT 1 FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id "
        "WHERE d.name || '@' || v.version = ?",
        (trained_on,),
    ):
        log.notes.append(f"trained on {trained_on}, which this catalog does not hold")
        trained_on = None
    parent = model.get("parent_version") if isinstance(model.get("parent_version"), int) else None
    try:
        if parent is not None:
            MODEL.find_version_row(catalog, VersionRef(model["name"], parent))
    except NotFoundError:
        parent = None
    outcome = import_model(
        catalog,
        main,
        name=model["name"],
        parent=parent,
        trained_on=trained_on,
        label=model.get("label"),
        features=model.get("features"),
        classes=model.get("classes"),
        tags=model.get("tags") or {},
        description=model.get("description"),
        progress=progress,
        cancel=cancel,
        signer=signer,
        adopted=AdoptedVersion(
            model["version"],
            model["author_key"],
            model["author_statement"],
            model["author_signature"],
        ),
    )
    version = outcome.version
    if (
        version.sha256 != model["sha256"]
        or {f.path: f.sha256 for f in version.external_files} != (model["external_files"])
    ):
        raise CandidateError(f"{candidate.path.name}: the model files are not {version.ref}")
    if outcome.created:
        log.adopted.append(f"model {version.ref}")
    elif version.author_key != model["author_key"]:
        log.notes.append(f"{version.ref} was here already, imported by another key")
    return version


def adopt_profiles(catalog: Catalog, record: dict, log: AdoptionLog) -> None:
    """Add the carried target profiles this catalog lacks (without the exporter's
    identity file or installed agent: those belong to their machine)."""
    from modeldesk.bench.profiles import Profile, add_profile, list_profiles

    here = {p.name for p in list_profiles(catalog)}
    known = set(Profile.__dataclass_fields__) - {
        "builtin",
        "identity",
        "agent_path",
        "agent_sha256",
    }
    for item in record["profiles"]:
        if item.get("name") in here:
            continue
        fields = {k: v for k, v in item.items() if k in known}
        for key in ("cores", "providers", "batch_sizes"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        try:
            add_profile(catalog, Profile(**fields))
        except TypeError:
            raise CandidateError(
                f"candidate.json: profile {item.get('name')!r} is malformed"
            ) from None
        log.adopted.append(f"profile {item['name']}")


def adopt_suites_and_policy(
    catalog: Catalog,
    signer: SigningKey,
    candidate: OpenCandidate,
    record: dict,
    log: AdoptionLog,
) -> None:
    """Add the suite versions, and the policy unless this catalog has its own (which
    then applies: a candidate does not choose the rules it is judged by)."""
    from modeldesk.release.policy import get_policy, set_policy
    from modeldesk.validate.registry import add_suite

    for item in record["suites"]:
        stored, created = add_suite(
            catalog,
            need(item.get("text"), str, "a suite's text"),
            source_name=candidate.path.name,
            version=need(item.get("version"), int, "a suite version"),
        )
        if stored.sha256 != item.get("sha256") or stored.name != item.get("name"):
            raise CandidateError(f"candidate.json: suite {item.get('name')} is not its text")
        if created:
            log.adopted.append(f"suite {stored.ref}")
    carried = record.get("policy")
    mine = get_policy(catalog, record["model"]["name"])
    if mine is not None:
        if isinstance(carried, dict) and carried.get("sha256") != mine.policy.sha256:
            log.notes.append(
                f"the candidate carried another policy; this catalog's {mine.ref} applies"
            )
        return
    if not isinstance(carried, dict):
        raise CandidateError(
            f"{candidate.path.name}: carries no release policy, and "
            f"{record['model']['name']} has none here"
        )
    stored_policy, _ = set_policy(
        catalog,
        signer,
        need(carried.get("text"), str, "policy text"),
        source=candidate.path.name,
        version=need(carried.get("version"), int, "policy version"),
    )
    log.adopted.append(f"policy {stored_policy.ref}")


def adopt_runs(
    catalog: Catalog,
    candidate: OpenCandidate,
    record: dict,
    checked: dict[str, dict],
    model: ModelVersion,
    log: AdoptionLog,
) -> None:
    """Record the validation runs (from their checked results) and the benchmark runs
    whose profile here measures as they were measured; the others are noted."""
    from modeldesk.bench.adopt import adopt_run as adopt_bench_run
    from modeldesk.bench.profiles import get_profile
    from modeldesk.datasets.registry import get_dataset_version
    from modeldesk.errors import BadInputError
    from modeldesk.validate.registry import adopt_run, get_suite

    for item in record["validation_runs"]:
        data, results = candidate.read(item["file"]), checked[item["file"]]
        suite = get_suite(catalog, results["suite"])
        if (
            suite.sha256 != results.get("suite_sha256")
            or results.get("model_sha256") != (model.sha256)
            or results.get("model") != model.ref
        ):
            raise CandidateError(
                f"{candidate.path.name}: run of {results['suite']} is not of "
                f"this suite and model content"
            )
        for ref, sha in (results.get("datasets") or {}).items():
            if get_dataset_version(catalog, ref).sha256 != sha:
                raise CandidateError(
                    f"{candidate.path.name}: run of {suite.ref} read {ref} as other content"
                )
        dataset = get_dataset_version(catalog, results["dataset"])
        run_id, created = adopt_run(
            catalog,
            data,
            suite_version_id=suite.id,
            model_version_id=model.id,
            dataset_version_id=dataset.id,
        )
        if created:
            log.adopted.append(f"validation run #{run_id} ({suite.ref}: {results['verdict']})")
    for item in record["bench_runs"]:
        profile = get_profile(catalog, str(item.get("profile")))
        try:
            run, created = adopt_bench_run(
                catalog, model, profile, candidate.read(item.get("file")), item
            )
        except BadInputError as error:  # this catalog's profile measures otherwise: rerun here
            log.notes.append(f"not adopted: {error}")
            continue
        if created:
            log.adopted.append(f"benchmark run #{run.id} ({profile.name})")


def _results(data: bytes, item: dict, candidate: OpenCandidate) -> dict:
    """A validation run's results, consistent with themselves (counts, verdict)."""
    from modeldesk.validate.result import ERROR, FAIL, INCONCLUSIVE, PASS, VERDICTS

    try:
        results = json.loads(data)
        checks = [check["verdict"] for check in results["checks"]]
        counts = {verdict: checks.count(verdict) for verdict in VERDICTS}
        failed = any(v in (FAIL, ERROR) for v in checks) or (
            INCONCLUSIVE in checks and results["on_inconclusive"] == "fail"
        )
        consistent = (
            results["counts"] == counts
            and results["verdict"] == (FAIL if failed else PASS)
            and isinstance(results["rows_predicted"], int)
            and all(isinstance(results[k], str) for k in ("suite", "model", "dataset"))
        )
    except (ValueError, KeyError, TypeError):
        consistent = False
    if not consistent:
        raise CandidateError(
            f"{candidate.path.name}: {item.get('file')} is not a consistent validation result"
        )
    return results
