"""Benchmark runs brought from another catalog (a release candidate carries them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modeldesk.bench.profiles import Profile
from modeldesk.bench.run import BenchRun, list_runs, record_run, summary_from_results
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.models.registry import ModelVersion

__all__ = ["MEASURED_WITH", "adopt_run"]

# What a profile measures with: a run made under other values is not evidence for it.
MEASURED_WITH = (
    "providers",
    "intra_threads",
    "inter_threads",
    "cores",
    "opt_level",
    "memory_mb",
    "batch_sizes",
    "dims",
    "axis_dims",
    "warmup",
    "iterations",
    "budget_ms",
    "percentile",
    "calibration_ratio",
    "calibration_error",
)


def adopt_run(
    catalog: Catalog, model: ModelVersion, profile: Profile, data: bytes, carried: dict[str, Any]
) -> tuple[BenchRun, bool]:
    """Record a benchmark run brought from another catalog (a release candidate): its
    full results ``data`` byte for byte, its summary recomputed from them under this
    catalog's ``profile``. Refused (BadInputError) unless it was measured with what the
    profile here measures with and its recorded summary follows from its results.
    Returns (run, created)."""
    results_sha = hashlib.sha256(data).hexdigest()
    found = catalog.query(
        "SELECT id FROM bench_run WHERE model_version_id = ? AND results_sha256 = ?",
        (model.id, results_sha),
    )
    if found:
        (run,) = list_runs(catalog, run_id=found[0]["id"])
        return run, False
    what = f"benchmark of {model.ref} on {profile.name}"
    measured = (carried.get("settings") or {}).get("profile") or {}
    here = profile.to_dict()
    differ = [key for key in MEASURED_WITH if measured.get(key) != here.get(key)]
    if differ:
        raise BadInputError(
            f"{what}: measured with other {', '.join(differ)} than profile {profile.name} here"
        )
    results = json.loads(data)
    if hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest() != results_sha:
        raise BadInputError(f"{what}: its results are not in the form ModelDesk records")
    try:
        summary, over_memory = summary_from_results(profile, results)
    except (KeyError, IndexError, TypeError) as error:
        raise BadInputError(f"{what}: its results lack {error}") from None
    if json.loads(json.dumps(summary)) != carried.get("summary"):
        raise BadInputError(f"{what}: its summary does not follow from its results")
    settings = {k: v for k, v in (carried.get("settings") or {}).items() if k != "profile"}
    device: dict[str, Any] = carried["device"] if isinstance(carried.get("device"), dict) else {}
    status = "over-budget" if over_memory else "ok"
    return record_run(
        catalog, model, profile, settings, device, status, None, summary, results
    ), True
