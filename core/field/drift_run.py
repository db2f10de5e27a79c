"""``field drift``: a stored capture against its model's training data, streamed."""

from __future__ import annotations

import threading
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.field.registry import get_capture
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, no_progress

__all__ = ["field_drift", "model_reference", "shap_weights"]


def model_reference(catalog: Catalog, model: ModelVersion, features: list[str]) -> dict[str, Any]:
    """The reference profile of the dataset version ``model`` was trained on."""
    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.debug.feeds import image_shape
    from modeldesk.field.reference import build_reference

    if not model.trained_on:
        raise BadInputError(
            f"model {model.ref} names no training dataset version, so there is nothing to "
            "measure drift against (set it with 'modeldesk model edit --trained-on DATA@V')"
        )
    dataset = get_dataset_version(catalog, model.trained_on)
    table = read_rows(catalog, dataset)
    missing = [name for name in features if name not in table.column_names]
    if missing:
        raise BadInputError(
            f"training data {dataset.ref} lacks feature column(s) {', '.join(missing[:6])}"
        )
    ranges = {
        column.name: [column.stats.get("min"), column.stats.get("max")]
        for column in dataset.columns
        if column.name in features and "min" in column.stats
    }
    image = image_shape(features) is not None
    return build_reference(table, features, image=image, dataset=dataset.ref, ranges=ranges)


def shap_weights(catalog: Catalog, model: ModelVersion, names: list[str]) -> tuple[dict, str]:
    """Each drift feature's share of the model's mean |SHAP| (and where it came from);
    equal shares when no explanation of the version is stored."""
    from modeldesk.explain.result import newest_explanation

    found = newest_explanation(catalog, model.id)
    if found is not None and set(names) <= set(found.feature_names):
        importance = dict(found.importance())
        total = sum(importance[name] for name in names) or 1.0
        source = f"mean |SHAP| of the newest explanation of {model.ref} ({found.method})"
        return {name: importance[name] / total for name in names}, source
    return {name: 1 / len(names) for name in names}, (
        f"equal weights (no stored explanation of {model.ref} covers these features)"
    )


def field_drift(
    catalog: Catalog,
    capture_id: int,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Every feature of capture ``capture_id`` against the training data's profile."""
    from modeldesk.field.drift import drift_against, parquet_batches

    capture = get_capture(catalog, capture_id)
    model = capture.model
    reference = model_reference(catalog, model, capture.features)
    weights, source = shap_weights(catalog, model, list(reference["features"]))
    batches = parquet_batches(catalog.blobs.verified_path(capture.sha256), capture.features)
    ranked = drift_against(reference, batches, weights, total_rows=capture.rows,
                           progress=progress, cancel=cancel)  # fmt: skip
    return {
        "capture": capture.id,
        "model": model.ref,
        "reference": reference["dataset"],
        "rows": capture.rows,
        "reference_rows": reference["rows"],
        "reference_sample_rows": reference["sample_rows"],
        "image_statistics": reference["image"],
        "weights": source,
        "features": ranked,
    }
