"""The keys a catalog trusts, and their roles, from signed audit rows alone.

Trusting a key is a ``key.trust`` audit row and revoking one a ``key.revoke`` row, each
signed by its actor's key. There is no other record of trust: the state is the replay of
those rows, each signature checked on the way, so a key row written into catalog.db by
hand (or a catalog folder edited elsewhere) is refused rather than believed.

The first key trusted in a catalog is its creator's, signed by itself, and holds the
release-manager role (otherwise no one could trust another key). After that, only a
trusted, unrevoked release manager may trust or revoke a key. ``MODELDESK_USER`` and the
login name are display names on the audit rows and grant nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modeldesk.catalog.audit import AuditRow, audit_rows, signed_audit_rows, signed_payload
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, IntegrityError, NotFoundError
from modeldesk.release.keys import PublicKey, SigningKey, display_name

__all__ = [
    "ENGINEER",
    "RELEASE_MANAGER",
    "ROLES",
    "TrustError",
    "TrustedKey",
    "find_key",
    "revoke_key",
    "trust_key",
    "trusted_keys",
    "verify_signed_rows",
]

ENGINEER = "engineer"
RELEASE_MANAGER = "release-manager"
ROLES = (ENGINEER, RELEASE_MANAGER)
TRUST, REVOKE = "key.trust", "key.revoke"
TRUSTED_ONLY = ("key.", "release.")  # audit actions only a trusted key may sign
MAX_REASON = 500


class TrustError(BadInputError):
    """A key may not do what was asked (not trusted, revoked, not a release manager)."""


@dataclass(frozen=True)
class TrustedKey:
    """A key the catalog trusts: its display name, roles, and who trusted (or revoked) it."""

    public: PublicKey
    name: str
    roles: tuple[str, ...]
    trusted_at: str
    trusted_by: str  # fingerprint (the creator's key trusts itself)
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def fingerprint(self) -> str:
        """The key's fingerprint."""
        return self.public.fingerprint

    @property
    def revoked(self) -> bool:
        """Whether the key has been revoked (its past signatures still stand)."""
        return self.revoked_at is not None

    def has_role(self, role: str) -> bool:
        """Whether the key holds ``role`` and is not revoked."""
        return not self.revoked and role in self.roles

    @property
    def label(self) -> str:
        """Name and short fingerprint, as shown next to a signature."""
        return f"{self.name} ({self.public.short})"

    def to_dict(self) -> dict:
        """The JSON form (what ``key export --trusted`` writes for a device)."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "roles": list(self.roles),
            "public_key": self.public.pem,
            "trusted_at": self.trusted_at,
            "trusted_by": self.trusted_by,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason,
        }


def _signature_holds(row: AuditRow, key: PublicKey) -> bool:
    return row.signature is not None and key.verify(row.signature, signed_payload(row.hash))


def _refuse(row: AuditRow, problem: str) -> IntegrityError:
    return IntegrityError(f"catalog key record (audit row {row.id}, {row.action}): {problem}")


def trusted_keys(catalog: Catalog) -> dict[str, TrustedKey]:
    """Every key the catalog has trusted (revoked ones too), by fingerprint, from the
    signed ``key.*`` audit rows; a row that does not verify is an ``IntegrityError``."""
    try:
        rows = audit_rows(catalog.conn, (TRUST, REVOKE))
    except ValueError as error:
        raise IntegrityError(f"catalog key records: {error}") from None
    keys: dict[str, TrustedKey] = {}
    for row in rows:
        signer = keys.get(row.signer or "")
        if row.action == TRUST:
            trusted = _trusted_from(row)
            if not keys:  # the creator's key, signed by itself
                if row.signer != trusted.fingerprint or not _signature_holds(row, trusted.public):
                    raise _refuse(row, "the first key is not signed by itself")
            elif signer is None or not signer.has_role(RELEASE_MANAGER):
                raise _refuse(row, "not signed by a trusted release manager")
            elif not _signature_holds(row, signer.public):
                raise _refuse(row, "the signature does not verify")
            if trusted.fingerprint in keys:
                raise _refuse(row, "the key is trusted twice")
            keys[trusted.fingerprint] = trusted
        else:
            target = keys.get(str(row.detail.get("fingerprint")))
            if signer is None or not signer.has_role(RELEASE_MANAGER):
                raise _refuse(row, "not signed by a trusted release manager")
            if not _signature_holds(row, signer.public):
                raise _refuse(row, "the signature does not verify")
            if target is None or target.revoked:
                raise _refuse(row, "revokes a key that is not trusted")
            keys[target.fingerprint] = replace(
                target,
                revoked_at=row.at,
                revoked_by=signer.fingerprint,
                revoke_reason=str(row.detail.get("reason", "")),
            )
    return keys


def _trusted_from(row: AuditRow) -> TrustedKey:
    detail = row.detail
    try:
        public = PublicKey.from_pem(
            str(detail["public_key"]).encode("ascii"), f"audit row {row.id}"
        )
        roles = tuple(str(role) for role in detail["roles"])
        name = str(detail["name"])
    except (KeyError, TypeError, UnicodeEncodeError, BadInputError) as error:
        raise _refuse(row, f"malformed ({error})") from None
    if public.fingerprint != detail.get("fingerprint") or not set(roles) <= set(ROLES):
        raise _refuse(row, "malformed (fingerprint or roles)")
    return TrustedKey(public, name, roles, row.at, row.signer or "")


def find_key(catalog: Catalog, fingerprint: str) -> TrustedKey:
    """A trusted key by its fingerprint or a unique prefix of it (at least 8 hex digits)."""
    wanted = fingerprint.strip().lower()
    if len(wanted) < 8:
        raise BadInputError(f"fingerprint {fingerprint!r}: give at least 8 hex digits")
    found = [key for fp, key in trusted_keys(catalog).items() if fp.startswith(wanted)]
    if not found:
        raise NotFoundError(f"no trusted key with fingerprint {fingerprint!r} in {catalog.path}")
    if len(found) > 1:
        raise BadInputError(f"fingerprint {fingerprint!r} matches {len(found)} keys; give more")
    return found[0]


def _acting_manager(keys: dict[str, TrustedKey], signer: SigningKey, what: str) -> TrustedKey:
    actor = keys.get(signer.fingerprint)
    if actor is None:
        raise TrustError(
            f"{what}: your key {signer.public.short} is not trusted in this catalog; "
            "a release manager must trust it first"
        )
    if actor.revoked:
        raise TrustError(f"{what}: your key {actor.label} was revoked on {actor.revoked_at}")
    if RELEASE_MANAGER not in actor.roles:
        raise TrustError(f"{what}: your key {actor.label} is not a release manager's")
    return actor


def trust_key(
    catalog: Catalog,
    signer: SigningKey,
    public: PublicKey,
    *,
    name: str,
    roles: tuple[str, ...],
) -> TrustedKey:
    """Trust ``public`` under ``name`` with ``roles``, signed by ``signer``."""
    name = display_name(name)
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise BadInputError(
            f"role {', '.join(unknown) or '(none)'}: choose {' or '.join(ROLES)} (repeatable)"
        )
    roles = tuple(role for role in ROLES if role in roles)
    keys = trusted_keys(catalog)
    what = f"trusting {name} ({public.short})"
    if not keys:
        if public.fingerprint != signer.fingerprint:
            raise TrustError(
                f"{what}: the first key a catalog trusts is its creator's; trust your own "
                f"key ({signer.public.short}) first"
            )
        if RELEASE_MANAGER not in roles:
            raise TrustError(
                f"{what}: the creator's key must be a {RELEASE_MANAGER}'s, or no one could "
                "trust another key"
            )
    else:
        _acting_manager(keys, signer, what)
        existing = keys.get(public.fingerprint)
        if existing is not None:
            state = f"revoked on {existing.revoked_at}" if existing.revoked else "trusted"
            raise TrustError(f"{what}: the key is already {state} as {existing.label}")
    detail = {
        "fingerprint": public.fingerprint,
        "name": name,
        "roles": list(roles),
        "public_key": public.pem,
    }
    with catalog.write(TRUST, f"key {name} ({public.short})", detail, signer=signer):
        pass
    return trusted_keys(catalog)[public.fingerprint]


def revoke_key(
    catalog: Catalog, signer: SigningKey, fingerprint: str, *, reason: str
) -> TrustedKey:
    """Revoke a trusted key, signed by ``signer``: it signs nothing from now on (what it
    signed before stays signed, and shows as signed by a revoked key)."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadInputError(f"--reason: give why, in at most {MAX_REASON} characters")
    target = find_key(catalog, fingerprint)
    keys = trusted_keys(catalog)
    what = f"revoking {target.label}"
    _acting_manager(keys, signer, what)
    if target.revoked:
        raise TrustError(f"{what}: already revoked on {target.revoked_at}")
    managers = [k for k in keys.values() if k.has_role(RELEASE_MANAGER)]
    if managers == [target]:
        raise TrustError(
            f"{what}: it is the catalog's last release manager; trust another one first"
        )
    detail = {"fingerprint": target.fingerprint, "reason": reason}
    with catalog.write(REVOKE, f"key {target.name} ({target.public.short})", detail, signer=signer):
        pass
    return trusted_keys(catalog)[target.fingerprint]


def verify_signed_rows(catalog: Catalog) -> list[str]:
    """One message per signed audit row whose signature does not hold with the key the
    catalog trusts under its fingerprint, or (for keys and releases) whose key the catalog
    never trusted. The key records themselves are checked as :func:`trusted_keys` does."""
    try:
        keys = trusted_keys(catalog)
    except IntegrityError as error:
        return [str(error)]
    problems = []
    for row in signed_audit_rows(catalog.conn):
        key = keys.get(row.signer or "")
        if row.signer is None:
            problems.append(f"audit row {row.id} ({row.action}): a signature without a signer")
        elif key is None:
            # An engineer may import with a key no one here has trusted yet: only the rows
            # that grant something (keys, releases) must come from a trusted key.
            if row.action.startswith(TRUSTED_ONLY):
                problems.append(f"audit row {row.id} ({row.action}): signed by an untrusted key")
        elif not _signature_holds(row, key.public):
            problems.append(f"audit row {row.id} ({row.action}): the signature does not verify")
    return problems
