"""Release records: a model version, its targets and channel, its state and approvals.

States: ``candidate`` -> ``approved`` | ``rejected``; ``approved`` -> ``packaged``. Every
transition is an audit row signed by its actor's key; an approval or rejection is also
kept as its own signed statement (the bundle carries those). Deployment states follow
in the delivery records.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from modeldesk.catalog.names import normalise_name
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.registry import ModelVersion, get_model_version, model_version_by_id
from modeldesk.release.keys import SigningKey
from modeldesk.release.policy import StoredPolicy, get_policy
from modeldesk.release.trust import TrustError, trusted_keys

__all__ = [
    "APPROVED",
    "CANDIDATE",
    "PACKAGED",
    "REJECTED",
    "Decision",
    "Release",
    "create_release",
    "get_release",
    "insert_decision",
    "insert_release",
    "list_releases",
    "mark_packaged",
]

CANDIDATE, APPROVED, REJECTED, PACKAGED = "candidate", "approved", "rejected", "packaged"
DEFAULT_CHANNEL = "stable"
MAX_TARGETS = 20


@dataclass(frozen=True)
class Decision:
    """An approval or rejection: who (key), why, and their signature of the statement."""

    decision: str  # approve | reject
    key: str
    comment: str
    statement: str  # the canonical JSON the key signed
    signature: bytes
    created_at: str
    created_by: str

    def to_dict(self) -> dict:
        """The JSON form (the signature in base64)."""
        return {
            "decision": self.decision,
            "key": self.key,
            "comment": self.comment,
            "statement": self.statement,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Release:
    """One release of a model version."""

    id: int
    model: ModelVersion
    model_sha256: str  # the content the release was created for
    channel: str
    targets: tuple[str, ...]
    state: str
    policy: StoredPolicy | None
    counter: int | None
    creator_key: str
    attestation_sha256: str | None
    created_at: str
    created_by: str
    updated_at: str
    decisions: list[Decision] = field(default_factory=list)
    fixes_id: int | None = None  # the failed release this one fixes (a hotfix)
    approved_at: str | None = None
    packaged_at: str | None = None

    @property
    def approvals(self) -> list[Decision]:
        """The approvals recorded (valid or not: the gates judge them)."""
        return [d for d in self.decisions if d.decision == "approve"]

    def to_dict(self) -> dict:
        """The JSON ``release show --json`` prints."""
        return {
            "id": self.id,
            "model": self.model.ref,
            "model_sha256": self.model_sha256,
            "channel": self.channel,
            "targets": list(self.targets),
            "state": self.state,
            "policy": self.policy.ref if self.policy else None,
            "counter": self.counter,
            "creator_key": self.creator_key,
            "author_key": self.model.author_key,
            "attestation_sha256": self.attestation_sha256,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
            "fixes": self.fixes_id,
            "approved_at": self.approved_at,
            "packaged_at": self.packaged_at,
            "decisions": [d.to_dict() for d in self.decisions],
        }


def create_release(
    catalog: Catalog,
    signer: SigningKey,
    model_ref: str,
    *,
    targets: list[str],
    channel: str = DEFAULT_CHANNEL,
    fixes: int | None = None,
) -> Release:
    """A candidate release of ``model_ref`` for ``targets``, created by ``signer``'s key.

    The model needs a release policy, every target must be a profile the policy allows,
    and the creator's key must be trusted here (it may not then approve the release).
    ``fixes`` names a release of the same model whose deployment failed: this one is its
    hotfix (delivery metrics count it as rework).
    """
    from modeldesk.bench.profiles import get_profile

    model = get_model_version(catalog, model_ref)
    channel = normalise_name(channel, what="channel")
    if not targets:
        raise BadInputError("give at least one --target profile")
    if len(targets) > MAX_TARGETS or len(set(targets)) != len(targets):
        raise BadInputError(f"--target: give up to {MAX_TARGETS} different profiles")
    policy = get_policy(catalog, model.name)
    if policy is None:
        raise BadInputError(
            f"model {model.name} has no release policy; set one with "
            f"'modeldesk release policy set {model.name} --file FILE'"
        )
    for target in targets:
        get_profile(catalog, target)
        if policy.policy.targets and target not in policy.policy.targets:
            raise BadInputError(
                f"--target {target}: policy {policy.ref} allows {', '.join(policy.policy.targets)}"
            )
    if fixes is not None:
        _check_fixes(catalog, model, fixes)
    creator = trusted_keys(catalog).get(signer.fingerprint)
    if creator is None or creator.revoked:
        state = "was revoked" if creator else "is not trusted in this catalog"
        raise TrustError(
            f"creating a release of {model.ref}: your key {signer.public.short} {state}"
        )
    with catalog.write("release.create", f"model {model.ref}", signer=signer) as tx:
        release_id = insert_release(
            tx.conn,
            model,
            channel=channel,
            targets=targets,
            policy_id=policy.id,
            creator_key=signer.fingerprint,
            created_at=tx.at,
            created_by=tx.actor,
            now=tx.at,
        )
        if fixes is not None:
            tx.conn.execute("UPDATE release SET fixes_id = ? WHERE id = ?", (fixes, release_id))
        tx.subject = f"release #{release_id}: {model.ref}"
        tx.detail = {
            "release": release_id,
            "model": model.ref,
            "sha256": model.sha256,
            "targets": targets,
            "channel": channel,
            "policy": policy.ref,
            "fixes": fixes,
        }
    return get_release(catalog, release_id)


def _check_fixes(catalog: Catalog, model: ModelVersion, fixes: int) -> None:
    fixed = get_release(catalog, fixes)
    if fixed.model.name != model.name:
        raise BadInputError(f"--fixes {fixes}: release #{fixes} is of {fixed.model.name}")
    failed = catalog.query(
        "SELECT 1 FROM deployment_event WHERE release_id = ? AND kind = 'fail' LIMIT 1", (fixes,)
    )
    if not failed:
        raise BadInputError(
            f"--fixes {fixes}: release #{fixes} never failed a deployment; a hotfix fixes a "
            "failed one"
        )


def insert_release(
    conn,
    model: ModelVersion,
    *,
    channel: str,
    targets: list[str],
    policy_id: int | None,
    creator_key: str,
    created_at: str,
    created_by: str,
    now: str,
) -> int:
    """Insert a candidate release row inside the caller's write; its id."""
    cursor = conn.execute(
        "INSERT INTO release (model_version_id, model_sha256, channel, targets, state,"
        " policy_id, creator_key, created_at, created_by, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            model.id,
            model.sha256,
            channel,
            json.dumps(targets),
            CANDIDATE,
            policy_id,
            creator_key,
            created_at,
            created_by,
            now,
        ),
    )
    return int(cursor.lastrowid or 0)


def insert_decision(
    conn,
    release_id: int,
    *,
    decision: str,
    key: str,
    comment: str,
    statement: str,
    signature_b64: str,
    created_at: str,
    created_by: str,
) -> None:
    """Insert an approval or rejection (its signed statement) inside the caller's write."""
    conn.execute(
        "INSERT INTO approval (release_id, decision, key, comment, statement, signature,"
        " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (release_id, decision, key, comment, statement, signature_b64, created_at, created_by),
    )


def mark_packaged(
    conn,
    release_id: int,
    *,
    counter: int,
    attestation: str,
    now: str,
    packaged_at: str | None = None,
    approved_at: str | None = None,
) -> None:
    """Record inside the caller's write that a release shipped as bundle ``counter``
    (packaged ``packaged_at``, now unless the bundle was made elsewhere; first packaging
    counts)."""
    conn.execute(
        "UPDATE release SET state = ?, counter = ?, attestation_sha256 = ?, updated_at = ?, "
        "packaged_at = COALESCE(packaged_at, ?), approved_at = COALESCE(approved_at, ?) "
        "WHERE id = ?",
        (PACKAGED, counter, attestation, now, packaged_at or now, approved_at, release_id),
    )


def _decisions(catalog: Catalog, release_id: int) -> list[Decision]:
    rows = catalog.query("SELECT * FROM approval WHERE release_id = ? ORDER BY id", (release_id,))
    return [
        Decision(
            row["decision"],
            row["key"],
            row["comment"],
            row["statement"],
            base64.b64decode(row["signature"]),
            row["created_at"],
            row["created_by"],
        )
        for row in rows
    ]


def _release(catalog: Catalog, row) -> Release:
    policy = None
    if row["policy_id"] is not None:
        found = catalog.query(
            "SELECT model_name, version FROM release_policy WHERE id = ?", (row["policy_id"],)
        )
        policy = get_policy(catalog, found[0]["model_name"], found[0]["version"])
    return Release(
        id=row["id"],
        model=model_version_by_id(catalog, row["model_version_id"]),
        model_sha256=row["model_sha256"],
        channel=row["channel"],
        targets=tuple(json.loads(row["targets"])),
        state=row["state"],
        policy=policy,
        counter=row["counter"],
        creator_key=row["creator_key"],
        attestation_sha256=row["attestation_sha256"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
        fixes_id=row["fixes_id"],
        approved_at=row["approved_at"],
        packaged_at=row["packaged_at"],
        decisions=_decisions(catalog, row["id"]),
    )


def get_release(catalog: Catalog, release_id: int) -> Release:
    """The release with this id."""
    rows = catalog.query("SELECT * FROM release WHERE id = ?", (release_id,))
    if not rows:
        raise NotFoundError(f"release #{release_id}: not in the catalog")
    return _release(catalog, rows[0])


def list_releases(catalog: Catalog, model: str | None = None) -> list[Release]:
    """Every release (of ``model`` if given), newest first."""
    sql = (
        "SELECT r.* FROM release r JOIN model_version v ON v.id = r.model_version_id "
        "JOIN model m ON m.id = v.model_id"
    )
    params: tuple[str, ...] = ()
    if model is not None:
        sql += " WHERE m.name = ?"
        params = (normalise_name(model, what="model name"),)
    return [_release(catalog, row) for row in catalog.query(sql + " ORDER BY r.id DESC", params)]
