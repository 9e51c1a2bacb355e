"""The ``collect`` command: one table of many run directories."""

from __future__ import annotations

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.errors import ConfigError
from blgnn_es.fileio import atomic_write_text
from blgnn_es.reports.collect import csv_table, markdown_table, run_dirs, run_row


@click.command()
@click.argument(
    "runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table here instead of stdout (.csv: CSV).",
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
    rows = [run_row(path) for path in run_dirs(list(runs))]
    for row in rows:
        if str(row["status"]).startswith("unreadable"):
            click.echo(f"warning: {row['run']}: {row['status']}", err=True)
    if table_format is None:
        table_format = "csv" if output is not None and output.suffix == ".csv" else "markdown"
    text = csv_table(rows) if table_format == "csv" else markdown_table(rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output} ({len(rows)} runs)")
