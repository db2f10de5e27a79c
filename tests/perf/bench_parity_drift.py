"""Parity plus drift of a large capture of a 30-feature tree model, on one core.

    .venv/bin/python tests/perf/bench_parity_drift.py [--rows 1000000] [--repeats 3]

A gradient-boosted classifier (scikit-learn, converted with skl2onnx) is trained on a
100,000 x 30 dataset, which is imported as its training data; a 1,000,000-row capture
(shifted on a few features, the device's outputs perturbed on a few rows) is imported.
In a child process held to one CPU, and one Arrow thread, the
time of parity plus drift in one pass over the stored capture (``parity_and_drift``,
as ``field report`` and the Field page run them; the training data's profile is built
on the first run and read back from the catalog's derived results after) is compared
with a baseline in the same run: the model's plain batched inference on the capture's
rows plus one pass of numpy histograms over its columns, reading the same Parquet file.
Target: at most 1.3x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from children import one_core, run_child
from targets import Targets

FEATURES = 30
REFERENCE_ROWS = 100_000
NAMES = [f"f{j:02d}" for j in range(FEATURES)]
LIMIT = 1.3


def _columns(rows: int, seed: int, shift: float) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    columns = {}
    for j, name in enumerate(NAMES):
        values = rng.normal(j + (shift if j % 7 == 0 else 0.0), 1.0 + j / 30, rows)
        columns[name] = (np.round(values) if j % 5 == 0 else values).astype(np.float32)
    return columns


def _target(columns: dict) -> object:
    import numpy as np

    score = sum(np.sin(columns[name] - j) for j, name in enumerate(NAMES[:10]))
    return (score > 0).astype(np.int64)


def _model(folder: Path, train: dict) -> Path:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier

    matrix = np.column_stack([train[name] for name in NAMES])[:20_000]
    labels = _target(train)[:20_000]
    fitted = GradientBoostingClassifier(n_estimators=100, max_depth=4, random_state=0)
    fitted.fit(matrix, labels)
    proto = to_onnx(fitted, matrix[:1], options={"zipmap": False}, target_opset=15)
    path = folder / "gbt.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def _prepare(folder: Path, rows: int) -> int:
    """The catalog with the model, its training data and the capture; the capture's id."""
    import numpy as np
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modeldesk.catalog.store import Catalog
    from modeldesk.datasets.importer import import_dataset
    from modeldesk.field.registry import import_capture
    from modeldesk.models.importer import import_model

    train = _columns(REFERENCE_ROWS, 1, 0.0)
    pq.write_table(pa.table(train | {"y": _target(train)}), folder / "train.parquet")
    model_path = _model(folder, train)
    catalog = Catalog.init(folder / "catalog")
    import_dataset(catalog, folder / "train.parquet", name="train", label="y")
    import_model(catalog, model_path, name="gbt", trained_on="train@1", features=NAMES)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    capture = folder / "capture.parquet"
    with pq.ParquetWriter(capture, _schema()) as writer:
        for start in range(0, rows, 250_000):
            part = min(250_000, rows - start)
            columns = _columns(part, 2 + start, 0.2)
            matrix = np.column_stack([columns[name] for name in NAMES])
            label, probabilities = session.run(None, {"X": matrix})
            probabilities = probabilities.copy()
            probabilities[::997, 1] += 0.01  # a few rows the device computed differently
            seconds = 1.8e9 + np.arange(start, start + part, dtype=np.float64)
            columns |= {"output:label": label, "output:probabilities[0]": probabilities[:, 0],
                        "output:probabilities[1]": probabilities[:, 1],
                        "timestamp": seconds}  # fmt: skip
            writer.write_table(pa.table(columns, schema=_schema()), row_group_size=131_072)
    found = import_capture(catalog, capture, model="gbt@1", device="bench")
    catalog.close()
    return found.id


def _schema() -> object:
    import pyarrow as pa

    fields = [pa.field(name, pa.float32()) for name in NAMES]
    fields += [
        pa.field("output:label", pa.int64()),
        pa.field("output:probabilities[0]", pa.float32()),
        pa.field("output:probabilities[1]", pa.float32()),
        pa.field("timestamp", pa.float64()),
    ]
    return pa.schema(fields)


def _child(folder: Path, mode: str, capture_id: int) -> None:
    """Time one pass in this process (one core, one thread) and print the seconds."""
    import numpy as np
    import onnxruntime as ort
    import pyarrow.parquet as pq

    from modeldesk.catalog.store import Catalog
    from modeldesk.field.passes import parity_and_drift
    from modeldesk.field.registry import get_capture

    one_core()
    with Catalog.open(folder / "catalog") as catalog:
        capture = get_capture(catalog, capture_id)
        stored = catalog.blobs.verified_path(capture.sha256)
        model = catalog.blobs.path(capture.model.sha256)
        started = time.perf_counter()
        if mode == "field":
            checked, drifted, why = parity_and_drift(catalog, capture_id)
            assert drifted is not None and why is None, why
            assert checked["rows"] == drifted["rows"] == capture.rows
        else:
            options = ort.SessionOptions()  # as the field commands open theirs
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
            edges = {name: np.linspace(-10, 50, 31) for name in NAMES}
            for batch in pq.ParquetFile(stored).iter_batches(65_536, columns=NAMES):
                columns = [batch.column(name).to_numpy(zero_copy_only=False) for name in NAMES]
                session.run(None, {"X": np.column_stack(columns).astype(np.float32)})
                for name, column in zip(NAMES, columns, strict=True):
                    np.histogram(column, bins=edges[name])
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds}))


def _run(folder: Path, mode: str, capture_id: int) -> float:
    return run_child(__file__, str(folder), mode, str(capture_id))["seconds"]


def main() -> None:
    """Prepare the catalog once, then time the field pass and the baseline alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(Path(options.child[0]), options.child[1], int(options.child[2]))
        return
    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="modeldesk-parity-") as scratch:
        folder = Path(scratch)
        capture_id = _prepare(folder, options.rows)
        field, baseline = [], []
        for _ in range(options.repeats):
            field.append(_run(folder, "field", capture_id))
            baseline.append(_run(folder, "baseline", capture_id))
    print(f"first run (builds the training profile): {field[0]:.2f} s")
    seconds, base = statistics.median(field), statistics.median(baseline)
    print(f"{options.rows:,}-row capture of a {FEATURES}-feature tree model (100 trees), "
          f"{REFERENCE_ROWS:,} training rows, one core")  # fmt: skip
    print(f"inference plus one histogram pass (baseline): median {base:.2f} s")
    print(
        f"parity plus drift: median {seconds:.2f} s ({seconds / base:.2f}x the baseline) "
        f"target <= {LIMIT}x {targets.check('parity plus drift', seconds / base <= LIMIT)}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
