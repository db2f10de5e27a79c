"""Typed errors raised by ModelDesk's core.

Every message is one line that names the file or record and the problem, so
both faces (the CLI and the desktop app) can show it as it is.

Exception tree::

    ModelDeskError                  base of everything core raises on purpose
    ├── BadInputError               the user's input is wrong; nothing was changed
    │   ├── InvalidNameError        a model, dataset or column name is not acceptable
    │   ├── ModelFileError          a file offered as a model is not a usable ONNX model
    │   └── DataFileError           a CSV or Parquet file cannot be imported
    ├── NotFoundError               a catalog, record or version does not exist
    ├── DeviceUnreachableError      a device or host could not be reached (ssh, the agent)
    ├── MissingExtraError           the feature needs an extra that is not installed
    ├── CatalogError                the catalog itself is unusable
    │   ├── SchemaVersionError      catalog.db is from a newer ModelDesk
    │   ├── CatalogBusyError        another writer held the catalog for too long
    │   └── IntegrityError          a blob or the audit chain does not match its hash
    └── Cancelled                   the caller asked to stop; nothing was stored

The CLI prints the message and maps ``DeviceUnreachableError`` to exit code 3,
``Cancelled`` to 130 and every other ``ModelDeskError`` (bad input, not found, an
unusable catalog) to 2; anything else is a bug, logged and reported with code 70.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "Cancelled",
    "CatalogBusyError",
    "CatalogError",
    "DataFileError",
    "DeviceUnreachableError",
    "IntegrityError",
    "InvalidNameError",
    "MissingExtraError",
    "ModelDeskError",
    "ModelFileError",
    "NotFoundError",
    "SchemaVersionError",
    "require_extra",
]


class ModelDeskError(Exception):
    """Base class of every error ModelDesk's core raises on purpose."""


class BadInputError(ModelDeskError):
    """The input is wrong; the catalog was not changed."""


class InvalidNameError(BadInputError):
    """A model, dataset or column name cannot be used."""


class ModelFileError(BadInputError):
    """A file offered as a model is not a usable ONNX model."""


class DataFileError(BadInputError):
    """A CSV or Parquet file cannot be imported as a dataset."""


class NotFoundError(ModelDeskError):
    """A catalog, record or version does not exist."""


class DeviceUnreachableError(ModelDeskError):
    """A device or host could not be reached, or its agent could not be started."""


class MissingExtraError(ModelDeskError):
    """The feature needs an optional extra (``modeldesk[gui]``, ``[explain]``) not installed."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({missing} is not installed): "
            f"pip install 'modeldesk[{extra}]'"
        )
        self.extra = extra


def require_extra(feature: str, extra: str, module: str) -> None:
    """Raise :class:`MissingExtraError` unless ``module`` can be imported.

    Whether it is installed: ``PathFinder`` looks on ``sys.path`` without importing it.
    """
    from importlib.machinery import PathFinder

    if PathFinder.find_spec(module) is None:
        raise MissingExtraError(feature, extra, module)


class CatalogError(ModelDeskError):
    """The catalog itself is unusable."""


class SchemaVersionError(CatalogError):
    """catalog.db was written by a newer ModelDesk than this one."""


class CatalogBusyError(CatalogError):
    """Another process held the catalog's write lock for too long."""


class IntegrityError(CatalogError):
    """Stored bytes or the audit chain do not match their recorded hash."""


class Cancelled(ModelDeskError):
    """The operation was cancelled by its caller; nothing was stored."""
