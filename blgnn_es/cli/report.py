"""The ``report`` command: plots and a summary of a run directory."""

from __future__ import annotations

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.reports.run import write_report


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@friendly_errors
def report(run_dir) -> None:
    """Plots (fitness.png, validation.png, genome.png) and summary.md for a run directory."""
    written = write_report(run_dir)
    for path in written:
        click.echo(f"wrote {path}")
