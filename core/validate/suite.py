"""A validation suite: a TOML file of checks, read and checked before anything runs.

The file is untrusted text (it may come from someone else's catalog): it is parsed with
``tomllib``, never executed, and every field is checked against the kind's schema, so a
misspelt field, a bad filter or a duplicate id is refused with the line it is on.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from modeldesk.errors import BadInputError
from modeldesk.validate.expr import Expression, ExpressionError, parse_expression

__all__ = ["CHECK_KINDS", "Check", "Suite", "SuiteError", "parse_suite"]

MAX_SUITE_BYTES = 1 << 20  # a suite is a page of text
MAX_CHECKS = 500
ON_INCONCLUSIVE = ("fail", "pass", "skip")
DEFAULT_RESAMPLES = 2000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class SuiteError(BadInputError):
    """A suite file that cannot be used: it does not parse, or a check is not valid.

    ``line`` and ``column`` (1-based) place the problem in the text for an editor:
    ``line`` defaults to the line the message names; ``column`` is known for TOML
    syntax errors and bad filters.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        named = re.search(r"\bline (\d+)", message)
        self.line = line if line is not None else (int(named.group(1)) if named else None)
        self.column = column


Number = (int, float)
# Per kind: field -> (accepted types, required). "where" is a filter; "dataset" a DATA@V.
_COMMON: dict[str, tuple[tuple[type, ...], bool]] = {
    "id": ((str,), True),
    "kind": ((str,), True),
    "dataset": ((str,), False),
    "where": ((str,), False),
    "description": ((str,), False),
}
CHECK_KINDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "metric": {"metric": ((str,), True), "min": (Number, False), "max": (Number, False)},
    "slices": {
        "column": ((str,), True),
        "metric": ((str,), True),
        "min": (Number, False),
        "max": (Number, False),
        "bins": ((int,), False),
        "min_rows": ((int,), False),
    },
    "invariance": {
        "columns": ((list,), True),
        "perturbation": ((str,), True),
        "scale": (Number, False),
        "value": ((int, float, str), False),
        "max_flip_rate": (Number, False),
        "max_abs_change": (Number, False),
        "output": ((str, int), False),
    },
    "direction": {
        "column": ((str,), True),
        "step": (Number, True),
        "expect": ((str,), True),
        "output": ((str, int), False),
        "min_share": (Number, True),
    },
    "champion": {
        "baseline": ((str,), True),
        "metric": ((str,), True),
        "margin": (Number, True),
        "per_slice_column": ((str,), False),
        "bins": ((int,), False),
        "min_rows": ((int,), False),
    },
    "latency": {
        "profile": ((str,), True),
        "percentile": (Number, False),
        "budget_ms": (Number, True),
        "run_if_missing": ((bool,), False),
    },
    "parity": {
        "reference": ((str,), True),
        "atol": (Number, False),
        "rtol": (Number, False),
        "max_flip_rate": (Number, False),
        "max_p99_abs_diff": (Number, False),
    },
    "contract": {"baseline": ((str,), True)},
    "data": {
        "required_columns": ((list,), False),
        "ranges": ((dict,), False),
        "max_missing": (Number, False),
        "allowed": ((dict,), False),
    },
}
PERTURBATIONS = ("noise", "set", "swap")
DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class Check:
    """One check of a suite: its id, kind, line in the file and its fields."""

    id: str
    kind: str
    line: int
    fields: dict[str, Any]
    where: Expression | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default`` when the check does not set it."""
        return self.fields.get(name, default)


@dataclass(frozen=True)
class Suite:
    """A parsed suite; ``sha256`` is the hash of its exact text."""

    name: str
    model: str
    dataset: str
    confidence: float
    on_inconclusive: str
    seed: int
    resamples: int
    checks: list[Check]
    text: str = field(repr=False)
    sha256: str = ""


def _check_lines(text: str) -> list[int]:
    """The 1-based line of each ``[[check]]`` header, in order."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if re.match(r"^\s*\[\[\s*check\s*\]\]\s*(#.*)?$", line)
    ]


def _field_line(text: str, start: int, name: str) -> int:
    """The line where ``name =`` appears in the block starting at line ``start``."""
    lines = text.splitlines()
    for number in range(start, len(lines)):
        line = lines[number]
        if number > start and re.match(r"^\s*\[", line):
            break
        if re.match(rf"^\s*{re.escape(name)}\s*=", line):
            return number + 1
    return start


def _filter_column(text: str, line: int, expression: str, offset: int | None) -> int | None:
    """Where, on its line of the file, position ``offset`` of a filter falls."""
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    start = source.find(expression)  # escapes inside the quotes would move it: then unknown
    if offset is None or start < 0:
        return None
    return start + offset


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "a string", bool: "true or false"}
    names |= {list: "a list", dict: "a table"}
    return " or ".join(dict.fromkeys(names[kind] for kind in types))


def _is(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _check_fields(path: str, text: str, raw: dict[str, Any], line: int) -> Check:
    kind = raw.get("kind")
    if not isinstance(kind, str):
        raise SuiteError(
            f"{path} line {line}: the check has no kind (one of {', '.join(CHECK_KINDS)})"
        )
    if kind not in CHECK_KINDS:
        at = _field_line(text, line - 1, "kind")
        close = difflib.get_close_matches(kind, CHECK_KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (one of {', '.join(CHECK_KINDS)})"
        raise SuiteError(f"{path} line {at}: unknown check kind {kind!r}{hint}")
    schema = {**_COMMON, **CHECK_KINDS[kind]}
    check_id = raw.get("id")
    if not isinstance(check_id, str) or not _ID.match(check_id):
        raise SuiteError(
            f"{path} line {line}: a check needs an id of letters, digits, '.', '_' or '-'"
        )
    label = f"{path} line {{line}}: check {check_id!r}"
    for name, value in raw.items():
        if name not in schema:
            at = _field_line(text, line - 1, name)
            close = difflib.get_close_matches(name, schema, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SuiteError(f"{label.format(line=at)} ({kind}) has no field {name!r}{hint}")
        types, _ = schema[name]
        if not _is(value, types):
            at = _field_line(text, line - 1, name)
            raise SuiteError(f"{label.format(line=at)}: {name} must be {_type_name(types)}")
    missing = [name for name, (_, required) in schema.items() if required and name not in raw]
    if missing:
        raise SuiteError(f"{label.format(line=line)} ({kind}) needs {', '.join(missing)}")
    _check_kind_rules(kind, raw, label.format(line=line))
    where: Expression | None = None
    if "where" in raw:
        at = _field_line(text, line - 1, "where")
        try:
            where = parse_expression(raw["where"], where=f"{label.format(line=at)}: where")
        except ExpressionError as error:
            raise SuiteError(
                str(error), line=at, column=_filter_column(text, at, raw["where"], error.column)
            ) from None
    fields = {name: value for name, value in raw.items() if name not in ("id", "kind")}
    return Check(check_id, kind, line, fields, where)


def _check_kind_rules(kind: str, raw: dict[str, Any], label: str) -> None:
    """What a schema cannot say: one bound at least, known names, sensible numbers."""
    bounded = {"metric": ("min", "max"), "slices": ("min", "max")}
    if kind in bounded and not any(name in raw for name in bounded[kind]):
        raise SuiteError(f"{label}: set min or max")
    if kind == "invariance":
        if raw["perturbation"] not in PERTURBATIONS:
            raise SuiteError(
                f"{label}: perturbation {raw['perturbation']!r} is not one of "
                f"{', '.join(PERTURBATIONS)}"
            )
        if raw["perturbation"] == "set" and "value" not in raw:
            raise SuiteError(f"{label}: perturbation 'set' needs a value")
        if not ("max_flip_rate" in raw or "max_abs_change" in raw):
            raise SuiteError(f"{label}: set max_flip_rate or max_abs_change")
        if not raw["columns"] or not all(isinstance(c, str) for c in raw["columns"]):
            raise SuiteError(f"{label}: columns must be a list of column names")
    if kind == "direction" and raw["expect"] not in DIRECTIONS:
        raise SuiteError(f"{label}: expect must be 'increase' or 'decrease'")
    for name in ("min_share", "max_flip_rate"):
        if name in raw and not 0 <= raw[name] <= 1:
            raise SuiteError(f"{label}: {name} must be between 0 and 1")
    for name in ("margin", "budget_ms", "atol", "rtol", "max_abs_change", "scale"):
        if name in raw and raw[name] < 0:
            raise SuiteError(f"{label}: {name} must not be negative")
    for name in ("bins", "min_rows"):
        if name in raw and raw[name] < 1:
            raise SuiteError(f"{label}: {name} must be at least 1")
    if kind == "latency" and not 0 < raw.get("percentile", 95) <= 100:
        raise SuiteError(f"{label}: percentile must be in (0, 100]")


def parse_suite(text: str, *, path: str = "suite") -> Suite:
    """Read a suite's TOML text; raise ``SuiteError`` naming the line of the first problem."""
    if len(text.encode("utf-8")) > MAX_SUITE_BYTES:
        raise SuiteError(f"{path}: larger than {MAX_SUITE_BYTES >> 10} KiB; a suite is text")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib places the error only in its message: "... (at line 3, column 7)".
        place = re.search(r"line (\d+), column (\d+)", str(error))
        where: tuple[int | None, int | None] = (
            (int(place.group(1)), int(place.group(2))) if place else (None, None)
        )
        if place is None and "end of document" in str(error):
            last = (text.splitlines() or [""])[-1]
            where = (len(text.splitlines()) or 1, len(last) + 1)
        raise SuiteError(
            f"{path}: not valid TOML: {error}", line=where[0], column=where[1]
        ) from None
    unknown = sorted(set(document) - {"suite", "check"})
    if unknown:
        raise SuiteError(
            f"{path}: unknown section {unknown[0]!r} (a suite has [suite] and [[check]])"
        )
    head = document.get("suite")
    if not isinstance(head, dict):
        raise SuiteError(f"{path}: no [suite] table")
    known = {"name", "model", "dataset", "confidence", "on_inconclusive", "seed", "resamples",
             "description"}  # fmt: skip
    for name in head:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            at = _field_line(text, 0, name)
            raise SuiteError(f"{path} line {at}: [suite] has no field {name!r}{hint}")
    for name in ("name", "model", "dataset"):
        if not isinstance(head.get(name), str) or not head[name].strip():
            raise SuiteError(f"{path}: [suite] needs {name} (a string)")
    confidence = head.get("confidence", 0.95)
    if not _is(confidence, Number) or not 0.5 <= confidence < 1:
        raise SuiteError(f"{path}: [suite] confidence must be a number in [0.5, 1)")
    on_inconclusive = head.get("on_inconclusive", "fail")
    if on_inconclusive not in ON_INCONCLUSIVE:
        raise SuiteError(f"{path}: [suite] on_inconclusive must be fail, pass or skip")
    seed = head.get("seed", 0)
    resamples = head.get("resamples", DEFAULT_RESAMPLES)
    if not _is(seed, (int,)) or seed < 0:
        raise SuiteError(f"{path}: [suite] seed must be a whole number of at least 0")
    if not _is(resamples, (int,)) or not 200 <= resamples <= 100_000:
        raise SuiteError(f"{path}: [suite] resamples must be a whole number in [200, 100000]")
    raw_checks = document.get("check", [])
    if not isinstance(raw_checks, list) or not raw_checks:
        raise SuiteError(f"{path}: the suite has no [[check]]")
    if len(raw_checks) > MAX_CHECKS:
        raise SuiteError(f"{path}: more than {MAX_CHECKS} checks")
    lines = _check_lines(text)
    if len(lines) != len(raw_checks):
        lines = [1] * len(raw_checks)  # checks written as an inline array: no header lines
    checks: list[Check] = []
    seen: dict[str, int] = {}
    for raw, line in zip(raw_checks, lines, strict=True):
        check = _check_fields(path, text, raw, line)
        if check.id in seen:
            raise SuiteError(
                f"{path} line {line}: check id {check.id!r} is used already (line {seen[check.id]})"
            )
        seen[check.id] = line
        checks.append(check)
    return Suite(
        name=head["name"].strip(),
        model=head["model"].strip(),
        dataset=head["dataset"].strip(),
        confidence=float(confidence),
        on_inconclusive=on_inconclusive,
        seed=int(seed),
        resamples=int(resamples),
        checks=checks,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
