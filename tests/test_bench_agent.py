"""The benchmark agent as a real child process running real ONNX Runtime."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from modeldesk.bench.agent import MAX_MESSAGE_BYTES, latency_stats
from modeldesk.bench.client import (
    AGENT_FILE,
    AgentClient,
    AgentError,
    AgentTimeout,
    ProtocolError,
    local_command,
)
from modeldesk.resources import resources_dir

from helpers import fake_agent

DEMO_MLP = resources_dir() / "demo" / "models" / "digits-v2.onnx"
QUICK = {"warmup": 2, "iterations": 20, "batch_sizes": [1, 4]}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def agent(tmp_path):
    client = AgentClient(local_command(tmp_path / "cache"))
    client.start()
    yield client
    client.stop()


def test_the_agent_needs_only_the_standard_library_numpy_and_onnxruntime(tmp_path):
    # Copied alone to a device, it must import nothing from ModelDesk.
    copy = tmp_path / "device" / "agent.py"
    copy.parent.mkdir()
    copy.write_bytes(AGENT_FILE.read_bytes())
    check = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('modeldesk', 'core', 'gui', 'onnx', 'pyarrow')]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", check, str(copy)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == ""


def test_hello_reports_the_device(agent):
    device = agent.device
    assert device["cores"] >= 1 and device["memory_mb"] > 0
    assert "CPUExecutionProvider" in device["providers"]
    assert device["python"].count(".") == 2 and device["onnxruntime"]


def test_a_model_is_sent_once_verified_and_benchmarked(agent, tmp_path):
    sha = _sha(DEMO_MLP)
    assert agent.put_model(DEMO_MLP, sha) is True
    assert agent.put_model(DEMO_MLP, sha) is False  # cached on the device by its hash
    results = agent.run(sha, {**QUICK, "intra_threads": 1}, timeout=60)
    assert results["load_ms"] > 0 and results["first_ms"] > 0
    assert results["model_bytes"] == DEMO_MLP.stat().st_size
    one, four = results["batches"]
    assert (one["batch"], four["batch"]) == (1, 4) and len(one["latencies_ms"]) == 20
    assert one["min_ms"] <= one["p50_ms"] <= one["p90_ms"] <= one["p99_ms"] <= one["max_ms"]
    assert four["throughput_per_s"] == pytest.approx(4000 / four["mean_ms"])
    assert results["peak_rss_mb"] > results["idle_rss_mb"] > 0
    if results["memory_tracked"]:  # Linux: high-water mark reset between phases
        assert results["load_rss_increase_mb"] >= 0 and results["inference_rss_increase_mb"] >= 0
    profile = results["profile"]
    assert profile["ops"] and {op["op"] for op in profile["ops"]} >= {"MatMul"}
    assert all(node["provider"] == "CPUExecutionProvider" for node in profile["nodes"])


def test_percentiles_are_those_of_onnxruntime_perf_test():
    # sorted[int(n * q)]: with 10 values p50 is the 6th smallest, p90 and p99 the largest.
    stats = latency_stats([float(v) for v in (9, 1, 8, 2, 7, 3, 6, 4, 5, 10)])
    assert (stats["p50_ms"], stats["p90_ms"], stats["p95_ms"], stats["p99_ms"]) == (6, 10, 10, 10)
    assert stats["mean_ms"] == 5.5 and stats["min_ms"] == 1 and stats["max_ms"] == 10


def test_arbitrary_models_several_inputs_int64_scalar_fp16_and_unnamed_dims(agent, model_file):
    path = model_file("multi_io")
    sha = _sha(path)
    agent.put_model(path, sha)
    with pytest.raises(AgentError, match=r"no value for dynamic dim\(s\) .*positions:1.*image:2"):
        agent.run(sha, {**QUICK, "dims": {"sequence": 16}}, timeout=60)
    settings = {
        **QUICK,
        "dims": {"sequence": 16},
        "axis_dims": {"positions:1": 5, "image:2": 8, "image:3": 8},
    }
    results = agent.run(sha, settings, timeout=60)
    assert [b["batch"] for b in results["batches"]] == [1, 4]
    control = model_file("control_flow")
    agent.put_model(control, _sha(control))
    assert agent.run(_sha(control), {"iterations": 5, "warmup": 1}, timeout=60)["batches"]


def test_a_provider_the_device_lacks_is_named_with_those_it_has(agent):
    sha = _sha(DEMO_MLP)
    agent.put_model(DEMO_MLP, sha)
    with pytest.raises(AgentError, match="lacks TensorrtExecutionProvider; it has .*CPUExecution"):
        agent.run(sha, {"providers": ["TensorrtExecutionProvider"]}, timeout=60)
    # The agent keeps serving after a refused request.
    assert agent.run(sha, {"iterations": 3, "warmup": 0}, timeout=60)


def test_bad_settings_and_unknown_models_are_refused(agent):
    sha = _sha(DEMO_MLP)
    with pytest.raises(AgentError, match="not on this device"):
        agent.run(sha, {}, timeout=30)
    agent.put_model(DEMO_MLP, sha)
    for settings, message in (
        ({"iterations": 0}, "iterations"),
        ({"opt_level": "turbo"}, "opt_level"),
        ({"threads": 2}, "unknown setting"),
        ({"batch_sizes": [0]}, "batch sizes"),
    ):
        with pytest.raises(AgentError, match=message):
            agent.run(sha, settings, timeout=30)


def test_a_damaged_upload_is_refused(agent, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(DEMO_MLP.read_bytes())
    with pytest.raises(AgentError, match="hash to"):
        agent.put_model(path, "0" * 64)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("print('garbage', flush=True)\n", ProtocolError, "not JSON"),
        (
            f"sys.stdout.write('[' * {MAX_MESSAGE_BYTES + 10}); sys.stdout.flush()\n",
            ProtocolError,
            "over",
        ),
        (
            "print(json.dumps({'type': 'put-model', 'id': request['id'], 'sha256': 'f' * 64,"
            " 'have': True}), flush=True)\n",
            ProtocolError,
            "names model ffffffffffff",
        ),
        ("import time; time.sleep(30)\n", AgentTimeout, "no answer to put-model within 2 s"),
        ("sys.exit(3)\n", AgentError, "agent stopped"),
    ],
)
def test_a_misbehaving_agent_is_a_clear_error(tmp_path, body, error, message):
    client = AgentClient(fake_agent(tmp_path, body), name="device X")
    client.start()
    sha = _sha(DEMO_MLP)
    with pytest.raises(error, match=message):
        client.request({"type": "put-model", "sha256": sha, "size": 1}, timeout=2)
    client.stop(kill=True)


def test_negative_or_nan_timings_are_a_protocol_error():
    from modeldesk.bench.client import check_results

    batch = dict.fromkeys(
        ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms", "max_ms"), 1.0
    )
    good = {"load_ms": 1.0, "first_ms": 1.0, "batches": [{**batch, "latencies_ms": [1.0, 2.0]}]}
    check_results(good, "device")
    for key, value in (("load_ms", -1.0), ("first_ms", float("nan")), ("load_ms", "fast")):
        with pytest.raises(ProtocolError, match=key):
            check_results({**good, key: value}, "device")
    with pytest.raises(ProtocolError, match="latency is -3"):
        check_results({**good, "batches": [{**batch, "latencies_ms": [1.0, -3.0]}]}, "device")


def test_the_local_agent_is_pinned_to_the_profiles_cores(tmp_path):
    client = AgentClient(local_command(tmp_path / "cache", cores=[0]))
    client.start()
    try:
        assert client.device["usable_cores"] == 1
    finally:
        client.stop()


def test_an_agent_chatty_on_stderr_does_not_block(tmp_path):
    # 2 MB on stderr fills any pipe: unread, the agent would block before replying.
    body = (
        "sys.stderr.write('warning\\n' * 250_000); sys.stderr.flush()\n"
        "print(json.dumps({'type': 'put-model', 'id': request['id'],"
        " 'sha256': request['sha256'], 'have': True}), flush=True)\n"
        "sys.stdin.readline()\n"
    )
    client = AgentClient(fake_agent(tmp_path, body), name="chatty device")
    client.start()
    reply = client.request({"type": "put-model", "sha256": _sha(DEMO_MLP), "size": 1}, timeout=10)
    assert reply["have"] is True
    client.stop(kill=True)
