"""Look at a stored dataset without loading all of it: row pages and version changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.registry import DatasetVersion

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
    """A page of rows, streamed from the row group that holds the first of them.

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
    # A read buffer (and no pre-buffering) makes Arrow stream each column chunk
    # page by page instead of reading whole chunks up front.
    parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    offset = max(0, min(offset, version.rows))
    wanted = max(0, min(limit, version.rows - offset))
    names = parquet.schema_arrow.names
    # Start at the row group holding `offset` and stream record batches from there:
    # Arrow decodes column pages as the batches need them, so the first rows of a
    # large file come back without the rest of it being read.
    first_group, skip = 0, offset
    while first_group < parquet.num_row_groups:
        group_rows = parquet.metadata.row_group(first_group).num_rows
        if skip < group_rows:
            break
        skip -= group_rows
        first_group += 1
    batches = []
    if wanted and first_group < parquet.num_row_groups:
        groups = list(range(first_group, parquet.num_row_groups))
        for batch in parquet.iter_batches(batch_size=max(wanted, 1024), row_groups=groups):
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            piece = batch.slice(skip, wanted)
            skip = 0
            batches.append(piece)
            wanted -= piece.num_rows
            if wanted <= 0:
                break
    page = pa.Table.from_batches(batches, schema=parquet.schema_arrow) if batches else None
    columns = [page.column(name).to_pylist() for name in names] if page is not None else []
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
