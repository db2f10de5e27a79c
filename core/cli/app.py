"""The ``modeldesk`` command group, its global options and its error handling.

Exit codes: 0 success, 1 a check failed, 2 bad usage, bad input or not found, 3 a
device or host could not be reached, 70 an unexpected internal error (the message
names the log file with the details), 130 cancelled. No traceback reaches the user.

Every subcommand is added here explicitly (``cli.add_command``), and each accepts
``--catalog`` after its own name as well as before it. ``gui`` comes from
``modeldesk.gui.command`` and is registered only when ``modeldesk.gui`` imports (the
``gui`` extra is installed); otherwise a hidden stand-in names the extra and exits 2.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import click

from modeldesk import __version__
from modeldesk.catalog.location import CATALOG_ENV, log_folder
from modeldesk.cli.commands import (
    app as app_commands,
    bench,
    catalog,
    datasets,
    debug,
    delivery,
    explain,
    field,
    keys,
    models,
    release,
    validate,
)
from modeldesk.cli.state import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_UNREACHABLE,
    CliState,
)
from modeldesk.errors import Cancelled, DeviceUnreachableError, MissingExtraError, ModelDeskError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CHECK_FAILED",
    "EXIT_INTERNAL",
    "EXIT_UNREACHABLE",
    "CliState",
    "cli",
    "main",
]

EXIT_CODES_HELP = (
    "Exit codes: 0 success, 1 a check failed, 2 bad usage, bad input or not found, "
    "3 a device or host could not be reached, 70 an unexpected internal error (see the "
    "log file it names), 130 cancelled."
)
# Commands that never open a catalog take no --catalog of their own.
_WITHOUT_CATALOG = {
    ("catalog", "init"),
    ("demo",),
    ("agent", "serve"),
    ("_examine",),
    ("key", "init"),
    ("key", "show"),
    ("verify",),
}


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, file_okay=False),
    envvar=CATALOG_ENV,
    help=f"Catalog folder (default: ${CATALOG_ENV}, else the user data folder); "
    "also accepted after the subcommand.",
)
@click.version_option(
    __version__, "--version", prog_name="modeldesk", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(ctx: click.Context, catalog_path: Path | None) -> None:
    """ModelDesk: a local catalog, debugger and release desk for ONNX models.

    Every command works on one catalog folder: --catalog PATH, else
    $MODELDESK_CATALOG, else the default catalog in the user data folder.
    """
    state = CliState(catalog_path)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        # Bare `modeldesk` opens the desktop app, like `modeldesk gui`, where it can: the
        # app is installed and there is a display. Elsewhere (a pipeline, an ssh session,
        # a headless install) it prints this help.
        gui = ctx.command.commands.get("gui") if isinstance(ctx.command, click.Group) else None
        if gui is not None and not gui.hidden and _display_available():
            ctx.exit(ctx.invoke(gui))
        click.echo(ctx.get_help())


def _set_catalog(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    state = ctx.find_object(CliState)
    if value is not None and state is not None:
        state.catalog_path = value


def _accept_catalog_after_subcommands(group: click.Group, path: tuple[str, ...] = ()) -> None:
    """Give every command that uses a catalog its own ``--catalog`` (``cmd --catalog P``)."""
    for name, command in group.commands.items():
        where = (*path, name)
        if isinstance(command, click.Group):
            _accept_catalog_after_subcommands(command, where)
        elif where not in _WITHOUT_CATALOG:
            command.params.append(
                click.Option(
                    ["--catalog"],
                    type=click.Path(path_type=Path, file_okay=False),
                    expose_value=False,
                    callback=_set_catalog,
                    help="Catalog folder (as 'modeldesk --catalog PATH').",
                )
            )


def _display_available() -> bool:
    from modeldesk.gui.command import display_available

    return display_available()


def _missing_extra_command(name: str, extra: str, problem: ImportError) -> click.Command:
    """A hidden ``name`` that says which extra to install and exits 2, whatever its args."""

    @click.command(
        name,
        hidden=True,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def missing() -> None:
        raise MissingExtraError(f"modeldesk {name}", extra, problem.name or str(problem))

    return missing


def _gui_commands() -> list[click.Command]:
    """``gui`` when the ``gui`` extra is installed, else a stand-in that names the extra."""
    try:
        from modeldesk.gui.command import COMMANDS
    except ImportError as problem:
        return [_missing_extra_command("gui", "gui", problem)]
    return list(COMMANDS)


def _register(group: click.Group, commands: list[click.Command]) -> None:
    for command in commands:
        group.add_command(command)
    _accept_catalog_after_subcommands(group)


_CORE_COMMANDS = [
    command
    for module in (
        app_commands,
        bench,
        catalog,
        datasets,
        debug,
        delivery,
        explain,
        field,
        keys,
        models,
        release,
        validate,
    )
    for command in module.COMMANDS
]
_register(cli, _CORE_COMMANDS + _gui_commands())


def _log_unexpected(error: BaseException) -> Path | None:
    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "modeldesk-cli.log"
        logger = logging.getLogger("modeldesk.cli")
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        try:
            logger.error(
                "unexpected error in %s\n%s",
                " ".join(sys.argv),
                "".join(traceback.format_exception(error)),
            )
        finally:
            logger.removeHandler(handler)
            handler.close()
        return path
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, as a console script, exit with) its exit code."""
    try:
        result = cli.main(args=argv, prog_name="modeldesk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("cancelled", err=True)
        return EXIT_CANCELLED
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except Cancelled as error:
        click.echo(f"cancelled: {error}", err=True)
        return EXIT_CANCELLED
    except DeviceUnreachableError as error:
        click.echo(f"error: {error}", err=True)
        return EXIT_UNREACHABLE
    except ModelDeskError as error:
        click.echo(f"error: {error}", err=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        click.echo("cancelled", err=True)
        return EXIT_CANCELLED
    except Exception as error:
        log = _log_unexpected(error)
        where = f"; details in {log}" if log else ""
        click.echo(f"error: unexpected {type(error).__name__}: {error}{where}", err=True)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0
