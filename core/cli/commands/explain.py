"""``modeldesk explain``: SHAP values of a model version on rows of a dataset version."""

from __future__ import annotations

from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table, progress_bar
from modeldesk.cli.state import CliState, json_option
from modeldesk.explain.options import DEFAULT_BACKGROUND, DEFAULT_ROWS, METHODS, PERTURBATIONS

TOP_FEATURES = 10


def _background(value: str) -> int | str:
    if value == "all":
        return value
    try:
        count = int(value)
    except ValueError:
        raise click.BadParameter("give a positive row count or 'all'") from None
    if count <= 0:
        raise click.BadParameter("give a positive row count or 'all'")
    return count


@click.command("explain")
@click.argument("model_ref", metavar="MODEL@V")
@click.argument("data_ref", metavar="DATA@V")
@click.option(
    "--rows", metavar="N|a:b", help=f"First N rows, or rows a to b-1 [default: {DEFAULT_ROWS}]."
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="auto: exact TreeSHAP for tree ensembles, else Partition (images) or Permutation.",
)
@click.option(
    "--perturbation",
    type=click.Choice(PERTURBATIONS),
    default="interventional",
    show_default=True,
    help="Tree method: average over background rows, or follow the training covers.",
)
@click.option(
    "--background",
    default=str(DEFAULT_BACKGROUND),
    show_default=True,
    metavar="N|all",
    help="Background rows drawn from the model's training dataset version.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the background sample and of the model-agnostic explainers.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the values: one column per feature (feature[class]) plus base_value; "
    ".parquet or .csv.",
)
@json_option
@click.pass_obj
def explain_command(
    state: CliState,
    model_ref: str,
    data_ref: str,
    rows: str | None,
    method: str,
    perturbation: str,
    background: str,
    seed: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Explain MODEL@V on rows of DATA@V with SHAP values (exact TreeSHAP for trees)."""
    from modeldesk.catalog.derived import has_derived
    from modeldesk.explain.plan import plan_explanation
    from modeldesk.explain.run import estimate, explain

    catalog = state.catalog()
    plan = plan_explanation(
        catalog,
        model_ref,
        data_ref,
        rows=rows,
        method=method,
        perturbation=perturbation,
        background=_background(background),
        seed=seed,
    )
    if plan.method != "tree" and not has_derived(catalog, plan.key):
        cost = estimate(catalog, plan)
        if cost is not None:
            click.echo(f"estimate: {cost.describe()}", err=True)
    with progress_bar(f"explaining {model_ref}") as progress:
        result = explain(catalog, model_ref, data_ref, plan=plan, progress=progress)
    if out is not None:
        result.write(out)
    summary = result.summary()
    if out is not None:
        summary["out"] = str(out)
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{result.model} on {summary['rows']:,} rows of {result.dataset}: {result.method}"
        f" ({result.perturbation}), values in {result.space}"
        + (" [cached]" if result.cached else f" in {result.seconds:.1f} s")
    )
    for output, importance in summary["mean_abs_shap"].items():
        click.echo(f"mean |SHAP| for {output} (base value {summary['base_value'][output]:.4g})")
        top = list(importance.items())[:TOP_FEATURES]
        echo_table(["feature", "mean |SHAP|"], [(name, f"{value:.4g}") for name, value in top])
    for note in result.notes:
        click.echo(f"note: {note}")
    if out is not None:
        click.echo(f"wrote {out}")


COMMANDS = [explain_command]
