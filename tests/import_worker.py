"""A separate process that imports many datasets or models into one catalog.

Used by the load tests: ``python import_worker.py CATALOG KIND COUNT TAG SCRATCH``
imports COUNT distinct files (KIND ``data`` or ``model``), written in the folder
SCRATCH, under one shared name and prints the version numbers it got, one JSON list
on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.models.importer import import_model

import onnx_factory


def main(catalog_path: str, kind: str, count: int, tag: str, scratch: str) -> None:
    """Import ``count`` files and print the versions they received."""
    versions = []
    Path(scratch).mkdir(parents=True, exist_ok=True)
    with Catalog.open(catalog_path) as catalog:
        for index in range(count):
            if kind == "data":
                path = Path(scratch) / f"{tag}-{index}.csv"
                path.write_text(f"worker,index,value\n{tag},{index},{index * 0.5}\n")
                result = import_dataset(catalog, path, name="shared")
            else:
                path = Path(scratch) / f"{tag}-{index}.onnx"
                model = onnx_factory.linear_regressor(seed=index, worker=tag)
                onnx_factory.save(model, path)
                result = import_model(catalog, path, name="shared")
            assert result.created
            versions.append(result.version.version)
    print(json.dumps(versions))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
