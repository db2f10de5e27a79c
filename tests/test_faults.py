"""Faults and load: imports killed at random moments, two processes importing at once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from modeldesk.catalog.maintenance import check_catalog, collect_garbage
from modeldesk.catalog.store import Catalog

import onnx_factory

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _env(catalog_path: Path) -> dict[str, str]:
    return {**os.environ, "MODELDESK_CATALOG": str(catalog_path), "PYTHONPATH": str(ROOT)}


def _assert_every_version_is_whole(catalog: Catalog) -> None:
    """Every recorded version has its blob, its dictionary and its audit row."""
    report = check_catalog(catalog)
    assert report.ok, report.problems
    audited = {row["subject"] for row in catalog.query("SELECT subject FROM audit")}
    for row in catalog.query(
        "SELECT v.id, v.version, v.columns, d.name FROM dataset_version v"
        " JOIN dataset d ON d.id = v.dataset_id"
    ):
        entries = catalog.query(
            "SELECT COUNT(*) AS n FROM data_column WHERE dataset_version_id = ?", (row["id"],)
        )[0]["n"]
        assert entries == row["columns"]
        assert f"dataset {row['name']}@{row['version']}" in audited
    for row in catalog.query(
        "SELECT v.version, m.name FROM model_version v JOIN model m ON m.id = v.model_id"
    ):
        assert f"model {row['name']}@{row['version']}" in audited


def _start_import(catalog_path: Path, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "modeldesk.cli", *args],
        env=_env(catalog_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_imports_killed_at_random_moments_leave_a_consistent_catalog(
    catalog_path: Path, tmp_path: Path
):
    rng = random.Random(20261126)
    big_csv = tmp_path / "big.csv"
    with big_csv.open("w") as handle:
        handle.write("a,b,c,d,label\n")
        for index in range(150_000):
            handle.write(f"{index},{index * 0.25},{index % 13},x{index % 7},{index % 2}\n")
    model_path = onnx_factory.save(onnx_factory.linear_regressor(), tmp_path / "m.onnx")

    def arguments(trial: int) -> list[str]:
        if trial % 3 == 2:
            return ["model", "import", str(model_path), "--name", f"model-{trial}"]
        # Each trial's file differs, so no import is skipped as a duplicate.
        with big_csv.open("a") as handle:
            handle.write(f"{trial},0,0,x,1\n")
        return ["data", "import", str(big_csv), "--name", f"data-{trial}", "--label", "label"]

    # How much CPU an undisturbed import of each kind takes, so kills spread over its work
    # whatever else the machine is doing (CPU time, unlike wall time, does not stretch
    # under load).
    work = {}
    for trial in (0, 2):
        child = _start_import(catalog_path, arguments(trial))
        work[trial % 3 == 2] = _cpu_until_exit(child)
        assert child.wait() == 0, child.stderr.read().decode()
        child.stderr.close()

    leftovers_before = set(Path(tempfile.gettempdir()).glob("modeldesk-examine-*"))
    killed = 0
    trial = 2
    # Keep going until 20 imports have died mid-way (a kill aimed late may miss the end).
    while killed < 20 and trial < 80:
        trial += 1
        args = arguments(trial)
        child = _start_import(catalog_path, args)
        if _cpu_until_exit(child, stop_at=work[trial % 3 == 2] * rng.uniform(0.05, 0.9)):
            child.send_signal(signal.SIGKILL)
            killed += 1
        child.wait()
        child.stderr.close()
        with Catalog.open(catalog_path) as catalog:
            _assert_every_version_is_whole(catalog)
            if child.returncode == 0:
                recorded = {row["name"] for row in catalog.query("SELECT name FROM dataset")}
                recorded |= {row["name"] for row in catalog.query("SELECT name FROM model")}
                assert args[args.index("--name") + 1] in recorded

    assert killed >= 20  # the kills really landed mid-import
    # The examiner's scratch lives in the catalog (gc removes it), never in the temp folder.
    assert set(Path(tempfile.gettempdir()).glob("modeldesk-examine-*")) == leftovers_before
    with Catalog.open(catalog_path) as catalog:
        collect_garbage(catalog)
        assert list(catalog.blobs.iter_temps()) == []
        _assert_every_version_is_whole(catalog)


def _cpu_until_exit(child: subprocess.Popen[bytes], stop_at: float | None = None) -> float:
    """CPU seconds ``child`` and its children used, watched until it exits.

    With ``stop_at``, returns as soon as they pass it (the process still running, for
    the caller to kill), or 0.0 if the process ended first.
    """
    process = psutil.Process(child.pid)
    used = 0.0
    while child.poll() is None:
        try:
            times = process.cpu_times()
            used = sum(times[:4]) + sum(
                sum(kid.cpu_times()[:2]) for kid in process.children(recursive=True)
            )
        except psutil.Error:
            pass  # it or a child ended between the calls
        if stop_at is not None and used >= stop_at and child.poll() is None:
            return used
        time.sleep(0.005)
    return 0.0 if stop_at is not None else used


def _run_workers(catalog_path: Path, kind: str, count: int) -> list[list[int]]:
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(TESTS / "import_worker.py"),
                str(catalog_path),
                kind,
                str(count),
                tag,
                str(catalog_path.parent / f"files-{tag}"),
            ],
            env=_env(catalog_path),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("left", "right")
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err
        assert "locked" not in err
        results.append(json.loads(out))
    return results


@pytest.mark.slow
def test_two_processes_importing_datasets_at_once(catalog_path: Path):
    left, right = _run_workers(catalog_path, "data", 200)
    assert len(left) == len(right) == 200
    assert sorted(left + right) == list(range(1, 401))
    assert left == sorted(left) and right == sorted(right)
    with Catalog.open(catalog_path) as catalog:
        _assert_every_version_is_whole(catalog)
        assert catalog.query("SELECT COUNT(*) AS n FROM audit")[0]["n"] == 400


@pytest.mark.slow
def test_two_processes_importing_models_at_once(catalog_path: Path):
    # Model imports each start an examiner child process (~0.5 s), so fewer of them.
    left, right = _run_workers(catalog_path, "model", 25)
    assert sorted(left + right) == list(range(1, 51))
    with Catalog.open(catalog_path) as catalog:
        _assert_every_version_is_whole(catalog)
