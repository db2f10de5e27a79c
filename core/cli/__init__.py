"""The ``modeldesk`` command line: a thin face over ``core``."""

from core.cli.app import cli, main

__all__ = ["cli", "main"]
