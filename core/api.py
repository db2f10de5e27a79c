"""ModelDesk from Python: the functions ``import modeldesk`` offers, over the core.

Every function takes the catalog first and its options by keyword only, as the command
line does, and returns a dataclass with typed fields. The verbs carry a noun
(``debug_report``, ``explain_model``, ``bench_model``) because ``modeldesk.debug``,
``modeldesk.explain`` and ``modeldesk.bench`` are the subpackages that do the work
(``modeldesk.debug_report`` is the core's own function; its signature already fits).
Errors are the ``ModelDeskError`` tree (``modeldesk.errors``), each a one-line message
naming the file or record::

    import modeldesk

    with modeldesk.create_catalog("models") as catalog:
        data = modeldesk.import_dataset(catalog, "train.csv", name="cancer", label="y")
        model = modeldesk.import_model(catalog, "gbt.onnx", name="clf", trained_on=data.ref)
        report = modeldesk.debug_report(catalog, model.ref, data.ref)
        print(report.metric("accuracy"))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion
from modeldesk.explain.options import DEFAULT_BACKGROUND
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from modeldesk.bench.run import BenchRun
    from modeldesk.explain.result import Explanation

__all__ = [
    "ModelSummary",
    "bench_model",
    "create_catalog",
    "explain_model",
    "get_dataset",
    "get_model",
    "import_dataset",
    "import_model",
    "list_datasets",
    "list_models",
    "open_catalog",
]

PathLike = str | os.PathLike[str]


def create_catalog(path: PathLike) -> Catalog:
    """Create an empty catalog in the folder ``path`` (missing or empty) and open it.

    A ``Catalog`` is a context manager: ``with create_catalog(p) as catalog: ...``
    closes it at the end.
    """
    return Catalog.init(path)


def open_catalog(path: PathLike, *, create: bool = False) -> Catalog:
    """Open the catalog in the folder ``path``; with ``create``, make it if it is missing."""
    return Catalog.open(path, create=create)


def import_model(
    catalog: Catalog,
    file: PathLike,
    *,
    name: str,
    parent: int | None = None,
    trained_on: str | None = None,
    label: str | None = None,
    features: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> ModelVersion:
    """Import an ONNX file as the next version of model ``name``; returns the version.

    The file is examined in a child process first and nothing is stored unless it
    passes. Bytes identical to an existing version of ``name`` return that version.
    """
    from modeldesk.models.importer import import_model as run_import

    return run_import(
        catalog,
        Path(file),
        name=name,
        parent=parent,
        trained_on=trained_on,
        label=label,
        features=None if features is None else list(features),
        classes=None if classes is None else list(classes),
        tags=None if tags is None else dict(tags),
        description=description,
        progress=progress,
        cancel=cancel,
    ).version


def import_dataset(
    catalog: Catalog,
    file: PathLike,
    *,
    name: str,
    label: str | None = None,
    parent: int | None = None,
    description: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> DatasetVersion:
    """Import a CSV or Parquet file as the next version of dataset ``name``."""
    from modeldesk.datasets.importer import import_dataset as run_import

    return run_import(
        catalog,
        Path(file),
        name=name,
        label=label,
        parent=parent,
        description=description,
        progress=progress,
        cancel=cancel,
    ).version


@dataclass(frozen=True)
class ModelSummary:
    """One row of a model listing: what ``modeldesk model list`` shows of a version."""

    name: str
    version: int
    ref: str
    sha256: str
    file_size: int
    param_count: int
    producer: str
    opsets: dict[str, int]
    inputs: list[str]  # "name: dtype[shape]"
    outputs: list[str]
    tags: dict[str, str]
    parent_version: int | None
    created_at: str
    created_by: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ModelSummary:
        """From a row of :func:`modeldesk.models.registry.list_model_versions`."""
        return cls(
            name=str(row["name"]),
            version=int(row["version"]),
            ref=str(row["ref"]),
            sha256=str(row["sha256"]),
            file_size=int(row["file_size"]),
            param_count=int(row["param_count"]),
            producer=str(row["producer"] or ""),
            opsets={str(k): int(v) for k, v in (row["opsets"] or {}).items()},
            inputs=[str(value) for value in row["inputs"] or []],
            outputs=[str(value) for value in row["outputs"] or []],
            tags={str(k): str(v) for k, v in (row["tags"] or {}).items()},
            parent_version=row["parent_version"],
            created_at=str(row["created_at"]),
            created_by=str(row["created_by"]),
        )


def list_models(
    catalog: Catalog,
    name: str | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> list[ModelSummary]:
    """Model versions (of ``name``, with every tag in ``tags``), by name then version;
    with ``limit``, the ``limit`` newest, newest first. ``get_model`` gives all of one."""
    from modeldesk.models.registry import list_model_versions

    rows = list_model_versions(catalog, name, tags=dict(tags or {}), limit=limit)
    return [ModelSummary.from_row(row) for row in rows]


def get_model(catalog: Catalog, ref: str) -> ModelVersion:
    """The model version ``NAME@V`` (``NAME`` or ``NAME@latest``: the newest)."""
    from modeldesk.models.registry import get_model_version

    return get_model_version(catalog, ref)


def list_datasets(catalog: Catalog, name: str | None = None) -> list[DatasetVersion]:
    """Dataset versions (of ``name`` if given), by name then version."""
    from modeldesk.datasets.registry import list_dataset_versions

    return list_dataset_versions(catalog, name)


def get_dataset(catalog: Catalog, ref: str) -> DatasetVersion:
    """The dataset version ``NAME@V``, with its data dictionary."""
    from modeldesk.datasets.registry import get_dataset_version

    return get_dataset_version(catalog, ref)


def explain_model(
    catalog: Catalog,
    model: str,
    data: str,
    *,
    rows: str | int | None = None,
    method: str = "auto",
    perturbation: str = "interventional",
    background: int | str = DEFAULT_BACKGROUND,
    seed: int = 0,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Explanation:
    """SHAP values of ``model`` on rows of ``data`` (needs the ``explain`` extra).

    ``rows``: the first N rows, or ``"a:b"``. ``method``: ``auto`` (exact TreeSHAP for
    tree ensembles, in margin space), ``tree``, ``permutation``, ``kernel`` or
    ``partition``. Results are cached in the catalog under everything that defines them.
    """
    from modeldesk.explain.run import explain as run_explain

    return run_explain(
        catalog,
        model,
        data,
        rows=rows,
        method=method,
        perturbation=perturbation,
        background=background,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )


def bench_model(
    catalog: Catalog,
    model: str,
    *,
    profiles: Sequence[str] = ("local-1-thread",),
    iterations: int | None = None,
    dims: Mapping[str, int] | None = None,
    data: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> list[BenchRun]:
    """Benchmark ``model`` under each hardware profile; returns the recorded runs.

    ``profiles`` name built-in ones (``local-1-thread``, ``local-2-threads``,
    ``local-edge-512mb``) or ones added with ``modeldesk profile add``.
    ``dims`` sizes symbolic dimensions (``{"batch": 8}``); ``data`` feeds a dataset
    version's rows instead of synthesised inputs.
    """
    from modeldesk.bench.run import bench as run_bench

    return run_bench(
        catalog,
        model,
        list(profiles),
        iterations=iterations,
        dims=None if dims is None else dict(dims),
        data_ref=data,
        progress=progress,
        cancel=cancel,
    )
