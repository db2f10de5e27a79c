"""The benchmark agent's own cost: its p50 against a bare ``session.run`` loop.

    .venv/bin/python tests/perf/bench_agent.py [--iterations 2000] [--rounds 41]

Target (issue 5): on a small model (the demo MLP) and a large one (a CNN of a few MB
built here), the agent's reported p50 is within 3 % of a bare timing loop over
``session.run`` with the same session options, measured in the same run, and its
per-iteration overhead (agent p50 minus bare p50) is under 20 us. The bare loop runs in
a fresh process as the agent does (a long-lived process with many modules loaded times
differently). Rounds alternate bare and agent so drift on this shared machine hits
both; medians are quoted. A second figure alternates the bare loop and the agent's
own measuring code inside one fresh process, which removes the between-process noise
that dominates a ~20 us model (a fresh process times the same loop at ~17 or ~28 us,
by its memory layout). So the overhead target is checked on the first figure and the
3 % target on the second; the script exits 1 when either is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

from targets import Targets  # noqa: E402  (beside this script)

SETTINGS = {"intra_threads": 1, "inter_threads": 1, "opt_level": "all", "warmup": 50}


def cnn(path: Path) -> Path:
    """A few-MB convolutional network: 4 conv layers with ReLU, then a dense head."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, channels, name = [], [], 3, "image"
    for index, width in enumerate((32, 64, 128, 128)):
        weight = rng.normal(0, 0.05, (width, channels, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w{index}"))
        nodes.append(
            helper.make_node(
                "Conv", [name, f"w{index}"], [f"c{index}"], pads=[1, 1, 1, 1], strides=[2, 2]
            )
        )
        nodes.append(helper.make_node("Relu", [f"c{index}"], [f"r{index}"]))
        channels, name = width, f"r{index}"
    nodes.append(helper.make_node("GlobalAveragePool", [name], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["flat"]))
    inits.append(numpy_helper.from_array(rng.normal(0, 0.05, (128, 4096)).astype(np.float32), "d"))
    nodes.append(helper.make_node("MatMul", ["flat", "d"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4096])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return path


BARE_LOOP = """
import sys, time
import numpy as np
import onnxruntime as ort
path, iterations, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
feeds = {}
for item in session.get_inputs():
    shape = [d if isinstance(d, int) else 1 for d in item.shape]
    feeds[item.name] = (np.random.default_rng(0).random(shape) + 0.5).astype(np.float32)
for _ in range(warmup):
    session.run(None, feeds)
latencies = []
for _ in range(iterations):
    tick = time.perf_counter_ns()
    session.run(None, feeds)
    latencies.append((time.perf_counter_ns() - tick) / 1e6)
latencies.sort()
print(latencies[int(len(latencies) * 0.5)])
"""


def bare_p50(path: Path, iterations: int) -> float:
    """p50 (ms, perf-test definition) of a plain loop in a fresh process, like the agent."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, str(path), str(iterations), str(SETTINGS["warmup"])],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


SAME_PROCESS = """
import statistics, sys, time
from pathlib import Path
from modeldesk.bench import agent
path, iterations, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
settings = agent._settings({"intra_threads": 1, "inter_threads": 1, "warmup": 50,
                            "iterations": iterations, "profile": False})
import onnxruntime as ort
bare, measured = [], []
for _ in range(rounds):
    session = ort.InferenceSession(str(path), agent._session_options(settings),
                                   providers=["CPUExecutionProvider"])
    feeds = agent.synthesize_inputs(session, 1, {}, {})
    for _ in range(50):
        session.run(None, feeds)
    latencies = []
    for _ in range(iterations):
        tick = time.perf_counter_ns()
        session.run(None, feeds)
        latencies.append((time.perf_counter_ns() - tick) / 1e6)
    bare.append(agent.latency_stats(latencies)["p50_ms"])
    measured.append(agent.run_model(path, settings)["batches"][0]["p50_ms"])
print(statistics.median(bare), statistics.median(measured))
"""


def same_process(path: Path, iterations: int, rounds: int) -> tuple[float, float]:
    """(bare p50, agent p50) alternating in one fresh process: no layout noise between them."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", SAME_PROCESS, str(path), str(iterations), str(rounds)],
        capture_output=True,
        text=True,
        check=True,
    )
    bare, agent = (float(value) for value in done.stdout.split())
    return bare, agent


def agent_p50(client, path: Path, iterations: int) -> float:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    client.put_model(path, sha)
    results = client.run(sha, {**SETTINGS, "iterations": iterations, "profile": False}, 600)
    return results["batches"][0]["p50_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()

    from modeldesk.bench.client import AgentClient, local_command

    targets = Targets()
    with tempfile.TemporaryDirectory() as folder:
        models = {
            "demo MLP": ROOT / "resources" / "demo" / "models" / "digits-v2.onnx",
            "CNN": cnn(Path(folder) / "cnn.onnx"),
        }
        for label, path in models.items():
            bare, agent = [], []
            for _ in range(args.rounds):
                bare.append(bare_p50(path, args.iterations))
                # A fresh agent each round, as the bare loop gets a fresh process: timings
                # of one process depend on its memory layout (17 vs 28 us for the same
                # loop here), so both sides must sample layouts alike.
                with AgentClient(local_command(Path(folder) / "cache")) as client:
                    client.start()
                    agent.append(agent_p50(client, path, args.iterations))
            b, a = statistics.median(bare), statistics.median(agent)
            size = path.stat().st_size / 1e6
            overhead = targets.check(f"{label} overhead < 20 us", (a - b) * 1000 < 20)
            print(
                f"{label} ({size:.1f} MB): bare p50 {b * 1000:.1f} us, agent p50 "
                f"{a * 1000:.1f} us -> {a / b:.3f}x, overhead {(a - b) * 1000:+.1f} us per "
                f"iteration (target < 20 us) {overhead}"
            )
            b, a = same_process(path, args.iterations, args.rounds)
            within = targets.check(f"{label} p50 within 3 %", a / b <= 1.03)
            print(
                f"  same process, alternating: bare {b * 1000:.1f} us, agent's measurement "
                f"{a * 1000:.1f} us -> {a / b:.3f}x (target within 3 %) {within}, "
                f"{(a - b) * 1000:+.1f} us per iteration"
            )
    targets.finish()


if __name__ == "__main__":
    main()
