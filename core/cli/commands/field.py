"""``modeldesk field``: captures from devices, imported and replayed against the lab.

Every command takes ``--json``. Exit codes: 0 done, 1 parity is beyond tolerance
(FAIL), 2 bad input (a capture that does not fit its model, an unknown record).
"""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table, progress_bar
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option

bundle_option = click.option(
    "--bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.mdrel",
    help="Read the training data's reference from this release bundle (verified with the "
    "catalog's keys), for a catalog without the training data.",
)


@click.group()
def field() -> None:
    """Field captures: what a device saw and answered, checked against the lab, offline."""


@field.command("import")
@click.argument("path", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--release", "release_id", type=int, metavar="ID", help="The release it ran.")
@click.option("--model", "model_ref", metavar="NAME@V", help="The model version it ran.")
@click.option("--device", help="The device it came from (default: its capture.json's).")
@click.option("--name", help="What to call the capture (default: the file's name).")
@json_option
@click.pass_obj
def field_import(
    state: CliState,
    path: Path,
    release_id: int | None,
    model_ref: str | None,
    device: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Check capture FILE (CSV, JSON lines, Parquet, .npz) against its model and store it."""
    from modeldesk.field.registry import import_capture

    with progress_bar(f"importing {path.name}") as progress:
        capture = import_capture(state.catalog(), path, release=release_id, model=model_ref,
                                 device=device, name=name, progress=progress)  # fmt: skip
    if as_json:
        echo_json(capture.to_dict())
        return
    click.echo(f"imported capture #{capture.id} ({capture.rows:,} rows of {capture.model.ref})")
    for warning in capture.warnings:
        click.echo(f"warning: {warning}", err=True)


@field.command("list")
@click.option("--model", "model_name", metavar="NAME", help="Only captures of this model.")
@json_option
@click.pass_obj
def field_list(state: CliState, model_name: str | None, as_json: bool) -> None:
    """List the stored captures, newest first."""
    from modeldesk.field.registry import list_captures

    captures = list_captures(state.catalog(), model_name)
    if as_json:
        echo_json([capture.to_dict() for capture in captures])
        return
    headers = ["id", "name", "model", "release", "device", "rows", "from", "to"]
    rows = [[c.id, c.name, c.model.ref, c.release_id, c.device, c.rows, c.first_at[:19],
             c.last_at[:19]] for c in captures]  # fmt: skip
    echo_table(headers, rows)


@field.command("show")
@click.argument("capture_id", type=int, metavar="ID")
@json_option
@click.pass_obj
def field_show(state: CliState, capture_id: int, as_json: bool) -> None:
    """Show one capture: its model, device, rows, time span and columns."""
    from modeldesk.field.registry import get_capture

    capture = get_capture(state.catalog(), capture_id)
    if as_json:
        echo_json(capture.to_dict())
        return
    release = f" (release #{capture.release_id})" if capture.release_id else ""
    click.echo(f"capture #{capture.id} {capture.name}: {capture.model.ref}{release}")
    click.echo(f"device {capture.device or '-'}, profile {capture.profile or '-'}")
    click.echo(f"{capture.rows:,} rows from {capture.first_at} to {capture.last_at}")
    click.echo(f"features: {len(capture.features)}; outputs: " + ", ".join(
        f"{name} ({width})" for name, width in capture.outputs.items()))  # fmt: skip
    for warning in capture.warnings:
        click.echo(f"warning: {warning}")


def _share(check: dict) -> str:
    low, high = check["interval"]
    return (
        f"{check['count']:,} of {check['rows']:,} ({check['share']:.2%}; 95 % interval "
        f"{low:.2%} .. {high:.2%}; limit {check['limit']:.2%}) {check['verdict']}"
    )


@field.command("parity")
@click.argument("capture_id", type=int, metavar="CAPTURE")
@click.option("--atol", type=click.FloatRange(min=0), help="Absolute tolerance (overrides).")
@click.option("--rtol", type=click.FloatRange(min=0), help="Relative tolerance (overrides).")
@click.option("--max-flip-rate", "max_flip_rate", type=click.FloatRange(0, 1),
              help="Largest share of rows beyond tolerance or flipped (overrides).")  # fmt: skip
@json_option
@click.pass_obj
def field_parity(
    state: CliState,
    capture_id: int,
    atol: float | None,
    rtol: float | None,
    max_flip_rate: float | None,
    as_json: bool,
) -> int:
    """Replay CAPTURE through its exact model here; exit 1 if beyond tolerance."""
    from modeldesk.field.parity import parity

    with progress_bar(f"replaying capture #{capture_id}") as progress:
        found = parity(state.catalog(), capture_id, atol=atol, rtol=rtol,
                       max_flip_rate=max_flip_rate, progress=progress)  # fmt: skip
    if as_json:
        echo_json(found)
    else:
        limits = found["tolerances"]
        click.echo(
            f"capture #{found['capture']} replayed through {found['model']}: "
            f"{found['rows']:,} rows; atol {limits['atol']:g}, rtol {limits['rtol']:g} "
            f"from {limits['source']}"
        )
        echo_table(
            ["output", "decision", "abs p50", "abs p99", "abs max", "rel p99", "beyond", "flips"],
            [[name, out["decision"] or "-", _g(out["abs_error"]["p50"]),
              _g(out["abs_error"]["p99"]), _g(out["abs_error"]["max"]),
              _g(out["rel_error"]["p99"]), out["beyond_tolerance"],
              "-" if out["flips"] is None else out["flips"]]
             for name, out in found["outputs"].items()],
        )  # fmt: skip
        click.echo("beyond tolerance: " + _share(found["checks"]["beyond_tolerance"]))
        click.echo("decision flips:   " + _share(found["checks"]["flips"]))
        click.echo(f"parity: {found['verdict']}")
    return EXIT_CHECK_FAILED if found["verdict"] == "FAIL" else 0


@field.command("which")
@click.argument("capture_id", type=int, metavar="CAPTURE")
@click.option("--atol", type=click.FloatRange(min=0), help="Absolute tolerance (overrides).")
@click.option("--rtol", type=click.FloatRange(min=0), help="Relative tolerance (overrides).")
@json_option
@click.pass_obj
def field_which(
    state: CliState, capture_id: int, atol: float | None, rtol: float | None, as_json: bool
) -> int:
    """Which model CAPTURE's device really ran; exit 1 if not the one it names."""
    from modeldesk.field.which import which_model

    with progress_bar(f"matching capture #{capture_id}") as progress:
        found = which_model(state.catalog(), capture_id, atol=atol, rtol=rtol, progress=progress)
    if as_json:
        echo_json(found)
    else:
        echo_table(
            ["model", "beyond tolerance", "flips", "mean abs error", "max abs error"],
            [[c["model"], f"{c['beyond_tolerance']:,} ({c['share_beyond']:.2%})", c["flips"],
              _g(c["mean_abs_error"]), _g(c["max_abs_error"])] for c in found["candidates"]],
        )  # fmt: skip
        for skipped in found["skipped"]:
            click.echo(f"not a candidate: {skipped['model']} ({skipped['why']})")
        best, declared = found["best"], found["declared"]
        if best is None:
            click.echo(f"no model here matches the capture; it names {declared}")
        else:
            how = "clearly" if found["clear"] else "ambiguously (the capture cannot tell)"
            named = "" if found["matches_declared"] else f"; the capture names {declared}"
            click.echo(f"best match, {how}: {best}{named}")
    return 0 if found["matches_declared"] else EXIT_CHECK_FAILED


@field.command("drift")
@bundle_option
@click.argument("capture_id", type=int, metavar="CAPTURE")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True,
              help="Features to list (text output; --json has them all).")  # fmt: skip
@json_option
@click.pass_obj
def field_drift(
    state: CliState, capture_id: int, top: int, bundle: Path | None, as_json: bool
) -> None:
    """Each feature of CAPTURE against the model's training data, ranked by importance."""
    from modeldesk.field.drift_run import field_drift as measure

    with progress_bar(f"measuring drift of capture #{capture_id}") as progress:
        found = measure(state.catalog(), capture_id, bundle=bundle, progress=progress)
    if as_json:
        echo_json(found)
        return
    click.echo(
        f"capture #{found['capture']} ({found['rows']:,} rows) against "
        f"{found['reference_source']} "
        f"({found['reference_rows']:,} rows); ranked by PSI x {found['weights']}"
    )
    rows = []
    for item in found["features"][:top]:
        test = item.get("ks") or item.get("chi_squared") or {}
        effect = item["ks"]["statistic"] if "ks" in item else test.get("cramers_v")
        rows.append([item["feature"], _g(item["psi"]), _g(item.get("js_distance")),
                     _g(effect), _g(test.get("p_value")), item.get("direction", "-"),
                     item["interpretation"]])  # fmt: skip
    echo_table(["feature", "PSI", "JS", "KS D / V", "p", "shift", "reading"], rows)


def _span(figures: dict) -> str:
    low, high = figures["interval"]
    return f"{figures['accuracy']:.1%} (95 % interval {low:.1%} .. {high:.1%})"


@field.command("estimate")
@bundle_option
@click.argument("capture_id", type=int, metavar="CAPTURE")
@json_option
@click.pass_obj
def field_estimate(state: CliState, capture_id: int, bundle: Path | None, as_json: bool) -> None:
    """How accurate CAPTURE's model probably is in the field, from its probabilities."""
    from modeldesk.field.estimate import estimate_performance

    with progress_bar(f"estimating capture #{capture_id}") as progress:
        found = estimate_performance(state.catalog(), capture_id, bundle=bundle, progress=progress)
    if as_json:
        echo_json(found)
        return
    click.echo(f"capture #{found['capture']} ({found['rows']:,} rows) of {found['model']}")
    click.echo("estimated accuracy: " + _span(found["estimated"]))
    if found["realised"]:
        click.echo("realised accuracy:  " + _span(found["realised"]) +
                   f" on the {found['realised']['rows']:,} labelled rows")  # fmt: skip
    check = found["calibration_check"]
    if check:
        click.echo(f"on {check['dataset']}: estimated {check['estimated']['accuracy']:.1%}, "
                   f"realised {check['realised']['accuracy']:.1%}")  # fmt: skip
    for warning in found["warnings"]:
        click.echo(f"warning: {warning}")


@field.command("triage")
@bundle_option
@click.argument("capture_id", type=int, metavar="CAPTURE")
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many rows to list.")  # fmt: skip
@json_option
@click.pass_obj
def field_triage(
    state: CliState, capture_id: int, top: int, bundle: Path | None, as_json: bool
) -> None:
    """The rows of CAPTURE to look at first: parity error, out-of-range values, doubt."""
    from modeldesk.field.triage import triage

    with progress_bar(f"triaging capture #{capture_id}") as progress:
        found = triage(state.catalog(), capture_id, top=top, bundle=bundle, progress=progress)
    if as_json:
        echo_json(found)
        return
    rows = [[item["row"], f"{item['score']:.3f}", "; ".join(item["reasons"]),
             f"{item['nearest_training_row']['dataset']} row "
             f"{item['nearest_training_row']['row']} "
             f"({item['nearest_training_row']['distance_in_std']:.2f} std away)"]
            for item in found["triage"]]  # fmt: skip
    echo_table(["row", "score", "why", "nearest training row"], rows)
    if found["explanations_missing"]:
        click.echo(f"no explanations: {found['explanations_missing']}")


@field.command("report")
@bundle_option
@click.argument("capture_id", type=int, metavar="CAPTURE")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE.html|FILE.md", help="Where to write the report.")  # fmt: skip
@json_option
@click.pass_obj
def field_report(
    state: CliState, capture_id: int, out: Path, bundle: Path | None, as_json: bool
) -> None:
    """Every analysis of CAPTURE in one file: self-contained HTML, or Markdown."""
    from modeldesk.field.report import build_report, write_report

    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise click.BadParameter("write FILE.html or FILE.md", param_hint="--out")
    with progress_bar(f"reporting on capture #{capture_id}") as progress:
        report = build_report(state.catalog(), capture_id, bundle=bundle, progress=progress)
    write_report(report, out)
    if as_json:
        echo_json(report)
        return
    click.echo(f"wrote {out}")
    if report["mark_failed"]:
        click.echo(f"to record the failure: {report['mark_failed']}")


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


COMMANDS = [field]
