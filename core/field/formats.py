"""Reading a capture file's rows by format (CSV, JSON lines, Parquet, ``.npz``), the
untrusted way: ``.npz`` without pickle (object arrays refused unread), JSON lines with
list outputs split per element, and a column of numbers with text in it refused."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modeldesk.errors import DataFileError
from modeldesk.models.registry import ModelVersion

__all__ = ["refuse_mixed", "table_of"]

DEVICE, LABEL, TIMESTAMP = "device", "label", "timestamp"
MAX_COLUMNS = 100_000


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


def table_of(path: Path, kind: str, model: ModelVersion, cancel: Any) -> pa.Table:
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


NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|inf|infinity)\s*$"


def refuse_mixed(path: Path, table: pa.Table) -> None:
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
