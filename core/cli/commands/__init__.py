"""Subcommands of ``modeldesk``; importing this package registers them on ``cli``."""

from core.cli.commands import app, catalog, datasets, debug, explain, models

__all__ = ["app", "catalog", "datasets", "debug", "explain", "models"]
