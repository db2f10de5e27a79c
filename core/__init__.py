"""ModelDesk's headless core: catalog, models, datasets, debugging, explanations, benchmarks.

This folder, ``core/``, is installed as the ``modeldesk`` package (pyproject's
``package-dir``; the desktop app in ``gui/`` is ``modeldesk.gui``). It never imports Qt.

The names below are the public API (see ``modeldesk.api``); each loads on first use, so
``import modeldesk`` (and every start of the command line) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads them
    from modeldesk.api import (
        ModelSummary as ModelSummary,
        bench_model as bench_model,
        create_catalog as create_catalog,
        explain_model as explain_model,
        get_dataset as get_dataset,
        get_model as get_model,
        import_dataset as import_dataset,
        import_model as import_model,
        list_datasets as list_datasets,
        list_models as list_models,
        open_catalog as open_catalog,
    )
    from modeldesk.bench.run import (
        BenchRun as BenchRun,
    )
    from modeldesk.catalog.store import (
        Catalog as Catalog,
    )
    from modeldesk.datasets.registry import (
        ColumnInfo as ColumnInfo,
        DatasetVersion as DatasetVersion,
    )
    from modeldesk.debug.report import (
        DebugReport as DebugReport,
        debug_report as debug_report,
    )
    from modeldesk.debug.slices import (
        Slice as Slice,
    )
    from modeldesk.errors import (
        BadInputError as BadInputError,
        Cancelled as Cancelled,
        CatalogError as CatalogError,
        DeviceUnreachableError as DeviceUnreachableError,
        MissingExtraError as MissingExtraError,
        ModelDeskError as ModelDeskError,
        NotFoundError as NotFoundError,
    )
    from modeldesk.explain.result import (
        Explanation as Explanation,
    )
    from modeldesk.models.model_facts import (
        ModelFacts as ModelFacts,
        Opset as Opset,
        StoredFile as StoredFile,
        ValueInfo as ValueInfo,
    )
    from modeldesk.models.registry import (
        ModelVersion as ModelVersion,
    )

# The module that defines each public name (the imports above, for the run time).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "modeldesk.api": (
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
    ),
    "modeldesk.bench.run": ("BenchRun",),
    "modeldesk.catalog.store": ("Catalog",),
    "modeldesk.datasets.registry": (
        "ColumnInfo",
        "DatasetVersion",
    ),
    "modeldesk.debug.report": (
        "DebugReport",
        "debug_report",
    ),
    "modeldesk.debug.slices": ("Slice",),
    "modeldesk.errors": (
        "BadInputError",
        "Cancelled",
        "CatalogError",
        "DeviceUnreachableError",
        "MissingExtraError",
        "ModelDeskError",
        "NotFoundError",
    ),
    "modeldesk.explain.result": ("Explanation",),
    "modeldesk.models.model_facts": (
        "ModelFacts",
        "Opset",
        "StoredFile",
        "ValueInfo",
    ),
    "modeldesk.models.registry": ("ModelVersion",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_HOME)]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'modeldesk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
