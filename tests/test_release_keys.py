"""Signing keys and the keys a catalog trusts: real ECDSA P-256 keys, a real catalog.

Several people are several key folders; each acts by pointing MODELDESK_KEY at its key,
as a CI job would.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from modeldesk.catalog.audit import recent_audit_rows, verify_chain
from modeldesk.errors import IntegrityError
from modeldesk.release.keys import (
    KEY_ENV,
    PASSPHRASE_ENV,
    SigningKeyError,
    init_key,
    key_folder,
    load_signing_key,
    own_public_key,
    read_public_key,
)
from modeldesk.release.trust import (
    TrustError,
    revoke_key,
    trust_key,
    trusted_keys,
    verify_signed_rows,
)


def _person(tmp_path: Path, name: str, monkeypatch=None):
    """A key of its own for ``name``; with ``monkeypatch``, they are the one acting."""
    folder = tmp_path / "people" / name
    key = init_key(name, folder=folder)
    if monkeypatch is not None:
        monkeypatch.setenv(KEY_ENV, str(folder / "signing-key.pem"))
    return key


def test_a_new_key_is_private_to_its_owner_and_is_never_replaced(tmp_path):
    created = init_key("alice")
    private = key_folder() / "signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert own_public_key().fingerprint == created.fingerprint == load_signing_key().fingerprint
    assert load_signing_key().name == "alice"
    before = private.read_bytes()
    with pytest.raises(SigningKeyError, match=f"a key exists already .*{created.public.short}"):
        init_key("alice again")
    assert private.read_bytes() == before
    signature = created.sign(b"release 7")
    assert created.public.verify(signature, b"release 7")
    assert not created.public.verify(signature, b"release 8")


def test_an_encrypted_key_opens_only_with_its_passphrase(tmp_path, monkeypatch):
    created = init_key("bob", passphrase=b"correct horse")
    assert b"ENCRYPTED" in (key_folder() / "signing-key.pem").read_bytes()
    with pytest.raises(SigningKeyError, match="the key is encrypted; give its passphrase"):
        load_signing_key()
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        load_signing_key(b"battery staple")
    secret = tmp_path / "passphrase"
    secret.write_bytes(b"correct horse\n")
    monkeypatch.setenv(PASSPHRASE_ENV, str(secret))
    assert load_signing_key().fingerprint == created.fingerprint
    # The public half is read without the passphrase.
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert own_public_key().fingerprint == created.fingerprint


def test_a_private_key_others_can_read_is_refused(tmp_path, monkeypatch):
    _person(tmp_path, "carol", monkeypatch)
    path = Path(os.environ[KEY_ENV])
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="others can read is refused; run 'chmod 600"):
        load_signing_key()


def test_no_key_names_the_command_that_makes_one(monkeypatch, tmp_path):
    with pytest.raises(SigningKeyError, match="run 'modeldesk key init --name NAME'"):
        load_signing_key()
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(SigningKeyError, match="MODELDESK_KEY=.*missing.pem: no such file"):
        load_signing_key()


@pytest.mark.parametrize(
    "content",
    [
        b"not a key",
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        b"-----BEGIN PUBLIC KEY-----\n" + b"A" * 20_000 + b"\n-----END PUBLIC KEY-----\n",
    ],
    ids=["garbage", "ed25519", "p384", "huge"],
)
def test_a_public_key_file_that_is_not_p256_is_refused_by_name(tmp_path, content):
    path = tmp_path / "offered.pem"
    path.write_bytes(content)
    with pytest.raises(SigningKeyError, match=r"offered\.pem: "):
        read_public_key(path)


def test_the_first_key_is_the_creators_and_a_release_managers(catalog, tmp_path, monkeypatch):
    alice = _person(tmp_path, "alice", monkeypatch)
    bob = _person(tmp_path, "bob")
    with pytest.raises(TrustError, match="the first key a catalog trusts is its creator's"):
        trust_key(catalog, alice, bob.public, name="bob", roles=("release-manager",))
    with pytest.raises(TrustError, match="must be a release-manager's"):
        trust_key(catalog, alice, alice.public, name="alice", roles=("engineer",))
    assert trusted_keys(catalog) == {}
    trusted = trust_key(catalog, alice, alice.public, name="alice", roles=("release-manager",))
    assert trusted.trusted_by == alice.fingerprint and trusted.has_role("release-manager")
    row = recent_audit_rows(catalog.conn, 1)[0]
    assert row.action == "key.trust" and row.signer == alice.fingerprint and row.signature


def test_only_a_trusted_release_manager_trusts_or_revokes(catalog, tmp_path):
    alice, bob, carol = (_person(tmp_path, name) for name in ("alice", "bob", "carol"))
    trust_key(catalog, alice, alice.public, name="alice", roles=("release-manager",))
    trust_key(catalog, alice, bob.public, name="bob", roles=("engineer",))
    with pytest.raises(TrustError, match=r"bob \(.*\) is not a release manager's"):
        trust_key(catalog, bob, carol.public, name="carol", roles=("engineer",))
    with pytest.raises(TrustError, match="is not trusted in this catalog"):
        trust_key(catalog, carol, carol.public, name="carol", roles=("release-manager",))
    with pytest.raises(TrustError, match="already trusted"):
        trust_key(catalog, alice, bob.public, name="bobby", roles=("engineer",))
    with pytest.raises(TrustError, match="last release manager"):
        revoke_key(catalog, alice, alice.fingerprint, reason="leaving")
    trust_key(catalog, alice, carol.public, name="carol", roles=("engineer", "release-manager"))
    revoked = revoke_key(catalog, carol, bob.fingerprint[:12], reason="laptop stolen")
    assert revoked.revoked and revoked.revoke_reason == "laptop stolen"
    revoke_key(catalog, alice, carol.fingerprint, reason="changed team")
    with pytest.raises(TrustError, match="was revoked on"):
        trust_key(catalog, carol, _person(tmp_path, "dan").public, name="dan", roles=("engineer",))
    keys = trusted_keys(catalog)
    assert [k.name for k in keys.values()] == ["alice", "bob", "carol"]
    assert [k.revoked for k in keys.values()] == [False, True, True]
    assert verify_chain(catalog.conn) == [] and verify_signed_rows(catalog) == []


def _forge_trust_row(catalog, forger, victim_name="mallory", signer=None):
    """Append a correctly chained key.trust row signed by ``forger`` behind the catalog's
    back (as someone editing a copied catalog folder could)."""
    from modeldesk.catalog.audit import append_audit

    detail = {"fingerprint": forger.fingerprint, "name": victim_name,
              "roles": ["release-manager"], "public_key": forger.public.pem}  # fmt: skip
    with catalog._immediate() as conn:
        append_audit(conn, at="2026-12-01T00:00:00.000Z", actor="mallory", action="key.trust",
                     subject="key mallory", detail=detail, signer=signer or forger)  # fmt: skip


def test_a_key_written_into_the_catalog_by_hand_is_refused(catalog, tmp_path):
    alice, mallory = _person(tmp_path, "alice"), _person(tmp_path, "mallory")
    trust_key(catalog, alice, alice.public, name="alice", roles=("release-manager",))
    _forge_trust_row(catalog, mallory)
    assert verify_chain(catalog.conn) == []  # the chain itself is intact ...
    with pytest.raises(IntegrityError, match="not signed by a trusted release manager"):
        trusted_keys(catalog)  # ... but no trusted manager signed the row
    assert any("not signed by a trusted release manager" in p for p in verify_signed_rows(catalog))


class _Impostor:
    """Claims one key's fingerprint and signs with another."""

    def __init__(self, claimed, actual) -> None:
        self.fingerprint, self._actual = claimed.fingerprint, actual

    def sign(self, data: bytes) -> bytes:
        return self._actual.sign(data)


def test_a_row_claiming_a_managers_key_without_its_signature_is_refused(catalog, tmp_path):
    alice, mallory = _person(tmp_path, "alice"), _person(tmp_path, "mallory")
    trust_key(catalog, alice, alice.public, name="alice", roles=("release-manager",))
    _forge_trust_row(catalog, mallory, signer=_Impostor(alice, mallory))
    with pytest.raises(IntegrityError, match="the signature does not verify"):
        trusted_keys(catalog)
    problems = verify_signed_rows(catalog)
    assert problems and "the signature does not verify" in problems[0]


def test_an_edited_trust_row_is_refused(catalog_path, tmp_path):
    from modeldesk.catalog.store import Catalog

    alice, bob = _person(tmp_path, "alice"), _person(tmp_path, "bob")
    with Catalog.open(catalog_path) as opened:
        trust_key(opened, alice, alice.public, name="alice", roles=("release-manager",))
        trust_key(opened, alice, bob.public, name="bob", roles=("engineer",))
    conn = sqlite3.connect(catalog_path / "catalog.db")
    conn.execute("DROP TRIGGER audit_no_update")  # what a hand edit of the file can do
    conn.execute(
        "UPDATE audit SET detail = replace(detail, '\"engineer\"', '\"release-manager\"') "
        "WHERE action = 'key.trust' AND subject LIKE 'key bob%'"
    )
    conn.commit()
    conn.close()
    with Catalog.open(catalog_path) as opened, pytest.raises(IntegrityError, match="hash"):
        trusted_keys(opened)


def test_an_import_records_its_author_and_signs_the_row(catalog, model_file, tmp_path, monkeypatch):
    from modeldesk.models.importer import import_model

    first = import_model(catalog, model_file("linear_regressor", features=3), name="plain")
    assert first.version.author_key is None  # no key yet: nobody's
    alice = _person(tmp_path, "alice", monkeypatch)
    second = import_model(catalog, model_file("linear_regressor", features=4), name="plain")
    assert second.version.author_key == alice.fingerprint
    row = recent_audit_rows(catalog.conn, 1)[0]
    assert row.action == "model.import" and row.detail["author_key"] == alice.fingerprint
    assert row.signer == alice.fingerprint and alice.public.verify(
        row.signature, f"modeldesk-audit-v1:{row.hash}".encode()
    )
    assert verify_signed_rows(catalog) == []  # a key no one here trusts yet may import
    trust_key(catalog, alice, alice.public, name="alice", roles=("release-manager",))
    assert verify_signed_rows(catalog) == []  # and once trusted, its signature holds


def test_the_key_commands(catalog_path, run_cli, tmp_path, monkeypatch):
    assert run_cli("key", "show").code == 2  # no key yet
    created = run_cli("key", "init", "--name", "alice")
    assert created.code == 0 and "created key alice" in created.out
    shown = run_cli("key", "show")
    exported = tmp_path / "alice.pub.pem"
    assert run_cli("key", "export", "--out", exported).code == 0
    assert read_public_key(exported).fingerprint == shown.out.strip()
    trusted = run_cli("--catalog", catalog_path, "key", "trust", exported, "--name", "alice",
                      "--role", "release-manager", "--role", "engineer")  # fmt: skip
    assert trusted.code == 0 and "as engineer, release-manager" in trusted.out, trusted.err
    bob = _person(tmp_path, "bob")
    bob_file = tmp_path / "bob.pem"
    bob_file.write_text(bob.public.pem)
    assert run_cli("key", "trust", bob_file, "--name", "bob", "--role", "engineer",
                   "--catalog", catalog_path).code == 0  # fmt: skip
    listed = run_cli("--catalog", catalog_path, "key", "list")
    assert "alice" in listed.out and bob.public.short in listed.out
    revoked = run_cli("--catalog", catalog_path, "key", "revoke", bob.fingerprint[:10],
                      "--reason", "left")  # fmt: skip
    assert revoked.code == 0 and "revoked bob" in revoked.out
    devices = tmp_path / "trusted.json"
    assert (
        run_cli("--catalog", catalog_path, "key", "export", "--trusted", "--out", devices).code == 0
    )
    assert '"revoked_at"' in devices.read_text()
    assert run_cli("--catalog", catalog_path, "audit", "verify").code == 0
    refused = run_cli("--catalog", catalog_path, "key", "revoke", "0000000000", "--reason", "x")
    assert refused.code == 2 and "no trusted key with fingerprint" in refused.err
