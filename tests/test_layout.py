"""The project's shape: top-level layout, and core/ never importing Qt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "qtpy", "superqt")


def test_top_level_is_exactly_the_documented_layout():
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not tracked:  # not a git checkout (e.g. an unpacked sdist): look at the folder
        tracked = [p.name for p in ROOT.iterdir()]
    top = {entry.split("/")[0] for entry in tracked}
    expected = {"pyproject.toml", "gui", "core", "resources", "tests", "packaging", "README.md"}
    allowed_hidden = {".ci", ".gitignore"}
    assert expected <= top
    assert top - expected - allowed_hidden == set()


def test_core_never_imports_qt():
    # A fresh interpreter imports every module under core/ and reports any Qt module loaded.
    modules = sorted(
        ".".join(
            ("modeldesk", *path.relative_to(ROOT / "core").with_suffix("").parts)
        ).removesuffix(".__init__")
        for path in (ROOT / "core").rglob("*.py")
        if path.name != "__main__.py"  # runs the CLI when imported
    )
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert len(modules) > 20
    assert json.loads(result.stdout) == []


def test_every_source_folder_is_a_regular_package():
    # setuptools' package finder skips folders without __init__.py, so a
    # wheel (or the frozen app) would silently lose them.
    for top in ("core", "gui"):
        for folder in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__" or not any(folder.glob("*.py")):
                continue
            assert (folder / "__init__.py").is_file(), (
                f"{folder.relative_to(ROOT)} has no __init__.py"
            )


def test_ci_and_the_load_run_use_the_readmes_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```bash\n")
    command = next(
        block.split("\n", 1)[0] for block in blocks[1:] if "pytest" in block.split("\n", 1)[0]
    )
    assert command.startswith("python3 -m venv .venv")
    for script in (ROOT / ".ci" / "run", ROOT / "tests" / "run_under_load.sh"):
        lines = script.read_text(encoding="utf-8").splitlines()
        assert command in lines, f"{script.relative_to(ROOT)} does not run {command!r}"
