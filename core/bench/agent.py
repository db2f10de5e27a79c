"""ModelDesk benchmark agent: one file, standard library + numpy + onnxruntime only.

Copy it to a device and run ``python agent.py [--cache DIR] [--cores 0,1]``; it speaks
JSON lines on stdin/stdout, one request and one reply per line, each at most
``MAX_MESSAGE_BYTES``:

* ``{"type": "hello", "id": 1}`` -> device facts (CPU, cores, memory, OS, Python,
  onnxruntime and its execution providers).
* ``{"type": "put-model", "id": 2, "sha256": H, "size": N}`` -> ``{"have": bool}``;
  then chunks ``{"type": "put-model", "id": 3, "sha256": H, "size": N, "offset": O,
  "data": BASE64, "final": bool}``. A file (a model or one of its external data files)
  is cached under its hash and verified.
* ``{"type": "run", "id": 4, "sha256": H, "settings": {...}, "files": [{"path": P,
  "sha256": H2}, ...]}`` -> measurements. ``files`` (optional) are the model's external
  data files, laid out beside it by their relative paths.
* ``{"type": "bye", "id": 5}`` -> the agent exits.

Every reply echoes the request ``id`` (and ``sha256`` where there is one); failures are
``{"type": "error", "id": ..., "kind": ..., "error": "one line"}``. Whatever arrives, the
agent answers with a reply or an error and keeps serving; only ``bye``, the end of input,
or a run over its memory budget end it. Percentiles are those of ONNX Runtime's
``onnxruntime_perf_test``: the sorted latencies at index ``int(n * q)`` (nearest rank,
rounded down).

The model cache is a private folder (mode 0700): ``--cache DIR``, or a fresh temporary
folder removed at exit. ``--cores`` pins the agent to those CPU cores before anything
starts a thread.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import math
import os
import platform
import shutil
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the type checker: the agent runs on any Python 3
    from typing import TypeGuard

PROTOCOL = 2  # 2: external data files (``files`` in run)
MAX_MESSAGE_BYTES = 1 << 20
CHUNK_BYTES = 512 * 1024  # raw bytes per put-model chunk (base64 stays under the limit)
MAX_FILE_BYTES = 1 << 36  # 64 GiB: a larger put-model size is refused up front
MAX_FILES = 256  # external data files per run
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
# Every node's time (slowest first) travels back, so a graph view can colour each node;
# at ~100 bytes a node, 3,000 keep the reply well under MAX_MESSAGE_BYTES.
PROFILE_NODES = 3000
# Each latency travels back in the reply, which must stay under MAX_MESSAGE_BYTES.
MAX_ITERATIONS = 20_000
OPT_LEVELS = ("disabled", "basic", "extended", "all")
SETTINGS = {
    "providers": list,
    "intra_threads": int,
    "inter_threads": int,
    "opt_level": str,
    "batch_sizes": list,
    "dims": dict,
    "axis_dims": dict,
    "warmup": int,
    "iterations": int,
    "profile": bool,
    "memory_mb": int,
    "inputs": list,  # optional real rows: [{"batch": B, "feeds": {name: tensor}}]
}
_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class RequestError(Exception):
    """A request the agent refuses; ``kind`` tells the client what went wrong."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- memory (Linux /proc; elsewhere the figures are absent) -------------------------
def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _mb(kilobytes: int | None) -> float | None:
    return None if kilobytes is None else round(kilobytes / 1024, 3)


# -- device facts -------------------------------------------------------------------
def device_facts() -> dict[str, Any]:
    """What this device is: CPU, cores, memory, OS, Python, onnxruntime, providers."""
    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_mb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_mb": memory_mb,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "agent_protocol": PROTOCOL,
    }


# -- the model cache ----------------------------------------------------------------
def private_folder(folder: Path) -> Path:
    """Create (mode 0700) or check a folder only this user can enter; return it resolved.

    A cache in a shared place (``/tmp``) could be swapped for another user's folder or a
    symbolic link: the folder must be a real directory owned by us, and is made private.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise SystemExit(f"agent: {folder} is not a folder (a symbolic link?); refused")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise SystemExit(f"agent: {folder} belongs to another user; refused")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)
    return folder.resolve()


class ModelCache:
    """Files received from the client (models, external data), kept under their sha256."""

    def __init__(self, folder: Path) -> None:
        self.folder = private_folder(folder)

    def path(self, sha256: str) -> Path:
        return self.folder / f"{sha256}.onnx"

    def has(self, sha256: str) -> bool:
        path = self.path(sha256)
        if not path.is_file() or path.is_symlink():
            return False
        if _hash(path) != sha256:  # damaged on disk: forget it
            path.unlink(missing_ok=True)
            return False
        return True

    def put(self, sha256: str, size: int, offset: int, data: bytes, final: bool) -> bool:
        if not 0 <= size <= MAX_FILE_BYTES:
            raise RequestError("bad-request", f"size must be 0 to {MAX_FILE_BYTES} bytes")
        part = self.folder / f"{sha256}.part"
        nofollow = getattr(os, "O_NOFOLLOW", 0)
        if offset == 0:
            # A fresh upload: drop any earlier partial, then create the file anew, never
            # following a link planted in its place.
            part.unlink(missing_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow
        else:
            flags = os.O_WRONLY | os.O_APPEND | nofollow
        try:
            fd = os.open(part, flags, 0o600)
        except FileNotFoundError:
            raise RequestError(
                "protocol", f"chunk at offset {offset} has no upload to follow"
            ) from None
        with os.fdopen(fd, "ab") as handle:
            if handle.tell() != offset:
                raise RequestError("protocol", f"chunk at offset {offset} does not follow the last")
            if offset + len(data) > size:
                part.unlink(missing_ok=True)
                raise RequestError("integrity", f"chunks pass the announced size of {size} bytes")
            try:
                handle.write(data)
                handle.flush()
            except OSError:
                part.unlink(missing_ok=True)  # a full disk keeps no half upload
                raise
        if not final:
            return False
        actual = _hash(part)
        if part.stat().st_size != size or actual != sha256:
            part.unlink(missing_ok=True)
            raise RequestError("integrity", f"model bytes hash to {actual}, not {sha256}")
        os.replace(part, self.path(sha256))
        return True

    def lay_out(self, sha256: str, files: list[dict[str, Any]], folder: Path) -> Path:
        """The model and its external data files, linked into ``folder`` by path."""
        target = folder / "model.onnx"
        _link(self.path(sha256), target)
        for entry in files:
            destination = folder / entry["path"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            _link(self.path(entry["sha256"]), destination)
        return target


def _link(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or no hard links: copy
        shutil.copyfile(source, destination)


def run_files(raw: Any, cache: ModelCache) -> list[dict[str, Any]]:
    """The ``files`` of a run request, checked: cached hashes and safe relative paths."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_FILES:
        raise RequestError("bad-request", f"files must be a list of at most {MAX_FILES}")
    checked, seen = [], {"model.onnx"}
    for entry in raw:
        if not isinstance(entry, dict):
            raise RequestError("bad-request", "each file is an object with path and sha256")
        path, sha256 = entry.get("path"), entry.get("sha256")
        if not isinstance(path, str) or not _is_hash(sha256):
            raise RequestError("bad-request", "each file needs a path and a sha256")
        parts = PurePosixPath(path).parts
        if (
            not parts
            or PurePosixPath(path).is_absolute()
            or ".." in parts
            or "\\" in path
            or "\x00" in path
            or path in seen
        ):
            raise RequestError("bad-request", f"file path {path!r} is not a new relative path")
        if not cache.has(sha256):
            raise RequestError("no-model", f"file {sha256[:12]} ({path}) is not on this device")
        seen.add(path)
        checked.append({"path": path, "sha256": sha256})
    return checked


def _is_hash(value: Any) -> TypeGuard[str]:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- inputs -------------------------------------------------------------------------
def synthesize_inputs(
    session: Any, batch: int, dims: dict[str, int], axis_dims: dict[str, int]
) -> dict[str, Any]:
    """Random inputs for every model input, dynamic dims resolved from the settings.

    A symbolic dim takes ``dims[name]``; any dynamic axis can be set as
    ``axis_dims["input:axis"]``; a dynamic first axis with neither is the batch size.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    feeds, missing = {}, []
    for item in session.get_inputs():
        shape = []
        for axis, dim in enumerate(item.shape):
            key = f"{item.name}:{axis}"
            if key in axis_dims:
                shape.append(int(axis_dims[key]))
            elif isinstance(dim, int) and dim >= 0:
                shape.append(dim)
            elif isinstance(dim, str) and dim in dims:
                shape.append(int(dims[dim]))
            elif axis == 0:
                shape.append(batch)
            else:
                missing.append(f"{key}" + (f" ({dim})" if isinstance(dim, str) else ""))
                shape.append(1)
        kind = _ONNX_TYPES.get(item.type)
        if kind is None:
            raise RequestError("input", f"input {item.name!r} has type {item.type}, not a tensor")
        if kind == "str":
            feeds[item.name] = np.full(shape, "a", dtype=object)
        elif kind == "bool":
            feeds[item.name] = rng.random(shape) < 0.5
        elif kind.startswith(("int", "uint")):
            feeds[item.name] = rng.integers(0, 8, size=shape).astype(kind)
        else:
            feeds[item.name] = (rng.random(shape) + 0.5).astype(kind)
        # A scalar input comes out of numpy as a scalar, not a 0-d array ORT accepts.
        feeds[item.name] = np.asarray(feeds[item.name])
    if missing:
        raise RequestError("dims", "no value for dynamic dim(s) " + ", ".join(missing))
    return feeds


# -- a run --------------------------------------------------------------------------
def _settings(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RequestError("bad-request", "settings must be an object")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise RequestError("bad-request", f"unknown setting(s) {', '.join(unknown)}")
    settings: dict[str, Any] = {
        "providers": ["CPUExecutionProvider"],
        "intra_threads": 0,
        "inter_threads": 0,
        "opt_level": "all",
        "batch_sizes": [1],
        "dims": {},
        "axis_dims": {},
        "warmup": 10,
        "iterations": 100,
        "profile": True,
        "memory_mb": 0,
        "inputs": [],
    }
    for key, value in raw.items():
        wanted = SETTINGS[key]
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise RequestError("bad-request", f"setting {key} must be {wanted.__name__}")
        settings[key] = value
    if not all(isinstance(p, str) for p in settings["providers"]):
        raise RequestError("bad-request", "providers must be names (strings)")
    if settings["opt_level"] not in OPT_LEVELS:
        raise RequestError("bad-request", f"opt_level must be one of {', '.join(OPT_LEVELS)}")
    counts = [settings["warmup"], settings["iterations"], *settings["batch_sizes"]]
    if (
        not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
        or not 1 <= settings["iterations"] <= MAX_ITERATIONS
        or not settings["batch_sizes"]
        or 0 in settings["batch_sizes"]
    ):
        raise RequestError(
            "bad-request",
            f"warmup >= 0, 1 <= iterations <= {MAX_ITERATIONS}, batch sizes >= 1",
        )
    for table in ("dims", "axis_dims"):
        if not all(isinstance(v, int) and v > 0 for v in settings[table].values()):
            raise RequestError("bad-request", f"{table} values must be positive integers")
    return settings


def decode_inputs(entries: list[Any]) -> dict[int, dict[str, Any]]:
    """Real input rows sent with a run: per batch size, tensors from raw little-endian bytes.

    Each tensor is ``{"dtype": "float32", "shape": [B, F], "data": BASE64}``.
    """
    import numpy as np

    decoded: dict[int, dict[str, Any]] = {}
    allowed = set(_ONNX_TYPES.values()) - {"str"}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("feeds"), dict):
            raise RequestError("bad-request", "inputs: each entry has a batch and feeds")
        batch = entry.get("batch")
        if not _count(batch) or batch < 1:
            raise RequestError("bad-request", "inputs: batch must be a positive integer")
        feeds = {}
        for name, tensor in entry["feeds"].items():
            if not isinstance(tensor, dict):
                raise RequestError("bad-request", f"inputs: tensor {name!r} is not an object")
            dtype, shape, data = tensor.get("dtype"), tensor.get("shape"), tensor.get("data", "")
            if (
                dtype not in allowed
                or not isinstance(shape, list)
                or not all(_count(dim) for dim in shape)
                or not isinstance(data, str)
            ):
                raise RequestError(
                    "bad-request",
                    f"inputs: tensor {name!r} needs a dtype, a shape of counts and base64 data",
                )
            try:
                raw = base64.b64decode(data, validate=True)
            except ValueError:
                raise RequestError(
                    "bad-request", f"inputs: tensor {name!r} is not base64"
                ) from None
            expected = math.prod(shape) * np.dtype(dtype).itemsize
            if len(raw) != expected:
                raise RequestError(
                    "bad-request", f"inputs: tensor {name!r} has {len(raw)} bytes, not {expected}"
                )
            feeds[name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        decoded[batch] = feeds
    return decoded


def _count(value: Any) -> TypeGuard[int]:
    """A whole number of things (an int, never a bool), at least 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _session_options(settings: dict[str, Any]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = settings["intra_threads"]
    options.inter_op_num_threads = settings["inter_threads"]
    options.graph_optimization_level = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[settings["opt_level"]]
    return options


def latency_stats(latencies_ms: list[float]) -> dict[str, float]:
    """p50/p90/p95/p99 as onnxruntime_perf_test takes them, plus mean, std, min, max."""
    ordered = sorted(latencies_ms)
    count = len(ordered)
    stats = {
        f"{name}_ms": ordered[min(int(count * q), count - 1)] for name, q in PERCENTILES.items()
    }
    mean = sum(ordered) / count
    stats["mean_ms"] = mean
    stats["std_ms"] = math.sqrt(sum((x - mean) ** 2 for x in ordered) / count)
    stats["min_ms"] = ordered[0]
    stats["max_ms"] = ordered[-1]
    return stats


def run_model(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Load ``path`` with the settings and measure it (see the module docstring)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    lacking = [p for p in settings["providers"] if p not in available]
    if lacking:
        raise RequestError(
            "provider",
            f"this device lacks {', '.join(lacking)}; it has {', '.join(available)}",
        )
    idle_kb = _status_kb("VmRSS")
    tracked = _reset_peak()
    started = time.perf_counter()
    try:
        session = ort.InferenceSession(
            str(path), _session_options(settings), providers=settings["providers"]
        )
    except Exception as error:  # ORT raises its own types; report them as one line
        raise RequestError("load", f"onnxruntime cannot load the model: {_line(error)}") from None
    load_ms = (time.perf_counter() - started) * 1000
    loaded_kb, load_peak_kb = _status_kb("VmRSS"), _status_kb("VmHWM")
    tracked = _reset_peak() and tracked
    batches, first_ms = [], None
    given = decode_inputs(settings["inputs"])
    for batch in settings["batch_sizes"]:
        feeds = given.get(batch) or synthesize_inputs(
            session, batch, settings["dims"], settings["axis_dims"]
        )
        run = session.run
        try:
            started = time.perf_counter()
            run(None, feeds)
            first = (time.perf_counter() - started) * 1000
            first_ms = first if first_ms is None else first_ms
            for _ in range(settings["warmup"]):
                run(None, feeds)
            latencies = []
            clock = time.perf_counter_ns
            for _ in range(settings["iterations"]):
                tick = clock()
                run(None, feeds)
                latencies.append((clock() - tick) / 1e6)
        except RequestError:
            raise
        except Exception as error:
            raise RequestError("run", f"inference failed: {_line(error)}") from None
        stats: dict[str, Any] = dict(latency_stats(latencies))
        stats["batch"] = batch
        stats["inputs"] = "given" if batch in given else "synthesised"
        stats["throughput_per_s"] = batch * 1000 / stats["mean_ms"] if stats["mean_ms"] else 0.0
        stats["latencies_ms"] = latencies
        batches.append(stats)
    run_peak_kb = _status_kb("VmHWM")
    results: dict[str, Any] = {
        "load_ms": load_ms,
        "first_ms": first_ms,
        "batches": batches,
        "model_bytes": path.stat().st_size,
        "providers": session.get_providers(),
        "idle_rss_mb": _mb(idle_kb),
        "load_peak_rss_mb": _mb(load_peak_kb if tracked else None),
        "load_rss_increase_mb": _mb(load_peak_kb - idle_kb)
        if tracked and load_peak_kb and idle_kb
        else None,
        "peak_rss_mb": _mb(max(filter(None, [load_peak_kb, run_peak_kb]), default=None)),
        "inference_rss_increase_mb": _mb(run_peak_kb - loaded_kb)
        if tracked and run_peak_kb and loaded_kb
        else None,
        "memory_tracked": tracked,
    }
    budget = settings["memory_mb"]
    results["over_memory_budget"] = bool(
        budget and results["peak_rss_mb"] is not None and results["peak_rss_mb"] > budget
    )
    if settings["profile"]:
        results["profile"] = _profile(path, settings)
    return results


def _profile(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """One profiled run: every node's time and provider (slowest first), and per op type."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="modeldesk-agent-") as folder:
        options = _session_options(settings)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(str(path), options, providers=settings["providers"])
        batch = settings["batch_sizes"][0]
        feeds = decode_inputs(settings["inputs"]).get(batch) or synthesize_inputs(
            session, batch, settings["dims"], settings["axis_dims"]
        )
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    nodes: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        args = event.get("args", {})
        name = event["name"][: -len("_kernel_time")]
        entry = nodes.setdefault(
            name,
            {
                "node": name,
                "op": args.get("op_name", "?"),
                "provider": args.get("provider", "?"),
                "us": 0,
            },
        )
        entry["us"] += int(event.get("dur", 0))
    ops: dict[str, dict[str, Any]] = {}
    for entry in nodes.values():
        op = ops.setdefault(entry["op"], {"op": entry["op"], "providers": [], "us": 0, "nodes": 0})
        op["us"] += entry["us"]
        op["nodes"] += 1
        if entry["provider"] not in op["providers"]:
            op["providers"].append(entry["provider"])
    by_time = sorted(nodes.values(), key=lambda e: -e["us"])
    return {
        "nodes": by_time[:PROFILE_NODES],
        "node_count": len(by_time),
        "ops": sorted(ops.values(), key=lambda e: -e["us"]),
        "total_us": sum(e["us"] for e in nodes.values()),
    }


def _line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__


# -- the protocol loop --------------------------------------------------------------
def _require(message: dict[str, Any], field: str, kind: type) -> Any:
    value = message.get(field)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError("bad-request", f"{message.get('type')}: {field} must be {kind.__name__}")
    return value


def handle(message: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    """The reply to one request (raises RequestError for a refused one)."""
    kind = message.get("type")
    reply: dict[str, Any] = {"type": kind, "id": message.get("id")}
    if kind == "hello":
        reply["device"] = device_facts()
        return reply
    if kind == "bye":
        return reply
    if kind not in ("put-model", "run"):
        raise RequestError("bad-request", f"unknown request type {str(kind)[:40]!r}")
    sha256 = _require(message, "sha256", str)
    if not _is_hash(sha256):
        raise RequestError("bad-request", "sha256 must be 64 lowercase hex digits")
    reply["sha256"] = sha256
    if kind == "put-model":
        size = _require(message, "size", int)
        if "data" not in message:
            reply["have"] = cache.has(sha256)
            return reply
        try:
            data = base64.b64decode(_require(message, "data", str), validate=True)
        except ValueError:
            raise RequestError("bad-request", "put-model: data is not base64") from None
        offset = _require(message, "offset", int)
        reply["stored"] = cache.put(sha256, size, offset, data, bool(message.get("final")))
        return reply
    if not cache.has(sha256):
        raise RequestError("no-model", f"model {sha256[:12]} is not on this device")
    files = run_files(message.get("files"), cache)
    settings = _settings(message.get("settings", {}))
    if not files:
        reply["results"] = run_model(cache.path(sha256), settings)
        return reply
    # External data is found beside the model: lay the files out in a private folder.
    with tempfile.TemporaryDirectory(prefix="run-", dir=cache.folder) as folder:
        reply["results"] = run_model(cache.lay_out(sha256, files, Path(folder)), settings)
    return reply


def serve(stdin: Any, stdout: Any, cache: ModelCache) -> int:
    """Answer requests until ``bye`` or the end of input; every line gets one reply."""
    while True:
        line = stdin.readline(MAX_MESSAGE_BYTES + 1)
        if not line:
            return 0
        if len(line) > MAX_MESSAGE_BYTES:
            # Skip the rest of the line: the next one is a request again.
            while line and not line.endswith(b"\n"):
                line = stdin.readline(MAX_MESSAGE_BYTES + 1)
            _send(stdout, {"type": "error", "id": None, "kind": "protocol",
                           "error": f"message over {MAX_MESSAGE_BYTES} bytes"})  # fmt: skip
            continue
        reply = answer(line, cache, stdout)
        _send(stdout, reply)
        if reply.get("type") == "bye":
            return 0


def answer(line: bytes, cache: ModelCache, stdout: Any) -> dict[str, Any]:
    """The reply to one line: a result, or an error with a kind; never an exception."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:  # also not UTF-8, or nested too deep
        return {"type": "error", "id": None, "kind": "protocol", "error": _line(error)}
    request_id = message.get("id") if isinstance(message, dict) else None
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        return {"type": "error", "id": None, "kind": "protocol",
                "error": "each message is a JSON object with an integer id"}  # fmt: skip
    try:
        with MemoryWatchdog(message, stdout):
            return handle(message, cache)
    except RequestError as error:
        kind, text = error.kind, str(error)
    except OSError as error:
        # No space, over quota, or over the file size this process may write.
        full = error.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
        kind, text = ("disk" if full else "io"), f"on this device: {_line(error)}"
    except Exception as error:  # a bug here must not end the agent or desync the client
        kind, text = "internal", f"agent error {type(error).__name__}: {_line(error)}"
    return {"type": "error", "id": request_id, "kind": kind, "error": text}


_SEND_LOCK = threading.Lock()


def _send(stdout: Any, reply: dict[str, Any]) -> None:
    try:
        data = json.dumps(reply, separators=(",", ":"), allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as error:  # a figure that is not JSON (NaN): say so
        failed = {"type": "error", "id": reply.get("id"), "kind": "internal",
                  "error": f"agent error: reply cannot be sent ({_line(error)})"}  # fmt: skip
        data = json.dumps(failed, separators=(",", ":")).encode() + b"\n"
    if len(data) > MAX_MESSAGE_BYTES:
        failed = {"type": "error", "id": reply.get("id"), "kind": "too-large",
                  "error": f"the reply would be over {MAX_MESSAGE_BYTES} bytes"}  # fmt: skip
        data = json.dumps(failed, separators=(",", ":")).encode() + b"\n"
    with _SEND_LOCK:
        stdout.write(data)
        stdout.flush()


class MemoryWatchdog:
    """During a run with a memory budget, stop the agent once its resident memory passes it.

    A device that runs out of memory thrashes or kills something else; the agent instead
    replies with a ``memory`` error naming the budget and exits. Sampled every few
    milliseconds from /proc (Linux); elsewhere the budget is only checked after the run.
    """

    INTERVAL_S = 0.005

    def __init__(self, message: dict[str, Any], stdout: Any) -> None:
        settings = message.get("settings") if message.get("type") == "run" else None
        budget = settings.get("memory_mb") if isinstance(settings, dict) else 0
        self.budget_kb = budget * 1024 if _count(budget) and budget > 0 else 0
        self.message, self.stdout = message, stdout
        self.done = threading.Event()

    def __enter__(self) -> MemoryWatchdog:
        if self.budget_kb and _status_kb("VmRSS") is not None:
            threading.Thread(target=self._watch, daemon=True, name="memory-watchdog").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()

    def _watch(self) -> None:
        while not self.done.wait(self.INTERVAL_S):
            resident = _status_kb("VmRSS") or 0
            if resident > self.budget_kb:
                _send(self.stdout, {
                    "type": "error", "id": self.message.get("id"), "kind": "memory",
                    "error": f"resident memory {resident / 1024:.0f} MB passed the budget of "
                             f"{self.budget_kb // 1024} MB; the agent stopped the run",
                })  # fmt: skip
                os._exit(3)


def main(argv: list[str] | None = None) -> int:
    """``python agent.py [--cache DIR] [--cores 0,1]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = dict(zip(args[::2], args[1::2], strict=False))
    cores = options.get("--cores")
    if cores and hasattr(os, "sched_setaffinity"):
        # First, before onnxruntime or numpy start a thread: threads inherit the mask.
        os.sched_setaffinity(0, {int(core) for core in cores.split(",") if core.strip()})
    if "--cache" in options:
        cache = ModelCache(Path(options["--cache"]).expanduser())
        return serve(sys.stdin.buffer, sys.stdout.buffer, cache)
    # No cache folder given: a private temporary one, never a predictable shared path.
    with tempfile.TemporaryDirectory(prefix="modeldesk-agent-") as folder:
        return serve(sys.stdin.buffer, sys.stdout.buffer, ModelCache(Path(folder)))


if __name__ == "__main__":
    sys.exit(main())
