"""Several genomes evaluated on the same draws: one table, one figure, one JSON record.

Seed r of task i is one draw (task, initial synapses, batches, test examples) for every
genome of ``evaluate A.npy B.npy ...`` (evaluation.several_requests), so each genome is
compared with the first by a paired test over seeds (baselines/stats.py ``paired_test``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from blgnn_es.baselines.comparison import TaskComparison
from blgnn_es.baselines.stats import (
    INTERVAL_METHOD,
    PAIRED_METHOD,
    Paired,
    mean_intervals,
    paired_test,
)
from blgnn_es.evaluation import TaskEvaluation
from blgnn_es.fileio import atomic_write, atomic_write_text
from blgnn_es.reports.comparison import LEARNER_COLOURS, ComparisonRecord
from blgnn_es.reports.evaluation import EvaluationRecord, interval_band
from blgnn_es.reports.figures import accuracy_axes, plural, pyplot, save_figure

SEVERAL_SCHEMA = 1
CELL = 26


def genome_labels(paths) -> list[str]:
    """Each genome's file name, or parent/name where two names are alike (two runs'
    mean_genome.npy)."""
    names = [Path(p).name for p in paths]
    return [f"{Path(p).parent.name}/{n}" if names.count(n) > 1 else n
            for p, n in zip(paths, names, strict=True)]


def report_steps(request) -> list[int]:
    return [*request.at_steps, request.steps]


def at(item: TaskEvaluation, step: int, steps: int) -> np.ndarray:
    """Accuracy per seed after ``step`` (the final accuracy at the last step)."""
    return item.accuracies if step >= steps else item.curves[:, step - 1]


class PairingRecord(BaseModel):
    """``genome`` minus ``against`` (the first genome) on one task after one step, paired by
    seed."""

    model_config = ConfigDict(extra="forbid")
    genome: str
    against: str
    task: str
    step: int
    paired: Paired


class SeveralRecord(BaseModel):
    """The ``evaluate A.npy B.npy ... --json`` object: each genome's own record (the first
    with its baselines when asked) and every genome against the first, paired by seed."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = SEVERAL_SCHEMA
    genomes: list[ComparisonRecord | EvaluationRecord]
    pairings: list[PairingRecord]
    paired_test: str = PAIRED_METHOD
    files: dict[str, str]


def pairings(requests, results: list[list[TaskEvaluation]]) -> list[PairingRecord]:
    """Every genome after the first against the first, per task and reported step."""
    first = requests[0]
    out = []
    for request, items in zip(requests[1:], results[1:], strict=True):
        for base, item in zip(results[0], items, strict=True):
            for step in report_steps(first):
                out.append(PairingRecord(
                    genome=request.genome_path, against=first.genome_path, task=item.task,
                    step=step, paired=_paired(item, base, step, first.steps)))
    return out


def _paired(item: TaskEvaluation, base: TaskEvaluation, step: int, steps: int) -> Paired:
    return paired_test(at(item, step, steps), at(base, step, steps))


def several_table(requests, results: list[list[TaskEvaluation]],
                  baselines: list[TaskComparison] | None = None) -> str:
    """Per task and step: each genome's accuracy mean [95% t interval] over seeds (and each
    baseline's at its chosen rate), and each genome minus the first, paired by seed."""
    first = requests[0]
    labels = genome_labels([r.genome_path for r in requests])
    steps = report_steps(first)
    width = max(14, *(len(label) for label in labels)) + 2
    lines = [f"{plural(len(requests), 'genome')}, {plural(first.seeds, 'seed')} per task "
             f"(the same draws for every genome), {first.steps} steps of batch {first.batch}"]
    lines += [f"  [{k}] {r.genome_path}" for k, r in enumerate(requests)]
    for index, base in enumerate(results[0]):
        sizes = base.network_label
        lines += ["", f"{base.task}  ({sizes})",
                  "step".ljust(width) + "".join(f"{s:>{CELL}}" for s in steps) + "  diverged"]
        for label, items in zip(labels, results, strict=True):
            item = items[index]
            cells = "".join(f"{_interval(at(item, s, first.steps)):>{CELL}}" for s in steps)
            lines.append(label.ljust(width) + cells + f"  {item.diverged:>8}")
        if baselines is not None:
            comparison = baselines[index]
            for name, sweep in comparison.sweeps.items():
                columns = {b: k for k, b in enumerate(comparison.budgets)}
                cells = "".join(f"{_interval(sweep.test[:, columns[s]]):>{CELL}}"
                                for s in steps)
                lines.append(name.ljust(width) + cells)
        for label, items in zip(labels[1:], results[1:], strict=True):
            paired = [_paired(items[index], base, s, first.steps) for s in steps]
            lines.append(f"  {label} −".ljust(width)
                         + "".join(f"{p.text():>{CELL}}" for p in paired))
            lines.append("  p".ljust(width) + "".join(
                f"{f'p={p.p_value:.2g} {p.verdict}':>{CELL}}" for p in paired))
    lines += ["", f"accuracy: mean [{INTERVAL_METHOD}]",
              f"'<genome> −': that genome minus {labels[0]}, mean over seeds [95% t interval]; "
              f"p: {PAIRED_METHOD}"]
    if baselines is not None:
        lines.append("baselines: each step at the rate chosen for it on held-out training "
                     "examples (all genomes train on the same reduced training split)")
    return "\n".join(lines)


def _interval(values: np.ndarray) -> str:
    (interval,) = mean_intervals(np.asarray(values)[:, None])
    return interval.text()


def write_several(requests, results: list[list[TaskEvaluation]], out_dir: str | Path,
                  baselines: list[TaskComparison] | None = None) -> dict[str, str]:
    """genomes.csv (every genome's curve per task: mean, 95% t interval, one column per
    seed) and genomes.png (one panel per task, one line per genome, and the baselines)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "genomes.csv", out_dir / "genomes.png"
    labels = genome_labels([r.genome_path for r in requests])
    seeds = requests[0].seeds

    def write_csv(fh) -> None:
        writer = csv.writer(fh)
        writer.writerow(["task", "genome", "step", "accuracy_mean", "accuracy_low",
                         "accuracy_high", *[f"seed_{r}" for r in range(seeds)]])
        for label, items in zip(labels, results, strict=True):
            for item in items:
                for step, interval in enumerate(mean_intervals(item.curves)):
                    writer.writerow([item.task, label, step + 1, f"{interval.mean:.6f}",
                                     f"{interval.low:.6f}", f"{interval.high:.6f}",
                                     *[f"{v:.6f}" for v in item.curves[:, step]]])

    atomic_write(csv_path, write_csv)
    plot_several(labels, results, png_path, baselines,
                 title=f"{' vs '.join(labels)}: held-out accuracy per learning step, "
                 f"{plural(seeds, 'seed')} (same draws); bands: 95% t interval")
    return {"csv": str(csv_path), "png": str(png_path)}


def plot_several(labels: list[str], results: list[list[TaskEvaluation]], path: Path,
                 baselines: list[TaskComparison] | None, title: str) -> list[list[str]]:
    """One panel per task; returns each panel's line labels."""
    plt = pyplot()
    tasks = len(results[0])
    fig, axes = plt.subplots(1, tasks, figsize=(5.5 * tasks, 4), squeeze=False)
    shown = []
    for index, ax in enumerate(axes[0]):
        for k, (label, items) in enumerate(zip(labels, results, strict=True)):
            curves = items[index].curves
            steps = np.arange(1, curves.shape[1] + 1)
            mean, low, high = interval_band(curves)
            colour = plt.get_cmap("tab10")(k % 10) if k else "black"
            ax.plot(steps, mean, color=colour, lw=1.6, marker=".", label=label)
            ax.fill_between(steps, low, high, color=colour, alpha=0.15, lw=0)
        if baselines is not None:
            for name, sweep in baselines[index].sweeps.items():
                steps = np.arange(1, sweep.curve.shape[1] + 1)
                ax.plot(steps, sweep.curve.mean(axis=0), ls="--", lw=1,
                        color=LEARNER_COLOURS.get(name), label=f"{name} (baseline)")
        item = results[0][index]
        sizes = item.network_label
        ax.set_title(f"{item.task} ({sizes})", fontsize=9)
        accuracy_axes(ax, "learning step", "held-out accuracy", legend_size=7)
        shown.append([line.get_label() for line in ax.get_lines()])
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
    return shown


def write_several_json(record: SeveralRecord, path: Path) -> None:
    atomic_write_text(path, record.model_dump_json(indent=1))
