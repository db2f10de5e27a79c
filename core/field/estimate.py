"""How well is the model probably doing in the field, without labels?

Confidence-based estimation (CBPE): when a classifier's probabilities are calibrated,
row i is right with probability max_k p_ik, so the expected accuracy is their mean, and
the expected confusion counts are sums of probabilities. The realised accuracy of n rows
is then a sum of Bernoulli draws: its spread, sqrt(sum p(1 - p)) / n, gives the
interval. The estimate is only as good as the calibration: it is checked on a labelled
dataset version (estimated against realised there), and it is warned about when the
field's rows leave the training data's range (where calibration was never seen). With
labels in the capture, the realised figures are shown beside the estimate.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.field.registry import capture_table, get_capture
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["OUTSIDE_WARNING_SHARE", "calibration_check", "estimate_performance"]

Z = 1.959963984540054
OUTSIDE_WARNING_SHARE = 0.05  # warn when more rows than this leave the training range


def _probability_output(model: Any) -> str:
    from modeldesk.debug.predict import output_positions

    position, _ = output_positions(model)
    if position is None:
        raise BadInputError(f"model {model.ref} gives no class probabilities: nothing to estimate")
    return model.outputs[position].name


def _estimated(probabilities: np.ndarray) -> dict[str, Any]:
    confidence = probabilities.max(axis=1)
    rows = len(confidence)
    accuracy = float(confidence.mean())
    spread = math.sqrt(float(np.sum(confidence * (1 - confidence)))) / rows
    found: dict[str, Any] = {
        "accuracy": accuracy,
        "interval": [max(0.0, accuracy - Z * spread), min(1.0, accuracy + Z * spread)],
    }
    if probabilities.shape[1] == 2:  # expected confusion counts of the positive class
        positive = probabilities[:, 1]
        predicted = positive >= 0.5
        tp, fp = positive[predicted].sum(), (1 - positive[predicted]).sum()
        fn = positive[~predicted].sum()
        found["precision"] = float(tp / (tp + fp)) if tp + fp else None
        found["recall"] = float(tp / (tp + fn)) if tp + fn else None
    return found


def _realised(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    from modeldesk.delivery_stats import wilson_interval

    right = int(np.sum(probabilities.argmax(axis=1) == truth))
    return {"accuracy": right / len(truth), "interval": wilson_interval(right, len(truth)),
            "rows": len(truth)}  # fmt: skip


def _class_indexes(values: list[Any], labels: list[str], where: str) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    found = []
    for value in values:
        text = str(value)
        if text in index:
            found.append(index[text])
        elif isinstance(value, int | float) and float(value) in range(len(labels)):
            found.append(int(value))
        else:
            raise BadInputError(f"{where}: label {value!r} is not one of {', '.join(labels)}")
    return np.asarray(found)


def _outside_share(table: Any, reference: dict[str, Any]) -> float:
    outside = np.zeros(table.num_rows, dtype=bool)
    for name, profile in reference["features"].items():
        if profile.get("kind") != "number" or profile.get("empty") or reference["image"]:
            continue
        values = np.asarray(table.column(name).cast("double").fill_null(np.nan).to_numpy())
        outside |= (values < profile["min"]) | (values > profile["max"])
    return float(outside.mean())


def calibration_check(catalog: Catalog, model: Any, dataset: Any, table: Any) -> dict | None:
    """Estimated against realised accuracy on ``dataset`` (rows ``table``), when it is
    labelled and the model gives probabilities; else None."""
    from modeldesk.debug.predict import predict_versions

    if not dataset.label:
        return None
    known = predict_versions(catalog, model, dataset, table=table)
    if known.probabilities is None or known.y_true is None:
        return None
    return {"dataset": dataset.ref, "estimated": _estimated(known.probabilities),
            "realised": _realised(known.probabilities, known.y_true)}  # fmt: skip


def _bundled_check(check: Any, where: str) -> dict | None:
    """A bundle's calibration check, if it is well formed (it is untrusted input)."""
    if check is None:
        return None
    try:
        for part in ("estimated", "realised"):
            accuracy, (low, high) = check[part]["accuracy"], check[part]["interval"]
            if not all(isinstance(v, int | float) and 0 <= v <= 1 for v in (accuracy, low, high)):
                raise TypeError(part)
        return {"dataset": str(check["dataset"]), "estimated": check["estimated"],
                "realised": check["realised"]}  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise BadInputError(f"{where}: its calibration check is malformed") from None


def estimate_performance(
    catalog: Catalog,
    capture_id: int,
    *,
    bundle: Any = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Estimated (and, with labels, realised) accuracy of capture ``capture_id``'s model."""
    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.field.drift_run import model_reference
    from modeldesk.field.replay import replay

    capture = get_capture(catalog, capture_id)
    model = capture.model
    name = _probability_output(model)
    labels = list(model.classes or model.facts.class_names or [])
    table = capture_table(catalog, capture)
    # The model's own probabilities for the field's inputs, replayed here.
    probabilities = replay(catalog, model, table, [name], capture_ref=f"#{capture.id}",
                           progress=progress, cancel=cancel)[name]  # fmt: skip
    warnings: list[str] = []
    reference = model_reference(catalog, model, capture.features, bundle)
    outside = _outside_share(table, reference)
    if outside > OUTSIDE_WARNING_SHARE:
        warnings.append(
            f"{outside:.1%} of the rows have a feature outside the training data's range: "
            "the probabilities there were never calibrated, so the estimate may be off"
        )
    # Calibration check: estimated against realised on the labelled training data.
    if bundle is not None:
        check = _bundled_check(reference.get("calibration_check"), f"--bundle {bundle}")
    else:
        dataset = get_dataset_version(catalog, reference["dataset"])
        check = calibration_check(catalog, model, dataset, read_rows(catalog, dataset))
    result: dict[str, Any] = {
        "capture": capture.id,
        "model": model.ref,
        "rows": capture.rows,
        "output": name,
        "estimated": _estimated(probabilities),
        "outside_training_range": outside,
        "reference_source": reference["source"],
        "calibration_check": check,
        "warnings": warnings,
        "realised": None,
    }
    if "label" in table.column_names:
        given = table.column("label").is_valid().to_numpy(zero_copy_only=False)
        if given.any():
            names = labels or [str(i) for i in range(probabilities.shape[1])]
            values = [v for v in table.column("label").to_pylist() if v is not None]
            truth = _class_indexes(values, names, f"capture #{capture.id}")
            result["realised"] = _realised(probabilities[given], truth)
            result["realised"]["labelled_share"] = float(given.mean())
    return result
