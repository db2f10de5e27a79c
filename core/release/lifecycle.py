"""Release transitions that need a release manager: approve and reject, signed.

An approval is refused, with the reason, when a gate other than the approvals fails,
when the key is the version's author or the release's creator, untrusted, revoked or
not a release manager's, or when it approved already. The decision is a statement the
key signs (:func:`~modeldesk.release.gates.decision_statement`), kept with the release
and carried by its bundle; its audit row is signed too.
"""

from __future__ import annotations

import base64
import hashlib

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.release.gates import GateReport, decision_statement, evaluate_gates
from modeldesk.release.keys import SigningKey
from modeldesk.release.records import (
    APPROVED,
    CANDIDATE,
    REJECTED,
    Release,
    get_release,
    insert_decision,
)
from modeldesk.release.trust import RELEASE_MANAGER, TrustError, trusted_keys

__all__ = [
    "MAX_COMMENT",
    "approve_release",
    "reject_release",
    "settle_state",
    "why_key_may_not_decide",
]

MAX_COMMENT = 2000


def why_key_may_not_decide(catalog: Catalog, release: Release, fingerprint: str) -> str | None:
    """Why the key ``fingerprint`` may not approve or reject ``release`` (None: it may).

    The app shows this as the tooltip of a disabled button."""
    key = trusted_keys(catalog).get(fingerprint)
    short = fingerprint[:16]
    if key is None:
        return f"your key {short} is not trusted in this catalog"
    if key.revoked:
        return f"your key {key.label} was revoked on {key.revoked_at}"
    if RELEASE_MANAGER not in key.roles:
        return f"your key {key.label} is not a release manager's"
    if fingerprint == release.model.author_key:
        return f"you ({key.label}) imported {release.model.ref}: its author may not decide"
    if fingerprint == release.creator_key:
        return f"you ({key.label}) created release #{release.id}: its creator may not decide"
    if release.state != CANDIDATE:
        return f"release #{release.id} is {release.state}"
    if any(d.key == fingerprint for d in release.decisions):
        return f"you ({key.label}) decided on release #{release.id} already"
    return None


def _decide(
    catalog: Catalog, signer: SigningKey, release_id: int, decision: str, comment: str
) -> tuple[Release, GateReport]:
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise BadInputError(f"--comment: say why, in at most {MAX_COMMENT} characters")
    release = get_release(catalog, release_id)
    verb = "approving" if decision == "approve" else "rejecting"
    refusal = why_key_may_not_decide(catalog, release, signer.fingerprint)
    if refusal:
        raise TrustError(f"{verb} release #{release.id}: {refusal}")
    report = evaluate_gates(catalog, release)
    if decision == "approve":
        failing = report.failing(except_approvals=True)
        if failing:
            reasons = "; ".join(f"{gate.id}: {gate.message}" for gate in failing)
            raise BadInputError(f"approving release #{release.id}: gate(s) fail: {reasons}")
    at = catalog.clock()
    statement = decision_statement(release, decision, comment, report.evidence_sha256, at)
    signature = signer.sign(statement.encode())
    action = f"release.{decision}"
    with catalog.write(action, f"release #{release.id}: {release.model.ref}", signer=signer) as tx:
        tx.at = at
        insert_decision(
            tx.conn,
            release.id,
            decision=decision,
            key=signer.fingerprint,
            comment=comment,
            statement=statement,
            signature_b64=base64.b64encode(signature).decode("ascii"),
            created_at=at,
            created_by=tx.actor,
        )
        tx.detail = {
            "release": release.id,
            "decision": decision,
            "comment": comment,
            "evidence_sha256": report.evidence_sha256,
            "statement_sha256": hashlib.sha256(statement.encode()).hexdigest(),
        }
    return settle_state(catalog, signer, release.id, rejected=decision == "reject")


def settle_state(
    catalog: Catalog, signer: SigningKey, release_id: int, *, rejected: bool = False
) -> tuple[Release, GateReport]:
    """Move a candidate to ``approved`` once every gate holds (or to ``rejected``), as a
    signed audit row; the release and its gates as they now are."""
    release = get_release(catalog, release_id)
    after = evaluate_gates(catalog, release)
    state = REJECTED if rejected else (APPROVED if after.passed else CANDIDATE)
    if release.state == CANDIDATE and state != release.state:
        with catalog.write("release.state", f"release #{release.id}: {state}", signer=signer) as tx:
            tx.conn.execute(
                "UPDATE release SET state = ?, updated_at = ?,"
                " approved_at = CASE WHEN ? = 'approved' THEN ? ELSE approved_at END WHERE id = ?",
                (state, tx.at, state, tx.at, release.id),
            )
            tx.detail = {"release": release.id, "from": release.state, "to": state}
        release = get_release(catalog, release.id)
    return release, after


def approve_release(
    catalog: Catalog, signer: SigningKey, release_id: int, *, comment: str
) -> tuple[Release, GateReport]:
    """Approve a candidate with ``signer``'s key; it becomes ``approved`` once every gate,
    the approvals included, holds."""
    return _decide(catalog, signer, release_id, "approve", comment)


def reject_release(
    catalog: Catalog, signer: SigningKey, release_id: int, *, comment: str
) -> tuple[Release, GateReport]:
    """Reject a candidate with ``signer``'s key (a release manager's); it stays rejected."""
    return _decide(catalog, signer, release_id, "reject", comment)
