"""The candidate travels as a file: bob's workstation exports a release, carol's reviews,
approves and packages it, and bob's records the bundle back.

Two real catalogs (bob's is a copy of the demo; carol's starts empty and trusts only
herself and bob), a real import, suite run and benchmark as evidence, and candidate
files read back through every check. Hostile candidates are built the way a trusted but
careless (or compromised) exporter would: the entries changed and the envelope signed
again with bob's own key, so only the review's own checks stand between them and the
catalog.
"""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pytest

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.importer import import_model
from modeldesk.release.bundle import add_entry, package_release, signed_envelope
from modeldesk.release.candidate import CANDIDATE_PREDICATE, CandidateError, export_candidate
from modeldesk.release.gates import evaluate_gates
from modeldesk.release.lifecycle import approve_release
from modeldesk.release.policy import set_policy
from modeldesk.release.records import create_release, get_release, list_releases
from modeldesk.release.returned import import_bundle
from modeldesk.release.review import review_candidate
from modeldesk.release.trust import TrustError, trust_key
from modeldesk.release.verify_bundle import ATTESTATION
from modeldesk.resources import resources_dir
from modeldesk.validate.registry import add_suite
from modeldesk.validate.run import run_suite

from helpers import BC_SUITE as SUITE, Cast, catalog_snapshot

POLICY = """[policy]
model = "bc"
required_suites = ["bc-gate"]
targets = ["edge-roomy"]
approvals = 1
"""
MODEL = resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx"


@pytest.fixture
def workstations(demo, tmp_path, monkeypatch):
    """bob's catalog with a candidate release of bc@1 (his import, a passing run, a
    benchmark), its candidate file, and carol's catalog, which trusts carol and bob."""
    cast = Cast(tmp_path / "people")
    cast.trust_all(demo)
    cast.act_as(monkeypatch, "bob")
    import_model(
        demo,
        MODEL,
        name="bc",
        trained_on="breast-cancer-train@2",
        classes=["malignant", "benign"],
        description="Flags malignant tumours.",
    )
    monkeypatch.delenv("MODELDESK_KEY")
    add_profile(demo, Profile("edge-roomy", intra_threads=1, iterations=20, budget_ms=10_000))
    suite, _ = add_suite(demo, SUITE)
    set_policy(demo, cast.alice, POLICY)
    run_suite(demo, suite, "bc@1")
    bench_profile(demo, "bc@1", get_profile(demo, "edge-roomy"))
    release = create_release(demo, cast.bob, "bc@1", targets=["edge-roomy"])
    candidate = export_candidate(demo, cast.bob, release.id, tmp_path / "bc-1.mdrc")
    carol_catalog = Catalog.init(tmp_path / "carol-catalog")
    trust_key(
        carol_catalog, cast.carol, cast.carol.public, name="carol", roles=("release-manager",)
    )
    trust_key(carol_catalog, cast.carol, cast.bob.public, name="bob", roles=("engineer",))
    yield demo, carol_catalog, cast, release, candidate
    carol_catalog.close()


def test_a_candidate_is_reviewed_approved_and_packaged_elsewhere_and_recorded_back(
    workstations, tmp_path
):
    bobs, carols, cast, release, candidate = workstations
    names = zipfile.ZipFile(candidate).namelist()
    assert names[0] == "model/breast-cancer-v2.onnx" and names[-1] == ATTESTATION
    assert "datasets/breast-cancer-test@1.parquet" in names and "candidate.json" in names

    review = review_candidate(carols, cast.carol, candidate)
    assert review.created and review.release.state == "candidate"
    assert {
        "model bc@1",
        "dataset breast-cancer-test@1",
        "suite bc-gate@1",
        "policy bc@1",
        "profile edge-roomy",
    } <= set(review.adopted)
    assert any(line.startswith("validation run #") for line in review.adopted)
    assert any(line.startswith("benchmark run #") for line in review.adopted)
    assert any("breast-cancer-train@2" in note for note in review.notes)  # not carried
    # The same evidence, hashed alike in both catalogs: approvals signed here hold there.
    assert review.report.evidence_sha256 == evaluate_gates(bobs, release).evidence_sha256
    assert [g.id for g in review.report.failing()] == ["approvals"]
    here = review.release
    assert (
        here.model.author_key == cast.bob.fingerprint and here.creator_key == cast.bob.fingerprint
    )
    assert here.model.sha256 == release.model_sha256 and here.model.version == 1

    approved, _ = approve_release(carols, cast.carol, here.id, comment="reviewed offline")
    assert approved.state == "approved"
    bundle = package_release(carols, cast.carol, here.id, tmp_path / "out")

    recorded, changed = import_bundle(bobs, cast.bob, bundle)
    assert changed and recorded.id == release.id and recorded.state == "packaged"
    assert recorded.counter == 1 and [d.key for d in recorded.approvals] == [cast.carol.fingerprint]
    assert evaluate_gates(bobs, recorded).passed  # carol's approval holds in bob's catalog too
    assert import_bundle(bobs, cast.bob, bundle) == (get_release(bobs, release.id), False)


def test_reviewing_the_same_candidate_again_finds_what_it_brought(workstations):
    _, carols, cast, _, candidate = workstations
    first = review_candidate(carols, cast.carol, candidate)
    before = catalog_snapshot(carols.path)
    again = review_candidate(carols, cast.carol, candidate)
    assert (again.created, again.adopted, again.release.id) == (False, [], first.release.id)
    after = catalog_snapshot(carols.path)
    assert (
        after["release"] == before["release"] and after["model_version"] == before["model_version"]
    )
    assert len(after["audit"]) == len(before["audit"]) + 1  # one signed release.review row


def test_the_same_flow_inside_one_catalog_with_two_keys(workstations):
    bobs, _, cast, release, candidate = workstations
    review = review_candidate(bobs, cast.carol, candidate)
    assert (review.created, review.release.id, review.adopted) == (False, release.id, [])
    assert review.report.evidence_sha256 == review.candidate_evidence


def test_a_candidate_from_a_key_not_trusted_here_is_refused(workstations, tmp_path):
    _, _, cast, _, candidate = workstations
    stranger = Catalog.init(tmp_path / "stranger")
    trust_key(stranger, cast.carol, cast.carol.public, name="carol", roles=("release-manager",))
    before = catalog_snapshot(stranger.path)
    with pytest.raises(CandidateError, match="not trusted in this catalog"):
        review_candidate(stranger, cast.carol, candidate)
    assert catalog_snapshot(stranger.path) == before


def test_only_a_release_manager_reviews(workstations):
    _, carols, cast, _, candidate = workstations
    with pytest.raises(TrustError, match="not a trusted release manager"):
        review_candidate(carols, cast.bob, candidate)


def _rewrite(candidate: Path, out: Path, signer, changes) -> Path:
    """A copy of ``candidate`` with entries changed (``changes``: name -> function of the
    old bytes) and the envelope signed again by ``signer``."""
    digests = {}
    with zipfile.ZipFile(candidate) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist()[:-1]:
            data = source.read(name)
            data = changes[name](data) if name in changes else data
            digests[name], _ = add_entry(target, name, data)
        record = json.loads(source.read("candidate.json"))
        predicate = {k: record["release"][k] for k in ("model", "version", "channel")}
        add_entry(
            target, ATTESTATION, signed_envelope(signer, digests, CANDIDATE_PREDICATE, predicate)
        )
    return out


def _edit_record(edit):
    def change(data: bytes) -> bytes:
        record = json.loads(data)
        edit(record)
        return json.dumps(record).encode()

    return change


def test_tampered_candidates_are_refused_and_change_nothing(workstations, tmp_path):
    _, carols, cast, _, candidate = workstations
    with zipfile.ZipFile(candidate) as opened:
        record = json.loads(opened.read("candidate.json"))
    run_file = record["validation_runs"][0]["file"]

    def flip_verdict(data: bytes) -> bytes:
        results = json.loads(data)
        results["checks"][0]["verdict"] = "FAIL"  # the run says PASS over a failed check
        return json.dumps(results).encode()

    def other_author(record):
        record["model"]["author_signature"] = base64.b64encode(
            cast.bob.sign(b"something else")
        ).decode()

    def fake_content(record):
        record["datasets"][0]["sha256"] = "0" * 64

    cases = {
        "flipped": (
            {"model/breast-cancer-v2.onnx": lambda d: d[:-1] + bytes([d[-1] ^ 1])},
            "is not the content bc@1 names",
        ),
        "verdict": ({run_file: flip_verdict}, "not a consistent validation result"),
        "author": ({"candidate.json": _edit_record(other_author)}, "author's signature"),
        "dataset": ({"candidate.json": _edit_record(fake_content)}, "does not carry|hash"),
    }
    before = catalog_snapshot(carols.path)
    for label, (changes, message) in cases.items():
        hostile = _rewrite(candidate, tmp_path / f"{label}.mdrc", cast.bob, changes)
        with pytest.raises(BadInputError, match=message):
            review_candidate(carols, cast.carol, hostile)
        assert catalog_snapshot(carols.path) == before, label

    # A byte changed after signing: the envelope no longer covers it.
    data = bytearray(candidate.read_bytes())
    index = data.index(b'"evidence_sha256"')
    data[index + 1] ^= 0x20
    (tmp_path / "edited.mdrc").write_bytes(bytes(data))
    with pytest.raises(CandidateError, match="do not match the signed digest"):
        review_candidate(carols, cast.carol, tmp_path / "edited.mdrc")
    assert catalog_snapshot(carols.path) == before


def test_a_benchmark_whose_summary_does_not_follow_from_its_results_is_left_out(
    workstations, tmp_path
):
    _, carols, cast, _, candidate = workstations

    def generous(record):
        record["bench_runs"][0]["summary"]["p95_ms"] = 0.001

    hostile = _rewrite(
        candidate, tmp_path / "bench.mdrc", cast.bob, {"candidate.json": _edit_record(generous)}
    )
    review = review_candidate(carols, cast.carol, hostile)
    assert any("does not follow from its results" in note for note in review.notes)
    gate = next(g for g in review.report.gates if g.id == "benchmark:edge-roomy")
    assert not gate.passed and "no benchmark" in gate.message


def test_a_version_held_here_with_other_content_is_refused_up_front(workstations, tmp_path):
    _, carols, cast, _, candidate = workstations
    other = resources_dir() / "demo" / "models" / "breast-cancer-v1.onnx"
    import_model(carols, other, name="bc", signer=cast.carol)
    before = catalog_snapshot(carols.path)
    with pytest.raises(CandidateError, match=r"holds model bc@1 with other content"):
        review_candidate(carols, cast.carol, candidate)
    assert catalog_snapshot(carols.path) == before


def test_this_catalogs_own_policy_applies(workstations):
    _, carols, cast, _, candidate = workstations
    import_model(carols, MODEL, name="bc", signer=cast.carol)  # the same content, bc@1
    add_profile(carols, Profile("edge-roomy", intra_threads=1, iterations=20, budget_ms=10_000))
    stricter = POLICY.replace("approvals = 1", "approvals = 2")
    add_suite(carols, SUITE)
    set_policy(carols, cast.carol, stricter)
    review = review_candidate(carols, cast.carol, candidate)
    assert review.release.policy.policy.approvals == 2
    assert any("this catalog's bc@1 applies" in note for note in review.notes)
    assert any("imported by another key" in note for note in review.notes)
    # carol imported bc@1 here herself: as its author she may not approve it.
    with pytest.raises(TrustError, match="its author may not decide"):
        approve_release(carols, cast.carol, review.release.id, comment="mine")


def test_a_bundle_is_recorded_only_against_a_matching_release_with_trusted_keys(
    workstations, tmp_path
):
    bobs, carols, cast, _, candidate = workstations
    review = review_candidate(carols, cast.carol, candidate)
    approve_release(carols, cast.carol, review.release.id, comment="ok")
    bundle = package_release(carols, cast.carol, review.release.id, tmp_path / "out")
    # A catalog that never had the release, nor trusts carol.
    stranger = Catalog.init(tmp_path / "stranger")
    trust_key(stranger, cast.bob, cast.bob.public, name="bob", roles=("release-manager",))
    with pytest.raises(BadInputError, match="refused .*not trusted in this catalog"):
        import_bundle(stranger, cast.bob, bundle)
    trust_key(stranger, cast.bob, cast.carol.public, name="carol", roles=("release-manager",))
    with pytest.raises(NotFoundError, match="holds no release of bc@1"):
        import_bundle(stranger, cast.bob, bundle)
    assert [r.state for r in list_releases(bobs, "bc")] == ["candidate"]


def test_the_transfer_commands(workstations, run_cli, monkeypatch, tmp_path):
    bobs, carols, cast, release, _ = workstations
    cast.act_as(monkeypatch, "bob")
    out = tmp_path / "cli.mdrc"
    exported = run_cli("--catalog", bobs.path, "release", "export", release.id, "--out", out)
    assert exported.code == 0 and out.is_file()
    wrong = run_cli(
        "--catalog", bobs.path, "release", "export", release.id, "--out", tmp_path / "x.zip"
    )
    assert wrong.code != 0 and "ends in .mdrc" in wrong.err
    cast.act_as(monkeypatch, "carol")
    reviewed = run_cli("--catalog", carols.path, "release", "review", out, "--rerun")
    assert reviewed.code == 1, reviewed.err  # the approvals gate fails until carol approves
    assert "brought in  model bc@1" in reviewed.out and "FAIL" in reviewed.out
    carols_release = list_releases(carols, "bc")[0]
    runs = carols.query("SELECT COUNT(*) AS n FROM validation_run")[0]["n"]
    assert runs == 2  # the adopted run and the rerun here
    assert carols.query("SELECT COUNT(*) AS n FROM bench_run")[0]["n"] == 2
    as_json = run_cli("--catalog", carols.path, "release", "review", out, "--json")
    assert json.loads(as_json.out)["release"] == carols_release.id
    run_cli("--catalog", carols.path, "release", "approve", carols_release.id, "--comment", "ok")
    packaged = run_cli(
        "--catalog",
        carols.path,
        "release",
        "package",
        carols_release.id,
        "--out",
        tmp_path / "bundles",
    )
    assert packaged.code == 0, packaged.err
    cast.act_as(monkeypatch, "bob")
    imported = run_cli("--catalog", bobs.path, "release", "import", packaged.out.strip())
    assert imported.code == 0 and "packaged as r1" in imported.out
    assert run_cli("--catalog", bobs.path, "audit", "verify").code == 0
    assert run_cli("--catalog", carols.path, "audit", "verify").code == 0
