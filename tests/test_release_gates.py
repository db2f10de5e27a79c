"""Release policies, candidates, gates and approvals on the demo catalog, for real: real
validation runs and ONNX Runtime benchmarks as evidence, real ECDSA keys as people.

The cast: alice, the catalog's creator and a release manager; bob, an engineer who
creates releases; carol, a second release manager; mallory, whom no one trusts.
"""

from __future__ import annotations

import pytest

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.errors import BadInputError
from modeldesk.release.gates import evaluate_gates
from modeldesk.release.lifecycle import approve_release, reject_release
from modeldesk.release.policy import PolicyError, get_policy, parse_policy, set_policy
from modeldesk.release.records import create_release, get_release, list_releases
from modeldesk.release.trust import TrustError, revoke_key
from modeldesk.validate.registry import add_suite, get_suite
from modeldesk.validate.run import run_suite

from helpers import Cast

POLICY = """[policy]
model = "breast-cancer"
required_suites = ["breast-cancer-gate"]
targets = ["edge-roomy", "edge-tight"]
approvals = 1
"""


@pytest.fixture
def cast(demo, tmp_path):
    people = Cast(tmp_path / "people")
    people.trust_all(demo)
    # Two targets: one whose budget any run meets, one no run can meet.
    add_profile(demo, Profile("edge-roomy", intra_threads=1, iterations=20, budget_ms=10_000))
    add_profile(demo, Profile("edge-tight", intra_threads=1, iterations=20, budget_ms=1e-6))
    set_policy(demo, people.alice, POLICY)
    return people


def _evidence(demo, ref: str, *, targets=("edge-roomy",)) -> None:
    """A run of the demo's suite on ``ref``, and a benchmark of it on each target."""
    run_suite(demo, get_suite(demo, "breast-cancer-gate"), ref)
    for target in targets:
        bench_profile(demo, ref, get_profile(demo, target))


def _gates(demo, release_id: int) -> dict[str, tuple[bool, str]]:
    report = evaluate_gates(demo, get_release(demo, release_id))
    return {gate.id: (gate.passed, gate.message) for gate in report.gates}


def test_a_policy_is_checked_versioned_and_set_only_by_a_release_manager(demo, cast):
    assert get_policy(demo, "breast-cancer").ref == "breast-cancer@1"
    assert set_policy(demo, cast.alice, POLICY)[1] is False  # the same text: no new version
    with pytest.raises(TrustError, match="not a trusted release manager's"):
        set_policy(demo, cast.bob, POLICY.replace("approvals = 1", "approvals = 2"))
    assert set_policy(demo, cast.carol, POLICY + "expiry_days = 30\n")[0].ref == "breast-cancer@2"
    for text, problem in [
        ("[policy]\nmodel = 'breast-cancer'\napprovals = 0\n", "approvals 0: give 1 to 10"),
        ("[policy]\nmodel = 'breast-cancer'\napproval = 2\n", "unknown field 'approval'"),
        ("[policy]\nrequired_suites = []\n", "needs 'model'"),
        ("[policy\n", "not valid TOML"),
        ("[policy]\nmodel = 'breast-cancer'\ntargets = 'edge'\n", "targets must be a list"),
    ]:
        with pytest.raises(PolicyError, match=problem):
            parse_policy(text)
    with pytest.raises(BadInputError, match="suite 'diabetes-gate' validates 'diabetes'"):
        set_policy(demo, cast.alice, POLICY.replace("breast-cancer-gate", "diabetes-gate"))


def test_gates_name_the_evidence_a_candidate_lacks(demo, cast):
    release = create_release(demo, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    assert release.state == "candidate" and release.creator_key == cast.bob.fingerprint
    gates = _gates(demo, release.id)
    assert list(gates) == [
        "suite:breast-cancer-gate", "benchmark:edge-roomy", "contract:edge-roomy",
        "integrity", "approvals",
    ]  # fmt: skip
    assert gates["suite:breast-cancer-gate"] == (
        False,
        "no run of suite breast-cancer-gate on breast-cancer@2: run 'modeldesk validate "
        "breast-cancer@2 --suite breast-cancer-gate'",
    )
    assert not gates["benchmark:edge-roomy"][0]
    assert "no benchmark of this model content on edge-roomy" in gates["benchmark:edge-roomy"][1]
    assert gates["contract:edge-roomy"] == (
        True,
        "the first release of breast-cancer to edge-roomy",
    )
    assert gates["integrity"][0] and gates["approvals"] == (False, "0 of 1 approval(s)")
    with pytest.raises(BadInputError, match="gate.s. fail: suite:breast-cancer-gate: no run"):
        approve_release(demo, cast.carol, release.id, comment="looks fine")
    assert get_release(demo, release.id).decisions == []


def test_a_release_manager_who_is_not_the_creator_approves_with_evidence(demo, cast):
    _evidence(demo, "breast-cancer@2")
    release = create_release(demo, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    gates = _gates(demo, release.id)
    assert all(passed for gate, (passed, _) in gates.items() if gate != "approvals"), gates
    with pytest.raises(TrustError, match="is not a release manager's"):
        approve_release(demo, cast.bob, release.id, comment="mine")
    with pytest.raises(TrustError, match="not trusted in this catalog"):
        approve_release(demo, cast.mallory, release.id, comment="ship it")
    with pytest.raises(BadInputError, match="--comment: say why"):
        approve_release(demo, cast.carol, release.id, comment="  ")
    approved, report = approve_release(demo, cast.carol, release.id, comment="suite and p95 ok")
    assert approved.state == "approved" and report.passed
    (decision,) = approved.decisions
    assert cast.carol.public.verify(decision.signature, decision.statement.encode())
    assert f'"evidence_sha256":"{report.evidence_sha256}"' in decision.statement
    with pytest.raises(TrustError, match="is approved"):
        approve_release(demo, cast.alice, release.id, comment="me too")


def test_the_creator_and_the_author_may_not_approve(demo, cast, model_file, monkeypatch):
    _evidence(demo, "breast-cancer@2")
    own = create_release(demo, cast.carol, "breast-cancer@2", targets=["edge-roomy"])
    with pytest.raises(TrustError, match="created release #.*its creator may not decide"):
        approve_release(demo, cast.carol, own.id, comment="self-approval")
    # Alice imports a version (she is its author), carol creates its release.
    from modeldesk.models.importer import import_model

    cast.act_as(monkeypatch, "alice")
    imported = import_model(demo, model_file("linear_regressor", features=3), name="breast-cancer")
    assert imported.version.author_key == cast.alice.fingerprint
    authored = create_release(demo, cast.carol, imported.version.ref, targets=["edge-roomy"])
    with pytest.raises(TrustError, match="imported breast-cancer@4: its author may not decide"):
        approve_release(demo, cast.alice, authored.id, comment="my model is great")


def test_a_failing_or_stale_suite_run_and_an_overrun_budget_block_the_release(demo, cast):
    _evidence(demo, "breast-cancer@3", targets=("edge-roomy", "edge-tight"))
    release = create_release(
        demo, cast.bob, "breast-cancer@3", targets=["edge-roomy", "edge-tight"]
    )
    gates = _gates(demo, release.id)
    passed, message = gates["suite:breast-cancer-gate"]
    assert not passed and "of breast-cancer-gate@1 on breast-cancer@3 is FAIL (1 FAIL" in message
    assert (
        gates["benchmark:edge-roomy"][0] and "within 10000 ms" in gates["benchmark:edge-roomy"][1]
    )
    assert (
        not gates["benchmark:edge-tight"][0] and "over budget" in gates["benchmark:edge-tight"][1]
    )
    # A new version of the suite makes every earlier run stale, passing or not.
    _evidence(demo, "breast-cancer@2")
    passing = create_release(demo, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    assert _gates(demo, passing.id)["suite:breast-cancer-gate"][0]
    text = get_suite(demo, "breast-cancer-gate").suite.text + "\n# tightened\n"
    add_suite(demo, text)
    stale = _gates(demo, passing.id)["suite:breast-cancer-gate"]
    assert stale[0] is False and "no run of breast-cancer-gate@2 (the current version)" in stale[1]


def test_an_approval_stops_counting_when_its_evidence_or_its_key_changes(demo, cast):
    _evidence(demo, "breast-cancer@2")
    release = create_release(demo, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    approved, _ = approve_release(demo, cast.carol, release.id, comment="ok")
    assert approved.state == "approved"
    # A fresh benchmark is new evidence: the approval was for the old.
    bench_profile(demo, "breast-cancer@2", get_profile(demo, "edge-roomy"))
    passed, message = _gates(demo, release.id)["approvals"]
    assert not passed and "approved other evidence (it changed since)" in message
    # A model blob changed behind the catalog's back fails the integrity gate.
    blob = demo.blobs.path(approved.model.sha256)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\x00")
    integrity = _gates(demo, release.id)["integrity"]
    assert not integrity[0] and "content does not match its hash" in integrity[1]


def test_a_revoked_release_managers_approval_no_longer_counts(demo, cast):
    _evidence(demo, "breast-cancer@2")
    release = create_release(demo, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    approve_release(demo, cast.carol, release.id, comment="ok")
    revoke_key(demo, cast.alice, cast.carol.fingerprint, reason="key leaked")
    passed, message = _gates(demo, release.id)["approvals"]
    assert not passed and "carol" in message and "revoked" in message
    with pytest.raises(TrustError, match="was revoked"):
        create_release(demo, cast.carol, "breast-cancer@2", targets=["edge-roomy"])


def test_a_rejection_is_signed_and_final(demo, cast):
    release = create_release(demo, cast.bob, "breast-cancer@3", targets=["edge-roomy"])
    rejected, _ = reject_release(demo, cast.carol, release.id, comment="fails concave points")
    assert rejected.state == "rejected" and rejected.decisions[0].decision == "reject"
    with pytest.raises(TrustError, match="is rejected"):
        approve_release(demo, cast.alice, release.id, comment="overrule")
    assert [r.id for r in list_releases(demo, "breast-cancer")] == [release.id]


def test_the_release_commands(demo, cast, run_cli, monkeypatch, tmp_path):
    catalog = demo.path
    _evidence(demo, "breast-cancer@2")
    cast.act_as(monkeypatch, "bob")
    created = run_cli("--catalog", catalog, "release", "create", "breast-cancer@2",
                      "--target", "edge-roomy")  # fmt: skip
    assert created.code == 0, created.err
    release_id = created.out.strip()
    gates = run_cli("--catalog", catalog, "release", "gates", release_id)
    assert gates.code == 1 and "0 of 1 approval(s)" in gates.out
    refused = run_cli("--catalog", catalog, "release", "approve", release_id, "--comment", "x")
    assert refused.code == 2 and "is not a release manager's" in refused.err
    cast.act_as(monkeypatch, "carol")
    approved = run_cli("--catalog", catalog, "release", "approve", release_id, "--comment", "ok")
    assert approved.code == 0 and "is approved (1 of 1 approval(s): carol" in approved.out
    assert run_cli("--catalog", catalog, "release", "gates", release_id).code == 0
    shown = run_cli("--catalog", catalog, "release", "show", release_id)
    assert "approve" in shown.out and "carol (" in shown.out and "bob (" in shown.out
    listed = run_cli("--catalog", catalog, "release", "list", "--model", "breast-cancer")
    assert "approved" in listed.out
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.replace("breast-cancer", "diabetes").replace("-gate", "-gate"))
    wrong = run_cli("--catalog", catalog, "release", "policy", "set", "breast-cancer",
                    "--file", policy)  # fmt: skip
    assert wrong.code == 2 and "is the policy of model 'diabetes'" in wrong.err
    assert run_cli("--catalog", catalog, "audit", "verify").code == 0
