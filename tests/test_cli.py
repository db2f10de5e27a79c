"""The modeldesk command line: commands, --json, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from modeldesk import __version__
from modeldesk.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent


def _all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found += _all_commands(command, full + " ")
    return found


def test_version(run_cli):
    result = run_cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"modeldesk {__version__}"


def test_model_workflow_with_json(run_cli, catalog_path: Path, model_file):
    path = model_file("linear_regressor", features=4)
    imported = run_cli("--catalog", catalog_path, "model", "import", path, "--name", "m", "--json")
    assert imported.code == 0, imported.err
    assert json.loads(imported.out)["ref"] == "m@1"
    assert json.loads(imported.out)["created"] is True

    again = run_cli("--catalog", catalog_path, "model", "import", path, "--name", "m")
    assert again.code == 0
    assert "unchanged: m@1" in again.out

    wider = model_file("linear_regressor", name="v2.onnx", features=6)
    tagged = run_cli(
        "--catalog",
        catalog_path,
        "model",
        "import",
        wider,
        "--name",
        "m",
        "--parent",
        "1",
        "--tag",
        "stage=candidate",
        "--tag",
        "owner=ml",
    )
    assert tagged.code == 0, tagged.err
    assert "imported m@2" in tagged.out

    listing = json.loads(run_cli("--catalog", catalog_path, "model", "list", "--json").out)
    assert [row["ref"] for row in listing] == ["m@1", "m@2"]
    assert listing[1]["tags"] == {"owner": "ml", "stage": "candidate"}
    assert listing[1]["parent_version"] == 1
    assert listing[0]["inputs"] == ["X: float32[batch×4]"]

    shown = json.loads(
        run_cli("--catalog", catalog_path, "model", "show", "m@latest", "--json").out
    )
    assert shown["version"] == 2
    assert shown["facts"]["inputs"][0]["shape"] == ["batch", 6]
    text = run_cli("--catalog", catalog_path, "model", "show", "m@1").out
    assert "X: float32[batch×4]" in text
    assert "ai.onnx 17" in text

    diff = run_cli("--catalog", catalog_path, "model", "diff", "m@1", "m@2")
    assert diff.code == 0
    assert "BREAKING" in diff.out and "batch×4" in diff.out
    failing = run_cli(
        "--catalog", catalog_path, "model", "diff", "m@1", "m@2", "--fail-on-breaking"
    )
    assert failing.code == 1
    as_json = json.loads(
        run_cli("--catalog", catalog_path, "model", "diff", "m@1", "m@2", "--json").out
    )
    assert as_json["breaking"] is True


def test_data_workflow_with_json(run_cli, catalog_path: Path, csv_file):
    path = csv_file("a,b,y\n1,2.5,yes\n3,4.5,no\n")
    imported = run_cli(
        "--catalog", catalog_path, "data", "import", path, "--name", "d", "--label", "y", "--json"
    )
    assert imported.code == 0, imported.err
    assert json.loads(imported.out)["rows"] == 2

    listing = json.loads(run_cli("--catalog", catalog_path, "data", "list", "--json").out)
    assert [(row["ref"], row["rows"], row["columns"]) for row in listing] == [("d@1", 2, 3)]
    shown = json.loads(run_cli("--catalog", catalog_path, "data", "show", "d@1", "--json").out)
    assert [c["role"] for c in shown["columns"]] == ["feature", "feature", "label"]
    assert "b" in run_cli("--catalog", catalog_path, "data", "show", "d").out

    edited = run_cli(
        "--catalog", catalog_path, "data", "edit", "d@1", "b", "--unit", "kg", "--description", "w"
    )
    assert edited.code == 0, edited.err
    shown = json.loads(run_cli("--catalog", catalog_path, "data", "show", "d@1", "--json").out)
    assert shown["columns"][1]["unit"] == "kg"


def test_catalog_check_gc_and_audit(run_cli, catalog_path: Path, csv_file):
    run_cli("--catalog", catalog_path, "data", "import", csv_file("a\n1\n"), "--name", "d")
    check = run_cli("--catalog", catalog_path, "catalog", "check", "--json")
    assert check.code == 0
    assert json.loads(check.out)["ok"] is True
    gc = json.loads(run_cli("--catalog", catalog_path, "catalog", "gc", "--json").out)
    assert gc["blobs_removed"] == []
    verify = run_cli("--catalog", catalog_path, "audit", "verify", "--json")
    assert (verify.code, json.loads(verify.out)["rows"]) == (0, 1)
    log = json.loads(run_cli("--catalog", catalog_path, "audit", "log", "--json").out)
    assert log[0]["action"] == "dataset.import"

    blob = next((catalog_path / "blobs" / "sha256").rglob("*"), None)
    blob = next(p for p in (catalog_path / "blobs" / "sha256").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    broken = run_cli("--catalog", catalog_path, "catalog", "check")
    assert broken.code == 1
    assert "does not match its hash" in broken.out


def test_catalog_env_variable_and_default_location(run_cli, catalog_path, csv_file, monkeypatch):
    monkeypatch.setenv("MODELDESK_CATALOG", str(catalog_path))
    assert run_cli("data", "import", csv_file("a\n1\n"), "--name", "env").code == 0
    assert "env@1" in run_cli("--catalog", catalog_path, "data", "list").out
    monkeypatch.delenv("MODELDESK_CATALOG")
    # Without either, the default catalog in the (test-isolated) user data folder is created.
    result = run_cli("data", "list", "--json")
    assert (result.code, json.loads(result.out)) == (0, [])
    from modeldesk.catalog.location import default_catalog_path

    assert (default_catalog_path() / "catalog.db").is_file()


def test_catalog_init(run_cli, tmp_path: Path):
    result = run_cli("catalog", "init", tmp_path / "fresh")
    assert result.code == 0
    assert (tmp_path / "fresh" / "catalog.db").is_file()
    again = run_cli("catalog", "init", tmp_path / "fresh")
    assert again.code == 2
    assert "already holds a catalog" in again.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["model", "show", "ghost@1"], 2, "model 'ghost': not in the catalog"),
        (["model", "show", "ghost@zero"], 2, "version must be a whole number"),
        (["model", "import", "missing.onnx", "--name", "m"], 2, "missing.onnx: no such file"),
        (["model", "import", "x.onnx"], 2, "Missing option '--name'"),
        (["data", "import", "nothing.csv", "--name", "d"], 2, "nothing.csv: no such file"),
        (["model", "import", "x.onnx", "--name", "m", "--tag", "novalue"], 2, "expected KEY=VALUE"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_usage_and_input_exit_2_with_one_line(
    run_cli, catalog_path, args, code, message, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # relative file names resolve in this test's own folder
    result = run_cli("--catalog", catalog_path, *args)
    assert result.code == code
    assert message in result.err
    assert "Traceback" not in result.err + result.out


def test_explicit_catalog_that_does_not_exist(run_cli, tmp_path):
    result = run_cli("--catalog", tmp_path / "nowhere", "model", "list")
    assert result.code == 2
    assert "no such catalog folder" in result.err


def test_a_real_process_reports_errors_in_one_line(catalog_path: Path, tmp_path: Path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x80\x04K\x01.")
    env = {**os.environ, "MODELDESK_CATALOG": str(catalog_path)}
    result = subprocess.run(
        [sys.executable, "-m", "modeldesk.cli", "model", "import", str(bad), "--name", "m"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: ") and "bad.onnx" in result.stderr
    assert "pickle" in result.stderr


def test_every_command_has_help_text():
    commands = _all_commands(cli)
    assert len(commands) > 30  # registered explicitly: present however this test is run
    for name, command in commands:
        assert command.help and command.help.strip(), f"'modeldesk {name}' has no help text"


def test_readme_names_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"modeldesk (?:\[--catalog PATH\] )?([a-z]+(?: [a-z]+){0,2})", readme)
    # Every leading run of words counts ("release policy set" names "release policy" too).
    documented = {" ".join(words[:size]) for words in map(str.split, found) for size in range(1, 4)}
    commands = _all_commands(cli)
    assert len(commands) > 30
    for name, command in commands:
        if isinstance(command, click.Group) or command.hidden:
            continue
        assert name in documented, f"README does not mention 'modeldesk {name}'"


def test_progress_bar_appears_only_on_a_terminal_and_after_the_delay(monkeypatch, capsys):
    from modeldesk.cli import output

    with output.progress_bar("importing x") as report:
        report(5, 10, "reading")
    assert capsys.readouterr().err == ""  # not a terminal: nothing drawn

    monkeypatch.setattr(output.sys.stderr, "isatty", lambda: True)
    with output.progress_bar("importing x") as report:
        report(5, 10, "reading")
    assert capsys.readouterr().err == ""  # a terminal, but under a second: nothing drawn

    monkeypatch.setattr(output, "PROGRESS_DELAY_S", 0.0)
    with output.progress_bar("importing x") as report:
        report(5, 10, "reading")
        report(10, 10, "done")
    drawn = capsys.readouterr().err
    assert "importing x" in drawn and "100%" in drawn


def test_bad_files_through_the_cli_give_one_line_and_change_nothing(
    run_cli, catalog_path, csv_file, tmp_path
):
    from helpers import catalog_snapshot

    before = catalog_snapshot(catalog_path)
    ragged = csv_file("a,b\n1,2\n3\n", "ragged.csv")
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(b"\x08\x08\x12\x04abc")
    for args in (
        ["data", "import", ragged, "--name", "d"],
        ["model", "import", truncated, "--name", "m"],
    ):
        result = run_cli("--catalog", catalog_path, *args)
        assert result.code == 2
        assert result.err.count("\n") == 1 and result.err.startswith("error: ")
        assert Path(args[2]).name in result.err
        assert "Traceback" not in result.err
    assert catalog_snapshot(catalog_path) == before


def test_demo_command_builds_a_healthy_catalog(run_cli, tmp_path):
    result = run_cli("demo", "--out", tmp_path / "demo")
    assert result.code == 0, result.err
    assert "built demo catalog" in result.out
    check = run_cli("--catalog", tmp_path / "demo", "catalog", "check", "--json")
    assert check.code == 0 and json.loads(check.out)["ok"]
    models = json.loads(run_cli("--catalog", tmp_path / "demo", "model", "list", "--json").out)
    assert {row["name"] for row in models} == {"breast-cancer", "diabetes", "digits"}
    again = run_cli("demo", "--out", tmp_path / "demo")
    assert again.code == 2 and "already holds a catalog" in again.err


def test_long_metadata_is_shortened_with_the_whole_value_one_flag_away(
    run_cli, catalog_path, model_file
):
    vocabulary = " ".join(f"token{index}" for index in range(1300))  # ~13,000 characters
    path = model_file("linear_regressor", vocabulary=vocabulary, author="me")
    assert run_cli("--catalog", catalog_path, "model", "import", path, "--name", "m").code == 0
    shown = run_cli("--catalog", catalog_path, "model", "show", "m@1")
    line = next(line for line in shown.out.splitlines() if "vocabulary" in line)
    assert len(line) < 160 and f"({len(vocabulary):,} characters)" in line
    assert "--full shows them whole" in shown.out and "author = me" in shown.out
    full = run_cli("--catalog", catalog_path, "model", "show", "m@1", "--full")
    assert vocabulary in full.out
    other = model_file("linear_regressor", name="other.onnx", seed=2, vocabulary="short")
    run_cli("--catalog", catalog_path, "model", "import", other, "--name", "m")
    diff = run_cli("--catalog", catalog_path, "model", "diff", "m@1", "m@2")
    assert max(len(line) for line in diff.out.splitlines()) < 200
    assert vocabulary in run_cli("--catalog", catalog_path, "model", "diff", "m@1", "m@2",
                                 "--full").out  # fmt: skip
