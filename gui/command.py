"""``modeldesk gui``: the desktop app's command, registered by the command line only when
this package imports (the ``gui`` extra is installed).

Importing this module loads click and nothing of Qt: the command line's start-up and
``--help`` stay light. Qt is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.state import CliState

__all__ = ["COMMANDS", "display_available", "gui"]


def display_available() -> bool:
    """Whether a window can be shown here: a display (or an explicit Qt platform) is there.

    Qt is only loaded to check an explicit ``QT_QPA_PLATFORM``; see ``display_problem``.
    """
    from modeldesk.gui.app import display_problem

    return display_problem() is None


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
    """Open the desktop app (also what 'modeldesk' alone does where there is a display)."""
    from modeldesk.gui.app import run_app

    return run_app(
        catalog_path=None if use_demo else state.catalog_path,
        use_demo=use_demo,
        self_test=self_test,
        exit_when_shown=exit_when_shown,
    )


COMMANDS = [gui]
