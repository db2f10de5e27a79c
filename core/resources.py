"""Where the files the application ships with live (``resources/`` in the source tree)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["resources_dir"]


def resources_dir() -> Path:
    """The ``resources`` folder: ``$MODELDESK_RESOURCES``, a frozen app's bundle, or the tree."""
    explicit = os.environ.get("MODELDESK_RESOURCES")
    if explicit:
        return Path(explicit)
    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller in a frozen app
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
