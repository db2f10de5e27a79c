"""``modeldesk profile ...``, ``modeldesk bench`` and ``modeldesk agent install``."""

from __future__ import annotations

from typing import Any

import click

from modeldesk.cli.output import echo_json, echo_table, progress_bar
from modeldesk.cli.state import EXIT_CHECK_FAILED, CliState, json_option


def _numbers(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: give comma-separated whole numbers") from None


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(p.strip() for p in text.split(",") if p.strip())


def _profile_options(function: Any) -> Any:
    options = [
        click.option("--kind", type=click.Choice(("local", "ssh")),
                     help="local: this machine, constrained; ssh: a device reached over SSH."),
        click.option("--intra-threads", "--threads", "intra_threads", type=click.IntRange(min=0),
                     help="ONNX Runtime intra-op threads (0: its default)."),
        click.option("--inter-threads", "inter_threads", type=click.IntRange(min=0),
                     help="ONNX Runtime inter-op threads (0: its default)."),
        click.option("--cores", metavar="0,1", help="CPU cores the agent is pinned to."),
        click.option("--providers", metavar="P,...",
                     help="Execution providers in order, comma-separated."),
        click.option("--opt-level", type=click.Choice(("disabled", "basic", "extended", "all")),
                     help="ONNX Runtime graph optimisation level."),
        click.option("--memory-mb", "memory_mb", type=click.IntRange(min=0),
                     help="Resident memory budget in MB: a run over it is stopped (0: none)."),
        click.option("--batch", "batch_sizes", metavar="1,8",
                     help="Batch sizes to measure, comma-separated."),
        click.option("--dim", "dim_values", multiple=True, metavar="NAME=VALUE|INPUT:AXIS=VALUE",
                     help="Value of a symbolic dim, or of any dynamic axis (repeatable)."),
        click.option("--warmup", type=click.IntRange(min=0),
                     help="Untimed runs before measuring."),
        click.option("--iterations", type=click.IntRange(min=1),
                     help="Timed runs per batch size."),
        click.option("--budget-ms", "budget_ms", type=click.FloatRange(min=0),
                     help="Latency budget in ms at --percentile (0: none)."),
        click.option("--percentile", type=click.Choice(("50", "90", "95", "99")),
                     help="The percentile the budget applies to."),
        click.option("--host", help="SSH host name or address of the device."),
        click.option("--port", type=click.IntRange(1, 65535), help="SSH port (default 22)."),
        click.option("--user", help="SSH user on the device."),
        click.option("--python", help="The Python to run on the device."),
        click.option("--identity", metavar="FILE", help="SSH identity (private key) file."),
        click.option("--calibration", "calibration_ratio", type=click.FloatRange(min=0),
                     help="Device latency / this machine's, measured on reference models."),
        click.option("--calibration-error", "calibration_error", type=click.FloatRange(min=0),
                     help="Relative error of --calibration."),
        click.option("--precision", type=click.Choice(("fp32", "fp16", "int8")),
                     help="What the target computes in (sets field parity's default tolerances)."),
        click.option("--atol", type=click.FloatRange(min=0),
                     help="Field parity: absolute tolerance (numpy.isclose's)."),
        click.option("--rtol", type=click.FloatRange(min=0),
                     help="Field parity: relative tolerance (numpy.isclose's)."),
        click.option("--max-flip-rate", "max_flip_rate", type=click.FloatRange(0, 1),
                     help="Field parity: the largest share of rows whose decision may differ."),
        click.option("--description", help="What the profile stands for."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def _changes(options: dict[str, Any]) -> dict[str, Any]:
    """Profile fields from command-line options (only those given)."""
    from modeldesk.bench.profiles import parse_dims

    changes = {key: value for key, value in options.items() if value is not None}
    for key in ("cores", "batch_sizes"):
        if key in changes:
            changes[key] = _numbers(changes[key])
    if "providers" in changes:
        changes["providers"] = _names(changes["providers"])
    if "percentile" in changes:
        changes["percentile"] = int(changes["percentile"])
    dim_values = changes.pop("dim_values", ())
    if dim_values:
        changes["dims"], changes["axis_dims"] = parse_dims(list(dim_values))
    return changes


@click.group()
def profile() -> None:
    """Hardware profiles to benchmark under (built-in local ones, or your own)."""


@profile.command("add")
@click.argument("name")
@_profile_options
@json_option
@click.pass_obj
def profile_add(state: CliState, name: str, as_json: bool, **options: Any) -> None:
    """Add profile NAME (--kind local, the default, or ssh with --host)."""
    from modeldesk.bench.profiles import Profile, add_profile

    changes = _changes(options)
    changes.setdefault("kind", "local")
    added = add_profile(state.catalog(), Profile(name=name, **changes))
    if as_json:
        echo_json(added.to_dict())
    else:
        click.echo(f"added profile {added.name} ({added.kind})")


@profile.command("edit")
@click.argument("name")
@_profile_options
@json_option
@click.pass_obj
def profile_edit(state: CliState, name: str, as_json: bool, **options: Any) -> None:
    """Change the given fields of profile NAME."""
    from modeldesk.bench.profiles import edit_profile

    edited = edit_profile(state.catalog(), name, **_changes(options))
    if as_json:
        echo_json(edited.to_dict())
    else:
        click.echo(f"edited profile {edited.name}")


@profile.command("list")
@json_option
@click.pass_obj
def profile_list(state: CliState, as_json: bool) -> None:
    """List the profiles, built-in ones first."""
    from modeldesk.bench.profiles import list_profiles

    profiles = list_profiles(state.catalog())
    if as_json:
        echo_json([p.to_dict() for p in profiles])
        return
    echo_table(
        ["name", "kind", "threads", "cores", "memory", "budget", "where"],
        [
            (
                p.name + (" (built in)" if p.builtin else ""),
                p.kind,
                p.intra_threads or "default",
                ",".join(map(str, p.cores)) or "any",
                f"{p.memory_mb} MB" if p.memory_mb else "-",
                f"p{p.percentile} <= {p.budget_ms:g} ms" if p.budget_ms else "-",
                p.host or "this machine",
            )
            for p in profiles
        ],
    )


@profile.command("show")
@click.argument("name")
@json_option
@click.pass_obj
def profile_show(state: CliState, name: str, as_json: bool) -> None:
    """Show every field of profile NAME."""
    from modeldesk.bench.profiles import get_profile

    found = get_profile(state.catalog(), name).to_dict()
    if as_json:
        echo_json(found)
        return
    echo_table(["field", "value"], [(key, str(value)) for key, value in found.items()])


@profile.command("calibrate")
@click.argument("name")
@click.option(
    "--reference",
    "references",
    multiple=True,
    required=True,
    metavar="MODEL@V",
    help="A reference model version (repeat; pick ones like those you will estimate).",
)
@click.option("--iterations", type=click.IntRange(min=1),
              help="Timed runs per model (default: the profile's).")  # fmt: skip
@json_option
@click.pass_obj
def profile_calibrate(
    state: CliState, name: str, references: tuple[str, ...], iterations: int | None, as_json: bool
) -> None:
    """Measure NAME's device against this machine on reference models; store the ratio."""
    from modeldesk.bench.calibrate import calibrate

    with progress_bar(f"calibrating {name}") as progress:
        result = calibrate(state.catalog(), name, list(references), iterations=iterations,
                           progress=progress)  # fmt: skip
    if as_json:
        echo_json(
            {
                "profile": result.profile,
                "ratio": result.ratio,
                "relative_error": result.relative_error,
                "per_model": result.per_model,
            }
        )
        return
    click.echo(
        f"{name}: device latency = {result.ratio:.3f} x this machine's "
        f"(± {result.relative_error:.0%} across {len(result.per_model)} models)"
    )


@profile.command("remove")
@click.argument("name")
@click.pass_obj
def profile_remove(state: CliState, name: str) -> None:
    """Remove profile NAME (its past runs keep their settings)."""
    from modeldesk.bench.profiles import remove_profile

    remove_profile(state.catalog(), name)
    click.echo(f"removed profile {name}")


@click.command("bench")
@click.argument("model_ref", metavar="MODEL@V")
@click.option("--profile", "profiles", multiple=True, required=True, help="Profile name (repeat).")
@click.option("--iterations", type=click.IntRange(min=1), help="Override the profiles' count.")
@click.option("--dim", "dim_values", multiple=True, metavar="NAME=VALUE|INPUT:AXIS=VALUE",
              help="Value of a symbolic dim, or of any dynamic axis of an input.")  # fmt: skip
@click.option("--data", "data_ref", metavar="DATA@V", help="Feed these rows, not random ones.")
@json_option
@click.pass_obj
def bench_command(
    state: CliState,
    model_ref: str,
    profiles: tuple[str, ...],
    iterations: int | None,
    dim_values: tuple[str, ...],
    data_ref: str | None,
    as_json: bool,
) -> int:
    """Benchmark MODEL@V under each profile; exit 1 when a budget is exceeded or a run fails."""
    from modeldesk.bench.profiles import parse_dims
    from modeldesk.bench.run import bench

    dims, axis_dims = parse_dims(list(dim_values))
    with progress_bar(f"benchmarking {model_ref}") as progress:
        runs = bench(
            state.catalog(),
            model_ref,
            list(profiles),
            iterations=iterations,
            dims=dims,
            axis_dims=axis_dims,
            data_ref=data_ref,
            progress=progress,
        )
    failed = any(run.status != "ok" or run.passed is False for run in runs)
    if as_json:
        echo_json({run.profile: run.to_dict() for run in runs})
        return EXIT_CHECK_FAILED if failed else 0
    rows = []
    for run in runs:
        s = run.summary
        verdict = {True: "pass", False: "FAIL", None: "-"}[run.passed]
        if run.status != "ok":
            rows.append((run.profile, run.status, "", "", "", "", "", run.error or ""))
            continue
        at_budget = s["p{}_ms".format(s["percentile"])]
        rows.append((
            run.profile, run.status, f"{s['load_ms']:.1f}", f"{s['p50_ms']:.3f}",
            f"{at_budget:.3f}", f"{s['throughput_per_s']:.1f}",
            f"{s['peak_rss_mb']:.0f}" if s.get("peak_rss_mb") else "-", verdict,
        ))  # fmt: skip
    echo_table(
        ["profile", "status", "load ms", "p50 ms", "budget pct ms", "per s", "peak MB", "budget"],
        rows,
    )
    return EXIT_CHECK_FAILED if failed else 0


@click.group()
def agent() -> None:
    """The benchmark agent that runs on devices."""


@agent.command("install")
@click.argument("profile_name", metavar="HOST-PROFILE")
@click.pass_obj
def agent_install(state: CliState, profile_name: str) -> None:
    """Copy agent.py to the device of ssh profile HOST-PROFILE.

    The profile remembers where it went and its hash: bench then runs that copy (checked
    on the device first) instead of sending the agent's source each time.
    """
    from modeldesk.bench.ssh import install_agent_for

    profile = install_agent_for(state.catalog(), profile_name)
    click.echo(f"installed the agent at {profile.host}:{profile.agent_path}")


@agent.command("serve")
@click.option("--cache", type=click.Path(file_okay=False), help="Where to keep models.")
@click.option("--cores", metavar="0,1", help="CPU cores the agent pins itself to.")
def agent_serve(cache: str | None, cores: str | None) -> int:
    """Run the agent on stdin/stdout here (what a frozen app starts instead of agent.py)."""
    from modeldesk.bench.agent import main as agent_main

    arguments = (["--cache", cache] if cache else []) + (["--cores", cores] if cores else [])
    return agent_main(arguments)


COMMANDS = [profile, bench_command, agent]
