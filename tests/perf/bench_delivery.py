"""``modeldesk delivery --json`` on a long record: 10,000 releases, 30,000 events.

    .venv/bin/python tests/perf/bench_delivery.py [--releases 10000] [--repeats 7]

One model version is imported for real; the record around it (versions, releases,
deployments on two targets, a failure and a rollback after every second release) is
written straight into catalog.db, as years of a busy pipeline would have left it: this
measures reading the record, not writing it. Each ``delivery --json`` process alternates
with ``modeldesk --version`` (the start-up every command pays) so that load on a shared
machine affects both alike; medians. Target: under 0.5 s as a whole process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

from targets import Targets  # noqa: E402  (beside this script)

PROCESS_TARGET_S = 0.5
TARGETS = ("edge-a", "edge-b")


def build(folder: Path, releases: int) -> Path:
    """A catalog holding ``releases`` packaged releases and three events per release."""
    from modeldesk.catalog.store import Catalog
    from modeldesk.models.importer import import_model
    from modeldesk.release.deployments import format_time
    from modeldesk.resources import resources_dir

    path = folder / "catalog"
    with Catalog.init(path) as catalog:
        model = resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx"
        import_model(catalog, model, name="bc")
        start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        conn = catalog.conn
        with conn:
            columns = [r[1] for r in conn.execute("PRAGMA table_info(model_version)")]
            copied = ", ".join(c for c in columns if c not in ("id", "version", "created_at"))
            for version in range(2, releases + 1):
                at = format_time(start + dt.timedelta(hours=6 * version))
                conn.execute(
                    f"INSERT INTO model_version (version, created_at, {copied}) "
                    f"SELECT ?, ?, {copied} FROM model_version WHERE id = 1",
                    (version, at),
                )
            events = []
            for version in range(1, releases + 1):
                base = start + dt.timedelta(hours=6 * version)
                times = [format_time(base + dt.timedelta(hours=h)) for h in (1, 2, 3, 4)]
                conn.execute(
                    "INSERT INTO release (id, model_version_id, model_sha256, channel, targets,"
                    " state, creator_key, created_at, created_by, updated_at, approved_at,"
                    " packaged_at, counter) SELECT ?, id, sha256, 'stable', ?, 'packaged', 'k',"
                    " ?, 'perf', ?, ?, ?, ? FROM model_version WHERE version = ?",
                    (
                        version,
                        json.dumps(TARGETS),
                        times[0],
                        times[2],
                        times[1],
                        times[2],
                        version,
                        version,
                    ),
                )
                deploy_at = format_time(base + dt.timedelta(hours=5))
                for target in TARGETS:
                    events.append(("deploy", version, target, deploy_at, None))
                if version % 2 == 0:  # it fails on edge-a; edge-a goes back to the one before
                    fail_at = format_time(base + dt.timedelta(hours=5, minutes=30))
                    back_at = format_time(base + dt.timedelta(hours=5, minutes=50))
                    events.append(("fail", version, "edge-a", fail_at, None))
                    events.append(("deploy", version - 1, "edge-a", back_at, version))
            conn.executemany(
                "INSERT INTO deployment_event (kind, release_id, target, at, rollback_of,"
                " actor_key, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, 'k', ?, 'perf')",
                [(*event, event[3]) for event in events],
            )
        count = conn.execute("SELECT COUNT(*) FROM deployment_event").fetchone()[0]
    print(f"built {releases} releases and {count} events")
    return path


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "modeldesk")
    targets = Targets()
    with tempfile.TemporaryDirectory() as scratch:
        catalog = build(Path(scratch), args.releases)
        delivery = [
            script,
            "--catalog",
            str(catalog),
            "delivery",
            "--json",
            "--since",
            "2020-01-01",
            "--until",
            "2030-01-01",
        ]
        timed(delivery)  # warm the page cache and the byte-code
        answer, start_up = [], []
        for _ in range(args.repeats):
            answer.append(timed(delivery))
            start_up.append(timed([script, "--version"]))
        figures = json.loads(subprocess.run(delivery, check=True, capture_output=True).stdout)
    median, baseline = statistics.median(answer), statistics.median(start_up)
    print(
        f"delivery --json: {figures['deployments']} deployments, change fail rate "
        f"{figures['change_fail_rate']:.3f}"
    )
    print(
        f"median {median:.3f} s (start-up alone {baseline:.3f} s, ratio "
        f"{median / baseline:.2f}x) target < {PROCESS_TARGET_S} s "
        f"{targets.check('delivery --json', median < PROCESS_TARGET_S)}"
    )
    targets.finish()


if __name__ == "__main__":
    main()
