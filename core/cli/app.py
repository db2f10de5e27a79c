"""The ``modeldesk`` command group, its global options and its error handling.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input, 130
cancelled. No traceback reaches the user: unexpected errors are written to a
log file and summarised in one line.
"""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import click

from core import __version__
from core.catalog.location import CATALOG_ENV, default_catalog_path, log_folder
from core.catalog.store import Catalog
from core.errors import Cancelled, ModelDeskError

__all__ = ["EXIT_BAD_INPUT", "EXIT_CHECK_FAILED", "CliState", "cli", "main"]

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


@dataclass
class CliState:
    """What the global options chose; opens the catalog on first use."""

    catalog_path: Path | None
    _catalog: Catalog | None = field(default=None, repr=False)

    def catalog(self) -> Catalog:
        """The catalog this invocation works on (the default one is created if missing)."""
        if self._catalog is None:
            if self.catalog_path is None:
                self._catalog = Catalog.open(default_catalog_path(), create=True)
            else:
                self._catalog = Catalog.open(self.catalog_path)
        return self._catalog

    def close(self) -> None:
        """Close the catalog if it was opened."""
        if self._catalog is not None:
            self._catalog.close()


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, file_okay=False),
    envvar=CATALOG_ENV,
    help=f"Catalog folder (default: ${CATALOG_ENV}, else the user data folder).",
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
        # Bare `modeldesk` opens the desktop app, like `modeldesk gui`.
        from gui.app import run_app

        ctx.exit(run_app(catalog_path=catalog_path, use_demo=False))


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
    from core.cli import commands  # noqa: F401  (registers the subcommands)

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
        return EXIT_BAD_INPUT
    return result if isinstance(result, int) else 0
