"""The ``blgnn-es`` command line: thin click commands that parse, call one library
function, and print. One module per command group; nothing imports this package."""

from __future__ import annotations

import click

from blgnn_es import __version__
from blgnn_es.cli.collect import collect
from blgnn_es.cli.evaluate import evaluate
from blgnn_es.cli.evolve import evolve
from blgnn_es.cli.genome import genome
from blgnn_es.cli.report import report
from blgnn_es.cli.study import study
from blgnn_es.cli.tasks import data_group, tasks_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="blgnn-es")
def cli() -> None:
    """Meta-learn bidirectional learning rules (BLUR) with CMA-ES.

    \b
    Typical use:
      blgnn-es evolve --config configs/quickstart.toml
      blgnn-es evaluate runs/quickstart/best_genome.npy --task xor
      blgnn-es genome show runs/quickstart/best_genome.npy
    """


for _command in (evolve, evaluate, report, study, collect, genome, tasks_group, data_group):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="blgnn-es")
