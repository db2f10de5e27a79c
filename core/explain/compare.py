"""Version compare: mean |SHAP| per feature of two model versions on the same rows."""

from __future__ import annotations

import threading
from typing import Any

from core.catalog.store import Catalog
from core.explain.result import Explanation
from core.explain.run import explain
from core.progress import ProgressCallback, Stage, no_progress

__all__ = ["compare_importance"]


def compare_importance(
    catalog: Catalog,
    model_a: str,
    model_b: str,
    data_ref: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> list[tuple[str, float, float]]:
    """Mean |SHAP| per feature of two model versions on the same rows, largest first."""
    halves = Stage(progress, 0.0, 0.5), Stage(progress, 0.5, 1.0)
    first = explain(catalog, model_a, data_ref, progress=halves[0], cancel=cancel, **options)
    second = explain(catalog, model_b, data_ref, progress=halves[1], cancel=cancel, **options)
    a, b = _overall(first), _overall(second)
    features = list(dict.fromkeys(first.feature_names + second.feature_names))
    rows = [(name, a.get(name, 0.0), b.get(name, 0.0)) for name in features]
    return sorted(rows, key=lambda row: -max(row[1], row[2]))


def _overall(result: Explanation) -> dict[str, float]:
    output = result.output_index(None) if result.outputs <= 2 else None
    return dict(zip(result.feature_names, result.mean_abs(output).tolist(), strict=True))
