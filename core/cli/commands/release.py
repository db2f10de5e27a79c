"""``modeldesk release ...``: policies, candidates, gates, approvals.

Every transition is signed by your key (``MODELDESK_KEY`` or the user config folder's).
``release gates`` exits 1 when a gate fails.
"""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.commands.delivery import RELEASE_COMMANDS
from modeldesk.cli.output import echo_json, echo_table
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option


@click.group("release")
def release() -> None:
    """Releases: gated, approved by someone else, signed."""


@release.group("policy")
def policy() -> None:
    """A model's release policy (versioned TOML in the catalog)."""


@policy.command("set")
@click.argument("model_name", metavar="MODEL")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The policy's TOML file.",
)
@click.pass_obj
def policy_set(state: CliState, model_name: str, file: Path) -> None:
    """Store FILE as MODEL's next release policy (signed by a release manager's key)."""
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.policy import MAX_POLICY_BYTES, PolicyError, parse_policy, set_policy

    try:
        if file.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{file}: larger than {MAX_POLICY_BYTES >> 10} KiB")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.BadParameter(f"{file}: no such file", param_hint="--file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{file}: not UTF-8 text") from None
    named = parse_policy(text, source=str(file)).model
    if named != model_name:
        raise PolicyError(f"{file}: is the policy of model {named!r}, not {model_name!r}")
    stored, created = set_policy(state.catalog(), load_signing_key(), text, source=str(file))
    click.echo(f"{'set' if created else 'unchanged:'} policy {stored.ref}")


@policy.command("show")
@click.argument("model_name", metavar="MODEL")
@json_option
@click.pass_obj
def policy_show(state: CliState, model_name: str, as_json: bool) -> None:
    """MODEL's current release policy."""
    from modeldesk.errors import NotFoundError
    from modeldesk.release.policy import get_policy

    stored = get_policy(state.catalog(), model_name)
    if stored is None:
        raise NotFoundError(f"model {model_name}: has no release policy")
    found = stored.policy
    if as_json:
        echo_json(
            {
                "policy": stored.ref,
                "sha256": found.sha256,
                "text": found.text,
                "required_suites": list(found.required_suites),
                "targets": list(found.targets),
                "approvals": found.approvals,
                "allow_breaking_contract": found.allow_breaking_contract,
                "expiry_days": found.expiry_days,
            }
        )
        return
    click.echo(f"policy {stored.ref} (set {stored.created_at[:19]} by {stored.created_by})")
    click.echo(found.text.rstrip())


@release.command("create")
@click.argument("model_ref", metavar="MODEL@V")
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    metavar="PROFILE",
    help="A hardware profile the release ships to (repeatable).",
)
@click.option("--channel", default="stable", show_default=True, help="The release channel.")
@click.option(
    "--fixes", type=int, metavar="ID", help="The failed release this one fixes (a hotfix)."
)
@json_option
@click.pass_obj
def release_create(
    state: CliState,
    model_ref: str,
    targets: tuple[str, ...],
    channel: str,
    fixes: int | None,
    as_json: bool,
) -> None:
    """Create a candidate release of MODEL@V; prints its id."""
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.records import create_release

    created = create_release(
        state.catalog(),
        load_signing_key(),
        model_ref,
        targets=list(targets),
        channel=channel,
        fixes=fixes,
    )
    if as_json:
        echo_json(created.to_dict())
        return
    click.echo(created.id)


@release.command("list")
@click.option("--model", "model_name", metavar="NAME", help="Only this model's releases.")
@json_option
@click.pass_obj
def release_list(state: CliState, model_name: str | None, as_json: bool) -> None:
    """Releases, newest first."""
    from modeldesk.release.records import list_releases

    found = list_releases(state.catalog(), model_name)
    if as_json:
        echo_json([r.to_dict() for r in found])
        return
    echo_table(
        ["id", "model", "state", "channel", "targets", "approvals", "created"],
        [
            [
                r.id,
                r.model.ref,
                r.state,
                r.channel,
                ", ".join(r.targets),
                len(r.approvals),
                r.created_at[:19],
            ]
            for r in found
        ],
    )


@release.command("show")
@click.argument("release_id", type=int, metavar="ID")
@json_option
@click.pass_obj
def release_show(state: CliState, release_id: int, as_json: bool) -> None:
    """A release: model, state, targets, decisions."""
    from modeldesk.release.records import get_release
    from modeldesk.release.trust import trusted_keys

    found = get_release(state.catalog(), release_id)
    if as_json:
        echo_json(found.to_dict())
        return
    keys = trusted_keys(state.catalog())

    def who(fingerprint: str | None) -> str:
        if not fingerprint:
            return "-"
        return keys[fingerprint].label if fingerprint in keys else fingerprint[:16]

    click.echo(f"release #{found.id}: {found.model.ref} ({found.state})")
    click.echo(f"  model sha256  {found.model_sha256}")
    click.echo(f"  channel       {found.channel}; targets {', '.join(found.targets)}")
    click.echo(f"  policy        {found.policy.ref if found.policy else '-'}")
    click.echo(f"  author        {who(found.model.author_key)}")
    click.echo(f"  created       {found.created_at[:19]} by {who(found.creator_key)}")
    for decision in found.decisions:
        click.echo(
            f"  {decision.decision:<8}      {decision.created_at[:19]} by {who(decision.key)}: "
            f"{decision.comment}"
        )
    from modeldesk.release.deployments import release_events

    for event in release_events(state.catalog(), found.id):
        if event.rollback_of == found.id:
            what = f"rolled back to release #{event.release_id}"
        elif event.rollback_of is not None:
            what = f"deployed (a rollback from release #{event.rollback_of})"
        else:
            what = {"deploy": "deployed", "fail": "failed"}[event.kind]
        click.echo(
            f"  {event.at[:19]}  {event.target}: {what}"
            + (f" ({event.note})" if event.note else "")
        )


@release.command("gates")
@click.argument("release_id", type=int, metavar="ID")
@json_option
@click.pass_obj
def release_gates(state: CliState, release_id: int, as_json: bool) -> int:
    """Every gate of a release with its evidence; exit 1 if one fails."""
    from modeldesk.release.gates import evaluate_gates
    from modeldesk.release.records import get_release

    catalog = state.catalog()
    report = evaluate_gates(catalog, get_release(catalog, release_id))
    if as_json:
        echo_json(report.to_dict())
    else:
        _echo_gates(report)
    return 0 if report.passed else EXIT_CHECK_FAILED


def _echo_gates(report) -> None:
    echo_table(
        ["gate", "", "why"],
        [[g.id, "PASS" if g.passed else "FAIL", g.message] for g in report.gates],
    )
    click.echo(f"evidence {report.evidence_sha256}")


def _decide(state: CliState, release_id: int, comment: str, approve: bool) -> None:
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.lifecycle import approve_release, reject_release

    decide = approve_release if approve else reject_release
    decided, report = decide(state.catalog(), load_signing_key(), release_id, comment=comment)
    approvals = next(g for g in report.gates if g.kind == "approvals")
    click.echo(f"release #{decided.id} is {decided.state} ({approvals.message})")


@release.command("approve")
@click.argument("release_id", type=int, metavar="ID")
@click.option("--comment", required=True, help="Why (kept with your signature).")
@click.pass_obj
def release_approve(state: CliState, release_id: int, comment: str) -> None:
    """Approve a candidate with your release manager's key."""
    _decide(state, release_id, comment, approve=True)


@release.command("reject")
@click.argument("release_id", type=int, metavar="ID")
@click.option("--comment", required=True, help="Why (kept with your signature).")
@click.pass_obj
def release_reject(state: CliState, release_id: int, comment: str) -> None:
    """Reject a candidate with your release manager's key."""
    _decide(state, release_id, comment, approve=False)


@release.command("package")
@click.argument("release_id", type=int, metavar="ID")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The folder to write NAME-VERSION-rN.mdrel into.",
)
@click.pass_obj
def release_package(state: CliState, release_id: int, out_dir: Path) -> None:
    """Write the signed bundle of an approved release (signed by your release manager's key)."""
    from modeldesk.cli.output import progress_bar
    from modeldesk.release.bundle import package_release
    from modeldesk.release.keys import load_signing_key

    with progress_bar(f"packaging release #{release_id}") as progress:
        path = package_release(
            state.catalog(), load_signing_key(), release_id, out_dir, progress=progress
        )
    click.echo(path)


@release.command("export")
@click.argument("release_id", type=int, metavar="ID")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The candidate file to write (FILE.mdrc).",
)
@click.pass_obj
def release_export(state: CliState, release_id: int, out: Path) -> None:
    """Write a release as a candidate file for a release manager elsewhere: the model,
    its evidence, the policy and the author's signature, signed by your key."""
    from modeldesk.cli.output import progress_bar
    from modeldesk.release.candidate import export_candidate
    from modeldesk.release.keys import load_signing_key

    with progress_bar(f"exporting release #{release_id}") as progress:
        path = export_candidate(
            state.catalog(), load_signing_key(), release_id, out, progress=progress
        )
    click.echo(path)


@release.command("review")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rerun", is_flag=True, help="Run the required suites and benchmarks here too.")
@json_option
@click.pass_obj
def release_review(state: CliState, file: Path, rerun: bool, as_json: bool) -> int:
    """Bring a candidate file into this catalog (checking its signatures and every
    evidence hash) for your release manager's review; exit 1 if a gate fails."""
    from modeldesk.cli.output import progress_bar
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.review import review_candidate

    with progress_bar(f"reviewing {file.name}") as progress:
        found = review_candidate(
            state.catalog(), load_signing_key(), file, rerun=rerun, progress=progress
        )
    if as_json:
        echo_json(found.to_dict())
    else:
        here = found.release
        verb = "created" if found.created else "found"
        click.echo(f"release #{here.id}: {here.model.ref} ({here.state}, {verb} here)")
        for line in found.adopted:
            click.echo(f"  brought in  {line}")
        for line in found.notes:
            click.echo(f"  note        {line}")
        same = found.report.evidence_sha256 == found.candidate_evidence
        click.echo(f"  evidence    {'the same as' if same else 'differs from'} the candidate's")
        _echo_gates(found.report)
    return 0 if found.report.passed else EXIT_CHECK_FAILED


@release.command("import")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def release_import(state: CliState, bundle: Path) -> None:
    """Record a bundle packaged elsewhere against this catalog's release (verified with
    the keys trusted here)."""
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.returned import import_bundle

    found, changed = import_bundle(state.catalog(), load_signing_key(), bundle)
    done = "recorded" if changed else "already recorded:"
    click.echo(f"{done} release #{found.id} ({found.model.ref}) packaged as r{found.counter}")


@click.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Trusted keys ('modeldesk key export --trusted').",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Remember accepted release counters here; refuse older ones.",
)
@click.option(
    "--extract",
    type=click.Path(path_type=Path, file_okay=False),
    help="Extract into this new folder once everything holds.",
)
@json_option
def verify(
    bundle: Path, keys_file: Path, state_file: Path | None, extract: Path | None, as_json: bool
) -> int:
    """Check a release bundle before extracting anything: exit 0 valid, 1 refused."""
    from modeldesk.release import verify_bundle as verifier

    arguments = [str(bundle), "--keys", str(keys_file)]
    arguments += ["--state", str(state_file)] if state_file else []
    arguments += ["--extract", str(extract)] if extract else []
    arguments += ["--json"] if as_json else []
    return verifier.main(arguments)


for _command in RELEASE_COMMANDS:  # deploy, fail, rollback, events: the field's record
    release.add_command(_command)

COMMANDS = [release, verify]
