"""Signing keys: each user's identity is an ECDSA P-256 key pair, not a login name.

A user's key lives in the user config folder (``keys/signing-key.pem``, mode 0600,
optionally encrypted with a passphrase; the public half beside it), or wherever
``MODELDESK_KEY`` points (CI and tests). Signatures are ECDSA with SHA-256 in DER, the
form the OpenSSF model-signing tool's key mode reads. A key is named by its
fingerprint: the SHA-256 of its public key's DER SubjectPublicKeyInfo, in hex.

Everything here is :mod:`cryptography`'s primitives; nothing is home-made.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from modeldesk.errors import BadInputError

__all__ = [
    "KEY_ENV",
    "PASSPHRASE_ENV",
    "PublicKey",
    "SigningKey",
    "SigningKeyError",
    "authorship_statement",
    "display_name",
    "importer_identity",
    "init_key",
    "key_folder",
    "load_signing_key",
    "own_public_key",
    "read_public_key",
]

KEY_ENV = "MODELDESK_KEY"  # a private key file to sign with instead of the user's own
PASSPHRASE_ENV = "MODELDESK_KEY_PASSPHRASE_FILE"  # a file holding an encrypted key's passphrase
PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub.pem"
IDENTITY_NAME = "identity.json"
MAX_KEY_FILE_BYTES = 16 * 1024  # a PEM key is well under 1 KB; anything larger is not one
SHORT_FINGERPRINT = 16  # hex digits shown next to a name
MAX_NAME = 100


class SigningKeyError(BadInputError):
    """A signing key is missing, unreadable, of the wrong kind, or locked."""


def display_name(name: str) -> str:
    """A key's display name, checked: one line, 1 to 100 characters."""
    name = name.strip()
    if not name or "\n" in name or len(name) > MAX_NAME:
        raise SigningKeyError(
            f"key name {name!r}: give a one-line name of at most {MAX_NAME} characters"
        )
    return name


def key_folder() -> Path:
    """The user's key folder (under the platform's user config folder)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("ModelDesk", appauthor=False)) / "keys"


@dataclass(frozen=True)
class PublicKey:
    """An ECDSA P-256 public key, as PEM text, and its fingerprint."""

    pem: str
    fingerprint: str

    @classmethod
    def from_pem(cls, data: bytes, source: str) -> PublicKey:
        """Parse a PEM public key (``source`` names where it came from in errors)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        if len(data) > MAX_KEY_FILE_BYTES:
            raise SigningKeyError(f"{source}: {len(data):,} bytes is too large for a public key")
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as error:
            raise SigningKeyError(f"{source}: not a PEM public key ({error})") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise SigningKeyError(f"{source}: not an ECDSA P-256 public key")
        return cls._of(key)

    @classmethod
    def _of(cls, key) -> PublicKey:
        from cryptography.hazmat.primitives import serialization

        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(pem.decode("ascii"), hashlib.sha256(der).hexdigest())

    @property
    def short(self) -> str:
        """The fingerprint's first hex digits, as shown next to a name."""
        return self.fingerprint[:SHORT_FINGERPRINT]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` (DER ECDSA with SHA-256) signs ``data`` with this key."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = serialization.load_pem_public_key(self.pem.encode("ascii"))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


class SigningKey:
    """A user's private key: signs bytes. ``name`` is a display name only."""

    def __init__(self, private_key, name: str, source: str) -> None:
        self._private = private_key
        self.name = name
        self.source = source
        self.public = PublicKey._of(private_key.public_key())

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint."""
        return self.public.fingerprint

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA P-256 signature of ``data`` (SHA-256)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return self._private.sign(data, ec.ECDSA(hashes.SHA256()))


def init_key(
    name: str, *, passphrase: bytes | None = None, folder: Path | None = None
) -> SigningKey:
    """Create the user's key pair in ``folder`` (default: :func:`key_folder`).

    The private key file is created with mode 0600 before a byte is written, and never
    replaced: a second ``init`` is refused (a lost key cannot be taken back from the
    catalogs that trust it; revoke it there instead).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    name = display_name(name)
    folder = folder or key_folder()
    private_path = folder / PRIVATE_NAME
    if private_path.exists():
        existing = own_public_key(folder)
        raise SigningKeyError(
            f"{private_path}: a key exists already (fingerprint {existing.short}); "
            "revoke it in the catalogs that trust it before making another"
        )
    if passphrase is not None and not passphrase:
        raise SigningKeyError("the passphrase is empty; give one, or none to leave the key plain")
    private_key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    key = SigningKey(private_key, name, str(private_path))
    (folder / PUBLIC_NAME).write_text(key.public.pem, encoding="ascii")
    identity = {"name": name, "fingerprint": key.fingerprint}
    (folder / IDENTITY_NAME).write_text(json.dumps(identity, indent=2) + "\n", encoding="utf-8")
    return key


def _private_path() -> tuple[Path, bool]:
    """The private key file to use, and whether it came from ``MODELDESK_KEY``."""
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit), True
    return key_folder() / PRIVATE_NAME, False


def _read_limited(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_KEY_FILE_BYTES:
            raise SigningKeyError(f"{path}: {size:,} bytes is too large for {what}")
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SigningKeyError(f"{path}: is a folder, not {what}") from None
    except PermissionError:
        raise SigningKeyError(f"{path}: not readable") from None


def _passphrase_from_env() -> bytes | None:
    named = os.environ.get(PASSPHRASE_ENV)
    if not named:
        return None
    return _read_limited(Path(named), "a passphrase file").rstrip(b"\r\n")


def load_signing_key(passphrase: bytes | None = None, *, path: Path | None = None) -> SigningKey:
    """The key to sign with: ``path`` if given, else ``MODELDESK_KEY`` if set, else the
    user's own.

    An encrypted key needs ``passphrase`` (or a file named by
    ``MODELDESK_KEY_PASSPHRASE_FILE``). A private key that others may read is refused,
    as ssh refuses one.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path, explicit = (path, True) if path is not None else _private_path()
    if not path.exists():
        if explicit:
            raise SigningKeyError(f"{KEY_ENV}={path}: no such file")
        raise SigningKeyError(
            f"no signing key in {path.parent}: run 'modeldesk key init --name NAME' "
            f"or set {KEY_ENV}=path"
        )
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise SigningKeyError(
            f"{path}: a private key others can read is refused; run 'chmod 600 {path}'"
        )
    data = _read_limited(path, "a private key")
    secret = passphrase if passphrase is not None else _passphrase_from_env()
    try:
        private_key = serialization.load_pem_private_key(data, password=secret or None)
    except TypeError:
        raise SigningKeyError(
            f"{path}: the key is encrypted; give its passphrase ({PASSPHRASE_ENV}=file)"
        ) from None
    except ValueError as error:
        problem = "wrong passphrase" if secret else f"not a PEM private key ({error})"
        raise SigningKeyError(f"{path}: {problem}") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or (
        private_key.curve.name != "secp256r1"
    ):
        raise SigningKeyError(f"{path}: not an ECDSA P-256 private key")
    return SigningKey(private_key, _name_for(path, explicit), str(path))


def _name_for(path: Path, explicit: bool) -> str:
    identity = path.parent / IDENTITY_NAME
    if not explicit and identity.is_file():
        try:
            return str(json.loads(_read_limited(identity, "an identity file"))["name"])
        except (ValueError, KeyError, TypeError):
            pass
    from modeldesk.catalog.store import current_actor

    return current_actor()


def own_public_key(folder: Path | None = None) -> PublicKey:
    """The user's public key, read without the private key's passphrase when it can be."""
    if folder is None:
        path, explicit = _private_path()
        if explicit:
            return load_signing_key().public
        folder = path.parent
    public_path = folder / PUBLIC_NAME
    if public_path.is_file():
        return read_public_key(public_path)
    if (folder / PRIVATE_NAME).exists():
        return load_signing_key().public
    raise SigningKeyError(
        f"no signing key in {folder}: run 'modeldesk key init --name NAME' or set {KEY_ENV}=path"
    )


def read_public_key(path: Path) -> PublicKey:
    """A public key file (PEM), checked: size, format, ECDSA P-256."""
    return PublicKey.from_pem(_read_limited(path, "a public key"), str(path))


def importer_identity() -> tuple[str | None, SigningKey | None]:
    """Who is importing, as keys: the fingerprint of the user's key (None without one),
    and the key itself when it opens without asking for a passphrase (to sign with).

    A key named by ``MODELDESK_KEY`` must load: a pipeline that set it wants its imports
    attributed, and silence would record them as nobody's.
    """
    _, explicit = _private_path()
    if explicit:
        key = load_signing_key()
        return key.fingerprint, key
    try:
        public = own_public_key()
    except SigningKeyError:
        return None, None  # no key yet: the version has no author key
    try:
        key = load_signing_key()
    except SigningKeyError:
        return public.fingerprint, None  # locked by a passphrase: recorded, not signed
    if key.fingerprint != public.fingerprint:
        raise SigningKeyError(
            f"{key.source}: does not match the public key beside it ({public.short}); "
            "the key folder has been altered"
        )
    return public.fingerprint, key


def authorship_statement(name: str, version: int, sha256: str) -> str:
    """The canonical JSON an author's key signs at import: this content is my version."""
    from modeldesk.release.verify_bundle import AUTHORSHIP_TYPE, canonical

    body = {"type": AUTHORSHIP_TYPE, "model": name, "version": version, "sha256": sha256}
    return canonical(body).decode()
