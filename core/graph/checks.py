"""Structure checks for graph data read back from a catalog's cache, which may come
from someone else's folder: a described graph and a layout are refused (ValueError,
naming the problem) unless every field a view reads has the type it expects."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ["check_description", "check_layout"]

MAX_DEPTH = 32  # subgraphs inside subgraphs
MAX_NODES = 2_000_000


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(problem)


def _strings(value: Any, what: str) -> None:
    _require(
        isinstance(value, list) and all(isinstance(v, str) for v in value),
        f"{what} is not a list of names",
    )


def _check_graph(graph: Any, depth: int, where: str) -> int:
    _require(depth <= MAX_DEPTH, f"{where}: subgraphs nested deeper than {MAX_DEPTH}")
    _require(isinstance(graph, dict), f"{where}: not a graph")
    for field in ("inputs", "outputs", "captured", "problems"):
        _strings(graph.get(field), f"{where}.{field}")
    _require(
        isinstance(graph.get("values"), dict) and isinstance(graph.get("weights"), dict),
        f"{where}: values or weights missing",
    )
    for name, value in graph["values"].items():
        _require(
            isinstance(value, dict)
            and (value.get("shape") is None or isinstance(value["shape"], list)),
            f"{where}: value {name!r} malformed",
        )
    for name, weight in graph["weights"].items():
        _require(isinstance(weight, dict), f"{where}: weight {name!r} malformed")
    nodes = graph.get("nodes")
    _require(isinstance(nodes, list) and len(nodes) <= MAX_NODES, f"{where}: nodes malformed")
    seen: set[int] = set()
    count = len(nodes)
    for node in nodes:
        _require(isinstance(node, dict), f"{where}: a node is not a record")
        identity = node.get("id")
        _require(isinstance(identity, int) and identity not in seen, f"{where}: node ids repeat")
        seen.add(identity)
        for field in ("name", "op", "domain", "category"):
            _require(isinstance(node.get(field), str), f"{where}: node {identity} has no {field}")
        _strings(node.get("inputs"), f"{where}: node {identity} inputs")
        _strings(node.get("outputs"), f"{where}: node {identity} outputs")
        _require(
            isinstance(node.get("attributes"), dict) and isinstance(node.get("subgraphs"), dict),
            f"{where}: node {identity} malformed",
        )
        for key, sub in node["subgraphs"].items():
            count += _check_graph(sub, depth + 1, f"{where}/{identity}.{key}")
    _require(count <= MAX_NODES, f"{where}: more than {MAX_NODES} nodes")
    return count


def check_description(described: Any) -> None:
    """Raise ValueError unless ``described`` has the form ``describe_model`` gives."""
    _require(isinstance(described, dict), "not a described model")
    _require(
        isinstance(described.get("opsets"), dict) and isinstance(described.get("metadata"), dict),
        "model properties malformed",
    )
    _check_graph(described.get("graph"), 0, "graph")


def _point(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def check_layout(data: Mapping[str, Any], keys: set[Hashable]) -> None:
    """Raise ValueError unless ``data`` is a layout (``layout_to_data``) of exactly the
    items ``keys``."""
    _require(isinstance(data, dict), "not a layout")
    positions = data.get("positions")
    if not isinstance(positions, dict) or set(positions) != keys:
        raise ValueError("layout of other items")
    _require(all(_point(p) for p in positions.values()), "positions malformed")
    _require(
        isinstance(data.get("layers"), dict) and set(data["layers"]) == keys, "layers malformed"
    )
    edges = data.get("edges")
    if not isinstance(edges, list):
        raise ValueError("edges malformed")
    for edge in edges:
        _require(
            isinstance(edge, list)
            and len(edge) == 3
            and edge[0] in keys
            and edge[1] in keys
            and isinstance(edge[2], list)
            and all(_point(p) for p in edge[2]),
            "an edge is malformed",
        )
    for field in ("reversed", "loops"):
        _require(isinstance(data.get(field), list), f"{field} malformed")
    for field in ("width", "height", "crossings"):
        _require(isinstance(data.get(field), int | float), f"{field} malformed")
