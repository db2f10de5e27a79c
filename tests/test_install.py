"""The package's shape once installed: one import package, ``modeldesk``, and a base
install that runs the pipeline commands without Qt or shap.

The wheel is built from a copy of the sources (a build writes ``build/`` and an
``.egg-info`` beside what it builds); the base install is a fresh virtual environment
with the wheel and its dependencies from the package index, nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "resources" / "demo"
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that could put the source tree on sys.path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of the project's sources."""
    source = tmp_path_factory.mktemp("source")
    for name in ("core", "gui", "resources"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, *PIP, "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True, env=_clean_env(),
    )  # fmt: skip
    (built,) = out.glob("modeldesk-*.whl")
    return built


def test_every_source_folder_is_a_listed_package():
    # pyproject lists the packages by hand (package-dir maps two folders into one name),
    # so a new folder that is not listed would be silently missing from the wheel.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    mapping = config["setuptools"]["package-dir"]
    assert mapping["modeldesk"] == "core" and mapping["modeldesk.gui"] == "gui"
    expected = {"modeldesk._resources"}
    for prefix, top in (("modeldesk", "core"), ("modeldesk.gui", "gui")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            expected.add(".".join((prefix, *parts)))
    assert set(config["setuptools"]["packages"]) == expected


def test_the_wheel_installs_one_top_level_name(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(info).decode().split() == ["modeldesk"]
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        recorded = [line.split(",")[0] for line in archive.read(record).decode().splitlines()]
        entry_points = archive.read(record.replace("RECORD", "entry_points.txt")).decode()
    tops = {path.split("/")[0] for path in recorded}
    assert tops == {"modeldesk", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "modeldesk/gui/main_window.py" in recorded
    # The demo and the icons ship inside the package; the script that trains the demo does not.
    assert "modeldesk/_resources/demo/manifest.json" in recorded
    assert "modeldesk/_resources/icons/modeldesk-64.png" in recorded
    assert not any(path.endswith("build_demo.py") for path in recorded)
    assert "modeldesk = modeldesk.cli:main" in entry_points


IMPORT_CHECK = """
import importlib.util, json, sys
import modeldesk, modeldesk.gui, modeldesk.gui.command
from modeldesk.resources import resources_dir
print(json.dumps({
    "modeldesk": modeldesk.__file__,
    "gui": modeldesk.gui.__file__,
    "core": importlib.util.find_spec("core") is not None,
    "gui_top": importlib.util.find_spec("gui") is not None,
    "demo": (resources_dir() / "demo" / "manifest.json").is_file(),
}))
"""


def _imports(python: str, cwd: Path, env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [python, "-c", IMPORT_CHECK], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_wheel_install_imports_modeldesk_and_its_gui(wheel, tmp_path):
    # The wheel alone into a target folder, first on sys.path: its modules win over this
    # environment's editable install, whose dependencies (Qt, numpy...) it borrows.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, *PIP, "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True, env=_clean_env(),
    )  # fmt: skip
    found = _imports(sys.executable, tmp_path, _clean_env(PYTHONPATH=str(target)))
    assert str(found["modeldesk"]).startswith(str(target / "modeldesk"))
    assert str(found["gui"]).startswith(str(target / "modeldesk" / "gui"))
    assert found["demo"] is True  # the installed resources, not the source tree's
    assert found["core"] is False and found["gui_top"] is False


def test_the_editable_install_imports_modeldesk_from_the_tree_and_no_core(tmp_path):
    found = _imports(sys.executable, tmp_path, _clean_env())
    assert found["modeldesk"] == str(ROOT / "core" / "__init__.py")
    assert found["gui"] == str(ROOT / "gui" / "__init__.py")
    assert found["core"] is False and found["gui_top"] is False
    assert found["demo"] is True


@pytest.mark.slow
def test_the_base_install_runs_pipeline_commands_without_qt_or_shap(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    env = _clean_env(MODELDESK_CATALOG=str(tmp_path / "catalog"), DISPLAY=":0")
    env.pop("QT_QPA_PLATFORM", None)
    subprocess.run([python, *PIP, "install", "-q", str(wheel)], check=True, env=env)
    for module in ("PySide6", "pyqtgraph", "shap", "numba"):
        absent = subprocess.run([python, "-c", f"import {module}"], env=env, capture_output=True)
        assert absent.returncode != 0, f"{module} is importable in the base install"
    tool = str(env_dir / "bin" / "modeldesk")

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([tool, *args], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    assert run("--version").stdout.strip().startswith("modeldesk ")
    run("catalog", "init", str(tmp_path / "catalog"))
    run("data", "import", str(DEMO / "data" / "breast-cancer-train-v1.csv"),
        "--name", "cancer", "--label", "diagnosis")  # fmt: skip
    run("data", "import", str(DEMO / "data" / "breast-cancer-test.csv"),
        "--name", "cancer-test", "--label", "diagnosis")  # fmt: skip
    run("model", "import", str(DEMO / "models" / "breast-cancer-v1.onnx"),
        "--name", "clf", "--trained-on", "cancer@1")  # fmt: skip
    run("model", "import", str(DEMO / "models" / "breast-cancer-v2.onnx"),
        "--name", "clf", "--parent", "1", "--trained-on", "cancer@1")  # fmt: skip
    diff = json.loads(run("model", "diff", "clf@1", "clf@2", "--fail-on-breaking", "--json").stdout)
    assert diff["old"] == "clf@1" and diff["new"] == "clf@2"
    report = json.loads(run("debug", "clf@2", "cancer-test@1", "--json").stdout)
    assert 0.8 < report["metrics"]["accuracy"] <= 1.0
    runs = json.loads(
        run("bench", "clf@1", "--profile", "local-1-thread", "--iterations", "5", "--json").stdout
    )
    assert runs["local-1-thread"]["status"] == "ok" and runs["local-1-thread"]["p50_ms"] > 0

    # The extras' commands say which extra to install, in one line, and exit 2.
    gui = run("gui", "--demo", code=2)
    assert gui.stderr.strip().splitlines() == [
        "error: modeldesk gui needs the 'gui' extra (PySide6 is not installed): "
        "pip install 'modeldesk[gui]'"
    ]
    explain = run("explain", "clf@2", "cancer-test@1", code=2)
    assert explain.stderr.strip().splitlines() == [
        "error: explaining a model needs the 'explain' extra (shap is not installed): "
        "pip install 'modeldesk[explain]'"
    ]
    # No app to open, even with a display: bare `modeldesk` prints the help, which has no gui.
    bare = run()
    assert bare.stdout.startswith("Usage: modeldesk") and "\n  gui " not in bare.stdout
    assert "\n  gui " not in run("--help").stdout
