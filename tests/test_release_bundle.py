"""Packaging a release into its signed bundle, and verifying bundles as a device does.

A real approved release (the demo's breast-cancer classifier imported by bob with his
key, a passing suite run and a real benchmark as evidence, carol's approval) is
packaged once per test; the verifier then reads it, and tampered copies of it built
byte by byte, the way a hostile file would arrive.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.explain.run import explain
from modeldesk.models.importer import import_model
from modeldesk.release.bundle import package_release
from modeldesk.release.lifecycle import approve_release
from modeldesk.release.policy import set_policy
from modeldesk.release.records import create_release, get_release
from modeldesk.release.trust import trusted_keys
from modeldesk.release.verify_bundle import Refused, load_keys, verify_bundle
from modeldesk.resources import resources_dir
from modeldesk.validate.registry import add_suite
from modeldesk.validate.run import run_suite

from helpers import BC_SUITE, Cast

SUITE = (
    BC_SUITE
    + """
[[check]]
id = "radius-slices"
kind = "slices"
column = "mean radius"
metric = "accuracy"
min = 0.6
"""
)
POLICY = """[policy]
model = "bc"
required_suites = ["bc-gate"]
targets = ["edge-roomy"]
approvals = 1
expiry_days = 30
"""


def _export_keys(catalog, path: Path) -> Path:
    keys = [key.to_dict() for key in trusted_keys(catalog).values()]
    path.write_text(json.dumps({"keys": keys}))
    return path


@pytest.fixture
def shipped(demo, tmp_path, monkeypatch):
    """An approved, packaged release of bc@1, and the trusted keys a device would hold."""
    return ship(demo, tmp_path, monkeypatch)


def ship(demo, tmp_path: Path, monkeypatch) -> tuple:
    """Package an approved release of bc@1 (the demo's breast-cancer classifier imported
    by bob with his key) in catalog ``demo``: (demo, cast, release id, bundle, keys)."""
    cast = Cast(tmp_path / "people")
    cast.trust_all(demo)
    cast.act_as(monkeypatch, "bob")  # bob imports: he is the version's author
    source = resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx"
    import_model(
        demo, source, name="bc", trained_on="breast-cancer-train@2",
        classes=["malignant", "benign"], description="Flags malignant tumours.",
    )  # fmt: skip
    monkeypatch.delenv("MODELDESK_KEY")
    add_profile(demo, Profile("edge-roomy", intra_threads=1, iterations=20, budget_ms=10_000))
    suite, _ = add_suite(demo, SUITE)
    set_policy(demo, cast.alice, POLICY)
    run_suite(demo, suite, "bc@1")
    bench_profile(demo, "bc@1", get_profile(demo, "edge-roomy"))
    release = create_release(demo, cast.bob, "bc@1", targets=["edge-roomy"])
    approve_release(demo, cast.carol, release.id, comment="evidence reviewed")
    bundle = package_release(demo, cast.alice, release.id, tmp_path / "out")
    keys = _export_keys(demo, tmp_path / "trusted.json")
    return demo, cast, release.id, bundle, keys


def test_an_approved_release_ships_as_a_bundle_that_verifies(shipped, tmp_path):
    demo, _, release_id, bundle, keys = shipped
    assert bundle.name == "bc-1-r1.mdrel" and not list(bundle.parent.glob("*.partial"))
    assert get_release(demo, release_id).state == "packaged"
    names = zipfile.ZipFile(bundle).namelist()
    assert names == ["model/breast-cancer-v2.onnx", "model.sig", "reference/profile.json",
                     "reference/sample.parquet", "MODEL_CARD.md", "manifest.json",
                     "attestation.dsse.json"]  # fmt: skip
    verified = verify_bundle(bundle, load_keys(keys), extract=tmp_path / "device")
    assert (verified.model, verified.version, verified.counter) == ("bc", 1, 1)
    assert verified.author.startswith("bob (") and verified.approvers[0].startswith("carol (")
    extracted = tmp_path / "device"
    assert (extracted / "model" / "breast-cancer-v2.onnx").read_bytes() == (
        resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx"
    ).read_bytes()
    card = (extracted / "MODEL_CARD.md").read_text()
    assert "Flags malignant tumours." in card and "| bc-gate@1 | accuracy | metric |" in card
    assert "edge-roomy" in card and "approved by carol" in card and "Expires on" in card
    assert "No explanation of this version was computed." in card
    manifest = json.loads((extracted / "manifest.json").read_text())
    assert manifest["datasets"] == {
        "breast-cancer-test@1": manifest["datasets"]["breast-cancer-test@1"]
    }
    assert manifest["audit_head"] and manifest["runtime"]["onnxruntime"]
    assert manifest["runtime"]["providers"] == ["CPUExecutionProvider"]  # edge-roomy's
    assert manifest["explanation"] is None


def test_the_model_card_names_the_top_features_of_a_computed_explanation(shipped, tmp_path):
    demo, cast, release_id, _, keys = shipped
    explain(demo, "bc@1", "breast-cancer-test@1", rows=40)  # exact TreeSHAP, cached
    bundle = package_release(demo, cast.alice, release_id, tmp_path / "explained")
    verify_bundle(bundle, load_keys(keys))
    with zipfile.ZipFile(bundle) as archive:
        card = archive.read("MODEL_CARD.md").decode()
        manifest = json.loads(archive.read("manifest.json"))
    top = manifest["explanation"]["top_features"]
    assert len(top) == 5 and top[0]["mean_abs_shap"] >= top[-1]["mean_abs_shap"] > 0
    assert "## Top features by SHAP" in card and "over 40 rows of breast-cancer-test@1" in card
    assert f"| {top[0]['feature']} |" in card


def test_the_model_folder_verifies_with_the_openssf_model_signing_tool(shipped, tmp_path):
    _, cast, _, bundle, _ = shipped
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "x")
    public = tmp_path / "alice.pub"
    public.write_text(cast.alice.public.pem)
    tool = Path(sys.executable).with_name("model_signing")
    ok = subprocess.run(
        [str(tool), "verify", "key", str(tmp_path / "x" / "model"), "--signature",
         str(tmp_path / "x" / "model.sig"), "--public_key", str(public)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "x" / "model" / "breast-cancer-v2.onnx").write_bytes(b"changed")
    bad = subprocess.run(
        [str(tool), "verify", "key", str(tmp_path / "x" / "model"), "--signature",
         str(tmp_path / "x" / "model.sig"), "--public_key", str(public)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode != 0


def test_the_verifier_runs_alone_with_only_cryptography(shipped, tmp_path):
    """On a device: a venv with cryptography and nothing of ModelDesk but the one file."""
    _, _, _, bundle, keys = shipped
    venv = tmp_path / "device-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    import cryptography

    # cryptography and what pip installs with it (cffi, its backend, pycparser), copied
    # from this machine's environment: the same files, no download, nothing else.
    packages = Path(cryptography.__file__).parent.parent
    for pattern in ("cryptography", "cffi", "_cffi_backend*", "pycparser"):
        for found in packages.glob(pattern):
            if found.is_dir():
                shutil.copytree(found, site / found.name)
            else:
                shutil.copy(found, site)
    verifier = tmp_path / "verify_bundle.py"
    shutil.copy(Path(__file__).parents[1] / "core" / "release" / "verify_bundle.py", verifier)
    python = venv / "bin" / "python"
    isolated = subprocess.run([str(python), "-c", "import modeldesk"], capture_output=True)
    assert isolated.returncode != 0  # ModelDesk itself is not there
    run = subprocess.run([str(python), str(verifier), str(bundle), "--keys", str(keys)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("valid: bc@1 stable r1")
    broken = tmp_path / "broken.mdrel"
    data = bytearray(bundle.read_bytes())
    data[200] ^= 0x01
    broken.write_bytes(bytes(data))
    refused = subprocess.run([str(python), str(verifier), str(broken), "--keys", str(keys)],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("refused: broken.mdrel: ")


def test_the_package_and_verify_commands(shipped, run_cli, tmp_path, monkeypatch):
    demo, cast, release_id, _, keys = shipped
    cast.act_as(monkeypatch, "bob")
    refused = run_cli("--catalog", demo.path, "release", "package", release_id, "--out", tmp_path)
    assert refused.code == 2 and "is not a trusted release manager's" in refused.err
    cast.act_as(monkeypatch, "alice")
    packaged = run_cli("--catalog", demo.path, "release", "package", release_id,
                       "--out", tmp_path / "cli")  # fmt: skip
    assert packaged.code == 0, packaged.err
    bundle = Path(packaged.out.strip())
    assert bundle == tmp_path / "cli" / "bc-1-r1.mdrel"
    state = tmp_path / "state.json"
    ok = run_cli("verify", bundle, "--keys", keys, "--state", state, "--json")
    assert ok.code == 0 and json.loads(ok.out)["valid"] is True
    assert json.loads(state.read_text()) == {"accepted": {"bc/stable": 1}}
    usage = run_cli("verify", bundle, "--keys", tmp_path / "missing.json")
    assert usage.code == 2 and "no such file" in usage.err
    for option, place in (
        ("--extract", tmp_path / "no" / "dir"),
        ("--state", tmp_path / "no" / "s"),
    ):
        unwritable = run_cli("verify", bundle, "--keys", keys, option, place)
        assert unwritable.code == 2 and unwritable.err.count("\n") == 1, unwritable.err
        assert unwritable.err.startswith("error: ") and "No such file" in unwritable.err


# -- tampering: every kind of change is refused with its reason, and nothing extracted ------
def _rewrite(bundle: Path, out: Path, change) -> Path:
    """A copy of the bundle with ``change(name, data) -> [(name, data), ...]`` applied to
    each entry, written as a normal stored zip (so only the change differs)."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            for name, data in change(info.filename, source.read(info)):
                target.writestr(zipfile.ZipInfo(name, date_time=info.date_time), data)
    return out


def _flip(data: bytes, where: int = 0) -> bytes:
    changed = bytearray(data)
    changed[where % len(changed)] ^= 0x01
    return bytes(changed)


def _refused(bundle: Path, keys: Path, tmp_path: Path, match: str, **options) -> None:
    target = tmp_path / "extracted"
    with pytest.raises(Refused, match=match):
        verify_bundle(bundle, load_keys(keys), extract=target, **options)
    assert not target.exists() and not list(tmp_path.glob(".extracted*"))


@pytest.mark.parametrize(
    "name",
    ["model/breast-cancer-v2.onnx", "model.sig", "MODEL_CARD.md", "manifest.json",
     "attestation.dsse.json"],
)  # fmt: skip
def test_a_flipped_bit_in_any_file_is_refused(shipped, tmp_path, name):
    _, _, _, bundle, keys = shipped
    where = 100 if name != "attestation.dsse.json" else 60  # inside the payload or signature
    bad = _rewrite(bundle, tmp_path / "bad.mdrel",
                   lambda n, d: [(n, _flip(d, where) if n == name else d)])  # fmt: skip
    _refused(bad, keys, tmp_path, "do not match|not JSON|not base64|does not verify|not a")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda n, d: [(n, d)] + ([("model/extra.bin", b"x")] if n == "model.sig" else []),
         "'model/extra.bin' is in the bundle but not in its signed statement"),
        (lambda n, d: [(n, d)] + ([(".git/x", b"x")] if n == "model.sig" else []),
         "'.git/x' is in the bundle but not in its signed statement"),
        (lambda n, d: [] if n == "MODEL_CARD.md" else [(n, d)],
         "'MODEL_CARD.md' is in the signed statement but not in the bundle"),
        (lambda n, d: [("model/renamed.onnx" if n.startswith("model/") else n, d)],
         "'model/renamed.onnx' is in the bundle but not in its signed statement"),
        (lambda n, d: [(n, d)] + ([("../x", b"x")] if n == "model.sig" else []), "'..' path"),
        (lambda n, d: [(n, d)] + ([("/etc/x", b"x")] if n == "model.sig" else []), "absolute"),
        (lambda n, d: [(n, d)] + ([("..\\x", b"x")] if n == "model.sig" else []), "backslash"),
        (lambda n, d: [(n, d)] + ([("C:x", b"x")] if n == "model.sig" else []), "drive letter"),
        (lambda n, d: [(n, d), (n, d)] if n == "model.sig" else [(n, d)], "a duplicate name"),
    ],
    ids=["added", "git", "removed", "renamed", "dotdot", "absolute", "backslash", "drive",
         "duplicate"],
)  # fmt: skip
def test_added_removed_renamed_and_hostile_entries_are_refused(shipped, tmp_path, change, reason):
    _, _, _, bundle, keys = shipped
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is told to write
        bad = _rewrite(bundle, tmp_path / "bad.mdrel", change)
    _refused(bad, keys, tmp_path, reason)


def test_an_edited_manifest_is_refused_even_with_its_digest_updated(shipped, tmp_path):
    """Changing the approval threshold and re-hashing the manifest breaks the signature."""
    import base64

    _, _, _, bundle, keys = shipped
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        envelope = json.loads(archive.read("attestation.dsse.json"))
    manifest["approvals_required"] = 0
    edited = json.dumps(manifest).encode()
    statement = json.loads(base64.b64decode(envelope["payload"]))
    import hashlib

    for subject in statement["subject"]:
        if subject["name"] == "manifest.json":
            subject["digest"]["sha256"] = hashlib.sha256(edited).hexdigest()
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    bad = _rewrite(bundle, tmp_path / "bad.mdrel", lambda n, d: [(n, {
        "manifest.json": edited, "attestation.dsse.json": json.dumps(envelope).encode(),
    }.get(n, d))])  # fmt: skip
    _refused(bad, keys, tmp_path, "the signature by alice .* does not verify")


def test_a_symlink_entry_and_an_encrypted_entry_are_refused(shipped, tmp_path):
    _, _, _, bundle, keys = shipped

    out = tmp_path / "link.mdrel"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            if info.filename == "model.sig":
                copy.create_system = 3
                copy.external_attr = (0o120777) << 16  # S_IFLNK
            target.writestr(copy, source.read(info))
    _refused(out, keys, tmp_path, "a symlink or special file")
    encrypted = bytearray(bundle.read_bytes())
    offset = encrypted.index(b"PK\x01\x02")  # the first central entry: set "encrypted"
    flags = struct.unpack_from("<H", encrypted, offset + 8)[0] | 1
    struct.pack_into("<H", encrypted, offset + 8, flags)
    local = struct.unpack_from("<L", encrypted, offset + 42)[0]
    struct.pack_into("<H", encrypted, local + 6, flags)
    (tmp_path / "enc.mdrel").write_bytes(bytes(encrypted))
    _refused(tmp_path / "enc.mdrel", keys, tmp_path, "encrypted")


def test_a_local_header_naming_another_file_and_trailing_data_are_refused(shipped, tmp_path):
    _, _, _, bundle, keys = shipped
    data = bytearray(bundle.read_bytes())
    # The local header of model.sig says "model.sih": the central directory still says .sig.
    local = data.index(b"PK\x03\x04model.sig"[:4], data.index(b"model.sig") - 40)
    name_at = data.index(b"model.sig", local)
    data[name_at + len("model.si")] = ord("h")
    (tmp_path / "local.mdrel").write_bytes(bytes(data))
    _refused(tmp_path / "local.mdrel", keys, tmp_path, "its local header names")
    (tmp_path / "tail.mdrel").write_bytes(bundle.read_bytes() + b"hidden")
    _refused(tmp_path / "tail.mdrel", keys, tmp_path, "trailing data")
    (tmp_path / "head.mdrel").write_bytes(b"MZ" + bundle.read_bytes())
    _refused(tmp_path / "head.mdrel", keys, tmp_path, "data between|hidden data")


def test_a_deflated_entry_is_refused(shipped, tmp_path):
    _, _, _, bundle, keys = shipped
    out = tmp_path / "deflated.mdrel"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as t:
        for info in source.infolist():
            t.writestr(info.filename, source.read(info))
    _refused(out, keys, tmp_path, "compressed")


def test_signatures_by_unknown_revoked_or_too_few_keys_are_refused(shipped, tmp_path):
    _, _, _, bundle, keys = shipped
    document = json.loads(keys.read_text())
    without_alice = {"keys": [k for k in document["keys"] if k["name"] != "alice"]}
    (tmp_path / "no-alice.json").write_text(json.dumps(without_alice))
    _refused(bundle, tmp_path / "no-alice.json", tmp_path, "not one in --keys")
    revoked = {"keys": [dict(k, revoked_at="2026-12-01T00:00:00Z") if k["name"] == "carol" else k
                        for k in document["keys"]]}  # fmt: skip
    (tmp_path / "revoked.json").write_text(json.dumps(revoked))
    _refused(bundle, tmp_path / "revoked.json", tmp_path, "carol .*a revoked key")
    # A payload edited under its signature does not verify.
    with zipfile.ZipFile(bundle) as archive:
        envelope = json.loads(archive.read("attestation.dsse.json"))
    envelope["payload"] = envelope["payload"][:-8] + "AAAAAAA="
    bad = _rewrite(bundle, tmp_path / "edited.mdrel", lambda n, d: [
        (n, json.dumps(envelope).encode() if n == "attestation.dsse.json" else d)])  # fmt: skip
    _refused(bad, keys, tmp_path, "does not verify|not JSON|not base64")


def test_an_attestation_taken_from_another_bundle_is_refused(shipped, tmp_path):
    """A genuine signature, from a genuine bundle of the same release packaged again (its
    model.sig and manifest differ: ECDSA signatures and times are fresh each time)."""
    demo, cast, release_id, bundle, keys = shipped
    other = package_release(demo, cast.alice, release_id, tmp_path / "again")
    with zipfile.ZipFile(other) as archive:
        lifted = archive.read("attestation.dsse.json")
    assert lifted != zipfile.ZipFile(bundle).read("attestation.dsse.json")
    verify_bundle(other, load_keys(keys))  # valid where it belongs ...
    bad = _rewrite(bundle, tmp_path / "lifted.mdrel",
                   lambda n, d: [(n, lifted if n == "attestation.dsse.json" else d)])  # fmt: skip
    _refused(bad, keys, tmp_path, "its bytes do not match the signed digest")


def test_an_older_release_and_an_expired_one_are_refused(shipped, tmp_path):
    import datetime as dt

    _, _, _, bundle, keys = shipped
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"accepted": {"bc/stable": 2}}))
    _refused(bundle, keys, tmp_path, "older than 2, already accepted", state_path=state)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    _refused(bundle, keys, tmp_path, "expired on", now=later)


def test_a_model_blob_changed_after_approval_is_not_packaged(shipped, tmp_path):
    demo, cast, release_id, _, _ = shipped
    blob = demo.blobs.path(get_release(demo, release_id).model.sha256)
    blob.chmod(0o644)
    blob.write_bytes(_flip(blob.read_bytes(), 500))
    from modeldesk.errors import IntegrityError

    with pytest.raises(IntegrityError, match="integrity: blob .*content does not match its hash"):
        package_release(demo, cast.alice, release_id, tmp_path / "again")
    assert not (tmp_path / "again").exists() or not list((tmp_path / "again").iterdir())


def _resign(bundle: Path, out: Path, edit, signer) -> Path:
    """The bundle with its manifest edited by ``edit`` and attested again by ``signer``:
    what a trusted packager's key could sign, so only the manifest's own rules refuse it."""
    import base64
    import hashlib

    from modeldesk.release.verify_bundle import PAYLOAD_TYPE, canonical, pae

    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        envelope = json.loads(archive.read("attestation.dsse.json"))
    edit(manifest)
    edited = json.dumps(manifest).encode()
    statement = json.loads(base64.b64decode(envelope["payload"]))
    for subject in statement["subject"]:
        if subject["name"] == "manifest.json":
            subject["digest"]["sha256"] = hashlib.sha256(edited).hexdigest()
    payload = canonical(statement)
    signature = base64.b64encode(signer.sign(pae(PAYLOAD_TYPE, payload))).decode()
    envelope = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": signer.fingerprint, "sig": signature}]}  # fmt: skip
    replaced = {"manifest.json": edited, "attestation.dsse.json": json.dumps(envelope).encode()}
    return _rewrite(bundle, out, lambda n, d: [(n, replaced.get(n, d))])


def test_too_few_approvals_or_an_approval_by_the_author_are_refused(shipped, tmp_path):
    import base64

    from modeldesk.release.verify_bundle import AUTHORSHIP_TYPE, canonical

    _, cast, _, bundle, keys = shipped

    def no_approvals(manifest):
        manifest["approvals"] = []

    bad = _resign(bundle, tmp_path / "none.mdrel", no_approvals, cast.alice)
    _refused(bad, keys, tmp_path, "0 distinct release manager approval.s.; 1 needed")

    def carol_is_the_author(manifest):  # carol signs authorship, then approves her own
        claim = canonical({"type": AUTHORSHIP_TYPE, "model": "bc", "version": 1,
                           "sha256": manifest["model_sha256"]}).decode()  # fmt: skip
        signature = base64.b64encode(cast.carol.sign(claim.encode())).decode()
        manifest["author"] = {"key": cast.carol.fingerprint, "statement": claim,
                              "signature": signature}  # fmt: skip

    bad = _resign(bundle, tmp_path / "self.mdrel", carol_is_the_author, cast.alice)
    _refused(bad, keys, tmp_path, "approval 1: by carol .*, the model's author")

    def two_needed(manifest):
        manifest["approvals_required"] = 2

    bad = _resign(bundle, tmp_path / "two.mdrel", two_needed, cast.alice)
    _refused(bad, keys, tmp_path, "1 distinct release manager approval.s.; 2 needed")
    # An engineer's key cannot attest a bundle, whatever it holds.
    bad = _resign(bundle, tmp_path / "bob.mdrel", lambda manifest: None, cast.bob)
    _refused(bad, keys, tmp_path, "signed by no release manager")


def _rewrite_history(catalog_path: Path, drop_id: int) -> None:
    """Remove one audit row and re-chain every row after it, as someone rewriting the
    log behind SQLite's back would: the chain is then intact, only shorter."""
    import sqlite3

    from modeldesk.catalog.audit import GENESIS_HASH, row_hash

    conn = sqlite3.connect(catalog_path / "catalog.db")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DROP TRIGGER audit_no_update")
    rows = conn.execute(
        "SELECT id, at, actor, action, subject, detail, signature FROM audit ORDER BY id"
    ).fetchall()
    conn.execute("DELETE FROM audit")
    previous = GENESIS_HASH
    for new_id, (_old_id, at, actor, action, subject, detail, signature) in enumerate(
        [row for row in rows if row[0] != drop_id], start=1
    ):
        digest = row_hash(previous, new_id, at, actor, action, subject, detail)
        conn.execute(
            "INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash, signature)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id, at, actor, action, subject, detail, previous, digest, signature),
        )
        previous = digest
    conn.commit()
    conn.close()


def test_audit_verify_against_a_bundle_detects_a_rewritten_history(shipped, run_cli):
    demo, _, _, bundle, _ = shipped
    assert run_cli("--catalog", demo.path, "audit", "verify", "--against", bundle).code == 0
    demo.close()
    _rewrite_history(demo.path, drop_id=3)  # an early row (a dataset import) removed
    plain = run_cli("--catalog", demo.path, "audit", "log", "--limit", "1")
    assert plain.code == 0
    against = run_cli("--catalog", demo.path, "audit", "verify", "--against", bundle)
    assert against.code == 1
    assert "does not hold: rows before it were removed or changed" in against.out
    assert "not signed by itself" in against.out  # the re-chained rows' signatures fail too
