"""Hardware profiles: how to run a benchmark, here (constrained) or on a device over SSH.

A ``local`` profile constrains threads, cores and the memory budget on this machine; it
does not pretend to be a slower CPU. A profile may carry a calibration (the measured
ratio of its device's latency to this machine's on reference models, with its relative
error) so a local run can show an *estimated* device latency, marked as such.
Built-in profiles are defined here and cannot be edited; user profiles are catalog
records, added, edited and removed through audited writes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from modeldesk.catalog.store import Catalog, utc_now
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.model_facts import ValueInfo

__all__ = [
    "BUILTIN_PROFILES",
    "Profile",
    "add_profile",
    "check_ssh_target",
    "edit_profile",
    "get_profile",
    "list_profiles",
    "parse_dims",
    "remove_profile",
    "ssh_target_problems",
    "unresolved_dims",
]

KINDS = ("local", "ssh")
# Field parity tolerances by the precision a target runs (fp16 and int8 round more).
# atol, rtol as numpy.isclose; a decision flip rate above the last is a failure.
PARITY_DEFAULTS = {
    "fp32": {"atol": 1e-5, "rtol": 1e-4, "max_flip_rate": 0.001},
    "fp16": {"atol": 1e-3, "rtol": 1e-2, "max_flip_rate": 0.005},
    "int8": {"atol": 1e-2, "rtol": 5e-2, "max_flip_rate": 0.02},
}
OPT_LEVELS = ("disabled", "basic", "extended", "all")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# What a host name (RFC 1123 labels), an IPv4 or an IPv6 address (with a zone) can hold,
# and a POSIX portable user name; neither may start with '-' (ssh would read an option).
_HOST = re.compile(r"^[A-Za-z0-9_.:%\[\]][A-Za-z0-9_.:%\[\]-]{0,252}$")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$")
_AXIS = re.compile(r"^(?P<input>[^:=]+):(?P<axis>\d+)$")


@dataclass(frozen=True)
class Profile:
    """One way to benchmark: thread and core limits, providers, sizes, budget, device."""

    name: str
    kind: str = "local"
    intra_threads: int = 0  # 0: ONNX Runtime's default
    inter_threads: int = 0
    cores: tuple[int, ...] = ()
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    opt_level: str = "all"
    memory_mb: int = 0  # 0: no budget
    batch_sizes: tuple[int, ...] = (1,)
    dims: dict[str, int] = field(default_factory=dict)  # symbolic dim -> value
    axis_dims: dict[str, int] = field(default_factory=dict)  # "input:axis" -> value
    warmup: int = 10
    iterations: int = 100
    budget_ms: float = 0.0  # 0: no latency budget
    percentile: int = 95
    host: str = ""
    port: int = 22
    user: str = ""
    python: str = "python3"
    identity: str = ""
    calibration_ratio: float = 0.0  # device latency / this machine's; 0: uncalibrated
    calibration_error: float = 0.0  # relative error of that ratio
    agent_path: str = ""  # where 'agent install' put agent.py on the device
    agent_sha256: str = ""  # and the hash of what it put there
    precision: str = "fp32"  # what the target computes in: fp32, fp16 or int8
    atol: float | None = None  # field parity tolerances; None: the precision's default
    rtol: float | None = None
    max_flip_rate: float | None = None
    description: str = ""
    builtin: bool = False

    def parity_tolerances(self) -> dict[str, float]:
        """``atol``, ``rtol`` and ``max_flip_rate`` for field parity on this target."""
        defaults = PARITY_DEFAULTS[self.precision]
        return {
            key: float(value if value is not None else defaults[key])
            for key, value in (
                ("atol", self.atol), ("rtol", self.rtol), ("max_flip_rate", self.max_flip_rate)
            )
        }  # fmt: skip

    def agent_settings(self, **overrides: Any) -> dict[str, Any]:
        """The ``run`` settings the agent takes, with per-run overrides applied."""
        settings: dict[str, Any] = {
            "providers": list(self.providers),
            "intra_threads": self.intra_threads,
            "inter_threads": self.inter_threads,
            "opt_level": self.opt_level,
            "batch_sizes": list(self.batch_sizes),
            "dims": dict(self.dims),
            "axis_dims": dict(self.axis_dims),
            "warmup": self.warmup,
            "iterations": self.iterations,
            "profile": True,
            "memory_mb": self.memory_mb,
        }
        for key, value in overrides.items():
            if value is None:
                continue
            if key in ("dims", "axis_dims"):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        return settings

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = asdict(self)
        data["cores"], data["providers"] = list(self.cores), list(self.providers)
        data["batch_sizes"] = list(self.batch_sizes)
        return data


BUILTIN_PROFILES = {
    profile.name: profile
    for profile in (
        Profile(
            "local-1-thread",
            intra_threads=1,
            inter_threads=1,
            cores=(0,),
            description="One thread pinned to core 0 of this machine: a single-core device's "
            "threading, at this machine's core speed.",
            builtin=True,
        ),
        Profile(
            "local-2-threads",
            intra_threads=2,
            inter_threads=1,
            cores=(0, 1),
            description="Two threads on cores 0-1 of this machine (a small dual-core board's "
            "threading, not its speed).",
            builtin=True,
        ),
        Profile(
            "local-edge-512mb",
            intra_threads=1,
            inter_threads=1,
            cores=(0,),
            memory_mb=512,
            description="One thread and a 512 MB resident-memory budget: runs over it fail.",
            builtin=True,
        ),
    )
}


def parse_dims(values: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``NAME=VALUE`` (a symbolic dim) and ``INPUT:AXIS=VALUE`` (any dynamic axis)."""
    dims, axis_dims = {}, {}
    for text in values:
        key, sep, raw = text.partition("=")
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not sep or not key or value <= 0:
            raise BadInputError(f"--dim {text!r}: give NAME=VALUE or INPUT:AXIS=VALUE, VALUE >= 1")
        if _AXIS.match(key):
            axis_dims[key] = value
        else:
            dims[key] = value
    return dims, axis_dims


def unresolved_dims(
    inputs: list[ValueInfo], dims: dict[str, int], axis_dims: dict[str, int]
) -> list[tuple[str, str | None]]:
    """Dynamic axes the agent could not size: ``(INPUT:AXIS, symbolic name or None)``.

    Mirrors the agent's rule: a fixed size, a ``dims`` value for a symbolic name or an
    ``axis_dims`` value for the axis resolves it, and a dynamic first axis is the batch.
    A symbolic name is listed once, at its first axis.
    """
    missing, seen = [], set()
    for item in inputs:
        if not item.is_tensor:
            continue
        for axis, dim in enumerate(item.shape or ()):
            key = f"{item.name}:{axis}"
            resolved = (
                key in axis_dims
                or (isinstance(dim, int) and dim >= 0)
                or (isinstance(dim, str) and dim in dims)
                or axis == 0
            )
            if resolved or (isinstance(dim, str) and dim in seen):
                continue
            if isinstance(dim, str):
                seen.add(dim)
            missing.append((key, dim if isinstance(dim, str) else None))
    return missing


def ssh_target_problems(profile: Profile) -> list[str]:
    """What is wrong with an ssh profile's host, user, port, Python and identity."""
    problems: list[str] = []
    if profile.kind != "ssh":
        return problems
    if not _HOST.match(profile.host or ""):
        problems.append(
            f"a host name or address (letters, digits, '.', '-', ':'; not {profile.host!r})"
        )
    if profile.user and not _USER.match(profile.user):
        problems.append(f"a user name of letters, digits, '.', '_' or '-' (not {profile.user!r})")
    port = profile.port
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        problems.append("a port from 1 to 65535")
    for field_name in ("python", "identity"):
        value = getattr(profile, field_name)
        if not isinstance(value, str) or any(ch in value for ch in "\x00\n\r"):
            problems.append(f"a {field_name} path without control characters")
    if str(profile.python).startswith("-"):
        problems.append("a Python command that does not start with '-'")
    return problems


def check_ssh_target(profile: Profile) -> None:
    """Raise ``BadInputError`` if an ssh profile's target cannot be used safely."""
    problems = ssh_target_problems(profile)
    if problems:
        raise BadInputError(f"profile {profile.name!r} needs " + "; ".join(problems))


def _checked(profile: Profile) -> Profile:
    problems = []
    if not _NAME.match(profile.name):
        problems.append("a name of lowercase letters, digits, '.', '_' or '-'")
    if profile.kind not in KINDS:
        problems.append("kind local or ssh")
    if profile.opt_level not in OPT_LEVELS:
        problems.append(f"opt level one of {', '.join(OPT_LEVELS)}")
    counts = (profile.intra_threads, profile.inter_threads, profile.memory_mb, profile.warmup)
    if any(n < 0 for n in counts) or profile.iterations < 1:
        problems.append("non-negative counts and at least one iteration")
    if not profile.batch_sizes or any(b < 1 for b in profile.batch_sizes):
        problems.append("batch sizes of at least 1")
    if any(c < 0 for c in profile.cores):
        problems.append("core numbers of at least 0")
    if profile.percentile not in (50, 90, 95, 99):
        problems.append("a percentile of 50, 90, 95 or 99")
    if profile.budget_ms < 0 or profile.calibration_ratio < 0:
        problems.append("a non-negative budget and calibration")
    if profile.kind == "ssh" and not profile.host:
        problems.append("a host for an ssh profile")
    elif profile.host or profile.user:
        problems += ssh_target_problems(replace(profile, kind="ssh"))
    if not profile.providers:
        problems.append("at least one execution provider")
    if profile.precision not in PARITY_DEFAULTS:
        problems.append(f"a precision of {', '.join(PARITY_DEFAULTS)}")
    tolerances = (profile.atol, profile.rtol, profile.max_flip_rate)
    if any(value is not None and not 0 <= value < math.inf for value in tolerances):
        problems.append("non-negative parity tolerances")
    if problems:
        raise BadInputError(f"profile {profile.name!r} needs " + "; ".join(problems))
    return profile


def _from_row(row: Any) -> Profile:
    data = json.loads(row["settings"])
    known = {f.name for f in fields(Profile)}
    data = {key: value for key, value in data.items() if key in known}
    for key in ("cores", "providers", "batch_sizes"):
        if key in data:
            data[key] = tuple(data[key])
    return Profile(name=row["name"], kind=row["kind"], description=row["description"] or "", **{
        k: v for k, v in data.items() if k not in ("name", "kind", "description", "builtin")
    })  # fmt: skip


def list_profiles(catalog: Catalog) -> list[Profile]:
    """Built-in profiles, then the catalog's, by name."""
    rows = catalog.query("SELECT * FROM profile ORDER BY name")
    return [*BUILTIN_PROFILES.values(), *(_from_row(row) for row in rows)]


def get_profile(catalog: Catalog, name: str) -> Profile:
    """A profile by name."""
    if name in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name]
    rows = catalog.query("SELECT * FROM profile WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(p.name for p in list_profiles(catalog))
        raise NotFoundError(f"no profile {name!r} (profiles: {known})")
    return _from_row(rows[0])


def _settings_json(profile: Profile) -> str:
    data = profile.to_dict()
    for key in ("name", "kind", "description", "builtin"):
        data.pop(key)
    return json.dumps(data, sort_keys=True)


def add_profile(catalog: Catalog, profile: Profile) -> Profile:
    """Store a new profile (audited); its name must be free."""
    profile = _checked(replace(profile, builtin=False))
    if profile.name in BUILTIN_PROFILES:
        raise BadInputError(f"profile {profile.name!r} is built in; choose another name")
    with catalog.write("profile.add", profile.name, {"kind": profile.kind}) as tx:
        if tx.conn.execute("SELECT 1 FROM profile WHERE name = ?", (profile.name,)).fetchone():
            raise BadInputError(f"profile {profile.name!r} exists; edit it instead")
        now = utc_now()
        tx.conn.execute(
            "INSERT INTO profile (name, kind, settings, description, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (profile.name, profile.kind, _settings_json(profile), profile.description, now, now),
        )
    return profile


# Changing any of these points the profile at another device or account.
_DEVICE_FIELDS = ("kind", "host", "port", "user")


def edit_profile(catalog: Catalog, name: str, **changes: Any) -> Profile:
    """Change some fields of a stored profile (audited)."""
    if name in BUILTIN_PROFILES:
        raise BadInputError(f"profile {name!r} is built in and cannot be edited; add a copy")
    current = get_profile(catalog, name)
    unknown = sorted(set(changes) - {f.name for f in fields(Profile)} - {"name", "builtin"})
    if unknown:
        raise BadInputError(f"profile field(s) {', '.join(unknown)} do not exist")
    updated = _checked(replace(current, **{k: v for k, v in changes.items() if v is not None}))
    moved = any(getattr(updated, key) != getattr(current, key) for key in _DEVICE_FIELDS)
    if moved and "agent_path" not in changes:
        # Another device (or account) has not got the agent that was installed.
        updated = replace(updated, agent_path="", agent_sha256="")
    with catalog.write("profile.edit", name, {"fields": sorted(changes)}) as tx:
        tx.conn.execute(
            "UPDATE profile SET kind = ?, settings = ?, description = ?, updated_at = ? "
            "WHERE name = ?",
            (updated.kind, _settings_json(updated), updated.description, utc_now(), name),
        )
    return updated


def remove_profile(catalog: Catalog, name: str) -> None:
    """Delete a stored profile (audited); its past runs keep their settings."""
    if name in BUILTIN_PROFILES:
        raise BadInputError(f"profile {name!r} is built in and cannot be removed")
    get_profile(catalog, name)
    with catalog.write("profile.remove", name) as tx:
        tx.conn.execute("DELETE FROM profile WHERE name = ?", (name,))
