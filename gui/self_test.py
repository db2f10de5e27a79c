"""``modeldesk gui --self-test OUT``: prove the desktop app works where it is installed.

Opens the main window on a catalog, visits every page, runs one debug report, one
explanation and one local benchmark through the pages as a user would, saves a
screenshot of each page in OUT and exits 0. Any error a page shows, or work that
does not finish, fails the test with a one-line reason (exit 1). The packaged app
runs it as its smoke test (``packaging/smoke.py``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["run_self_test"]


def run_self_test(catalog_path: Path, out: Path, *, timeout_s: float = 600.0) -> int:
    """Tour the app on ``catalog_path``; screenshots go to ``out``. Returns the exit code."""
    from PySide6.QtWidgets import QApplication

    from modeldesk.errors import ModelDeskError
    from modeldesk.gui.screenshots import TourError, take_screenshots

    started = time.perf_counter()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    notes: list[str] = []
    try:
        saved = take_screenshots(catalog_path, out, timeout_s=timeout_s, notes=notes)
    except ModelDeskError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TourError as error:
        print(f"self-test failed: {error}", file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    print(
        f"self-test passed: {len(saved)} pages shown and saved in {out} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0
