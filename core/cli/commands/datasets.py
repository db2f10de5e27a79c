"""``modeldesk data ...``: import, list, show datasets and edit their dictionary."""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table, human_bytes, progress_bar
from modeldesk.cli.state import CliState, json_option


@click.group()
def data() -> None:
    """Import and inspect dataset versions (CSV or Parquet)."""


@data.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="Dataset name; versions are numbered per name.")
@click.option("--label", metavar="COL", help="The label column.")
@click.option(
    "--parent", type=click.IntRange(min=1), help="Version of this dataset it derives from."
)
@json_option
@click.pass_obj
def data_import(
    state: CliState, file: Path, name: str, label: str | None, parent: int | None, as_json: bool
) -> None:
    """Import a CSV or Parquet FILE as the next version of dataset NAME."""
    from modeldesk.datasets.importer import import_dataset

    catalog = state.catalog()
    with progress_bar(f"importing {file.name}") as progress:
        result = import_dataset(
            catalog, file, name=name, label=label, parent=parent, progress=progress
        )
    version = result.version
    if as_json:
        echo_json({"created": result.created, "notes": result.notes, **version.to_dict()})
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if result.created:
        click.echo(
            f"imported {version.ref} ({version.rows:,} rows x {version.column_count} columns, "
            f"{human_bytes(version.size)} as Parquet)"
        )
    else:
        click.echo(f"unchanged: {version.ref} already holds this file")


@data.command("list")
@click.argument("name", required=False)
@json_option
@click.pass_obj
def data_list(state: CliState, name: str | None, as_json: bool) -> None:
    """List dataset versions (all datasets, or versions of NAME)."""
    from modeldesk.datasets.registry import list_dataset_versions

    versions = list_dataset_versions(state.catalog(), name)
    if as_json:
        echo_json([{**v.to_dict(), "columns": v.column_count} for v in versions])
        return
    echo_table(
        ["dataset", "rows", "columns", "label", "source", "size", "created"],
        [
            (
                v.ref,
                f"{v.rows:,}",
                v.column_count,
                v.label or "",
                v.source_name,
                human_bytes(v.size),
                v.created_at[:19].replace("T", " "),
            )
            for v in versions
        ],
    )


def _summary(stats: dict) -> str:
    if "mean" in stats:
        return (
            f"min {stats.get('min')}  max {stats.get('max')}  mean {stats['mean']:.4g}"
            if stats.get("mean") is not None
            else ""
        )
    top = stats.get("top")
    if top:
        return "top " + ", ".join(f"{value}({count})" for value, count in top[:3])
    return ""


@data.command("show")
@click.argument("ref", metavar="NAME@V")
@json_option
@click.pass_obj
def data_show(state: CliState, ref: str, as_json: bool) -> None:
    """Show a dataset version and its data dictionary with statistics."""
    from modeldesk.datasets.registry import get_dataset_version

    version = get_dataset_version(state.catalog(), ref)
    if as_json:
        echo_json(version.to_dict())
        return
    click.echo(
        f"{version.ref}  ({version.source_name}, {version.rows:,} rows x "
        f"{version.column_count} columns, {human_bytes(version.size)} as Parquet)"
    )
    click.echo(f"  sha256   {version.sha256}")
    click.echo(f"  created  {version.created_at} by {version.created_by}")
    if version.parent_version:
        click.echo(f"  parent   {version.name}@{version.parent_version}")
    echo_table(
        ["column", "type", "role", "unit", "count", "missing", "distinct", "summary"],
        [
            (
                c.name,
                c.dtype,
                c.role,
                c.unit or "",
                c.stats.get("count"),
                c.stats.get("missing"),
                c.stats.get("distinct"),
                _summary(c.stats),
            )
            for c in version.columns
        ],
    )


@data.command("edit")
@click.argument("ref", metavar="NAME@V")
@click.argument("column")
@click.option(
    "--role",
    type=click.Choice(["feature", "label", "id", "ignore"]),
    help="What the column is for: a model feature, the label, a row id, or ignored.",
)
@click.option("--unit", help="Unit of the column's values (e.g. mm, °C).")
@click.option("--description", help="What the column holds.")
@click.pass_obj
def data_edit(
    state: CliState,
    ref: str,
    column: str,
    role: str | None,
    unit: str | None,
    description: str | None,
) -> None:
    """Edit a data dictionary entry: role, unit or description of COLUMN."""
    from modeldesk.datasets.registry import update_column

    info = update_column(
        state.catalog(), ref, column, role=role, unit=unit, description=description
    )
    click.echo(f"{ref} {info.name}: role {info.role}, unit {info.unit or '-'}")


COMMANDS = [data]
