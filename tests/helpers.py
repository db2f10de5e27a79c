"""Helpers shared by tests (importable from any test folder)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Cast", "catalog_snapshot", "fake_agent", "hold_mid_job"]


def catalog_snapshot(path: Path) -> dict[str, object]:
    """Every table's rows and every file under blobs/ with its hash."""
    conn = sqlite3.connect(path / "catalog.db")
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        content: dict[str, object] = {
            table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"'))) for table in tables
        }
        content["user_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    files = {}
    for file in sorted((path / "blobs").rglob("*")):
        if file.is_file() and file.name != ".lock":
            files[file.relative_to(path).as_posix()] = hashlib.sha256(file.read_bytes()).hexdigest()
    content["blobs"] = files
    return content


def hold_mid_job(real: Callable[..., Any]) -> tuple[Callable[..., Any], threading.Event]:
    """Wrap a core job function so that it stops mid-way until it is cancelled.

    The wrapper runs ``real`` with a progress callback that, at the first report of real
    progress, sets the returned event and waits (up to a minute) for the job's cancel.
    A test can then cancel a job that is certainly in the middle of its work, however
    fast or slow the machine is.
    """
    reached = threading.Event()

    def held(*args: Any, progress: Any, cancel: threading.Event, **options: Any) -> Any:
        def report(done: float, total: float, message: str) -> None:
            if done > 0 and not reached.is_set():
                reached.set()
                cancel.wait(60)
            progress(done, total, message)

        return real(*args, progress=report, cancel=cancel, **options)

    return held, reached


def finish_before_start_returns(runner: Any, monkeypatch: Any) -> None:
    """Make every job of ``runner`` end on its pool thread before ``start`` returns.

    This is the worst interleaving a loaded machine can produce: the GUI thread is
    descheduled right after queueing a quick job, and the job emits all its signals
    before the caller's next line runs. Code that connects to a job after starting
    it misses them; a test under this ordering catches that every time.
    """
    queue = runner.pool.start

    def start_and_wait(job: Any) -> None:
        queue(job)
        runner.pool.waitForDone()

    monkeypatch.setattr(runner.pool, "start", start_and_wait)


def fake_agent(folder: Path, body: str) -> list[str]:
    """The command of a real child process that misbehaves after a correct hello.

    ``body`` is Python run after the first request was read (as ``request``).
    """
    import sys

    from modeldesk.bench.client import AGENT_FILE

    script = folder / "fake_agent.py"
    script.write_text(
        "import json, sys, runpy\n"
        f"agent = runpy.run_path({str(AGENT_FILE)!r})\n"
        "hello = json.loads(sys.stdin.readline())\n"
        "reply = {'type': 'hello', 'id': hello['id'], 'device': agent['device_facts']()}\n"
        "print(json.dumps(reply), flush=True)\n"
        "request = json.loads(sys.stdin.readline())\n" + body
    )
    return [sys.executable, str(script)]


class Cast:
    """The people of a release test, each a signing key in a folder of their own: alice
    (creates the catalog's trust; a release manager), bob (an engineer), carol (a
    second release manager) and mallory (trusted by no one)."""

    NAMES = ("alice", "bob", "carol", "mallory")

    def __init__(self, root: Path) -> None:
        from modeldesk.release.keys import init_key

        self.root = root
        self.keys = {name: init_key(name, folder=root / name) for name in self.NAMES}

    def __getattr__(self, name: str):
        keys = self.__dict__.get("keys", {})
        if name in keys:
            return keys[name]
        raise AttributeError(name)

    def key_path(self, name: str) -> Path:
        """Where ``name``'s private key is (what MODELDESK_KEY would name)."""
        return self.root / name / "signing-key.pem"

    def act_as(self, monkeypatch, name: str) -> None:
        """``name`` runs the next command (MODELDESK_KEY points at their key)."""
        monkeypatch.setenv("MODELDESK_KEY", str(self.key_path(name)))

    def trust_all(self, catalog) -> None:
        """alice trusts herself and carol as release managers, bob as an engineer. In a
        catalog that trusts keys already (the demo's), its release manager trusts alice."""
        from modeldesk.demo import KEYS_FOLDER
        from modeldesk.demo_history import DemoPeople
        from modeldesk.release.trust import trust_key, trusted_keys

        manager, engineer = ("release-manager",), ("engineer",)
        first = self.alice
        if trusted_keys(catalog):
            first = DemoPeople.load(catalog.path / KEYS_FOLDER).manager
        trust_key(catalog, first, self.alice.public, name="alice", roles=manager)
        trust_key(catalog, self.alice, self.bob.public, name="bob", roles=engineer)
        trust_key(catalog, self.alice, self.carol.public, name="carol", roles=manager)


# A suite of model "bc" (the demo's breast-cancer classifier imported under a short name,
# with its author's key, by the release tests): accuracy on the demo's test split.
BC_SUITE = """[suite]
name = "bc-gate"
model = "bc"
dataset = "breast-cancer-test@1"

[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
min = 0.85
"""
