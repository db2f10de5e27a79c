"""Child-process entry point that examines one untrusted ONNX file.

Run as ``python -m modeldesk.models._examine_child MODEL RESULT_JSON``. Parsing,
checking and a trial ONNX Runtime session all happen here, so a model that
crashes native code takes down this process only; the parent reports it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from modeldesk.errors import ModelFileError


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _trial_session(path: Path) -> str | None:
    """Load the model in ONNX Runtime once; return why it failed, or None."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        return _first_line(error)
    return None


def _parsed(path: Path) -> Any:
    """The ModelProto at ``path`` (external data not read), or why it is not one."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        raise ModelFileError(
            f"{path.name}: not a valid ONNX model (the file does not parse; truncated or corrupt?)"
        ) from None
    if not model.HasField("graph") or not model.opset_import:
        raise ModelFileError(f"{path.name}: not a valid ONNX model (no graph or no opset import)")
    return model


def examine_here(path: Path) -> dict[str, Any]:
    """Parse, check and describe the model at ``path`` in this process."""
    import onnx
    import onnxruntime as ort

    from modeldesk.models.facts import check_external_data, model_facts

    name = path.name
    model = _parsed(path)
    external_files = check_external_data(model, path)
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as error:
        raise ModelFileError(f"{name}: fails the ONNX checker: {_first_line(error)}") from None
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:
        # Shape inference is best effort beyond the checker's own pass: the
        # declared shapes are kept when it cannot improve on them.
        inferred = None
    facts = model_facts(model, inferred)
    facts["external_data"] = external_files
    facts["runtime_error"] = _trial_session(path)
    facts["examined_with"] = {"onnx": onnx.__version__, "onnxruntime": ort.__version__}
    return facts


def describe_here(path: Path) -> dict[str, Any]:
    """The model's graph as data (see ``modeldesk.graph.describe``), in this process.
    The external data is not read: a graph view needs the weights' shapes, not values."""
    from modeldesk.graph.describe import describe_model

    return describe_model(_parsed(path))


def tensor_here(path: Path, name: str) -> dict[str, Any]:
    """Statistics of the weight ``name`` (see ``modeldesk.graph.weights``)."""
    from modeldesk.graph.weights import tensor_statistics

    return tensor_statistics(_parsed(path), name, path.name)


def deltas_here(path: Path, other: Path, pairs_file: Path) -> dict[str, Any]:
    """How much the weights paired in ``pairs_file`` changed from ``path`` to ``other``."""
    from modeldesk.graph.weights import weight_deltas

    pairs = json.loads(pairs_file.read_text("utf-8"))
    return weight_deltas(_parsed(path), _parsed(other), [(str(a), str(b)) for a, b in pairs])


PARENT_ENV = "MODELDESK_EXAMINE_PARENT"
GRAPH_FLAG = "--graph"
TENSOR_FLAG = "--tensor"  # followed by the weight's name
DELTAS_FLAG = "--weight-deltas"  # followed by the other model and a JSON file of pairs


def _die_with_parent() -> None:
    """On Linux, end this process when the one that started it dies.

    The parent enforces the time limit; if it is killed, a model that hangs the parser
    must not keep this process running. Set here rather than through ``preexec_fn``,
    which is unsafe in a threaded parent (the desktop app).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    expected = os.environ.get(PARENT_ENV, "")
    if expected.isdigit() and os.getppid() != int(expected):
        os._exit(1)  # the parent died before the request above took effect


def main(argv: list[str]) -> int:
    """Examine ``argv[1]`` and write ``{"ok": ..., ...}`` JSON to ``argv[2]``; with
    ``--graph`` after them, describe its graph instead; with ``--tensor NAME``, one
    weight's statistics; with ``--weight-deltas OTHER PAIRS``, how weights changed."""
    _die_with_parent()
    try:
        import resource

        # A crash in native code should not leave a core dump behind.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    model_path, result_path = Path(argv[1]), Path(argv[2])
    try:
        mode = argv[3:]
        if mode[:1] == [GRAPH_FLAG]:
            result: dict[str, Any] = {"ok": True, "graph": describe_here(model_path)}
        elif mode[:1] == [TENSOR_FLAG] and len(mode) == 2:
            result = {"ok": True, "tensor": tensor_here(model_path, mode[1])}
        elif mode[:1] == [DELTAS_FLAG] and len(mode) == 3:
            result = {"ok": True, "deltas": deltas_here(model_path, Path(mode[1]), Path(mode[2]))}
        else:
            result = {"ok": True, "facts": examine_here(model_path)}
    except ModelFileError as error:
        result = {"ok": False, "error": str(error)}
    except Exception as error:
        result = {
            "ok": False,
            "error": f"{model_path.name}: cannot be examined "
            f"({type(error).__name__}: {_first_line(error)})",
        }
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
