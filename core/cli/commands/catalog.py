"""``modeldesk catalog ...`` and ``modeldesk audit ...``."""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.catalog.store import Catalog
from modeldesk.cli.output import echo_json, echo_table, human_bytes, progress_bar
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option


@click.group()
def catalog() -> None:
    """Create, check and tidy a catalog folder."""


@catalog.command("init")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
def catalog_init(path: Path) -> None:
    """Create an empty catalog at PATH."""
    with Catalog.init(path) as created:
        click.echo(f"created catalog {created.path}")


@catalog.command("check")
@json_option
@click.pass_obj
def catalog_check(state: CliState, as_json: bool) -> int:
    """Check the database, every blob's hash and the audit chain; exit 1 if anything is wrong."""
    from modeldesk.catalog.maintenance import check_catalog

    target = state.catalog()
    with progress_bar("checking") as progress:
        report = check_catalog(target, progress=progress)
    if as_json:
        echo_json(
            {
                "ok": report.ok,
                "problems": report.problems,
                "notes": report.notes,
                "blobs_checked": report.blobs_checked,
                "audit_rows": report.audit_rows,
            }
        )
    else:
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        for note in report.notes:
            click.echo(f"note: {note}")
        verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        click.echo(
            f"{target.path}: {verdict} ({report.blobs_checked} blobs verified, "
            f"{report.audit_rows} audit rows chained)"
        )
    return 0 if report.ok else EXIT_CHECK_FAILED


@catalog.command("backup")
@click.argument("destination", metavar="DEST", type=click.Path(path_type=Path, file_okay=False))
@json_option
@click.pass_obj
def catalog_backup(state: CliState, destination: Path, as_json: bool) -> None:
    """Copy the catalog to the new folder DEST, consistently even while it is in use.

    The database is copied with SQLite's online backup, then the blobs it names (each
    verified), and the copy must pass 'catalog check' before it appears at DEST.
    """
    from modeldesk.catalog.backup import backup_catalog

    with progress_bar("backing up") as progress:
        report = backup_catalog(state.catalog(), destination, progress=progress)
    if as_json:
        echo_json(
            {
                "path": str(report.path),
                "blobs": report.blobs,
                "bytes": report.bytes,
                "audit_rows": report.audit_rows,
            }
        )
        return
    click.echo(
        f"backed up to {report.path}: {report.blobs} blobs ({human_bytes(report.bytes)}), "
        f"{report.audit_rows} audit rows; the copy passes 'catalog check'"
    )


@catalog.command("gc")
@json_option
@click.pass_obj
def catalog_gc(state: CliState, as_json: bool) -> None:
    """Remove blobs that no record names and leftovers of interrupted writes."""
    from modeldesk.catalog.maintenance import collect_garbage

    report = collect_garbage(state.catalog())
    if as_json:
        echo_json(
            {
                "blobs_removed": report.blobs_removed,
                "bytes_freed": report.bytes_freed,
                "temp_files_removed": report.temp_files_removed,
            }
        )
        return
    click.echo(
        f"removed {len(report.blobs_removed)} blob(s), {report.temp_files_removed} temporary "
        f"file(s); freed {human_bytes(report.bytes_freed)}"
    )


@click.group()
def audit() -> None:
    """Read and verify the append-only audit log."""


@audit.command("verify")
@click.option("--against", "bundle", type=click.Path(path_type=Path, dir_okay=False),
              help="Also check that no row before this release bundle's audit head was "
              "removed or changed.")  # fmt: skip
@json_option
@click.pass_obj
def audit_verify(state: CliState, bundle: Path | None, as_json: bool) -> int:
    """Verify that every audit row chains to the one before it and that every signed row's
    signature holds with a key the catalog trusts; exit 1 if not."""
    from modeldesk.catalog.audit import audit_row_count, verify_chain
    from modeldesk.release.trust import verify_signed_rows

    target = state.catalog()
    problems = verify_chain(target.conn) + verify_signed_rows(target)
    if bundle is not None:
        from modeldesk.release.bundle import audit_against_bundle

        problems += audit_against_bundle(target, bundle)
    rows = audit_row_count(target.conn)
    if as_json:
        echo_json({"ok": not problems, "rows": rows, "problems": problems})
    else:
        for problem in problems:
            click.echo(f"problem: {problem}")
        click.echo(f"audit log: {rows} rows, " + ("chain intact" if not problems else "BROKEN"))
    return 0 if not problems else EXIT_CHECK_FAILED


@audit.command("log")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many of the newest rows to show.")  # fmt: skip
@json_option
@click.pass_obj
def audit_log(state: CliState, limit: int, as_json: bool) -> None:
    """Show the newest audit rows."""
    from modeldesk.catalog.audit import recent_audit_rows

    rows = recent_audit_rows(state.catalog().conn, limit)
    if as_json:
        echo_json(
            [
                {"id": r.id, "at": r.at, "actor": r.actor, "action": r.action,
                 "subject": r.subject, "detail": r.detail}
                for r in rows
            ]
        )  # fmt: skip
        return
    echo_table(
        ["#", "at", "actor", "action", "subject"],
        [(r.id, r.at, r.actor, r.action, r.subject) for r in rows],
    )


COMMANDS = [catalog, audit]
