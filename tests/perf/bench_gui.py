"""Desktop app start-up and navigator speed, against baselines measured in the same run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/bench_gui.py [--repeats 7]

1. Cold start to a shown main window on the demo catalog, in a fresh process,
   against a bare ``QApplication`` + empty ``QMainWindow`` started the same
   way. Target: at most 3x.
2. The navigator over a catalog of 10,000 model versions: building the tree
   and fetching every version row. Target: under 200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

from targets import Targets  # noqa: E402

START_TARGET = 3.0
NAVIGATOR_TARGET_S = 0.200

# Each child prints the seconds from its own start to a shown, painted window.
BARE = """
import time; started = time.perf_counter()
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow(); window.resize(1400, 880); window.show(); app.processEvents()
print(time.perf_counter() - started)
"""
MODELDESK = """
import time; started = time.perf_counter()
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication([])
from modeldesk.gui.app import Launcher
launcher = Launcher(Path(sys.argv[1]))
assert launcher.start()
app.processEvents()
elapsed = time.perf_counter() - started
heavy = [m for m in ("onnxruntime", "shap", "onnx", "pyarrow", "sklearn", "pyqtgraph")
         if m in sys.modules]
print(elapsed, ",".join(heavy) or "-")
"""


def time_start(code: str, args: list[str], env: dict[str, str], repeats: int) -> tuple[float, str]:
    """Median in-process start time of a fresh interpreter running ``code``."""
    timings, extra = [], ""
    for _ in range(repeats):
        wall = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
        )
        wall = time.perf_counter() - wall
        fields = result.stdout.split()
        timings.append(wall)  # the whole process: interpreter start counts for both sides
        extra = fields[1] if len(fields) > 1 else ""
    return statistics.median(timings), extra


def bench_start(repeats: int, targets: Targets) -> None:
    """Cold start of the app against a bare Qt window."""
    from modeldesk.demo import build_demo_catalog

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as folder:
        demo = build_demo_catalog(Path(folder) / "demo")
        env["XDG_CONFIG_HOME"] = str(Path(folder) / "config")  # fresh settings
        bare, _ = time_start(BARE, [], env, repeats)
        ours, heavy = time_start(MODELDESK, [str(demo)], env, repeats)
    ratio = ours / bare
    verdict = targets.check("cold-start ratio", ratio <= START_TARGET)
    print(f"bare QApplication + QMainWindow: median {bare:.3f} s (whole process)")
    print(f"ModelDesk main window on demo:   median {ours:.3f} s (whole process)")
    print(f"cold-start ratio: {ratio:.2f}x (target <= {START_TARGET}x) {verdict}")
    print(f"heavy modules loaded at start: {heavy}")


def bench_navigator(versions: int, repeats: int, targets: Targets) -> None:
    """Build the navigator over ``versions`` model versions and fetch every row."""
    from bench_model_list import build_catalog
    from PySide6.QtWidgets import QApplication

    from modeldesk.catalog.browse import list_records, list_versions
    from modeldesk.catalog.store import Catalog
    from modeldesk.gui.navigator import CatalogTreeModel, NavigatorWidget

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as folder:
        path = Path(folder) / "catalog"
        build_catalog(path, versions)
        with Catalog.open(path) as catalog:
            timings = []
            # The first round also pays for Qt's one-time set-up (style, fonts): not counted.
            for _ in range(repeats + 1):
                started = time.perf_counter()
                model = CatalogTreeModel(
                    lambda kind: list_records(catalog, kind),
                    lambda kind, name: list_versions(catalog, kind, name),
                )
                widget = NavigatorWidget(model)
                widget.resize(300, 800)
                widget.show()
                group = model.index(0, 0)
                rows = 0
                for row in range(model.rowCount(group)):
                    record = model.index(row, 0, group)
                    model.fetchMore(record)
                    rows += model.rowCount(record)
                    widget.tree.expand(record)
                app.processEvents()
                timings.append(time.perf_counter() - started)
                widget.close()
                widget.deleteLater()
            assert rows == versions, rows
    median = statistics.median(timings[1:])
    verdict = targets.check("navigator time", median < NAVIGATOR_TARGET_S)
    print(
        f"navigator with {versions:,} versions, every record expanded: median "
        f"{median * 1000:.0f} ms (target < {NAVIGATOR_TARGET_S * 1000:.0f} ms) {verdict}"
    )


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--versions", type=int, default=10_000)
    options = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    targets = Targets()
    bench_start(options.repeats, targets)
    bench_navigator(options.versions, max(3, options.repeats // 2), targets)
    targets.finish()


if __name__ == "__main__":
    main()
