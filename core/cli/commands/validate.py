"""``modeldesk suite ...`` and ``modeldesk validate``: suites stored in the catalog, and runs.

``validate`` exits 0 when every check passed, 1 when one failed (or was inconclusive
under ``--on-inconclusive fail``), 2 when the suite or its inputs are invalid.
"""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table, progress_bar
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option


@click.group("suite")
def suite() -> None:
    """Validation suites: the checks every version of a model must pass."""


@suite.command("add")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@click.pass_obj
def suite_add(state: CliState, file: Path, as_json: bool) -> None:
    """Store the suite in FILE (TOML) as the next version of its name."""
    from modeldesk.validate.registry import add_suite, read_suite_file

    stored, created = add_suite(state.catalog(), read_suite_file(file), source_name=str(file))
    if as_json:
        echo_json({"suite": stored.ref, "sha256": stored.sha256, "created": created})
    elif created:
        click.echo(
            f"added {stored.ref} ({len(stored.suite.checks)} checks, model {stored.suite.model})"
        )
    else:
        click.echo(f"unchanged: {stored.ref} already holds this text")


@suite.command("list")
@click.option("--model", "model_name", metavar="NAME", help="Only the suites of this model.")
@json_option
@click.pass_obj
def suite_list(state: CliState, model_name: str | None, as_json: bool) -> None:
    """The newest version of every suite."""
    from modeldesk.validate.registry import list_suites

    found = list_suites(state.catalog(), model_name)
    if as_json:
        echo_json(
            [
                {"suite": s.ref, "model": s.suite.model, "dataset": s.suite.dataset,
                 "checks": len(s.suite.checks), "created_at": s.created_at}
                for s in found
            ]
        )  # fmt: skip
        return
    echo_table(
        ["suite", "model", "dataset", "checks", "created"],
        [[s.ref, s.suite.model, s.suite.dataset, len(s.suite.checks), s.created_at[:19]]
         for s in found],
    )  # fmt: skip


@suite.command("show")
@click.argument("ref", metavar="NAME[@V]")
@json_option
@click.pass_obj
def suite_show(state: CliState, ref: str, as_json: bool) -> None:
    """A suite version's settings and checks (``--json``: with its TOML text)."""
    from modeldesk.validate.registry import get_suite

    stored = get_suite(state.catalog(), ref)
    suite_ = stored.suite
    if as_json:
        from modeldesk.validate.propose import resolution_warnings

        echo_json(
            {
                "suite": stored.ref,
                "warnings": resolution_warnings(state.catalog(), suite_),
                "sha256": stored.sha256,
                "model": suite_.model,
                "dataset": suite_.dataset,
                "confidence": suite_.confidence,
                "on_inconclusive": suite_.on_inconclusive,
                "seed": suite_.seed,
                "resamples": suite_.resamples,
                "checks": [{"id": c.id, "kind": c.kind, **c.fields} for c in suite_.checks],
                "text": suite_.text,
            }
        )
        return
    from modeldesk.validate.propose import resolution_warnings

    for warning in resolution_warnings(state.catalog(), suite_):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{stored.ref}  (model {suite_.model}, dataset {suite_.dataset})")
    click.echo(f"  sha256       {stored.sha256}")
    click.echo(f"  created      {stored.created_at} by {stored.created_by}")
    click.echo(
        f"  confidence   {suite_.confidence:g}, {suite_.resamples} resamples, seed {suite_.seed}, "
        f"inconclusive counts as {suite_.on_inconclusive}"
    )
    echo_table(
        ["check", "kind", "settings"],
        [[c.id, c.kind, ", ".join(f"{k}={v}" for k, v in c.fields.items())] for c in suite_.checks],
    )


@suite.command("propose")
@click.argument("model_ref", metavar="MODEL@V")
@click.option("--dataset", "dataset_ref", required=True, metavar="DATA@V", help="Labelled data.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the suite here (default: print it).",
)
@click.option("--name", help="The suite's name (default: MODEL-gate).")
@click.pass_obj
def suite_propose(
    state: CliState, model_ref: str, dataset_ref: str, out: Path | None, name: str | None
) -> None:
    """A starter suite MODEL@V passes, thresholds at the edge of its own intervals."""
    from modeldesk.validate.propose import propose_suite

    text = propose_suite(state.catalog(), model_ref, dataset_ref, name=name)
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists():
        raise click.BadParameter(f"{out} exists; choose another file", param_hint="--out")
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}; add it with 'modeldesk suite add {out}'")


@suite.command("history")
@click.argument("model_name", metavar="MODEL")
@click.option("--suite", "suite_name", required=True, metavar="NAME", help="The suite.")
@json_option
@click.pass_obj
def suite_history(state: CliState, model_name: str, suite_name: str, as_json: bool) -> None:
    """Versions x checks: each version's newest recorded run of the suite."""
    from modeldesk.validate.history import suite_history as history_of

    history = history_of(state.catalog(), model_name, suite_name)
    if as_json:
        echo_json(history.to_dict())
        return
    echo_table(
        ["version", "run", *history.checks],
        [
            [ref, history.runs[ref], *(history.verdicts[ref].get(c, "-") for c in history.checks)]
            for ref in history.versions
        ],
    )


@suite.command("bisect")
@click.argument("model_ref", metavar="MODEL[@V]")
@click.option("--suite", "suite_spec", required=True, metavar="NAME[@V]", help="The suite.")
@click.option("--check", "check_id", required=True, metavar="ID", help="The check to follow.")
@json_option
@click.pass_obj
def suite_bisect(
    state: CliState, model_ref: str, suite_spec: str, check_id: str, as_json: bool
) -> int:
    """The first version along MODEL's lineage where a check fails (exit 1 if one does)."""
    from modeldesk.validate.history import bisect_check
    from modeldesk.validate.registry import get_suite

    stored = get_suite(state.catalog(), suite_spec)
    with progress_bar(f"bisecting {check_id}") as progress:
        found = bisect_check(state.catalog(), stored, model_ref, check_id, progress=progress)
    if as_json:
        echo_json(found.to_dict())
    elif found.first_failing is None:
        click.echo(f"{check_id} does not fail on {found.last_passing} ({len(found.verdicts)} run)")
    else:
        after = f" (last passing: {found.last_passing})" if found.last_passing else ""
        click.echo(f"{check_id} first fails on {found.first_failing}{after}")
        for ref, verdict in found.verdicts.items():
            click.echo(f"  {ref}: {verdict}")
    return EXIT_CHECK_FAILED if found.first_failing else 0


def _suite_for(state: CliState, spec: str, model_ref: str, dataset_ref: str | None):
    """A stored suite by NAME[@V], or a FILE, stored once its inputs are known good."""
    from modeldesk.validate.registry import get_suite, read_suite_file
    from modeldesk.validate.run import store_checked_suite

    path = Path(spec)
    if spec.endswith(".toml") or path.is_file():
        return store_checked_suite(
            state.catalog(), read_suite_file(path), model_ref, dataset_ref=dataset_ref, name=spec
        )
    return get_suite(state.catalog(), spec)


@click.command("validate")
@click.argument("model_ref", metavar="MODEL@V")
@click.option(
    "--suite",
    "suite_spec",
    required=True,
    metavar="NAME[@V]|FILE",
    help="A stored suite, or a TOML file (stored as the next version of its name first).",
)
@click.option("--dataset", "dataset_ref", metavar="DATA@V", help="Instead of the suite's dataset.")
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write JUnit XML here (failing checks' evidence beside it, in NAME.evidence/).",
)
@click.option(
    "--on-inconclusive",
    type=click.Choice(["fail", "pass", "skip"]),
    help="What an INCONCLUSIVE check counts as (default: the suite's on_inconclusive).",
)
@json_option
@click.pass_obj
def validate(
    state: CliState,
    model_ref: str,
    suite_spec: str,
    dataset_ref: str | None,
    junit_path: Path | None,
    on_inconclusive: str | None,
    as_json: bool,
) -> int:
    """Run a suite on MODEL@V; record the run; exit 1 if a check failed."""
    from modeldesk.validate.junit import write_junit
    from modeldesk.validate.run import run_suite

    catalog = state.catalog()
    stored = _suite_for(state, suite_spec, model_ref, dataset_ref)
    with progress_bar(f"validating {model_ref}") as progress:
        run = run_suite(
            catalog,
            stored,
            model_ref,
            dataset_ref=dataset_ref,
            on_inconclusive=on_inconclusive,
            progress=progress,
        )
    if junit_path is not None:
        write_junit(run, junit_path, timestamp=run.created_at)
    if as_json:
        echo_json(run.to_dict())
    else:
        click.echo(
            f"{run.model} against {run.suite} on {run.dataset}: {run.verdict} "
            f"(run {run.id}, {run.rows_predicted:,} rows predicted, {run.seconds:.2f} s)"
        )
        for result in run.results:
            click.echo(f"  {result.verdict:<12} {result.id}: {result.message}")
    return 0 if run.passed else EXIT_CHECK_FAILED


COMMANDS = [suite, validate]
