"""The core type-checks clean with mypy (configured in pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_passes_on_the_core(tmp_path):
    # core/ is the package modeldesk only once installed (package-dir), and mypy cannot
    # follow an editable install's import hook: stage the folder under its import name.
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "modeldesk").symlink_to(ROOT / "core", target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "modeldesk"],
        cwd=stage, capture_output=True, text=True,
        env={**os.environ, "MYPYPATH": str(stage)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
