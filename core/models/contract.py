"""The I/O contract of a model version and how it changed between versions.

A change is *breaking* when code written against the old version can fail
against the new one: an input it does not send, an output it reads that is
gone, a type or rank it does not produce or expect, a size it no longer may
send. Everything else (a new output, an input that accepts more sizes) is
*compatible*.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from modeldesk.models.model_facts import ModelFacts, ValueInfo, format_dim, format_shape

__all__ = ["ContractChange", "diff_contract", "format_dim", "format_io", "format_shape"]


def format_io(value: ValueInfo) -> str:
    """One input or output as ``name: dtype[shape]``."""
    return str(value)


@dataclass(frozen=True)
class ContractChange:
    """One difference in the I/O contract between two model versions."""

    side: str  # "input" or "output"
    name: str
    change: str  # added, removed, kind, dtype, rank, dim
    before: str | None
    after: str | None
    breaking: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def _dim_change(side: str, axis: int, old: Any, new: Any) -> tuple[bool, str] | None:
    if old == new:
        return None
    old_fixed, new_fixed = isinstance(old, int), isinstance(new, int)
    label = f"dim {axis}: {format_dim(old)} -> {format_dim(new)}"
    if old_fixed and new_fixed:
        return True, f"{label} (a different fixed size)"
    if not old_fixed and not new_fixed:
        return False, f"{label} (symbolic name changed, still dynamic)"
    widened = old_fixed and not new_fixed  # fixed -> dynamic
    if side == "input":
        if widened:
            return False, f"{label} (now accepts any size)"
        return True, f"{label} (now requires exactly {new})"
    if widened:
        return True, f"{label} (no longer always {old})"
    return False, f"{label} (now always {new})"


def _compare(side: str, old: ValueInfo, new: ValueInfo) -> list[ContractChange]:
    name = old.name
    before, after = format_io(old), format_io(new)

    def change(kind: str, breaking: bool, reason: str) -> ContractChange:
        return ContractChange(side, name, kind, before, after, breaking, reason)

    if old.kind != new.kind:
        return [change("kind", True, f"{old.kind} -> {new.kind}")]
    if old.dtype != new.dtype:
        return [change("dtype", True, f"element type {old.dtype} -> {new.dtype}")]
    old_shape, new_shape = old.shape, new.shape
    if old_shape == new_shape:
        return []
    if old_shape is None or new_shape is None:
        # An unknown rank behaves like a fully dynamic shape.
        widened = new_shape is None
        breaking = (side == "input") != widened
        what = "shape no longer declared" if widened else "shape now declared"
        return [change("rank", breaking, what)]
    if len(old_shape) != len(new_shape):
        return [change("rank", True, f"rank {len(old_shape)} -> {len(new_shape)}")]
    changes = []
    for axis, (old_dim, new_dim) in enumerate(zip(old_shape, new_shape, strict=True)):
        verdict = _dim_change(side, axis, old_dim, new_dim)
        if verdict is not None:
            changes.append(change("dim", *verdict))
    return changes


def diff_contract(old_facts: ModelFacts, new_facts: ModelFacts) -> list[ContractChange]:
    """Every input/output added, removed or changed from ``old_facts`` to ``new_facts``."""
    changes: list[ContractChange] = []
    sides = (
        ("input", old_facts.inputs, new_facts.inputs),
        ("output", old_facts.outputs, new_facts.outputs),
    )
    for side, old_values, new_values in sides:
        old = {value.name: value for value in old_values}
        new = {value.name: value for value in new_values}
        for name, value in old.items():
            if name not in new:
                reason = "callers send it" if side == "input" else "callers may read it"
                changes.append(
                    ContractChange(side, name, "removed", format_io(value), None, True, reason)
                )
            else:
                changes.extend(_compare(side, value, new[name]))
        for name, value in new.items():
            if name in old:
                continue
            breaking = side == "input"
            reason = "callers do not send it yet" if breaking else "an extra output"
            changes.append(
                ContractChange(side, name, "added", None, format_io(value), breaking, reason)
            )
    return changes
