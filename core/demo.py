"""Build the demo catalog from the committed artifacts in ``resources/demo/``.

The artifacts (CSV datasets, ONNX models and ``manifest.json``) are produced
by ``resources/demo/build_demo.py`` with scikit-learn; building a catalog from
them needs only ModelDesk itself. The validation suites in ``resources/demo/suites/``
are written by hand, one per demo model (breast-cancer@3 fails one of its checks: its
trees are not monotone in the worst concave points).
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import DB_NAME, Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.errors import CatalogError, NotFoundError
from modeldesk.models.importer import import_model
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress
from modeldesk.resources import resources_dir

__all__ = ["build_demo_catalog", "demo_manifest"]


def demo_manifest() -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    """The demo folder and its manifest of datasets and models, in import order."""
    folder = resources_dir() / "demo"
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise NotFoundError(f"{manifest_path}: the demo artifacts are missing")
    return folder, json.loads(manifest_path.read_text(encoding="utf-8"))


def build_demo_catalog(
    out: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Path:
    """Create a catalog at ``out`` holding the demo datasets and models; return its path.

    ``out`` must not hold a catalog already. A cancelled or failed build
    removes what it created.
    """
    out = Path(out).expanduser().absolute()
    if (out / DB_NAME).exists():
        raise CatalogError(f"{out}: already holds a catalog")
    folder, manifest = demo_manifest()
    suites = sorted((folder / "suites").glob("*.toml"))
    steps = manifest["datasets"] + manifest["models"] + [{"suite": path} for path in suites]
    created_folder = not out.exists()
    try:
        with Catalog.init(out) as catalog:
            for index, step in enumerate(steps):
                check_cancel(cancel, "demo catalog")
                stage = Stage(progress, index / len(steps), (index + 1) / len(steps))
                if "suite" in step:
                    from modeldesk.validate.registry import add_suite, read_suite_file

                    stage(0, 1, f"adding suite {step['suite'].stem}")
                    text = read_suite_file(step["suite"])
                    add_suite(catalog, text, source_name=f"demo/suites/{step['suite'].name}")
                    continue
                stage(0, 1, f"importing {step['name']}")
                if step in manifest["datasets"]:
                    import_dataset(
                        catalog,
                        folder / step["file"],
                        name=step["name"],
                        label=step.get("label"),
                        parent=step.get("parent"),
                        description=step.get("description"),
                        cancel=cancel,
                    )
                else:
                    import_model(
                        catalog,
                        folder / step["file"],
                        name=step["name"],
                        parent=step.get("parent"),
                        trained_on=step.get("trained_on"),
                        classes=step.get("classes"),
                        tags=step.get("tags"),
                        description=step.get("description"),
                        cancel=cancel,
                    )
        progress(1, 1, "demo catalog ready")
    except BaseException:
        if created_folder:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for leftover in [out / DB_NAME, out / "blobs", *out.glob(DB_NAME + "-*")]:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        raise
    return out
