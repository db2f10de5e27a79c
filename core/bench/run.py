"""``bench``: benchmark a model version under hardware profiles and record the runs.

For each profile an agent is started (here, pinned to the profile's cores), the model
is sent by hash, the run's settings go over, and the checked results become a
``bench_run`` record: the settings, the device facts, a summary, the full results
(latencies, profile) as a blob, and whether the latency budget held. A refused request
(a dim without a value, a provider the device lacks) is an error and stores nothing; a
run that fails on the device (a crash, a hang, garbage, a memory budget exceeded) is
recorded as a failed run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.bench.client import AgentClient, AgentError, local_command
from modeldesk.bench.profiles import Profile, get_profile
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, DeviceUnreachableError
from modeldesk.models.registry import ModelVersion, get_model_version
from modeldesk.progress import ProgressCallback, Stage, check_cancel, no_progress

__all__ = [
    "BenchRun",
    "bench",
    "bench_profile",
    "dataset_inputs",
    "history",
    "latest_matrix",
    "latest_run_of_content",
    "list_runs",
    "record_run",
    "run_results",
    "summary_from_results",
]

RUN_TIMEOUT_S = 600.0
SUMMARY_KEYS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms")
# Refusals that are the request's fault: nothing is recorded, the user fixes the input.
_REFUSALS = ("dims", "provider", "bad-request", "input")


@dataclass
class BenchRun:
    """One model version under one profile."""

    id: int
    model: str
    profile: str
    status: str  # ok, over-budget, failed, crashed, timeout, protocol
    error: str | None
    summary: dict[str, Any]
    device: dict[str, Any]
    settings: dict[str, Any]
    created_at: str
    results: dict[str, Any] | None = None

    @property
    def passed(self) -> bool | None:
        """Within the latency budget (None when the profile sets none or the run failed)."""
        return self.summary.get("passed")

    def to_dict(self) -> dict[str, Any]:
        """The JSON the CLI prints: the summary figures at the top level."""
        return {
            "profile": self.profile,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            **self.summary,
            "device": self.device,
            "run_id": self.id,
        }


def _agent_cache() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("modeldesk", appauthor=False)) / "agent-models"


def _client(profile: Profile) -> AgentClient:
    if profile.kind == "local":
        command = local_command(_agent_cache(), cores=profile.cores)
        return AgentClient(command, name=f"profile {profile.name}")
    from modeldesk.bench.ssh import ssh_command

    return AgentClient(
        ssh_command(profile), name=f"{profile.user or ''}@{profile.host}".lstrip("@")
    )


def _summary(profile: Profile, results: dict[str, Any]) -> dict[str, Any]:
    first = results["batches"][0]
    summary: dict[str, Any] = {
        "load_ms": results["load_ms"],
        "first_ms": results["first_ms"],
        **{key: first[key] for key in SUMMARY_KEYS},
        "batch": first["batch"],
        "throughput_per_s": first["throughput_per_s"],
        "batches": [
            {
                "batch": b["batch"],
                "p50_ms": b["p50_ms"],
                "p95_ms": b["p95_ms"],
                "throughput_per_s": b["throughput_per_s"],
            }
            for b in results["batches"]
        ],
        "peak_rss_mb": results.get("peak_rss_mb"),
        "load_rss_increase_mb": results.get("load_rss_increase_mb"),
        "inference_rss_increase_mb": results.get("inference_rss_increase_mb"),
        "model_bytes": results.get("model_bytes"),
        "percentile": profile.percentile,
        "budget_ms": profile.budget_ms or None,
        "memory_budget_mb": profile.memory_mb or None,
        "percentile_definition": "onnxruntime_perf_test: sorted latencies at index int(n * q)",
    }
    measured = first[f"p{profile.percentile}_ms"]
    summary["passed"] = measured <= profile.budget_ms if profile.budget_ms else None
    if profile.calibration_ratio:
        summary["estimated_device_ms"] = {
            "value": measured * profile.calibration_ratio,
            "relative_error": profile.calibration_error,
            "note": "estimate from this machine's run and the profile's calibration",
        }
    return summary


def summary_from_results(profile: Profile, results: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A run's summary (what gates and pages read) from its full results under
    ``profile``, and whether it went over the profile's memory budget."""
    summary = _summary(profile, results)
    over_memory = bool(results.get("over_memory_budget"))
    if over_memory:
        summary["passed"] = False
    return summary, over_memory


def bench(
    catalog: Catalog,
    model_ref: str,
    profiles: list[str],
    *,
    iterations: int | None = None,
    dims: dict[str, int] | None = None,
    axis_dims: dict[str, int] | None = None,
    data_ref: str | None = None,
    timeout: float = RUN_TIMEOUT_S,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> list[BenchRun]:
    """Benchmark ``model_ref`` under each profile; returns the recorded runs.

    With ``data_ref``, the inputs are that dataset version's first rows (repeated when a
    batch is larger than the dataset) fed through the version's feature mapping,
    instead of synthesised values.
    """
    model = get_model_version(catalog, model_ref)
    chosen = [get_profile(catalog, name) for name in profiles]
    if not chosen:
        raise BadInputError("name at least one --profile")
    runs = []
    for index, profile in enumerate(chosen):
        step = Stage(progress, index / len(chosen), (index + 1) / len(chosen))
        runs.append(
            bench_profile(
                catalog,
                model.ref,
                profile,
                iterations=iterations,
                dims=dims,
                axis_dims=axis_dims,
                data_ref=data_ref,
                timeout=timeout,
                progress=step,
                cancel=cancel,
            )
        )
    return runs


def bench_profile(
    catalog: Catalog,
    model_ref: str,
    profile: Profile,
    *,
    iterations: int | None = None,
    dims: dict[str, int] | None = None,
    axis_dims: dict[str, int] | None = None,
    data_ref: str | None = None,
    timeout: float = RUN_TIMEOUT_S,
    record: bool = True,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> BenchRun:
    """One model version under one profile (which need not be stored, e.g. in calibration).

    ``record=False`` measures without adding a ``bench_run`` (its id is then 0).
    """
    model = get_model_version(catalog, model_ref)
    check_cancel(cancel, f"benchmarking {model.ref}")
    path = catalog.blobs.verified_path(model.sha256)
    settings = profile.agent_settings(iterations=iterations, dims=dims, axis_dims=axis_dims)
    if data_ref is not None:
        settings["inputs"] = dataset_inputs(catalog, model, data_ref, settings["batch_sizes"])
    return _run_one(catalog, model, path, profile, settings, timeout, progress, cancel, record)


def dataset_inputs(
    catalog: Catalog, model: ModelVersion, data_ref: str, batch_sizes: list[int]
) -> list[dict[str, Any]]:
    """A dataset version's first rows as the agent's ``inputs``, one entry per batch size."""
    import base64

    import numpy as np

    from modeldesk.bench.agent import MAX_MESSAGE_BYTES
    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.debug.feeds import feed_plan, make_feeds

    dataset = get_dataset_version(catalog, data_ref)
    plan = feed_plan(model, dataset)
    rows = min(dataset.rows, max(batch_sizes))
    if rows == 0:
        raise BadInputError(f"dataset {dataset.ref} has no rows to feed {model.ref}")
    table = read_rows(catalog, dataset).slice(0, rows)
    feeds = make_feeds(plan, table, 0, rows)
    entries, size = [], 0
    for batch in batch_sizes:
        tensors = {}
        for name, values in feeds.items():
            chosen = np.ascontiguousarray(np.take(values, np.arange(batch) % rows, axis=0))
            size += chosen.nbytes * 4 // 3
            tensors[name] = {
                "dtype": str(chosen.dtype),
                "shape": list(chosen.shape),
                "data": base64.b64encode(chosen.astype(chosen.dtype.newbyteorder("<"))
                                         .tobytes()).decode(),
            }  # fmt: skip
        entries.append({"batch": batch, "feeds": tensors})
    if size > MAX_MESSAGE_BYTES - 64 * 1024:
        raise BadInputError(
            f"rows of {dataset.ref} for batch sizes {batch_sizes} take {size:,} bytes, over "
            f"the agent's {MAX_MESSAGE_BYTES:,}-byte message limit; use smaller batches"
        )
    return entries


def _run_one(
    catalog: Catalog,
    model: ModelVersion,
    path: Path,
    profile: Profile,
    settings: dict[str, Any],
    timeout: float,
    progress: ProgressCallback,
    cancel: threading.Event | None,
    record: bool = True,
) -> BenchRun:
    progress(0, 3, f"starting the agent for {profile.name}")
    client = _client(profile)
    results, device, status, error = None, {}, "ok", None
    try:
        device = client.start()
        progress(1, 3, f"sending {model.ref}")
        # The model and its external data files travel by hash; the agent lays them out.
        client.put_model(path, model.sha256)
        for entry in model.external_files:
            check_cancel(cancel, f"benchmarking {model.ref}")
            client.put_model(catalog.blobs.verified_path(entry.sha256), entry.sha256)
        progress(2, 3, f"running {model.ref} under {profile.name}")
        files = [{"path": e.path, "sha256": e.sha256} for e in model.external_files]
        results = client.run(model.sha256, settings, timeout, cancel, files=files)
    except AgentError as failure:
        if failure.kind == "connect":  # no hello: the device is down, refused us, or lacks Python
            raise DeviceUnreachableError(str(failure)) from None
        if failure.kind in _REFUSALS:
            raise BadInputError(str(failure)) from None
        status = {"memory": "over-budget", "crashed": "crashed", "timeout": "timeout",
                  "protocol": "protocol"}.get(failure.kind, "failed")  # fmt: skip
        error = str(failure)
    finally:
        client.stop(kill=status != "ok" or (cancel is not None and cancel.is_set()))
    summary: dict[str, Any] = {}
    if status == "over-budget":  # stopped by the agent's watchdog
        summary = {"passed": False, "memory_budget_mb": profile.memory_mb}
    if results is not None:
        summary, over_memory = summary_from_results(profile, results)
        if over_memory:
            status = "over-budget"
            error = (
                f"peak resident memory {results['peak_rss_mb']:.0f} MB exceeds the profile's "
                f"budget of {profile.memory_mb} MB"
            )
    progress(3, 3, f"{profile.name}: {status}")
    if not record:
        return BenchRun(0, model.ref, profile.name, status, error, summary, device, settings,
                        "", results)  # fmt: skip
    return record_run(catalog, model, profile, settings, device, status, error, summary, results)


def record_run(
    catalog: Catalog,
    model: ModelVersion,
    profile: Profile,
    settings: dict[str, Any],
    device: dict[str, Any],
    status: str,
    error: str | None,
    summary: dict[str, Any],
    results: dict[str, Any] | None,
) -> BenchRun:
    """Store a run (its full results as a blob, the profile it ran under in its
    settings) with its audit row."""
    stored_settings = {**settings, "profile": profile.to_dict()}
    if stored_settings.get("inputs"):  # keep the record small: say where the rows came from
        stored_settings["inputs"] = "dataset rows"
    detail = {"profile": profile.name, "status": status, "p50_ms": summary.get("p50_ms")}
    with catalog.blobs.guard():
        results_sha = (
            catalog.blobs.put_bytes(json.dumps(results, sort_keys=True).encode())
            if results is not None
            else None
        )
        with catalog.write("bench", model.ref, detail) as tx:
            cursor = tx.conn.execute(
                "INSERT INTO bench_run (model_version_id, profile_name, status, error, settings, "
                "device, summary, results_sha256, passed, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model.id,
                    profile.name,
                    status,
                    error,
                    json.dumps(stored_settings, sort_keys=True),
                    json.dumps(device, sort_keys=True),
                    json.dumps(summary, sort_keys=True),
                    results_sha,
                    None if summary.get("passed") is None else int(bool(summary["passed"])),
                    tx.at,
                    tx.actor,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
    return BenchRun(run_id, model.ref, profile.name, status, error, summary, device,
                    stored_settings, tx.at, results)  # fmt: skip


def list_runs(
    catalog: Catalog,
    model_ref: str | None = None,
    *,
    model_name: str | None = None,
    run_id: int | None = None,
) -> list[BenchRun]:
    """Recorded runs (of one model version, one model, one run, or all), newest first.

    Without their full results: :func:`run_results` reads those.
    """
    sql = (
        "SELECT r.*, m.name || '@' || v.version AS ref FROM bench_run r "
        "JOIN model_version v ON v.id = r.model_version_id JOIN model m ON m.id = v.model_id"
    )
    params: tuple[Any, ...] = ()
    if model_ref is not None:
        model = get_model_version(catalog, model_ref)
        sql += " WHERE r.model_version_id = ?"
        params = (model.id,)
    elif model_name is not None:
        sql += " WHERE m.name = ?"
        params = (model_name,)
    elif run_id is not None:
        sql += " WHERE r.id = ?"
        params = (run_id,)
    rows = catalog.query(sql + " ORDER BY r.id DESC", params)
    return [
        BenchRun(
            row["id"],
            row["ref"],
            row["profile_name"],
            row["status"],
            row["error"],
            json.loads(row["summary"] or "{}"),
            json.loads(row["device"] or "{}"),
            json.loads(row["settings"]),
            row["created_at"],
        )
        for row in rows
    ]


def latest_run_of_content(catalog: Catalog, sha256: str, profile: str) -> BenchRun | None:
    """The newest successful run on ``profile`` of any version whose .onnx is ``sha256``."""
    rows = catalog.query(
        "SELECT r.id FROM bench_run r JOIN model_version v ON v.id = r.model_version_id "
        "WHERE v.sha256 = ? AND r.profile_name = ? AND r.status IN ('ok', 'over-budget') "
        "ORDER BY r.id DESC LIMIT 1",
        (sha256, profile),
    )
    if not rows:
        return None
    (run,) = list_runs(catalog, run_id=rows[0]["id"])
    run.results = run_results(catalog, run.id)
    return run


def run_results(catalog: Catalog, run_id: int) -> dict[str, Any] | None:
    """A run's full results (latencies per batch, the ORT profile), or None if it failed."""
    rows = catalog.query("SELECT results_sha256 FROM bench_run WHERE id = ?", (run_id,))
    if not rows or rows[0]["results_sha256"] is None:
        return None
    return json.loads(catalog.blobs.read_bytes(rows[0]["results_sha256"]))


def latest_matrix(catalog: Catalog, model_name: str) -> dict[tuple[str, str], BenchRun]:
    """The newest run of each (model version, profile) of one model, keyed by (ref, profile)."""
    latest: dict[tuple[str, str], BenchRun] = {}
    for run in list_runs(catalog, None, model_name=model_name):
        latest.setdefault((run.model, run.profile), run)
    return latest


def history(catalog: Catalog, model_name: str) -> dict[str, list[tuple[int, float]]]:
    """Per profile, (version, p95 ms) of the newest successful run of each version."""
    lines: dict[str, dict[int, float]] = {}
    for (ref, profile), run in latest_matrix(catalog, model_name).items():
        if run.status == "ok" and "p95_ms" in run.summary:
            version = int(ref.rsplit("@", 1)[1])
            lines.setdefault(profile, {})[version] = float(run.summary["p95_ms"])
    return {profile: sorted(points.items()) for profile, points in sorted(lines.items())}
