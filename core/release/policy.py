"""Release policies: per model, what a release of it must show before it ships.

A policy is a small TOML file kept in the catalog as a versioned record (never
executed). Setting one is signed by a trusted release manager, since it decides what
the gates ask for::

    [policy]
    model = "breast-cancer"
    required_suites = ["breast-cancer-gate"]   # each needs a passing, current run
    targets = ["local-1-thread"]               # profiles a release may target
    approvals = 1                               # distinct release managers (at least 1)
    allow_breaking_contract = false             # vs the release last shipped to a target
    expiry_days = 90                            # optional: the bundle's freeze date
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass

from modeldesk.catalog.names import normalise_name
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.release.keys import SigningKey
from modeldesk.release.trust import RELEASE_MANAGER, TrustError, trusted_keys

__all__ = [
    "MAX_POLICY_BYTES",
    "Policy",
    "PolicyError",
    "StoredPolicy",
    "get_policy",
    "parse_policy",
    "set_policy",
]

MAX_POLICY_BYTES = 16 * 1024
MAX_EXPIRY_DAYS = 3650
_FIELDS = {
    "model": str,
    "required_suites": list,
    "targets": list,
    "approvals": int,
    "allow_breaking_contract": bool,
    "expiry_days": int,
}
_REQUIRED = ("model",)


class PolicyError(BadInputError):
    """A policy file that cannot be used (syntax, a missing or misspelt field)."""


@dataclass(frozen=True)
class Policy:
    """A parsed release policy."""

    model: str
    required_suites: tuple[str, ...]
    targets: tuple[str, ...]
    approvals: int
    allow_breaking_contract: bool
    expiry_days: int | None
    text: str

    @property
    def sha256(self) -> str:
        """The hash of the policy's text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredPolicy:
    """A policy version in the catalog."""

    id: int
    version: int
    created_at: str
    created_by: str
    policy: Policy

    @property
    def ref(self) -> str:
        """``MODEL@V`` of the policy."""
        return f"{self.policy.model}@{self.version}"


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """Parse and check a policy's TOML text; a ``PolicyError`` names what is wrong."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}: larger than {MAX_POLICY_BYTES >> 10} KiB; a policy is short")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: not valid TOML ({error})") from None
    if set(document) != {"policy"} or not isinstance(document["policy"], dict):
        raise PolicyError(f"{source}: expected one [policy] table and nothing else")
    table = document["policy"]
    for name, value in table.items():
        kind = _FIELDS.get(name)
        if kind is None:
            raise PolicyError(
                f"{source}: unknown field {name!r} in [policy] (known: {', '.join(_FIELDS)})"
            )
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise PolicyError(f"{source}: [policy] {name} must be a {kind.__name__}")
    for name in _REQUIRED:
        if name not in table:
            raise PolicyError(f"{source}: [policy] needs {name!r}")
    lists = {}
    for name in ("required_suites", "targets"):
        items = table.get(name, [])
        if not all(isinstance(item, str) and item for item in items):
            raise PolicyError(f"{source}: [policy] {name} must list names")
        if len(set(items)) != len(items):
            raise PolicyError(f"{source}: [policy] {name} names one twice")
        lists[name] = tuple(items)
    approvals = table.get("approvals", 1)
    if not 1 <= approvals <= 10:
        raise PolicyError(f"{source}: [policy] approvals {approvals}: give 1 to 10")
    expiry = table.get("expiry_days")
    if expiry is not None and not 1 <= expiry <= MAX_EXPIRY_DAYS:
        raise PolicyError(f"{source}: [policy] expiry_days {expiry}: give 1 to {MAX_EXPIRY_DAYS}")
    return Policy(
        model=normalise_name(table["model"], what="model name"),
        required_suites=lists["required_suites"],
        targets=lists["targets"],
        approvals=approvals,
        allow_breaking_contract=table.get("allow_breaking_contract", False),
        expiry_days=expiry,
        text=text,
    )


def _stored(row) -> StoredPolicy:
    policy = parse_policy(row["text"], source=f"policy {row['model_name']}@{row['version']}")
    return StoredPolicy(row["id"], row["version"], row["created_at"], row["created_by"], policy)


def set_policy(
    catalog: Catalog,
    signer: SigningKey,
    text: str,
    *,
    source: str = "policy",
    version: int | None = None,
) -> tuple[StoredPolicy, bool]:
    """Store ``text`` as the model's next policy version, signed by a release manager.

    Text equal to the newest version returns that version (created False). The model
    must exist, and so must every suite and target profile the policy names. A policy
    brought with a release candidate keeps its ``version`` number, which must be free.
    """
    from modeldesk.bench.profiles import get_profile
    from modeldesk.validate.registry import get_suite

    policy = parse_policy(text, source=source)
    if not catalog.query("SELECT 1 FROM model WHERE name = ?", (policy.model,)):
        raise NotFoundError(f"{source}: model {policy.model!r} is not in the catalog")
    for suite in policy.required_suites:
        stored = get_suite(catalog, suite)
        if stored.suite.model != policy.model:
            raise PolicyError(
                f"{source}: suite {suite!r} validates {stored.suite.model!r}, not {policy.model!r}"
            )
    for target in policy.targets:
        get_profile(catalog, target)
    actor = trusted_keys(catalog).get(signer.fingerprint)
    if actor is None or not actor.has_role(RELEASE_MANAGER):
        raise TrustError(
            f"setting the release policy of {policy.model}: your key {signer.public.short} is "
            "not a trusted release manager's in this catalog"
        )
    newest = _newest_row(catalog, policy.model)
    if newest is not None and newest["sha256"] == policy.sha256:
        return _stored(newest), False
    with catalog.write("release.policy", f"policy {policy.model}", signer=signer) as tx:
        taken = {
            row[0]
            for row in tx.conn.execute(
                "SELECT version FROM release_policy WHERE model_name = ?", (policy.model,)
            )
        }
        if version in taken:
            raise PolicyError(f"policy {policy.model}@{version} exists here with other text")
        version = version or 1 + max(taken, default=0)
        tx.conn.execute(
            "INSERT INTO release_policy (model_name, version, sha256, text, created_at,"
            " created_by) VALUES (?, ?, ?, ?, ?, ?)",
            (policy.model, version, policy.sha256, text, tx.at, tx.actor),
        )
        tx.subject = f"policy {policy.model}@{version}"
        tx.detail = {"model": policy.model, "version": version, "sha256": policy.sha256}
    written = get_policy(catalog, policy.model, version)
    assert written is not None  # a version was given: a missing one raises
    return written, True


def _newest_row(catalog: Catalog, model: str):
    rows = catalog.query(
        "SELECT * FROM release_policy WHERE model_name = ? ORDER BY version DESC LIMIT 1",
        (model,),
    )
    return rows[0] if rows else None


def get_policy(catalog: Catalog, model: str, version: int | None = None) -> StoredPolicy | None:
    """The model's policy (its newest version, or ``version``); None if it has none."""
    model = normalise_name(model, what="model name")
    if version is None:
        row = _newest_row(catalog, model)
        return None if row is None else _stored(row)
    rows = catalog.query(
        "SELECT * FROM release_policy WHERE model_name = ? AND version = ?", (model, version)
    )
    if not rows:
        raise NotFoundError(f"policy {model}@{version}: no such version")
    return _stored(rows[0])
