"""Deployment events: what happened to packaged releases in the field.

- ``deploy``: a packaged release went live on a target; it supersedes the deployment
  live there before. A rollback is a deploy of an earlier release of the same model
  that was live on the target before, naming the release it replaced (``rollback_of``).
- ``fail``: the deployment live on a target (of this release) failed and needed
  immediate intervention. Only before the next deployment to that target: afterwards
  it is no longer what is live.

Events carry their own time (``--at``: recorded later, from elsewhere, in any order),
never in the future nor before the release was packaged. Every target's history is
replayed with the new events in time order before anything is written, so an event
that would make the history inconsistent (a fail of a release that is not live, a
rollback to a release never live there) is refused, naming it, and nothing is recorded.
Each event is an audit row signed by the actor's key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from modeldesk.catalog.audit import append_audit
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.release.keys import SigningKey
from modeldesk.release.records import PACKAGED, Release, get_release
from modeldesk.release.trust import TrustError, trusted_keys

__all__ = [
    "DEPLOY",
    "FAIL",
    "Event",
    "NewEvent",
    "format_time",
    "list_events",
    "parse_time",
    "record_events",
    "release_events",
]

DEPLOY, FAIL = "deploy", "fail"
MAX_NOTE = 2000


def parse_time(text: str, what: str = "--at") -> dt.datetime:
    """An ISO 8601 time (``2026-11-30``, ``2026-11-30T14:05``, with ``Z`` or an offset;
    without one it is UTC) as an aware UTC datetime; BadInputError otherwise."""
    try:
        moment = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInputError(f"{what} {text!r}: not an ISO 8601 time (2026-11-30T14:05Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def format_time(moment: dt.datetime) -> str:
    """The catalog's form of a time: ISO 8601 UTC with milliseconds and ``Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Event:
    """A recorded deployment event."""

    id: int
    kind: str
    release_id: int
    target: str
    at: str
    rollback_of: int | None
    note: str | None
    actor_key: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "release": self.release_id,
            "target": self.target,
            "at": self.at,
            "rollback_of": self.rollback_of,
            "note": self.note,
            "actor_key": self.actor_key,
        }


@dataclass(frozen=True)
class NewEvent:
    """An event to record: ``at`` None means now."""

    kind: str
    release_id: int
    target: str
    at: dt.datetime | None = None
    rollback_of: int | None = None
    note: str | None = None


def list_events(catalog: Catalog, *, target: str | None = None) -> list[Event]:
    """Recorded events (on ``target`` if given) in time order."""
    sql = "SELECT * FROM deployment_event"
    params: tuple[str, ...] = ()
    if target is not None:
        sql += " WHERE target = ?"
        params = (target,)
    return _events(catalog.query(sql + " ORDER BY at, id", params))


def release_events(catalog: Catalog, release_id: int) -> list[Event]:
    """A release's deployment history in time order (its rollbacks away included)."""
    rows = catalog.query(
        "SELECT * FROM deployment_event WHERE release_id = ? OR rollback_of = ? ORDER BY at, id",
        (release_id, release_id),
    )
    return _events(rows)


def _events(rows) -> list[Event]:
    return [
        Event(
            r["id"],
            r["kind"],
            r["release_id"],
            r["target"],
            r["at"],
            r["rollback_of"],
            r["note"],
            r["actor_key"],
        )
        for r in rows
    ]


def _checked(catalog: Catalog, event: NewEvent, now: dt.datetime, where: str) -> Release:
    """The event's release, if the event may happen to it at its time."""
    if event.kind not in (DEPLOY, FAIL):
        raise BadInputError(f"{where}: kind {event.kind!r} is not deploy, fail or rollback")
    try:
        release = get_release(catalog, event.release_id)
    except NotFoundError:
        raise NotFoundError(f"{where}: release #{event.release_id} is not in the catalog") from None
    if release.state != PACKAGED or release.packaged_at is None:
        raise BadInputError(
            f"{where}: release #{release.id} is {release.state}; only a packaged release deploys"
        )
    if event.target not in release.targets:
        raise BadInputError(
            f"{where}: release #{release.id} targets {', '.join(release.targets)}, "
            f"not {event.target}"
        )
    at = event.at or now
    if at > now:
        raise BadInputError(f"{where}: {format_time(at)} is in the future")
    if at < parse_time(release.packaged_at):
        raise BadInputError(
            f"{where}: {format_time(at)} is before release #{release.id} was packaged "
            f"({release.packaged_at})"
        )
    if event.note is not None and len(event.note) > MAX_NOTE:
        raise BadInputError(f"{where}: the note or reason is over {MAX_NOTE} characters")
    return release


def _replay(history: list[tuple[str, Any, Any, str]], models: dict[int, str]) -> None:
    """Check one target's events, (time, order, event, where) in time order: each fail is
    of the deployment then live, once; each rollback replaces what is live with a release
    of the same model that was live there before."""
    live: Any = None
    failed: set[int] = set()  # positions of failed deployments
    ever: set[int] = set()
    for position, (at, _, event, where) in enumerate(sorted(history, key=lambda h: h[:2])):
        if event.kind == FAIL:
            if live is None or live[1].release_id != event.release_id:
                now_live = "nothing" if live is None else f"release #{live[1].release_id}"
                raise BadInputError(
                    f"{where}: release #{event.release_id} is not live on {event.target} at "
                    f"{at} ({now_live} is)"
                )
            if live[0] in failed:
                raise BadInputError(
                    f"{where}: that deployment of release "
                    f"#{event.release_id} is marked failed already"
                )
            failed.add(live[0])
            continue
        if event.rollback_of is not None:
            if live is None or live[1].release_id != event.rollback_of:
                raise BadInputError(
                    f"{where}: release #{event.rollback_of} is not live on {event.target} at {at}"
                )
            if (
                event.release_id not in ever
                or models[event.release_id] != models[event.rollback_of]
            ):
                raise BadInputError(
                    f"{where}: release #{event.release_id} is not an earlier release of the "
                    f"same model that was live on {event.target}"
                )
        live = (position, event)
        ever.add(event.release_id)


def record_events(
    catalog: Catalog, signer: SigningKey, events: list[NewEvent], *, source: str = ""
) -> list[Event]:
    """Record ``events`` all or nothing, each an audit row signed by ``signer`` (a key
    trusted here); refused, naming the first bad event, if any is bad."""
    actor = trusted_keys(catalog).get(signer.fingerprint)
    if actor is None or actor.revoked:
        raise TrustError(
            f"recording deployments: your key {signer.public.short} is not trusted here"
        )
    now = parse_time(catalog.clock())
    label = source or "the event"
    releases: dict[int, Release] = {}
    timed = []
    for index, event in enumerate(events):
        where = f"{source} event {index + 1}" if source and len(events) > 1 else label
        releases[event.release_id] = _checked(catalog, event, now, where)
        if event.rollback_of is not None:
            releases[event.rollback_of] = get_release(catalog, event.rollback_of)
        timed.append((format_time(event.at or now), index, event, where))
    # A target's history is per model: two models live side by side on one device.
    for target in sorted({event.target for event in events}):
        history: list[tuple[str, int, Event | NewEvent, str]] = [
            (e.at, -1, e, f"recorded event #{e.id}") for e in list_events(catalog, target=target)
        ]
        for e in history:
            releases.setdefault(e[2].release_id, get_release(catalog, e[2].release_id))
        history += [item for item in timed if item[2].target == target]
        models = {rid: r.model.name for rid, r in releases.items()}
        for model in sorted({models[item[2].release_id] for item in history}):
            # Recorded events come first at one instant; new ones follow in the order given.
            ordered = [
                (at, (0 if order < 0 else 1, order), e, w)
                for at, order, e, w in history
                if models[e.release_id] == model
            ]
            _replay(ordered, models)
    recorded = []
    with catalog.write("release.events", source or "deployment events", signer=signer) as tx:
        for at, _, event, _ in timed:
            values = (
                event.kind,
                event.release_id,
                event.target,
                at,
                event.rollback_of,
                event.note,
                signer.fingerprint,
            )
            cursor = tx.conn.execute(
                "INSERT INTO deployment_event (kind, release_id, target, at, rollback_of, note,"
                " actor_key, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, tx.at, tx.actor),
            )
            recorded.append(Event(int(cursor.lastrowid or 0), *values))
            action = "release.rollback" if event.rollback_of else f"release.{event.kind}"
            append_audit(
                tx.conn,
                at=tx.at,
                actor=tx.actor,
                action=action,
                subject=f"release #{event.release_id} on {event.target}",
                detail=recorded[-1].to_dict(),
                signer=signer,
            )
        tx.detail = {"events": len(recorded), "source": source or None}
    return recorded
