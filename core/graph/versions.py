"""Graphs of catalog versions: one version's scene, the diff of two, and the export
``modeldesk model graph`` writes (SVG or JSON), all headless."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.graph.diff import GraphDiff, diff_graphs, merged_graph
from modeldesk.graph.layout import Layout
from modeldesk.graph.render import scene_json, scene_svg
from modeldesk.graph.scene import GraphModel, Scene
from modeldesk.graph.stored import cached_layout, version_graph
from modeldesk.models.contract import ContractChange, diff_contract
from modeldesk.models.examine import model_weight_deltas
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["VersionDiff", "compare_graphs", "export_graph", "laid_out"]

EXPORT_SUFFIXES = (".svg", ".json")


@dataclass
class VersionDiff:
    """Two versions' graphs matched node by node, with the merged graph to draw."""

    old: ModelVersion
    new: ModelVersion
    old_graph: dict[str, Any]  # described models
    new_graph: dict[str, Any]
    diff: GraphDiff
    merged: dict[str, Any]  # a described graph: the new one with removed nodes put back
    status: dict[int, str]
    contract: list[ContractChange]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the contract and the node changes."""
        return {
            "old": self.old.ref,
            "new": self.new.ref,
            "contract": [change.to_dict() for change in self.contract],
            **self.diff.to_dict(self.old_graph["graph"], self.new_graph["graph"]),
        }


def compare_graphs(
    catalog: Catalog,
    old: ModelVersion,
    new: ModelVersion,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> VersionDiff:
    """Match the graphs of ``old`` and ``new``; changed weights get the norm of their
    change (read in the examiner child)."""
    old_graph = version_graph(catalog, old, progress=progress, cancel=cancel)
    new_graph = version_graph(catalog, new, progress=progress, cancel=cancel)
    diff = diff_graphs(old_graph["graph"], new_graph["graph"])
    if diff.weight_pairs:
        progress(0, 1, "measuring how the weights changed")
        diff.weight_deltas = model_weight_deltas(
            catalog.blobs.verified_path(old.sha256),
            catalog.blobs.verified_path(new.sha256),
            diff.weight_pairs,
            cancel=cancel,
        )
    merged, status = merged_graph(old_graph["graph"], new_graph["graph"], diff)
    contract = diff_contract(old.facts, new.facts)
    return VersionDiff(old, new, old_graph, new_graph, diff, merged, status, contract)


def laid_out(
    catalog: Catalog | None,
    model: GraphModel,
    cache_as: str,
    view: Mapping[str, Any],
    unfolded: Iterable[tuple[str, ...]] | None = None,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> tuple[Scene, Layout]:
    """The scene of ``model`` with ``unfolded`` groups open, and its layout (cached under
    ``cache_as``, a model hash, with ``view`` naming which graph this is)."""
    opened = model.default_unfolded() if unfolded is None else set(unfolded)
    scene = model.scene(opened)
    layout_view = {**view, "unfolded": sorted("/".join(path) for path in opened)}
    return scene, cached_layout(
        catalog, cache_as, layout_view, scene, progress=progress, cancel=cancel
    )


def export_graph(
    catalog: Catalog,
    version: ModelVersion,
    out: Path,
    *,
    against: ModelVersion | None = None,
    folded: bool = False,
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    """Write the graph of ``version`` (or its diff from ``against``) to ``out``, SVG or
    JSON by its suffix; every group unfolded unless ``folded``. Returns what was drawn."""
    out = Path(out)
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        raise BadInputError(f"{out}: the output must end in .svg or .json")
    extra: dict[str, Any] = {"model": version.ref}
    if against is not None:
        compared = compare_graphs(catalog, against, version, progress=progress)
        model = GraphModel(compared.merged, compared.status)
        cache_as = f"{against.sha256}+{version.sha256}"
        extra["diff"] = compared.to_dict()
        title = f"{against.ref} → {version.ref}: {compared.diff.summary()}"
    else:
        described = version_graph(catalog, version, progress=progress)
        model = GraphModel(described["graph"])
        cache_as = version.sha256
        title = version.ref
    everything = set(model.groups) - {()}
    view = {"graph": "main", "diff": against is not None}
    scene, layout = laid_out(catalog, model, cache_as, view, None if folded else everything)
    if out.suffix.lower() == ".svg":
        text = scene_svg(model, scene, layout, diff=against is not None, title=title)
    else:
        text = json.dumps(scene_json(model, scene, layout, extra), indent=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return {
        "items": len(scene.items),
        "edges": len(scene.edges),
        "problems": scene.problems,
        "width": layout.width,
        "height": layout.height,
        "title": title,
    }
