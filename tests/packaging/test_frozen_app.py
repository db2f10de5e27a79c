"""The PyInstaller app folder, built from this tree and run as a user would run it.

Marked ``packaging``: building takes several minutes, so the default ``pytest`` run
skips these; ``pytest -m packaging`` (and ``.ci/run``) runs them. Set
``MODELDESK_FROZEN_APP`` to an already built ``dist/modeldesk/modeldesk`` to test
that build instead of making a new one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

from smoke import CHECKS, Frozen, SmokeFailure, SmokeSkipped  # noqa: E402

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def frozen() -> Iterator[Frozen]:
    """The frozen app, built once for this module, and a scratch folder for its checks.

    Everything the build makes (~730 MB of app, its virtual environment, PyInstaller's
    work folder) is under one temporary folder, removed when the module's tests end.
    """
    # Not tmp_path: pytest's temporary folders are private to their owner, and one check
    # runs the app as another user (root can write anywhere, so it drops to nobody).
    base = Path(tempfile.mkdtemp(prefix="modeldesk-frozen-"))
    base.chmod(0o755)
    given = os.environ.get("MODELDESK_FROZEN_APP")
    if given:
        exe = Path(given)
    else:
        dist = base / "dist"
        subprocess.run(
            [sys.executable, str(ROOT / "packaging" / "build.py"), "--dist", str(dist),
             "--work", str(base / "work"), "--no-smoke", "--no-timing"],
            check=True,
        )  # fmt: skip
        exe = dist / "modeldesk" / ("modeldesk.exe" if os.name == "nt" else "modeldesk")
    scratch = base / "scratch"
    scratch.mkdir()
    try:
        yield Frozen(exe.resolve(), scratch)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name", list(CHECKS))
def test_frozen_app(frozen: Frozen, name: str) -> None:
    try:
        CHECKS[name](frozen)
    except SmokeFailure as failure:
        pytest.fail(f"{name}: {failure}", pytrace=False)
    except SmokeSkipped as reason:
        pytest.skip(str(reason))


def test_a_failing_check_is_reported(frozen: Frozen) -> None:
    """The smoke checks can fail: a catalog the app cannot open fails the model-show check."""
    broken = Frozen(frozen.exe, frozen.scratch / "broken")
    broken.scratch.mkdir(exist_ok=True)
    (broken.demo).mkdir(exist_ok=True)
    (broken.demo / "catalog.db").write_bytes(b"not a database")
    with pytest.raises(SmokeFailure, match="exit 2"):
        CHECKS["model-show"](broken)
