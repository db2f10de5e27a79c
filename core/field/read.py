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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modeldesk.datasets.registry import ColumnInfo
from modeldesk.errors import DataFileError
from modeldesk.field.formats import (
    DEVICE,
    LABEL,
    MAX_COLUMNS,
    TIMESTAMP,
    refuse_mixed,
    table_of,
)
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
    "stored_parquet_options",
    "stream_parquet_capture",
]

SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
            ".pq": "parquet", ".npz": "npz"}  # fmt: skip
MANIFEST = "capture.json"
MAX_MANIFEST_BYTES = 64 << 10
MAX_CAPTURE_BYTES = 16 << 30
STORED_ROW_GROUP = 65_536  # rows per row group of a stored capture (what analyses stream)
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
    rows: int = -1  # of the whole capture (a streamed one's table holds only its start)
    first: float = np.nan  # its earliest and latest times, in seconds
    last: float = np.nan

    def __post_init__(self) -> None:
        if self.rows < 0:
            self.rows = self.table.num_rows
            if self.rows:
                seconds = self.table.column(TIMESTAMP)
                self.first, self.last = float(seconds[0].as_py()), float(seconds[-1].as_py())


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


def _opened(path: Path) -> tuple[str, dict[str, Any]]:
    """The checks before a capture file is read: a file, a known type, a sane size, and
    its manifest. Its kind and manifest."""
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
    return kind, read_manifest(path)


def _layout(path: Path, table: pa.Table, model: ModelVersion) -> tuple[dict[str, int], Any]:
    """Check a capture's columns (``table`` may be empty: only its schema is read)
    against ``model``: its outputs' widths and the plan feeding the model."""
    from modeldesk.debug.feeds import feed_plan

    if table.num_columns > MAX_COLUMNS:
        raise DataFileError(f"{path}: over {MAX_COLUMNS} columns")
    if TIMESTAMP not in table.column_names:
        raise DataFileError(f"{path}: no 'timestamp' column (seconds or ISO 8601 per row)")
    outputs = _outputs(path, table, model)
    plan = feed_plan(model, CaptureColumns(path.name, column_infos(table)), what="capture")
    return outputs, plan


def _kept_rows(path: Path, table: pa.Table) -> tuple[pa.Table, np.ndarray, int]:
    """The rows holding a time and every output, with the time as seconds; (rows, their
    seconds, how many were skipped)."""
    seconds = _timestamps(path, table.column(TIMESTAMP))
    keep = ~np.isnan(seconds)
    for name in table.column_names:
        if name.startswith("output:"):
            keep &= table.column(name).is_valid().to_numpy(zero_copy_only=False)
    table = table.filter(pa.array(keep)).set_column(
        table.column_names.index(TIMESTAMP), TIMESTAMP, pa.array(seconds[keep])
    )
    return table, seconds[keep], int((~keep).sum())


def _kept_columns(table: pa.Table, plan: Any) -> list[str]:
    outputs = [name for name in table.column_names if name.startswith("output:")]
    return [*plan.columns, *outputs, TIMESTAMP] + [
        name for name in (LABEL, DEVICE) if name in table.column_names
    ]


def _skipped(count: int) -> list[str]:
    return [f"{count:,} row(s) without a timestamp or output skipped"] if count else []


OUT_OF_ORDER = "timestamps were out of order; rows are sorted by time"
NO_ROWS = "0 rows hold both a timestamp and the device's outputs"


def read_capture(
    path: Path,
    model: ModelVersion,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> CaptureTable:
    """Read and check the capture at ``path`` against ``model`` (see the module)."""
    path = Path(path)
    kind, manifest = _opened(path)
    progress(0, 3, f"reading {path.name}")
    table = table_of(path, kind, model, cancel)
    check_cancel(cancel, str(path))
    if table.num_rows == 0:
        raise DataFileError(f"{path}: the capture holds no rows")
    if TIMESTAMP in table.column_names:
        refuse_mixed(path, table)
    outputs, plan = _layout(path, table, model)
    progress(1, 3, "checking rows")
    table, seconds, skipped = _kept_rows(path, table)
    if not table.num_rows:
        raise DataFileError(f"{path}: {NO_ROWS}")
    warnings = _skipped(skipped)
    if np.any(np.diff(seconds) < 0):
        warnings.append(OUT_OF_ORDER)
        table = table.take(pa.array(np.argsort(seconds, kind="stable")))
    progress(3, 3, "checked")
    return CaptureTable(table.select(_kept_columns(table, plan)), kind, manifest,
                        list(plan.columns), outputs, warnings)  # fmt: skip


def stored_parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How a checked capture is written: dictionary encoding for text columns only. On
    float columns it finds no repeats and costs most of the write (1,000,000 x 32
    floats: 1.6 s with it, 0.24 s and a third smaller without)."""
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    return {"use_dictionary": text or False}


def stream_parquet_capture(
    path: Path,
    model: ModelVersion,
    target: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> CaptureTable:
    """Check a Parquet capture row group by row group, writing the checked rows to
    ``target`` (Parquet, in row groups of ``STORED_ROW_GROUP`` rows) as it goes, so a
    capture of any length imports in bounded memory. Rows out of time order are sorted
    afterwards (reading ``target`` whole: only such a capture pays for it). The returned
    ``table`` holds the first stored rows only; ``rows``, ``first`` and ``last`` say the rest.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    kind, manifest = _opened(path)
    if kind != "parquet":
        raise ValueError(f"{path}: not a Parquet capture")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DataFileError(f"{path}: not a readable Parquet file ({error})") from None
    if parquet.metadata.num_rows == 0:
        raise DataFileError(f"{path}: the capture holds no rows")
    outputs, plan = _layout(path, parquet.schema_arrow.empty_table(), model)
    writer: Any = None
    pending: list[pa.Table] = []
    rows = skipped = 0
    first, last, ordered = np.inf, -np.inf, True
    groups = parquet.num_row_groups

    def flush() -> None:
        nonlocal writer
        if not pending:
            return
        part = pa.concat_tables(pending)
        pending.clear()
        if writer is None:
            writer = pq.ParquetWriter(target, part.schema, **stored_parquet_options(part.schema))
        writer.write_table(part, row_group_size=STORED_ROW_GROUP)

    try:
        for group in range(groups):
            check_cancel(cancel, str(path))
            try:
                table = parquet.read_row_group(group)
            except (pa.ArrowException, OSError) as error:
                raise DataFileError(f"{path}: row group {group} is unreadable ({error})") from None
            table, seconds, dropped = _kept_rows(path, table)
            skipped += dropped
            if len(seconds):
                ordered &= bool(seconds[0] >= last and np.all(np.diff(seconds) >= 0))
                first, last = min(first, float(seconds.min())), max(last, float(seconds.max()))
                pending.append(table.select(_kept_columns(table, plan)))
                rows += table.num_rows
                if sum(part.num_rows for part in pending) >= STORED_ROW_GROUP:
                    flush()
            progress(group + 1, groups, f"checking {path.name}")
        flush()
    finally:
        if writer is not None:
            writer.close()
    if not rows:
        raise DataFileError(f"{path}: {NO_ROWS}")
    warnings = _skipped(skipped)
    if not ordered:
        warnings.append(OUT_OF_ORDER)
        stored = pq.read_table(target)
        seconds = stored.column(TIMESTAMP).to_numpy()
        stored = stored.take(pa.array(np.argsort(seconds, kind="stable")))
        pq.write_table(stored, target, row_group_size=STORED_ROW_GROUP,
                       **stored_parquet_options(stored.schema))  # fmt: skip
    head = next(pq.ParquetFile(target).iter_batches(batch_size=1))
    checked = CaptureTable(pa.Table.from_batches([head]), kind, manifest, list(plan.columns),
                           outputs, warnings)  # fmt: skip
    checked.rows, checked.first, checked.last = rows, first, last
    return checked
