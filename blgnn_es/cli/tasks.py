"""The `tasks` and `data` command groups (added to the main CLI with add_command).

Thin by design: parse, call blgnn_es.tasks, print. Spec and config mistakes exit with
code 2 (click.UsageError); data problems with code 1 (click.ClickException).
"""

from pathlib import Path

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.errors import ConfigError
from blgnn_es.tasks import list_task_families, load_task, parse_task_spec
from blgnn_es.tasks.catalog import FAMILIES
from blgnn_es.tasks.download import download_dataset
from blgnn_es.tasks.pictures import draw_task, summarize_task
from blgnn_es.tasks.store import IDX_DATASETS, cache_root, has_dataset, search_places

__all__ = ["data_group", "tasks_group"]

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding mnist/ and fashion-mnist/ (searched before $BLGNN_ES_DATA, "
    "~/.cache/blgnn-es/ and /usr/share/datasets/).",
)


@click.group("tasks")
def tasks_group() -> None:
    """Task families: list them, look at one."""


@tasks_group.command("list")
def list_command() -> None:
    """Every task family with its options, defaults and shapes."""
    rows = [("NAME", "KIND", "INPUTS -> CLASSES", "OPTIONS (defaults)")]
    for info in list_task_families():
        family = FAMILIES[info.name]
        options = " ".join(f"{option.key}={option.describe_default()}"
                           for option in family.options)
        rows.append((info.name, info.kind, info.shapes, options))
    name_width, kind_width, shape_width = (max(len(row[column]) for row in rows)
                                           for column in range(3))
    for name, kind, shapes, options in rows:
        click.echo(f"{name:<{name_width}}  {kind:<{kind_width}}  {shapes:<{shape_width}}  "
                   f"{options}")
    click.echo("\nSpec syntax: NAME or NAME:key=value,key=value "
               "(e.g. mnist:resolution=10,classes=0-4; file:data/my.npz,standardize=true).")
    click.echo("Options:")
    described: set[str] = set()
    for family in FAMILIES.values():
        for option in family.options:
            if option.key not in described:
                described.add(option.key)
                click.echo(f"  {option.key:<15} {option.help}")


@tasks_group.command("show")
@click.argument("spec")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which task of the family.")
@_DATA_DIR
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Save a picture (png, pdf, svg) instead of printing a summary.")
@click.option("--force", is_flag=True, help="Replace an existing picture.")
@friendly_errors
def show_command(spec: str, seed: int, data_dir: Path | None, output: Path | None,
                 force: bool) -> None:
    """A picture (-o) or a text summary of one task, e.g. `tasks show xor --seed 3`."""
    if output is not None and output.exists() and not force:
        raise ConfigError(f"{output} exists; pass --force to replace it")
    task = load_task(parse_task_spec(spec), seed=seed, data_dir=data_dir)
    if output is None:
        click.echo(summarize_task(task, seed))
        return
    try:
        draw_task(task, output, seed)
    except ValueError as err:  # matplotlib: an unknown picture format
        raise ConfigError(f"-o {output}: {err}") from None
    click.echo(f"wrote {output}")


@click.group("data")
def data_group() -> None:
    """Image datasets: where they are looked for, and fetching them (on request only)."""


@data_group.command("where")
@_DATA_DIR
def where_command(data_dir: Path | None) -> None:
    """The places searched for mnist/ and fashion-mnist/, in order, and what is there."""
    click.echo("Image sets are searched in this order (the first complete folder wins):")
    for number, (origin, root) in enumerate(search_places(data_dir), start=1):
        if root is None:
            click.echo(f"  {number}. {origin:<16} (not set)")
            continue
        found = [name for name in IDX_DATASETS if has_dataset(root / name)]
        status = f"found: {', '.join(found)}" if found else "nothing found"
        click.echo(f"  {number}. {origin:<16} {root}  {status}")
    decoded = cache_root() / "decoded"
    files = list(decoded.glob("*.npy")) if decoded.is_dir() else []
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    click.echo(f"Decoded cache: {decoded} ({len(files)} files, {megabytes:.0f} MB)")


@data_group.command("download")
@click.argument("name", type=click.Choice(["mnist", "fashion-mnist"]))
@click.option("--to", "root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Root folder to put NAME/ in (default: the user cache).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for a server.")
@friendly_errors
def download_command(name: str, root: Path | None, timeout: float) -> None:
    """Fetch NAME's four idx files from the dataset's site (needs internet access)."""
    folder = download_dataset(name, root, timeout=timeout, report=click.echo)
    click.echo(f"{name} is in {folder}")
