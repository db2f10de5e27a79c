"""The Graph tab's work on the worker pool: opening a version's graph (or a diff of
two), laying out another set of unfolded groups or a subgraph, the runtime overlay and
a weight's statistics. Each is a thin call into ``modeldesk.graph``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.graph.layout import Layout
from modeldesk.graph.overlay import Overlay, profiled_profiles, runtime_overlay
from modeldesk.graph.render import DrawnBox, DrawnEdge, drawing
from modeldesk.graph.scene import GraphModel, Scene
from modeldesk.graph.stored import version_graph
from modeldesk.graph.versions import VersionDiff, compare_graphs, laid_out
from modeldesk.models.examine import model_tensor_statistics
from modeldesk.models.registry import get_model_version
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["Drawn", "Opened", "draw", "load_overlay", "open_graph", "weight_statistics"]


@dataclass
class Drawn:
    """One graph ready to show: its model, the unfolded groups, scene and layout."""

    model: GraphModel
    route: str  # which graph: "main", or the path of a subgraph
    unfolded: set[tuple[str, ...]]
    scene: Scene
    layout: Layout
    boxes: list[DrawnBox] = field(default_factory=list)  # shaped here, off the GUI thread
    edges: list[DrawnEdge] = field(default_factory=list)


@dataclass
class Opened:
    """A version's graph (or a diff) opened for the Graph tab."""

    ref: str
    sha256: str
    cache_as: str
    described: dict[str, Any]  # the model's properties and main graph
    drawn: Drawn
    compared: VersionDiff | None = None
    profiles: list[str] = field(default_factory=list)


def draw(
    catalog: Catalog,
    model: GraphModel,
    cache_as: str,
    route: str,
    unfolded: set[tuple[str, ...]] | None = None,
    *,
    diff: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Drawn:
    """Lay out ``model`` with ``unfolded`` groups open (a first look when None)."""
    opened = model.default_unfolded() if unfolded is None else set(unfolded)
    view = {"graph": route, "diff": diff}
    scene, layout = laid_out(
        catalog, model, cache_as, view, opened, progress=progress, cancel=cancel
    )
    boxes, edges = drawing(model, scene, layout, diff=diff)
    return Drawn(model, route, opened, scene, layout, boxes, edges)


def open_graph(
    catalog: Catalog,
    ref: str,
    against: str | None = None,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Opened:
    """Describe (or read from the cache) and lay out ``ref``'s graph, or its diff from
    ``against``, folded for a first look."""
    version = get_model_version(catalog, ref)
    compared = None
    if against:
        old = get_model_version(catalog, against)
        compared = compare_graphs(catalog, old, version, progress=progress, cancel=cancel)
        described = compared.new_graph
        model = GraphModel(compared.merged, compared.status)
        cache_as = f"{old.sha256}+{version.sha256}"
    else:
        described = version_graph(catalog, version, progress=progress, cancel=cancel)
        model = GraphModel(described["graph"])
        cache_as = version.sha256
    drawn = draw(
        catalog,
        model,
        cache_as,
        "main",
        diff=compared is not None,
        progress=progress,
        cancel=cancel,
    )
    return Opened(
        version.ref,
        version.sha256,
        cache_as,
        described,
        drawn,
        compared,
        profiled_profiles(catalog, version),
    )


def load_overlay(catalog: Catalog, ref: str, profile: str, names: set[str]) -> Overlay | None:
    """The runtime overlay of ``ref`` on ``profile`` (None when it has no profiled run)."""
    return runtime_overlay(catalog, get_model_version(catalog, ref), profile, names)


def weight_statistics(
    catalog: Catalog, sha256: str, name: str, *, cancel: threading.Event | None = None
) -> dict[str, Any]:
    """Min, max, mean, std and sparsity of one weight, read in the examiner child."""
    return model_tensor_statistics(catalog.blobs.verified_path(sha256), name, cancel=cancel)
