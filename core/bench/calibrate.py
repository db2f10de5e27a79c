"""Calibration: how much slower (or faster) a device is than this machine.

Reference models are benchmarked under the device's profile and under the same
settings on this machine; the profile keeps the geometric mean of the per-model p50
ratios and its relative spread, so a local run can show an *estimated* device latency
with its error. The estimate is only as good as the reference models are like the
model being estimated: the spread says how much they disagree.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

from modeldesk.bench.profiles import edit_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.progress import ProgressCallback, Stage, no_progress

__all__ = ["Calibration", "calibrate"]


@dataclass(frozen=True)
class Calibration:
    """The measured ratio of a device's latency to this machine's."""

    profile: str
    ratio: float
    relative_error: float
    per_model: dict[str, float]  # model version -> device p50 / local p50


def calibrate(
    catalog: Catalog,
    profile_name: str,
    references: list[str],
    *,
    iterations: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Calibration:
    """Measure ``profile_name``'s device against this machine and store the ratio."""
    device = get_profile(catalog, profile_name)
    if device.builtin:
        raise BadInputError(f"profile {profile_name!r} is built in; calibrate a copy")
    if not references:
        raise BadInputError("name at least one --reference MODEL@V")
    here = replace(device, name=f"{device.name} (this machine)", kind="local", cores=())
    ratios = {}
    for index, ref in enumerate(references):
        share = Stage(progress, index / len(references), (index + 1) / len(references))
        p50 = []
        for profile in (device, here):
            # Calibration runs measure the device; they are not the model's benchmarks.
            run = bench_profile(catalog, ref, profile, iterations=iterations, record=False,
                                cancel=cancel, progress=share)  # fmt: skip
            if run.status != "ok":
                raise BadInputError(f"calibration run of {ref} under {profile.name}: {run.error}")
            p50.append(run.summary["p50_ms"])
        ratios[ref] = p50[0] / p50[1]
    logs = [math.log(value) for value in ratios.values()]
    mean = sum(logs) / len(logs)
    ratio = math.exp(mean)
    spread = max(abs(value / ratio - 1) for value in ratios.values())
    edit_profile(catalog, profile_name, calibration_ratio=ratio, calibration_error=spread)
    return Calibration(profile_name, ratio, spread, ratios)
