"""One streamed pass over a stored capture, feeding parity and drift together.

The capture's Parquet blob is read row group by row group (65,536 rows, as import
writes it). With parity, each batch is replayed through the model and compared with
what the device said; with drift, the same batch's features are counted against the
reference. Running both in one pass reads and hashes the capture once, which is what
``field report`` and the Field page do.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modeldesk.catalog.store import Catalog
from modeldesk.field.registry import Capture
from modeldesk.field.replay import Comparison, Replayer, compare
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["Passed", "capture_pass", "parity_and_drift"]


@dataclass
class Passed:
    """What one pass gathered: the comparison with the times and devices of its rows
    (with parity), and the drift counts (with a reference)."""

    comparison: Comparison | None = None
    seconds: np.ndarray | None = None
    devices: np.ndarray | None = None  # None: every row came from the capture's device
    drift: Any = None


def capture_pass(
    catalog: Catalog,
    capture: Capture,
    *,
    limits: dict[str, Any] | None = None,
    reference: dict[str, Any] | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Passed:
    """Stream ``capture`` once: compared within ``limits`` (``atol``, ``rtol``) when
    given, counted against ``reference`` when given."""
    import pyarrow.parquet as pq

    from modeldesk.field.drift import DriftRun

    parquet = pq.ParquetFile(catalog.blobs.verified_path(capture.sha256))
    schema = parquet.schema_arrow
    if limits is not None:
        columns = list(schema.names)
    elif reference is not None:
        columns = list(reference["columns"])
    else:
        raise ValueError("a pass needs limits (parity) or a reference (drift)")
    names = list(capture.outputs)
    drift = DriftRun(reference) if reference is not None else None
    parts: list[Comparison] = []
    seconds: list[np.ndarray] = []
    devices: list[np.ndarray] = []
    decisions = None
    done, what = 0, f"reading capture #{capture.id}"
    replayer = (
        Replayer(catalog, capture.model, schema.empty_table(), names, f"#{capture.id}")
        if limits is not None
        else None
    )
    with replayer if replayer is not None else contextlib.nullcontext():
        for group in range(parquet.num_row_groups):
            check_cancel(cancel, what)
            table = parquet.read_row_group(group, columns=columns)
            if replayer is not None and limits is not None:
                part = compare(table, capture.outputs, replayer.run(table), limits["atol"],
                               limits["rtol"], decisions)  # fmt: skip
                decisions = decisions or part.decisions
                parts.append(part)
                seconds.append(table.column("timestamp").to_numpy())
                devices.append(_devices(table, capture))
            if drift is not None:
                drift.add(table)
            done += table.num_rows
            progress(done, capture.rows, what)
    found = Passed(drift=drift)
    if parts:
        found.comparison = Comparison.joined(parts)
        found.seconds = np.concatenate(seconds)
        found.devices = np.concatenate(devices) if "device" in schema.names else None
    return found


def _devices(table: pa.Table, capture: Capture) -> np.ndarray:
    if "device" in table.column_names:
        column = table.column("device").cast("string").fill_null("")
        return np.asarray(column.to_pylist(), dtype=object)
    return np.empty(0, dtype=object)  # the capture's one device (devices stays None)


def parity_and_drift(
    catalog: Catalog,
    capture_id: int,
    *,
    bundle: Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """``field parity`` and ``field drift`` of one capture in one pass: (parity, drift,
    why drift could not run: no training data, say, in which case parity runs alone)."""
    from modeldesk.errors import BadInputError
    from modeldesk.field.drift_run import drift_summary, model_reference, shap_weights
    from modeldesk.field.parity import parity_summary, tolerances_for
    from modeldesk.field.registry import get_capture

    capture = get_capture(catalog, capture_id)
    limits = tolerances_for(catalog, capture, {})
    reference: dict[str, Any] | None = None
    why: str | None = None
    try:
        reference = model_reference(catalog, capture.model, capture.features, bundle)
    except BadInputError as error:
        if bundle is not None:
            raise
        why = str(error)
    found = capture_pass(catalog, capture, limits=limits, reference=reference,
                         progress=progress, cancel=cancel)  # fmt: skip
    drift = None
    if reference is not None:
        weights = shap_weights(catalog, capture.model, list(reference["features"]))
        drift = drift_summary(capture, reference, weights, found.drift)
    return parity_summary(capture, limits, found), drift, why
