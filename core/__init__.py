"""ModelDesk's headless core: catalog, models, datasets and the CLI over them.

This package never imports Qt; the desktop app in ``gui/`` is a face over it.
"""

__version__ = "0.1.0"
