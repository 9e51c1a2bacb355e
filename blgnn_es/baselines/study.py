"""Transfer studies (SPEC R4, R5): every cell of a study grid beside the baselines.

For every genome and architecture one evaluation request covers all tasks, so task i gets
the same task, synapse and batch seeds under every genome and architecture (common random
numbers); the unroll runs to the largest budget and every budget is read from the same
curves, with the baselines' learning rate chosen for each budget on held-out training
examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blgnn_es.baselines.comparison import TaskComparison, compare_task
from blgnn_es.config.study import StudySettings
from blgnn_es.evaluation import EvaluationRequest
from blgnn_es.model.genome import load_sidecar


@dataclass
class Cell:
    """One genome on one architecture and task: BLUR and the baselines at every budget."""

    genome: str
    hidden: tuple[int, ...]
    evolved_steps: int | None
    comparison: TaskComparison


def run_study(
    settings: StudySettings, progress: Callable[[str], None] = lambda line: None
) -> dict[str, list[Cell]]:
    """Every cell of the grid, grouped by task (in config order)."""
    cells: dict[str, list[Cell]] = {task: [] for task in settings.tasks}
    for genome in settings.genomes:
        evolved = evolved_steps(genome.path)
        for hidden in settings.layers:
            request = EvaluationRequest.build(
                genome.path,
                tasks=settings.tasks,
                hidden=hidden,
                steps=max(settings.budgets),
                batch=settings.batch,
                eval_batches="all" if settings.eval_batches is None else settings.eval_batches,
                seeds=settings.seeds,
                seed=settings.seed,
                at_steps=settings.budgets[:-1],
                data_dir=settings.data_dir,
                two_class=settings.two_class,
            )
            for index, task in enumerate(settings.tasks):
                comparison = compare_task(request, settings.baselines, index, settings.budgets,
                                          progress)
                cells[task].append(Cell(genome.label, request.hidden, evolved, comparison))
                progress(
                    f"{genome.label}  {task}  {comparison.network_label}  done"
                )
    return cells


def evolved_steps(genome_path: Path) -> int | None:
    """The unroll length the genome was evolved with, from its sidecar (if it says)."""
    sidecar = load_sidecar(genome_path)
    unroll = sidecar.provenance.unroll if sidecar else None
    return int(unroll.steps) if unroll and unroll.steps else None
