"""The ``study`` command: a grid of genomes x tasks x architectures beside the baselines."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click

from blgnn_es.baselines.study import run_study
from blgnn_es.cli.errors import check_output_folder, friendly_errors
from blgnn_es.config.study import load_study
from blgnn_es.errors import ConfigError
from blgnn_es.reports.figures import plural
from blgnn_es.reports.html import write_study_page
from blgnn_es.reports.study import write_study


@click.command()
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that holds study outputs (default: study.out_dir).",
)
@click.option("--seeds", type=click.IntRange(min=1), help="Seeds per cell (default: study.seeds).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where MNIST-like data lives (default: grid.data_dir).",
)
@click.option("--force", is_flag=True, help="Replace an earlier output of this study.")
@friendly_errors
def study(config_path, out_dir, seeds, data_dir, force) -> None:
    """Genomes x tasks x architectures x step budgets, each beside SGD, momentum, Adam and
    feedback alignment.

    Writes per task a markdown and a CSV table and a PNG to <out_dir>/<name>/, study.json,
    and study.html: one self-contained page with the genome x task table coloured by BLUR's
    paired verdict and every task's figure.

    \b
    Example:
      blgnn-es study configs/study-transfer.toml
    """
    settings = load_study(config_path)
    changes = {
        key: value
        for key, value in (("out_dir", out_dir), ("seeds", seeds), ("data_dir", data_dir))
        if value is not None
    }
    if "data_dir" in changes:
        changes["data_dir"] = str(changes["data_dir"])
    settings = dataclasses.replace(settings, **changes)
    missing = [str(g.path) for g in settings.genomes if not g.path.exists()]
    if missing:
        raise ConfigError(f"{config_path}: genome file not found: {', '.join(missing)}")
    check_output_folder(Path(settings.out_dir) / settings.name, force)
    cells_total = len(settings.genomes) * len(settings.layers) * len(settings.tasks)
    click.echo(
        f"study {settings.name}: {len(settings.genomes)} genome(s) x "
        f"{len(settings.tasks)} task(s) x {len(settings.layers)} architecture(s), "
        f"steps {', '.join(map(str, settings.budgets))}; {cells_total} cells of "
        f"{plural(settings.seeds, 'seed')}"
    )
    started = time.monotonic()
    cells = run_study(
        settings,
        progress=lambda line: click.echo(f"  [{time.monotonic() - started:6.1f} s] {line}"),
    )
    folder = settings.out_dir / settings.name
    for path in [*write_study(settings, cells, folder), write_study_page(folder)]:
        click.echo(f"wrote {path}")
