"""Look at a stored dataset without loading all of it: row pages and version changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.catalog.store import Catalog
from core.datasets.registry import DatasetVersion

__all__ = ["DatasetChanges", "RowPage", "compare_dataset_versions", "preview_rows"]


@dataclass(frozen=True)
class RowPage:
    """Rows ``offset .. offset + len(rows)`` of a dataset version."""

    columns: list[str]
    rows: list[list[Any]]
    offset: int
    total_rows: int


def preview_rows(
    catalog: Catalog, version: DatasetVersion, offset: int, limit: int, *, verify: bool = True
) -> RowPage:
    """A page of rows, reading only the Parquet row groups that hold them.

    With ``verify`` the blob is checked against its hash first
    (``IntegrityError`` if it changed on disk); a viewer paging through one
    version verifies its first page only.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = (
        catalog.blobs.verified_path(version.sha256)
        if verify
        else catalog.blobs.path(version.sha256)
    )
    parquet = pq.ParquetFile(path)
    offset = max(0, min(offset, version.rows))
    end = min(offset + max(limit, 0), version.rows)
    pieces = []
    start_of_group = 0
    for group in range(parquet.num_row_groups):
        group_rows = parquet.metadata.row_group(group).num_rows
        group_end = start_of_group + group_rows
        if group_end > offset and start_of_group < end:
            table = parquet.read_row_group(group)
            pieces.append(
                table.slice(max(offset - start_of_group, 0), end - max(offset, start_of_group))
            )
        start_of_group = group_end
        if start_of_group >= end:
            break
    names = parquet.schema_arrow.names
    page = pa.concat_tables(pieces) if pieces else parquet.schema_arrow.empty_table()
    columns = [page.column(name).to_pylist() for name in names]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return RowPage(columns=list(names), rows=rows, offset=offset, total_rows=version.rows)


@dataclass(frozen=True)
class DatasetChanges:
    """How dataset version ``new`` differs from ``old`` in rows and schema."""

    old: str
    new: str
    rows: tuple[int, int]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: dict[str, tuple[str, str]] = field(default_factory=dict)
    role_changed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def unchanged_schema(self) -> bool:
        """True when no column was added, removed or retyped."""
        return not (self.added or self.removed or self.retyped)


def compare_dataset_versions(old: DatasetVersion, new: DatasetVersion) -> DatasetChanges:
    """Rows and schema changes from ``old`` to ``new`` (from their dictionaries)."""
    before = {column.name: column for column in old.columns}
    after = {column.name: column for column in new.columns}
    return DatasetChanges(
        old=old.ref,
        new=new.ref,
        rows=(old.rows, new.rows),
        added=[name for name in after if name not in before],
        removed=[name for name in before if name not in after],
        retyped={
            name: (before[name].dtype, after[name].dtype)
            for name in after
            if name in before and before[name].dtype != after[name].dtype
        },
        role_changed={
            name: (before[name].role, after[name].role)
            for name in after
            if name in before and before[name].role != after[name].role
        },
    )
