"""Graph views cached in the catalog: a version's graph described, and the layout of
each set of unfolded groups, so a second open is instant and spawns no child.

Keyed by the ``.onnx`` file's hash (the graph does not depend on external data), the
kind, the options, onnx's version and :data:`FORMAT`. A catalog folder may come from
someone else, so what is read back is checked for structure and size; an entry that
fails is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Hashable, Mapping
from typing import Any

from modeldesk.catalog.derived import runtime_versions
from modeldesk.catalog.store import Catalog, utc_now
from modeldesk.errors import IntegrityError, NotFoundError
from modeldesk.graph.checks import check_description, check_layout
from modeldesk.graph.layout import Layout
from modeldesk.graph.scene import Scene
from modeldesk.models.examine import describe_model_graph
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, no_progress

__all__ = [
    "FORMAT",
    "cached_layout",
    "graph_cache_key",
    "layout_from_data",
    "layout_to_data",
    "version_graph",
]

FORMAT = 1  # bump when a description's or layout's stored form, or how it is made, changes
MAX_CACHED_BYTES = 512 << 20


def graph_cache_key(kind: str, model_sha256: str, options: Mapping[str, Any] | None = None) -> str:
    """The key of a cached ``kind`` (description, layout) of the graph in ``model_sha256``."""
    inputs = {
        "format": FORMAT,
        "kind": kind,
        "model": model_sha256,
        "options": options or {},
        "runtimes": runtime_versions(["onnx", "modeldesk"]),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _load(catalog: Catalog, key: str) -> Any:
    rows = catalog.query("SELECT sha256 FROM graph_cache WHERE key = ?", (key,))
    if not rows:
        return None
    sha256 = rows[0]["sha256"]
    try:
        if catalog.blobs.path(sha256).stat().st_size > MAX_CACHED_BYTES:
            return None
        return json.loads(catalog.blobs.read_bytes(sha256))
    except (IntegrityError, NotFoundError, OSError, ValueError):
        return None


def _store(catalog: Catalog, key: str, kind: str, model_sha256: str, value: Any) -> None:
    data = json.dumps(value, separators=(",", ":")).encode()
    with catalog.blobs.guard():
        sha256 = catalog.blobs.put_bytes(data)
        with catalog.write_derived() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO graph_cache (key, kind, model_sha256, sha256, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, kind, model_sha256, sha256, utc_now()),
            )


def version_graph(
    catalog: Catalog,
    version: ModelVersion,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The version's model described (``modeldesk.graph.describe``): from the cache, or
    from the examiner child and then cached."""
    key = graph_cache_key("description", version.sha256)
    found = _load(catalog, key)
    if found is not None:
        try:
            check_description(found)
            return found
        except ValueError:
            pass  # damaged or forged: described again
    path = catalog.blobs.verified_path(version.sha256)
    found = describe_model_graph(path, progress=progress, cancel=cancel)
    _store(catalog, key, "description", version.sha256, found)
    return found


def layout_to_data(layout: Layout) -> dict[str, Any]:
    """A layout of a scene (string keys) as JSON-ready data."""
    return {
        "positions": {str(k): list(v) for k, v in layout.positions.items()},
        "layers": {str(k): v for k, v in layout.layers.items()},
        "edges": [[str(s), str(t), [list(p) for p in points]] for s, t, points in layout.edges],
        "reversed": [[str(s), str(t)] for s, t in layout.reversed_edges],
        "loops": [str(k) for k in layout.loops],
        "width": layout.width,
        "height": layout.height,
        "crossings": layout.crossings,
    }


def layout_from_data(data: Mapping[str, Any]) -> Layout:
    """The layout back from :func:`layout_to_data`'s form."""
    return Layout(
        positions={k: (float(x), float(y)) for k, (x, y) in data["positions"].items()},
        layers=dict(data["layers"]),
        edges=[(s, t, [(float(x), float(y)) for x, y in points]) for s, t, points in data["edges"]],
        reversed_edges=[(s, t) for s, t in data["reversed"]],
        loops=list(data["loops"]),
        width=float(data["width"]),
        height=float(data["height"]),
        crossings=int(data["crossings"]),
    )


def cached_layout(
    catalog: Catalog | None,
    model_sha256: str,
    view: Mapping[str, Any],
    scene: Scene,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Layout:
    """The layout of ``scene``, cached under the graph's hash and ``view`` (which graph,
    which groups unfolded, a diff's other side); computed and kept when absent."""
    if catalog is None:
        return scene.layout(progress, cancel)
    key = graph_cache_key("layout", model_sha256, view)
    found = _load(catalog, key)
    if found is not None:
        try:
            keys: set[Hashable] = set(scene.items)
            check_layout(found, keys)
            return layout_from_data(found)
        except (ValueError, TypeError, KeyError):
            pass  # damaged or forged: laid out again
    layout = scene.layout(progress, cancel)
    _store(catalog, key, "layout", model_sha256, layout_to_data(layout))
    return layout
