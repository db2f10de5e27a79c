"""What every ``modeldesk`` command shares: the invocation's state, exit codes, options.

Kept apart from :mod:`modeldesk.cli.app` so that command modules never import the group
that registers them (registration is explicit, in ``app.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from modeldesk.catalog.location import default_catalog_path
from modeldesk.catalog.store import Catalog

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CANCELLED",
    "EXIT_CHECK_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "CliState",
    "json_option",
]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check ran and failed (catalog check, a budget, a breaking change)
EXIT_BAD_INPUT = 2  # bad usage, bad input, or a record or file that does not exist
EXIT_UNREACHABLE = 3  # a device or host could not be reached
EXIT_INTERNAL = 70  # an unexpected internal error (EX_SOFTWARE); details in the log file
EXIT_CANCELLED = 130

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@dataclass
class CliState:
    """What the global options chose; opens the catalog on first use."""

    catalog_path: Path | None
    _catalog: Catalog | None = field(default=None, repr=False)

    def catalog(self) -> Catalog:
        """The catalog this invocation works on (the default one is created if missing)."""
        if self._catalog is None:
            if self.catalog_path is None:
                self._catalog = Catalog.open(default_catalog_path(), create=True)
            else:
                self._catalog = Catalog.open(self.catalog_path)
        return self._catalog

    def close(self) -> None:
        """Close the catalog if it was opened."""
        if self._catalog is not None:
            self._catalog.close()
