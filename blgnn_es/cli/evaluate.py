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
from blgnn_es.config.settings import load_config
from blgnn_es.errors import BlgnnError
from blgnn_es.es.history import genome_at
from blgnn_es.evaluation import (
    EVALUATE_PREFIX,
    EvaluationRequest,
    evaluate_task,
    run_evaluation,
    several_requests,
)
from blgnn_es.reports.comparison import comparison_record, comparison_table, write_comparison
from blgnn_es.reports.evaluation import evaluation_record, evaluation_table, write_evaluation
from blgnn_es.reports.several import (
    SeveralRecord,
    pairings,
    several_table,
    write_several,
    write_several_json,
)
from blgnn_es.tasks import TWO_CLASS_CODINGS, derive_seed


@click.command()
@click.argument("genome_paths", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@click.option("--generation", type=click.IntRange(min=1), help="With run directories: the "
              "genome recorded after N generations (history.npz; 1 is the first), with the "
              "run's tasks, unroll and hidden sizes as defaults.")
@click.option("--kind", type=click.Choice(["mean", "best"]), default="mean", show_default=True,
              help="With --generation: the distribution mean, or that generation's best "
              "sample.")
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
@click.option("--two-class", type=click.Choice(TWO_CLASS_CODINGS),
              help="Outputs of a two-class task: sign (one output) or argmax (two). Default: "
              "the run's coding; argmax for a genome evolved only on tasks of 3+ classes.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the curve CSV and PNG go (default: <genome>-eval/ beside the genome).")
@click.option("--force", is_flag=True, help="Replace an earlier evaluation in the --out folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--baselines", help="Baselines beside BLUR, e.g. "
              "sgd,momentum,adam,fa (fa: feedback alignment), cmaes-weights (CMA-ES on the "
              "weights) or hebbian (a one-state ABCD rule meta-trained by CMA-ES); see "
              "docs/baselines.md.")
@click.option("--loss", type=click.Choice(["ce", "mse"]), default="ce", show_default=True,
              help="Baselines' loss: softmax cross-entropy or mean squared error.")
@click.option("--rates", type=Rates(), default="1e-4:1:13", show_default=True,
              help="Baselines' learning rates: LOW:HIGH:COUNT (log-spaced) or a list.")
@click.option("--validation-fraction", type=click.FloatRange(0.0, 1.0, min_open=True,
                                                             max_open=True),
              help="Baselines: share of a stored dataset's training split held out to choose "
              "the learning rates (default 0.1).")
@click.option("--baseline-activation", help="Baselines' hidden activation (default: the "
              "genome network's state-0 hidden activation).")
@click.option("--weights-evaluations", type=int, help="cmaes-weights: candidate networks "
              "per seed, a multiple of --weights-popsize (default 44800 = 64 x 700, the R3 "
              "meta-training budget).")
@click.option("--weights-popsize", type=int, help="cmaes-weights: CMA-ES population (default "
              "64).")
@click.option("--weights-sigma0", type=float, help="cmaes-weights: initial step size "
              "(default 0.3).")
@click.option("--hebbian-evaluations", type=int, help="hebbian: candidate rules CMA-ES "
              "meta-trains, a multiple of 64 (default 44800 = 64 x 700).")
@click.option("--hebbian-tasks", help="hebbian: comma-separated tasks to meta-train the rule "
              "on (default: the genome's own training tasks).")
@friendly_errors
def evaluate(genome_paths, generation, kind, tasks, layers, steps, batch, eval_batches, seeds,
             seed, at_steps, data_dir, two_class, out_dir, force, as_json, baselines, loss,
             rates, validation_fraction, baseline_activation, weights_evaluations,
             weights_popsize, weights_sigma0, hebbian_evaluations, hebbian_tasks) -> None:
    """Train fresh networks with a genome and report their accuracy and learning curves.

    Several genomes are trained on the same draws (the first one's tasks and unroll) and
    compared with the first, paired by seed: one table, genomes.png, genomes.csv.

    \b
    Examples:
      blgnn-es evaluate runs/quickstart/mean_genome.npy --task circles --task cross
      blgnn-es evaluate runs/r2/mean_genome.npy --task mnist --layers 256,128 --json
      blgnn-es evaluate runs/a/mean_genome.npy runs/b/mean_genome.npy --task circles
      blgnn-es evaluate runs/r2 --generation 70         # the mean after generation 70
    """
    genome_paths = list(dict.fromkeys(genome_paths))
    options = dict(tasks=tasks, hidden=layers, steps=steps, batch=batch,
                   eval_batches=eval_batches, seeds=seeds, seed=seed, at_steps=at_steps,
                   data_dir=data_dir, two_class=two_class)
    settings = None
    if baselines:
        search = {key: value for key, value in (
            ("weights_evaluations", weights_evaluations), ("weights_popsize", weights_popsize),
            ("weights_sigma0", weights_sigma0), ("validation_fraction", validation_fraction),
            ("hebbian_evaluations", hebbian_evaluations),
            ("hebbian_tasks", hebbian_tasks and tuple(
                t.strip() for t in hebbian_tasks.split(",") if t.strip())))
            if value is not None}
        settings = BaselineSettings(
            optimizers=tuple(name.strip() for name in baselines.split(",") if name.strip()),
            rates=rates, loss=loss, hidden_activation=baseline_activation, **search)
    build = _builder(generation, kind)
    if len(genome_paths) > 1:
        _several(genome_paths, build, options, settings, out_dir, force, as_json)
        return
    request = build(genome_paths[0], **options)
    genome_path = Path(request.genome_path)
    out_dir = out_dir or genome_path.with_name(genome_path.stem + "-eval")
    check_output_folder(out_dir, force)
    if settings is not None:
        if at_steps is None:
            request = dataclasses.replace(request, at_steps=default_budgets(request.steps)[:-1])
        started = time.monotonic()
        results = run_comparison(request, settings, _progress_line)
        _warn([item.blur for item in results])
        evolved = _evolved_steps(request)
        files = write_comparison(request, settings, results, out_dir, evolved)
        if as_json:
            click.echo(comparison_record(request, settings, results, files).model_dump_json())
            return
        click.echo(comparison_table(request, settings, results, evolved))
        click.echo(f"curves: {files['baselines_csv']}  {files['baselines_png']}  "
                   f"{files['baselines_json']}  ({time.monotonic() - started:.1f} s)")
        return
    results = run_evaluation(request)
    _warn(results)
    files = write_evaluation(request, results, out_dir)
    if as_json:
        click.echo(evaluation_record(request, results, files).model_dump_json())
        return
    click.echo(evaluation_table(request, results))
    click.echo(f"learning curves: {files['csv']}  {files['png']}")


def _builder(generation: int | None, kind: str):
    """How a request is built from a command-line path: a genome file, or a run directory's
    genome after ``--generation N`` generations (es/history.py)."""

    def build(path: Path, **options) -> EvaluationRequest:
        if not path.is_dir():
            return EvaluationRequest.build(path, **options)
        if generation is None:
            raise click.BadParameter(
                f"{path} is a directory: give a genome file such as "
                f"{path / 'mean_genome.npy'}, or a run directory with --generation N",
                ctx=click.get_current_context(), param_hint="'GENOME_PATHS...'")
        found = genome_at(path, generation, kind)
        return EvaluationRequest.from_genome(
            path / f"generation-{generation}-{kind}", found.values, network=found.network,
            provenance=found.provenance, recorded_hidden=found.hidden or None, **options)

    return build


def _evolved_steps(request: EvaluationRequest) -> int | None:
    """The unroll the genome was evolved for (its sidecar, or its run's history)."""
    path = Path(request.genome_path)
    if path.is_file():
        return evolved_steps(path)
    return _run_steps(path.parent)


def _run_steps(run_dir: Path) -> int | None:
    try:
        return load_config(run_dir / "config.toml").unroll.steps
    except BlgnnError:
        return None


def _several(genome_paths, build, options, settings, out_dir, force, as_json) -> None:
    """Every genome on the first one's draws, compared with it (reports/several.py)."""
    if settings is not None and options["at_steps"] is None:
        first = build(genome_paths[0], **options)
        options = {**options, "at_steps": default_budgets(first.steps)[:-1]}
    requests = several_requests(genome_paths, build, **options)
    first = requests[0]
    out_dir = out_dir or first_out(Path(first.genome_path))
    check_output_folder(out_dir, force)
    started = time.monotonic()
    comparison = None
    files: dict[str, str] = {}
    if settings is None:
        results = [run_evaluation(request) for request in requests]
        records = [evaluation_record(r, res, {}) for r, res in
                   zip(requests, results, strict=True)]
    else:
        comparison = run_comparison(first, settings, _progress_line)
        files = write_comparison(first, settings, comparison, out_dir,
                                 _evolved_steps(first))
        results = [[item.blur for item in comparison]]
        for request in requests[1:]:  # the baselines' reduced training split, for pairing
            results.append([evaluate_task(request, index, holdout=(
                settings.validation_fraction,
                derive_seed(first.seed, 0, index, 0, EVALUATE_PREFIX + "holdout")))[0]
                for index in range(len(request.tasks))])
        records = [comparison_record(first, settings, comparison, files)]
        records += [evaluation_record(r, res, {}) for r, res in
                    zip(requests[1:], results[1:], strict=True)]
    _warn(results[0])
    files.update(write_several(requests, results, out_dir, comparison))
    files["json"] = str(Path(out_dir) / "genomes.json")
    record = SeveralRecord(genomes=records, pairings=pairings(requests, results), files=files)
    write_several_json(record, Path(files["json"]))
    if as_json:
        click.echo(record.model_dump_json())
        return
    click.echo(several_table(requests, results, comparison))
    click.echo(f"curves: {files['csv']}  {files['png']}  {files['json']}  "
               f"({time.monotonic() - started:.1f} s)")


def _warn(results) -> None:
    """One stderr line per warning about a task's draws (also in the JSON's ``warnings``)."""
    for item in results:
        for note in item.notes:
            click.echo(f"warning: {note}", err=True)


def first_out(genome_path: Path) -> Path:
    """``<first genome>-compare/`` beside the first genome."""
    return genome_path.with_name(genome_path.stem + "-compare")


def _progress_line(line: str) -> None:
    """Progress of long baseline work (the hebbian rule's meta-training), on stderr."""
    click.echo(line, err=True)
