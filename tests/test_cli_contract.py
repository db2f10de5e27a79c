"""What pipelines rely on: exit codes, explicit commands, flags with one meaning each."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _leaf_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _leaf_commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


def test_the_group_has_its_commands_wherever_it_is_imported():
    # A fresh interpreter that imports only the group module: no side-effect import needed.
    script = "from modeldesk.cli.app import cli; print(' '.join(sorted(cli.commands)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = set(out.stdout.split())
    assert {"catalog", "model", "data", "debug", "explain", "bench", "profile", "agent",
            "audit", "demo", "gui"} <= names  # fmt: skip


def test_every_option_of_every_command_has_help_text():
    from modeldesk.cli.app import cli

    leaves = _leaf_commands(cli)
    assert len(leaves) > 25
    for name, command in leaves:
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"modeldesk {name} {param.opts[0]}: no help"


def test_help_states_the_exit_codes(run_cli):
    shown = run_cli("--help")
    assert shown.code == 0
    text = " ".join(shown.out.split())
    for code in ("0 success", "1 a check failed", "2 bad usage", "3 a device or host",
                 "70 an unexpected internal error"):  # fmt: skip
        assert code in text


def test_catalog_is_accepted_after_the_subcommand(run_cli, catalog_path, model_file):
    path = model_file("linear_regressor")
    assert run_cli("model", "import", path, "--name", "m", "--catalog", catalog_path).code == 0
    listed = run_cli("model", "list", "--json", "--catalog", catalog_path)
    assert [row["ref"] for row in json.loads(listed.out)] == ["m@1"]
    assert run_cli("catalog", "check", "--catalog", catalog_path).code == 0
    missing = run_cli("model", "list", "--catalog", catalog_path.parent / "nowhere")
    assert missing.code == 2 and "no such catalog folder" in missing.err


@pytest.mark.parametrize("ref", ["m@²", "m@٣", "m@1.0", "m@-1", "m@0"])
def test_versions_are_ascii_digits(run_cli, catalog_path, ref):
    result = run_cli("--catalog", catalog_path, "model", "show", ref)
    assert result.code == 2
    assert "version must be a whole number" in result.err
    assert "unexpected" not in result.err


def test_an_unexpected_error_exits_70_and_names_its_log(run_cli, catalog_path, monkeypatch):
    import modeldesk.catalog.maintenance as maintenance

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(maintenance, "check_catalog", broken)  # a bug cannot be caused on demand
    result = run_cli("--catalog", catalog_path, "catalog", "check")
    assert result.code == 70
    assert "unexpected RuntimeError: a bug; details in " in result.err
    log = Path(result.err.rsplit("details in ", 1)[1].strip())
    assert "Traceback" in log.read_text() and "Traceback" not in result.err


def test_an_unreachable_device_exits_3(run_cli, demo):
    if shutil.which("ssh") is None:
        pytest.skip("no ssh client (.ci/run installs openssh-client)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert run_cli("--catalog", demo.path, "profile", "add", "gone", "--kind", "ssh", "--host",
                   "127.0.0.1", "--port", str(closed)).code == 0  # fmt: skip
    result = run_cli("--catalog", demo.path, "bench", "digits@2", "--profile", "gone")
    assert result.code == 3
    assert "127.0.0.1" in result.err and result.err.strip().count("\n") == 0


def test_debug_takes_worst_and_profiles_take_intra_threads(run_cli, demo):
    shown = run_cli("--catalog", demo.path, "debug", "digits@2", "digits-test@1", "--worst",
                    "3", "--json")  # fmt: skip
    assert shown.code == 0, shown.err
    assert len(json.loads(shown.out)["worst_rows"]) == 3
    assert run_cli("--catalog", demo.path, "debug", "digits@2", "digits-test@1", "--rows",
                   "3").code == 2  # fmt: skip
    for flag, name in (("--intra-threads", "a"), ("--threads", "b")):
        added = run_cli("--catalog", demo.path, "profile", "add", name, flag, "2", "--json")
        assert added.code == 0 and json.loads(added.out)["intra_threads"] == 2


def test_model_edit_and_filtered_lists(run_cli, catalog_path, model_file, tmp_path):
    for seed in (1, 2, 3):
        path = model_file("linear_regressor", name=f"m{seed}.onnx", seed=seed)
        assert run_cli("--catalog", catalog_path, "model", "import", path, "--name", "m",
                       "--tag", "team=vision").code == 0  # fmt: skip
    notes = tmp_path / "notes.md"
    notes.write_text("# Candidate\n\nRetrained on March data.\n")
    edited = run_cli("--catalog", catalog_path, "model", "edit", "m@2", "--tag", "stage=candidate",
                     "--untag", "team", "--description-file", notes, "--json")  # fmt: skip
    assert edited.code == 0, edited.err
    version = json.loads(edited.out)
    assert version["tags"] == {"stage": "candidate"}
    assert version["description"].startswith("# Candidate")
    again = run_cli("--catalog", catalog_path, "model", "edit", "m@2", "--untag", "team")
    assert again.code == 2 and "has no tag 'team'" in again.err

    def refs(*args: str) -> list[str]:
        done = run_cli("--catalog", catalog_path, "model", "list", *args, "--json")
        assert done.code == 0, done.err
        return [row["ref"] for row in json.loads(done.out)]

    assert refs("--tag", "stage=candidate") == ["m@2"]
    assert refs("--tag", "team=vision") == ["m@1", "m@3"]
    assert refs("--limit", "2") == ["m@3", "m@2"]
    assert refs("m", "--tag", "team=vision", "--limit", "1") == ["m@3"]
    text = run_cli("--catalog", catalog_path, "model", "list", "--tag", "stage=candidate")
    assert "m@2" in text.out and "m@1" not in text.out


def test_the_command_line_runs_no_sql_of_its_own():
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA)\b|\.execute\(|\.query\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "core" / "cli").rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if sql.search(line)
    ]
    assert offenders == []


def _bare_modeldesk(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``modeldesk`` with no command, in an environment without any display unless given."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    base["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no last catalog remembered
    return subprocess.run(
        [sys.executable, "-m", "modeldesk.cli", *args],
        env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_bare_modeldesk_prints_the_help_where_there_is_no_display(tmp_path):
    done = _bare_modeldesk(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: modeldesk") and "\n  gui " in done.stdout


def test_bare_modeldesk_opens_the_app_where_there_is_a_display(tmp_path):
    # The app's own refusal of a missing catalog (exit 2) shows the app was started; on
    # a real catalog it would open the window and wait for the user.
    missing = tmp_path / "no-catalog"
    done = _bare_modeldesk(tmp_path, "--catalog", str(missing), QT_QPA_PLATFORM="offscreen")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {missing}: no such catalog folder"]
    assert done.stdout == ""


def test_bare_modeldesk_prints_the_help_where_the_display_is_gone(tmp_path):
    # DISPLAY left over from another session, with no X server behind it.
    done = _bare_modeldesk(tmp_path, DISPLAY=":93")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: modeldesk")
