"""The difference between two versions' graphs: which nodes are the same node, and
which were added, removed or changed (attributes, weights), as a list and as one graph
to draw with the changes coloured.

Nodes are matched by name first (exporters name nodes by the module that made them,
so a retrained or lightly edited model keeps its names), then the rest by structure:
same operator, attributes and weight shapes, next to nodes already matched (its
producers' or consumers' counterparts), or alone of its kind on both sides. Rewiring
alone does not make a node changed: inserting a node changes its consumer's input, not
the consumer.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modeldesk.graph.scene import shape_text

__all__ = ["GraphDiff", "diff_graphs", "merged_graph"]

REMOVED_PREFIX = "−"  # marks a removed node's values in the merged graph


@dataclass
class GraphDiff:
    """Node ids of the old graph paired with the new one's; what differs."""

    pairs: dict[int, int]  # old id -> new id
    added: list[int]  # new ids
    removed: list[int]  # old ids
    changed: dict[int, list[str]]  # new id -> what changed
    weight_pairs: list[tuple[str, str]] = field(default_factory=list)  # to measure deltas
    weight_deltas: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: counts of each kind of change."""
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed, {len(self.pairs) - len(self.changed)} same"
        )

    def to_dict(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-ready form naming the nodes."""
        old_nodes = {n["id"]: n for n in old["nodes"]}
        new_nodes = {n["id"]: n for n in new["nodes"]}

        def named(node: Mapping[str, Any]) -> dict[str, str]:
            return {"name": node["name"], "op": node["op"]}

        return {
            "summary": self.summary(),
            "added": [named(new_nodes[i]) for i in self.added],
            "removed": [named(old_nodes[i]) for i in self.removed],
            "changed": [
                named(new_nodes[i]) | {"changes": self.changes_of(i)} for i in sorted(self.changed)
            ],
        }

    def changes_of(self, new_id: int) -> list[str]:
        """What changed in one node, with the weights' change norms where measured."""
        lines = []
        for line in self.changed.get(new_id, []):
            name = line.split(" ", 2)[1] if line.startswith("weight ") else None
            delta = self.weight_deltas.get(name or "") or {}
            change, norm = delta.get("delta"), delta.get("norm")
            if change is not None:
                line += f" (‖Δ‖ = {change:.4g}"
                line += f", {change / norm:.2%} of ‖W‖)" if norm else ")"
            lines.append(line)
        return lines


def _signature(node: Mapping[str, Any], graph: Mapping[str, Any]) -> str:
    weights = graph["weights"]
    shapes = [weights[name].get("shape") if name in weights else None for name in node["inputs"]]
    return json.dumps(
        [node["op"], node["domain"], node["attributes"], shapes], sort_keys=True, default=str
    )


def _links(graph: Mapping[str, Any]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    producer = {name: n["id"] for n in graph["nodes"] for name in n["outputs"] if name}
    ups: dict[int, list[int]] = defaultdict(list)
    downs: dict[int, list[int]] = defaultdict(list)
    for node in graph["nodes"]:
        for name in node["inputs"]:
            if name in producer:
                ups[node["id"]].append(producer[name])
                downs[producer[name]].append(node["id"])
    return ups, downs


def diff_graphs(old: Mapping[str, Any], new: Mapping[str, Any]) -> GraphDiff:
    """Match the nodes of two described graphs (``modeldesk.graph.describe``)."""
    old_nodes = {n["id"]: n for n in old["nodes"]}
    new_nodes = {n["id"]: n for n in new["nodes"]}
    pairs: dict[int, int] = {}
    by_name_old = defaultdict(list)
    for node in old["nodes"]:
        by_name_old[node["name"]].append(node["id"])
    by_name_new = defaultdict(list)
    for node in new["nodes"]:
        by_name_new[node["name"]].append(node["id"])
    for name, ids in by_name_new.items():
        found = by_name_old.get(name, [])
        if (
            len(ids) == 1
            and len(found) == 1
            and old_nodes[found[0]]["op"] == new_nodes[ids[0]]["op"]
        ):
            pairs[found[0]] = ids[0]
    _match_structure(old, new, pairs, _signature)
    # Then the same operator in the same place with other attributes or weights (a tree
    # ensemble retrained): one changed node, not one removed and one added.
    _match_structure(old, new, pairs, lambda node, _graph: f"{node['domain']}/{node['op']}")
    matched_new = set(pairs.values())
    diff = GraphDiff(
        pairs=dict(sorted(pairs.items())),
        added=[i for i in new_nodes if i not in matched_new],
        removed=[i for i in old_nodes if i not in pairs],
        changed={},
    )
    for old_id, new_id in pairs.items():
        changes = _changes(old_nodes[old_id], new_nodes[new_id], old, new, diff.weight_pairs)
        if changes:
            diff.changed[new_id] = changes
    return diff


def _match_structure(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    pairs: dict[int, int],
    signature: Callable[[Mapping[str, Any], Mapping[str, Any]], str],
) -> None:
    """Pair the nodes names did not: next to a matched neighbour (or reading the same graph
    input), or alone of its kind on both sides; repeated until nothing more pairs."""
    old_sig = {n["id"]: signature(n, old) for n in old["nodes"]}
    new_sig = {n["id"]: signature(n, new) for n in new["nodes"]}
    old_ups, old_downs = _links(old)
    new_ups, new_downs = _links(new)
    shared_inputs = set(old["inputs"]) & set(new["inputs"])
    old_readers: dict[str, list[int]] = defaultdict(list)
    for node in old["nodes"]:
        for name in node["inputs"]:
            if name in shared_inputs:
                old_readers[name].append(node["id"])
    reverse = {b: a for a, b in pairs.items()}

    def pair(old_id: int, new_id: int) -> None:
        pairs[old_id] = new_id
        reverse[new_id] = old_id

    def propagate(order: list[dict[str, Any]]) -> bool:
        grew = False
        for node in order:
            new_id = node["id"]
            if new_id in reverse:
                continue
            votes: dict[int, int] = defaultdict(int)
            near = [(new_ups[new_id], old_downs), (new_downs[new_id], old_ups)]
            for neighbours, old_links in near:
                for neighbour in neighbours:
                    for old_id in old_links.get(reverse.get(neighbour, -1), []):
                        votes[old_id] += 1
            for name in node["inputs"]:
                for old_id in old_readers.get(name, []):
                    votes[old_id] += 1
            votes = {
                i: v for i, v in votes.items() if i not in pairs and old_sig[i] == new_sig[new_id]
            }
            if votes:
                pair(max(votes, key=lambda i: (votes[i], -i)), new_id)
                grew = True
        return grew

    def alone() -> bool:
        left_old: dict[str, list[int]] = defaultdict(list)
        left_new: dict[str, list[int]] = defaultdict(list)
        for old_id, signature in old_sig.items():
            if old_id not in pairs:
                left_old[signature].append(old_id)
        for new_id, signature in new_sig.items():
            if new_id not in reverse:
                left_new[signature].append(new_id)
        grew = False
        for signature, ids in left_new.items():
            if len(ids) == 1 and len(left_old.get(signature, [])) == 1:
                pair(left_old[signature][0], ids[0])
                grew = True
        return grew

    forward, backward = list(new["nodes"]), list(reversed(new["nodes"]))
    while True:
        grew = propagate(forward)
        grew = propagate(backward) or grew
        if not (alone() or grew):
            break


def _changes(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    weight_pairs: list[tuple[str, str]],
) -> list[str]:
    changes = []
    for key in sorted(set(a["attributes"]) | set(b["attributes"])):
        before, after = a["attributes"].get(key), b["attributes"].get(key)
        if before != after:
            changes.append(f"attribute {key}: {_short(before)} → {_short(after)}")
    for position in range(max(len(a["inputs"]), len(b["inputs"]))):
        name_a = a["inputs"][position] if position < len(a["inputs"]) else ""
        name_b = b["inputs"][position] if position < len(b["inputs"]) else ""
        weight_a, weight_b = old["weights"].get(name_a), new["weights"].get(name_b)
        if weight_a is None and weight_b is None:
            continue
        shown = name_b or name_a
        if weight_a is None or weight_b is None:
            changes.append(f"weight {shown} {'added' if weight_a is None else 'removed'}")
        elif weight_a.get("shape") != weight_b.get("shape"):
            changes.append(
                f"weight {shown} shape {shape_text(weight_a.get('shape'))} → "
                f"{shape_text(weight_b.get('shape'))}"
            )
        elif weight_a.get("sha256") != weight_b.get("sha256") or "sha256" not in weight_a:
            if "sha256" not in weight_a or "sha256" not in weight_b:
                continue  # external data: not read, so not compared
            changes.append(f"weight {shown} values changed")
            weight_pairs.append((name_a, name_b))
    return changes


def _short(value: Any) -> str:
    text = "unset" if value is None else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def merged_graph(
    old: Mapping[str, Any], new: Mapping[str, Any], diff: GraphDiff
) -> tuple[dict[str, Any], dict[int, str]]:
    """One graph to draw the diff in: the new graph with the removed nodes put back
    between their old neighbours, and each node's status (added, removed, changed)."""
    status: dict[int, str] = {i: "added" for i in diff.added}
    status |= {i: "changed" for i in diff.changed}
    nodes = [dict(node, inputs=list(node["inputs"])) for node in new["nodes"]]
    by_id = {node["id"]: node for node in nodes}
    values = dict(new["values"])
    weights = dict(new["weights"])
    old_nodes = {n["id"]: n for n in old["nodes"]}
    removed = set(diff.removed)
    old_producer = {name: n["id"] for n in old["nodes"] for name in n["outputs"] if name}
    next_id = max(by_id, default=-1) + 1
    new_ids = {}
    for old_id in diff.removed:
        new_ids[old_id], next_id = next_id, next_id + 1

    def renamed(name: str) -> str:
        """An old value's name in the merged graph."""
        producer = old_producer.get(name)
        if producer is None:  # an input or a weight of the old graph
            if name in old["weights"] and name not in weights:
                weights[REMOVED_PREFIX + name] = old["weights"][name]
                return REMOVED_PREFIX + name
            return name
        if producer in removed:
            return REMOVED_PREFIX + name
        twin = by_id[diff.pairs[producer]]
        position = old_nodes[producer]["outputs"].index(name)
        return twin["outputs"][position] if position < len(twin["outputs"]) else name

    for old_id in diff.removed:
        node = old_nodes[old_id]
        outputs = [REMOVED_PREFIX + name for name in node["outputs"] if name]
        for name in node["outputs"]:
            if name in old["values"]:
                values[REMOVED_PREFIX + name] = old["values"][name]
        nodes.append(
            dict(
                node,
                id=new_ids[old_id],
                inputs=[renamed(n) for n in node["inputs"] if n],
                outputs=outputs,
            )
        )
        status[new_ids[old_id]] = "removed"
    # Matched consumers of a removed node read it again, so it is drawn where it was.
    for old_node in old["nodes"]:
        if old_node["id"] in removed or old_node["id"] not in diff.pairs:
            continue
        twin = by_id[diff.pairs[old_node["id"]]]
        for name in old_node["inputs"]:
            if old_producer.get(name) in removed and REMOVED_PREFIX + name not in twin["inputs"]:
                twin["inputs"].append(REMOVED_PREFIX + name)
    merged = dict(new, nodes=nodes, values=values, weights=weights)
    return merged, status
