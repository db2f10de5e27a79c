"""``modeldesk demo`` and ``modeldesk gui``: the demo catalog and the desktop app."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli.output import progress_bar
from core.cli.state import CliState


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the demo catalog (default: demo-catalog in the user data folder).",
)
def demo(out: Path | None) -> None:
    """Build a catalog of demo models and datasets (no scikit-learn needed)."""
    from core.catalog.location import default_demo_path
    from core.demo import build_demo_catalog

    target = out or default_demo_path()
    with progress_bar("building the demo catalog") as progress:
        path = build_demo_catalog(target, progress=progress)
    click.echo(f"built demo catalog {path}")


@click.command("gui")
@click.option("--demo", "use_demo", is_flag=True, help="Open the demo catalog (built if missing).")
@click.option(
    "--self-test",
    "self_test",
    type=click.Path(path_type=Path, file_okay=False),
    help="Visit every page, run a debug report, an explanation and a local benchmark, "
    "save a screenshot of each page in this folder and exit (0 when all worked).",
)
@click.option(
    "--exit-when-shown", is_flag=True, hidden=True, help="Quit once the window shows (timing)."
)
@click.pass_obj
def gui(state: CliState, use_demo: bool, self_test: Path | None, exit_when_shown: bool) -> int:
    """Open the desktop app (also what 'modeldesk' alone does)."""
    from gui.app import run_app

    return run_app(
        catalog_path=None if use_demo else state.catalog_path,
        use_demo=use_demo,
        self_test=self_test,
        exit_when_shown=exit_when_shown,
    )


@click.command("_examine", hidden=True)
@click.argument("model")
@click.argument("result")
def examine_child(model: str, result: str) -> int:
    """Examine MODEL in this process and write RESULT (the frozen app's examiner child)."""
    from core.models._examine_child import main as examine_main

    return examine_main(["_examine", model, result])


COMMANDS = [demo, gui, examine_child]
