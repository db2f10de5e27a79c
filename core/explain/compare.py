"""Version compare: mean |SHAP| per feature of two model versions on the same rows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.explain.result import Explanation
from modeldesk.explain.run import explain
from modeldesk.progress import ProgressCallback, Stage, no_progress

__all__ = ["Comparison", "compare_importance"]


@dataclass
class Comparison:
    """Mean |SHAP| per feature of two versions, and what each one's values are in."""

    first: str
    second: str
    rows: list[tuple[str, float, float]]  # feature, first, second; largest first
    spaces: tuple[str, str]  # e.g. "margin (log-odds)" and "probability"

    @property
    def same_space(self) -> bool:
        """False when magnitudes are not comparable (margin against probability)."""
        return self.spaces[0] == self.spaces[1]


def compare_importance(
    catalog: Catalog,
    model_a: str,
    model_b: str,
    data_ref: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    **options: Any,
) -> Comparison:
    """Mean |SHAP| per feature of two model versions on the same rows, largest first."""
    halves = Stage(progress, 0.0, 0.5), Stage(progress, 0.5, 1.0)
    first = explain(catalog, model_a, data_ref, progress=halves[0], cancel=cancel, **options)
    second = explain(catalog, model_b, data_ref, progress=halves[1], cancel=cancel, **options)
    a, b = _overall(first), _overall(second)
    features = list(dict.fromkeys(first.feature_names + second.feature_names))
    rows = [(name, a.get(name, 0.0), b.get(name, 0.0)) for name in features]
    rows.sort(key=lambda row: -max(row[1], row[2]))
    return Comparison(first.model, second.model, rows, (first.space, second.space))


def _overall(result: Explanation) -> dict[str, float]:
    output = result.output_index(None) if result.outputs <= 2 else None
    return dict(zip(result.feature_names, result.mean_abs(output).tolist(), strict=True))
