"""Fixtures for the desktop app: isolated settings, a demo catalog, an open window."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from modeldesk.catalog.store import Catalog


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point QSettings at a temporary folder so tests never touch the user's settings."""
    folder = tmp_path_factory.mktemp("qsettings")
    for format_ in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(format_, QSettings.Scope.UserScope, str(folder))
    QSettings("ModelDesk", "ModelDesk").clear()
    yield
    QSettings("ModelDesk", "ModelDesk").clear()


@pytest.fixture
def demo_path(built_demo: Path, tmp_path: Path) -> Path:
    """A private copy of the demo catalog for one test to change as it likes."""
    target = tmp_path / "demo"
    shutil.copytree(built_demo, target)
    return target


@pytest.fixture
def window(qtbot, demo_path: Path):
    """The main window open on a copy of the demo catalog."""
    from modeldesk.gui.main_window import MainWindow

    main = MainWindow(Catalog.open(demo_path))
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    qtbot.waitUntil(lambda: main.settled, timeout=30_000)
    yield main
    main.runner.shutdown()
