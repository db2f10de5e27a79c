"""Shared fixtures: a fresh catalog in tmp_path, real ONNX files, a CLI runner."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Qt must never look for a screen in tests; set before any QApplication exists.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

from modeldesk.catalog.store import Catalog

import onnx_factory


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Keep tests away from the user's catalog, settings, logs and temporary folder.

    Temporary files (this process's and its children's, through TMPDIR) go to a folder
    of the test's own, so whatever a test or the code under test leaves behind stays in
    pytest's temporary tree instead of the system's /tmp.
    """
    temp = tmp_path_factory.mktemp("tmp")
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    home = tmp_path_factory.mktemp("home")
    for variable in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(home / variable.lower()))
    monkeypatch.setenv("MODELDESK_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("MODELDESK_USER", "tester")
    monkeypatch.delenv("MODELDESK_CATALOG", raising=False)
    monkeypatch.delenv("MODELDESK_KEY", raising=False)  # no test signs as the user running it
    monkeypatch.delenv("MODELDESK_KEY_PASSPHRASE_FILE", raising=False)


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's datasets, models and suites without its release history (no keys, runs
    or releases: each test builds the ones it reasons about), built once per test run."""
    from modeldesk.demo import build_demo_catalog

    return build_demo_catalog(tmp_path_factory.mktemp("demo-build") / "demo", history=False)


@pytest.fixture(scope="session")
def built_history_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo catalog as a user first sees it, with its months of release history."""
    from modeldesk.demo import build_demo_catalog

    return build_demo_catalog(tmp_path_factory.mktemp("history-demo-build") / "demo")


@pytest.fixture
def demo(built_demo: Path, tmp_path: Path) -> Iterator[Catalog]:
    """A writable copy of the demo catalog, open."""
    target = tmp_path / "demo"
    shutil.copytree(built_demo, target)
    with Catalog.open(target) as catalog:
        yield catalog


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    """Path of a freshly initialised, empty catalog."""
    path = tmp_path / "catalog"
    Catalog.init(path).close()
    return path


@pytest.fixture
def catalog(catalog_path: Path) -> Iterator[Catalog]:
    """A freshly initialised, empty catalog, open."""
    with Catalog.open(catalog_path) as opened:
        yield opened


@pytest.fixture
def model_file(tmp_path: Path) -> Callable[..., Path]:
    """Save a factory model under tmp_path: ``model_file("linear_regressor", features=5)``."""

    def build(kind: str = "linear_regressor", name: str | None = None, **options) -> Path:
        model = getattr(onnx_factory, kind)(**options)
        return onnx_factory.save(model, tmp_path / "models" / (name or f"{kind}.onnx"))

    return build


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write text to a CSV file under tmp_path and return its path."""

    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@dataclass
class CliResult:
    """Exit code and output of one in-process CLI run."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys) -> Callable[..., CliResult]:
    """Run ``modeldesk ARGS`` in this process and capture its exit code and output."""
    from modeldesk.cli import main

    def run(*args: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
