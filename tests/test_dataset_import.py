"""Importing CSV and Parquet: storage, the data dictionary, statistics, bad files."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modeldesk.catalog.store import Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.datasets.registry import get_dataset_version, list_dataset_versions, update_column
from modeldesk.errors import BadInputError, Cancelled, DataFileError, InvalidNameError
from modeldesk.models.importer import import_model

from helpers import catalog_snapshot


def test_csv_is_stored_as_zstd_parquet_with_a_dictionary(catalog: Catalog, csv_file):
    path = csv_file("id,height_mm,colour,ok\n1,10.5,red,true\n2,20.5,blue,false\n3,,red,true\n")
    result = import_dataset(catalog, path, name="parts", label="ok")
    version = result.version
    assert result.created
    assert (version.ref, version.rows, version.column_count) == ("parts@1", 3, 4)
    assert version.source_format == "csv"
    assert version.label == "ok"

    stored = catalog.blobs.verified_path(version.sha256)
    metadata = pq.ParquetFile(stored).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    table = pq.read_table(stored)
    assert table.column("colour").to_pylist() == ["red", "blue", "red"]
    assert table.column("height_mm").to_pylist() == [10.5, 20.5, None]

    columns = {column.name: column for column in version.columns}
    assert [c.name for c in version.columns] == ["id", "height_mm", "colour", "ok"]
    assert (columns["id"].dtype, columns["id"].role) == ("int64", "id")
    assert (columns["height_mm"].dtype, columns["height_mm"].role) == ("float64", "feature")
    assert columns["ok"].role == "label"
    height = columns["height_mm"].stats
    assert (height["count"], height["missing"], height["distinct"]) == (2, 1, 2)
    assert (height["min"], height["max"], height["mean"]) == (10.5, 20.5, 15.5)
    assert height["std"] == pytest.approx(np.std([10.5, 20.5], ddof=1))
    assert sum(height["histogram"]["counts"]) == 2
    colour = columns["colour"].stats
    assert colour["top"] == [["red", 2], ["blue", 1]]
    assert colour["distinct"] == 2


def test_statistics_match_numpy_on_a_larger_column(catalog: Catalog, tmp_path: Path):
    rng = np.random.default_rng(7)
    values = rng.normal(50, 10, size=5000)
    pq.write_table(pa.table({"x": values, "k": rng.integers(0, 5, 5000)}), tmp_path / "d.parquet")
    version = import_dataset(catalog, tmp_path / "d.parquet", name="numbers").version
    stats = version.columns[0].stats
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["std"] == pytest.approx(values.std(ddof=1))
    assert (stats["min"], stats["max"]) == (values.min(), values.max())
    counts, edges = np.histogram(values, bins=20)
    assert stats["histogram"]["counts"] == counts.tolist()
    assert stats["histogram"]["edges"] == pytest.approx(edges.tolist())
    integer = version.columns[1].stats
    assert len(integer["histogram"]["counts"]) == 5  # one bar per value when there are few


def test_nan_and_infinity_are_kept_and_counted(catalog: Catalog, csv_file):
    path = csv_file("x,k\n1.5,a\nnan,b\ninf,c\n-inf,d\nNaN,e\n,f\n2.5,g\n")
    version = import_dataset(catalog, path, name="odd").version
    stats = version.columns[0].stats
    assert (stats["nan"], stats["inf"], stats["missing"]) == (2, 2, 1)
    assert (stats["min"], stats["max"], stats["mean"]) == (1.5, 2.5, 2.0)
    stored = pq.read_table(catalog.blobs.verified_path(version.sha256)).column("x").to_pylist()
    assert stored[0] == 1.5
    assert math.isnan(stored[1]) and stored[2] == math.inf and stored[3] == -math.inf
    assert stored[5] is None


def test_mixed_numbers_and_text_are_kept_as_text(catalog: Catalog, csv_file):
    # The text value comes after Arrow's type inference block, forcing a re-read.
    rows = "".join(f"{i},{i}\n" for i in range(300_000))
    version = import_dataset(
        catalog, csv_file("a,b\n" + rows + "n/a-ish,1\n"), name="mixed"
    ).version
    assert [c.dtype for c in version.columns] == ["string", "int64"]
    assert version.rows == 300_001


def test_parquet_import(catalog: Catalog, tmp_path: Path):
    table = pa.table({"when": pa.array([1, 2, 3], pa.timestamp("s")), "v": [1.0, 2.0, 3.0]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=1)
    version = import_dataset(catalog, tmp_path / "t.parquet", name="times").version
    assert version.source_format == "parquet"
    assert version.rows == 3
    assert version.columns[0].stats["min"].startswith("1970-01-01")


def test_reimporting_the_same_file_creates_nothing(catalog: Catalog, csv_file):
    path = csv_file("a,b\n1,2\n")
    first = import_dataset(catalog, path, name="d")
    again = import_dataset(catalog, path, name="d")
    assert not again.created
    assert again.version.ref == first.version.ref
    path.write_text("a,b\n1,3\n")
    assert import_dataset(catalog, path, name="d").version.ref == "d@2"


def test_ten_thousand_columns(catalog: Catalog, csv_file):
    header = ",".join(f"c{i}" for i in range(10_000))
    row = ",".join(str(i % 7) for i in range(10_000))
    version = import_dataset(catalog, csv_file(f"{header}\n{row}\n{row}\n"), name="wide").version
    assert version.column_count == 10_000
    assert len(get_dataset_version(catalog, "wide@1").columns) == 10_000
    assert version.columns[9_999].stats["max"] == 9_999 % 7


def test_dictionary_entries_can_be_edited_and_are_audited(catalog: Catalog, csv_file):
    import_dataset(catalog, csv_file("t,y\n1,0\n"), name="d", label="y")
    info = update_column(catalog, "d@1", "t", unit="°C", description="temperature", role="label")
    assert (info.unit, info.description, info.role) == ("°C", "temperature", "label")
    version = get_dataset_version(catalog, "d@1")
    assert version.label == "t"
    assert [c.role for c in version.columns] == ["label", "feature"]
    actions = [row["action"] for row in catalog.query("SELECT action FROM audit ORDER BY id")]
    assert actions == ["dataset.import", "dataset.column.update"]
    with pytest.raises(BadInputError, match="role 'boss'"):
        update_column(catalog, "d@1", "t", role="boss")


def test_progress_reaches_the_end_and_cancel_stores_nothing(
    catalog: Catalog, catalog_path: Path, csv_file
):
    path = csv_file("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50_000)))
    reports: list[float] = []
    import_dataset(catalog, path, name="p", progress=lambda d, t, m: reports.append(d / t))
    assert reports[-1] == 1.0
    assert reports == sorted(reports)

    before = catalog_snapshot(catalog_path)
    cancel = threading.Event()

    def cancel_while_reading(done: float, total: float, message: str) -> None:
        if message.startswith("reading"):
            cancel.set()

    path.write_text(path.read_text() + "1,1\n")
    with pytest.raises(Cancelled):
        import_dataset(catalog, path, name="p", progress=cancel_while_reading, cancel=cancel)
    assert catalog_snapshot(catalog_path) == before


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "the file is empty"),
        (b"a,b,c\n", "has a header but no data rows"),
        (b"a,b\n1,2\n3,4,5\n6,7\n", "line 3 has 3 fields where the header has 2"),
        (b"a,b\n1,\xff\xfe\n", "column 'b' is not UTF-8"),
        (b"a,\xff\n1,2\n", "header is not UTF-8"),
        (b"a,b,a\n1,2,3\n", "duplicate column name 'a' \\(columns 1 and 3\\)"),
    ],
    ids=["empty", "header-only", "ragged", "non-utf8", "non-utf8-header", "duplicate-columns"],
)
def test_bad_csv_files(catalog, catalog_path, csv_file, content, pattern):
    path = csv_file("")
    path.write_bytes(content)
    before = catalog_snapshot(catalog_path)
    with pytest.raises(DataFileError, match=pattern) as caught:
        import_dataset(catalog, path, name="bad")
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert catalog_snapshot(catalog_path) == before


def test_corrupted_parquet(catalog, catalog_path, tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    data[-12:-8] = b"\x00\x00\x00\x00"  # footer length says nothing
    path.write_bytes(bytes(data))
    before = catalog_snapshot(catalog_path)
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        import_dataset(catalog, path, name="bad")
    assert catalog_snapshot(catalog_path) == before


def test_unsupported_suffix_and_unknown_label(catalog, catalog_path, csv_file, tmp_path):
    sheet = tmp_path / "d.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    before = catalog_snapshot(catalog_path)
    with pytest.raises(DataFileError, match="unsupported file type '.xlsx'"):
        import_dataset(catalog, sheet, name="bad")
    with pytest.raises(BadInputError, match="--label 'nope'"):
        import_dataset(catalog, csv_file("a\n1\n"), name="bad", label="nope")
    assert catalog_snapshot(catalog_path) == before


@pytest.mark.parametrize(
    "name",
    [
        "quo\"te's",
        "select * from model; drop table model",
        "🚀 rocket",
        "../../etc/passwd",
        "a\\b/c",
        "Robert'); DROP TABLE dataset;--",
    ],
)
def test_awkward_names_are_stored_as_given(catalog, catalog_path, csv_file, model_file, name):
    path = csv_file(f'"{name.replace(chr(34), chr(34) * 2)}",y\n1,2\n')
    dataset = import_dataset(catalog, path, name=name).version
    assert dataset.name == name
    assert dataset.columns[0].name == name
    model = import_model(catalog, model_file(), name=name).version
    assert model.ref == f"{name}@1"
    assert get_dataset_version(catalog, f"{name}@1").name == name
    # Nothing was written outside the blob store.
    files = {p.relative_to(catalog_path).parts[0] for p in catalog_path.rglob("*")}
    assert files <= {"catalog.db", "catalog.db-wal", "catalog.db-shm", "blobs"}
    assert [v.ref for v in list_dataset_versions(catalog)] == [f"{name}@1"]


def test_names_are_nfc_normalised(catalog, csv_file):
    decomposed = "Cafe\u0301"
    version = import_dataset(catalog, csv_file("a\n1\n"), name=decomposed).version
    assert version.name == "Caf\u00e9"
    assert get_dataset_version(catalog, decomposed).name == "Caf\u00e9"


@pytest.mark.parametrize("name", ["", "   ", "a@b", "tab\there", "x" * 201])
def test_unusable_names_are_refused(catalog, catalog_path, csv_file, name):
    before = catalog_snapshot(catalog_path)
    with pytest.raises(InvalidNameError):
        import_dataset(catalog, csv_file("a\n1\n"), name=name)
    assert catalog_snapshot(catalog_path) == before


def test_row_pages_come_from_the_stored_parquet(catalog: Catalog, tmp_path: Path):
    from modeldesk.datasets.preview import preview_rows

    rows = 300_000
    table = pa.table({"n": np.arange(rows), "text": [f"row {i}" for i in range(rows)]})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=100_000)
    version = import_dataset(catalog, tmp_path / "big.parquet", name="big").version
    first = preview_rows(catalog, version, 0, 100)
    assert (first.offset, first.total_rows, len(first.rows)) == (0, rows, 100)
    assert first.columns == ["n", "text"]
    assert first.rows[0] == [0, "row 0"] and first.rows[-1] == [99, "row 99"]
    middle = preview_rows(catalog, version, 150_050, 100, verify=False)
    assert [row[0] for row in middle.rows] == list(range(150_050, 150_150))
    last = preview_rows(catalog, version, rows - 30, 100)
    assert [row[0] for row in last.rows] == list(range(rows - 30, rows))
