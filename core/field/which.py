"""Which model is the device really running? Match a capture against every candidate.

The candidates are every version of the capture's model and every other model version
in the catalog that the capture can feed and whose outputs include the captured ones at
the same widths (the same I/O contract, as far as the capture shows it). Each is
replayed; the best match has the smallest share of rows beyond tolerance, then the
fewest flipped decisions, then the smallest mean error. Shares carry Wilson intervals:
the best is named *clear* only when its interval lies wholly below the runner-up's,
else the match is *ambiguous* (the capture cannot tell them apart).
"""

from __future__ import annotations

import threading
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.field.parity import tolerances_for
from modeldesk.field.read import output_width
from modeldesk.field.registry import capture_table, get_capture
from modeldesk.field.replay import compare, number, replay
from modeldesk.models.registry import ModelVersion, model_version_by_id
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["MAX_CANDIDATES", "which_model"]

# Newest first, at most this many versions are replayed (each is one pass of the model).
MAX_CANDIDATES = 50


def _contract_problem(model: ModelVersion, widths: dict[str, int]) -> str | None:
    names = {item.name for item in model.outputs}
    for name, width in widths.items():
        if name not in names:
            return f"has no output {name!r}"
        expected = output_width(model, name)
        if expected is not None and expected != width:
            return f"output {name!r} gives {expected} value(s) per row, the capture {width}"
    return None


def _candidates(catalog: Catalog, declared: ModelVersion) -> list[ModelVersion]:
    """The declared model's versions, newest first, then every other model's."""
    rows = catalog.query(
        "SELECT model_version.id FROM model_version JOIN model ON model.id = model_version.model_id"
        " ORDER BY model.name != ?, model_version.id DESC LIMIT ?",
        (declared.name, MAX_CANDIDATES),
    )
    return [model_version_by_id(catalog, row["id"]) for row in rows]


def which_model(
    catalog: Catalog,
    capture_id: int,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Replay capture ``capture_id`` through every candidate model; name the best match."""
    from modeldesk.delivery_stats import wilson_interval

    capture = get_capture(catalog, capture_id)
    limits = tolerances_for(catalog, capture, {"atol": atol, "rtol": rtol})
    table = capture_table(catalog, capture)
    rows, names = table.num_rows, list(capture.outputs)
    candidates = _candidates(catalog, capture.model)
    matched: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for index, model in enumerate(candidates):
        check_cancel(cancel, f"matching capture #{capture.id}")
        progress(index, len(candidates), f"replaying through {model.ref}")
        problem = _contract_problem(model, capture.outputs)
        if problem is None:
            try:
                labs = replay(catalog, model, table, names, capture_ref=f"#{capture.id}",
                              cancel=cancel)  # fmt: skip
                found = compare(table, capture.outputs, labs, limits["atol"], limits["rtol"])
            except (BadInputError, ValueError) as error:
                problem = str(error)
        if problem is not None:
            skipped.append({"model": model.ref, "why": problem})
            continue
        beyond, flips = int(found.beyond.sum()), int(found.flipped.sum())
        matched.append({
            "model": model.ref,
            "model_sha256": model.sha256,
            "beyond_tolerance": beyond,
            "share_beyond": beyond / rows,
            "interval": wilson_interval(beyond, rows),
            "flips": flips,
            "mean_abs_error": number(found.worst_abs.mean()),
            "max_abs_error": number(found.worst_abs.max()),
        })  # fmt: skip
    progress(len(candidates), len(candidates), "matched")
    matched.sort(key=lambda c: (c["beyond_tolerance"], c["flips"], c["mean_abs_error"] or 0.0))
    best = matched[0] if matched else None
    clear = best is not None and (
        len(matched) == 1 or best["interval"][1] < matched[1]["interval"][0]
    )
    # The best fits unless even it is wholly beyond tolerance (then no candidate is it).
    fits = best is not None and best["interval"][0] <= limits["max_flip_rate"]
    return {
        "capture": capture.id,
        "declared": capture.model.ref,
        "rows": rows,
        "tolerances": limits,
        "best": best["model"] if best and fits else None,
        "matches_declared": bool(best and fits and best["model"] == capture.model.ref),
        "clear": bool(clear and fits),
        "candidates": matched,
        "skipped": skipped,
    }
