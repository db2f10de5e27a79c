"""The Release tab's work on the worker pool: each a composition of core calls.

Gates re-hash the model's files, approving evaluates them again and packaging streams
the model: none of it belongs on the GUI thread. The signing key is loaded on the GUI
thread (it may ask for a passphrase) and passed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "decide",
    "deployments",
    "export",
    "gates",
    "package",
    "record_bundle",
    "record_event",
    "releases",
    "review",
    "verify",
]


def releases(catalog: Any, *, model_name: str) -> list[Any]:
    """The model's releases, newest first."""
    from modeldesk.release.records import list_releases

    return list_releases(catalog, model_name)


def gates(catalog: Any, *, release_id: int, fingerprint: str | None) -> dict[str, Any]:
    """A release, its gates, and why the user's key may not decide it (None: it may)."""
    from modeldesk.release.gates import evaluate_gates
    from modeldesk.release.lifecycle import why_key_may_not_decide
    from modeldesk.release.records import get_release
    from modeldesk.release.trust import trusted_keys

    release = get_release(catalog, release_id)
    report = evaluate_gates(catalog, release)
    refusal = (
        "you have no signing key: create one in Keys…"
        if fingerprint is None
        else why_key_may_not_decide(catalog, release, fingerprint)
    )
    people = {fp: key.label for fp, key in trusted_keys(catalog).items()}
    return {"release": release, "report": report, "refusal": refusal, "people": people}


def decide(catalog: Any, *, release_id: int, signer: Any, approve: bool, comment: str) -> Any:
    """Approve or reject with ``signer``'s key."""
    from modeldesk.release.lifecycle import approve_release, reject_release

    decide_with = approve_release if approve else reject_release
    return decide_with(catalog, signer, release_id, comment=comment)[0]


def package(
    catalog: Any, *, release_id: int, signer: Any, out_dir: str, progress: Any, cancel: Any
) -> str:
    """Write the release's bundle into ``out_dir``."""
    from modeldesk.release.bundle import package_release

    path = package_release(
        catalog, signer, release_id, Path(out_dir), progress=progress, cancel=cancel
    )
    return str(path)


def verify(catalog: Any, *, bundle: str) -> dict[str, Any]:
    """Verify a bundle file with the keys this catalog trusts: valid, or why not."""
    from modeldesk.release.bundle import catalog_keys
    from modeldesk.release.verify_bundle import Refused, verify_bundle

    try:
        verified = verify_bundle(Path(bundle), catalog_keys(catalog))
    except Refused as error:
        return {"valid": False, "reason": str(error)}
    return verified.to_dict()


def export(
    catalog: Any, *, release_id: int, signer: Any, out: str, progress: Any, cancel: Any
) -> str:
    """Write the release as a candidate file ``out`` for a release manager elsewhere."""
    from modeldesk.release.candidate import export_candidate

    path = export_candidate(
        catalog, signer, release_id, Path(out), progress=progress, cancel=cancel
    )
    return str(path)


def review(catalog: Any, *, candidate: str, signer: Any, progress: Any, cancel: Any) -> Any:
    """Bring a candidate file in for review; what it brought and the gates here."""
    from modeldesk.release.review import review_candidate

    return review_candidate(catalog, signer, Path(candidate), progress=progress, cancel=cancel)


def record_bundle(catalog: Any, *, bundle: str, signer: Any) -> tuple[Any, bool]:
    """Record a bundle packaged elsewhere against this catalog's release."""
    from modeldesk.release.returned import import_bundle

    return import_bundle(catalog, signer, Path(bundle))


def deployments(catalog: Any, *, release_id: int) -> dict[str, Any]:
    """A release's deployment history and, per target, what is live and what came before."""
    from modeldesk.delivery_board import deployment_options
    from modeldesk.release.deployments import release_events
    from modeldesk.release.records import get_release
    from modeldesk.release.trust import trusted_keys

    release = get_release(catalog, release_id)
    return {
        "release": release,
        "events": release_events(catalog, release_id),
        "options": deployment_options(catalog, release),
        "people": {fp: key.label for fp, key in trusted_keys(catalog).items()},
    }


def record_event(catalog: Any, *, signer: Any, event: Any) -> Any:
    """Record one deployment event signed by ``signer``."""
    from modeldesk.release.deployments import record_events

    return record_events(catalog, signer, [event])[0]
