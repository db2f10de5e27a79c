"""Drift of a large field capture against a training profile, on one core, streamed.

    .venv/bin/python tests/perf/bench_drift.py [--rows 1000000] [--repeats 3]

A 100,000 x 30 reference (numbers, some integer-valued) is profiled; a 1,000,000 x 30
field capture (shifted on a few features) is written as Parquet, then every drift
measure is computed by streaming it, in a child process held to one CPU and one Arrow
thread, whose peak resident memory is read from the kernel. Baseline, in the same run and
the same way: one streamed pass of numpy histograms over the same columns. Targets: drift
under 5 s and 0.6 GiB peak (medians); with ``--rows 10000000``, under 1 GiB.
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

from children import high_water_kib, one_core, run_child
from targets import Targets

FEATURES = 30
REFERENCE_ROWS = 100_000


def _columns(rows: int, seed: int, shift: float) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    columns = {}
    for j in range(FEATURES):
        values = rng.normal(j + (shift if j % 7 == 0 else 0.0), 1.0 + j / 30, rows)
        columns[f"f{j:02d}"] = np.round(values) if j % 5 == 0 else values  # some counts
    return columns


def _prepare(folder: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modeldesk.field.reference import build_reference

    names = [f"f{j:02d}" for j in range(FEATURES)]
    reference = pa.table(_columns(REFERENCE_ROWS, 1, 0.0))
    profile = build_reference(reference, names, image=False, dataset="train@1", ranges={})
    (folder / "reference.json").write_text(json.dumps(profile))
    with pq.ParquetWriter(folder / "field.parquet", reference.schema) as writer:
        for start in range(0, rows, 500_000):
            part = min(500_000, rows - start)
            writer.write_table(pa.table(_columns(part, 2 + start, 0.2)), row_group_size=131_072)


def _child(folder: Path, mode: str) -> None:
    """Measure one pass in this process (held to one core) and print seconds and peak."""
    import numpy as np
    import pyarrow.parquet as pq

    from modeldesk.field.drift import drift_against, parquet_batches

    one_core()
    profile = json.loads((folder / "reference.json").read_text())
    names = profile["columns"]
    rows = pq.ParquetFile(folder / "field.parquet").metadata.num_rows
    before = high_water_kib()
    started = time.perf_counter()
    batches = parquet_batches(folder / "field.parquet", names)
    if mode == "drift":
        found = drift_against(profile, batches, dict.fromkeys(names, 1.0),
                              total_rows=rows)  # fmt: skip
        assert len(found) == FEATURES
    else:
        for batch in batches:
            for name in names:
                column = batch.column(name).to_numpy(zero_copy_only=False)
                np.histogram(column, bins=profile["features"][name]["display_edges"])
    seconds = time.perf_counter() - started
    peak = high_water_kib()
    print(json.dumps({"seconds": seconds, "peak_kib": peak, "before_kib": before}))


def _run(folder: Path, mode: str) -> dict:
    return run_child(__file__, str(folder), mode)


def main() -> None:
    """Prepare the data once, then time drift and the histogram baseline alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(Path(options.child[0]), options.child[1])
        return
    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="modeldesk-drift-") as scratch:
        folder = Path(scratch)
        _prepare(folder, options.rows)
        drift, baseline = [], []
        for _ in range(options.repeats):
            drift.append(_run(folder, "drift"))
            baseline.append(_run(folder, "baseline"))
    seconds = statistics.median(run["seconds"] for run in drift)
    base = statistics.median(run["seconds"] for run in baseline)
    peak_gib = statistics.median(run["peak_kib"] for run in drift) / (1 << 20)
    base_gib = statistics.median(run["peak_kib"] for run in baseline) / (1 << 20)
    limit_s, limit_gib = (5.0, 0.6) if options.rows <= 1_000_000 else (None, 1.0)
    print(f"{options.rows:,} x {FEATURES} field rows against {REFERENCE_ROWS:,} reference rows, "
          "one core")  # fmt: skip
    print(f"histogram pass (baseline): median {base:.2f} s, peak {base_gib:.2f} GiB")
    line = f"every drift measure: median {seconds:.2f} s ({seconds / base:.2f}x the baseline)"
    if limit_s is not None:
        line += f" target < {limit_s:.0f} s {targets.check('drift time', seconds < limit_s)}"
    print(line)
    print(f"peak resident memory: median {peak_gib:.2f} GiB target < {limit_gib} GiB "
          f"{targets.check('drift memory', peak_gib < limit_gib)}")  # fmt: skip
    targets.finish()


if __name__ == "__main__":
    main()
