"""Importing a long Parquet field capture: checked and stored in bounded memory.

    .venv/bin/python tests/perf/bench_field_import.py [--rows 10000000] [--repeats 3]

A capture of a 30-feature model (``--rows`` rows of float32 features, its output and
a timestamp, written as Parquet in row groups of 100,000 rows) is imported with
``field import`` in a child process held to one CPU and one Arrow thread, whose peak
resident memory is read from the kernel (VmHWM). Baseline, in the same run and the same
way: one streamed read of the file's row groups. Target: peak under 1 GiB at 10,000,000
rows (the capture is 1.9 GB on disk, 2.6 GB as float64 in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from children import high_water_kib, one_core, run_child
from targets import Targets

FEATURES = 30
GROUP = 100_000
LIMIT_GIB = 1.0


def _prepare(folder: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modeldesk.catalog.store import Catalog
    from modeldesk.models.importer import import_model

    import onnx_factory

    model = onnx_factory.save(onnx_factory.linear_regressor(FEATURES), folder / "linear.onnx")
    with Catalog.init(folder / "empty") as catalog:
        import_model(catalog, model, name="linear", features=[f"f{j:02d}" for j in range(30)])
    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, GROUP):
        part = min(GROUP, rows - start)
        columns = {f"f{j:02d}": rng.normal(j, 1.0, part).astype(np.float32) for j in range(30)}
        columns["output:Y"] = rng.normal(0, 1, part).astype(np.float32)
        columns["timestamp"] = 1.8e9 + np.arange(start, start + part, dtype=np.float64)
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(folder / "capture.parquet", table.schema)
        writer.write_table(table)
    writer.close()


def _child(folder: Path, mode: str) -> None:
    import pyarrow.parquet as pq

    from modeldesk.catalog.store import Catalog
    from modeldesk.field.registry import import_capture

    one_core()
    catalog_path = folder / f"catalog-{os.getpid()}"
    shutil.copytree(folder / "empty", catalog_path)
    started = time.perf_counter()
    if mode == "import":
        with Catalog.open(catalog_path) as catalog:
            found = import_capture(catalog, folder / "capture.parquet", model="linear@1")
            rows = found.rows
    else:
        parquet = pq.ParquetFile(folder / "capture.parquet")
        rows = sum(parquet.read_row_group(g).num_rows for g in range(parquet.num_row_groups))
    seconds = time.perf_counter() - started
    shutil.rmtree(catalog_path)
    print(json.dumps({"seconds": seconds, "peak_kib": high_water_kib(), "rows": rows}))


def _run(folder: Path, mode: str) -> dict:
    return run_child(__file__, str(folder), mode)


def main() -> None:
    """Write the capture once, then time the import and the baseline read alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(Path(options.child[0]), options.child[1])
        return
    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="modeldesk-field-import-") as scratch:
        folder = Path(scratch)
        _prepare(folder, options.rows)
        size = (folder / "capture.parquet").stat().st_size
        imports, reads = [], []
        for _ in range(options.repeats):
            imports.append(_run(folder, "import"))
            reads.append(_run(folder, "read"))
    assert all(run["rows"] == options.rows for run in imports)
    seconds = statistics.median(run["seconds"] for run in imports)
    base = statistics.median(run["seconds"] for run in reads)
    peak = statistics.median(run["peak_kib"] for run in imports) / (1 << 20)
    base_peak = statistics.median(run["peak_kib"] for run in reads) / (1 << 20)
    print(f"{options.rows:,}-row capture ({size / 1e9:.2f} GB Parquet), one core")
    print(f"streamed read of its row groups (baseline): median {base:.1f} s, "
          f"peak {base_peak:.2f} GiB")  # fmt: skip
    print(f"field import (checked, hashed, stored): median {seconds:.1f} s "
          f"({seconds / base:.1f}x the read)")  # fmt: skip
    print(f"peak resident memory: median {peak:.2f} GiB target < {LIMIT_GIB} GiB "
          f"{targets.check('import memory', peak < LIMIT_GIB)}")  # fmt: skip
    targets.finish()


if __name__ == "__main__":
    main()
