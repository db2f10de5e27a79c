"""Talking to a benchmark agent: start it, check every reply, send models, run.

A transport gives a command line; the client runs it as a child process and speaks the
agent's JSON-lines protocol over its stdin/stdout. ``local`` runs ``agent.py`` with this
Python (the agent pins itself to chosen cores); ``ssh`` runs the same file on a device.
Every reply is size-limited, parsed, checked against the request (type, id, model hash)
and checked for sane figures before anyone reads it; a reply that fails any check stops
the agent, so a later request can never read a stale line.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeldesk.bench import agent as agent_module
from modeldesk.errors import Cancelled, ModelDeskError

__all__ = [
    "AgentClient",
    "AgentError",
    "AgentTimeout",
    "ProtocolError",
    "local_command",
]

AGENT_FILE = Path(agent_module.__file__)
START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 60.0


class AgentError(ModelDeskError):
    """The agent refused a request or the run failed on the device (kind says how)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ProtocolError(AgentError):
    """The agent answered something that is not a valid reply."""

    def __init__(self, message: str) -> None:
        super().__init__("protocol", message)


class AgentTimeout(AgentError):
    """The agent did not answer in time; it has been stopped."""

    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)


def local_command(
    cache: Path, python: str = sys.executable, cores: list[int] | tuple[int, ...] = ()
) -> list[str]:
    """The command that runs the agent here, caching models in ``cache``.

    With ``cores``, the agent pins itself to them first thing (no ``preexec_fn``, which is
    unsafe in a threaded process such as the desktop app). A frozen app has no Python to
    run agent.py with: it serves through ``agent serve``.
    """
    pinned = ["--cores", ",".join(str(core) for core in cores)] if cores else []
    if getattr(sys, "frozen", False):
        return [sys.executable, "agent", "serve", "--cache", str(cache), *pinned]
    return [python, str(AGENT_FILE), "--cache", str(cache), *pinned]


@dataclass
class AgentClient:
    """One running agent process and the requests sent to it."""

    command: list[str]
    name: str = "local agent"
    process: subprocess.Popen | None = None
    device: dict[str, Any] = field(default_factory=dict)
    _next_id: int = 0
    _lines: queue.Queue = field(default_factory=queue.Queue)
    _stderr: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20))

    def start(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Start the agent and say hello; returns the device facts."""
        try:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            raise AgentError("start", f"{self.name}: cannot start the agent: {error}") from None
        threading.Thread(target=self._read, daemon=True, name="agent-reader").start()
        threading.Thread(target=self._drain_stderr, daemon=True, name="agent-stderr").start()
        try:
            reply = self.request({"type": "hello"}, timeout=timeout)
        except AgentError as error:
            if error.kind not in ("crashed", "timeout"):
                raise
            # No hello: the device is unreachable, refused us, or has no agent to run.
            raise AgentError("connect", f"cannot start the agent: {error}") from None
        device = reply.get("device")
        if not isinstance(device, dict) or not isinstance(device.get("providers"), list):
            raise self._protocol_error("hello without device facts")
        self.device = device
        return device

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stream = self.process.stdout
        while True:
            line = stream.readline(agent_module.MAX_MESSAGE_BYTES + 1)
            self._lines.put(line)
            if not line or len(line) > agent_module.MAX_MESSAGE_BYTES:
                return

    def request(
        self,
        message: dict[str, Any],
        timeout: float = REQUEST_TIMEOUT_S,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its checked reply (raises on error replies).

        A set ``cancel`` stops the agent at once and raises ``Cancelled``.
        """
        if self.process is None or self.process.stdin is None:
            raise AgentError("start", f"{self.name}: the agent is not running")
        self._next_id += 1
        message = {**message, "id": self._next_id}
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        if len(data) > agent_module.MAX_MESSAGE_BYTES:
            # Refused before anything is sent: the stream stays in step.
            raise ProtocolError(f"{self.name}: request over {agent_module.MAX_MESSAGE_BYTES} bytes")
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        line = self._wait(message, timeout, cancel)
        if not line:
            raise self._died()
        reply = self._parse(line, message)
        if reply["type"] == "error":
            raise AgentError(str(reply.get("kind", "error")), f"{self.name}: {reply.get('error')}")
        return reply

    def _wait(
        self, message: dict[str, Any], timeout: float, cancel: threading.Event | None
    ) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            if cancel is not None and cancel.is_set():
                self.stop(kill=True)
                raise Cancelled(f"{self.name}: {message['type']} cancelled; agent stopped")
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop(kill=True)
                raise AgentTimeout(
                    f"{self.name}: no answer to {message['type']} within {timeout:.0f} s; "
                    "agent stopped"
                )
            try:
                return self._lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue

    def _protocol_error(self, problem: str) -> ProtocolError:
        """Stop the agent (its stream can no longer be trusted) and describe why."""
        self.stop(kill=True)
        return ProtocolError(f"{self.name}: {problem}; agent stopped")

    def _parse(self, line: bytes, message: dict[str, Any]) -> dict[str, Any]:
        if len(line) > agent_module.MAX_MESSAGE_BYTES:
            raise self._protocol_error(f"reply over {agent_module.MAX_MESSAGE_BYTES} bytes")
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            shown = line[:60].decode(errors="replace").strip()
            raise self._protocol_error(f"reply is not JSON ({shown!r})") from None
        if not isinstance(reply, dict) or reply.get("type") not in (message["type"], "error"):
            raise self._protocol_error(f"unexpected reply to {message['type']}")
        if reply.get("id") not in (message["id"], None) or (
            reply["type"] != "error" and reply.get("id") != message["id"]
        ):
            raise self._protocol_error(f"reply to request {reply.get('id')}, not {message['id']}")
        if (
            "sha256" in message
            and reply["type"] != "error"
            and reply.get("sha256") != message["sha256"]
        ):
            raise self._protocol_error(
                f"reply names model {str(reply.get('sha256'))[:12]}, not {message['sha256'][:12]}"
            )
        return reply

    def _drain_stderr(self) -> None:
        # Read stderr as it comes: a full pipe would block the agent mid-run.
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            text = line.decode(errors="replace").strip()
            if text:
                self._stderr.append(text)

    def _died(self) -> AgentError:
        assert self.process is not None
        try:
            code: int | str = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its output closed but it lingers: end it
            self.process.kill()
            code = "killed"
        time.sleep(0.05)  # let the stderr reader take the last lines
        last = self._stderr[-1] if self._stderr else f"exit code {code}"
        return AgentError("crashed", f"{self.name}: the agent stopped ({last})")

    # -- the requests ---------------------------------------------------------------
    def put_model(self, path: Path, sha256: str) -> bool:
        """Make sure the device has the model; returns True when it had to be sent."""
        size = path.stat().st_size
        if self.request({"type": "put-model", "sha256": sha256, "size": size}).get("have"):
            return False
        with path.open("rb") as handle:
            offset = 0
            while True:
                chunk = handle.read(agent_module.CHUNK_BYTES)
                final = offset + len(chunk) >= size
                reply = self.request(
                    {
                        "type": "put-model",
                        "sha256": sha256,
                        "size": size,
                        "offset": offset,
                        "data": base64.b64encode(chunk).decode(),
                        "final": final,
                    }
                )
                offset += len(chunk)
                if final:
                    if not reply.get("stored"):
                        raise self._protocol_error("the model was not stored")
                    return True

    def run(
        self,
        sha256: str,
        settings: dict[str, Any],
        timeout: float,
        cancel: threading.Event | None = None,
        files: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Benchmark a model already on the device; returns checked results.

        ``files`` are the model's external data files (``path`` and ``sha256``), which
        must be on the device too (:meth:`put_model` sends any file).
        """
        message: dict[str, Any] = {"type": "run", "sha256": sha256, "settings": settings}
        if files:
            if int(self.device.get("agent_protocol") or 1) < 2:
                raise AgentError(
                    "bad-request",
                    f"{self.name}: the agent there is too old for external data files; "
                    "run 'modeldesk agent install' again",
                )
            message["files"] = files
        reply = self.request(message, timeout, cancel)
        results = reply.get("results")
        if not isinstance(results, dict):
            raise self._protocol_error("run reply without results")
        try:
            check_results(results, self.name)
        except ProtocolError:
            self.stop(kill=True)
            raise
        return results

    def stop(self, *, kill: bool = False) -> None:
        """Say bye (or kill) and reap the process."""
        process = self.process
        if process is None:
            return
        if not kill and process.poll() is None:
            try:
                self.request({"type": "bye"}, timeout=5)
            except AgentError:
                kill = True
        if process.poll() is None:
            process.kill() if kill else process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.process = None

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(kill=exc[0] is not None)


def check_results(results: dict[str, Any], name: str) -> None:
    """Refuse results with missing, negative or non-finite timings."""
    figures = [("load_ms", results.get("load_ms")), ("first_ms", results.get("first_ms"))]
    batches = results.get("batches")
    if not isinstance(batches, list) or not batches:
        raise ProtocolError(f"{name}: results without batches")
    for batch in batches:
        if not isinstance(batch, dict):
            raise ProtocolError(f"{name}: a batch result is not an object")
        for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "min_ms", "max_ms"):
            figures.append((key, batch.get(key)))
        figures += [("latency", value) for value in batch.get("latencies_ms") or [None]]
    for key, value in figures:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ProtocolError(f"{name}: {key} is missing or not a number")
        if not math.isfinite(value) or value < 0:
            raise ProtocolError(f"{name}: {key} is {value}, not a time")
