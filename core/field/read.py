"""Read a field capture (CSV, JSON lines, Parquet or ``.npz``) into one checked table.

A capture is untrusted: it is checked here, where it enters, before anything runs on
it. The result is an Arrow table with the model's feature columns (a tensor recorded
whole is split into the columns its feature mapping names), each output value as
``output:NAME`` (one value per row) or ``output:NAME[K]`` (element K of a row's
output), a ``timestamp`` in seconds since the epoch, and optionally ``label`` and
``device``. Every problem is one line naming the file; nothing is stored on error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modeldesk.datasets.registry import ColumnInfo
from modeldesk.errors import DataFileError
from modeldesk.models.registry import ModelVersion
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = [
    "SUFFIXES",
    "CaptureColumns",
    "CaptureTable",
    "check_device",
    "column_infos",
    "output_width",
    "read_capture",
    "read_manifest",
]

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".pq": "parquet", ".npz": "npz"}  # fmt: skip
MANIFEST = "capture.json"
MAX_MANIFEST_BYTES = 64 << 10
MAX_CAPTURE_BYTES = 16 << 30
MAX_COLUMNS = 100_000
TIMESTAMP, LABEL, DEVICE = "timestamp", "label", "device"
_ELEMENT = re.compile(r"^output:(?P<name>.+)\[(?P<index>\d+)\]$")


@dataclass(frozen=True)
class CaptureColumns:
    """A capture's columns as a feed plan checks them (see ``debug.feeds.feed_plan``)."""

    ref: str
    columns: list[ColumnInfo]


@dataclass
class CaptureTable:
    """A checked capture: its table, its manifest, and what was noticed reading it."""

    table: pa.Table
    format: str
    manifest: dict[str, Any]
    features: list[str]
    outputs: dict[str, int]  # output name -> values per row
    warnings: list[str] = field(default_factory=list)


def check_device(name: str, where: str) -> None:
    """A device name is shown in reports and tables: printable text, 200 characters at most."""
    if len(name) > 200 or not name.isprintable():
        raise DataFileError(f"{where} must be printable text of 200 characters at most")


def read_manifest(path: Path) -> dict[str, Any]:
    """``capture.json`` beside ``path`` (empty when there is none), checked."""
    manifest_path = path.parent / MANIFEST
    if not manifest_path.is_file():
        return {}
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise DataFileError(f"{manifest_path}: over {MAX_MANIFEST_BYTES >> 10} KiB")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFileError(f"{manifest_path}: not JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise DataFileError(f"{manifest_path}: not a JSON object")
    kinds = {"release": int, "model_sha256": str, "device": str, "profile": str}
    for key, kind in kinds.items():
        value = manifest.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise DataFileError(f"{manifest_path}: {key!r} must be a {kind.__name__}")
    profile = manifest.get("profile")
    if profile and not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", profile):
        raise DataFileError(f"{manifest_path}: 'profile' is not a profile name ({profile[:40]!r})")
    if manifest.get("device"):
        check_device(manifest["device"], f"{manifest_path}: 'device'")
    sha = manifest.get("model_sha256")
    if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise DataFileError(f"{manifest_path}: 'model_sha256' is not a sha256 hex digest")
    return manifest


def _columns_of_npz(path: Path, model: ModelVersion) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, loaded without pickle; object arrays refused unread."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise DataFileError(f"{path}: a single .npy array, not an .npz of named arrays")
            if len(archive.files) > MAX_COLUMNS:
                raise DataFileError(f"{path}: over {MAX_COLUMNS} arrays")
            for name in archive.files:
                try:
                    arrays[name] = archive[name]
                except ValueError as error:
                    if "allow_pickle" not in str(error):
                        raise
                    # numpy refuses at the array's header, before any pickled byte is read.
                    raise DataFileError(
                        f"{path}: array {name!r} holds Python objects; they are not loaded "
                        "(record numbers or fixed-width text)"
                    ) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DataFileError(f"{path}: not a readable .npz file ({error})") from None
    columns: dict[str, np.ndarray] = {}
    inputs = {item.name: item for item in model.inputs if item.is_tensor}
    for name, array in arrays.items():
        if array.ndim == 0:
            raise DataFileError(f"{path}: array {name!r} is a scalar, not one value per row")
        if name in inputs and (model.feature_binding or "axis") == "axis" and len(inputs) == 1:
            flat = array.reshape(len(array), -1)
            names = list(model.features or [f"{name}_{j}" for j in range(flat.shape[1])])
            if len(names) != flat.shape[1]:
                raise DataFileError(
                    f"{path}: input {name!r} holds {flat.shape[1]} values per row; model "
                    f"{model.ref} takes {len(names)} features"
                )
            columns.update({column: flat[:, j] for j, column in enumerate(names)})
        elif name.startswith("output:") and array.ndim > 1:
            flat = array.reshape(len(array), -1)
            columns.update({f"{name}[{j}]": flat[:, j] for j in range(flat.shape[1])})
        elif array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
            columns[name] = array.reshape(len(array))
        else:
            raise DataFileError(
                f"{path}: array {name!r} has shape {array.shape}; model {model.ref} has no "
                "input of that name taking a tensor"
            )
    return columns


def _table_of(path: Path, kind: str, model: ModelVersion, cancel: Any) -> pa.Table:
    if kind == "npz":
        columns = _columns_of_npz(path, model)
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise DataFileError(f"{path}: its arrays hold different numbers of rows")
        return pa.table({name: pa.array(values) for name, values in columns.items()})
    if kind == "jsonl":
        import pyarrow.json as pa_json

        try:
            table = pa_json.read_json(path)
        except pa.ArrowInvalid as error:
            first = str(error).strip().splitlines()[0]
            changed = re.search(r"Column\(/(.+?)\) changed from (\w+) to (\w+)", first)
            if changed:  # Arrow counts rows within its read block: the column is what helps
                name, before, after = changed.groups()
                raise DataFileError(
                    f"{path}: column {name!r} mixes {before}s and {after}s; a capture's "
                    "columns each hold one type"
                ) from None
            raise DataFileError(f"{path}: not readable JSON lines ({first})") from None
        return _expand_lists(path, table)
    from modeldesk.datasets.reader import read_source

    source = read_source(path, cancel=cancel)
    mixed = [name for name in source.text_columns_from_mixed if name not in (DEVICE, LABEL)]
    if mixed:
        raise DataFileError(
            f"{path}: column {mixed[0]!r} mixes numbers and text; a capture's columns each "
            "hold one type"
        )
    return source.table


def _expand_lists(path: Path, table: pa.Table) -> pa.Table:
    """A JSON lines output given as a list per row becomes one column per element."""
    for name in list(table.column_names):
        column = table.column(name)
        if not pa.types.is_list(column.type):
            continue
        if not name.startswith("output:"):
            raise DataFileError(f"{path}: column {name!r} holds lists; only outputs may")
        lengths = set(column.combine_chunks().value_lengths().to_pylist())
        if len(lengths) != 1 or None in lengths:
            raise DataFileError(f"{path}: output {name!r} has rows of different lengths")
        width = lengths.pop()
        values = np.asarray(column.combine_chunks().flatten().to_numpy(zero_copy_only=False))
        values = values.reshape(-1, width)
        index = table.column_names.index(name)
        table = table.remove_column(index)
        for j in range(width):
            table = table.append_column(f"{name}[{j}]", pa.array(values[:, j]))
    return table


def output_width(model: ModelVersion, name: str) -> int | None:
    """Values per row of a model output (None when its shape does not say)."""
    output = next((item for item in model.outputs if item.name == name), None)
    if output is None:
        return None
    if output.kind == "sequence":  # a ZipMap: one probability per class
        return len(model.classes or model.facts.class_names or []) or None
    shape = output.shape or ()
    width = 1
    for dim in shape[1:]:
        if not isinstance(dim, int) or dim < 0:
            return None
        width *= dim
    return width


def _outputs(path: Path, table: pa.Table, model: ModelVersion) -> dict[str, int]:
    found: dict[str, list[int]] = {}
    for name in table.column_names:
        element = _ELEMENT.match(name)
        if element:
            found.setdefault(element["name"], []).append(int(element["index"]))
        elif name.startswith("output:"):
            found.setdefault(name.removeprefix("output:"), []).append(-1)
    if not found:
        raise DataFileError(
            f"{path}: no output:NAME column; a capture must hold what the device answered"
        )
    known = [item.name for item in model.outputs]
    widths: dict[str, int] = {}
    for name, indexes in found.items():
        if name not in known:
            raise DataFileError(
                f"{path}: output {name!r} is not an output of model {model.ref} "
                f"(it has {', '.join(known)})"
            )
        width = 1 if indexes == [-1] else len(indexes)
        if indexes != [-1] and sorted(indexes) != list(range(width)):
            raise DataFileError(f"{path}: output {name!r} lacks some of its [K] columns")
        expected = output_width(model, name)
        if expected is not None and expected != width:
            raise DataFileError(
                f"{path}: output {name!r} has {width} value(s) per row; model {model.ref} "
                f"gives {expected}"
            )
        widths[name] = width
    return widths


def _timestamps(path: Path, column: pa.ChunkedArray) -> np.ndarray:
    """Seconds since the epoch from numbers, ISO 8601 text or an Arrow timestamp."""
    data_type = column.type
    try:
        if pa.types.is_timestamp(data_type):
            column = column.cast(pa.timestamp("us", tz=data_type.tz or "UTC"))
            micro = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
            return micro.astype(np.float64) / 1e6
        if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
            texts = column.to_pylist()
            return np.array([_iso_seconds(text) for text in texts], dtype=np.float64)
        if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
            return column.cast(pa.float64()).fill_null(np.nan).to_numpy()
    except (ValueError, TypeError, pa.ArrowInvalid) as error:
        raise DataFileError(f"{path}: column 'timestamp' holds a bad time ({error})") from None
    raise DataFileError(f"{path}: column 'timestamp' is {data_type}, not a time")


def _iso_seconds(text: str | None) -> float:
    if text is None:
        return float("nan")
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def column_infos(table: pa.Table) -> list[ColumnInfo]:
    """The table's columns as a feed plan reads them (outputs, time, label not features)."""
    from modeldesk.datasets.stats import dtype_label

    def role(name: str) -> str:
        reserved = name in (TIMESTAMP, LABEL, DEVICE) or name.startswith("output:")
        return "ignore" if reserved else "feature"

    return [
        ColumnInfo(
            position, name, dtype_label(table.schema.field(name).type), role(name), None, None, {}
        )
        for position, name in enumerate(table.column_names)
    ]


NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|inf|infinity)\s*$"


def _refuse_mixed(path: Path, table: pa.Table) -> None:
    """A text column whose values are numbers but for some (a sensor's "n/a?") is a
    column of numbers with bad values in it: say so, naming the first one, rather than
    let it read as a text feature."""
    import pyarrow.compute as pc

    for name in table.column_names:
        column = table.column(name)
        if name in (DEVICE, LABEL, TIMESTAMP) or not pa.types.is_string(column.type):
            continue
        numeric = pc.match_substring_regex(column, NUMBER, ignore_case=True)
        numbers = pc.sum(numeric).as_py() or 0
        present = len(column) - column.null_count
        if 0 < numbers < present:
            row = pc.index(pc.fill_null(numeric, True), False).as_py()
            raise DataFileError(
                f"{path}: column {name!r} mixes numbers and text (row {row + 1}: "
                f"{column[row].as_py()!r}); a capture's columns each hold one type"
            )


def read_capture(
    path: Path,
    model: ModelVersion,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> CaptureTable:
    """Read and check the capture at ``path`` against ``model`` (see the module)."""
    from modeldesk.debug.feeds import feed_plan

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataFileError(
            f"{path}: unsupported capture type {path.suffix or '(none)'!r}; use .csv, "
            ".jsonl, .parquet or .npz"
        )
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path}: the file is empty")
    if size > MAX_CAPTURE_BYTES:
        raise DataFileError(f"{path}: over {MAX_CAPTURE_BYTES >> 30} GiB; split the capture")
    manifest = read_manifest(path)
    progress(0, 3, f"reading {path.name}")
    table = _table_of(path, kind, model, cancel)
    check_cancel(cancel, str(path))
    if table.num_rows == 0:
        raise DataFileError(f"{path}: the capture holds no rows")
    if table.num_columns > MAX_COLUMNS:
        raise DataFileError(f"{path}: over {MAX_COLUMNS} columns")
    if TIMESTAMP not in table.column_names:
        raise DataFileError(f"{path}: no 'timestamp' column (seconds or ISO 8601 per row)")
    _refuse_mixed(path, table)
    outputs = _outputs(path, table, model)
    plan = feed_plan(model, CaptureColumns(path.name, column_infos(table)), what="capture")
    progress(1, 3, "checking rows")
    warnings: list[str] = []
    seconds = _timestamps(path, table.column(TIMESTAMP))
    output_columns = [name for name in table.column_names if name.startswith("output:")]
    keep = ~np.isnan(seconds)
    for name in output_columns:
        keep &= table.column(name).is_valid().to_numpy(zero_copy_only=False)
    if not keep.any():
        raise DataFileError(f"{path}: 0 rows hold both a timestamp and the device's outputs")
    if not keep.all():
        warnings.append(f"{int((~keep).sum()):,} row(s) without a timestamp or output skipped")
    table = table.filter(pa.array(keep)).set_column(
        table.column_names.index(TIMESTAMP), TIMESTAMP, pa.array(seconds[keep])
    )
    order = np.argsort(seconds[keep], kind="stable")
    if np.any(np.diff(seconds[keep]) < 0):
        warnings.append("timestamps were out of order; rows are sorted by time")
        table = table.take(pa.array(order))
    kept = [*plan.columns, *output_columns, TIMESTAMP]
    kept += [name for name in (LABEL, DEVICE) if name in table.column_names]
    progress(3, 3, "checked")
    return CaptureTable(table.select(kept), kind, manifest, list(plan.columns), outputs, warnings)
