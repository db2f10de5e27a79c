"""The demo's field capture: what the clinic gateway running release bc2 saw last week.

The gateway got a new scanner, whose texture readings run higher than the training
data's, and two of its answers were computed differently from the lab's (a row the
lab scores near 0.5 comes out on the other side): so the Field tab of breast-cancer@2
opens on a capture whose drift and parity both have something to say, and whose
release can be marked failed on its target from there.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np

from modeldesk.catalog.store import Catalog

__all__ = ["DEVICE", "TARGET", "add_field_capture"]

MODEL, DATA, TARGET, DEVICE = "breast-cancer@2", "breast-cancer-test@1", "clinic-gateway", "gw-02"
SHIFTED, SHIFT = "mean texture", 4.0  # the new scanner's offset
SECONDS_BETWEEN_SCANS = 900.0


def add_field_capture(catalog: Catalog, build_time: dt.datetime) -> int:
    """Record and import the capture (timed in the days before ``build_time``); its id."""
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.debug.feeds import feed_plan
    from modeldesk.field.capture import FORMAT
    from modeldesk.field.registry import import_capture
    from modeldesk.models.registry import get_model_version
    from modeldesk.release.records import list_releases

    model = get_model_version(catalog, MODEL)
    release = next(r for r in list_releases(catalog, "breast-cancer") if r.model.ref == MODEL)
    dataset = get_dataset_version(catalog, DATA)
    features = list(feed_plan(model, dataset).columns)
    table = read_rows(catalog, dataset)
    matrix = np.column_stack([table.column(n).to_numpy() for n in features]).astype(np.float32)
    matrix[:, features.index(SHIFTED)] += SHIFT
    session = ort.InferenceSession(str(catalog.blobs.verified_path(model.sha256)),
                                   providers=["CPUExecutionProvider"])  # fmt: skip
    label, probabilities = session.run(None, {model.inputs[0].name: matrix})
    probabilities = np.asarray(probabilities, dtype=np.float32).copy()
    doubtful = np.argsort(np.abs(probabilities[:, 1] - 0.5))[:2]  # the closest calls
    probabilities[doubtful] = probabilities[doubtful, ::-1]
    start = (build_time - dt.timedelta(days=7)).timestamp()
    columns = {name: matrix[:, j] for j, name in enumerate(features)}
    columns |= {
        "output:label": np.asarray(label),
        "output:probabilities[0]": probabilities[:, 0],
        "output:probabilities[1]": probabilities[:, 1],
        "timestamp": start + SECONDS_BETWEEN_SCANS * np.arange(len(matrix)),
    }
    with tempfile.TemporaryDirectory(prefix="modeldesk-demo-field-") as scratch:
        folder = Path(scratch)
        pq.write_table(pa.table(columns), folder / "gateway-week.parquet")
        manifest = {"format": FORMAT, "release": release.id, "model_sha256": model.sha256,
                    "device": DEVICE, "profile": TARGET}  # fmt: skip
        (folder / "capture.json").write_text(json.dumps(manifest))
        return import_capture(catalog, folder / "gateway-week.parquet").id
