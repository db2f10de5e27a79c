"""``field drift``: a stored capture against its model's training data, streamed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.field.registry import get_capture
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, no_progress

__all__ = [
    "bundled_profile",
    "field_drift",
    "model_reference",
    "reference_from_table",
    "shap_weights",
    "training_dataset",
]


def reference_from_table(dataset: Any, table: Any, features: list[str], model_ref: str) -> dict:
    """The reference profile of ``features`` in ``table``, the rows of ``dataset``."""
    from modeldesk.debug.feeds import image_shape
    from modeldesk.field.reference import build_reference

    missing = [name for name in features if name not in table.column_names]
    if missing:
        raise BadInputError(
            f"training data {dataset.ref} of {model_ref} lacks feature column(s) "
            f"{', '.join(missing[:6])}"
        )
    ranges = {
        column.name: [column.stats.get("min"), column.stats.get("max")]
        for column in dataset.columns
        if column.name in features and "min" in column.stats
    }
    image = image_shape(features) is not None
    return build_reference(table, features, image=image, dataset=dataset.ref, ranges=ranges)


def training_dataset(catalog: Catalog, model: ModelVersion) -> Any:
    """The dataset version ``model`` was trained on; a clear error when it names none or
    this catalog lacks it (pointing at the release bundle, which carries its profile)."""
    from modeldesk.datasets.registry import get_dataset_version

    if not model.trained_on:
        raise BadInputError(
            f"model {model.ref} names no training dataset version, so there is nothing to "
            "measure drift against (set it with 'modeldesk model edit --trained-on DATA@V', or "
            "give --bundle FILE.mdrel, a release bundle carrying its training data's profile)"
        )
    try:
        return get_dataset_version(catalog, model.trained_on)
    except NotFoundError:
        raise BadInputError(
            f"model {model.ref} was trained on {model.trained_on}, which this catalog does not "
            "hold: give --bundle FILE.mdrel, its release bundle, which carries the profile"
        ) from None


def bundled_profile(reference: Any, features: list[str]) -> dict[str, Any]:
    """A bundle's reference profile (a ``BundledReference``), if it covers ``features``."""
    missing = [name for name in features if name not in reference.profile["columns"]]
    if missing:
        raise BadInputError(
            f"{reference.source}: its reference profile lacks feature(s) {', '.join(missing[:6])}"
        )
    return reference.profile | {"source": reference.source}


def model_reference(
    catalog: Catalog, model: ModelVersion, features: list[str], bundle: Path | None = None
) -> dict[str, Any]:
    """The reference profile of the data ``model`` was trained on: built from the
    training dataset version, or read from release bundle ``bundle``."""
    from modeldesk.datasets.registry import read_rows
    from modeldesk.field.bundled import bundle_reference

    if bundle is not None:
        return bundled_profile(bundle_reference(catalog, bundle, model), features)
    dataset = training_dataset(catalog, model)
    profile = reference_from_table(dataset, read_rows(catalog, dataset), features, model.ref)
    return profile | {"source": f"training data {dataset.ref}"}


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
    bundle: Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Every feature of capture ``capture_id`` against the training data's profile."""
    from modeldesk.field.drift import drift_against, parquet_batches

    capture = get_capture(catalog, capture_id)
    model = capture.model
    reference = model_reference(catalog, model, capture.features, bundle)
    weights, source = shap_weights(catalog, model, list(reference["features"]))
    batches = parquet_batches(catalog.blobs.verified_path(capture.sha256), capture.features)
    ranked = drift_against(reference, batches, weights, total_rows=capture.rows,
                           progress=progress, cancel=cancel)  # fmt: skip
    return {
        "capture": capture.id,
        "model": model.ref,
        "reference": reference["dataset"],
        "reference_source": reference["source"],
        "rows": capture.rows,
        "reference_rows": reference["rows"],
        "reference_sample_rows": reference["sample_rows"],
        "image_statistics": reference["image"],
        "weights": source,
        "features": ranked,
    }
