"""Compare two model versions: I/O contract, opsets, ops, size, parameters, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modeldesk.models.contract import ContractChange, diff_contract
from modeldesk.models.registry import ModelVersion

__all__ = ["ModelDiff", "compare_versions"]


@dataclass(frozen=True)
class ModelDiff:
    """What changed from version ``old`` to version ``new``."""

    old: str
    new: str
    contract: list[ContractChange]
    opsets: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    ops: dict[str, tuple[int, int]] = field(default_factory=dict)
    metadata: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    file_size: tuple[int, int] = (0, 0)
    param_count: tuple[int, int] = (0, 0)

    @property
    def breaking(self) -> bool:
        """True if any contract change is breaking."""
        return any(change.breaking for change in self.contract)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "old": self.old,
            "new": self.new,
            "breaking": self.breaking,
            "contract": [change.to_dict() for change in self.contract],
            "opsets": {key: list(value) for key, value in self.opsets.items()},
            "ops": {key: list(value) for key, value in self.ops.items()},
            "metadata": {key: list(value) for key, value in self.metadata.items()},
            "file_size": list(self.file_size),
            "param_count": list(self.param_count),
        }


def _changed(old: dict[str, Any], new: dict[str, Any], missing: Any) -> dict[str, tuple[Any, Any]]:
    return {
        key: (old.get(key, missing), new.get(key, missing))
        for key in sorted(set(old) | set(new))
        if old.get(key, missing) != new.get(key, missing)
    }


def compare_versions(old: ModelVersion, new: ModelVersion) -> ModelDiff:
    """The differences between two model versions (any two, of any models)."""
    return ModelDiff(
        old=old.ref,
        new=new.ref,
        contract=diff_contract(old.facts, new.facts),
        opsets=_changed(old.facts.opset_versions, new.facts.opset_versions, None),
        ops=_changed(old.facts.ops, new.facts.ops, 0),
        metadata=_changed(old.facts.metadata, new.facts.metadata, None),
        file_size=(old.file_size, new.file_size),
        param_count=(old.facts.param_count, new.facts.param_count),
    )
