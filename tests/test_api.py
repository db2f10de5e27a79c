"""The public API: ``import modeldesk`` is cheap, its names resolve, options are keywords."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import modeldesk
from modeldesk.catalog.store import Catalog


def test_importing_modeldesk_loads_nothing_heavy():
    check = (
        "import sys, json, modeldesk\n"
        "heavy = ('onnx', 'onnxruntime', 'numpy', 'pyarrow', 'shap', 'PySide6', 'sqlite3')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_every_public_name_resolves_and_unknown_names_fail():
    for name in modeldesk.__all__:
        assert getattr(modeldesk, name) is not None, name
    assert set(modeldesk.__all__) <= set(dir(modeldesk))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        modeldesk.nonsense  # noqa: B018


def test_what_type_checkers_see_is_what_loads():
    # The TYPE_CHECKING imports (for mypy and editors) and the run-time table must agree.
    tree = ast.parse(Path(modeldesk.__file__).read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    seen = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == modeldesk._HOME


def test_options_are_keyword_only():
    # What a function works on is positional; how it works is a keyword, as in httpx.
    subjects = {"catalog", "path", "file", "model", "data", "model_ref", "data_ref", "ref", "name"}
    for name in modeldesk.__all__:
        function = getattr(modeldesk, name)
        if not inspect.isfunction(function):
            continue
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
                assert parameter.name in subjects, f"{name}({parameter.name}) is positional"


def test_results_are_dataclasses_with_typed_facts(tmp_path, model_file):
    with modeldesk.create_catalog(tmp_path / "c") as catalog:
        assert isinstance(catalog, Catalog)
        model = modeldesk.import_model(catalog, model_file("linear_regressor"), name="m")
        again = modeldesk.get_model(catalog, "m")
        listed = modeldesk.list_models(catalog)
    for value in (model, model.facts, *model.inputs, listed[0]):
        assert dataclasses.is_dataclass(value), type(value)
    assert again == model
    assert isinstance(model.facts, modeldesk.ModelFacts)
    assert model.inputs == [modeldesk.ValueInfo("X", "tensor", "float32", ("batch", 4))]
    assert str(model.inputs[0]) == "X: float32[batch×4]"
    assert listed[0].ref == "m@1" and listed[0].inputs == ["X: float32[batch×4]"]
    assert listed[0].opsets == {"ai.onnx": 17}


def test_errors_are_the_modeldesk_tree(tmp_path):
    with pytest.raises(modeldesk.NotFoundError, match="no such catalog folder"):
        modeldesk.open_catalog(tmp_path / "missing")
    catalog = modeldesk.open_catalog(tmp_path / "made", create=True)
    with catalog, pytest.raises(modeldesk.NotFoundError) as raised:
        modeldesk.get_model(catalog, "absent@1")
    assert isinstance(raised.value, modeldesk.ModelDeskError)
    assert "\n" not in str(raised.value)


def test_a_debug_report_reads_its_metrics_by_name(demo):
    report = modeldesk.debug_report(demo, "breast-cancer@1", "breast-cancer-test@1", worst=3)
    assert 0.8 < report.metric("accuracy") <= 1.0
    assert len(report.worst_rows) == 3
    with pytest.raises(KeyError, match="no metric 'mae'.*accuracy"):
        report.metric("mae")
