"""Where the files the application ships with live (``resources/`` in the source tree).

A wheel installs that folder as ``modeldesk/_resources`` (pyproject's ``package-dir``);
an editable install and a checkout read it in place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["resources_dir"]


def resources_dir() -> Path:
    """The resources: ``$MODELDESK_RESOURCES``, a frozen app's bundle, the wheel's, or the tree."""
    explicit = os.environ.get("MODELDESK_RESOURCES")
    if explicit:
        return Path(explicit)
    bundle = getattr(sys, "_MEIPASS", None)  # set by PyInstaller in a frozen app
    if bundle:
        return Path(bundle) / "resources"
    package = Path(__file__).resolve().parent
    installed = package / "_resources"
    if installed.is_dir():
        return installed
    return package.parent / "resources"
