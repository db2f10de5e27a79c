"""Bad model files: a clear one-line error naming the file, and nothing changed."""

from __future__ import annotations

import os
import pickle
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from modeldesk.catalog.store import Catalog
from modeldesk.errors import Cancelled, ModelFileError
from modeldesk.models.examine import examine_model
from modeldesk.models.importer import import_model

import onnx_factory
from helpers import catalog_snapshot


def _refused(catalog: Catalog, catalog_path: Path, path: Path, pattern: str) -> str:
    before = catalog_snapshot(catalog_path)
    with pytest.raises(ModelFileError, match=pattern) as caught:
        import_model(catalog, path, name="bad")
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    assert catalog_snapshot(catalog_path) == before
    return message


def test_text_file_named_onnx(catalog, catalog_path, tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not weights\n")
    _refused(catalog, catalog_path, path, "not an ONNX model")


def test_empty_file(catalog, catalog_path, tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    _refused(catalog, catalog_path, path, "empty")


def test_pickle_is_refused_without_being_loaded(catalog, catalog_path, tmp_path):
    path = tmp_path / "model.onnx"
    # A pickle that would run code if anything unpickled it.
    path.write_bytes(pickle.dumps(os.system, protocol=4))
    _refused(catalog, catalog_path, path, "pickle")


def test_pytorch_style_zip_is_refused(catalog, catalog_path, tmp_path):
    path = tmp_path / "model.onnx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    _refused(catalog, catalog_path, path, "zip archive")


def test_truncated_onnx(catalog, catalog_path, model_file, tmp_path):
    whole = model_file("control_flow").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(whole[: len(whole) // 2])
    _refused(catalog, catalog_path, path, "does not parse|fails the ONNX checker")


def test_model_that_fails_the_checker(catalog, catalog_path, model_file):
    _refused(catalog, catalog_path, model_file("failing_checker"), "fails the ONNX checker")


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.bin"])
def test_external_data_outside_the_model_folder(catalog, catalog_path, tmp_path, location):
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(), tmp_path / "m" / "model.onnx", "w.bin"
    )
    onnx_factory.point_external_data_at(path, location)
    message = _refused(catalog, catalog_path, path, "outside the model's folder|absolute path")
    assert location in message


def test_external_data_through_a_symlink(catalog, catalog_path, tmp_path):
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(), tmp_path / "m" / "model.onnx", "w.bin"
    )
    (tmp_path / "m" / "w.bin").rename(tmp_path / "elsewhere.bin")
    (tmp_path / "m" / "w.bin").symlink_to(tmp_path / "elsewhere.bin")
    _refused(catalog, catalog_path, path, "symbolic link|outside the model's folder")


def test_missing_external_data_file(catalog, catalog_path, tmp_path):
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(), tmp_path / "m" / "model.onnx", "w.bin"
    )
    (tmp_path / "m" / "w.bin").unlink()
    _refused(catalog, catalog_path, path, "missing file")


def test_external_data_range_past_the_end_of_the_file(catalog, catalog_path, tmp_path):
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(), tmp_path / "m" / "model.onnx", "w.bin"
    )
    (tmp_path / "m" / "w.bin").write_bytes(b"\0" * 4)
    _refused(catalog, catalog_path, path, "holds 4 bytes")


def test_a_crashing_examiner_is_an_error_not_a_crash(model_file):
    # No ONNX file is known to crash the pinned onnx/onnxruntime natively, so a
    # child that dies of SIGSEGV stands in for one; the handling is the same.
    def crashing(model: Path, result: Path) -> list[str]:
        return [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]

    with pytest.raises(ModelFileError, match="crashed.*SIGSEGV"):
        examine_model(model_file(), child_command=crashing)


def test_an_examiner_that_hangs_is_stopped_at_the_time_limit(model_file):
    def hanging(model: Path, result: Path) -> list[str]:
        return [sys.executable, "-c", "import threading; threading.Event().wait()"]

    with pytest.raises(ModelFileError, match="longer than 1 s"):
        examine_model(model_file(), timeout=1, child_command=hanging)


def test_examination_can_be_cancelled(model_file):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        examine_model(model_file(), cancel=cancel)


def test_a_model_onnx_runtime_cannot_load_is_kept_with_a_warning(catalog, tmp_path):
    # A valid ONNX graph using an operator from a domain no runtime here implements.
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mystery", ["X"], ["Y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )
    model.ir_version = 8
    version = import_model(
        catalog, onnx_factory.save(model, tmp_path / "custom.onnx"), name="custom"
    ).version
    assert "Mystery" in version.facts.runtime_error
    assert version.facts.ops == {"com.example.Mystery": 1}
