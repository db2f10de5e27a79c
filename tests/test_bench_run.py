"""Profiles as catalog records, ``bench`` runs recorded, and the CLI over them."""

from __future__ import annotations

import json
import math

import pytest

from modeldesk.bench.profiles import (
    BUILTIN_PROFILES,
    Profile,
    add_profile,
    edit_profile,
    get_profile,
    list_profiles,
    parse_dims,
    remove_profile,
)
from modeldesk.bench.run import bench, list_runs
from modeldesk.catalog.maintenance import check_catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.importer import import_model

from helpers import catalog_snapshot


def test_profiles_are_added_edited_listed_and_removed_through_the_audit(demo):
    add_profile(demo, Profile("pi", intra_threads=4, cores=(0, 1), budget_ms=5.0, memory_mb=900))
    edited = edit_profile(demo, "pi", iterations=50, dims={"sequence": 128})
    assert edited.iterations == 50 and edited.dims == {"sequence": 128}
    assert get_profile(demo, "pi") == edited
    names = [p.name for p in list_profiles(demo)]
    assert names[: len(BUILTIN_PROFILES)] == list(BUILTIN_PROFILES) and "pi" in names
    actions = [row["action"] for row in demo.query("SELECT action FROM audit WHERE subject = 'pi'")]
    assert actions == ["profile.add", "profile.edit"]
    remove_profile(demo, "pi")
    with pytest.raises(NotFoundError, match="no profile 'pi'"):
        get_profile(demo, "pi")


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (Profile("Bad Name"), "a name of lowercase"),
        (Profile("x", kind="ssh"), "a host for an ssh profile"),
        (Profile("x", batch_sizes=(0,)), "batch sizes"),
        (Profile("x", percentile=97), "percentile"),
        (Profile("local-1-thread"), "built in"),
    ],
)
def test_bad_profiles_are_refused_and_change_nothing(demo, profile, message):
    before = catalog_snapshot(demo.path)
    with pytest.raises(BadInputError, match=message):
        add_profile(demo, profile)
    assert catalog_snapshot(demo.path) == before


def test_dims_name_a_symbolic_dim_or_any_axis():
    assert parse_dims(["batch=8", "image:2=224", "sequence=16"]) == (
        {"batch": 8, "sequence": 16},
        {"image:2": 224},
    )
    with pytest.raises(BadInputError, match="NAME=VALUE or INPUT:AXIS=VALUE"):
        parse_dims(["sequence"])


def test_a_bench_run_is_recorded_with_settings_device_and_results(demo):
    add_profile(demo, Profile("tight", intra_threads=1, cores=(0,), budget_ms=1e-6,
                              iterations=20, warmup=2, batch_sizes=(1, 8)))  # fmt: skip
    runs = bench(demo, "digits@2", ["local-1-thread", "tight"], iterations=30)
    first, tight = runs
    assert first.status == "ok" and first.passed is None  # no budget in that profile
    assert first.summary["p50_ms"] > 0 and first.summary["load_ms"] > 0
    assert first.settings["iterations"] == 30 and first.device["usable_cores"] == 1
    assert len(first.results["batches"][0]["latencies_ms"]) == 30
    assert tight.passed is False  # nothing runs in a picosecond
    assert [b["batch"] for b in tight.summary["batches"]] == [1, 8]
    stored = list_runs(demo, "digits@2")
    assert [r.profile for r in stored] == ["tight", "local-1-thread"]
    assert stored[1].summary == first.summary
    assert check_catalog(demo).ok  # the results blobs are referenced and intact


def test_a_memory_budget_exceeded_is_a_failed_run_not_a_crash(demo):
    add_profile(demo, Profile("tiny", memory_mb=1, iterations=5, warmup=0))
    (run,) = bench(demo, "digits@2", ["tiny"])
    assert run.status == "over-budget" and run.passed is False
    # The agent's watchdog stopped the run as soon as it passed the budget.
    assert "passed the budget of 1 MB; the agent stopped the run" in run.error
    assert run.summary["memory_budget_mb"] == 1 and run.results is None


def test_missing_dims_are_named_and_nothing_is_stored(demo, model_file):
    import_model(demo, model_file("multi_io"), name="multi")
    before = catalog_snapshot(demo.path)
    with pytest.raises(BadInputError, match=r"positions:1.*image:2.*image:3"):
        bench(demo, "multi@1", ["local-1-thread"], dims={"sequence": 8})
    assert catalog_snapshot(demo.path) == before
    (run,) = bench(
        demo,
        "multi@1",
        ["local-1-thread"],
        iterations=5,
        dims={"sequence": 8},
        axis_dims={"positions:1": 3, "image:2": 4, "image:3": 4},
    )
    assert run.status == "ok"


def test_the_bench_command_prints_the_figures_and_exits_1_over_budget(demo, run_cli):
    ok = run_cli("--catalog", demo.path, "bench", "digits@2", "--profile", "local-1-thread",
                 "--iterations", "10", "--json")  # fmt: skip
    assert ok.code == 0, ok.err
    figures = json.loads(ok.out)["local-1-thread"]
    for key in ("load_ms", "first_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms",
                "throughput_per_s", "peak_rss_mb"):  # fmt: skip
        assert isinstance(figures[key], float) and figures[key] > 0
    added = run_cli("--catalog", demo.path, "profile", "add", "strict", "--threads", "1",
                    "--budget-ms", "0.000001", "--iterations", "5")  # fmt: skip
    assert added.code == 0, added.err
    over = run_cli("--catalog", demo.path, "bench", "digits@2", "--profile", "strict")
    assert over.code == 1 and "FAIL" in over.out
    shown = run_cli("--catalog", demo.path, "profile", "show", "strict", "--json")
    assert json.loads(shown.out)["budget_ms"] == 1e-6
    lacking = run_cli("--catalog", demo.path, "profile", "add", "gpu", "--providers",
                      "CUDAExecutionProvider", "--iterations", "3")  # fmt: skip
    assert lacking.code == 0
    refused = run_cli("--catalog", demo.path, "bench", "digits@2", "--profile", "gpu")
    assert refused.code == 2 and "lacks CUDAExecutionProvider; it has" in refused.err
    assert refused.err.count("\n") == 1


def test_unresolved_dims_follow_the_agents_rule(demo, model_file):
    from modeldesk.bench.profiles import unresolved_dims
    from modeldesk.models.registry import get_model_version

    import_model(demo, model_file("multi_io"), name="multi")
    inputs = get_model_version(demo, "multi@1").inputs
    assert unresolved_dims(inputs, {}, {}) == [
        ("tokens:1", "sequence"),
        ("positions:1", None),
        ("image:2", None),
        ("image:3", None),
    ]
    assert unresolved_dims(inputs, {"sequence": 4}, {"positions:1": 2, "image:2": 8}) == [
        ("image:3", None)
    ]


def test_a_datasets_rows_can_be_the_inputs(demo, run_cli):
    (run,) = bench(demo, "digits@2", ["local-1-thread"], iterations=5, data_ref="digits-test@1")
    assert run.status == "ok" and run.settings["inputs"] == "dataset rows"
    assert [b["inputs"] for b in run.results["batches"]] == ["given"]
    # What travels is the dataset's rows, decoded by the agent to the same values.
    import numpy as np
    import pyarrow.csv as pa_csv

    from modeldesk.bench.agent import decode_inputs
    from modeldesk.bench.run import dataset_inputs
    from modeldesk.models.registry import get_model_version
    from modeldesk.resources import resources_dir

    entries = dataset_inputs(demo, get_model_version(demo, "digits@2"), "digits-test@1", [3, 500])
    assert [e["batch"] for e in entries] == [3, 500]
    decoded = decode_inputs(entries)
    table = pa_csv.read_csv(resources_dir() / "demo" / "data" / "digits-test.csv")
    pixels = [name for name in table.column_names if name.startswith("pixel_")]
    first = np.column_stack([table.column(name).to_numpy() for name in pixels[:64]])[:3]
    assert np.array_equal(decoded[3]["X"], first.astype(np.float32))
    assert decoded[500]["X"].shape == (500, 64)  # repeated rows when the batch is larger
    refused = run_cli("--catalog", demo.path, "bench", "digits@2", "--profile", "local-1-thread",
                      "--data", "diabetes-test@1")  # fmt: skip
    assert refused.code == 2 and "lacks column(s) 'pixel_0_0'" in refused.err
    with pytest.raises(BadInputError, match="over the agent's"):
        dataset_inputs(demo, get_model_version(demo, "digits@2"), "digits-test@1", [5000])


def test_an_agent_that_dies_mid_run_is_a_recorded_crashed_run(demo):
    import threading
    import time

    import psutil

    add_profile(demo, Profile("long", intra_threads=1, iterations=20_000, warmup=0,
                              batch_sizes=(512,)))  # fmt: skip
    result = {}

    def work() -> None:
        # The bench runs on another thread: it needs its own connection, as GUI jobs have.
        from modeldesk.catalog.store import Catalog

        with Catalog.open(demo.path) as own:
            result["runs"] = bench(own, "digits@2", ["long"])

    worker = threading.Thread(target=work)
    worker.start()
    me = psutil.Process()
    deadline = time.monotonic() + 30
    agents = []
    while time.monotonic() < deadline and not agents:
        agents = [p for p in me.children() if "agent.py" in " ".join(p.cmdline())]
        time.sleep(0.05)
    assert agents, "the agent never started"
    # Wait until the agent has spent real CPU time: it is inside its measured loop.
    while time.monotonic() < deadline + 30 and sum(agents[0].cpu_times()[:2]) < 1.0:
        time.sleep(0.05)
    agents[0].kill()  # as if ONNX Runtime had crashed the process
    worker.join(timeout=60)
    (run,) = result["runs"]
    assert run.status == "crashed" and "the agent stopped" in run.error
    assert list_runs(demo, "digits@2")[0].status == "crashed"


def test_calibration_stores_the_ratio_and_local_runs_show_an_estimate(demo, run_cli):
    add_profile(demo, Profile("twin", intra_threads=1, iterations=200, warmup=20))
    runs_before = len(list_runs(demo))
    done = run_cli("--catalog", demo.path, "profile", "calibrate", "twin", "--reference",
                   "digits@2", "--reference", "breast-cancer@3", "--json")  # fmt: skip
    assert done.code == 0, done.err
    result = json.loads(done.out)
    assert set(result["per_model"]) == {"digits@2", "breast-cancer@3"}
    # The ratio is the geometric mean of the per-model ratios, the error their largest
    # relative spread (how near 1 they are depends on the machine's load, so not checked).
    per_model = list(result["per_model"].values())
    assert all(math.isfinite(value) and value > 0 for value in per_model)
    geometric = math.exp(sum(math.log(value) for value in per_model) / len(per_model))
    assert result["ratio"] == pytest.approx(geometric)
    spread = max(abs(value / geometric - 1) for value in per_model)
    assert result["relative_error"] == pytest.approx(spread)
    assert len(list_runs(demo)) == runs_before  # calibration runs are not benchmarks
    twin = get_profile(demo, "twin")
    assert twin.calibration_ratio == pytest.approx(result["ratio"])
    (run,) = bench(demo, "digits@2", ["twin"], iterations=5)
    estimate = run.summary["estimated_device_ms"]
    assert estimate["value"] == pytest.approx(run.summary["p95_ms"] * twin.calibration_ratio)
    assert "estimate" in estimate["note"]
    with pytest.raises(BadInputError, match="built in"):
        from modeldesk.bench.calibrate import calibrate

        calibrate(demo, "local-1-thread", ["digits@2"])


def test_a_model_with_external_data_is_benchmarked_with_its_files(demo, tmp_path):
    import onnx_factory

    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(features=32), tmp_path / "ext" / "model.onnx", "weights.bin"
    )
    import_model(demo, path, name="external")
    add_profile(demo, Profile("quick-ext", intra_threads=1, iterations=5, warmup=1))
    (run,) = bench(demo, "external@1", ["quick-ext"])
    assert run.status == "ok", run.error
    assert run.summary["p50_ms"] > 0
