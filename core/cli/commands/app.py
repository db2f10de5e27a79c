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


@click.command("_examine", hidden=True)
@click.argument("model")
@click.argument("result")
@click.option("--graph", is_flag=True, help="Describe the model's graph instead.")
def examine_child(model: str, result: str, graph: bool) -> int:
    """Examine MODEL in this process and write RESULT (the frozen app's examiner child)."""
    from modeldesk.models._examine_child import GRAPH_FLAG, main as examine_main

    return examine_main(["_examine", model, result, *([GRAPH_FLAG] if graph else [])])


COMMANDS = [demo, examine_child]
