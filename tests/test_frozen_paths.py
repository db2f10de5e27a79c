"""The commands a frozen app uses instead of ``python -m`` / ``python agent.py``.

A PyInstaller app has no Python interpreter to run a module or a script with, so its
child processes are the app itself with hidden or extra commands. Here ``sys.frozen``
is set and ``sys.executable`` is a real launcher script that runs ModelDesk's CLI, the
way the frozen executable would: the examiner and the agent then run as real child
processes through those commands.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from modeldesk.bench.client import AgentClient, local_command
from modeldesk.models.importer import import_model


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch) -> Path:
    launcher = tmp_path / "modeldesk"
    launcher.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -c "import sys; from modeldesk.cli import main; '
        f'sys.exit(main(sys.argv[1:]))" "$@"\n'
    )
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(launcher))
    return launcher


def test_the_examiner_runs_through_the_hidden_command(frozen, catalog, model_file):
    from modeldesk.models.examine import _child_command

    assert _child_command(Path("m.onnx"), Path("r.json"))[:2] == [str(frozen), "_examine"]
    result = import_model(catalog, model_file("multi_io"), name="frozen")
    assert result.version.ref == "frozen@1" and result.version.inputs[0].name == "tokens"


def test_the_local_agent_runs_through_agent_serve(frozen, tmp_path):
    command = local_command(tmp_path / "cache")
    assert command[:3] == [str(frozen), "agent", "serve"]
    with AgentClient(command) as client:
        device = client.start()
    assert "CPUExecutionProvider" in device["providers"]
    assert os.access(frozen, os.X_OK)
