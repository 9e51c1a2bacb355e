"""The ``report`` command: plots and a summary of a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.reports.run import write_report


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report to (default: the run directory).")
@click.option("--force", is_flag=True, help="Replace an earlier report in that folder.")
@friendly_errors
def report(run_dir, out_dir, force) -> None:
    """Plots (fitness.png, validation.png, genome.png) and summary.md for a run directory.

    \b
    Examples:
      blgnn-es report runs/r2                      # into runs/r2/
      blgnn-es report runs/r2 --out reports/r2     # a read-only run directory
      blgnn-es report runs/r2 --force              # replace the earlier report
    """
    written = write_report(run_dir, out_dir, force)
    for path in written:
        click.echo(f"wrote {path}")
