"""ModelDesk's desktop app (PySide6 + pyqtgraph): views over the core, never logic of its own.

This folder, ``gui/``, is installed as ``modeldesk.gui`` (pyproject's ``package-dir``).
It needs the ``gui`` extra: without PySide6 or pyqtgraph, importing it raises an
ImportError that names the extra, and the command line registers no ``gui`` command.
"""

from importlib.machinery import PathFinder

# Whether each is installed: PathFinder looks on sys.path without importing anything (so
# this costs no Qt start-up) and without consulting modules already imported.
_MISSING = [name for name in ("PySide6", "pyqtgraph") if PathFinder.find_spec(name) is None]
if _MISSING:
    raise ImportError(
        f"the desktop app needs {' and '.join(_MISSING)}: pip install 'modeldesk[gui]'",
        name=_MISSING[0],
    )
