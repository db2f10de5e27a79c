"""Where catalogs and logs live by default."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CATALOG_ENV", "default_catalog_path", "default_demo_path", "log_folder"]

CATALOG_ENV = "MODELDESK_CATALOG"


def default_catalog_path() -> Path:
    """The catalog used when neither ``--catalog`` nor ``MODELDESK_CATALOG`` names one."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ModelDesk", appauthor=False)) / "catalog"


def default_demo_path() -> Path:
    """Where the demo catalog is built when no folder is given."""
    return default_catalog_path().parent / "demo-catalog"


def log_folder() -> Path:
    """The folder for ModelDesk's log files (``MODELDESK_LOG_DIR`` overrides)."""
    explicit = os.environ.get("MODELDESK_LOG_DIR")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_log_dir("ModelDesk", appauthor=False))
