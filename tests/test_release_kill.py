"""Killing ``modeldesk release package`` with SIGKILL leaves no bundle or a whole one.

A real child process packages a 32 MB model; each trial kills it at a random moment of
its write (a seeded fraction of how long an unkilled write took, timed from the moment
its ``.partial`` file appears), then checks what is left: at most one bundle, and a
bundle that is there verifies; the catalog still passes its own check.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.catalog.maintenance import check_catalog
from modeldesk.catalog.store import Catalog
from modeldesk.models.importer import import_model
from modeldesk.release.lifecycle import approve_release
from modeldesk.release.policy import set_policy
from modeldesk.release.records import create_release
from modeldesk.release.trust import trusted_keys
from modeldesk.release.verify_bundle import load_keys, verify_bundle

import onnx_factory
from helpers import Cast

TRIALS = 20
FEATURES = 8 * 1024 * 1024  # 32 MB of float32 weights
POLICY = """[policy]
model = "big"
targets = ["edge-roomy"]
"""


def _wait_for(condition, process: subprocess.Popen, poll_s: float = 0.0005) -> bool:
    """Poll until ``condition()`` holds (True) or the process has ended (False)."""
    while not condition():
        if process.poll() is not None:
            return condition()
        time.sleep(poll_s)
    return True


@pytest.fixture
def approved(catalog, tmp_path, monkeypatch):
    cast = Cast(tmp_path / "people")
    cast.trust_all(catalog)
    model = onnx_factory.save(onnx_factory.linear_regressor(FEATURES), tmp_path / "big.onnx")
    cast.act_as(monkeypatch, "bob")
    import_model(catalog, model, name="big")
    monkeypatch.delenv("MODELDESK_KEY")
    add_profile(catalog, Profile("edge-roomy", intra_threads=1, iterations=5, warmup=1,
                                 budget_ms=60_000))  # fmt: skip
    set_policy(catalog, cast.alice, POLICY)
    bench_profile(catalog, "big@1", get_profile(catalog, "edge-roomy"))
    release = create_release(catalog, cast.bob, "big@1", targets=["edge-roomy"])
    approve_release(catalog, cast.carol, release.id, comment="fine")
    keys = tmp_path / "trusted.json"
    keys.write_text(json.dumps({"keys": [k.to_dict() for k in trusted_keys(catalog).values()]}))
    return catalog, cast, release.id, keys


def _package(catalog: Catalog, cast: Cast, release_id: int, out: Path) -> subprocess.Popen:
    env = dict(os.environ, MODELDESK_KEY=str(cast.key_path("alice")))
    command = [sys.executable, "-m", "modeldesk.cli", "--catalog", str(catalog.path),
               "release", "package", str(release_id), "--out", str(out)]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_packaging_leaves_no_bundle_or_a_complete_one(approved, tmp_path):
    catalog, cast, release_id, keys = approved
    out = tmp_path / "out"
    partial = out / "big-1-r1.mdrel.partial"
    # One unkilled run: how long the write takes from its .partial appearing to its end.
    first = _package(catalog, cast, release_id, out)
    assert _wait_for(partial.exists, first), first.stderr.read().decode() if first.stderr else ""
    started = time.monotonic()
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    write_s = time.monotonic() - started
    verify_bundle(out / "big-1-r1.mdrel", load_keys(keys))
    (out / "big-1-r1.mdrel").unlink()
    rng = random.Random(14)
    killed_while_writing = 0
    for _ in range(TRIALS):
        process = _package(catalog, cast, release_id, out)
        writing = _wait_for(partial.exists, process)
        time.sleep(rng.uniform(0.0, 1.2) * write_s)
        if process.poll() is None:
            killed_while_writing += writing and partial.exists()
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=300)
        bundles = list(out.glob("*.mdrel"))
        assert len(bundles) <= 1
        for bundle in bundles:  # a bundle that is there is whole and verifies
            assert verify_bundle(bundle, load_keys(keys)).counter == 1
        with Catalog.open(catalog.path) as reopened:
            assert check_catalog(reopened).ok
    print(f"{killed_while_writing} of {TRIALS} kills landed while the bundle was being written")
