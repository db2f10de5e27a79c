"""Smoke test of a built ModelDesk app folder: run the frozen executable as a user would.

    python packaging/smoke.py dist/modeldesk/modeldesk [--scratch DIR]

Each check runs the executable in a child process and either returns a one-line
finding or raises ``SmokeFailure`` naming what went wrong. ``packaging/build.py``
runs them all after a build; ``tests/packaging/test_frozen_app.py`` runs each as a
test (``pytest -m packaging``). Standard library only: the build script may run
under any Python 3.11.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = "breast-cancer@3"  # the demo's LightGBM model: exact TreeSHAP applies
DEMO_TRAIN = "breast-cancer-train@2"
TIMEOUT_S = 600
NOBODY = 65534  # the unprivileged user the root-only check runs as


class SmokeFailure(AssertionError):
    """A check of the frozen app failed; the message says which and why."""


class SmokeSkipped(Exception):
    """A check cannot run on this machine (e.g. no Xvfb); the message says why."""


@dataclass
class Frozen:
    """The executable under test and a scratch folder its checks share."""

    exe: Path
    scratch: Path

    @property
    def demo(self) -> Path:
        """The demo catalog the ``demo`` check builds (later checks build it if missing)."""
        return self.scratch / "demo"

    def env(self, **changes: str | None) -> dict[str, str]:
        """The environment for a run: headless Qt, settings and logs kept in scratch."""
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        home = self.scratch / "home"
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_STATE_HOME=str(home / "state"),
            XDG_CACHE_HOME=str(home / "cache"),
        )
        env.pop("MODELDESK_CATALOG", None)
        env.pop("PYTHONPATH", None)  # nothing from a source tree may leak into the frozen app
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the executable with ``args``; never raises on a non-zero exit."""
        try:
            return subprocess.run(
                [*(prefix or []), str(self.exe), *args],
                capture_output=True,
                text=True,
                env=env or self.env(),
                timeout=TIMEOUT_S,
                cwd=self.scratch,
            )
        except subprocess.TimeoutExpired as error:
            command = " ".join(args)
            raise SmokeFailure(f"modeldesk {command}: no exit after {TIMEOUT_S} s") from error

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run and require exit 0; returns stdout."""
        result = self.run(*args, env=env)
        if result.returncode != 0:
            raise SmokeFailure(
                f"modeldesk {' '.join(args)}: exit {result.returncode}: {_last_line(result)}"
            )
        return result.stdout

    def ensure_demo(self) -> Path:
        """The demo catalog, built by the frozen app if an earlier check has not."""
        if not (self.demo / "catalog.db").is_file():
            self.ok("demo", "--out", str(self.demo))
        return self.demo


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _expect_refusal(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2 with a one-line error mentioning every needle; returns that line."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.returncode != 2 or len(errors) != 1:
        raise SmokeFailure(
            f"expected exit 2 and one error line, got exit {result.returncode}: "
            f"{result.stderr.strip()[:300]!r}"
        )
    if "Traceback" in result.stderr:
        raise SmokeFailure(f"a traceback was printed: {result.stderr[:300]!r}")
    missing = [needle for needle in needles if needle not in errors[0]]
    if missing:
        raise SmokeFailure(f"the error does not mention {missing}: {errors[0]!r}")
    return errors[0]


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path and sha256 (to prove nothing changed)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# -- the checks ---------------------------------------------------------------------------
def check_version(app: Frozen) -> str:
    """``modeldesk --version`` prints the version the source tree declares."""
    text = (ROOT / "core" / "__init__.py").read_text(encoding="utf-8")
    version = re.search(r'__version__ = "([^"]+)"', text)
    out = app.ok("--version").strip()
    if version is None or out != f"modeldesk {version.group(1)}":
        raise SmokeFailure(f"--version printed {out!r}")
    return out


def check_demo(app: Frozen) -> str:
    """``modeldesk demo --out DIR`` builds the demo catalog from the bundled resources."""
    shutil.rmtree(app.demo, ignore_errors=True)
    app.ok("demo", "--out", str(app.demo))
    listing = app.ok("--catalog", str(app.demo), "model", "list")
    names = {line.split("@")[0] for line in listing.splitlines()[1:] if "@" in line}
    expected = {"breast-cancer", "diabetes", "digits"}
    if not expected <= names:
        raise SmokeFailure(f"the demo catalog lists {sorted(names)}, expected {sorted(expected)}")
    return f"demo catalog with models {', '.join(sorted(names))}"


def check_catalog(app: Frozen) -> str:
    """``modeldesk catalog check`` passes on the demo catalog."""
    out = app.ok("--catalog", str(app.ensure_demo()), "catalog", "check")
    return out.strip().splitlines()[-1] if out.strip() else "catalog check passed"


def check_model_show(app: Frozen) -> str:
    """``modeldesk model show`` of a demo model (inputs, outputs, operators)."""
    out = app.ok("--catalog", str(app.ensure_demo()), "model", "show", DEMO_MODEL)
    if "TreeEnsemble" not in out or "input" not in out.lower():
        raise SmokeFailure(f"model show {DEMO_MODEL} lacks its operators or inputs: {out[:300]!r}")
    return f"model show {DEMO_MODEL}: {len(out.splitlines())} lines"


def _explain(app: Frozen, method: str, *args: str, **env: str) -> tuple[float, dict]:
    """Run ``modeldesk explain ARGS --json`` (with ``env`` changes) and require ``method``.

    Returns the seconds and the JSON summary, whose ``workers`` says how many worker
    processes computed the values.
    """
    command = [str(app.exe), "--catalog", str(app.ensure_demo()), "explain", *args, "--json"]
    started = time.perf_counter()
    result = app.run(*command[1:], env=app.env(**env))
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        summary = {}
    if result.returncode != 0 or summary.get("method") != method:
        raise SmokeFailure(
            f"explain {' '.join(args)}: exit {result.returncode}, not the {method} method: "
            f"{(result.stderr or result.stdout)[-300:]!r}"
        )
    return time.perf_counter() - started, summary


def check_explain_pool(app: Frozen) -> str:
    """A tree explanation on the spawn worker pool (needs ``freeze_support``).

    The pool is forced (``MODELDESK_TREE_POOL_MIN_S=0``) so the check does not depend on
    how fast this machine explains the rows in one process. (A cached result reports the
    workers of the run that computed it.)
    """
    rows = ["--rows", "398", "--background", "all"]
    seconds, summary = _explain(
        app, "tree", DEMO_MODEL, DEMO_TRAIN, *rows, MODELDESK_TREE_POOL_MIN_S="0"
    )
    workers = summary.get("workers", 0)
    if (os.cpu_count() or 1) > 1 and not workers:
        raise SmokeFailure("the tree explanation started no worker processes")
    return f"tree explanation of 398 rows x 398 background rows, {workers} workers: {seconds:.1f} s"


def check_explain_agnostic(app: Frozen) -> str:
    """A model-agnostic explanation: shap's Permutation explainer, numba-compiled, over ORT."""
    rows = ["--rows", "5", "--method", "permutation"]
    seconds, _ = _explain(app, "permutation", "breast-cancer@1", "breast-cancer-test@1", *rows)
    return f"permutation explanation of 5 rows (logistic regression): {seconds:.1f} s"


def check_agent_source(app: Frozen) -> str:
    """The benchmark agent ships as a readable source file (``agent install`` sends it)."""
    shipped = list(app.exe.parent.rglob("modeldesk/bench/agent.py"))
    source = ROOT / "core" / "bench" / "agent.py"
    if not shipped or shipped[0].read_bytes() != source.read_bytes():
        raise SmokeFailure(
            f"{app.exe.parent}: modeldesk/bench/agent.py missing or not the source's"
        )
    return f"agent source shipped at {shipped[0].relative_to(app.exe.parent)}"


def check_self_test(app: Frozen) -> str:
    """``modeldesk gui --self-test``: every page, a debug report, an explanation, a benchmark
    and a validation run."""
    shots = app.scratch / "shots"
    shutil.rmtree(shots, ignore_errors=True)
    out = app.ok("--catalog", str(app.ensure_demo()), "gui", "--self-test", str(shots))
    pngs = sorted(shots.glob("*.png"))
    wanted = {"catalog", "model_version_explain", "model_version_bench",
              "model_version_validate", "dataset_version"}  # fmt: skip
    missing = wanted - {png.stem for png in pngs}
    if missing or any(png.stat().st_size < 5_000 for png in pngs):
        raise SmokeFailure(f"{shots}: screenshots missing or empty ({sorted(missing)})")
    if any(word not in out for word in ("explained", "benchmarked", "validated")):
        raise SmokeFailure(f"the self-test did not explain, benchmark and validate: {out[:300]!r}")
    return " / ".join(out.strip().splitlines())


def check_x11_window(app: Frozen) -> str:
    """The app's window on a real X server (Xvfb), through the bundled xcb platform plugin."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None or not sys.platform.startswith("linux"):
        raise SmokeSkipped("no Xvfb here (Debian: apt-get install xvfb)")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + 30
        while not socket.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SmokeFailure(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        env = app.env(QT_QPA_PLATFORM=None, WAYLAND_DISPLAY=None, DISPLAY=f":{number}")
        args = ["--catalog", str(app.ensure_demo()), "gui", "--exit-when-shown"]
        started = time.perf_counter()
        app.ok(*args, env=env)
        return f"main window shown on Xvfb :{number} in {time.perf_counter() - started:.1f} s"
    finally:
        server.terminate()
        server.wait(timeout=10)


def check_missing_catalog(app: Frozen) -> str:
    """A missing catalog folder: exit 2 naming the folder, for the app and the CLI."""
    missing = app.scratch / "no-such-catalog"
    line = _expect_refusal(app.run("--catalog", str(missing), "gui"), str(missing))
    _expect_refusal(app.run("--catalog", str(missing), "model", "list"), str(missing))
    if missing.exists():
        raise SmokeFailure(f"{missing} was created")
    return line


def check_unwritable_catalog(app: Frozen) -> str:
    """A catalog folder the user cannot write: exit 2 naming it, nothing changed.

    Root writes anywhere, so as root the app runs as ``nobody`` (``setpriv``); that
    needs the app folder to be readable by everyone.
    """
    if os.name == "nt":
        raise SmokeSkipped("Windows folder permissions are ACLs, not mode bits; not checked")
    catalog = app.scratch / "read-only"
    shutil.rmtree(catalog, ignore_errors=True)
    shutil.copytree(app.ensure_demo(), catalog)
    prefix: list[str] = []
    env = app.env()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None or not _readable_by_all(app.exe):
            raise SmokeFailure(f"running as root and cannot drop to nobody to run {app.exe}")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        home = app.scratch / "nobody-home"
        home.mkdir(exist_ok=True)
        home.chmod(0o777)
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home), XDG_DATA_HOME=str(home))
        env.update(XDG_STATE_HOME=str(home), XDG_CACHE_HOME=str(home))
        _open_path_for_all(app.scratch)
    for path in [catalog, *catalog.rglob("*")]:
        mode = 0o555 if path.is_dir() else 0o444
        path.chmod(mode)
    before = _snapshot(catalog)
    try:
        line = _expect_refusal(
            app.run("--catalog", str(catalog), "gui", env=env, prefix=prefix), "not writable"
        )
    finally:
        for path in [catalog, *catalog.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    if _snapshot(catalog) != before:
        raise SmokeFailure(f"{catalog}: changed by a refused start")
    return line


def _readable_by_all(path: Path) -> bool:
    """Every folder above ``path`` lets others in, and the file is theirs to run."""
    for folder in path.resolve().parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IXOTH)


def _open_path_for_all(folder: Path) -> None:
    """Let ``nobody`` reach ``folder`` (the scratch folder may sit in a private temp dir)."""
    folder.chmod(folder.stat().st_mode | 0o755)
    for parent in folder.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise SmokeFailure(f"{parent}: not reachable by other users; use --scratch elsewhere")


def check_newer_schema(app: Frozen) -> str:
    """A catalog from a newer ModelDesk: exit 2 with both version numbers, nothing changed."""
    catalog = app.scratch / "newer"
    shutil.rmtree(catalog, ignore_errors=True)
    shutil.copytree(app.ensure_demo(), catalog)
    with sqlite3.connect(catalog / "catalog.db") as conn:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {current + 40}")
    conn.close()
    before = _snapshot(catalog)
    line = _expect_refusal(
        app.run("--catalog", str(catalog), "gui"), str(current + 40), f"({current})"
    )
    _expect_refusal(app.run("--catalog", str(catalog), "model", "list"), str(current + 40))
    if _snapshot(catalog) != before:
        raise SmokeFailure(f"{catalog}: changed by a refused start")
    return line


def check_no_display(app: Frozen) -> str:
    """No display and no QT_QPA_PLATFORM: exit 2 with a message naming QT_QPA_PLATFORM."""
    if not sys.platform.startswith("linux"):
        raise SmokeSkipped("Windows and macOS always have a display")
    env = app.env(QT_QPA_PLATFORM=None, DISPLAY=None, WAYLAND_DISPLAY=None)
    return _expect_refusal(
        app.run("--catalog", str(app.ensure_demo()), "gui", env=env), "QT_QPA_PLATFORM"
    )


CHECKS: dict[str, Callable[[Frozen], str]] = {
    "version": check_version,
    "demo": check_demo,
    "catalog-check": check_catalog,
    "model-show": check_model_show,
    "explain-pool": check_explain_pool,
    "explain-agnostic": check_explain_agnostic,
    "agent-source": check_agent_source,
    "self-test": check_self_test,
    "x11-window": check_x11_window,
    "missing-catalog": check_missing_catalog,
    "unwritable-catalog": check_unwritable_catalog,
    "newer-schema": check_newer_schema,
    "no-display": check_no_display,
}


def run_checks(exe: Path, scratch: Path) -> bool:
    """Run every check in order, print one line each; True if all passed."""
    app = Frozen(exe.resolve(), scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    passed = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            finding = check(app)
        except SmokeFailure as error:
            passed = False
            print(f"  FAIL  {name}: {error}", flush=True)
            continue
        except SmokeSkipped as reason:
            print(f"  skip  {name}: {reason}", flush=True)
            continue
        print(f"  ok    {name} ({time.perf_counter() - started:.1f} s): {finding}", flush=True)
    return passed


def main() -> int:
    """Command-line entry: smoke-test an app folder's executable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe", type=Path, help="the frozen executable (dist/modeldesk/modeldesk)")
    parser.add_argument("--scratch", type=Path, help="working folder (default: a temporary one)")
    options = parser.parse_args()
    if not options.exe.is_file():
        print(f"error: {options.exe}: no such executable; build it first", file=sys.stderr)
        return 2
    scratch = options.scratch or Path(tempfile.mkdtemp(prefix="modeldesk-smoke-"))
    print(f"smoke test of {options.exe} (scratch {scratch})")
    return 0 if run_checks(options.exe, scratch) else 1


if __name__ == "__main__":
    sys.exit(main())
