"""Diff of two 1,000-node versions of a model graph, in process.

    .venv/bin/python tests/perf/bench_graph_diff.py [--repeats 7]

Two versions of a scoped residual network (166 blocks, 1,000 nodes) are built here: the
second has one node inserted, every node renamed by another exporter's numbering in
half of the blocks (so half the matching is structural, not by name) and one weight
retrained. Timed: matching the described graphs and building the merged graph to draw
(``diff_graphs`` + ``merged_graph``). Anchor, in the same run: one JSON round trip of
both described graphs (the least any pass over them costs). Target: under 1 s (median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from targets import Targets

import onnx_factory

LIMIT_S = 1.0
BLOCKS = 166  # 6 nodes a block and a head of 4: 1,000 nodes


def versions() -> tuple[dict, dict]:
    """The two described graphs."""
    from modeldesk.graph.describe import describe_model

    old = onnx_factory.residual_network(BLOCKS)
    new = onnx_factory.residual_network(BLOCKS, extra_relu_after=BLOCKS // 2)
    for index, node in enumerate(new.graph.node):
        if "/layers." in node.name and int(node.name.split(".")[1].split("/")[0]) % 2:
            node.name = f"node_{index}"
    weight = new.graph.initializer[10]
    values = numpy_helper.to_array(weight) + np.float32(0.25)
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    return describe_model(old)["graph"], describe_model(new)["graph"]


def main() -> None:
    """Diff the two versions ``--repeats`` times against the anchor."""
    from modeldesk.graph.diff import diff_graphs, merged_graph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    old, new = versions()
    targets = Targets()
    times, anchors = [], []
    for _ in range(options.repeats):
        started = time.perf_counter()
        json.loads(json.dumps([old, new]))
        anchors.append(time.perf_counter() - started)
        started = time.perf_counter()
        diff = diff_graphs(old, new)
        merged_graph(old, new, diff)
        times.append(time.perf_counter() - started)
    seconds, anchor = statistics.median(times), statistics.median(anchors)
    print(f"{len(old['nodes'])} vs {len(new['nodes'])} nodes: {diff.summary()}")
    exact = len(diff.added) == 1 and not diff.removed and len(diff.changed) == 1
    print(
        f"exactly the inserted node and the retrained weight found: "
        f"{targets.check('diff finds the changes', exact)}"
    )
    print(
        f"diff median {seconds * 1000:.0f} ms, {seconds / anchor:.1f}x a JSON round trip of "
        f"both graphs ({anchor * 1000:.0f} ms) target < {LIMIT_S * 1000:.0f} ms "
        f"{targets.check('diff time', seconds < LIMIT_S)}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
