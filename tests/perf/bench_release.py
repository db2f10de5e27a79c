"""Packaging and verifying the bundle of a 100 MB model, against plain file work.

    .venv/bin/python tests/perf/bench_release.py [--mb 100] [--repeats 5]

In one run, on one 100 MB ONNX model (a linear model's weights):

1. ``release package`` (gates included: they re-hash the model) and ``verify_bundle``
   each take at most 1.5x the time of hashing the same file plus zip-storing it alone
   (the baseline, timed between them), with peak Python memory growth under 64 MB:
   the file streams, it is never held whole.
2. ``modeldesk verify BUNDLE`` as a whole process takes at most 0.5x the time of
   ``model_signing verify key`` (the OpenSSF tool, also a whole process) on the same
   model folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from targets import Targets  # noqa: E402  (beside this script)

sys.path.insert(0, str(ROOT / "tests"))

RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 64
PROCESS_RATIO_TARGET = 0.5
CHUNK = 1 << 20


def hash_and_store(source: Path, target: Path) -> None:
    """The baseline: SHA-256 of the file, and the file zip-stored, in one streaming pass."""
    digest = hashlib.sha256()
    with target.open("wb") as raw:
        archive = zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED)
        with archive, source.open("rb") as reader, archive.open(source.name, "w") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())  # as the bundle is, before it is renamed into place
    target.unlink()


def build(folder: Path, megabytes: int):
    """A catalog with an approved release of a ``megabytes`` MB model, and the keys."""
    from modeldesk.bench.profiles import Profile, add_profile, get_profile
    from modeldesk.bench.run import bench_profile
    from modeldesk.catalog.store import Catalog
    from modeldesk.models.importer import import_model
    from modeldesk.release.lifecycle import approve_release
    from modeldesk.release.policy import set_policy
    from modeldesk.release.records import create_release
    from modeldesk.release.trust import trusted_keys

    import onnx_factory
    from helpers import Cast

    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    catalog = Catalog.init(folder / "catalog")
    cast = Cast(folder / "people")
    cast.trust_all(catalog)
    features = megabytes * 1024 * 1024 // 4
    model = onnx_factory.save(onnx_factory.linear_regressor(features), folder / "big.onnx")
    os.environ["MODELDESK_KEY"] = str(cast.key_path("bob"))
    import_model(catalog, model, name="big")
    del os.environ["MODELDESK_KEY"]
    add_profile(catalog, Profile("edge", intra_threads=1, iterations=3, warmup=1))
    set_policy(catalog, cast.alice, '[policy]\nmodel = "big"\ntargets = ["edge"]\n')
    bench_profile(catalog, "big@1", get_profile(catalog, "edge"))
    release = create_release(catalog, cast.bob, "big@1", targets=["edge"])
    approve_release(catalog, cast.carol, release.id, comment="perf")
    keys = folder / "trusted.json"
    keys.write_text(json.dumps({"keys": [k.to_dict() for k in trusted_keys(catalog).values()]}))
    return catalog, cast, release.id, model, keys


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _peak_mb(action) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 1e6


def main() -> None:
    """Build, time, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    targets = Targets()
    from modeldesk.release.bundle import package_release
    from modeldesk.release.verify_bundle import load_keys, verify_bundle

    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-release-") as name:
        folder = Path(name)
        catalog, cast, release_id, model, keys = build(folder, options.mb)
        out = folder / "out"
        bundle = package_release(catalog, cast.alice, release_id, out)  # warm
        trusted = load_keys(keys)
        baseline, packaging, verifying = [], [], []
        for _ in range(options.repeats):
            baseline.append(_timed(lambda: hash_and_store(model, folder / "plain.zip")))
            packaging.append(_timed(lambda: package_release(catalog, cast.alice, release_id, out)))
            verifying.append(_timed(lambda: verify_bundle(bundle, trusted)))
        base = statistics.median(baseline)
        pack, check = statistics.median(packaging), statistics.median(verifying)
        print(f"{options.mb} MB model: hash + zip-store alone median {base:.3f} s")
        for label, seconds in (("release package", pack), ("verify_bundle", check)):
            ratio = seconds / base
            verdict = targets.check(f"{label} ratio", ratio <= RATIO_TARGET)
            print(f"  {label}: median {seconds:.3f} s, {ratio:.2f}x {verdict} "
                  f"(target <= {RATIO_TARGET:g}x)")  # fmt: skip
        pack_mb = _peak_mb(lambda: package_release(catalog, cast.alice, release_id, out))
        check_mb = _peak_mb(lambda: verify_bundle(bundle, trusted))
        for label, growth in (("release package", pack_mb), ("verify_bundle", check_mb)):
            verdict = targets.check(f"{label} memory", growth < MEMORY_TARGET_MB)
            print(f"  {label}: peak Python memory growth {growth:.1f} MB {verdict} "
                  f"(target < {MEMORY_TARGET_MB} MB)")  # fmt: skip
        extracted = folder / "extracted"
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(extracted)
        public = folder / "alice.pub"
        public.write_text(cast.alice.public.pem)
        bin_dir = Path(sys.executable).parent
        ours = [str(bin_dir / "modeldesk"), "verify", str(bundle), "--keys", str(keys)]
        theirs = [
            str(bin_dir / "model_signing"), "verify", "key", str(extracted / "model"),
            "--signature", str(extracted / "model.sig"), "--public_key", str(public),
        ]  # fmt: skip
        ours_s, theirs_s = [], []
        for _ in range(options.repeats):
            ours_s.append(_timed(lambda: subprocess.run(ours, check=True, capture_output=True)))
            theirs_s.append(_timed(lambda: subprocess.run(theirs, check=True, capture_output=True)))
        ours_m, theirs_m = statistics.median(ours_s), statistics.median(theirs_s)
        ratio = ours_m / theirs_m
        verdict = targets.check("verify process ratio", ratio <= PROCESS_RATIO_TARGET)
        print(f"modeldesk verify (process) median {ours_m:.3f} s; model_signing verify key "
              f"median {theirs_m:.3f} s: {ratio:.2f}x {verdict} "
              f"(target <= {PROCESS_RATIO_TARGET:g}x)")  # fmt: skip
        catalog.close()
    targets.finish()


if __name__ == "__main__":
    main()
