"""Subcommands of ``modeldesk``; importing this package registers them on ``cli``."""

from core.cli.commands import app, bench, catalog, datasets, debug, explain, models

__all__ = ["app", "bench", "catalog", "datasets", "debug", "explain", "models"]
