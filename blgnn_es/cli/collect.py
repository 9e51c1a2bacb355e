"""The ``collect`` command: one table of many run directories."""

from __future__ import annotations

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.errors import BlgnnError, ConfigError
from blgnn_es.fileio import atomic_write_text
from blgnn_es.reports.collect import collect_markdown, csv_table, run_dirs, run_row
from blgnn_es.reports.figures import plural
from blgnn_es.reports.overlay import write_overlay


@click.command()
@click.argument(
    "runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table here instead of stdout (.csv: CSV), and beside it <stem>.png: "
    "every run's fitness, sigma and validation in one figure.",
)
@click.option(
    "--format",
    "table_format",
    type=click.Choice(["markdown", "csv"]),
    help="Table format (default: csv for a .csv output, else markdown).",
)
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@friendly_errors
def collect(runs, output, table_format, force) -> None:
    """One table of the best genomes and final metrics of many run directories.

    \b
    RUNS are run directories, or folders holding them:
      blgnn-es collect runs/paper-toy-seed*
      blgnn-es collect runs/ -o seeds.csv
    """
    if output is not None and output.exists() and not force:
        raise ConfigError(f"{output} exists; pass --force to replace it")
    figure = None if output is None else output.with_suffix(".png")
    if figure is not None and figure != output and figure.exists() and not force:
        raise ConfigError(f"{figure} exists (the figure beside the table); pass --force to "
                          "replace it")
    found = run_dirs(list(runs))
    rows = [run_row(path) for path in found]
    for row in rows:
        if str(row["status"]).startswith("unreadable"):
            click.echo(f"warning: {row['run']}: {row['status']}", err=True)
    if table_format is None:
        table_format = "csv" if output is not None and output.suffix == ".csv" else "markdown"
    text = csv_table(rows) if table_format == "csv" else collect_markdown(rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output} ({plural(len(rows), 'run')})")
        readable = [path for path, row in zip(found, rows, strict=True) if row["generations"]]
        if readable and figure != output:
            try:
                write_overlay(readable, figure.parent, force=True, png_name=figure.name,
                              summary=False)
            except BlgnnError as err:  # the table is written; the figure is a bonus
                click.echo(f"warning: no figure: {err}", err=True)
            else:
                click.echo(f"wrote {figure}")
