"""Importing real ONNX files: the facts recorded, versions, lineage, idempotence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
import pytest

from modeldesk.catalog.maintenance import check_catalog
from modeldesk.catalog.store import Catalog
from modeldesk.datasets.importer import import_dataset
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.importer import import_model
from modeldesk.models.model_facts import ExternalData, ModelFacts, Opset, StoredFile, ValueInfo
from modeldesk.models.registry import get_model_version, list_model_versions

import onnx_factory


def test_linear_model_facts(catalog: Catalog, model_file):
    path = model_file("linear_regressor", features=4, author="ml-team", note="first")
    result = import_model(catalog, path, name="price")
    version = result.version
    assert result.created
    assert (version.name, version.version, version.ref) == ("price", 1, "price@1")
    assert version.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert version.file_size == path.stat().st_size
    facts = version.facts
    assert facts.ir_version == 8
    assert facts.producer_name == "modeldesk-tests"
    assert facts.opsets == [Opset("ai.onnx", 17)]
    assert facts.inputs == [ValueInfo("X", "tensor", "float32", ("batch", 4))]
    assert facts.outputs == [ValueInfo("Y", "tensor", "float32", ("batch", 1))]
    # The stored and --json form keeps the shape as a list.
    assert facts.to_dict()["inputs"][0]["shape"] == ["batch", 4]
    assert ModelFacts.from_dict(facts.to_dict()) == facts
    assert facts.ops == {"Add": 1, "MatMul": 1}
    assert facts.param_count == 4 + 1
    assert facts.initializer_bytes == (4 + 1) * 4
    assert facts.metadata == {"author": "ml-team", "note": "first"}
    assert facts.runtime_error is None
    assert catalog.blobs.path(version.sha256).read_bytes() == path.read_bytes()


def test_several_inputs_and_outputs_with_every_dtype_and_dim_kind(catalog: Catalog, model_file):
    version = import_model(catalog, model_file("multi_io"), name="multi").version
    inputs = {item.name: item for item in version.inputs}
    assert inputs["tokens"].dtype == "int64"
    assert inputs["tokens"].shape == ("batch", "sequence")
    assert inputs["positions"].dtype == "int32"
    assert inputs["positions"].shape == ("batch", None)  # unnamed dynamic dim
    assert inputs["mask"].dtype == "bool"
    assert inputs["image"].dtype == "float16"
    assert inputs["image"].shape == (1, 3, None, None)
    assert inputs["temperature"].shape == ()  # a scalar input
    outputs = {item.name: item for item in version.outputs}
    assert set(outputs) == {"scores", "positions_out", "image_out", "inverted"}
    # Shape inference never leaks its invented names: unknown stays unknown.
    assert outputs["image_out"].shape == (1, 3, None, None)


def test_control_flow_subgraphs_are_counted(catalog: Catalog, model_file):
    facts = import_model(catalog, model_file("control_flow"), name="flow").version.facts
    assert facts.ops["If"] == 1
    assert facts.ops["Loop"] == 1
    assert facts.ops["Scan"] == 1
    # Add appears in the then-branch, the loop body and the scan body.
    assert facts.ops["Add"] == 3
    assert facts.subgraph_count == 4
    assert facts.runtime_error is None


def test_ml_domain_tree_classifier_and_class_names(catalog: Catalog, model_file):
    version = import_model(catalog, model_file("tree_classifier"), name="trees").version
    assert Opset("ai.onnx.ml", 3) in version.facts.opsets
    assert version.facts.ops == {
        "ai.onnx.ml.TreeEnsembleClassifier": 1,
        "ai.onnx.ml.ZipMap": 1,
    }
    assert version.classes == ["benign", "malignant"]
    assert version.facts.task == "classification"
    probability = version.outputs[1]
    assert probability.kind == "sequence"
    assert probability.dtype == "seq(map(string, tensor(float32)))"


def test_class_names_from_metadata_win_over_graph_and_flag_wins_over_both(
    catalog: Catalog, model_file
):
    with_metadata = model_file("linear_regressor", name="meta.onnx", classes='["cat","dog"]')
    assert import_model(catalog, with_metadata, name="pets").version.classes == ["cat", "dog"]
    explicit = import_model(
        catalog,
        model_file("linear_regressor", name="m2.onnx", seed=3),
        name="pets",
        classes=["a", "b"],
    )
    assert explicit.version.classes == ["a", "b"]


def test_reimporting_the_same_bytes_creates_nothing(catalog: Catalog, model_file):
    path = model_file("linear_regressor")
    first = import_model(catalog, path, name="m")
    audit_rows = catalog.query("SELECT COUNT(*) AS n FROM audit")[0]["n"]
    again = import_model(catalog, path, name="m")
    assert not again.created
    assert again.version.ref == first.version.ref
    assert catalog.query("SELECT COUNT(*) AS n FROM audit")[0]["n"] == audit_rows
    # Same bytes under another name are a new model (the blob is shared).
    other = import_model(catalog, path, name="other")
    assert other.created
    assert other.version.sha256 == first.version.sha256


def test_versions_number_per_name_and_resolve_by_reference(catalog: Catalog, model_file):
    for seed in range(3):
        import_model(catalog, model_file(name=f"m{seed}.onnx", seed=seed), name="m")
    import_model(catalog, model_file(name="x.onnx", seed=9), name="x")
    assert get_model_version(catalog, "m@latest").version == 3
    assert get_model_version(catalog, "m").version == 3
    assert get_model_version(catalog, "m@2").version == 2
    listing = list_model_versions(catalog)
    assert [row["ref"] for row in listing] == ["m@1", "m@2", "m@3", "x@1"]
    assert [row["ref"] for row in list_model_versions(catalog, "m")] == ["m@1", "m@2", "m@3"]
    with pytest.raises(NotFoundError, match="m@4"):
        get_model_version(catalog, "m@4")
    with pytest.raises(NotFoundError, match="'nope'"):
        get_model_version(catalog, "nope@1")


def test_lineage_training_data_and_feature_mapping(catalog: Catalog, model_file, csv_file):
    data = csv_file("id,a,b,c,d,y\n1,0.1,0.2,0.3,0.4,1\n2,0.5,0.6,0.7,0.8,0\n")
    dataset = import_dataset(catalog, data, name="train", label="y").version
    assert [c.role for c in dataset.columns] == [
        "id",
        "feature",
        "feature",
        "feature",
        "feature",
        "label",
    ]

    first = import_model(catalog, model_file(name="v1.onnx"), name="m", trained_on="train@1")
    assert first.version.trained_on == "train@1"
    assert first.version.features == ["a", "b", "c", "d"]  # the dataset's feature columns
    assert first.version.feature_binding == "axis"
    assert first.version.label == "y"

    second = import_model(
        catalog,
        model_file(name="v2.onnx", seed=1),
        name="m",
        parent=1,
        trained_on="train@1",
        features=["d", "c", "b", "a"],
        tags={"stage": "candidate"},
    )
    assert second.version.parent_version == 1
    assert second.version.features == ["d", "c", "b", "a"]
    assert second.version.tags == {"stage": "candidate"}


def test_inputs_named_after_columns_map_by_name(catalog: Catalog, tmp_path: Path, csv_file):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["age", "income"], ["score"])],
        "by_name",
        [
            helper.make_tensor_value_info("age", TensorProto.FLOAT, ["n", 1]),
            helper.make_tensor_value_info("income", TensorProto.FLOAT, ["n", 1]),
        ],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = onnx_factory.save(model, tmp_path / "by_name.onnx")
    import_dataset(catalog, csv_file("income,age,y\n1,2,3\n"), name="people", label="y")
    version = import_model(catalog, path, name="score", trained_on="people@1").version
    assert version.features == ["age", "income"]
    assert version.feature_binding == "inputs"


def test_feature_mistakes_are_refused_before_anything_is_stored(
    catalog: Catalog, model_file, csv_file
):
    import_dataset(catalog, csv_file("a,b,c,y\n1,2,3,4\n"), name="three", label="y")
    path = model_file("linear_regressor", features=4)
    with pytest.raises(BadInputError, match="takes 4 features but dataset three@1 has 3"):
        import_model(catalog, path, name="m", trained_on="three@1")
    with pytest.raises(BadInputError, match="'zz'"):
        import_model(catalog, path, name="m", trained_on="three@1", features=["a", "b", "c", "zz"])
    with pytest.raises(BadInputError, match="label column 'y'"):
        import_model(catalog, path, name="m", trained_on="three@1", features=["a", "b", "c", "y"])
    with pytest.raises(BadInputError, match="3 feature columns given but input 'X' takes 4"):
        import_model(catalog, path, name="m", features=["a", "b", "c"])
    with pytest.raises(NotFoundError, match="model 'm'"):
        import_model(catalog, path, name="m", parent=1)
    assert list_model_versions(catalog) == []


def test_external_data_is_stored_and_verified(catalog: Catalog, tmp_path: Path):
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(features=64), tmp_path / "ext" / "model.onnx", "weights.bin"
    )
    weights = tmp_path / "ext" / "weights.bin"
    version = import_model(catalog, path, name="big").version
    assert version.facts.external_data == [
        ExternalData("weights.bin", weights.stat().st_size, tensors=2)
    ]
    assert version.external_files == [
        StoredFile(
            "weights.bin", hashlib.sha256(weights.read_bytes()).hexdigest(), weights.stat().st_size
        )
    ]
    assert version.facts.param_count == 64 + 1
    assert check_catalog(catalog).ok
    # Same .onnx bytes with different weights is a new version, not a duplicate.
    assert not import_model(catalog, path, name="big").created
    onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(features=64, seed=5),
        tmp_path / "ext2" / "model.onnx",
        "weights.bin",
    )
    (tmp_path / "ext2" / "model.onnx").replace(path)
    weights.write_bytes((tmp_path / "ext2" / "weights.bin").read_bytes())
    again = import_model(catalog, path, name="big")
    assert again.created and again.version.version == 2


def test_a_large_model_with_external_data_beside_it(catalog: Catalog, tmp_path: Path):
    # 48 MB of weights: big enough that anything reading it whole by mistake shows.
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.ones((3000, 4000), dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "big",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 3000])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 4000])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = onnx_factory.save_with_external_data(model, tmp_path / "big" / "m.onnx", "m.data")
    version = import_model(catalog, path, name="big").version
    assert version.facts.param_count == 12_000_000
    assert version.facts.initializer_bytes == 48_000_000
    assert version.file_size < 10_000
    assert version.external_files[0].size == 48_000_000


def test_sizes_past_what_onnx_can_hold_are_refused_before_reading(catalog: Catalog, tmp_path):
    from modeldesk.errors import ModelFileError

    huge = tmp_path / "huge.onnx"
    with huge.open("wb") as handle:  # sparse: costs no disk
        handle.write(b"\x08\x08")
        handle.truncate(2**31 + 10)
    with pytest.raises(ModelFileError, match="more than an ONNX file can hold"):
        import_model(catalog, huge, name="huge")


def test_model_versions_load_in_onnx_runtime_from_their_blob(catalog: Catalog, model_file):
    import numpy as np
    import onnxruntime as ort

    version = import_model(catalog, model_file("linear_regressor"), name="m").version
    session = ort.InferenceSession(
        str(catalog.blobs.verified_path(version.sha256)), providers=["CPUExecutionProvider"]
    )
    (result,) = session.run(None, {"X": np.ones((2, 4), dtype=np.float32)})
    assert result.shape == (2, 1)
    assert onnx.load(catalog.blobs.verified_path(version.sha256)).graph.name == "linear"


def test_old_models_listing_initializers_as_inputs(catalog: Catalog, tmp_path: Path):
    # Before IR version 4 every initializer was also a graph input; they are
    # weights, not inputs a caller feeds.
    model = onnx_factory.linear_regressor(features=3)
    for init in model.graph.initializer:
        model.graph.input.append(
            onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims))
        )
    model.ir_version = 3
    del model.opset_import[:]
    model.opset_import.append(onnx.helper.make_opsetid("", 9))
    version = import_model(catalog, onnx_factory.save(model, tmp_path / "old.onnx"), name="old")
    facts = version.version.facts
    assert [item.name for item in facts.inputs] == ["X"]
    assert facts.ir_version == 3
    assert facts.opsets == [Opset("ai.onnx", 9)]


def test_weights_in_constant_nodes_and_subgraphs_are_counted(catalog: Catalog, model_file):
    # Paddle2ONNX-style: W (4 x 3 float32) and B (3 floats) live in Constant nodes.
    constants = import_model(catalog, model_file("constant_weights"), name="constants").version
    assert constants.facts.param_count == 4 * 3 + 3
    assert constants.facts.initializer_bytes == (4 * 3 + 3) * 4
    assert constants.facts.runtime_error is None
    # An If's branches: 3 float32 in an initializer, 3 float64 in a Constant.
    branches = import_model(catalog, model_file("subgraph_weights"), name="branches").version
    assert branches.facts.param_count == 3 + 3
    assert branches.facts.initializer_bytes == 3 * 4 + 3 * 8
    listed = {row["ref"]: row["param_count"] for row in list_model_versions(catalog)}
    assert listed == {"branches@1": 6, "constants@1": 15}
