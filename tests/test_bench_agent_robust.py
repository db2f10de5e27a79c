"""The agent answers every malformed message and stays up; the client never desyncs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from modeldesk.bench.agent import MAX_MESSAGE_BYTES, ModelCache, RequestError
from modeldesk.bench.client import AGENT_FILE, AgentClient, AgentError, ProtocolError, local_command
from modeldesk.resources import resources_dir

from helpers import fake_agent

DEMO_MLP = resources_dir() / "demo" / "models" / "digits-v2.onnx"
KINDS = {"protocol", "bad-request", "no-model", "integrity", "load", "input", "dims", "run",
         "provider", "disk", "io", "internal", "too-large"}  # fmt: skip


class RawAgent:
    """A real agent process driven line by line, with no client checks in between."""

    def __init__(self, cache: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(AGENT_FILE), "--cache", str(cache)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def send(self, line: bytes) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line.rstrip(b"\n").replace(b"\n", b" ") + b"\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        assert reply, f"the agent exited ({self.process.stderr.read().decode()[-500:]})"
        assert len(reply) <= MAX_MESSAGE_BYTES
        return json.loads(reply)

    def close(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def _valid_requests(sha: str, size: int) -> list[dict]:
    chunk = base64.b64encode(DEMO_MLP.read_bytes()[:1000]).decode()
    tensor = {"dtype": "float32", "shape": [1, 64], "data": ""}
    quick = {"warmup": 0, "iterations": 2}
    return [
        {"type": "hello", "id": 1},
        {"type": "put-model", "id": 2, "sha256": sha, "size": size},
        {
            "type": "put-model",
            "id": 3,
            "sha256": "b" * 64,
            "size": size,
            "offset": 0,
            "data": chunk,
            "final": False,
        },
        {"type": "run", "id": 4, "sha256": sha, "settings": quick},
        {"type": "run", "id": 6, "sha256": "c" * 64, "settings": quick},  # not on the device
        {
            "type": "run",
            "id": 5,
            "sha256": sha,
            "files": [{"path": "w.bin", "sha256": sha}],
            "settings": {**quick, "inputs": [{"batch": 1, "feeds": {"X": tensor}}]},
        },
    ]


_ODD_VALUES = [None, True, False, 0, -1, 2**63, 1.5, float("inf"), "", "x" * 300, [], {}, [1],
               {"a": 1}, "../../etc/passwd", "\u0000", "é" * 10]  # fmt: skip


def _mutate(message: object, rng: random.Random) -> object:
    """A copy of ``message`` with one value, at any depth, replaced, dropped or retyped."""
    if isinstance(message, dict) and message and rng.random() < 0.8:
        key = rng.choice(list(message))
        copy = dict(message)
        roll = rng.random()
        if roll < 0.15:
            del copy[key]
        elif roll < 0.6:
            copy[key] = _mutate(copy[key], rng)
        else:
            copy[key] = rng.choice(_ODD_VALUES)
        return copy
    if isinstance(message, list) and message and rng.random() < 0.8:
        copy = list(message)
        index = rng.randrange(len(copy))
        copy[index] = _mutate(copy[index], rng)
        return copy
    return rng.choice(_ODD_VALUES)


def _random_line(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.3:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 200)))
    if roll < 0.5:
        text = json.dumps(rng.choice(_ODD_VALUES))
        return text.encode()
    if roll < 0.6:
        return b"[" * rng.randrange(1, 5000) + b"]" * rng.randrange(0, 5000)  # deep nesting
    noise = bytes(rng.randrange(32, 127) for _ in range(64))
    return b'{"id": 7, "type": "put-model", "sha256": "' + noise + b'"}'


def test_the_agent_answers_a_thousand_malformed_messages_and_stays_up(tmp_path):
    rng = random.Random(20261201)
    sha = hashlib.sha256(DEMO_MLP.read_bytes()).hexdigest()
    agent = RawAgent(tmp_path / "cache")
    try:
        data = DEMO_MLP.read_bytes()  # on the device, so mutated runs reach ONNX Runtime
        upload = {"type": "put-model", "id": 1, "sha256": sha, "size": len(data), "offset": 0,
                  "final": True, "data": base64.b64encode(data).decode()}  # fmt: skip
        stored = agent.send(json.dumps(upload).encode())
        assert stored.get("stored") is True, stored
        valid = _valid_requests(sha, len(data))
        kinds: dict[str, int] = {}
        for count in range(1200):
            if count % 2:
                line = _random_line(rng)
            else:
                mutated = _mutate(rng.choice(valid), rng)
                line = json.dumps(mutated, allow_nan=True).encode()
            reply = agent.send(line)
            assert isinstance(reply, dict) and "type" in reply, line[:200]
            if reply["type"] == "error":
                assert reply["kind"] in KINDS, reply
                assert isinstance(reply["error"], str) and "\n" not in reply["error"]
                kinds[reply["kind"]] = kinds.get(reply["kind"], 0) + 1
                assert "Traceback" not in reply["error"]
            elif reply["type"] == "run":
                kinds["ran"] = kinds.get("ran", 0) + 1
        assert {"protocol", "bad-request", "no-model", "ran"} <= set(kinds)
        # Still up and still right: a real request after all that.
        hello = agent.send(json.dumps({"type": "hello", "id": 99}).encode())
        assert hello["id"] == 99 and hello["device"]["providers"]
    finally:
        assert agent.close() == 0


def test_an_oversized_line_is_refused_and_the_next_one_answered(tmp_path):
    agent = RawAgent(tmp_path / "cache")
    try:
        reply = agent.send(b'{"id": 1, "pad": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}')
        assert reply["kind"] == "protocol" and "over" in reply["error"]
        assert agent.send(b'{"type": "hello", "id": 2}')["id"] == 2
    finally:
        agent.close()


def test_the_cache_is_private_and_uploads_never_follow_links(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    cache = ModelCache(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700  # made private
    data = DEMO_MLP.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    # A link planted where the partial upload goes: a fresh upload replaces the link,
    # and a continuation refuses to write through it.
    (shared / f"{sha}.part").symlink_to(victim)
    assert cache.put(sha, len(data), 0, data[:100], final=False) is False
    assert victim.read_text() == "keep me"
    (shared / f"{sha}.part").unlink()
    (shared / f"{sha}.part").symlink_to(victim)
    with pytest.raises(OSError):
        cache.put(sha, len(data), 100, data[100:], final=True)
    assert victim.read_text() == "keep me"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(SystemExit, match="not a folder"):
        ModelCache(link)


def test_an_upload_past_its_size_or_out_of_order_is_refused(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    sha = "a" * 64
    with pytest.raises(RequestError, match="no upload to follow"):
        cache.put(sha, 10, 5, b"abcde", final=True)
    cache.put(sha, 4, 0, b"ab", final=False)
    with pytest.raises(RequestError, match="announced size"):
        cache.put(sha, 4, 2, b"cdef", final=True)
    with pytest.raises(RequestError, match="size must be"):
        cache.put(sha, -1, 0, b"", final=True)


def test_without_a_cache_option_the_agent_uses_a_fresh_private_folder(tmp_path):
    script = (
        "import sys, runpy, tempfile, os\n"
        f"agent = runpy.run_path({str(AGENT_FILE)!r})\n"
        "seen = []\n"
        "agent['serve'].__globals__['serve'] = lambda i, o, cache: seen.append(cache.folder) or 0\n"
        "agent['main']([])\n"
        "folder = seen[0]\n"
        "print(oct(os.stat(folder).st_mode & 0o777) if folder.exists() else 'gone', folder)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    state, folder = out.stdout.split()
    assert state == "gone"  # removed at exit
    assert (
        Path(folder).name.startswith("modeldesk-agent-") and Path(folder).name != "modeldesk-agent"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("print(json.dumps({'type': 'run', 'id': request['id']}), flush=True)\n", "unexpected"),
        ("print(json.dumps({'type': 'put-model', 'id': 12345}), flush=True)\n", "request 12345"),
        ("print(json.dumps([1, 2]), flush=True)\n", "unexpected reply"),
    ],
)
def test_any_bad_reply_stops_the_agent_so_no_stale_line_is_read(tmp_path, body, message):
    # A late line (here, one more reply) would answer the next request if the agent lived.
    client = AgentClient(fake_agent(tmp_path, body + "print('late', flush=True)\n"))
    client.start()
    with pytest.raises(ProtocolError, match=f"{message}.*agent stopped"):
        client.request({"type": "put-model", "sha256": "f" * 64, "size": 1}, timeout=30)
    assert client.process is None  # stopped and reaped


def test_the_agent_pins_itself_to_the_profiles_cores(tmp_path):
    client = AgentClient(local_command(tmp_path / "cache", cores=[0]))
    try:
        assert client.start()["usable_cores"] == 1
    finally:
        client.stop()


def test_a_full_disk_on_put_model_is_an_error_reply_and_leaves_no_part(tmp_path):
    # A real limit, not a mock: prlimit caps the file size the agent may write (Python
    # ignores SIGXFSZ, so the write fails with EFBIG, as a full disk fails with ENOSPC).
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    cache = tmp_path / "cache"
    command = [prlimit, "--fsize=100000", sys.executable, str(AGENT_FILE), "--cache", str(cache)]
    client = AgentClient(command, name="small device")
    client.start()
    big = tmp_path / "big.onnx"
    big.write_bytes(os.urandom(300_000))
    try:
        with pytest.raises(AgentError, match="on this device") as refused:
            client.put_model(big, hashlib.sha256(big.read_bytes()).hexdigest())
        assert refused.value.kind == "disk"
        assert list(cache.glob("*.part")) == []
        # The agent is still up and answers.
        assert client.request({"type": "hello"})["device"]["providers"]
    finally:
        client.stop()


def test_agent_serve_takes_what_a_frozen_app_passes(tmp_path):
    # A frozen app has no Python to run agent.py with: it runs 'modeldesk agent serve'.
    command = [sys.executable, "-m", "modeldesk.cli", "agent", "serve", "--cache",
               str(tmp_path / "cache"), "--cores", "0"]  # fmt: skip
    client = AgentClient(command, name="served agent")
    try:
        assert client.start()["usable_cores"] == 1
    finally:
        client.stop()
