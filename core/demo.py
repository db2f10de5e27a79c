"""Build the demo catalog from the committed artifacts in ``resources/demo/``.

The artifacts (CSV datasets, ONNX models and ``manifest.json``) are produced
by ``resources/demo/build_demo.py`` with scikit-learn; building a catalog from
them needs only ModelDesk itself. The validation suites in ``resources/demo/suites/``
are written by hand, one per demo model (breast-cancer@3 fails one of its checks: its
trees are not monotone in the worst concave points).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import DB_NAME, Catalog, utc_now
from modeldesk.datasets.importer import import_dataset
from modeldesk.demo_history import HISTORY_DAYS, DemoPeople, add_targets, play_history, set_day
from modeldesk.errors import CatalogError, NotFoundError
from modeldesk.models.importer import import_model
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress
from modeldesk.release.keys import SigningKey
from modeldesk.resources import resources_dir

__all__ = ["BUNDLES_FOLDER", "KEYS_FOLDER", "build_demo_catalog", "demo_manifest"]

KEYS_FOLDER = "demo-keys"  # the demo people's keys, beside the catalog they sign
BUNDLES_FOLDER = "bundles"  # the packaged demo releases


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
    history: bool = True,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Path:
    """Create a catalog at ``out`` holding the demo datasets, models, suites and (unless
    ``history`` is False) months of release history signed by two demo keys (see
    :mod:`modeldesk.demo_history`); return its path.

    ``out`` must not hold a catalog already. A cancelled or failed build
    removes what it created.
    """
    out = Path(out).expanduser().absolute()
    if (out / DB_NAME).exists():
        raise CatalogError(f"{out}: already holds a catalog")
    folder, manifest = demo_manifest()
    created_folder = not out.exists()
    build_time = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    datasets = manifest["datasets"]
    # Datasets are a sliver of the work; the history (imports, runs, bundles) is the rest.
    share = 0.1 if history else 0.3
    try:
        with Catalog.init(out) as catalog:
            people = None
            if history:
                people = DemoPeople.create(out / KEYS_FOLDER)
                set_day(catalog, build_time, HISTORY_DAYS)
                people.trust(catalog)
                add_targets(catalog)
            for index, step in enumerate(datasets):
                check_cancel(cancel, "demo catalog")
                Stage(progress, share * index / len(datasets), share * (index + 1) / len(datasets))(
                    0, 1, f"importing {step['name']}"
                )
                import_dataset(
                    catalog,
                    folder / step["file"],
                    name=step["name"],
                    label=step.get("label"),
                    parent=step.get("parent"),
                    description=step.get("description"),
                    cancel=cancel,
                )
            signer = people.engineer if people else None
            register = _model_steps(catalog, folder, manifest["models"], signer, cancel)
            rest = Stage(progress, share, 1.0)
            if people is None:
                for index, ((name, version), add) in enumerate(register.items()):
                    check_cancel(cancel, "demo catalog")
                    rest(index, len(register), f"importing {name}@{version}")
                    add()
            else:
                play_history(
                    catalog,
                    people,
                    register,
                    build_time,
                    out / BUNDLES_FOLDER,
                    progress=rest,
                    cancel=cancel,
                )
                # A capture from the field, a day before the build (the Field tab's).
                from modeldesk.demo_field import add_field_capture

                set_day(catalog, build_time, 1)
                add_field_capture(catalog, build_time)
                catalog.clock = utc_now
        progress(1, 1, "demo catalog ready")
    except BaseException:
        if created_folder:
            shutil.rmtree(out, ignore_errors=True)
        else:
            leftovers = [out / DB_NAME, out / "blobs", out / KEYS_FOLDER, out / BUNDLES_FOLDER]
            for leftover in [*leftovers, *out.glob(DB_NAME + "-*")]:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        raise
    return out


def _model_steps(
    catalog: Catalog,
    folder: Path,
    models: list[dict[str, Any]],
    signer: SigningKey | None,
    cancel: threading.Event | None,
) -> dict[tuple[str, int], Callable[[], None]]:
    """One import per demo model version in the manifest's order, signed by ``signer``
    (None: the user's key if they have one); the first version of a model brings its
    suite."""
    suites = {path.stem: path for path in (folder / "suites").glob("*.toml")}
    steps: dict[tuple[str, int], Callable[[], None]] = {}
    for step in models:
        version = 1 + sum(1 for key in steps if key[0] == step["name"])

        def register(step: dict[str, Any] = step, version: int = version) -> None:
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
                signer=signer,
            )
            if version == 1 and step["name"] in suites:
                from modeldesk.validate.registry import add_suite, read_suite_file

                path = suites[step["name"]]
                add_suite(catalog, read_suite_file(path), source_name=f"demo/suites/{path.name}")

        steps[(step["name"], version)] = register
    return steps
