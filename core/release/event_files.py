"""Reading a file of deployment events from an external CD system (untrusted input).

CSV with a header, or JSON lines (``.jsonl``/``.ndjson``), one event per row: ``kind``
(deploy, fail or rollback), ``release`` (its id here), ``target``, ``at`` (ISO 8601),
and for a rollback ``to`` (the release it went back to); ``note`` (a fail's reason) is
optional. The whole file is read and checked before any event is recorded; the first
bad row is named with its line.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.release.deployments import DEPLOY, FAIL, NewEvent, parse_time

__all__ = ["MAX_EVENTS", "MAX_EVENT_FILE_BYTES", "read_event_file"]

MAX_EVENT_FILE_BYTES = 32 << 20
MAX_EVENTS = 200_000
KINDS = ("deploy", "fail", "rollback")


def _rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise BadInputError(f"{path}: line {number} is not JSON") from None
            if not isinstance(row, dict):
                raise BadInputError(f"{path}: line {number} is not a JSON object")
            rows.append((number, row))
        return rows
    if path.suffix.lower() != ".csv":
        raise BadInputError(f"{path}: give a .csv or .jsonl file of events")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"kind", "release", "target", "at"} - set(reader.fieldnames or [])
    if missing:
        raise BadInputError(f"{path}: the header lacks {', '.join(sorted(missing))}")
    return [(reader.line_num, dict(row)) for row in reader]


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(what)
    if isinstance(value, int):
        return value
    text = str(value).strip().lstrip("#")
    if not text.isdigit():
        raise ValueError(what)
    return int(text)


def _event(row: dict[str, Any]) -> NewEvent:
    kind = str(row.get("kind", "")).strip()
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not deploy, fail or rollback")
    release = _integer(row.get("release"), "release is not a release id")
    target = str(row.get("target") or "").strip()
    if not target:
        raise ValueError("no target")
    at = parse_time(str(row.get("at") or ""), "at")
    note = row.get("note")
    note = str(note).strip() or None if note is not None else None
    if kind == "rollback":
        to = _integer(row.get("to"), "a rollback needs to: the release it went back to")
        return NewEvent(DEPLOY, to, target, at, rollback_of=release, note=note)
    if kind == "fail" and not note:
        raise ValueError("a fail needs a note: what failed")
    return NewEvent(FAIL if kind == "fail" else DEPLOY, release, target, at, note=note)


def read_event_file(path: Path) -> list[NewEvent]:
    """The events in ``path``; BadInputError naming the file and the first bad row."""
    try:
        size = path.stat().st_size
        if size > MAX_EVENT_FILE_BYTES:
            raise BadInputError(f"{path}: over {MAX_EVENT_FILE_BYTES >> 20} MB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise BadInputError(f"{path}: cannot be read ({error.strerror})") from None
    rows = _rows(path, text)
    if not rows:
        raise BadInputError(f"{path}: holds no events")
    if len(rows) > MAX_EVENTS:
        raise BadInputError(f"{path}: over {MAX_EVENTS} events")
    events = []
    for number, row in rows:
        try:
            events.append(_event(row))
        except (ValueError, BadInputError) as error:
            raise BadInputError(f"{path}: line {number}: {error}") from None
    return events
