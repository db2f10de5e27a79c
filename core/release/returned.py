"""Recording a bundle packaged elsewhere (``release import FILE.mdrel``): the engineer's
catalog learns that its release was approved and packaged on the release manager's.

The bundle is verified first with the keys this catalog trusts (so the packager must be
a release manager trusted here), then matched to this catalog's release of the same
model content, channel and targets, which becomes ``packaged`` with the bundle's
counter and attestation and gains the approvals the bundle carries: a signed
``release.import`` row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.release.bundle import catalog_keys, refusal_here
from modeldesk.release.keys import SigningKey
from modeldesk.release.records import (
    PACKAGED,
    Release,
    get_release,
    insert_decision,
    mark_packaged,
)
from modeldesk.release.trust import TrustError, trusted_keys
from modeldesk.release.verify_bundle import (
    Refused,
    Usage,
    read_entries,
    read_manifest,
    read_small,
    verify_bundle,
)

__all__ = ["import_bundle"]


def _attestation_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        entries = read_entries(handle, os.fstat(handle.fileno()).st_size)
        return hashlib.sha256(read_small(handle, entries[-1])).hexdigest()


def _matching_release(catalog: Catalog, manifest: dict) -> Release:
    rows = catalog.query(
        "SELECT r.id FROM release r JOIN model_version v ON v.id = r.model_version_id "
        "JOIN model m ON m.id = v.model_id WHERE m.name = ? AND v.version = ? "
        "AND r.model_sha256 = ? AND r.channel = ? AND r.targets = ? ORDER BY r.id DESC",
        (
            manifest["model"],
            manifest["version"],
            manifest["model_sha256"],
            manifest["channel"],
            json.dumps(manifest.get("targets")),
        ),
    )
    if not rows:
        raise NotFoundError(
            f"this catalog holds no release of {manifest['model']}@{manifest['version']} "
            f"(this content) for channel {manifest['channel']} and targets "
            f"{', '.join(map(str, manifest.get('targets') or []))}"
        )
    releases = [get_release(catalog, row["id"]) for row in rows]
    unpackaged = [r for r in releases if r.state != PACKAGED]
    return unpackaged[0] if unpackaged else releases[0]


def import_bundle(catalog: Catalog, signer: SigningKey, path: Path) -> tuple[Release, bool]:
    """Record the bundle ``path`` against this catalog's release; (release, whether
    anything changed: importing the same bundle twice records it once)."""
    if trusted_keys(catalog).get(signer.fingerprint) is None:
        raise TrustError(
            f"importing {path.name}: your key {signer.public.short} is not trusted in this catalog"
        )
    try:
        verify_bundle(path, catalog_keys(catalog))
        manifest = read_manifest(path)
        attestation = _attestation_sha256(path)
    except (Refused, Usage) as error:
        raise BadInputError(f"{path.name}: refused ({refusal_here(error)})") from None
    release = _matching_release(catalog, manifest)
    if release.state == PACKAGED:
        if release.attestation_sha256 == attestation:
            return release, False
        raise BadInputError(
            f"{path.name}: release #{release.id} is packaged already as r{release.counter}, "
            "in another bundle"
        )
    known = {d.signature for d in release.decisions}
    with catalog.write(
        "release.import", f"release #{release.id}: {path.name}", signer=signer
    ) as tx:
        approved = [str(a.get("created_at", "")) for a in manifest.get("approvals") or []]
        mark_packaged(
            tx.conn,
            release.id,
            counter=manifest["counter"],
            attestation=attestation,
            now=tx.at,
            packaged_at=str(manifest.get("created_at") or tx.at),
            approved_at=max(approved, default=None),
        )
        keys = trusted_keys(catalog)
        for item in manifest.get("approvals") or []:
            signature = base64.b64decode(item["signature"])
            if signature in known:
                continue
            insert_decision(
                tx.conn,
                release.id,
                decision="approve",
                key=item["key"],
                comment=str(item.get("comment", "")),
                statement=item["statement"],
                signature_b64=item["signature"],
                created_at=str(item.get("created_at", "")),
                created_by=keys[item["key"]].name,
            )
        tx.detail = {
            "release": release.id,
            "bundle": path.name,
            "counter": manifest["counter"],
            "attestation_sha256": attestation,
            "audit_head": manifest.get("audit_head"),
        }
    return get_release(catalog, release.id), True
