"""Record what a device's model saw and answered, for ``modeldesk field import``.

This one file is what a device application copies beside its code: it needs only the
standard library, numpy and onnxruntime. Wrap the session's ``run``::

    from capture import CaptureRecorder

    recorder = CaptureRecorder(session, "/var/lib/app/captures", release=42,
                               device="ward-tablet-07", profile="ward-tablet")
    outputs = recorder.run(None, {"X": batch})   # what session.run(None, ...) returns
    ...
    recorder.close()                             # writes what is buffered

Each file is a NumPy ``.npz`` (no pickled objects) holding the inputs under their
names, each output as ``output:NAME`` and a ``timestamp`` (seconds since the epoch)
per row, with ``capture.json`` beside it naming the release, the model's sha256, the
device and the profile. Space is bounded: a file is written once ``max_rows`` rows are
buffered (a batch is never split, so a file may hold one batch more), and only the
newest ``max_files`` files are kept (older ones are deleted as new ones are
written), so a device left recording never fills its disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "MANIFEST", "CaptureRecorder"]

FORMAT = "modeldesk-capture/1"
MANIFEST = "capture.json"
PREFIX = "capture-"


class CaptureRecorder:
    """Records the inputs and outputs of ``session.run`` calls into rotating files."""

    def __init__(
        self,
        session: Any,
        folder: str | os.PathLike[str],
        *,
        release: int | None = None,
        model_sha256: str | None = None,
        model_path: str | os.PathLike[str] | None = None,
        device: str = "",
        profile: str = "",
        max_rows: int = 10_000,
        max_files: int = 20,
    ) -> None:
        if max_rows < 1 or max_files < 1:
            raise ValueError("max_rows and max_files must be at least 1")
        if model_sha256 is None and model_path is not None:
            model_sha256 = _sha256(Path(model_path))
        if release is None and model_sha256 is None:
            raise ValueError("name the release or the model (model_sha256 or model_path)")
        self.session = session
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_rows, self.max_files = max_rows, max_files
        self.output_names = [output.name for output in session.get_outputs()]
        self._lock = threading.Lock()  # a device may call run from several threads
        self._parts: list[dict[str, np.ndarray]] = []
        self._rows = 0
        self._sequence = max((_sequence(p) for p in self._files()), default=0)
        manifest = {
            "format": FORMAT,
            "release": release,
            "model_sha256": model_sha256,
            "device": device,
            "profile": profile,
            "inputs": [item.name for item in session.get_inputs()],
            "outputs": self.output_names,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_atomically(self.folder / MANIFEST, json.dumps(manifest, indent=2).encode())

    def run(self, output_names: list[str] | None, feeds: dict[str, Any], *args: Any) -> list:
        """Call ``session.run`` with the same arguments, record the call, return its result."""
        results = self.session.run(output_names, feeds, *args)
        names = output_names or self.output_names
        self.record(feeds, dict(zip(names, results, strict=True)))
        return results

    def record(self, feeds: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Record one batch: the input tensors and the outputs by name."""
        arrays = {name: np.asarray(value) for name, value in feeds.items()}
        rows = len(next(iter(arrays.values()))) if arrays else 0
        for name, value in outputs.items():
            arrays[f"output:{name}"] = _as_array(value)
        arrays["timestamp"] = np.full(rows, time.time(), dtype=np.float64)
        with self._lock:
            self._parts.append(arrays)
            self._rows += rows
            if self._rows >= self.max_rows:
                self._write()

    def flush(self) -> Path | None:
        """Write what is buffered to a new file now; its path, or None if nothing was."""
        with self._lock:
            return self._write() if self._rows else None

    def close(self) -> None:
        """Write what is buffered."""
        self.flush()

    def __enter__(self) -> CaptureRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob(f"{PREFIX}*.npz"), key=_sequence)

    def _write(self) -> Path:
        parts = self._parts
        joined: dict[str, Any] = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        self._parts, self._rows = [], 0
        self._sequence += 1
        path = self.folder / f"{PREFIX}{self._sequence:06d}.npz"
        with tempfile.NamedTemporaryFile(dir=self.folder, suffix=".part", delete=False) as out:
            np.savez(out, **joined)
        os.replace(out.name, path)
        for old in self._files()[: -self.max_files]:
            old.unlink(missing_ok=True)
        return path


def _as_array(value: Any) -> np.ndarray:
    """An output as an array: a ZipMap's list of {label: probability} becomes rows x
    labels, in the first row's label order (what ONNX Runtime gives for every row)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        labels = list(value[0])
        return np.array([[row[label] for label in labels] for row in value], dtype=np.float32)
    return np.asarray(value)


def _sequence(path: Path) -> int:
    digits = path.stem[len(PREFIX) :]
    return int(digits) if digits.isdigit() else 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as out:
        out.write(data)
    os.replace(out.name, path)
