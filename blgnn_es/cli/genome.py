"""The ``genome`` command group: make and inspect genome files."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.model.genome import (
    MATRIX_SLOTS,
    SCALAR_SLOTS,
    SLOT_MEANINGS,
    Genome,
    backprop_genome,
    hebbian_genome,
    load_genome,
    random_genome,
    save_genome,
    sidecar_path,
)
from blgnn_es.model.network import backprop_network


@click.group()
def genome() -> None:
    """Make and inspect genome files (.npy + JSON sidecar)."""


def _output(command):
    """The ``-o/--output`` and ``--force`` options every preset command takes."""
    command = click.option("--force", is_flag=True, help="Replace an existing file.")(command)
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                        required=True, help="The .npy file to write (+ its sidecar).")(command)


def _write(output: Path, force: bool, values, **sidecar) -> Path:
    """Save a genome unless it (or its sidecar) exists and --force is not given; the check
    is made on the .npy name actually written, whatever suffix was typed."""
    path = output.with_suffix(".npy")
    for existing in (path, sidecar_path(path)):
        if existing.exists() and not force:
            raise click.ClickException(f"{existing} exists; pass --force to replace it")
    return save_genome(path, values, **sidecar)


@genome.command("backprop")
@click.option(
    "--lr",
    "learning_rate",
    type=float,
    default=0.1,
    show_default=True,
    help="SGD learning rate (the genome's eta_syn is -lr).",
)
@_output
@friendly_errors
def genome_backprop(learning_rate: float, output: Path, force: bool) -> None:
    """The k=2 genome with which BLUR is exactly SGD on the MSE (SPEC §4)."""
    net = backprop_network((1, 1)).to_dict()
    net.pop("layer_sizes")
    path = _write(
        output,
        force,
        backprop_genome(learning_rate),
        network=net,
        provenance={"preset": "backprop", "learning_rate": learning_rate},
    )
    click.echo(
        f"wrote {path} (+ {path.with_suffix('.json').name}); use it with the network "
        "settings in the sidecar"
    )


@genome.command("random")
@click.option("--states", "-k", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(min=0.0),
    default=0.5,
    show_default=True,
    help="Standard deviation of the entries.",
)
@_output
@friendly_errors
def genome_random(states: int, seed: int, scale: float, output: Path, force: bool) -> None:
    """A random genome for k states, drawn from SEED."""
    path = _write(
        output,
        force,
        random_genome(states, seed, scale),
        provenance={"preset": "random", "states": states, "seed": seed, "scale": scale},
    )
    click.echo(f"wrote {path} (k={states}, {4 * states * states + 7} numbers)")


@genome.command("hebbian")
@click.option("--states", "-k", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--rate", type=float, default=0.003, show_default=True)
@_output
@friendly_errors
def genome_hebbian(states: int, rate: float, output: Path, force: bool) -> None:
    """A hand-made Hebbian start: output weights learn input x label, no backward pass."""
    path = _write(
        output,
        force,
        hebbian_genome(states, rate),
        provenance={"preset": "hebbian", "states": states, "rate": rate},
    )
    click.echo(f"wrote {path}")


@genome.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def genome_show(path: Path) -> None:
    """Print the named matrices and scalars of a genome file."""
    values, meta = load_genome(path)
    g = Genome(values)
    click.echo(f"{path}: k={g.states}, {g.values.size} numbers")
    with np.printoptions(precision=4, suppress=True, floatmode="fixed"):
        for name in MATRIX_SLOTS:
            click.echo(f"\n{name}  ({SLOT_MEANINGS[name]})")
            for row in np.asarray(g[name]):
                click.echo("  " + "  ".join(f"{v:+.4f}" for v in row))
        click.echo("")
        for name in SCALAR_SLOTS:
            click.echo(f"{name:>8} = {g[name]:+.6g}   {SLOT_MEANINGS[name]}")
    if meta.get("network"):
        click.echo("\nnetwork: " + ", ".join(f"{k}={v}" for k, v in meta["network"].items()))
    if meta.get("provenance"):
        click.echo("provenance: " + ", ".join(f"{k}={v}" for k, v in meta["provenance"].items()))
