"""Hierarchy from node-name scopes, so a large model opens as a few dozen groups.

Exporters name nodes by the module that made them (``/model/layers.0/attn/MatMul``).
Every scope becomes a group that folds and unfolds; only what is unfolded is laid out,
and an edge into a folded group ends at the group. Sibling groups that differ only by
an index (``layers.0``, ``layers.1``) and hold the same operators in the same order are
repeats of one block: they are marked, so a view can fold them by default and say
"x 24".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Group", "build_groups", "node_edges", "scope_of", "visible_graph"]

_INDEX = re.compile(r"\d+")


def scope_of(name: str) -> tuple[str, ...]:
    """The scopes a node name says it is in: ``/a/b/Op`` -> ``("a", "b")``."""
    parts = [part for part in name.split("/") if part]
    return tuple(parts[:-1])


@dataclass
class Group:
    """One scope: its path, the node ids directly in it, and the groups inside it."""

    path: tuple[str, ...]
    nodes: list[int] = field(default_factory=list)
    children: dict[str, Group] = field(default_factory=dict)
    repeat_of: tuple[str, ...] | None = None  # the first of the identical blocks it repeats
    repeats: int = 1  # on the first block: how many identical blocks there are

    def all_nodes(self) -> list[int]:
        """Every node id in the group and the groups inside it, in order."""
        found = list(self.nodes)
        for child in self.children.values():
            found += child.all_nodes()
        return sorted(found)

    def signature(self, ops: Mapping[int, str]) -> tuple:
        """What the block computes, by operator order: equal for repeated blocks."""
        return (tuple(ops[n] for n in self.nodes),
                tuple((_INDEX.sub("#", key), child.signature(ops))
                      for key, child in self.children.items()))  # fmt: skip


def build_groups(nodes: Sequence[dict[str, Any]]) -> Group:
    """The scope tree of a described graph's nodes (``id``, ``name``, ``op``)."""
    root = Group(())
    for node in nodes:
        group = root
        for part in scope_of(node["name"]):
            group = group.children.setdefault(part, Group((*group.path, part)))
        group.nodes.append(node["id"])
    ops = {node["id"]: node["op"] for node in nodes}
    _mark_repeats(root, ops)
    return root


def _mark_repeats(group: Group, ops: dict[int, str]) -> None:
    first_of: dict[tuple, Group] = {}
    for key, child in group.children.items():
        _mark_repeats(child, ops)
        if not _INDEX.search(key):
            continue
        shape = (_INDEX.sub("#", key), child.signature(ops))
        if shape in first_of:
            child.repeat_of = first_of[shape].path
            first_of[shape].repeats += 1
        else:
            first_of[shape] = child


def node_edges(graph: dict[str, Any]) -> list[tuple[int, int]]:
    """Producer to consumer, by node id, for every value passed between two nodes of a
    described graph (``modeldesk.graph.describe``)."""
    producer = {name: node["id"] for node in graph["nodes"] for name in node["outputs"] if name}
    return [(producer[name], node["id"]) for node in graph["nodes"] for name in node["inputs"]
            if name in producer]  # fmt: skip


def visible_graph(
    root: Group, edges: Iterable[tuple[int, int]], unfolded: set[tuple[str, ...]]
) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """What is laid out when the groups in ``unfolded`` are open (the root always is):
    items (node ids, and folded groups as their path tuples), and the edges between
    items (an edge inside one folded group disappears; duplicates are merged)."""
    owner: dict[int, Any] = {}
    items: list[Any] = []

    def walk(group: Group) -> None:
        for node in group.nodes:
            owner[node] = node
            items.append(node)
        for child in group.children.values():
            if child.path in unfolded:
                walk(child)
            else:
                items.append(child.path)
                for node in child.all_nodes():
                    owner[node] = child.path

    walk(root)
    seen: set[tuple[Any, Any]] = set()
    shown = []
    for source, target in edges:
        pair = (owner.get(source, source), owner.get(target, target))
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            shown.append(pair)
    return items, shown
