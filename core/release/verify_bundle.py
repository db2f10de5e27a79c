"""Verify a ModelDesk release bundle (``.mdrel``) before extracting a byte of it.

One file, needing only the standard library and ``cryptography``, so that it runs on a
device as it is::

    python3 verify_bundle.py BUNDLE --keys trusted.json [--state state.json]
                             [--extract DIR] [--json]

Exit 0: valid (and extracted, with ``--extract``); 1: refused, with one line saying why;
2: bad usage (a missing or unreadable keys file, say). ``--keys`` is what ``modeldesk
key export --trusted`` writes. ``--state`` remembers the highest release counter
accepted per model and channel: an older release is refused (no rollback).

What is checked, in order, each before anything that depends on it:

1. The zip's structure, read by hand rather than trusted to a zip library: the end
   record is the file's last 22 bytes (no trailing data, no comment); the entries are
   stored (not compressed), unencrypted, not symlinks or folders, and lie end to end
   from byte 0 with the central directory right after them; each local header names
   the same file, sizes and CRC as its central entry; names are relative, forward
   slashes only, no ``..``, no drive letters, no duplicates; sizes and counts bounded.
2. The attestation (the last entry): a DSSE envelope over an in-toto Statement v1
   whose subjects are every other entry, by name and SHA-256; every signature is by a
   key in ``--keys`` and holds, and one is a release manager's.
3. Every entry's bytes against its digest (and CRC), and the manifest against the
   statement: the same files and sizes, the same model, version, channel, counter.
4. The author's signature of the model content, and approvals by enough distinct
   release managers (the policy's threshold), none of them the author, none revoked,
   each signing this model content.
5. Not expired; the counter not lower than the highest already accepted (``--state``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUNDLE_FORMAT = "modeldesk-release-bundle-v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://modeldesk.dev/release/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
AUTHORSHIP_TYPE = "modeldesk-authorship-v1"
DECISION_TYPE = "modeldesk-release-decision-v1"
MANIFEST, CARD, MODEL_SIG, ATTESTATION = (
    "manifest.json",
    "MODEL_CARD.md",
    "model.sig",
    "attestation.dsse.json",
)
MODEL_DIR = "model/"
RELEASE_MANAGER = "release-manager"

MAX_ENTRIES = 4096
MAX_NAME_BYTES = 1024
MAX_ENTRY_BYTES = 0xFFFF_FFFE  # no zip64: a 4 GiB entry limit
MAX_METADATA_BYTES = 16 << 20  # manifest, attestation, keys and state files
CHUNK = 1 << 20

_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_ALLOWED_FLAGS = 0x0800  # UTF-8 names; anything else (encryption, data descriptors) refused


class Refused(Exception):
    """The bundle is refused; the message is the one line that says why."""


class Usage(Exception):
    """The verifier was called wrongly (a missing keys file, a bad option)."""


@dataclass(frozen=True)
class Entry:
    """One zip entry, as its central directory and local header agree it is."""

    name: str
    offset: int  # of its data
    size: int
    crc: int


@dataclass(frozen=True)
class Key:
    """A trusted key from ``--keys``."""

    name: str
    fingerprint: str
    roles: tuple[str, ...]
    revoked: bool
    public: Any

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` (DER ECDSA P-256, SHA-256) signs ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            self.public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    @property
    def label(self) -> str:
        """Name and short fingerprint."""
        return f"{self.name} ({self.fingerprint[:16]})"


@dataclass
class Verified:
    """What a valid bundle holds."""

    model: str
    version: int
    channel: str
    counter: int
    model_sha256: str
    author: str
    approvers: list[str]
    packager: str
    expires_at: str | None
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    extracted_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``--json`` prints."""
        return {"valid": True, **self.__dict__}


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding (DSSE v1.0 protocol)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def canonical(value: Any) -> bytes:
    """The canonical JSON ModelDesk signs: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- keys ---------------------------------------------------------------------------------
def load_keys(path: Path) -> dict[str, Key]:
    """The trusted keys file (``key export --trusted``), each fingerprint checked."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    document = _read_json_file(path, "--keys", Usage)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise Usage(f"--keys {path}: expected {{'keys': [...]}}")
    found: dict[str, Key] = {}
    for index, item in enumerate(keys):
        try:
            public = serialization.load_pem_public_key(str(item["public_key"]).encode("ascii"))
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            fingerprint = hashlib.sha256(der).hexdigest()
            p256 = (
                isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
            )
            if not p256:
                raise ValueError("not an ECDSA P-256 key")
            if fingerprint != item["fingerprint"]:
                raise ValueError("its fingerprint does not match its public key")
            roles = tuple(str(role) for role in item.get("roles", []))
            found[fingerprint] = Key(
                str(item["name"]), fingerprint, roles, bool(item.get("revoked_at")), public
            )
        except (KeyError, TypeError, ValueError, UnicodeEncodeError) as error:
            raise Usage(f"--keys {path}: key {index + 1} is unusable ({error})") from None
    return found


def _read_json_file(path: Path, what: str, error: type[Exception]) -> Any:
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise error(f"{what} {path}: too large")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file") from None
    except (OSError, ValueError) as problem:
        raise error(f"{what} {path}: unreadable ({problem})") from None


# -- the zip's structure --------------------------------------------------------------------
def _check_name(raw: bytes, utf8: bool) -> str:
    if len(raw) == 0 or len(raw) > MAX_NAME_BYTES:
        raise Refused(f"an entry name of {len(raw)} bytes")
    try:
        name = raw.decode("utf-8" if utf8 else "ascii")
    except UnicodeDecodeError:
        raise Refused(f"entry name {raw!r} is not UTF-8 (or flagged as such)") from None
    if "\\" in name or ":" in name:
        raise Refused(f"entry {name!r}: backslashes and drive letters are refused")
    if name.startswith("/") or name.endswith("/"):
        raise Refused(f"entry {name!r}: an absolute path or a folder entry")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Refused(f"entry {name!r}: an empty, '.' or '..' path segment")
    if any(ord(char) < 32 for char in name):
        raise Refused(f"entry {name!r}: a control character in its name")
    return name


def read_entries(handle, size: int) -> list[Entry]:
    """The bundle's entries, after every structural check of the module docstring."""
    if size < _EOCD.size:
        raise Refused("not a zip file (too short)")
    handle.seek(size - _EOCD.size)
    signature, disk, cd_disk, on_disk, total, cd_size, cd_offset, comment = _EOCD.unpack(
        handle.read(_EOCD.size)
    )
    if signature != b"PK\x05\x06":
        raise Refused("no zip end record in the last 22 bytes (trailing data or not a zip)")
    if disk or cd_disk or on_disk != total or comment:
        raise Refused("a multi-disk zip or a zip comment")
    if total == 0 or total > MAX_ENTRIES:
        raise Refused(f"{total} entries (1 to {MAX_ENTRIES} allowed)")
    if cd_offset + cd_size != size - _EOCD.size:
        raise Refused("data between the central directory and the end record")
    if cd_size > MAX_METADATA_BYTES:
        raise Refused(f"a central directory of {cd_size:,} bytes is too large")
    handle.seek(cd_offset)
    directory = handle.read(cd_size)
    entries: list[Entry] = []
    names: set[str] = set()
    position, expected_offset = 0, 0
    for _ in range(total):
        fixed = directory[position : position + _CENTRAL.size]
        if len(fixed) < _CENTRAL.size:
            raise Refused("the central directory is cut short")
        fields = _CENTRAL.unpack(fixed)
        sig, flags, method, crc, csize, usize = (fields[0], *fields[3:5], *fields[7:10])
        name_len, extra_len, comment_len = fields[10:13]
        external, local_offset = fields[15:17]
        raw_name = directory[position + _CENTRAL.size : position + _CENTRAL.size + name_len]
        position += _CENTRAL.size + name_len + extra_len + comment_len
        if sig != b"PK\x01\x02" or position > len(directory):
            raise Refused("a malformed central directory entry")
        name = _check_name(raw_name, bool(flags & 0x0800))
        if flags & ~_ALLOWED_FLAGS:
            problem = "encrypted" if flags & 1 else f"flags {flags:#x}"
            raise Refused(f"entry {name!r}: {problem}")
        if method != 0 or csize != usize:
            raise Refused(f"entry {name!r}: compressed (a bundle stores its files as they are)")
        mode = external >> 16
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # whatever system it claims
            raise Refused(f"entry {name!r}: a symlink or special file, not a regular file")
        if usize > MAX_ENTRY_BYTES or csize == 0xFFFFFFFF:
            raise Refused(f"entry {name!r}: too large (zip64 is not accepted)")
        if name.casefold() in names:  # also "a" and "A": one file on many file systems
            raise Refused(f"entry {name!r}: a duplicate name")
        names.add(name.casefold())
        if local_offset != expected_offset:
            raise Refused(f"entry {name!r}: not where the entry before it ends (hidden data)")
        handle.seek(local_offset)
        local = handle.read(_LOCAL.size)
        if len(local) < _LOCAL.size:
            raise Refused(f"entry {name!r}: its local header is cut short")
        lfields = _LOCAL.unpack(local)
        lsig, lflags, lmethod, lcrc, lcsize, lusize = (lfields[0], *lfields[2:4], *lfields[6:9])
        lname_len, lextra_len = lfields[9:11]
        local_name = handle.read(lname_len)
        if lsig != b"PK\x03\x04" or local_name != raw_name:
            raise Refused(
                f"entry {name!r}: its local header names {local_name!r}, not the same file"
            )
        if (lflags, lmethod, lcrc, lcsize, lusize) != (flags, method, crc, csize, usize):
            raise Refused(f"entry {name!r}: its local header and central entry disagree")
        data_offset = local_offset + _LOCAL.size + lname_len + lextra_len
        expected_offset = data_offset + csize
        entries.append(Entry(name, data_offset, usize, crc))
    if position != len(directory):
        raise Refused("data left over in the central directory")
    if expected_offset != cd_offset:
        raise Refused("data between the last entry and the central directory")
    return entries


def stream_entry(handle, entry: Entry, sink=None, *, check_crc: bool = True) -> str:
    """Read ``entry``'s bytes (into ``sink`` too); their SHA-256. The CRC is checked
    unless the caller compares the SHA-256 with a signed digest (which says more, and
    skipping the CRC saves a third of the time on a large model)."""
    digest, crc, left = hashlib.sha256(), 0, entry.size
    handle.seek(entry.offset)
    while left:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            raise Refused(f"entry {entry.name!r}: cut short")
        digest.update(chunk)
        if check_crc:
            crc = zlib.crc32(chunk, crc)
        if sink is not None:
            sink.write(chunk)
        left -= len(chunk)
    if check_crc and crc != entry.crc:
        raise Refused(f"entry {entry.name!r}: its bytes do not match its CRC")
    return digest.hexdigest()


def read_small(handle, entry: Entry) -> bytes:
    """A metadata entry's bytes (bounded: a manifest, never a model)."""
    if entry.size > MAX_METADATA_BYTES:
        raise Refused(f"entry {entry.name!r}: {entry.size:,} bytes is too large")
    buffer = io.BytesIO()
    stream_entry(handle, entry, buffer)
    return buffer.getvalue()


def parse_json(data: bytes, what: str) -> Any:
    """``data`` as JSON; Refused, naming ``what``, if it is not."""
    try:
        return json.loads(data)
    except ValueError as error:
        raise Refused(f"{what}: not JSON ({error})") from None


def _b64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{what}: not base64") from None


# -- signatures and the manifest --------------------------------------------------------------
def signed_statement(
    handle,
    entries: list[Entry],
    keys: dict[str, Key],
    *,
    predicate_type: str = PREDICATE_TYPE,
    need_manager: bool = True,
) -> tuple[dict, Key]:
    """The in-toto statement the last entry's DSSE envelope signs, and its signer (a
    release manager's key, unless ``need_manager`` is False): every signature must be by
    a key in ``keys``, not revoked, and hold."""
    if entries[-1].name != ATTESTATION:
        raise Refused(f"the last entry is {entries[-1].name!r}, not the attestation")
    envelope = parse_json(read_small(handle, entries[-1]), ATTESTATION)
    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise Refused(f"{ATTESTATION}: not a DSSE envelope of an in-toto statement")
    payload = _b64(envelope.get("payload"), f"{ATTESTATION} payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise Refused(f"{ATTESTATION}: no signature")
    managers, signers = [], []
    for signature in signatures:
        fingerprint = str(signature.get("keyid", "")) if isinstance(signature, dict) else ""
        key = keys.get(fingerprint)
        if key is None:
            raise Refused(f"{ATTESTATION}: signed by key {fingerprint[:16]!r}, not one in --keys")
        if key.revoked:
            raise Refused(f"{ATTESTATION}: signed by {key.label}, a revoked key")
        if not key.verify(_b64(signature.get("sig"), "a signature"), pae(PAYLOAD_TYPE, payload)):
            raise Refused(f"{ATTESTATION}: the signature by {key.label} does not verify")
        signers.append(key)
        if RELEASE_MANAGER in key.roles:
            managers.append(key)
    if need_manager and not managers:
        raise Refused(f"{ATTESTATION}: signed by no release manager in --keys")
    statement = parse_json(payload, "the attested statement")
    if (
        not isinstance(statement, dict)
        or statement.get("_type") != STATEMENT_TYPE
        or (statement.get("predicateType") != predicate_type)
    ):
        raise Refused(f"the attestation is not a statement of type {predicate_type}")
    return statement, (managers or signers)[0]


def check_files(handle, entries: list[Entry], statement: dict) -> dict[str, str]:
    """Every entry but the attestation is a subject of ``statement`` and hashes to its
    digest, and every subject is an entry: {name: sha256}."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        raise Refused("the statement lists no files")
    attested: dict[str, str] = {}
    for subject in subjects:
        try:
            attested[str(subject["name"])] = str(subject["digest"]["sha256"])
        except (KeyError, TypeError):
            raise Refused("a malformed subject in the statement") from None
    present = {entry.name for entry in entries[:-1]}
    extra, missing = sorted(present - set(attested)), sorted(set(attested) - present)
    if extra:
        raise Refused(f"file {extra[0]!r} is in the bundle but not in its signed statement")
    if missing:
        raise Refused(f"file {missing[0]!r} is in the signed statement but not in the bundle")
    for entry in entries[:-1]:
        if stream_entry(handle, entry, check_crc=False) != attested[entry.name]:
            raise Refused(f"file {entry.name!r}: its bytes do not match the signed digest")
    return attested


def _check_manifest(manifest: Any, statement: dict, entries: list[Entry]) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise Refused(f"{MANIFEST}: not a {BUNDLE_FORMAT} manifest")
    predicate = statement.get("predicate") or {}
    for name in ("model", "version", "channel", "counter"):
        if manifest.get(name) != predicate.get(name):
            raise Refused(f"{MANIFEST}: {name} differs from the signed statement")
    sizes = {entry.name: entry.size for entry in entries[:-1]}
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise Refused(f"{MANIFEST}: no file list")
    expected = {name: size for name, size in sizes.items() if name not in (MANIFEST, ATTESTATION)}
    got = {str(k): v.get("size") if isinstance(v, dict) else None for k, v in listed.items()}
    if got != expected:
        raise Refused(f"{MANIFEST}: its file list and sizes differ from the bundle's")
    model_file = f"{MODEL_DIR}{manifest.get('model_file')}"
    if model_file not in sizes or listed[model_file].get("sha256") != manifest.get("model_sha256"):
        raise Refused(f"{MANIFEST}: the model file and its hash do not match")


def _signed_by(item: Any, keys: dict[str, Key], what: str) -> tuple[Key, dict]:
    if not isinstance(item, dict):
        raise Refused(f"{what}: missing")
    key = keys.get(str(item.get("key", "")))
    if key is None:
        raise Refused(f"{what}: by key {str(item.get('key'))[:16]!r}, not one in --keys")
    if key.revoked:
        raise Refused(f"{what}: by {key.label}, a revoked key")
    statement = str(item.get("statement", ""))
    if not key.verify(_b64(item.get("signature"), what), statement.encode()):
        raise Refused(f"{what}: the signature by {key.label} does not verify")
    return key, parse_json(statement.encode(), what)


def _check_people(manifest: dict, keys: dict[str, Key]) -> tuple[Key, list[Key]]:
    content = {"model": manifest["model"], "version": manifest["version"]}
    author, claim = _signed_by(manifest.get("author"), keys, "the author's signature")
    if (
        claim.get("type") != AUTHORSHIP_TYPE
        or {k: claim.get(k) for k in content} != content
        or (claim.get("sha256") != manifest.get("model_sha256"))
    ):
        raise Refused(f"the author's signature is for other content than {manifest['model']}")
    needed = manifest.get("approvals_required")
    if not isinstance(needed, int) or needed < 1:
        raise Refused(f"{MANIFEST}: no approval threshold")
    approvers: dict[str, Key] = {}
    for index, item in enumerate(manifest.get("approvals") or []):
        key, decision = _signed_by(item, keys, f"approval {index + 1}")
        if RELEASE_MANAGER not in key.roles:
            raise Refused(f"approval {index + 1}: {key.label} is not a release manager")
        if key.fingerprint == author.fingerprint:
            raise Refused(f"approval {index + 1}: by {key.label}, the model's author")
        if (
            decision.get("type") != DECISION_TYPE
            or decision.get("decision") != "approve"
            or (
                {k: decision.get(k) for k in content} != content
                or decision.get("model_sha256") != manifest.get("model_sha256")
                or decision.get("channel") != manifest.get("channel")
            )
        ):
            raise Refused(f"approval {index + 1}: by {key.label}, for another release")
        approvers[key.fingerprint] = key
    if len(approvers) < needed:
        raise Refused(f"{len(approvers)} distinct release manager approval(s); {needed} needed")
    return author, list(approvers.values())


def _check_expiry(manifest: dict, now: dt.datetime) -> None:
    expires = manifest.get("expires_at")
    if expires is None:
        return
    try:
        moment = dt.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"{MANIFEST}: expires_at {expires!r} is not a time") from None
    if moment <= now:
        raise Refused(f"expired on {expires} (frozen: a newer release is needed)")


def _state_key(manifest: dict) -> str:
    return f"{manifest['model']}/{manifest['channel']}"


def _check_rollback(manifest: dict, state: dict) -> None:
    highest = state.get("accepted", {}).get(_state_key(manifest))
    if isinstance(highest, int) and manifest["counter"] < highest:
        raise Refused(
            f"release counter {manifest['counter']} of {_state_key(manifest)} is older than "
            f"{highest}, already accepted (rollback refused)"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _extract(handle, entries: list[Entry], files: dict[str, str], target: Path) -> None:
    if target.exists():
        raise Usage(f"--extract {target}: exists; give a new folder")
    partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        for entry in entries:
            path = partial.joinpath(*entry.name.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(path, flags, 0o644), "wb") as sink:
                digest = stream_entry(handle, entry, sink, check_crc=entry.name not in files)
            if entry.name in files and digest != files[entry.name]:
                raise Refused(f"file {entry.name!r} changed while it was extracted")
        os.rename(partial, target)
    except OSError as error:  # a name that is a file and a folder at once, a full disk
        shutil.rmtree(partial, ignore_errors=True)
        raise Refused(f"cannot extract into {target}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def verify_bundle(
    bundle: Path,
    keys: dict[str, Key],
    *,
    state_path: Path | None = None,
    extract: Path | None = None,
    now: dt.datetime | None = None,
) -> Verified:
    """Verify ``bundle`` against ``keys``; ``Refused`` says why not. Extracts and records
    the counter in ``state_path`` only once everything holds."""
    now = now or dt.datetime.now(dt.UTC)
    state: Any = {}
    if state_path is not None and state_path.exists():
        state = _read_json_file(state_path, "--state", Usage)
    if not isinstance(state, dict):
        raise Usage(f"--state {state_path}: not a state file")
    try:
        handle = open(bundle, "rb")  # noqa: SIM115 - closed below, after extraction
    except OSError as error:
        raise Usage(f"{bundle}: cannot be read ({error.strerror})") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        entries = read_entries(handle, size)
        statement, packager = signed_statement(handle, entries, keys)
        files = check_files(handle, entries, statement)
        by_name = {entry.name: entry for entry in entries}
        if MANIFEST not in by_name:
            raise Refused(f"no {MANIFEST}")
        manifest = parse_json(read_small(handle, by_name[MANIFEST]), MANIFEST)
        _check_manifest(manifest, statement, entries)
        author, approvers = _check_people(manifest, keys)
        _check_expiry(manifest, now)
        _check_rollback(manifest, state)
        verified = Verified(
            model=manifest["model"],
            version=manifest["version"],
            channel=manifest["channel"],
            counter=manifest["counter"],
            model_sha256=manifest["model_sha256"],
            author=author.label,
            approvers=[key.label for key in approvers],
            packager=packager.label,
            expires_at=manifest.get("expires_at"),
            files=files,
        )
        if extract is not None:
            _extract(handle, entries, files, extract)
            verified.extracted_to = str(extract)
    if state_path is not None:
        accepted = dict(state.get("accepted", {}))
        place = _state_key(manifest)
        accepted[place] = max(manifest["counter"], accepted.get(place, 0))
        _write_atomic(state_path, json.dumps({"accepted": accepted}, indent=2).encode() + b"\n")
    return verified


def read_manifest(bundle: Path) -> dict[str, Any]:
    """A bundle's manifest, read through the structural checks (no signature checked:
    call :func:`verify_bundle` first)."""
    with open(bundle, "rb") as handle:
        entries = read_entries(handle, os.fstat(handle.fileno()).st_size)
        found = [entry for entry in entries if entry.name == MANIFEST]
        if not found:
            raise Refused(f"no {MANIFEST}")
        manifest = parse_json(read_small(handle, found[0]), MANIFEST)
    if not isinstance(manifest, dict):
        raise Refused(f"{MANIFEST}: not an object")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """The command line: exit 0 valid, 1 refused, 2 bad usage."""
    parser = argparse.ArgumentParser(prog="verify_bundle", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--keys", type=Path, required=True, help="trusted keys (JSON)")
    parser.add_argument("--state", type=Path, help="highest accepted counters (JSON)")
    parser.add_argument("--extract", type=Path, help="extract into this new folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    try:
        keys = load_keys(options.keys)
        result = verify_bundle(
            options.bundle, keys, state_path=options.state, extract=options.extract
        )
    except Usage as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the bundle or the state file cannot be read or written
        print(f"error: {error.filename or options.bundle}: {error.strerror or error}",
              file=sys.stderr)  # fmt: skip
        return 2
    except Refused as error:
        if options.json:
            print(json.dumps({"valid": False, "reason": str(error)}))
        else:
            print(f"refused: {options.bundle.name}: {error}", file=sys.stderr)
        return 1
    if options.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"valid: {result.model}@{result.version} {result.channel} r{result.counter}, "
            f"approved by {', '.join(result.approvers)}; author {result.author}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
