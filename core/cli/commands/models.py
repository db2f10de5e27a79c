"""``modeldesk model ...``: import, list, show and diff model versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modeldesk.cli.output import echo_json, echo_table, human_bytes, progress_bar
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option
from modeldesk.errors import BadInputError
from modeldesk.formatting import shorten

if TYPE_CHECKING:
    from modeldesk.models.registry import ModelVersion


def split_list(text: str | None) -> list[str] | None:
    """``a,b,c`` -> ``["a", "b", "c"]`` (None stays None)."""
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` -> ``{"k": "v"}``; a pair without ``=`` is a usage error."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"--tag {pair!r}: expected KEY=VALUE")
        tags[key.strip()] = value
    return tags


@click.group()
def model() -> None:
    """Import and inspect ONNX model versions."""


@model.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="Model name; versions are numbered per name.")
@click.option("--parent", type=click.IntRange(min=1), help="Version of this model it derives from.")
@click.option("--trained-on", metavar="DATA@V", help="Dataset version it was trained on.")
@click.option("--label", metavar="COL", help="Label column (default: the dataset's label).")
@click.option(
    "--features",
    metavar="a,b,...",
    help="Dataset columns feeding the model's feature axis, in order.",
)
@click.option("--classes", metavar="a,b,...", help="Class names, in output order.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@json_option
@click.pass_obj
def model_import(
    state: CliState,
    file: Path,
    name: str,
    parent: int | None,
    trained_on: str | None,
    label: str | None,
    features: str | None,
    classes: str | None,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Import an ONNX FILE as the next version of model NAME.

    Importing bytes identical to an existing version of NAME reports that
    version and creates nothing.
    """
    from modeldesk.models.importer import import_model

    catalog = state.catalog()
    with progress_bar(f"importing {file.name}") as progress:
        result = import_model(
            catalog,
            file,
            name=name,
            parent=parent,
            trained_on=trained_on,
            label=label,
            features=split_list(features),
            classes=split_list(classes),
            tags=parse_tags(tags),
            progress=progress,
        )
    version = result.version
    if as_json:
        echo_json({"created": result.created, **version.to_dict()})
        return
    if result.created:
        click.echo(
            f"imported {version.ref} ({version.sha256[:12]}, {human_bytes(version.file_size)})"
        )
    else:
        click.echo(f"unchanged: {version.ref} already holds these bytes")
    runtime_error = version.facts.runtime_error
    if runtime_error:
        click.echo(f"warning: ONNX Runtime cannot load this model: {runtime_error}", err=True)


@model.command("list")
@click.argument("name", required=False)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Only versions with this tag (repeat: all of them).")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the N newest versions, newest first.")  # fmt: skip
@json_option
@click.pass_obj
def model_list(
    state: CliState, name: str | None, tags: tuple[str, ...], limit: int | None, as_json: bool
) -> None:
    """List model versions (all models, or versions of NAME), by name and version."""
    from modeldesk.models.registry import list_model_versions, list_model_versions_json

    wanted = parse_tags(tags)
    if as_json:
        # Printed as SQLite built it: the fastest path for long listings.
        click.echo(list_model_versions_json(state.catalog(), name, tags=wanted, limit=limit))
        return
    rows = list_model_versions(state.catalog(), name, tags=wanted, limit=limit)
    echo_table(
        ["model", "size", "params", "inputs", "outputs", "parent", "created"],
        [
            (
                row["ref"],
                human_bytes(row["file_size"]),
                f"{row['param_count']:,}",
                "; ".join(row["inputs"]),
                "; ".join(row["outputs"]),
                row["parent_version"] or "",
                row["created_at"][:19].replace("T", " "),
            )
            for row in rows
        ],
    )


# Metadata values longer than this are shortened unless --full is given.
METADATA_SHOWN_CHARS = 80


def _metadata_text(value: str, full: bool) -> str:
    return value if full else shorten(value, METADATA_SHOWN_CHARS)


def _print_version(version: ModelVersion, full: bool = False) -> None:
    from modeldesk.models.contract import format_io

    facts = version.facts
    click.echo(f"{version.ref}  ({version.file_name}, {human_bytes(version.file_size)})")
    click.echo(f"  sha256       {version.sha256}")
    click.echo(f"  created      {version.created_at} by {version.created_by}")
    click.echo(f"  producer     {facts.producer or '?'}   IR version {facts.ir_version}")
    opsets = ", ".join(f"{item.domain} {item.version}" for item in facts.opsets)
    click.echo(f"  opsets       {opsets}")
    click.echo(
        f"  parameters   {facts.param_count:,} ({human_bytes(facts.initializer_bytes)})"
        f"   nodes {facts.node_count:,}"
    )
    if version.parent_version:
        click.echo(f"  parent       {version.name}@{version.parent_version}")
    if version.trained_on:
        click.echo(f"  trained on   {version.trained_on}")
    if version.label:
        click.echo(f"  label        {version.label}")
    if version.features:
        click.echo(f"  features     {', '.join(version.features)} ({version.feature_binding})")
    if version.classes:
        click.echo(f"  classes      {', '.join(version.classes)}")
    for key, value in sorted(version.tags.items()):
        click.echo(f"  tag          {key}={value}")
    click.echo("  inputs")
    for put in facts.inputs:
        click.echo(f"    {format_io(put)}")
    click.echo("  outputs")
    for put in facts.outputs:
        click.echo(f"    {format_io(put)}")
    click.echo("  ops          " + ", ".join(f"{op} x{n}" for op, n in facts.ops.items()))
    cut = False
    for key, value in facts.metadata.items():
        shown = _metadata_text(value, full)
        cut = cut or shown != value
        click.echo(f"  metadata     {key} = {shown}")
    for entry in version.external_files:
        click.echo(f"  external     {entry.path} ({human_bytes(entry.size)})")
    if facts.runtime_error:
        click.echo(f"  warning      ONNX Runtime cannot load it: {facts.runtime_error}")
    if cut:
        click.echo("  (long metadata values are shortened; --full shows them whole)")


@model.command("edit")
@click.argument("ref", metavar="NAME@V")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Add or change a tag (repeatable).")  # fmt: skip
@click.option("--untag", "untags", multiple=True, metavar="KEY",
              help="Remove a tag (repeatable); an error if the version lacks it.")  # fmt: skip
@click.option("--description-file", type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE", help="Replace the description with this Markdown file.")  # fmt: skip
@json_option
@click.pass_obj
def model_edit(
    state: CliState,
    ref: str,
    tags: tuple[str, ...],
    untags: tuple[str, ...],
    description_file: Path | None,
    as_json: bool,
) -> None:
    """Change a version's tags and description (what the app's tag and notes editors do)."""
    from modeldesk.models.registry import edit_model_version

    description = None
    if description_file is not None:
        try:
            description = description_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BadInputError(f"{description_file}: cannot be read as text ({error})") from None
    version = edit_model_version(
        state.catalog(),
        ref,
        set_tags=parse_tags(tags),
        remove_tags=list(untags),
        description=description,
    )
    if as_json:
        echo_json(version.to_dict())
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items())) or "no tags"
    click.echo(f"{version.ref}: {shown}" + ("; description replaced" if description else ""))


full_option = click.option(
    "--full", is_flag=True, help="Show long metadata values whole instead of shortened."
)


@model.command("show")
@click.argument("ref", metavar="NAME@V")
@full_option
@json_option
@click.pass_obj
def model_show(state: CliState, ref: str, full: bool, as_json: bool) -> None:
    """Show one model version: I/O, opsets, ops, parameters, metadata, lineage."""
    from modeldesk.models.registry import get_model_version

    version = get_model_version(state.catalog(), ref)
    if as_json:
        echo_json(version.to_dict())
    else:
        _print_version(version, full)


@model.command("diff")
@click.argument("old_ref", metavar="NAME@A")
@click.argument("new_ref", metavar="NAME@B")
@click.option("--fail-on-breaking", is_flag=True, help="Exit 1 if the I/O contract breaks.")
@full_option
@json_option
@click.pass_obj
def model_diff(
    state: CliState, old_ref: str, new_ref: str, fail_on_breaking: bool, full: bool, as_json: bool
) -> int:
    """Compare two model versions: I/O contract (breaking or compatible), ops, size, metadata."""
    from modeldesk.models.compare import compare_versions
    from modeldesk.models.registry import get_model_version

    catalog = state.catalog()
    diff = compare_versions(
        get_model_version(catalog, old_ref), get_model_version(catalog, new_ref)
    )
    if as_json:
        echo_json(diff.to_dict())
    else:
        click.echo(f"{diff.old} -> {diff.new}")
        if not diff.contract:
            click.echo("I/O contract: unchanged")
        for change in diff.contract:
            verdict = "BREAKING  " if change.breaking else "compatible"
            shown = f"{change.before or '-'}  ->  {change.after or '-'}"
            click.echo(f"  {verdict} {change.side} {change.name!r} {change.change}: {shown}")
            click.echo(f"             {change.reason}")
        for domain, (before, after) in diff.opsets.items():
            click.echo(f"  opset {domain}: {before or '-'} -> {after or '-'}")
        for op, (before, after) in diff.ops.items():
            click.echo(f"  op {op}: {before} -> {after}")
        old_size, new_size = diff.file_size
        old_params, new_params = diff.param_count
        click.echo(f"  size: {human_bytes(old_size)} -> {human_bytes(new_size)}")
        click.echo(f"  parameters: {old_params:,} -> {new_params:,}")
        for key, (was, now) in diff.metadata.items():
            old, new = (_metadata_text(v, full) if v is not None else "-" for v in (was, now))
            click.echo(f"  metadata {key}: {old} -> {new}")
    return EXIT_CHECK_FAILED if fail_on_breaking and diff.breaking else 0


COMMANDS = [model]


@model.command("graph")
@click.argument("ref", metavar="NAME@V")
@click.option("--diff", "against", metavar="NAME@W", help="Draw the changes from NAME@W to NAME@V.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.svg (a picture) or FILE.json (items, boxes and edges as data).",
)
@click.option(
    "--folded", is_flag=True, help="Keep scope groups folded as the app first shows them."
)
@click.pass_obj
def model_graph(state: CliState, ref: str, against: str | None, out: Path, folded: bool) -> None:
    """Render a version's graph (or its diff from another) headless, as SVG or JSON."""
    from modeldesk.graph.versions import export_graph
    from modeldesk.models.registry import get_model_version

    catalog = state.catalog()
    version = get_model_version(catalog, ref)
    old = get_model_version(catalog, against) if against else None
    with progress_bar("drawing the graph") as progress:
        drawn = export_graph(catalog, version, out, against=old, folded=folded, progress=progress)
    click.echo(f"{drawn['title']}: {drawn['items']} items, {drawn['edges']} edges -> {out}")
    for problem in drawn["problems"]:
        click.echo(f"  problem: {problem}")
