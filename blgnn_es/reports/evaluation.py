"""What ``blgnn-es evaluate`` writes and prints: curve.csv, curve.png, the table and JSON."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from blgnn_es.fileio import atomic_write
from blgnn_es.reports.figures import pyplot, save_figure

EVALUATION_SCHEMA = 1


def write_evaluation(request, results, out_dir: str | Path) -> dict[str, str]:
    """curve.csv (task, step, mean, std, one column per seed) and curve.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "curve.csv", out_dir / "curve.png"

    def write_csv(fh) -> None:
        writer = csv.writer(fh)
        writer.writerow(["task", "step", "accuracy_mean", "accuracy_std",
                         *[f"seed_{r}" for r in range(request.seeds)]])
        for item in results:
            for step in range(item.curves.shape[1]):
                column = item.curves[:, step]
                writer.writerow([item.task, step + 1, f"{column.mean():.6f}",
                                 f"{column.std():.6f}", *[f"{v:.6f}" for v in column]])

    atomic_write(csv_path, write_csv)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for item in results:
        steps = np.arange(1, item.curves.shape[1] + 1)
        mean, std = item.curves.mean(axis=0), item.curves.std(axis=0)
        ax.plot(steps, mean, marker=".", label=item.task)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("learning step")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{Path(request.genome_path).name}: {request.seeds} seeds per task", fontsize=9)
    save_figure(fig, png_path)
    return {"csv": str(csv_path), "png": str(png_path)}


class AtStep(BaseModel):
    """Accuracy over seeds after one step."""

    model_config = ConfigDict(extra="forbid")
    mean: float
    std: float


class TaskRecord(BaseModel):
    """One task of ``evaluate --json``."""

    model_config = ConfigDict(extra="forbid")
    task: str
    layer_sizes: list[int]
    accuracy_mean: float
    accuracy_std: float
    accuracies: list[float]
    diverged: int
    at_steps: dict[str, AtStep]
    curve_mean: list[float]
    curve_std: list[float]


class UnrollRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int
    batch: int
    eval_batches: int | Literal["all"]


class EvaluationRecord(BaseModel):
    """The ``evaluate --json`` object (docs/cli.md); ``evaluate --baselines --json`` extends
    it (blgnn_es/reports/comparison.py)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = EVALUATION_SCHEMA
    genome: str
    network: dict[str, Any]
    hidden: list[int]
    unroll: UnrollRecord
    seeds: int
    seed: int
    tasks: list[TaskRecord]
    files: dict[str, str]


def task_record(request, item) -> TaskRecord:
    """One task's accuracies and curves, summarised over seeds."""
    return TaskRecord(
        task=item.task, layer_sizes=list(item.layer_sizes),
        accuracy_mean=float(item.accuracies.mean()), accuracy_std=float(item.accuracies.std()),
        accuracies=[float(v) for v in item.accuracies], diverged=item.diverged,
        at_steps={str(step): AtStep(mean=float(item.curves[:, step - 1].mean()),
                                    std=float(item.curves[:, step - 1].std()))
                  for step in request.at_steps},
        curve_mean=[float(v) for v in item.curves.mean(axis=0)],
        curve_std=[float(v) for v in item.curves.std(axis=0)])


def evaluation_record(request, results, files: dict[str, str]) -> EvaluationRecord:
    """The ``evaluate --json`` record of a request and its results."""
    return EvaluationRecord(
        genome=request.genome_path, network=request.network, hidden=list(request.hidden),
        unroll=UnrollRecord(steps=request.steps, batch=request.batch,
                            eval_batches=request.eval_batches or "all"),
        seeds=request.seeds, seed=request.seed,
        tasks=[task_record(request, item) for item in results], files=files)


def evaluation_table(request, results) -> str:
    """Accuracy mean ± std over seeds at the chosen steps and at the last step, per task."""
    steps = [*request.at_steps, request.steps]
    width = max(12, *(len(item.task) for item in results)) + 2
    header = "task".ljust(width) + "".join(f"step {s}".rjust(16) for s in steps) + "  diverged"
    lines = [f"{request.genome_path}: {request.seeds} fresh networks per task, "
             f"{request.steps} steps of batch {request.batch}", header]
    for item in results:
        cells = []
        for step in steps:
            column = item.curves[:, step - 1] if step < request.steps else item.accuracies
            cells.append(f"{column.mean():.4f} ± {column.std():.4f}".rjust(16))
        lines.append(item.task.ljust(width) + "".join(cells) + f"  {item.diverged:>8}")
    return "\n".join(lines)
