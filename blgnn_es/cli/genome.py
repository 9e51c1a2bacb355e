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


@genome.command("diff")
@click.argument("first", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("second", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def genome_diff(first: Path, second: Path) -> None:
    """Two genomes' named slots side by side with SECOND − FIRST, and the network
    settings (from the sidecars) that differ."""
    (a_values, a_meta), (b_values, b_meta) = load_genome(first), load_genome(second)
    a, b = Genome(a_values), Genome(b_values)
    click.echo(f"A = {first} (k={a.states}),  B = {second} (k={b.states})")
    if a.states != b.states:
        raise click.ClickException(f"k differs ({a.states} vs {b.states}): the slots do not "
                                   "line up")
    changed = 0
    for name in MATRIX_SLOTS:
        left, right = np.asarray(a[name]), np.asarray(b[name])
        changed += int(not np.array_equal(left, right))
        click.echo(f"\n{name}  ({SLOT_MEANINGS[name]})" + ("" if np.array_equal(left, right)
                                                           else "  *differs*"))
        click.echo(f"  {'A':<{10 * a.states - 1}}  {'B':<{10 * a.states - 1}}  B − A")
        for row_a, row_b in zip(left, right, strict=True):
            cells = [" ".join(f"{v:+9.4f}" for v in row) for row in (row_a, row_b,
                                                                    row_b - row_a)]
            click.echo("  " + "  ".join(cells))
    click.echo(f"\n{'scalar':>8}  {'A':>11}  {'B':>11}  {'B − A':>11}")
    for name in SCALAR_SLOTS:
        left, right = float(a[name]), float(b[name])
        changed += int(left != right)
        click.echo(f"{name:>8}  {left:+11.5g}  {right:+11.5g}  {right - left:+11.4g}"
                   + ("" if left == right else "  *"))
    click.echo(f"\n{changed} of {len(MATRIX_SLOTS) + len(SCALAR_SLOTS)} slots differ; "
               f"largest |B − A| = {float(np.max(np.abs(b.values - a.values))):.4g}")
    nets = a_meta.get("network") or {}, b_meta.get("network") or {}
    keys = sorted(set(nets[0]) | set(nets[1]))
    differing = [k for k in keys if nets[0].get(k) != nets[1].get(k)]
    if differing:
        click.echo("network settings that differ (sidecars):")
        for key in differing:
            click.echo(f"  {key}: A={nets[0].get(key, '—')}  B={nets[1].get(key, '—')}")
    elif keys:
        click.echo("network settings: the same in both sidecars")
