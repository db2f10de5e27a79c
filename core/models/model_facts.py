"""The facts the catalog records about a model file, as typed values.

The examiner child (``modeldesk.models.facts``, which needs onnx) sends them as JSON and
the catalog stores that JSON; everything that reads them works on these classes, which
need nothing but the standard library. ``from_dict`` reads the stored form, also from
catalogs written before a field existed; ``to_dict`` writes it back, field for field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Dim",
    "ExternalData",
    "ModelFacts",
    "Opset",
    "StoredFile",
    "ValueInfo",
    "format_dim",
    "format_shape",
]

# One axis of a shape: a fixed size, a symbolic name ("batch"), or None when unknown.
Dim = int | str | None


def format_dim(dim: Dim) -> str:
    """A dim as users read it: the number, the symbolic name verbatim, or ``?``."""
    return "?" if dim is None else str(dim)


def format_shape(shape: Sequence[Dim] | None) -> str:
    """``1×3×?×?``; ``scalar`` for rank 0; ``?`` when the rank is unknown."""
    if shape is None:
        return "?"
    if not shape:
        return "scalar"
    return "×".join(format_dim(dim) for dim in shape)


@dataclass(frozen=True)
class ValueInfo:
    """A graph input or output: its name, kind, element type and shape."""

    name: str
    kind: str  # tensor, sparse_tensor, sequence, map, optional or unknown
    dtype: str  # "float32", or a composite such as "seq(tensor(float32))"
    shape: tuple[Dim, ...] | None  # None when even the rank is unknown or not a tensor

    def __str__(self) -> str:
        """``name: dtype[shape]`` (``sparse`` before a sparse tensor's type)."""
        if self.kind in ("tensor", "sparse_tensor"):
            prefix = "sparse " if self.kind == "sparse_tensor" else ""
            return f"{self.name}: {prefix}{self.dtype}[{format_shape(self.shape)}]"
        return f"{self.name}: {self.dtype}"

    @property
    def is_tensor(self) -> bool:
        """A dense tensor (what a dataset's columns can feed)."""
        return self.kind == "tensor"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueInfo:
        """Read the stored form ``{name, kind, dtype, shape}``."""
        shape = data.get("shape")
        return cls(
            name=str(data["name"]),
            kind=str(data.get("kind", "unknown")),
            dtype=str(data.get("dtype", "?")),
            shape=None if shape is None else tuple(shape),
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored (and ``--json``) form."""
        shape = None if self.shape is None else list(self.shape)
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype, "shape": shape}


@dataclass(frozen=True)
class Opset:
    """One operator set the model imports (``ai.onnx`` for the default domain)."""

    domain: str
    version: int


@dataclass(frozen=True)
class ExternalData:
    """A file next to the model holding some of its tensors (path relative to the model)."""

    path: str
    size: int
    tensors: int


@dataclass(frozen=True)
class StoredFile:
    """An external data file as the catalog stores it: path beside the model, content hash."""

    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class ModelFacts:
    """What an ONNX file states about itself, as the examiner found it."""

    ir_version: int
    producer_name: str
    producer_version: str
    opsets: list[Opset]
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    ops: dict[str, int]  # op type (``domain.Op`` outside the default domains) -> count
    node_count: int
    param_count: int  # weights: initializers, Constant nodes and subgraph weights
    initializer_bytes: int
    metadata: dict[str, str] = field(default_factory=dict)
    domain: str = ""
    model_version: int = 0
    doc_string: str = ""
    subgraph_count: int = 0
    functions: list[str] = field(default_factory=list)
    class_names: list[str] | None = None
    task: str | None = None  # classification or regression, when the ops say
    file_size: int = 0
    external_data: list[ExternalData] = field(default_factory=list)
    runtime_error: str | None = None  # why ONNX Runtime cannot load it, if it cannot
    examined_with: dict[str, str] = field(default_factory=dict)  # onnx and onnxruntime versions

    @property
    def producer(self) -> str:
        """``name version`` of the tool that wrote the file ('' when it does not say)."""
        return " ".join(filter(None, [self.producer_name, self.producer_version]))

    @property
    def opset_versions(self) -> dict[str, int]:
        """Opset version per domain."""
        return {opset.domain: opset.version for opset in self.opsets}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFacts:
        """Read the stored JSON form (missing later fields take their defaults)."""
        class_names = data.get("class_names")
        return cls(
            ir_version=int(data.get("ir_version", 0)),
            producer_name=str(data.get("producer_name") or ""),
            producer_version=str(data.get("producer_version") or ""),
            opsets=[
                Opset(str(item["domain"]), int(item["version"])) for item in data.get("opsets", [])
            ],
            inputs=[ValueInfo.from_dict(item) for item in data.get("inputs", [])],
            outputs=[ValueInfo.from_dict(item) for item in data.get("outputs", [])],
            ops={str(op): int(count) for op, count in data.get("ops", {}).items()},
            node_count=int(data.get("node_count", 0)),
            param_count=int(data.get("param_count", 0)),
            initializer_bytes=int(data.get("initializer_bytes", 0)),
            metadata={str(k): str(v) for k, v in data.get("metadata", {}).items()},
            domain=str(data.get("domain") or ""),
            model_version=int(data.get("model_version", 0)),
            doc_string=str(data.get("doc_string") or ""),
            subgraph_count=int(data.get("subgraph_count", 0)),
            functions=[str(name) for name in data.get("functions", [])],
            class_names=None if class_names is None else [str(name) for name in class_names],
            task=data.get("task"),
            file_size=int(data.get("file_size", 0)),
            external_data=[
                ExternalData(str(item["path"]), int(item["size"]), int(item.get("tensors", 0)))
                for item in data.get("external_data", [])
            ],
            runtime_error=data.get("runtime_error"),
            examined_with={str(k): str(v) for k, v in data.get("examined_with", {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """The stored (and ``--json``) form."""
        return {
            "ir_version": self.ir_version,
            "producer_name": self.producer_name,
            "producer_version": self.producer_version,
            "domain": self.domain,
            "model_version": self.model_version,
            "doc_string": self.doc_string,
            "opsets": [{"domain": o.domain, "version": o.version} for o in self.opsets],
            "inputs": [value.to_dict() for value in self.inputs],
            "outputs": [value.to_dict() for value in self.outputs],
            "ops": dict(self.ops),
            "node_count": self.node_count,
            "subgraph_count": self.subgraph_count,
            "functions": list(self.functions),
            "param_count": self.param_count,
            "initializer_bytes": self.initializer_bytes,
            "metadata": dict(self.metadata),
            "class_names": None if self.class_names is None else list(self.class_names),
            "task": self.task,
            "file_size": self.file_size,
            "external_data": [
                {"path": e.path, "size": e.size, "tensors": e.tensors} for e in self.external_data
            ],
            "runtime_error": self.runtime_error,
            "examined_with": dict(self.examined_with),
        }
