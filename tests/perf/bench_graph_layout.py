"""Layout of an ~860-node model graph (PP-OCR class), in process, against Graphviz.

    .venv/bin/python tests/perf/bench_graph_layout.py [--repeats 7]

The graph is built here with a PP-OCR detector's shape: a MobileNetV3 backbone (blocks
of convolution, activation, depthwise convolution, a squeeze-and-excite branch with
global pooling and a gated multiply, residual adds), an FPN neck (upsampling, adds,
concatenation) and a segmentation head; every node sized from its label as a view
draws it. Target: the layout under 0.3 s (median). When Graphviz's ``dot`` is
installed, it lays out the same graph in the same run (the time of one ``dot`` call,
which includes its start-up) and the widths are compared (target: within 1.5x);
otherwise the script says so.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from targets import Targets

LIMIT_S, WIDTH_RATIO = 0.3, 1.5
BLOCKS = 13  # per backbone stage: 823 nodes in all (a PP-OCR detector has ~860)


def ppocr_like() -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
    """Nodes, edges and op types of a PP-OCR-detector-shaped graph."""
    ops: dict[str, str] = {}
    edges: list[tuple[str, str]] = []

    def node(op: str, *inputs: str) -> str:
        name = f"/{op.lower()}_{len(ops)}"
        ops[name] = op
        edges.extend((source, name) for source in inputs)
        return name

    current = node("Conv", node("Input"))
    current = node("HardSwish", current)
    stages = []
    for _stage in range(5):
        for block in range(BLOCKS):
            start = current
            x = node("HardSwish", node("BatchNormalization", node("Conv", current)))
            x = node("HardSwish", node("BatchNormalization", node("Conv", x)))  # depthwise
            if block % 2 == 0:  # squeeze and excite
                gate = node("GlobalAveragePool", x)
                gate = node("HardSigmoid", node("Conv", node("Relu", node("Conv", gate))))
                x = node("Mul", x, gate)
            x = node("BatchNormalization", node("Conv", x))
            current = node("Add", x, start) if block else x
        stages.append(current)
    lateral = [node("Conv", stage) for stage in stages[1:]]
    top = lateral[-1]
    merged = [top]
    for side in reversed(lateral[:-1]):
        top = node("Add", node("Resize", top), side)
        merged.append(top)
    outs = [node("Resize", node("Conv", m)) for m in merged]
    fused = node("Concat", *outs)
    head = fused
    for _ in range(3):
        head = node("Relu", node("BatchNormalization", node("ConvTranspose", head)))
    node("Output", node("Sigmoid", head))
    return list(ops), edges, ops


def _dot(nodes, edges, sizes) -> tuple[float, float] | None:
    if shutil.which("dot") is None:
        return None
    lines = ["digraph g {", "rankdir=TB; nodesep=0.33; ranksep=0.83;"]
    for name in nodes:
        width, height = sizes[name]
        lines.append(f'"{name}" [shape=box, fixedsize=true, width={width / 72:.3f}, '
                     f"height={height / 72:.3f}];")  # fmt: skip
    lines += [f'"{a}" -> "{b}";' for a, b in edges]
    lines.append("}")
    started = time.perf_counter()
    done = subprocess.run(["dot", "-Tplain"], input="\n".join(lines), capture_output=True,
                          text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - started
    width = float(done.stdout.splitlines()[0].split()[2]) * 72  # inches to points
    return seconds, width


def main() -> None:
    """Lay the graph out ``--repeats`` times; compare with ``dot`` when it is installed."""
    from modeldesk.graph.layout import layered_layout

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    nodes, edges, ops = ppocr_like()
    sizes = {name: (12.0 + 7.0 * len(ops[name]), 28.0) for name in nodes}
    targets = Targets()
    times = []
    for _ in range(options.repeats):
        started = time.perf_counter()
        layout = layered_layout(nodes, edges, sizes)
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    met = targets.check("layout time", seconds < LIMIT_S)
    print(f"{len(nodes)} nodes, {len(edges)} edges: layout median {seconds * 1000:.0f} ms, "
          f"{layout.crossings} crossings, {layout.width:.0f} x {layout.height:.0f} pt "
          f"target < {LIMIT_S * 1000:.0f} ms {met}")  # fmt: skip
    found = _dot(nodes, edges, sizes)
    if found is None:
        print("Graphviz dot is not installed: no width or time comparison (apt install graphviz)")
    else:
        dot_seconds, dot_width = found
        ratio = layout.width / dot_width
        print(f"dot: {dot_seconds * 1000:.0f} ms, width {dot_width:.0f} pt; ours is {ratio:.2f}x "
              f"its width target <= {WIDTH_RATIO}x "
              f"{targets.check('layout width', ratio <= WIDTH_RATIO)}")  # fmt: skip
    targets.finish()


if __name__ == "__main__":
    main()
