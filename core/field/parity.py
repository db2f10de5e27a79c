"""Parity: replay a capture's inputs through the exact model here and compare outputs.

How values and decisions are compared is in :mod:`modeldesk.field.replay`. The capture
is a sample of what the device does: the shares of rows beyond tolerance and of flipped
decisions carry Wilson intervals, and each is PASS only when its whole interval is
within the limit (``max_flip_rate``), FAIL when wholly above, else INCONCLUSIVE.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.field.registry import Capture, get_capture
from modeldesk.field.replay import number
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["WORST_ROWS", "parity", "parity_summary", "tolerances_for"]

WORST_ROWS = 20
TIME_WINDOWS = 12


def tolerances_for(
    catalog: Catalog, capture: Capture, overrides: dict[str, float | None]
) -> dict[str, Any]:
    """``atol``, ``rtol``, ``max_flip_rate`` from the capture's profile, then the flags."""
    from modeldesk.bench.profiles import Profile, get_profile
    from modeldesk.errors import NotFoundError

    source = "the fp32 defaults (the capture names no profile)"
    profile = Profile("defaults")
    if capture.profile:
        try:
            profile = get_profile(catalog, capture.profile)
            source = f"profile {profile.name} ({profile.precision})"
        except NotFoundError:
            source = f"the fp32 defaults (profile {capture.profile!r} is not in this catalog)"
    tolerances: dict[str, Any] = dict(profile.parity_tolerances())
    given = {key: value for key, value in overrides.items() if value is not None}
    tolerances.update(given)
    if given:
        source += "; " + ", ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in given.items()
        )
    return {**tolerances, "source": source}


def _judged(count: int, rows: int, limit: float) -> dict[str, Any]:
    from modeldesk.delivery_stats import CONFIDENCE, wilson_interval
    from modeldesk.validate.stats import Interval, verdict_at_most

    interval = wilson_interval(count, rows) or [0.0, 1.0]
    share = count / rows if rows else 0.0
    verdict = verdict_at_most(Interval(share, interval[0], interval[1], CONFIDENCE, 0), limit)
    return {"count": count, "rows": rows, "share": share, "interval": interval,
            "confidence": CONFIDENCE, "limit": limit, "verdict": verdict}  # fmt: skip


def _figures(chosen: np.ndarray, beyond: np.ndarray, flipped: np.ndarray,
             worst: np.ndarray) -> dict[str, Any]:  # fmt: skip
    return {
        "rows": int(chosen.sum()),
        "beyond": int(beyond[chosen].sum()),
        "flips": int(flipped[chosen].sum()),
        "max_abs_error": number(worst[chosen].max()),
    }


def _groups(keys: np.ndarray, beyond: np.ndarray, flipped: np.ndarray, worst: np.ndarray):
    for key in dict.fromkeys(keys.tolist()):
        yield key, _figures(keys == key, beyond, flipped, worst)


def _worst(row: int, seconds: np.ndarray, worst_abs: np.ndarray, excess: np.ndarray,
           beyond: np.ndarray, flipped: np.ndarray) -> dict[str, Any]:  # fmt: skip
    return {
        "row": int(row),
        "timestamp": float(seconds[row]),
        "max_abs_error": number(worst_abs[row]),
        "tolerance_ratio": number(excess[row]),
        "beyond": bool(beyond[row]),
        "flipped": bool(flipped[row]),
    }


def parity(
    catalog: Catalog,
    capture_id: int,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    max_flip_rate: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Replay capture ``capture_id`` through its model with ONNX Runtime; compare."""
    from modeldesk.field.passes import capture_pass

    capture = get_capture(catalog, capture_id)
    limits = tolerances_for(
        catalog, capture, {"atol": atol, "rtol": rtol, "max_flip_rate": max_flip_rate}
    )
    found = capture_pass(catalog, capture, limits=limits, progress=progress, cancel=cancel)
    return parity_summary(capture, limits, found)


def parity_summary(capture: Capture, limits: dict[str, Any], passed: Any) -> dict[str, Any]:
    """The parity result of a capture pass (``Passed``) that compared its rows."""
    from modeldesk.validate.stats import combine_verdicts

    found, seconds, devices = passed.comparison, passed.seconds, passed.devices
    model, rows = capture.model, len(seconds)
    beyond, flipped = found.beyond, found.flipped
    worst_excess, worst_abs = found.worst_excess, found.worst_abs
    edges = np.linspace(seconds[0], seconds[-1], TIME_WINDOWS + 1)
    window = np.clip(np.searchsorted(edges, seconds, side="right") - 1, 0, TIME_WINDOWS - 1)
    order = np.argsort(-worst_excess, kind="stable")[:WORST_ROWS]
    checks = {
        "beyond_tolerance": _judged(int(beyond.sum()), rows, limits["max_flip_rate"]),
        "flips": _judged(int(flipped.sum()), rows, limits["max_flip_rate"]),
    }
    return {
        "capture": capture.id,
        "model": model.ref,
        "model_sha256": model.sha256,
        "release": capture.release_id,
        "rows": rows,
        "tolerances": limits,
        "outputs": found.outputs,
        "checks": checks,
        "verdict": combine_verdicts([check["verdict"] for check in checks.values()]),
        "by_window": [
            {"start": float(edges[key]), "end": float(edges[key + 1]), **figures}
            for key, figures in sorted(_groups(window, beyond, flipped, worst_abs))
        ],
        "by_device": [
            {"device": key or None, **figures}
            for key, figures in (
                _groups(devices, beyond, flipped, worst_abs)
                if devices is not None
                else [
                    (
                        capture.device,
                        _figures(np.ones(rows, dtype=bool), beyond, flipped, worst_abs),
                    )
                ]
            )
        ],
        "worst_rows": [
            _worst(row, seconds, worst_abs, worst_excess, beyond, flipped)
            for row in order
            if worst_excess[row] > 0
        ],
    }
