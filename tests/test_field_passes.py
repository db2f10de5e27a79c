"""Parity and drift stream a stored capture row group by row group, together or apart:
the figures equal those of the whole capture compared at once, and the training data's
profile is built once, then read back from the catalog's derived results (a damaged
entry is rebuilt, never used)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modeldesk.field.drift_run import field_drift
from modeldesk.field.parity import parity, tolerances_for
from modeldesk.field.passes import parity_and_drift
from modeldesk.field.registry import capture_table, get_capture, import_capture
from modeldesk.field.replay import compare, replay
from modeldesk.resources import resources_dir

DEMO = resources_dir() / "demo"
MODEL = DEMO / "models" / "breast-cancer-v2.onnx"
ROWS = 150_000  # three row groups of 65,536 rows as import stores them


def _long_capture(demo, tmp_path) -> int:
    """The demo's test rows repeated (jittered) to 150,000, with a device that rounds
    its probabilities on one row in 500 and flips a label on one in 5,000."""
    table = pa_csv.read_csv(DEMO / "data" / "breast-cancer-test.csv")
    features = [n for n in table.column_names if n not in ("sample_id", "diagnosis")]
    rng = np.random.default_rng(7)
    base = np.column_stack([table.column(n).to_numpy() for n in features])
    matrix = base[rng.integers(0, len(base), ROWS)] * rng.normal(1.0, 0.01, (ROWS, len(features)))
    matrix = matrix.astype(np.float32)
    label, probabilities = ort.InferenceSession(str(MODEL)).run(None, {"X": matrix})
    probabilities = probabilities.copy()
    probabilities[::500] = np.round(probabilities[::500], 2)
    label = label.copy()
    label[::5000] = 1 - label[::5000]
    columns = {name: matrix[:, j] for j, name in enumerate(features)}
    columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                "output:probabilities[1]": probabilities[:, 1],
                "timestamp": 1.8e9 + np.arange(ROWS, dtype=np.float64) / 10}  # fmt: skip
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table(columns), path)
    return import_capture(demo, path, model="breast-cancer@2", device="tablet-3").id


def test_streamed_parity_equals_the_whole_capture_compared_at_once(demo, tmp_path):
    capture_id = _long_capture(demo, tmp_path)
    capture = get_capture(demo, capture_id)
    blob = demo.blobs.verified_path(capture.sha256)
    assert pq.ParquetFile(blob).num_row_groups == 3
    streamed = parity(demo, capture_id)
    table = capture_table(demo, capture)
    limits = tolerances_for(demo, capture, {})
    labs = replay(demo, capture.model, table, list(capture.outputs), capture_ref="#1")
    whole = compare(table, capture.outputs, labs, limits["atol"], limits["rtol"])
    assert streamed["outputs"] == whole.outputs
    assert streamed["checks"]["beyond_tolerance"]["count"] == int(whole.beyond.sum())
    assert streamed["checks"]["flips"]["count"] == int(whole.flipped.sum()) == ROWS // 5000
    assert streamed["by_device"] == [{"device": "tablet-3", "rows": ROWS,
                                      "beyond": int(whole.beyond.sum()),
                                      "flips": ROWS // 5000,
                                      "max_abs_error": float(whole.worst_abs.max())}]  # fmt: skip
    assert sum(window["rows"] for window in streamed["by_window"]) == ROWS
    # One pass for both gives the figures of the two commands run apart.
    together, drift, why = parity_and_drift(demo, capture_id)
    assert why is None and together == streamed
    assert drift == field_drift(demo, capture_id)


def test_the_training_profile_is_built_once_and_a_damaged_copy_is_rebuilt(demo, tmp_path):
    capture_id = _long_capture(demo, tmp_path)

    def cached() -> list:
        return demo.query("SELECT key, sha256 FROM derived WHERE kind = 'field-reference'")

    assert cached() == []
    first = field_drift(demo, capture_id)
    (entry,) = cached()
    assert json.loads(demo.blobs.read_bytes(entry["sha256"]))["dataset"] == (
        "breast-cancer-train@2"
    )
    assert field_drift(demo, capture_id) == first and cached() == [entry]
    # A copied catalog may carry a forged entry whose blob matches its hash: its
    # structure is checked, and a bad one is rebuilt, not read.
    forged = demo.blobs.put_bytes(json.dumps({"features": [], "rows": 1}).encode())
    with demo.write_derived() as conn:
        conn.execute("UPDATE derived SET sha256 = ? WHERE key = ?", (forged, entry["key"]))
    assert field_drift(demo, capture_id) == first
    assert cached()[0]["sha256"] == entry["sha256"]


def _parquet_in_small_groups(demo, tmp_path, *, shuffle: bool):
    """The long capture rewritten in row groups of 1,000 rows (as a device flushing
    often would), some rows without outputs, optionally in scrambled time order."""
    capture = get_capture(demo, _long_capture(demo, tmp_path))
    table = capture_table(demo, capture)
    order = np.random.default_rng(3).permutation(table.num_rows) if shuffle else None
    if order is not None:
        table = table.take(pa.array(order))
    label = table.column("output:label").to_numpy().astype(float)
    label[::997] = np.nan  # rows the device logged without an answer
    table = table.set_column(table.column_names.index("output:label"), "output:label",
                             pa.array(label, mask=np.isnan(label)).cast(pa.int64()))  # fmt: skip
    path = tmp_path / ("scrambled.parquet" if shuffle else "small-groups.parquet")
    pq.write_table(table, path, row_group_size=1_000)
    return path


def test_a_parquet_capture_is_checked_and_stored_row_group_by_row_group(demo, tmp_path):
    from modeldesk.field.read import read_capture

    path = _parquet_in_small_groups(demo, tmp_path, shuffle=False)
    assert pq.ParquetFile(path).num_row_groups == 150
    whole = read_capture(path, get_capture(demo, 1).model)  # the same file, read at once
    stored = get_capture(demo, import_capture(demo, path, model="breast-cancer@2").id)
    blob = pq.ParquetFile(demo.blobs.verified_path(stored.sha256))
    assert blob.metadata.row_group(0).num_rows == 65_536  # regrouped for the analyses
    assert stored.rows == whole.table.num_rows == ROWS - len(range(0, ROWS, 997))
    assert capture_table(demo, stored).equals(whole.table)
    skipped = len(range(0, ROWS, 997))
    assert stored.warnings == whole.warnings
    assert whole.warnings == [f"{skipped:,} row(s) without a timestamp or output skipped"]
    # Row 0 had no answer: the capture starts at row 1's time.
    assert (stored.first_at, stored.last_at) == (
        "2027-01-15T08:00:00.100Z",
        "2027-01-15T12:09:59.900Z",
    )


def test_a_scrambled_parquet_capture_is_sorted_by_time_with_a_warning(demo, tmp_path):
    path = _parquet_in_small_groups(demo, tmp_path, shuffle=True)
    stored = get_capture(demo, import_capture(demo, path, model="breast-cancer@2").id)
    seconds = capture_table(demo, stored).column("timestamp").to_numpy()
    assert np.all(np.diff(seconds) >= 0) and len(seconds) == stored.rows
    assert "timestamps were out of order; rows are sorted by time" in stored.warnings
