"""``modeldesk release deploy|fail|rollback|events`` (the field's record, each event signed
by your key) and ``modeldesk delivery`` (the five figures computed from it).

The release commands are added to the ``release`` group by
:mod:`modeldesk.cli.commands.release`; ``delivery`` is a top-level command.
"""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table
from modeldesk.cli.state import CliState, json_option

AT_HELP = "When it happened (ISO 8601, UTC unless it says; default now)."


def _at(value: str | None):
    from modeldesk.release.deployments import parse_time

    return None if value is None else parse_time(value)


def _record(state: CliState, event) -> None:
    from modeldesk.release.deployments import record_events
    from modeldesk.release.keys import load_signing_key

    (recorded,) = record_events(state.catalog(), load_signing_key(), [event])
    verb = {"deploy": "deployed", "fail": "failed"}[recorded.kind]
    if recorded.rollback_of is not None:
        verb = f"rolled back from release #{recorded.rollback_of} to"
    click.echo(f"{verb} release #{recorded.release_id} on {recorded.target} at {recorded.at}")


@click.command("deploy")
@click.argument("release_id", type=int, metavar="ID")
@click.option("--target", required=True, metavar="PROFILE", help="Where it went live.")
@click.option("--at", "at", metavar="TIME", help=AT_HELP)
@click.option("--note", help="What to remember about it.")
@click.pass_obj
def release_deploy(
    state: CliState, release_id: int, target: str, at: str | None, note: str | None
) -> None:
    """Record that a packaged release went live on a target."""
    from modeldesk.release.deployments import DEPLOY, NewEvent

    _record(state, NewEvent(DEPLOY, release_id, target, _at(at), note=note))


@click.command("fail")
@click.argument("release_id", type=int, metavar="ID")
@click.option("--target", required=True, metavar="PROFILE", help="Where it failed.")
@click.option("--reason", required=True, help="What failed (kept with the event).")
@click.option("--at", "at", metavar="TIME", help=AT_HELP)
@click.pass_obj
def release_fail(
    state: CliState, release_id: int, target: str, reason: str, at: str | None
) -> None:
    """Record that the release's deployment on a target failed and needed intervention."""
    from modeldesk.release.deployments import FAIL, NewEvent

    if not reason.strip():
        raise click.BadParameter("say what failed", param_hint="--reason")
    _record(state, NewEvent(FAIL, release_id, target, _at(at), note=reason.strip()))


@click.command("rollback")
@click.argument("release_id", type=int, metavar="ID")
@click.option("--target", required=True, metavar="PROFILE", help="The target that went back.")
@click.option(
    "--to", "to", type=int, required=True, metavar="ID", help="The earlier release it went back to."
)
@click.option("--at", "at", metavar="TIME", help=AT_HELP)
@click.pass_obj
def release_rollback(
    state: CliState, release_id: int, target: str, to: int, at: str | None
) -> None:
    """Record that a target went back from release ID to an earlier one (a deployment of it)."""
    from modeldesk.release.deployments import DEPLOY, NewEvent

    _record(state, NewEvent(DEPLOY, to, target, _at(at), rollback_of=release_id))


@click.group("events")
def release_events() -> None:
    """Deployment events from elsewhere (an external CD system)."""


@release_events.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def events_import(state: CliState, file: Path) -> None:
    """Record a CSV or JSON lines file of events, all or nothing: columns kind (deploy,
    fail, rollback), release, target, at, and optionally to (a rollback's release) and
    note."""
    from modeldesk.release.deployments import record_events
    from modeldesk.release.event_files import read_event_file
    from modeldesk.release.keys import load_signing_key

    events = read_event_file(file)
    recorded = record_events(state.catalog(), load_signing_key(), events, source=file.name)
    click.echo(f"recorded {len(recorded)} event(s) from {file.name}")


@click.command("delivery")
@click.option("--model", "model_name", metavar="NAME", help="Only this model.")
@click.option("--target", metavar="PROFILE", help="Only this target.")
@click.option("--since", metavar="DATE", help="Window start (default: 90 days before --until).")
@click.option("--until", metavar="DATE", help="Window end (default: now).")
@json_option
@click.pass_obj
def delivery(
    state: CliState,
    model_name: str | None,
    target: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """The five delivery figures (DORA) with intervals and 2024 performance bands."""
    from modeldesk.delivery import delivery_figures
    from modeldesk.release.deployments import parse_time

    figures = delivery_figures(
        state.catalog(),
        model=model_name,
        target=target,
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
    )
    if as_json:
        echo_json(figures)
        return
    window = figures["window"]
    click.echo(
        f"{window['since'][:10]} to {window['until'][:10]}: {figures['deployments']} deployment(s)"
    )
    echo_table(["figure", "value", "95% interval", "band"], _rows(figures))
    click.echo(f"bands: {figures['bands']['source']}")


def _rows(figures: dict) -> list[list[str]]:
    from modeldesk.delivery_text import figure_texts, number, span

    lead, recovery = figures["lead_time_hours"], figures["recovery_time_hours"]
    texts = {text.key: text for text in figure_texts(figures)}

    def row(key: str, label: str) -> list[str]:
        return [label, texts[key].value, texts[key].interval, texts[key].band]

    return [
        row("lead_time", "change lead time (median)"),
        ["  p90", number(lead["p90"], " h"), span(lead["p90_interval"], " h"), ""],
        *[
            [f"  {stage.replace('_', ' ')}", number(hours, " h"), "", ""]
            for stage, hours in lead["stages"].items()
        ],
        row("deploy_frequency", "deployments per week"),
        row("change_fail_rate", "change fail rate"),
        row("recovery_time", "recovery time (median)"),
        ["  open failures", str(len(recovery["open"])), "", ""],
        row("rework_rate", "rework rate"),
    ]


RELEASE_COMMANDS = [release_deploy, release_fail, release_rollback, release_events]
COMMANDS = [delivery]
