"""Read a CSV or Parquet file into an Arrow table, refusing what cannot be kept.

Problems are reported as ``DataFileError`` with one line naming the file and
what is wrong. Columns mixing numbers and text are kept as text; NaN and
infinities are kept as values (only empty cells and NA-style markers are
missing).
"""

from __future__ import annotations

import hashlib
import io
import queue
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from modeldesk.errors import Cancelled, DataFileError
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["SUPPORTED_SUFFIXES", "SourceTable", "peek_columns", "read_source"]

SUPPORTED_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Arrow's default null markers include "nan"/"NaN": we want those kept as
# floating-point NaN (and counted), so only empty cells and NA-style markers
# are missing values.
NULL_MARKERS = ["", "NA", "N/A", "n/a", "NULL", "null", "#N/A", "None"]
# Larger blocks than Arrow's 1 MB default: fewer calls through the Python
# file wrapper, and type inference sees more rows before settling.
CSV_BLOCK_BYTES = 4 << 20
_CONVERSION_ERROR = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to \S+: invalid value '(.*)'"
)


@dataclass
class SourceTable:
    """A table read from a source file, with what we learned reading it."""

    table: pa.Table
    format: str
    sha256: str
    size: int
    text_columns_from_mixed: list[str]
    renamed_blank_columns: list[str]


class _CountingReader(io.RawIOBase):
    """A file wrapper that reports progress, honours cancel and hashes what Arrow reads.

    Hashing runs on its own thread so it overlaps with Arrow's parsing
    instead of delaying each block handed to it.
    """

    def __init__(
        self, path: Path, progress: ProgressCallback, cancel: threading.Event | None
    ) -> None:
        self._file = path.open("rb")
        self._size = path.stat().st_size
        self._done = 0
        self._progress = progress
        self._cancel = cancel
        self._name = path.name
        self._digest = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._hasher = threading.Thread(target=self._hash_chunks, daemon=True)
        self._hasher.start()

    def _hash_chunks(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled(f"{self._name}: import cancelled")
        chunk = self._file.read(size)
        if chunk:
            self._chunks.put(chunk)
            self._done += len(chunk)
            self._progress(self._done, self._size, f"reading {self._name}")
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def hexdigest(self) -> str:
        """The sha256 of every byte read (call after the last read)."""
        self._finish_hashing()
        return self._digest.hexdigest()

    def _finish_hashing(self) -> None:
        if self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()

    def close(self) -> None:
        self._finish_hashing()
        self._file.close()
        super().close()


def _clean_column_names(names: list[str], path: Path) -> tuple[list[str], list[str]]:
    """NFC-normalise names, name blank ones, and refuse duplicates."""
    cleaned: list[str] = []
    renamed: list[str] = []
    for position, name in enumerate(names):
        normal = unicodedata.normalize("NFC", name)
        if not normal.strip():
            normal = f"unnamed_{position}"
            renamed.append(normal)
        cleaned.append(normal)
    seen: dict[str, int] = {}
    for position, name in enumerate(cleaned, start=1):
        if name in seen:
            raise DataFileError(
                f"{path}: duplicate column name {name!r} (columns {seen[name]} and {position})"
            )
        seen[name] = position
    return cleaned, renamed


def _csv_header(path: Path) -> list[str]:
    """The header row, read on its own so its problems are reported as such."""
    import csv

    try:
        # errors="replace": the text layer decodes ahead of the first line, and
        # bad bytes further down are Arrow's to report, with their column.
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            header = next(csv.reader(handle), None)
    except csv.Error as error:
        raise DataFileError(f"{path}: the header cannot be parsed ({error})") from None
    if not header:
        raise DataFileError(f"{path}: the file has no header and no rows")
    if any("\ufffd" in name for name in header):
        raise DataFileError(f"{path}: the header is not UTF-8 text; re-save the file as UTF-8")
    return header


def _csv_options(
    names: list[str], column_types: dict[str, pa.DataType]
) -> tuple[pa_csv.ReadOptions, pa_csv.ConvertOptions]:
    return (
        pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES),
        pa_csv.ConvertOptions(
            null_values=NULL_MARKERS, strings_can_be_null=True, column_types=column_types
        ),
    )


def _csv_error(path: Path, names: list[str], error: pa.ArrowInvalid) -> DataFileError:
    message = str(error)
    if "Expected" in message and "columns, got" in message:
        return DataFileError(_describe_ragged_row(path, len(names)))
    return DataFileError(f"{path}: not a readable CSV file ({message})")


def _infer_csv_types(path: Path, names: list[str]) -> dict[str, pa.DataType]:
    """Column types inferred from the first block, for every column that has values there.

    Reading the whole file with every type fixed lets Arrow convert each
    block and drop it; left to infer, it keeps every parsed block until the
    end in case a later one changes a column's type (about 4x the table's
    size at peak instead of 1.5x).
    """
    read_options, convert_options = _csv_options(names, {})
    try:
        with pa_csv.open_csv(
            path, read_options=read_options, convert_options=convert_options
        ) as reader:
            schema = reader.schema
    except pa.ArrowInvalid as error:
        raise _csv_error(path, names, error) from None
    return {field.name: field.type for field in schema if not pa.types.is_null(field.type)}


def _widen(data_type: pa.DataType, bad_value: str) -> pa.DataType:
    """The type to retry a column with after ``bad_value`` failed to convert."""
    if pa.types.is_integer(data_type):
        try:
            float(bad_value)
        except ValueError:
            return pa.string()
        return pa.float64()
    return pa.string()


def _read_csv(
    path: Path, progress: ProgressCallback, cancel: threading.Event | None
) -> SourceTable:
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path}: the file is empty")
    names, renamed = _clean_column_names(_csv_header(path), path)
    column_types = _infer_csv_types(path, names)
    widened: dict[str, str] = {}
    # A value the first block did not predict (text in a number column, a
    # decimal in an integer one) widens that column's type and the file is
    # read again: at most two extra passes per column, usually none.
    for _attempt in range(2 * len(names) + 1):
        source = _CountingReader(path, progress, cancel)
        try:
            read_options, convert_options = _csv_options(names, column_types)
            table = pa_csv.read_csv(
                source, read_options=read_options, convert_options=convert_options
            )
        except pa.ArrowInvalid as error:
            match = _CONVERSION_ERROR.search(str(error))
            if match and int(match.group(1)) < len(names):
                column = names[int(match.group(1))]
                bad_value = match.group(2)
                column_types[column] = _widen(column_types.get(column, pa.string()), bad_value)
                widened[column] = str(column_types[column])
                continue
            raise _csv_error(path, names, error) from None
        finally:
            source.close()
        break
    else:  # pragma: no cover - every retry widens one column, so this cannot loop out
        raise DataFileError(f"{path}: could not settle the column types")
    check_cancel(cancel, str(path))
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise DataFileError(
                f"{path}: column {field.name!r} is not UTF-8 text; re-save the file as UTF-8"
            )
    return SourceTable(
        table=_null_columns_as_text(table),
        format="csv",
        sha256=source.hexdigest(),
        size=size,
        text_columns_from_mixed=sorted(c for c, t in widened.items() if t == "string"),
        renamed_blank_columns=renamed,
    )


def _describe_ragged_row(path: Path, expected: int) -> str:
    """Find the first row whose field count differs from the header's (error path only)."""
    import csv

    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        for fields in reader:
            if len(fields) != expected:
                return (
                    f"{path}: line {reader.line_num} has {len(fields)} fields "
                    f"where the header has {expected}"
                )
    return f"{path}: rows have different numbers of fields"


def _null_columns_as_text(table: pa.Table) -> pa.Table:
    # An all-empty column has Arrow type null; store it as text so later
    # versions with values in it keep a compatible type.
    for index, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(
                index, pa.field(field.name, pa.string()), table.column(index).cast(pa.string())
            )
    return table


def _read_parquet(
    path: Path, progress: ProgressCallback, cancel: threading.Event | None
) -> SourceTable:
    from modeldesk.catalog.blobs import hash_file

    size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path}: the file is empty")
    try:
        parquet = pq.ParquetFile(path)
        names, renamed = _clean_column_names(list(parquet.schema_arrow.names), path)
        parts = []
        groups = parquet.num_row_groups
        for group in range(groups):
            check_cancel(cancel, str(path))
            parts.append(parquet.read_row_group(group))
            progress(group + 1, groups, f"reading {path.name}")
        table = pa.concat_tables(parts) if parts else parquet.schema_arrow.empty_table()
    except (pa.ArrowException, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataFileError(f"{path}: not a readable Parquet file ({first})") from None
    table = table.rename_columns(names)
    return SourceTable(
        table=_null_columns_as_text(table),
        format="parquet",
        sha256=hash_file(path, cancel=cancel),
        size=size,
        text_columns_from_mixed=[],
        renamed_blank_columns=renamed,
    )


def read_source(
    path: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> SourceTable:
    """Read a CSV or Parquet file, refusing files that cannot become a dataset."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .csv or .parquet"
        )
    source = (
        _read_csv(path, progress, cancel)
        if kind == "csv"
        else _read_parquet(path, progress, cancel)
    )
    if source.table.num_columns == 0:
        raise DataFileError(f"{path}: has no columns")
    if source.table.num_rows == 0:
        raise DataFileError(f"{path}: has a header but no data rows")
    return source


def peek_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file, reading only its header or footer.

    Returns an empty list for a file that cannot be read this way; the
    import itself reports what is wrong with it.
    """
    path = Path(path)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    try:
        if kind == "csv":
            return _csv_header(path)
        if kind == "parquet":
            return list(pq.read_schema(path).names)
    except (DataFileError, pa.ArrowException, OSError):
        return []
    return []
