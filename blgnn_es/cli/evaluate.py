"""The ``evaluate`` command: train fresh networks with a genome, beside baselines if asked."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click

from blgnn_es.baselines.comparison import default_budgets, run_comparison
from blgnn_es.baselines.study import evolved_steps
from blgnn_es.cli.errors import check_output_folder, friendly_errors
from blgnn_es.cli.params import EvalBatches, IntList, Rates
from blgnn_es.config.baselines import EVALUATION, BaselineSettings
from blgnn_es.evaluation import EvaluationRequest, run_evaluation
from blgnn_es.reports.comparison import comparison_record, comparison_table, write_comparison
from blgnn_es.reports.evaluation import evaluation_record, evaluation_table, write_evaluation


@click.command()
@click.argument("genome_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--task", "tasks", multiple=True, metavar="SPEC",
              help="Task spec (repeatable; default: the tasks the genome was evolved on).")
@click.option("--layers", type=IntList("512 or 256,128"),
              help="Hidden layer sizes, e.g. 512 or 256,128 (default: sidecar).")
@click.option("--steps", type=click.IntRange(min=1), help="Learning steps T (default: sidecar, "
              "else 15).")
@click.option("--batch", type=click.IntRange(min=1), help="Batch size B (default: sidecar, "
              "else 128).")
@click.option("--eval-batches", type=EvalBatches(),
              help="Held-out batches E, or 'all' (default: sidecar, else 20).")
@click.option("--seeds", type=click.IntRange(min=1), default=EVALUATION.seeds, show_default=True,
              help="Fresh networks (task, synapse and batch seeds) per task.")
@click.option("--seed", type=click.IntRange(min=0), default=EVALUATION.seed, show_default=True,
              help="Base seed of the draws.")
@click.option("--at", "at_steps", type=IntList("1,5,10"),
              help="Steps to report besides the last, e.g. 1,5,10 (default: about a quarter, "
              "half and three quarters of T).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where MNIST-like data lives.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the curve CSV and PNG go (default: <genome>-eval/ beside the genome).")
@click.option("--force", is_flag=True, help="Replace an earlier evaluation in the --out folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--baselines", help="Baselines beside BLUR, e.g. "
              "sgd,momentum,adam,fa (fa: feedback alignment; see docs/baselines.md).")
@click.option("--loss", type=click.Choice(["ce", "mse"]), default="ce", show_default=True,
              help="Baselines' loss: softmax cross-entropy or mean squared error.")
@click.option("--rates", type=Rates(), default="1e-4:1:13", show_default=True,
              help="Baselines' learning rates: LOW:HIGH:COUNT (log-spaced) or a list.")
@click.option("--baseline-activation", help="Baselines' hidden activation (default: the "
              "genome network's state-0 hidden activation).")
@friendly_errors
def evaluate(genome_path, tasks, layers, steps, batch, eval_batches, seeds, seed, at_steps,
             data_dir, out_dir, force, as_json, baselines, loss, rates, baseline_activation
             ) -> None:
    """Train fresh networks with a genome and report their accuracy and learning curves.

    \b
    Examples:
      blgnn-es evaluate runs/quickstart/mean_genome.npy --task circles --task cross
      blgnn-es evaluate runs/r2/mean_genome.npy --task mnist --layers 256,128 --json
    """
    request = EvaluationRequest.build(
        genome_path, tasks=tasks, hidden=layers, steps=steps, batch=batch,
        eval_batches=eval_batches, seeds=seeds, seed=seed,
        at_steps=at_steps, data_dir=data_dir)
    out_dir = out_dir or genome_path.with_name(genome_path.stem + "-eval")
    check_output_folder(out_dir, force)
    if baselines:
        settings = BaselineSettings(
            optimizers=tuple(name.strip() for name in baselines.split(",") if name.strip()),
            rates=rates, loss=loss, hidden_activation=baseline_activation)
        if at_steps is None:
            request = dataclasses.replace(request, at_steps=default_budgets(request.steps)[:-1])
        started = time.monotonic()
        results = run_comparison(request, settings)
        evolved = evolved_steps(Path(request.genome_path))
        files = write_comparison(request, settings, results, out_dir, evolved)
        if as_json:
            click.echo(comparison_record(request, settings, results, files).model_dump_json())
            return
        click.echo(comparison_table(request, settings, results, evolved))
        click.echo(f"curves: {files['baselines_csv']}  {files['baselines_png']}  "
                   f"{files['baselines_json']}  ({time.monotonic() - started:.1f} s)")
        return
    results = run_evaluation(request)
    files = write_evaluation(request, results, out_dir)
    if as_json:
        click.echo(evaluation_record(request, results, files).model_dump_json())
        return
    click.echo(evaluation_table(request, results))
    click.echo(f"learning curves: {files['csv']}  {files['png']}")
