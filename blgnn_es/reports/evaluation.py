"""What ``blgnn-es evaluate`` writes and prints: curve.csv, curve.png, the table and JSON."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from blgnn_es.baselines.stats import INTERVAL_METHOD, mean_interval, mean_intervals
from blgnn_es.fileio import atomic_write
from blgnn_es.reports.figures import accuracy_axes, plural, pyplot, save_figure

EVALUATION_SCHEMA = 1


def write_evaluation(request, results, out_dir: str | Path) -> dict[str, str]:
    """curve.csv (task, step, mean, std, 95% t interval, one column per seed) and curve.png
    (mean and 95% t interval band)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "curve.csv", out_dir / "curve.png"

    def write_csv(fh) -> None:
        writer = csv.writer(fh)
        writer.writerow(["task", "step", "accuracy_mean", "accuracy_std", "accuracy_low",
                         "accuracy_high", *[f"seed_{r}" for r in range(request.seeds)]])
        for item in results:
            for step, interval in enumerate(mean_intervals(item.curves)):
                column = item.curves[:, step]
                writer.writerow([item.task, step + 1, f"{column.mean():.6f}",
                                 f"{column.std():.6f}", f"{interval.low:.6f}",
                                 f"{interval.high:.6f}", *[f"{v:.6f}" for v in column]])

    atomic_write(csv_path, write_csv)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for item in results:
        steps = np.arange(1, item.curves.shape[1] + 1)
        mean, low, high = interval_band(item.curves)
        ax.plot(steps, mean, marker=".", label=item.task)
        ax.fill_between(steps, low, high, alpha=0.2)
    accuracy_axes(ax, "learning step", "held-out accuracy")
    ax.set_title(f"{Path(request.genome_path).name}: held-out accuracy per learning step, "
                 f"{plural(request.seeds, 'seed')} per task; band: 95% t interval", fontsize=9)
    save_figure(fig, png_path)
    return {"csv": str(csv_path), "png": str(png_path)}


def interval_band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t interval of (seeds, steps) curves, step by step (no band: one seed)."""
    intervals = mean_intervals(curves)
    mean = np.array([iv.mean for iv in intervals])
    low = np.array([iv.low for iv in intervals])
    high = np.array([iv.high for iv in intervals])
    return mean, np.where(np.isnan(low), mean, low), np.where(np.isnan(high), mean, high)


class AtStep(BaseModel):
    """Accuracy over seeds after one step: mean, std (ddof 0) and the 95% t interval."""

    model_config = ConfigDict(extra="forbid")
    mean: float
    std: float
    low: float
    high: float


class TaskRecord(BaseModel):
    """One task of ``evaluate --json``."""

    model_config = ConfigDict(extra="forbid")
    task: str
    layer_sizes: list[int]  # the first seed's network
    layer_sizes_per_seed: list[list[int]] | None = None  # only where seeds' shapes differ
    accuracy_mean: float
    accuracy_std: float
    accuracy_low: float
    accuracy_high: float
    accuracies: list[float]
    diverged: int
    at_steps: dict[str, AtStep]
    curve_mean: list[float]
    curve_std: list[float]
    curve_low: list[float]
    curve_high: list[float]
    warnings: list[str] = []  # draws repeating examples, too few held-out examples


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
    two_class: str = "sign"  # outputs of a two-class task: sign (one) or argmax (two)
    unroll: UnrollRecord
    seeds: int
    seed: int
    interval: str = INTERVAL_METHOD
    tasks: list[TaskRecord]
    files: dict[str, str]


def at_step(values: np.ndarray) -> AtStep:
    """Mean, std and 95% t interval of one step's accuracies over seeds."""
    interval = mean_interval(values)
    return AtStep(mean=interval.mean, std=float(np.std(values)), low=interval.low,
                  high=interval.high)


def task_record(request, item) -> TaskRecord:
    """One task's accuracies and curves, summarised over seeds."""
    final = mean_interval(item.accuracies)
    curve = mean_intervals(item.curves)
    return TaskRecord(
        task=item.task, layer_sizes=list(item.layer_sizes),
        layer_sizes_per_seed=[list(sizes) for sizes in item.seed_layer_sizes] or None,
        accuracy_mean=float(item.accuracies.mean()), accuracy_std=float(item.accuracies.std()),
        accuracy_low=final.low, accuracy_high=final.high,
        accuracies=[float(v) for v in item.accuracies], diverged=item.diverged,
        at_steps={str(step): at_step(item.curves[:, step - 1]) for step in request.at_steps},
        curve_mean=[float(v) for v in item.curves.mean(axis=0)],
        curve_std=[float(v) for v in item.curves.std(axis=0)],
        curve_low=[iv.low for iv in curve], curve_high=[iv.high for iv in curve],
        warnings=list(item.notes))


def evaluation_record(request, results, files: dict[str, str]) -> EvaluationRecord:
    """The ``evaluate --json`` record of a request and its results."""
    return EvaluationRecord(
        genome=request.genome_path, network=request.network, hidden=list(request.hidden),
        two_class=request.two_class, unroll=UnrollRecord(steps=request.steps, batch=request.batch,
                            eval_batches=request.eval_batches or "all"),
        seeds=request.seeds, seed=request.seed,
        tasks=[task_record(request, item) for item in results], files=files)


def evaluation_table(request, results) -> str:
    """Accuracy mean [95% t interval] over seeds at the chosen steps and the last, per task."""
    steps = [*request.at_steps, request.steps]
    width = max(12, *(len(item.task) for item in results)) + 2
    header = "task".ljust(width) + "".join(f"step {s}".rjust(25) for s in steps) + "  diverged"
    lines = [f"{request.genome_path}: {plural(request.seeds, 'fresh network')} per task, "
             f"{request.steps} steps of batch {request.batch}; accuracy mean [{INTERVAL_METHOD}]",
             header]
    for item in results:
        cells = []
        for step in steps:
            column = item.curves[:, step - 1] if step < request.steps else item.accuracies
            cells.append(mean_interval(column).text().rjust(25))
        lines.append(item.task.ljust(width) + "".join(cells) + f"  {item.diverged:>8}")
    return "\n".join(lines)
