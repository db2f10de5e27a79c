"""Examine an untrusted model file safely before anything is stored.

Cheap checks run here (file type by magic bytes, size limits); everything
that parses the file with native code runs in a child process with a time
limit, so a hostile or broken model is reported as an error and never takes
the caller (the CLI or the desktop app) down.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from modeldesk.errors import Cancelled, ModelFileError
from modeldesk.models._examine_child import DELTAS_FLAG, GRAPH_FLAG, PARENT_ENV, TENSOR_FLAG
from modeldesk.models.model_facts import ModelFacts
from modeldesk.progress import ProgressCallback, no_progress

__all__ = [
    "MAX_MODEL_FILE_BYTES",
    "describe_model_graph",
    "examine_model",
    "examine_timeout",
    "model_tensor_statistics",
    "model_weight_deltas",
    "sniff_model_file",
]

# protobuf cannot parse a message of 2 GiB or more; larger weights must be external data.
MAX_MODEL_FILE_BYTES = 2**31 - 1

# First byte of a serialized ModelProto: the tag of one of its fields
# (ir_version, producer_name, ..., graph, opset_import, metadata_props,
# training_info, functions, configuration).
_MODEL_PROTO_FIRST_BYTES = {0x08, 0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0xA2, 0xCA, 0xD2}

_KNOWN_FORMATS: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "a zip archive (PyTorch, Keras or joblib?) - refused, it may execute code"),
    (b"\x93NUMPY", "a NumPy array file, not a model"),
    (b"\x89HDF", "an HDF5 file (Keras?), not an ONNX model"),
    (b"\x1f\x8b", "a gzip archive, not an ONNX model"),
    (b"PAR1", "a Parquet file, not a model (import it with 'data import')"),
    (b"GGUF", "a GGUF file, not an ONNX model"),
    (b"\x7fELF", "an executable, not a model"),
    (b"MZ", "an executable, not a model"),
]


def sniff_model_file(path: Path) -> int:
    """Refuse files that are not ONNX by their first bytes and size; return the size."""
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if not path.is_file():
        raise ModelFileError(f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: the file is empty")
    if size > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(
            f"{path}: {size / 2**30:.1f} GiB is more than an ONNX file can hold (2 GiB); "
            "store the weights as external data"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error.strerror})") from None
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        raise ModelFileError(f"{path}: is a Python pickle - refused, pickles can execute code")
    for magic, what in _KNOWN_FORMATS:
        if head.startswith(magic):
            raise ModelFileError(f"{path}: is {what}")
    if head[4:8] == b"ORTM":
        raise ModelFileError(f"{path}: is an ONNX Runtime .ort file; import the .onnx it came from")
    if head[0] not in _MODEL_PROTO_FIRST_BYTES:
        raise ModelFileError(f"{path}: not an ONNX model (unrecognised file contents)")
    return size


def examine_timeout(size: int) -> float:
    """Seconds the child may take: a minute, plus a minute per GiB of model."""
    return 60.0 + 60.0 * size / 2**30


def _child_command(model: Path, result: Path, *extra: str) -> list[str]:
    # A frozen app has no Python to run "-m" with: it examines through a hidden command.
    if getattr(sys, "frozen", False):
        return [sys.executable, "_examine", str(model), str(result), *extra]
    return [sys.executable, "-m", "modeldesk.models._examine_child", str(model), str(result),
            *extra]  # fmt: skip


def _child_env() -> dict[str, str]:
    # The child is this interpreter, so it imports the same installed `modeldesk`.
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env[PARENT_ENV] = str(os.getpid())  # the child ends itself if this process dies
    return env


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def examine_model(
    path: Path,
    *,
    timeout: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
    child_command: Callable[[Path, Path], list[str]] | None = None,
    scratch: Path | None = None,
) -> ModelFacts:
    """Examine an ONNX file in a child process and return its facts.

    Raises ``ModelFileError`` naming the file and the problem, ``Cancelled``
    if ``cancel`` is set while the child runs. ``child_command`` replaces the
    examiner's command line (a frozen app runs itself; tests use it to stand
    in for a crash no real file can be relied on to cause). The child writes its result
    into ``scratch`` (an empty folder the caller removes; a catalog's own scratch folder,
    so a killed import leaves nothing in the system's temporary folder), or into a
    temporary folder of its own.
    """
    path = Path(path)
    size = sniff_model_file(path)
    command = child_command or _child_command
    with contextlib.ExitStack() as stack:
        if scratch is None:
            scratch = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="modeldesk-examine-"))
            )
        result = _run_child(path, size, scratch, timeout, progress, cancel, command, "examining")
    return ModelFacts.from_dict({**result["facts"], "file_size": size})


def _run_child(
    path: Path,
    size: int,
    scratch: Path,
    timeout: float | None,
    progress: ProgressCallback,
    cancel: threading.Event | None,
    command: Callable[[Path, Path], list[str]],
    doing: str,
) -> dict:
    """Run the examiner child on ``path`` (its work named by ``doing``: "examining",
    "describing") under the time limit; its result, or ``ModelFileError`` saying why not."""
    limit = examine_timeout(size) if timeout is None else timeout
    progress(0, 1, f"{doing} {path.name}")
    result_path = scratch / "result.json"
    stderr_path = scratch / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        child = subprocess.Popen(
            command(path.absolute(), result_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=_child_env(),
        )
        deadline = time.monotonic() + limit
        try:
            while True:
                try:
                    child.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{path}: {doing} cancelled")
                if time.monotonic() > deadline:
                    raise ModelFileError(
                        f"{path}: {doing} the model took longer than {limit:.0f} s; refused"
                    )
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    if child.returncode < 0:
        raise ModelFileError(
            f"{path}: {doing} the model crashed the ONNX parser or runtime "
            f"({_signal_name(child.returncode)}); refused"
        )
    if child.returncode != 0 or not result_path.is_file():
        detail = stderr_path.read_text("utf-8", "replace").strip().splitlines()
        last = detail[-1] if detail else f"exit code {child.returncode}"
        raise ModelFileError(f"{path}: the model examiner failed ({last})")
    result = json.loads(result_path.read_text("utf-8"))
    progress(1, 1, f"done {doing} {path.name}")
    if not result["ok"]:
        raise ModelFileError(result["error"])
    return result


def describe_model_graph(
    path: Path,
    *,
    timeout: float | None = None,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> dict:
    """The graph of the ONNX file at ``path`` as data (``modeldesk.graph.describe``),
    parsed in the examiner child like every untrusted model."""
    path = Path(path)
    size = sniff_model_file(path)

    def command(model: Path, result: Path) -> list[str]:
        return _child_command(model, result, GRAPH_FLAG)

    with tempfile.TemporaryDirectory(prefix="modeldesk-graph-") as folder:
        found = _run_child(path, size, Path(folder), timeout, progress, cancel, command,
                           "describing")  # fmt: skip
    return found["graph"]


def model_tensor_statistics(
    path: Path, name: str, *, cancel: threading.Event | None = None
) -> dict:
    """Min, max, mean, std and sparsity of the weight ``name`` of the ONNX file at
    ``path`` (``modeldesk.graph.weights``), read in the examiner child."""
    path = Path(path)
    size = sniff_model_file(path)

    def command(model: Path, result: Path) -> list[str]:
        return _child_command(model, result, TENSOR_FLAG, name)

    with tempfile.TemporaryDirectory(prefix="modeldesk-tensor-") as folder:
        found = _run_child(path, size, Path(folder), None, no_progress, cancel, command,
                           "reading a weight of")  # fmt: skip
    return found["tensor"]


def model_weight_deltas(
    old: Path, new: Path, pairs: list[tuple[str, str]], *, cancel: threading.Event | None = None
) -> dict[str, dict]:
    """The norm of the change of each paired weight from ``old`` to ``new`` (both parsed
    in the examiner child), keyed by the new weight's name."""
    old, new = Path(old), Path(new)
    size = sniff_model_file(old) + sniff_model_file(new)
    with tempfile.TemporaryDirectory(prefix="modeldesk-deltas-") as folder:
        pairs_file = Path(folder) / "pairs.json"
        pairs_file.write_text(json.dumps(pairs), encoding="utf-8")

        def command(model: Path, result: Path) -> list[str]:
            return _child_command(model, result, DELTAS_FLAG, str(new.absolute()), str(pairs_file))

        found = _run_child(old, size, Path(folder), None, no_progress, cancel, command,
                           "comparing the weights of")  # fmt: skip
    return found["deltas"]
