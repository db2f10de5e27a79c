"""Release gates: what a release must show, evaluated on the exact model content.

- ``suite:NAME``: a passing run of each required suite on this version, recorded for
  this model content, for the suite's current version, on dataset versions whose
  content is what the run read. A stale run never passes.
- ``benchmark:PROFILE``: the newest benchmark of this content on each target, within
  the profile's latency budget.
- ``contract:PROFILE``: the I/O contract is compatible with the release last shipped to
  the target (or the policy allows a breaking change).
- ``integrity``: the model's files in the catalog still hash to what the release names.
- ``approvals``: enough distinct trusted release managers approved, none the version's
  author or the release's creator, each signature holding over this very evidence.

The evidence of every gate but the approvals hashes to ``evidence_sha256``: an approval
signs it, so evidence that changes afterwards leaves the approval behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import IntegrityError, ModelDeskError
from modeldesk.release.records import PACKAGED, Decision, Release
from modeldesk.release.trust import RELEASE_MANAGER, TrustedKey, trusted_keys
from modeldesk.release.verify_bundle import DECISION_TYPE, canonical

__all__ = ["Gate", "GateReport", "decision_statement", "evaluate_gates"]

# Evidence fields that name rows of one catalog: left out of the hash approvals sign, so
# that the same evidence hashes alike in every catalog the candidate travels to.
LOCAL_FIELDS = frozenset({"run", "stale_run", "baseline_release"})


@dataclass(frozen=True)
class Gate:
    """One gate: whether it holds, why (one line), and the evidence it read."""

    id: str
    kind: str
    passed: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "passed": self.passed,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class GateReport:
    """Every gate of a release, and the hash of the evidence approvals sign."""

    release_id: int
    gates: list[Gate]
    evidence_sha256: str

    @property
    def passed(self) -> bool:
        """Whether every gate holds."""
        return all(gate.passed for gate in self.gates)

    def failing(self, *, except_approvals: bool = False) -> list[Gate]:
        """The gates that do not hold (all but the approvals gate, if asked)."""
        return [
            g
            for g in self.gates
            if not g.passed and not (except_approvals and g.kind == "approvals")
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``release gates --json`` prints."""
        return {
            "release": self.release_id,
            "passed": self.passed,
            "evidence_sha256": self.evidence_sha256,
            "gates": [gate.to_dict() for gate in self.gates],
        }


def decision_statement(
    release: Release, decision: str, comment: str, evidence_sha256: str, at: str
) -> str:
    """The canonical JSON a release manager's key signs to approve or reject a release.

    It names the release by content (model, version, hash, channel, targets, policy), not
    by a catalog's row id, so it verifies in every catalog the candidate travels to.
    """
    return canonical(
        {
            "type": DECISION_TYPE,
            "model": release.model.name,
            "version": release.model.version,
            "model_sha256": release.model_sha256,
            "channel": release.channel,
            "targets": list(release.targets),
            "policy_sha256": release.policy.policy.sha256 if release.policy else None,
            "decision": decision,
            "comment": comment,
            "evidence_sha256": evidence_sha256,
            "at": at,
        }
    ).decode()


def _suite_gate(catalog: Catalog, release: Release, name: str) -> Gate:
    from modeldesk.datasets.registry import get_dataset_version
    from modeldesk.validate.registry import get_suite, suite_by_version_id, validation_run

    gate_id = f"suite:{name}"
    current = get_suite(catalog, name)
    runs = catalog.query(
        "SELECT id, suite_version_id, verdict, results_sha256 FROM validation_run "
        "WHERE model_version_id = ? AND model_sha256 = ? ORDER BY id DESC",
        (release.model.id, release.model_sha256),
    )
    if not runs:
        return Gate(
            gate_id,
            "suite",
            False,
            f"no run of suite {name} on {release.model.ref}: run 'modeldesk validate "
            f"{release.model.ref} --suite {name}'",
        )
    of_current = [run for run in runs if run["suite_version_id"] == current.id]
    if not of_current:
        newest = suite_by_version_id(catalog, runs[0]["suite_version_id"])
        return Gate(
            gate_id,
            "suite",
            False,
            f"no run of {current.ref} (the current version) on {release.model.ref}; "
            f"the newest run #{runs[0]['id']} is for {newest.ref}",
            {"stale_run": runs[0]["id"]},
        )
    run = of_current[0]
    results = validation_run(catalog, run["id"])  # its blob verified against its hash
    stale = []
    for ref, sha in results.get("datasets", {}).items():
        try:
            if get_dataset_version(catalog, ref).sha256 != sha:
                stale.append(ref)
        except ModelDeskError:
            stale.append(ref)
    evidence = {
        "run": run["id"],
        "suite": current.ref,
        "suite_sha256": current.sha256,
        "results_sha256": run["results_sha256"],
        "datasets": results.get("datasets", {}),
    }
    if stale:
        return Gate(
            gate_id,
            "suite",
            False,
            f"run #{run['id']} of {current.ref} read {', '.join(stale)} as content the "
            "catalog no longer holds",
            evidence,
        )
    if run["verdict"] != "PASS":
        counts = results.get("counts", {})
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v and k != "PASS")
        return Gate(
            gate_id,
            "suite",
            False,
            f"the newest run #{run['id']} of {current.ref} on {release.model.ref} is "
            f"{run['verdict']} ({summary or 'not passed'})",
            evidence,
        )
    return Gate(
        gate_id,
        "suite",
        True,
        f"run #{run['id']} of {current.ref} passed on this exact model",
        evidence,
    )


def _benchmark_gate(catalog: Catalog, release: Release, target: str) -> Gate:
    from modeldesk.bench.run import latest_run_of_content

    gate_id = f"benchmark:{target}"
    run = latest_run_of_content(catalog, release.model_sha256, target)
    if run is None:
        return Gate(
            gate_id,
            "benchmark",
            False,
            f"no benchmark of this model content on {target}: run 'modeldesk bench "
            f"{release.model.ref} --profile {target}'",
        )
    rows = catalog.query("SELECT results_sha256 FROM bench_run WHERE id = ?", (run.id,))
    evidence = {
        "run": run.id,
        "profile": target,
        "results_sha256": rows[0]["results_sha256"],
        "summary": run.summary,
    }
    percentile = run.summary.get("percentile", 95)
    measured = run.summary.get(f"p{percentile}_ms")
    budget = run.summary.get("budget_ms")
    if run.passed is False:
        return Gate(
            gate_id,
            "benchmark",
            False,
            f"run #{run.id} on {target} is over budget (p{percentile} {measured:.3f} ms, "
            f"budget {budget:g} ms)",
            evidence,
        )
    within = "no budget set" if run.passed is None else f"within {budget:g} ms"
    return Gate(
        gate_id,
        "benchmark",
        True,
        f"run #{run.id} on {target}: p{percentile} {measured:.3f} ms, {within}",
        evidence,
    )


def _last_shipped(catalog: Catalog, release: Release, target: str) -> Release | None:
    from modeldesk.release.records import list_releases

    for other in list_releases(catalog, release.model.name):
        if other.id != release.id and other.state == PACKAGED and target in other.targets:
            return other
    return None


def _contract_gate(catalog: Catalog, release: Release, target: str) -> Gate:
    from modeldesk.models.contract import diff_contract

    gate_id = f"contract:{target}"
    shipped = _last_shipped(catalog, release, target)
    if shipped is None:
        return Gate(
            gate_id, "contract", True, f"the first release of {release.model.name} to {target}"
        )
    changes = diff_contract(shipped.model.facts, release.model.facts)
    breaking = [change for change in changes if change.breaking]
    evidence = {
        "baseline_release": shipped.id,
        "baseline": shipped.model.ref,
        "baseline_sha256": shipped.model_sha256,
        "breaking": [c.to_dict() for c in breaking],
    }
    if not breaking:
        return Gate(
            gate_id,
            "contract",
            True,
            f"compatible with {shipped.model.ref} (release #{shipped.id} on {target})",
            evidence,
        )
    summary = "; ".join(f"{c.side} {c.name}: {c.reason}" for c in breaking[:3])
    allowed = release.policy is not None and release.policy.policy.allow_breaking_contract
    return Gate(
        gate_id,
        "contract",
        allowed,
        f"{len(breaking)} breaking change(s) from {shipped.model.ref} on {target} "
        f"({summary})" + ("; the policy allows it" if allowed else ""),
        evidence,
    )


def _integrity_gate(catalog: Catalog, release: Release, hash_blobs: bool) -> Gate:
    model = release.model
    problems = []
    if model.sha256 != release.model_sha256:
        problems.append(
            f"{model.ref} now names {model.sha256[:12]}, not {release.model_sha256[:12]}"
        )
    for sha in [model.sha256, *(f.sha256 for f in model.external_files)]:
        if hash_blobs:
            problem = catalog.blobs.verify(sha)
        else:  # the caller hashes every byte as it reads them (packaging does)
            problem = None if catalog.blobs.exists(sha) else f"blob {sha}: missing"
        if problem:
            problems.append(problem)
    files = {model.file_name: model.sha256, **{f.path: f.sha256 for f in model.external_files}}
    if problems:
        return Gate("integrity", "integrity", False, "; ".join(problems), {"files": files})
    return Gate(
        "integrity",
        "integrity",
        True,
        f"{len(files)} model file(s) match their hashes",
        {"files": files},
    )


def _approval_problem(
    decision: Decision, release: Release, keys: dict[str, TrustedKey], evidence_sha256: str
) -> str | None:
    key = keys.get(decision.key)
    who = key.label if key else decision.key[:16]
    if key is None:
        return f"{who}: not a trusted key"
    if not key.has_role(RELEASE_MANAGER):
        return f"{who}: revoked" if key.revoked else f"{who}: not a release manager"
    if decision.key == release.model.author_key:
        return f"{who}: the version's author"
    if decision.key == release.creator_key:
        return f"{who}: the release's creator"
    if not key.public.verify(decision.signature, decision.statement.encode()):
        return f"{who}: the signature does not verify"
    statement = json.loads(decision.statement)
    expected = json.loads(
        decision_statement(
            release, "approve", decision.comment, evidence_sha256, statement.get("at", "")
        )
    )
    if statement.get("evidence_sha256") != evidence_sha256:
        return f"{who}: approved other evidence (it changed since)"
    if statement != expected:
        return f"{who}: the statement is for another release"
    return None


def _approvals_gate(release: Release, keys: dict[str, TrustedKey], evidence_sha256: str) -> Gate:
    needed = release.policy.policy.approvals if release.policy else 1
    valid: list[str] = []
    problems: list[str] = []
    for decision in release.approvals:
        problem = _approval_problem(decision, release, keys, evidence_sha256)
        if problem:
            problems.append(problem)
        elif decision.key not in valid:
            valid.append(decision.key)
    names = [keys[k].label for k in valid]
    evidence = {"valid": valid, "needed": needed, "refused": problems}
    message = f"{len(valid)} of {needed} approval(s)" + (f": {', '.join(names)}" if names else "")
    if problems:
        message += f" (not counted: {'; '.join(problems)})"
    return Gate("approvals", "approvals", len(valid) >= needed, message, evidence)


def evaluate_gates(catalog: Catalog, release: Release, *, hash_blobs: bool = True) -> GateReport:
    """Every gate of ``release`` on the catalog as it is now. ``hash_blobs=False`` leaves
    the model files' hashes to a caller that checks each byte as it reads it."""
    gates: list[Gate] = []
    policy = release.policy.policy if release.policy else None
    for suite in policy.required_suites if policy else ():
        try:
            gates.append(_suite_gate(catalog, release, suite))
        except (ModelDeskError, IntegrityError) as error:
            gates.append(Gate(f"suite:{suite}", "suite", False, str(error)))
    for target in release.targets:
        gates.append(_benchmark_gate(catalog, release, target))
        gates.append(_contract_gate(catalog, release, target))
    gates.append(_integrity_gate(catalog, release, hash_blobs))
    evidence = {
        "model": release.model.ref,
        "model_sha256": release.model_sha256,
        "channel": release.channel,
        "targets": list(release.targets),
        "policy_sha256": policy.sha256 if policy else None,
        "gates": [
            {
                "id": gate.id,
                "passed": gate.passed,
                "evidence": {k: v for k, v in gate.evidence.items() if k not in LOCAL_FIELDS},
            }
            for gate in gates
        ],
    }
    digest = hashlib.sha256(canonical(evidence)).hexdigest()
    gates.append(_approvals_gate(release, trusted_keys(catalog), digest))
    return GateReport(release.id, gates, digest)
