"""I/O contract diff: every kind of change, classified breaking or compatible."""

from __future__ import annotations

import pytest

from modeldesk.catalog.store import Catalog
from modeldesk.models.compare import compare_versions
from modeldesk.models.contract import diff_contract, format_io, format_shape
from modeldesk.models.importer import import_model
from modeldesk.models.model_facts import ModelFacts, ValueInfo


def _facts(inputs=(), outputs=()):
    return ModelFacts.from_dict(
        {"inputs": [v.to_dict() for v in inputs], "outputs": [v.to_dict() for v in outputs]}
    )


def _tensor(name, dtype="float32", shape=("batch", 4)):
    return ValueInfo(name, "tensor", dtype, None if shape is None else tuple(shape))


def _single(old, new):
    (change,) = diff_contract(old, new)
    return change


def test_formats_follow_the_shape_conventions():
    assert format_shape([1, 3, None, "width"]) == "1×3×?×width"
    assert format_shape([]) == "scalar"
    assert format_shape(None) == "?"
    assert format_io(_tensor("X", shape=["batch", 4])) == "X: float32[batch×4]"


def test_identical_contracts_have_no_changes():
    facts = _facts([_tensor("X")], [_tensor("Y")])
    assert diff_contract(facts, facts) == []


@pytest.mark.parametrize(
    ("side", "old", "new", "change", "breaking"),
    [
        ("input", [_tensor("X")], [], "removed", True),
        ("input", [], [_tensor("X")], "added", True),
        ("output", [_tensor("Y")], [], "removed", True),
        ("output", [], [_tensor("Y")], "added", False),
        ("input", [_tensor("X")], [_tensor("X", dtype="float16")], "dtype", True),
        ("output", [_tensor("Y")], [_tensor("Y", dtype="int64")], "dtype", True),
        ("input", [_tensor("X")], [_tensor("X", shape=("batch", 4, 1))], "rank", True),
        ("input", [_tensor("X")], [_tensor("X", shape=("batch", 5))], "dim", True),
        ("input", [_tensor("X")], [_tensor("X", shape=("batch", "features"))], "dim", False),
        ("input", [_tensor("X", shape=("batch", None))], [_tensor("X")], "dim", True),
        ("output", [_tensor("Y")], [_tensor("Y", shape=("batch", None))], "dim", True),
        ("output", [_tensor("Y", shape=("batch", None))], [_tensor("Y")], "dim", False),
        ("input", [_tensor("X", shape=("n", 4))], [_tensor("X", shape=("batch", 4))], "dim", False),
        ("input", [_tensor("X")], [_tensor("X", shape=None)], "rank", False),
        (
            "input",
            [_tensor("X")],
            [ValueInfo("X", "sequence", "seq(x)", None)],
            "kind",
            True,
        ),
    ],
)
def test_change_classification(side, old, new, change, breaking):
    if side == "input":
        result = _single(_facts(inputs=old), _facts(inputs=new))
    else:
        result = _single(_facts(outputs=old), _facts(outputs=new))
    assert (result.side, result.change, result.breaking) == (side, change, breaking)
    assert result.reason


def test_diff_between_real_versions(catalog: Catalog, model_file):
    import_model(catalog, model_file(name="a.onnx", features=4), name="m")
    import_model(catalog, model_file(name="b.onnx", features=5, author="x"), name="m")
    from modeldesk.models.registry import get_model_version

    diff = compare_versions(get_model_version(catalog, "m@1"), get_model_version(catalog, "m@2"))
    assert diff.breaking
    assert [(c.side, c.name, c.change, c.breaking) for c in diff.contract] == [
        ("input", "X", "dim", True)
    ]
    assert diff.contract[0].before == "X: float32[batch×4]"
    assert diff.contract[0].after == "X: float32[batch×5]"
    assert diff.param_count == (5, 6)
    assert diff.metadata == {"author": (None, "x")}
    assert diff.ops == {}
