"""``modeldesk debug``: metrics, worst slices and worst rows of a model on a dataset."""

from __future__ import annotations

import click

from modeldesk.cli.output import echo_json, echo_table, progress_bar
from modeldesk.cli.state import CliState, json_option

WORST_SLICES = 5


@click.command("debug")
@click.argument("model_ref", metavar="MODEL@V")
@click.argument("data_ref", metavar="DATA@V")
@click.option(
    "--worst",
    "worst_count",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="N",
    help="How many worst rows to list.",
)
@json_option
@click.pass_obj
def debug(state: CliState, model_ref: str, data_ref: str, worst_count: int, as_json: bool) -> None:
    """Run MODEL@V on DATA@V: metrics, the five worst slices and the worst rows."""
    from modeldesk.debug import metrics, predict, slices, worst_rows

    with progress_bar(f"predicting {data_ref}") as progress:
        result = predict(state.catalog(), model_ref, data_ref, progress=progress)
    scores = metrics(result)
    worst = slices(result)[:WORST_SLICES]
    rows = worst_rows(result, worst_count)
    warning = None
    if result.trained_on_this:
        warning = f"{data_ref} is the data {model_ref} was trained on: these scores flatter it"
    if as_json:
        echo_json(
            {
                "model": result.model.ref,
                "dataset": result.dataset.ref,
                "warning": warning,
                "metrics": scores,
                "worst_slices": [s.to_dict() for s in worst],
                "worst_rows": rows,
            }
        )
        return
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{result.model.ref} on {result.dataset.ref} ({scores['rows']:,} rows, {scores['task']})"
    )
    for key in ("accuracy", "roc_auc", "log_loss", "mae", "rmse", "r2"):
        if scores.get(key) is not None:
            click.echo(f"  {key:10s} {scores[key]:.4f}")
    if worst:
        click.echo("worst slices")
        echo_table(
            ["column", "slice", "rows", worst[0].metric_name, "overall"],
            [
                (s.column, s.description, s.count, f"{s.metric:.4g}", f"{s.overall:.4g}")
                for s in worst
            ],
        )
    if rows:
        click.echo("worst rows")
        echo_table(list(rows[0]), [[_short(v) for v in row.values()] for row in rows])


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


COMMANDS = [debug]
