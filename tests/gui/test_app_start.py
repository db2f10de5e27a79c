"""Starting the app: display checks, the self-test and the cold-start probe."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modeldesk.catalog.store import Catalog

ROOT = Path(__file__).resolve().parents[2]


def test_a_dead_x_display_is_named_before_qt_aborts(monkeypatch, capsys):
    from modeldesk.gui.app import display_problem, run_app

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":97")
    monkeypatch.setattr("sys.platform", "linux")
    assert not Path("/tmp/.X11-unix/X97").exists()
    assert "DISPLAY=:97" in display_problem()
    assert run_app(None, use_demo=False) == 2
    assert "QT_QPA_PLATFORM=offscreen" in capsys.readouterr().err


def test_an_unknown_platform_plugin_lists_the_available_ones(monkeypatch):
    from modeldesk.gui.app import display_problem

    monkeypatch.setenv("QT_QPA_PLATFORM", "cocoa")
    problem = display_problem()
    assert problem.startswith("QT_QPA_PLATFORM=cocoa: no such Qt platform plugin")
    assert "offscreen" in problem
    monkeypatch.setenv("QT_QPA_PLATFORM", "cocoa;offscreen:fontengine=freetype")
    assert display_problem() is None


def test_the_window_icon_comes_from_resources(qapp):
    from modeldesk.gui.app import app_icon

    icon = app_icon()
    assert not icon.isNull()
    assert {size.width() for size in icon.availableSizes()} >= {16, 32, 256}


def test_exit_when_shown_opens_the_window_and_returns(qtbot, demo_path: Path):
    from modeldesk.gui.app import run_app

    assert run_app(demo_path, use_demo=False, exit_when_shown=True) == 0


def test_self_test_tours_every_page_in_a_child_process(demo_path: Path, tmp_path: Path):
    shots = tmp_path / "shots"
    result = subprocess.run(
        [sys.executable, "-m", "modeldesk.cli", "--catalog", str(demo_path), "gui",
         "--self-test", str(shots)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "propagateSizeHints" not in result.stderr  # offscreen noise is dropped
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("self-test passed: 17 pages shown")
    assert (
        "graph diff breast-cancer@2 -> breast-cancer@3: 3 added, 0 removed, 1 changed, 1 same"
        in lines
    )
    assert any(line.startswith("explained breast-cancer@3 on") for line in lines)
    assert any(line.startswith("benchmarked breast-cancer@3 on local-1-thread") for line in lines)
    assert any(
        line.startswith("validated breast-cancer@3 against breast-cancer-gate@1: FAIL")
        for line in lines
    )
    assert len(list(shots.glob("*.png"))) == 17


def test_self_test_fails_when_a_page_reports_an_error(qtbot, demo_path: Path, tmp_path, capsys):
    """A damaged model blob: the model page reports it, the self-test exits 1 naming it."""
    from modeldesk.gui.self_test import run_self_test

    with Catalog.open(demo_path) as catalog:
        digest = catalog.query(
            "SELECT v.sha256 FROM model_version v JOIN model m ON m.id = v.model_id "
            "WHERE m.name = 'breast-cancer' ORDER BY v.version DESC LIMIT 1"
        )[0][0]
    blob = demo_path / "blobs" / "sha256" / digest[:2] / digest[2:]
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    assert hashlib.sha256(blob.read_bytes()).hexdigest() != digest
    assert run_self_test(demo_path, tmp_path / "shots") == 1
    error = capsys.readouterr().err
    assert error.startswith("self-test failed: ")
    assert digest[:12] in error or "hash" in error


def test_self_test_fails_when_work_does_not_finish_in_time(qtbot, demo_path, tmp_path, capsys):
    from modeldesk.gui.self_test import run_self_test

    assert run_self_test(demo_path, tmp_path / "shots", timeout_s=0.0) == 1
    assert "not done after 0 s" in capsys.readouterr().err


@pytest.mark.parametrize("catalog", ["missing", "newer"])
def test_self_test_refuses_a_catalog_it_cannot_open(qtbot, tmp_path, demo_path, capsys, catalog):
    import sqlite3

    from modeldesk.gui.self_test import run_self_test

    path = tmp_path / "missing"
    if catalog == "newer":
        path = demo_path
        with sqlite3.connect(path / "catalog.db") as conn:
            conn.execute("PRAGMA user_version = 99")
        conn.close()
    assert run_self_test(path, tmp_path / "shots") == 2
    assert capsys.readouterr().err.startswith(f"error: {path}")


def test_chart_modules_that_fail_to_import_are_reported_not_waited_for(demo_path, tmp_path):
    """A frozen app missing a module pyqtgraph needs: one error, and the self-test says so."""
    blocked = (
        "import sys; sys.modules['pyqtgraph'] = None\n"  # import pyqtgraph -> ImportError
        "from pathlib import Path\n"
        "from modeldesk.gui.self_test import run_self_test\n"
        "sys.exit(run_self_test(Path(sys.argv[1]), Path(sys.argv[2]), timeout_s=120))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked, str(demo_path), str(tmp_path / "shots")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "self-test failed: opening the main window: the chart pages could not load" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
