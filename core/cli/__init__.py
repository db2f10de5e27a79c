"""The ``modeldesk`` command line: a thin face over the core."""

from modeldesk.cli.app import cli, main

__all__ = ["cli", "main"]
