"""A catalog folder from someone else is untrusted: paths and hashes in catalog.db."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from modeldesk.catalog.maintenance import check_catalog
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.debug import predict
from modeldesk.errors import IntegrityError
from modeldesk.models.importer import import_model

import onnx_factory


@pytest.fixture
def external_model(catalog_path: Path, tmp_path: Path) -> Path:
    """A catalog holding a model whose weights are an external file, and a dataset."""
    rows = np.random.default_rng(0).normal(size=(12, 4))
    csv = tmp_path / "rows.csv"
    csv.write_text("a,b,c,d\n" + "".join(",".join(f"{v:.4f}" for v in r) + "\n" for r in rows))
    model = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(features=4), tmp_path / "m" / "model.onnx", "weights.bin"
    )
    with Catalog.open(catalog_path) as catalog:
        import_dataset(catalog, csv, name="rows")
        import_model(catalog, model, name="m", trained_on="rows@1", features=list("abcd"))
    return catalog_path


def _edit(catalog_path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(catalog_path / "catalog.db")
    with conn:
        conn.execute(sql, params)
    conn.close()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("path", "../../x", "climbs out"),
        ("path", "a/../../../b", "climbs out"),
        ("path", "/tmp/elsewhere", "is absolute"),
        ("path", "..\\..\\x", "backslash"),
        ("file_name", "../model.onnx", "climbs out"),
        ("file_name", "sub/model.onnx", "not a plain file name"),
    ],
)
def test_an_edited_path_is_reported_and_never_materialised(
    external_model, tmp_path, run_cli, column, value, problem
):
    if column == "path":
        _edit(external_model, "UPDATE model_file SET path = ?", value)
    else:
        _edit(external_model, "UPDATE model_version SET file_name = ?", value)
    checked = run_cli("--catalog", external_model, "catalog", "check")
    assert checked.code == 1
    assert problem in checked.out and repr(value) in checked.out
    before = _files(tmp_path)
    with (
        Catalog.open(external_model) as catalog,
        pytest.raises(IntegrityError, match=f"model m@1.*{problem}"),
    ):
        predict(catalog, "m@1", "rows@1")
    debugged = run_cli("--catalog", external_model, "debug", "m@1", "rows@1")
    assert debugged.code == 2 and "refused" in debugged.err
    assert debugged.err.strip().count("\n") == 0
    assert _files(tmp_path) - before <= {"catalog/catalog.db-wal", "catalog/catalog.db-shm"}


def test_a_forged_blob_hash_is_a_problem_not_a_crash(external_model, run_cli):
    _edit(external_model, "UPDATE model_file SET sha256 = '../../../etc/passwd'")
    checked = run_cli("--catalog", external_model, "catalog", "check")
    assert checked.code == 1
    assert "is not a sha256 hex digest" in checked.out and "model_file" in checked.out
    with Catalog.open(external_model) as catalog:
        assert not check_catalog(catalog).ok
        with pytest.raises(IntegrityError, match="not a sha256 hex digest"):
            predict(catalog, "m@1", "rows@1")


def test_an_intact_catalog_with_external_data_checks_clean(external_model):
    with Catalog.open(external_model) as catalog:
        assert check_catalog(catalog).ok
        assert len(predict(catalog, "m@1", "rows@1").predicted) == 12
