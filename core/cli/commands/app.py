"""``modeldesk demo``: the demo catalog (``modeldesk gui`` lives in ``modeldesk.gui.command``)."""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import progress_bar


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the demo catalog (default: demo-catalog in the user data folder).",
)
def demo(out: Path | None) -> None:
    """Build a catalog of demo models and datasets (no scikit-learn needed)."""
    from modeldesk.catalog.location import default_demo_path
    from modeldesk.demo import build_demo_catalog

    target = out or default_demo_path()
    with progress_bar("building the demo catalog") as progress:
        path = build_demo_catalog(target, progress=progress)
    click.echo(f"built demo catalog {path}")


@click.command("_examine", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("model")
@click.argument("result")
@click.argument("mode", nargs=-1, type=click.UNPROCESSED)
def examine_child(model: str, result: str, mode: tuple[str, ...]) -> int:
    """Examine MODEL in this process and write RESULT (the frozen app's examiner child);
    MODE (--graph, --tensor NAME, --weight-deltas OTHER PAIRS) is passed on as given."""
    from modeldesk.models._examine_child import main as examine_main

    return examine_main(["_examine", model, result, *mode])


COMMANDS = [demo, examine_child]
