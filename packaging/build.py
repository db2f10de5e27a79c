"""Build ModelDesk as a self-contained app folder (PyInstaller), then prove and time it.

    python3 packaging/build.py [--dist dist] [--work build/packaging] [--reuse-venv]
                               [--no-smoke] [--no-timing]

1. A clean virtual environment in WORK/venv with ModelDesk and its ``package``
   extra (PyInstaller) only: no test or demo-build packages can leak into the app.
2. ``pyinstaller packaging/modeldesk.spec`` -> DIST/modeldesk/ with the ``modeldesk``
   executable (``modeldesk.exe`` on Windows).
3. The folder's size, and its largest parts.
4. The smoke test (``packaging/smoke.py``): exit 1 if any check fails.
5. Cold start to the shown main window: the frozen app against ``python -m modeldesk.cli``
   from the source tree (same venv, same catalog), alternating, medians. Target: the
   frozen app at most 1.5x.

Standard library only, so any Python 3.11+ can run it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

from smoke import Frozen, run_checks  # noqa: E402  (the folder above is not a package)

START_TARGET = 1.5


def _bin(env_dir: Path, name: str) -> Path:
    folder = env_dir / ("Scripts" if os.name == "nt" else "bin")
    return folder / (name + (".exe" if os.name == "nt" else ""))


def executable(dist: Path) -> Path:
    """The frozen ``modeldesk`` executable inside ``dist``."""
    return dist / "modeldesk" / ("modeldesk.exe" if os.name == "nt" else "modeldesk")


def make_venv(env_dir: Path, reuse: bool) -> Path:
    """A virtual environment with ModelDesk[package]; returns its Python."""
    python = _bin(env_dir, "python")
    if reuse and python.exists():
        print(f"reusing {env_dir}")
        return python
    shutil.rmtree(env_dir, ignore_errors=True)
    print(f"creating a clean virtual environment in {env_dir}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, f"{ROOT}[package]"], check=True)
    return python


def build(python: Path, dist: Path, work: Path) -> Path:
    """Run PyInstaller on the spec; returns the app folder."""
    print("running PyInstaller (a few minutes)", flush=True)
    started = time.perf_counter()
    command = [str(python), "-m", "PyInstaller", str(ROOT / "packaging" / "modeldesk.spec")]
    command += ["--noconfirm", "--log-level", "WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work / "pyinstaller")]
    subprocess.run(command, check=True, cwd=ROOT)
    print(f"built {dist / 'modeldesk'} in {time.perf_counter() - started:.0f} s")
    return dist / "modeldesk"


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder`` (symlinks to libraries count once, as links)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if not path.is_dir())


def report_size(app_folder: Path, top: int = 10) -> int:
    """Print the folder's size and its largest parts; returns the size in bytes."""
    total = folder_size(app_folder)
    inner = app_folder / "_internal"
    parts: dict[str, int] = {}
    for path in (inner if inner.is_dir() else app_folder).iterdir():
        size = folder_size(path) if path.is_dir() else path.lstat().st_size
        # Shared libraries of one package (libarrow*.so, libQt6*.so) count together.
        key = path.name.split(".")[0].rstrip("0123456789-_") if path.is_file() else path.name
        parts[key] = parts.get(key, 0) + size
    print(f"app folder: {total / 1e6:.0f} MB in {app_folder}")
    for name, size in sorted(parts.items(), key=lambda item: -item[1])[:top]:
        print(f"  {size / 1e6:7.1f} MB  {name}")
    return total


def time_cold_start(exe: Path, python: Path, catalog: Path, repeats: int) -> tuple[float, float]:
    """Median seconds to a shown main window: frozen app, and ``python -m`` from the tree.

    The two alternate so that drifting load on a shared machine affects both alike.
    Each run is a fresh process that exits once its window shows.
    """
    args = ["--catalog", str(catalog), "gui", "--exit-when-shown"]
    with tempfile.TemporaryDirectory(prefix="modeldesk-start-") as config:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": config}
        env.pop("PYTHONPATH", None)
        frozen, source = [], []
        for round_number in range(repeats + 1):
            for command, timings in (
                ([str(exe), *args], frozen),
                ([str(python), "-m", "modeldesk.cli", *args], source),
            ):
                started = time.perf_counter()
                subprocess.run(command, check=True, env=env, cwd=ROOT, capture_output=True)
                if round_number:  # the first round warms the file cache for both
                    timings.append(time.perf_counter() - started)
    return statistics.median(frozen), statistics.median(source)


def main() -> int:
    """Build, measure, smoke-test and time the app folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "packaging")
    parser.add_argument("--reuse-venv", action="store_true", help="keep WORK/venv if present")
    parser.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    parser.add_argument("--no-timing", action="store_true", help="skip the cold-start timing")
    parser.add_argument("--repeats", type=int, default=7, help="cold starts per side")
    options = parser.parse_args()
    dist, work = options.dist.resolve(), options.work.resolve()
    python = make_venv(work / "venv", options.reuse_venv)
    app_folder = build(python, dist, work)
    report_size(app_folder)
    exe = executable(dist)
    status = 0
    scratch = work / "smoke"
    shutil.rmtree(scratch, ignore_errors=True)
    if not options.no_smoke:
        print("smoke test:", flush=True)
        if not run_checks(exe, scratch):
            print("smoke test FAILED")
            status = 1
    if not options.no_timing:
        scratch.mkdir(parents=True, exist_ok=True)
        catalog = Frozen(exe, scratch).ensure_demo()
        frozen, source = time_cold_start(exe, python, catalog, options.repeats)
        ratio = frozen / source
        verdict = "ok" if ratio <= START_TARGET else "OVER TARGET"
        print(
            f"cold start to the shown main window (median of {options.repeats}): "
            f"frozen {frozen:.2f} s, python -m modeldesk.cli {source:.2f} s -> {ratio:.2f}x "
            f"(target <= {START_TARGET}x: {verdict})"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
