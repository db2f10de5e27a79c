"""Unfolding a 10,000-node model graph to every node, with progress and cancel.

    .venv/bin/python tests/perf/bench_graph_unfold.py [--repeats 3]

A scoped residual network of 1,666 blocks (10,000 nodes) is built and described here.
Timed: what the Graph tab does when "Unfold all" is pressed, on the worker pool: the
scene of every node (groups, edges, labels) and its layout. Target: under 3 s (median),
with progress reported as it goes, and cancel stopping it within one step. Anchor, in
the same run: the first look the tab opens with (a few dozen folded groups).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from targets import Targets

import onnx_factory

LIMIT_S = 3.0
BLOCKS = 1666  # 6 nodes a block and a head of 4: 10,000 nodes


def main() -> None:
    """Unfold everything ``--repeats`` times; then cancel one run part way."""
    from modeldesk.errors import Cancelled
    from modeldesk.graph.describe import describe_model
    from modeldesk.graph.scene import GraphModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    graph = describe_model(onnx_factory.residual_network(BLOCKS))["graph"]
    targets = Targets()
    times, first_looks, reports = [], [], []
    for _ in range(options.repeats):
        started = time.perf_counter()
        model = GraphModel(graph)
        first = model.scene()
        first.layout()
        first_looks.append(time.perf_counter() - started)
        seen: list[float] = []
        started = time.perf_counter()
        scene = model.scene(set(model.groups))
        layout = scene.layout(progress=lambda done, total, _, into=seen: into.append(done / total))
        times.append(time.perf_counter() - started)
        reports.append(len(seen))
    seconds = statistics.median(times)
    nodes = sum(1 for item in scene.items.values() if item.kind == "node")
    print(
        f"first look: {len(first.items)} items in {statistics.median(first_looks) * 1000:.0f}"
        f" ms (median)"
    )
    print(
        f"unfolded: {nodes:,} nodes laid out, {layout.crossings} crossings, median "
        f"{seconds:.2f} s ({seconds / statistics.median(first_looks):.0f}x the first look) "
        f"target < {LIMIT_S:.0f} s {targets.check('unfold time', seconds < LIMIT_S)}"
    )
    print(
        f"progress reports per layout: {min(reports)} "
        f"{targets.check('progress reported', min(reports) >= 5)}"
    )

    cancel = threading.Event()
    stopped: dict[str, float] = {}

    def cancel_at_third(done: float, total: float, message: str) -> None:
        if done >= 3 and not cancel.is_set():
            cancel.set()
            stopped["at"] = time.perf_counter()

    model = GraphModel(graph)
    scene = model.scene(set(model.groups))
    try:
        scene.layout(progress=cancel_at_third, cancel=cancel)
        cancelled = False
    except Cancelled:
        cancelled = True
    latency = time.perf_counter() - stopped.get("at", time.perf_counter())
    print(
        f"cancel at the third step: stopped {'' if cancelled else 'NOT '}after "
        f"{latency * 1000:.0f} ms {targets.check('cancel', cancelled)}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
