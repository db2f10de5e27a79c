"""The runtime overlay: each node's time and execution provider from the newest
profiled benchmark of a model version on a profile (``modeldesk.bench``).

ONNX Runtime profiles the graph it runs, after its own optimisations: a fused node
carries a new name, so profiled nodes that match no graph node are listed apart rather
than guessed onto one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modeldesk.bench.run import list_runs, run_results
from modeldesk.catalog.store import Catalog
from modeldesk.models.registry import ModelVersion

__all__ = ["Overlay", "overlay_from_results", "profiled_profiles", "runtime_overlay"]

CPU = "CPUExecutionProvider"


@dataclass
class Overlay:
    """Times (microseconds) and providers by node name, from one benchmark run."""

    run_id: int
    profile: str
    created_at: str
    times: dict[str, int]
    providers: dict[str, str]
    total_us: int
    unmatched: list[str] = field(default_factory=list)  # profiled, but in no graph node
    provider_set: list[str] = field(default_factory=list)

    @property
    def slowest_us(self) -> int:
        """The slowest matched node's time (the top of the heat scale)."""
        return max(self.times.values(), default=0)

    def share(self, name: str) -> float | None:
        """A node's time as a share of the slowest node's, or None when not profiled."""
        us = self.times.get(name)
        return None if us is None else us / max(self.slowest_us, 1)

    def fell_back(self, name: str) -> bool:
        """Whether a node ran on the CPU while the session had another provider."""
        others = [p for p in self.provider_set if p != CPU]
        return bool(others) and self.providers.get(name) == CPU

    def slowest(self, count: int = 20) -> list[tuple[str, int, str]]:
        """The slowest nodes: (name, microseconds, provider)."""
        ranked = sorted(self.times.items(), key=lambda item: -item[1])[:count]
        return [(name, us, self.providers.get(name, "?")) for name, us in ranked]


def overlay_from_results(
    run_id: int, profile: str, created_at: str, results: Mapping[str, Any], node_names: set[str]
) -> Overlay | None:
    """The overlay a run's results give for a graph with ``node_names``; None when the
    run was not profiled."""
    measured = results.get("profile") or {}
    nodes = measured.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        return None
    times: dict[str, int] = {}
    providers: dict[str, str] = {}
    unmatched = []
    for entry in nodes:
        if not isinstance(entry, dict) or not isinstance(entry.get("node"), str):
            continue
        name, us = entry["node"], entry.get("us")
        if not isinstance(us, int) or isinstance(us, bool):
            continue
        if name in node_names:
            times[name] = us
            providers[name] = str(entry.get("provider", "?"))
        else:
            unmatched.append(name)
    provider_set = sorted({str(e.get("provider")) for e in nodes if isinstance(e, dict)})
    total = measured.get("total_us")
    return Overlay(
        run_id,
        profile,
        created_at,
        times,
        providers,
        int(total) if isinstance(total, int) else sum(times.values()),
        unmatched,
        provider_set,
    )


def profiled_profiles(catalog: Catalog, version: ModelVersion) -> list[str]:
    """Profiles with a successful benchmark run of this version, newest run first."""
    names: list[str] = []
    for run in list_runs(catalog, version.ref):
        if run.status in ("ok", "over-budget") and run.profile not in names:
            names.append(run.profile)
    return names


def runtime_overlay(
    catalog: Catalog, version: ModelVersion, profile: str, node_names: set[str]
) -> Overlay | None:
    """The overlay from the newest profiled run of ``version`` on ``profile``, or None."""
    for run in list_runs(catalog, version.ref):
        if run.profile != profile or run.status not in ("ok", "over-budget"):
            continue
        results = run_results(catalog, run.id)
        found = overlay_from_results(run.id, run.profile, run.created_at, results or {}, node_names)
        if found is not None:
            return found
    return None
