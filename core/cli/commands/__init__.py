"""Subcommands of ``modeldesk``; importing this package registers them on ``cli``."""

from core.cli.commands import catalog, datasets, models

__all__ = ["catalog", "datasets", "models"]
