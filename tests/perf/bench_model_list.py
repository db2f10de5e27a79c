"""Listing and looking up models in a catalog holding 10,000 model versions.

    .venv/bin/python tests/perf/bench_model_list.py [--versions 10000] [--repeats 5]

Target: ``modeldesk model list --json`` (a whole CLI process) returns in under
0.5 s, and a by-name lookup uses an index (the query plan is printed). The
baseline in the same run is a bare ``python -c pass`` start, so the ratio
shows what the command costs beyond starting Python.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from targets import Targets  # noqa: E402  (beside this script)

sys.path.insert(0, str(ROOT / "tests"))

TARGET_S = 0.5


def build_catalog(path: Path, versions: int) -> None:
    """A catalog with ``versions`` model versions over 100 model names.

    The model is examined once; its facts and blob are reused for every
    version, inserted in one transaction, as a bulk import would.
    """
    from modeldesk.catalog.records import MODEL, get_or_create_record, next_version
    from modeldesk.catalog.store import Catalog
    from modeldesk.models.examine import examine_model
    from modeldesk.models.importer import _record_row

    import onnx_factory

    model_path = onnx_factory.save(
        onnx_factory.linear_regressor(features=16), path.parent / "m.onnx"
    )
    facts = examine_model(model_path)
    with Catalog.init(path) as catalog:
        sha256, _ = catalog.blobs.put_file(model_path)
        names = [f"model-{index:03d}" for index in range(100)]
        with catalog.write("bench.bulk", "bench") as tx:
            for index in range(versions):
                name = names[index % len(names)]
                model_id = get_or_create_record(tx.conn, MODEL, name, tx.at, tx.actor)
                _record_row(
                    tx.conn,
                    model_id,
                    next_version(tx.conn, MODEL, model_id),
                    sha256,
                    model_path,
                    facts,
                    parent_id=None,
                    trained_on=None,
                    label=None,
                    mapping=None,
                    classes=None,
                    tags={"stage": "bench"},
                    at=tx.at,
                    actor=tx.actor,
                )


def time_command(args: list[str], env: dict[str, str], repeats: int) -> tuple[float, str]:
    """Median wall time of a command and its last output."""
    timings, output = [], ""
    for _ in range(repeats):
        started = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
        timings.append(time.perf_counter() - started)
        output = result.stdout
    return statistics.median(timings), output


def main() -> None:
    """Build the catalog, time the listing, print the lookup's query plan."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    targets = Targets()

    from modeldesk.catalog.names import VersionRef
    from modeldesk.catalog.records import MODEL
    from modeldesk.catalog.store import Catalog
    from modeldesk.models.registry import get_model_version

    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as folder:
        catalog_path = Path(folder) / "catalog"
        started = time.perf_counter()
        build_catalog(catalog_path, options.versions)
        print(f"built {options.versions:,} model versions in {time.perf_counter() - started:.1f} s")

        env = {**os.environ, "MODELDESK_CATALOG": str(catalog_path)}
        bare, _ = time_command([sys.executable, "-c", "pass"], env, options.repeats)
        listed, output = time_command(
            [sys.executable, "-m", "modeldesk.cli", "model", "list", "--json"], env, options.repeats
        )
        rows = json.loads(output)
        assert len(rows) == options.versions, len(rows)
        verdict = targets.check("model list time", listed < TARGET_S)
        print(f"python -c pass (baseline):     median {bare:.3f} s")
        print(
            f"modeldesk model list --json:   median {listed:.3f} s "
            f"({listed / bare:.1f}x baseline; {len(rows):,} rows; target < {TARGET_S} s) {verdict}"
        )

        with Catalog.open(catalog_path) as catalog:
            timings = []
            for index in range(200):
                started = time.perf_counter()
                get_model_version(catalog, f"model-{index % 100:03d}@{index // 100 + 1}")
                timings.append(time.perf_counter() - started)
            print(
                f"get_model_version by name:     median {statistics.median(timings) * 1e3:.2f} ms"
            )
            sql = (
                f"SELECT v.*, r.name AS name FROM {MODEL.version_table} v "
                f"JOIN {MODEL.noun} r ON r.id = v.{MODEL.foreign_key} "
                "WHERE r.name = ? AND v.version = ?"
            )
            plan = catalog.query("EXPLAIN QUERY PLAN " + sql, ("model-007", 3))
            print("query plan of the by-name lookup:")
            for step in plan:
                print(f"  {step['detail']}")
            uses_index = all("SCAN" not in step["detail"] for step in plan)
            print("by-name lookup uses indexes only:", targets.check("index lookup", uses_index))
            del VersionRef
    targets.finish()


if __name__ == "__main__":
    main()
