"""What the Graph tab and ``modeldesk model graph`` draw: a known model's items, edge
shapes and colours; a cycle and a dangling input drawn with the problem marked; costs per
node; the catalog cache read back (and refused when forged); the runtime overlay of a
stored benchmark; the command line's SVG and JSON."""

from __future__ import annotations

import json

from onnx import TensorProto, helper

from modeldesk.bench.profiles import Profile, add_profile
from modeldesk.bench.run import bench_profile, run_results
from modeldesk.graph.costs import node_cost
from modeldesk.graph.overlay import profiled_profiles, runtime_overlay
from modeldesk.graph.render import item_paint, scene_svg
from modeldesk.graph.scene import GraphModel
from modeldesk.graph.stored import _store, graph_cache_key, version_graph
from modeldesk.graph.style import CATEGORY_COLOURS, REVERSED_EDGE
from modeldesk.models.examine import describe_model_graph, model_tensor_statistics
from modeldesk.models.importer import import_model
from modeldesk.models.registry import get_model_version

import onnx_factory


def _residual(catalog, tmp_path, blocks: int = 2, name: str = "net"):
    path = onnx_factory.save(onnx_factory.residual_network(blocks), tmp_path / f"{name}.onnx")
    import_model(catalog, path, name=name)
    return get_model_version(catalog, f"{name}@1")


def test_a_known_model_drawn_with_shapes_and_colours(catalog, tmp_path):
    version = _residual(catalog, tmp_path)
    described = version_graph(catalog, version)
    model = GraphModel(described["graph"])
    # First look: each block folded (the second repeats the first), the head open.
    first = model.scene()
    assert [item.title for item in first.items.values()] == [
        "image",
        "layers.0",
        "layers.1",
        "GlobalAveragePool",
        "Flatten",
        "Gemm",
        "Softmax",
        "probabilities",
    ]
    assert first.items["g:model/layers.1"].lines == ["6 nodes", "= layers.0"]
    everything = model.scene(set(model.groups))
    nodes = [item for item in everything.items.values() if item.kind == "node"]
    assert len(nodes) == 16 and len(described["graph"]["nodes"]) == 16
    labels = {
        (everything.items[e.source].title, everything.items[e.target].title): e.label
        for e in everything.edges
    }
    assert labels[("image", "Conv")] == "batch×4×8×8"  # symbolic batch verbatim
    assert labels[("Gemm", "Softmax")] == "batch×3"
    conv = next(item for item in nodes if item.title == "Conv")
    # Weights by their schema names: a shape, or a small constant's values inline.
    assert conv.lines[0] == "W ⟨4×4×3×3⟩" and conv.lines[1].startswith("B [")
    assert len(conv.lines[1].split(",")) == 4
    colours, _ = item_paint(model, conv)
    assert colours.fill == CATEGORY_COLOURS["convolution"]
    relu = next(item for item in nodes if item.title == "Relu")
    assert item_paint(model, relu)[0].fill == CATEGORY_COLOURS["activation"]
    svg = scene_svg(model, everything, everything.layout(), title="net@1")
    # Four Convs and the Gemm: the convolution and matrix-product family.
    assert svg.count(f'fill="{CATEGORY_COLOURS["convolution"]}"') == 5
    assert "batch×4×8×8" in svg and svg.startswith("<svg")
    # Costs per sample: a 3x3 conv over 4 channels on 8x8 is 8*8*4 outputs of 36 MACs.
    conv_node = described["graph"]["nodes"][conv.node]
    assert node_cost(conv_node, described["graph"]) == {
        "params": 4 * 4 * 9 + 4,
        "macs": 8 * 8 * 4 * 36,
        "activation_bytes": 8 * 8 * 4 * 4,
    }
    stats = model_tensor_statistics(catalog.blobs.path(version.sha256), "layers.0.conv1.bias")
    assert stats["size"] == 4 and stats["min"] <= stats["mean"] <= stats["max"]
    assert stats["sparsity"] == 0.0


def test_a_cycle_and_a_dangling_input_are_drawn_marked(tmp_path):
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["X", "back"], ["y"], name="/loop/Add"),
            helper.make_node("Relu", ["y"], ["back"], name="/loop/Relu"),
            helper.make_node("Mul", ["y", "ghost"], ["Z"], name="/out/Mul"),
        ],
        "broken",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = onnx_factory.save(model, tmp_path / "broken.onnx")
    described = describe_model_graph(path)["graph"]
    view = GraphModel(described)
    scene = view.scene(set(view.groups))
    assert scene.items["m:ghost"].kind == "missing"
    assert scene.problems == ["input 'ghost' of a node is produced nowhere"]
    layout = scene.layout()
    assert len(layout.reversed_edges) == 1  # the cycle, broken to draw and reported
    svg = scene_svg(view, scene, layout)
    assert f'stroke="{REVERSED_EDGE}"' in svg and "produced nowhere" in svg


def test_the_cache_is_read_back_and_a_forged_entry_refused(catalog, tmp_path):
    version = _residual(catalog, tmp_path)
    first = version_graph(catalog, version)
    rows = catalog.query("SELECT kind FROM graph_cache")
    assert [row["kind"] for row in rows] == ["description"]
    key = graph_cache_key("description", version.sha256)
    # A well-formed entry is what a second open shows (no child is run for it)...
    altered = json.loads(json.dumps(first))
    altered["graph"]["nodes"][0]["op"] = "FromTheCache"
    _store(catalog, key, "description", version.sha256, altered)
    assert version_graph(catalog, version)["graph"]["nodes"][0]["op"] == "FromTheCache"
    # ...and a malformed one (someone else's catalog folder) is described again.
    forged = json.loads(json.dumps(first))
    forged["graph"]["nodes"][0]["inputs"] = "not a list"
    _store(catalog, key, "description", version.sha256, forged)
    assert version_graph(catalog, version) == first


def test_the_overlay_shows_a_stored_benchmark(demo, tmp_path):
    version = _residual(demo, tmp_path, blocks=3)
    # Optimisations off, so every graph node runs under its own name.
    add_profile(demo, Profile("plain", opt_level="disabled", iterations=5, warmup=1))
    bench_profile(demo, version.ref, Profile("plain", opt_level="disabled", iterations=5, warmup=1))
    assert profiled_profiles(demo, version) == ["plain"]
    graph = version_graph(demo, version)["graph"]
    names = {node["name"] for node in graph["nodes"]}
    overlay = runtime_overlay(demo, version, "plain", names)
    assert overlay is not None and set(overlay.times) == names
    (run,) = [r for r in demo.query("SELECT id FROM bench_run")]
    stored = {e["node"]: e["us"] for e in run_results(demo, run["id"])["profile"]["nodes"]}
    assert overlay.times == {name: stored[name] for name in names}
    assert overlay.providers["/head/Gemm"] == "CPUExecutionProvider"
    model = GraphModel(graph)
    scene = model.scene(set(model.groups))
    slowest_name = overlay.slowest(1)[0][0]
    item = next(
        i
        for i in scene.items.values()
        if i.node is not None and model.nodes[i.node]["name"] == slowest_name
    )
    colours, label = item_paint(model, item, overlay=overlay)
    assert colours.fill == "#bd0026" and label is not None and label.endswith("s")


def test_the_command_line_writes_svg_and_json(catalog, tmp_path, run_cli, catalog_path):
    _residual(catalog, tmp_path)
    bigger = onnx_factory.save(
        onnx_factory.residual_network(2, extra_relu_after=1), tmp_path / "bigger.onnx"
    )
    import_model(catalog, bigger, name="net")
    svg = tmp_path / "out" / "net.svg"
    result = run_cli("--catalog", catalog_path, "model", "graph", "net@2", "--out", svg)
    assert result.code == 0 and "net@2: 19 items" in result.out
    assert svg.read_text().count("<rect") == 1 + 19  # the background and one per item
    drawn = tmp_path / "diff.json"
    result = run_cli(
        "--catalog", catalog_path, "model", "graph", "net@2", "--diff", "net@1", "--out", drawn
    )
    assert result.code == 0, result.err
    found = json.loads(drawn.read_text())
    assert found["diff"]["added"] == [{"name": "/model/layers.1/extra/Relu", "op": "Relu"}]
    assert [i["status"] for i in found["items"] if "status" in i] == ["added"]
    bad = run_cli(
        "--catalog", catalog_path, "model", "graph", "net@2", "--out", tmp_path / "net.png"
    )
    assert bad.code != 0 and "must end in .svg or .json" in bad.err
    assert not (tmp_path / "net.png").exists()


def test_layouts_are_cached_per_graph_and_checked_when_read(catalog, tmp_path):
    from modeldesk.graph.stored import cached_layout, layout_to_data

    version = _residual(catalog, tmp_path)
    model = GraphModel(version_graph(catalog, version)["graph"])
    scene = model.scene(set(model.groups))
    view = {"graph": "main", "unfolded": ["all"]}
    first = cached_layout(catalog, version.sha256, view, scene)
    assert [r["kind"] for r in catalog.query("SELECT kind FROM graph_cache ORDER BY kind")] == [
        "description",
        "layout",
    ]
    key = graph_cache_key("layout", version.sha256, view)
    moved = layout_to_data(first)
    moved["positions"]["i:image"] = [1234.0, 5.0]
    _store(catalog, key, "layout", version.sha256, moved)
    assert cached_layout(catalog, version.sha256, view, scene).positions["i:image"] == (1234.0, 5.0)
    # A layout of other items, or with a malformed point, is laid out again.
    for forged in (
        {**moved, "positions": {"x": [0, 0]}},
        {**moved, "edges": [["i:image", "nowhere", [[0, 0]]]]},
    ):
        _store(catalog, key, "layout", version.sha256, forged)
        again = cached_layout(catalog, version.sha256, view, scene)
        assert again.positions == first.positions


def test_nodes_that_fell_back_to_the_cpu_stand_out():
    from modeldesk.graph.overlay import overlay_from_results

    # What a device with an accelerator reports (this machine has only the CPU).
    results = {
        "profile": {
            "total_us": 900,
            "nodes": [
                {
                    "node": "/conv/Conv",
                    "op": "Conv",
                    "provider": "CUDAExecutionProvider",
                    "us": 600,
                },
                {"node": "/topk/TopK", "op": "TopK", "provider": "CPUExecutionProvider", "us": 300},
                {
                    "node": "Conv_fused_0",
                    "op": "FusedConv",
                    "provider": "CUDAExecutionProvider",
                    "us": 0,
                },
                {"node": 7, "us": "bad"},
            ],
        }
    }
    overlay = overlay_from_results(1, "jetson", "2026-12-01", results, {"/conv/Conv", "/topk/TopK"})
    assert overlay is not None and overlay.unmatched == ["Conv_fused_0"]
    assert overlay.fell_back("/topk/TopK") and not overlay.fell_back("/conv/Conv")
    assert overlay.share("/topk/TopK") == 0.5 and overlay.share("/missing") is None
    assert overlay_from_results(1, "p", "", {"profile": {}}, set()) is None


def test_constant_node_weights_are_drawn_inline_on_their_readers(tmp_path):
    path = onnx_factory.save(onnx_factory.constant_weights(4, 3), tmp_path / "constants.onnx")
    model = GraphModel(describe_model_graph(path)["graph"])
    scene = model.scene(set(model.groups))
    assert [item.title for item in scene.items.values()] == ["X", "MatMul", "Add", "Y"]
    lines = {item.title: item.lines for item in scene.items.values()}
    assert lines["MatMul"] == ["B ⟨4×3⟩"] and lines["Add"] == ["B [0.5, 0.5, 0.5]"]
    layout = scene.layout()
    assert set(layout.positions) == set(scene.items) and not layout.reversed_edges
