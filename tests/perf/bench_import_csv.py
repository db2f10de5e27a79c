"""Dataset import speed and memory against plain Arrow, measured in the same run.

    .venv/bin/python tests/perf/bench_import_csv.py [--rows 1000000] [--repeats 5]

Baseline: ``pyarrow.csv.read_csv`` + ``pyarrow.parquet.write_table`` of the same
file. Target: ``import_dataset`` (read, statistics, zstd Parquet, hash,
catalog rows) takes at most 1.5x the baseline's wall time, and its peak RSS
growth is at most 3x the Arrow table's size. Timings alternate baseline and
import and report medians; memory is measured in fresh child processes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from targets import Targets  # noqa: E402  (beside this script)

WALL_TARGET = 1.5
MEMORY_TARGET = 3.0


def generate_csv(path: Path, rows: int) -> None:
    """A rows x 20 CSV: 14 float, 4 integer and 2 text columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rng = np.random.default_rng(0)
    columns = {f"f{i}": rng.normal(size=rows) for i in range(14)}
    columns |= {f"i{i}": rng.integers(0, 1000, size=rows) for i in range(4)}
    columns["city"] = pa.array(rng.choice(["Lyon", "Oslo", "Quito", "Pune"], size=rows))
    columns["code"] = pa.array(rng.integers(0, 50_000, size=rows).astype(str))
    pa_csv.write_csv(pa.table(columns), path)


def baseline(csv_path: Path, out: Path) -> int:
    """Plain Arrow: read the CSV, write Parquet. Returns the table's size in bytes."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    table = pa_csv.read_csv(csv_path)
    pq.write_table(table, out)
    return table.nbytes


def modeldesk_import(csv_path: Path, catalog_path: Path, name: str) -> None:
    """ModelDesk's import of the same file into a catalog."""
    from modeldesk.catalog.store import Catalog
    from modeldesk.datasets.importer import import_dataset

    with Catalog.open(catalog_path) as catalog:
        import_dataset(catalog, csv_path, name=name)


CHILD = """
import sys, json

def status(field):
    # /proc rather than getrusage: ru_maxrss of a forked child starts at the
    # parent's size, while exec gives the child a fresh VmHWM.
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])

from pathlib import Path
import pyarrow, pyarrow.csv, pyarrow.parquet, pyarrow.compute, numpy
sys.path.insert(0, {perf!r})
import bench_import_csv as bench
from modeldesk.catalog.store import Catalog
import modeldesk.datasets.registry, modeldesk.datasets.reader, modeldesk.datasets.stats
before = status("VmRSS")
if {mode!r} == "baseline":
    bench.baseline(Path({csv!r}), Path({out!r}))
else:
    bench.modeldesk_import(Path({csv!r}), Path({catalog!r}), "memory")
after = status("VmHWM")
print(json.dumps({{"before_kb": before, "peak_kb": after}}))
"""


def peak_growth(mode: str, csv_path: Path, scratch: Path) -> int:
    """Peak RSS growth (bytes) of a fresh process doing one import."""
    from modeldesk.catalog.store import Catalog

    catalog = scratch / f"mem-{mode}-{time.monotonic_ns()}"
    Catalog.init(catalog).close()
    code = CHILD.format(
        perf=str(Path(__file__).parent),
        mode=mode,
        csv=str(csv_path),
        out=str(scratch / "mem.parquet"),
        catalog=str(catalog),
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    return (numbers["peak_kb"] - numbers["before_kb"]) * 1024


def main() -> None:
    """Run the benchmark and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    targets = Targets()

    from modeldesk.catalog.store import Catalog

    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as folder:
        scratch = Path(folder)
        csv_path = scratch / "generated.csv"
        generate_csv(csv_path, options.rows)
        print(f"CSV: {options.rows:,} rows x 20 columns, {csv_path.stat().st_size / 1e6:.0f} MB")
        catalog_path = scratch / "catalog"
        Catalog.init(catalog_path).close()

        baseline_s, import_s = [], []
        table_bytes = 0
        for repeat in range(options.repeats):
            started = time.perf_counter()
            table_bytes = baseline(csv_path, scratch / "baseline.parquet")
            baseline_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            modeldesk_import(csv_path, catalog_path, f"run{repeat}")
            import_s.append(time.perf_counter() - started)
        base, ours = statistics.median(baseline_s), statistics.median(import_s)
        wall_ratio = ours / base
        print(f"baseline read_csv + write_table: median {base:.3f} s  (runs {_runs(baseline_s)})")
        print(f"modeldesk import_dataset:        median {ours:.3f} s  (runs {_runs(import_s)})")
        verdict = targets.check("wall-time ratio", wall_ratio <= WALL_TARGET)
        print(f"wall-time ratio: {wall_ratio:.2f}x (target <= {WALL_TARGET}x) {verdict}")

        base_peak = peak_growth("baseline", csv_path, scratch)
        our_peak = peak_growth("import", csv_path, scratch)
        memory_ratio = our_peak / table_bytes
        print(f"Arrow table size: {table_bytes / 1e6:.0f} MB")
        print(
            f"peak RSS growth, baseline: {base_peak / 1e6:.0f} MB "
            f"({base_peak / table_bytes:.2f}x table)"
        )
        verdict = targets.check("peak memory", memory_ratio <= MEMORY_TARGET)
        print(
            f"peak RSS growth, import:   {our_peak / 1e6:.0f} MB "
            f"({memory_ratio:.2f}x table; target <= {MEMORY_TARGET}x) {verdict}"
        )
    targets.finish()


def _runs(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    main()
