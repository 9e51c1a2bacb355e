"""The ``report`` command: plots and a summary of a run directory, or of several side by
side."""

from __future__ import annotations

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.reports.html import write_run_page
from blgnn_es.reports.overlay import X_AXES, default_out, write_overlay
from blgnn_es.reports.run import write_report


@click.command()
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report to (default: the run directory; for several "
              "runs a new folder report-<names> beside the first).")
@click.option("--force", is_flag=True, help="Replace an earlier report in that folder.")
@click.option("--x", "x_axis", type=click.Choice(X_AXES), default="generation",
              show_default=True, help="Several runs: the overlay's x-axis (unrolls or wall "
              "time compare meta-optimizers of different cost per generation).")
@friendly_errors
def report(run_dirs, out_dir, force, x_axis) -> None:
    """Plots (fitness.png, validation.png, genome.png), summary.md and report.html (one
    self-contained page with every figure, the validation intervals and the final genome)
    for a run directory; for several, overlay.png and overlay.md: every run's best so far,
    median fitness, sigma and validation in one figure, with the median and range across
    the seeds of each config among them.

    \b
    Examples:
      blgnn-es report runs/r2                      # into runs/r2/
      blgnn-es report runs/r2 --out reports/r2     # a read-only run directory
      blgnn-es report runs/r2 --force              # replace the earlier report
      blgnn-es report runs/toy-seed*               # into runs/report-toy-seed/
      blgnn-es report runs/cmaes-seed* runs/gradient-seed* --x unrolls --out fig7
    """
    runs = list(dict.fromkeys(run_dirs))
    if len(runs) == 1:
        written = write_report(runs[0], out_dir, force)
        written.append(write_run_page(runs[0], out_dir))
    else:
        written = write_overlay(runs, out_dir or default_out(runs), force, x=x_axis)
    for path in written:
        click.echo(f"wrote {path}")
