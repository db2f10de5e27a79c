"""Start-up of the command line, against a bare interpreter started the same way.

    .venv/bin/python tests/perf/bench_cli_start.py [--repeats 21]

``modeldesk --help`` and ``modeldesk --version`` through the installed console script,
each run alternating with ``python -c pass`` so that drifting load on a shared machine
affects both alike; medians. Target: ``--help`` within 6x a bare interpreter, and no
heavy module (ONNX, ONNX Runtime, numpy, pyarrow, shap, Qt) imported to print it: a
pipeline calls the command line many times, and help is what a typo costs.

The package is byte-compiled first, as pip does when it installs: with stale or no
``.pyc`` files (an edited checkout, ``PYTHONDONTWRITEBYTECODE``) every start would
compile the sources again and the figure would measure that instead.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import os
import statistics
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from targets import Targets

HELP_TARGET = 6.0
HEAVY = ("onnx", "onnxruntime", "numpy", "pyarrow", "shap", "PySide6", "pyqtgraph")


def console_script() -> tuple[Path, str]:
    """The installed ``modeldesk`` script beside this Python, and its entry point."""
    (entry,) = entry_points(group="console_scripts", name="modeldesk")
    script = Path(sys.executable).parent / ("modeldesk.exe" if os.name == "nt" else "modeldesk")
    return script, entry.value


def compile_package() -> None:
    """Byte-compile modeldesk and its desktop app wherever they are installed."""
    for name in ("modeldesk", "modeldesk.gui"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # a base install has no app to compile
            continue
        compileall.compile_dir(Path(module.__file__).parent, quiet=1)


def heavy_modules(entry: str, args: list[str]) -> list[str]:
    """Heavy modules imported by the time the command line is done with ``args``."""
    module, function = entry.split(":")
    code = (
        "import sys\n"
        f"from {module} import {function} as main\n"
        f"sys.argv = ['modeldesk', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("HEAVY"))
    return [name for name in line.split(" ", 1)[1].split(",") if name]


def main() -> None:
    """Time help and version against a bare interpreter; check no heavy import."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    options = parser.parse_args()
    targets = Targets()
    script, entry = console_script()
    compile_package()
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "modeldesk --help": [str(script), "--help"],
        "modeldesk --version": [str(script), "--version"],
    }
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for round_number in range(options.repeats + 1):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, env=env, check=True)
            if round_number:  # the first round warms the file cache
                timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    bare = medians["python -c pass"]
    print(f"entry point {entry}")
    print(f"python -c pass (baseline): median {bare:.3f} s")
    for name in ("modeldesk --help", "modeldesk --version"):
        ratio = medians[name] / bare
        line = f"{name + ':':<26} median {medians[name]:.3f} s ({ratio:.1f}x baseline)"
        if name == "modeldesk --help":
            line += f" target <= {HELP_TARGET:.0f}x {targets.check('help', ratio <= HELP_TARGET)}"
        print(line)
    heavy = heavy_modules(entry, ["--help"])
    verdict = targets.check("no heavy import", not heavy)
    print(f"heavy modules imported for --help: {', '.join(heavy) or '-'} {verdict}")
    targets.finish()


if __name__ == "__main__":
    main()
