"""Tables, JSON, CSV and a figure for BLUR beside its baselines (``evaluate --baselines``).

The JSON object is documented in docs/baselines.md; it extends the one of ``evaluate
--json`` (README.md) with a ``baselines`` block and per-task ``baselines``, ``budgets``
and ``ahead`` entries.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from blgnn_es.baselines.comparison import BaselineSettings, Standing, TaskComparison, standings
from blgnn_es.baselines.stats import INTERVAL_METHOD, PAIRED_METHOD, Paired, mean_intervals
from blgnn_es.fileio import atomic_write, atomic_write_text
from blgnn_es.reports.evaluation import (
    AtStep,
    EvaluationRecord,
    TaskRecord,
    at_step,
    evaluation_record,
    interval_band,
    write_evaluation,
)
from blgnn_es.reports.figures import integer_ticks, plural, pyplot, save_figure

LEARNER_COLOURS = {
    "blur": "black",
    "sgd": "tab:blue",
    "momentum": "tab:orange",
    "adam": "tab:green",
    "fa": "tab:purple",
    "cmaes-weights": "tab:red",
    "hebbian": "tab:brown",
}
CELL = 25  # width of a table cell: "0.9050 [0.8912, 0.9188]"


def verdict_text(standing: Standing) -> str:
    """BLUR against the strongest baseline: ``ahead of adam``, ``behind sgd``, ``level with
    fa``."""
    word = {"ahead": "ahead of", "behind": "behind", "level": "level with"}[standing.verdict]
    return f"{word} {standing.rival}"


def _paired_p(paired: Paired) -> str:
    return f"p={paired.p_value:.2g} {paired.verdict}"


def _rate(rate: float) -> str:
    return f"{rate:.3g}"


def validation_note(item: TaskComparison) -> str:
    return (
        f"learning rates chosen per step on {item.validation_examples} validation "
        "examples held out from the training data (never the test split)"
    )


def comparison_table(
    request,
    settings: BaselineSettings,
    results: list[TaskComparison],
    evolved_steps: int | None = None,
) -> str:
    """Per task: test accuracy (mean [95% t interval] over seeds) at each budget for BLUR
    and each baseline at its best rate for that budget, the rates, BLUR minus each baseline
    paired by seed (interval, p-value, verdict), and BLUR's verdict against the strongest
    baseline. Steps beyond the genome's evolved unroll are starred."""
    lines = [
        f"{request.genome_path}: {plural(request.seeds, 'seed')} per task, {request.steps} steps "
        f"of batch {request.batch}; baselines {', '.join(settings.optimizers)} "
        f"({settings.loss} loss, {len(settings.rates)} rates "
        f"{_rate(min(settings.rates))}..{_rate(max(settings.rates))})"
    ]
    for item in results:
        sizes = item.network_label
        lines += ["", f"{item.task}  ({sizes}; {validation_note(item)})"]
        marks = [f"{b}*" if evolved_steps and b > evolved_steps else str(b) for b in item.budgets]
        lines.append("step".ljust(12) + "".join(f"{b:>{CELL}}" for b in marks))
        ranked = standings(item)
        for name, table in item.learners().items():
            lines.append(name.ljust(12)
                         + "".join(f"{iv.text():>{CELL}}" for iv in mean_intervals(table)))
            if name in item.sweeps:
                if not np.isnan(item.sweeps[name].rates).all():  # a search or rule: no rate
                    rates = [_edge_marked(item.sweeps[name], b) for b in item.budgets]
                    lines.append("  lr".ljust(12) + "".join(f"{r:>{CELL}}" for r in rates))
                versus = [s.versus[name] for s in ranked]
                lines.append("  blur −".ljust(12) + "".join(f"{v.text():>{CELL}}" for v in versus))
                lines.append("  p".ljust(12) + "".join(f"{_paired_p(v):>{CELL}}" for v in versus))
        lines.append("blur is".ljust(12) + "".join(f"{verdict_text(s):>{CELL}}" for s in ranked))
    lines += [
        "",
        f"accuracy: mean [{INTERVAL_METHOD}]",
        "blur −: BLUR minus that baseline, mean over seeds [95% t interval]; p: "
        f"{PAIRED_METHOD}",
        "blur is: BLUR's verdict against the baseline with the best mean at that step"
        + (
            f"; * beyond the {evolved_steps} steps the genome was evolved for"
            if evolved_steps and max(results[0].budgets) > evolved_steps
            else ""
        ),
        "lr: the rate chosen for that step; '!' marks the edge of the swept range (a wider "
        "--rates range might do better)",
    ]
    return "\n".join(lines)


def _edge_marked(sweep, budget: int) -> str:
    rate = sweep.rate_at(budget)
    edge = rate in (float(sweep.rates.min()), float(sweep.rates.max()))
    return _rate(rate) + ("!" if edge and len(sweep.rates) > 1 else "")


class SweepAt(AtStep):
    """A baseline's test accuracy at one budget, at the rate chosen for it."""

    rate: float


class SweepRecord(BaseModel):
    """One optimizer's rate sweep on one task."""

    model_config = ConfigDict(extra="forbid")
    rates: list[float]
    at_steps: dict[str, SweepAt]
    validation_mean: list[list[float]]
    diverged: list[int]
    curve_rate: float
    curve_mean: list[float]
    curve_std: list[float]
    curve_low: list[float]
    curve_high: list[float]


class StandingRecord(BaseModel):
    """BLUR against the baselines at one budget: its verdict against the strongest baseline
    (``rival``) and against each (``versus``); ``leader``: the best mean of all learners."""

    model_config = ConfigDict(extra="forbid")
    leader: str
    rival: str
    verdict: str
    difference: float
    low: float
    high: float
    p_value: float
    means: dict[str, float]
    versus: dict[str, Paired]  # the stats record itself: one declaration


class TaskComparisonRecord(TaskRecord):
    """One task of ``evaluate --baselines --json``: BLUR's fields, then the baselines'."""

    budgets: list[int]
    validation_examples: int
    baselines: dict[str, SweepRecord]
    ahead: dict[str, StandingRecord]


class ComparisonRecord(EvaluationRecord):
    """The ``evaluate --baselines --json`` object (docs/baselines.md)."""

    baselines: dict[str, Any]
    tasks: list[TaskComparisonRecord]


RATE_CHOICE = ("best mean validation accuracy per step budget; validation examples are held "
               "out from the training data, never the test split")


def sweep_record(sweep, budgets) -> SweepRecord:
    final = sweep.curve
    curve = mean_intervals(final)
    return SweepRecord(
        rates=[float(r) for r in sweep.rates],
        at_steps={str(b): SweepAt(**at_step(sweep.test[:, k]).model_dump(), rate=sweep.rate_at(b))
                  for k, b in enumerate(budgets)},
        validation_mean=[[float(v) for v in row] for row in sweep.validation.mean(axis=0)],
        diverged=[int(d) for d in sweep.diverged],
        curve_rate=sweep.rate_at(budgets[-1]),
        curve_mean=[float(v) for v in final.mean(axis=0)],
        curve_std=[float(v) for v in final.std(axis=0)],
        curve_low=[iv.low for iv in curve], curve_high=[iv.high for iv in curve])


def standing_record(standing: Standing) -> StandingRecord:
    rival = standing.against_rival
    return StandingRecord(
        leader=standing.leader, rival=standing.rival, verdict=standing.verdict,
        difference=rival.difference, low=rival.low, high=rival.high, p_value=rival.p_value,
        means={name: iv.mean for name, iv in standing.intervals.items()},
        versus=dict(standing.versus))


def comparison_record(
    request, settings: BaselineSettings, results: list[TaskComparison], files: dict[str, str]
) -> ComparisonRecord:
    """The ``evaluate --baselines --json`` record."""
    blur = evaluation_record(request, [item.blur for item in results], files)
    tasks = []
    for entry, item in zip(blur.tasks, results, strict=True):
        tasks.append(TaskComparisonRecord(
            **entry.model_dump(),
            budgets=list(item.budgets),
            validation_examples=item.validation_examples,
            baselines={name: sweep_record(s, item.budgets) for name, s in item.sweeps.items()},
            ahead={str(s.budget): standing_record(s) for s in standings(item)}))
    baselines = {**settings.model_dump(mode="json"), "rate_choice": RATE_CHOICE,
                 "paired_test": PAIRED_METHOD}
    return ComparisonRecord(**{**blur.model_dump(exclude={"tasks"}), "tasks": tasks,
                               "baselines": baselines})


def write_comparison(
    request,
    settings: BaselineSettings,
    results: list[TaskComparison],
    out_dir: str | Path,
    evolved_steps: int | None = None,
) -> dict[str, str]:
    """baselines.csv (every curve), baselines.png (all curves, shaded spread) and
    baselines.json (the ``--json`` object); also BLUR's own curve.csv / curve.png."""
    out_dir = Path(out_dir)
    files = write_evaluation(request, [item.blur for item in results], out_dir)
    paths = {
        "baselines_csv": out_dir / "baselines.csv",
        "baselines_png": out_dir / "baselines.png",
        "baselines_json": out_dir / "baselines.json",
    }
    atomic_write(paths["baselines_csv"], lambda fh: write_curves_csv(fh, results, request.seeds))
    plot_comparison(
        results,
        paths["baselines_png"],
        evolved_steps,
        title=f"{Path(request.genome_path).name}: test accuracy of BLUR and its baselines per "
        f"learning step, {plural(request.seeds, 'seed')}",
    )
    files.update({key: str(path) for key, path in paths.items()})
    record = comparison_record(request, settings, results, files)
    atomic_write_text(paths["baselines_json"], record.model_dump_json(indent=1))
    return files


def curve_rows(item: TaskComparison):
    """(learner, rate or None, budgets it was chosen for, (seeds, T) curves) per curve; a
    baseline's curve is at the rate chosen for the last budget."""
    yield "blur", None, list(item.budgets), item.blur.curves
    for name, sweep in item.sweeps.items():
        last = sweep.chosen[-1]
        chosen_for = [b for k, b in enumerate(item.budgets) if sweep.chosen[k] == last]
        yield name, sweep.curve_rate, chosen_for, sweep.curve


def write_curves_csv(fh, results: list[TaskComparison], seeds: int) -> None:
    writer = csv.writer(fh)
    writer.writerow(
        [
            "task",
            "learner",
            "rate",
            "chosen_for_steps",
            "step",
            "accuracy_mean",
            "accuracy_std",
            "accuracy_low",
            "accuracy_high",
            *[f"seed_{r}" for r in range(seeds)],
        ]
    )
    for item in results:
        for name, rate, chosen_for, curves in curve_rows(item):
            for step, interval in enumerate(mean_intervals(curves)):
                column = curves[:, step]
                writer.writerow(
                    [
                        item.task,
                        name,
                        "" if rate is None else f"{rate:.6g}",
                        ";".join(map(str, chosen_for)),
                        step + 1,
                        f"{column.mean():.6f}",
                        f"{column.std():.6f}",
                        f"{interval.low:.6f}",
                        f"{interval.high:.6f}",
                        *[f"{v:.6f}" for v in column],
                    ]
                )


def plot_panel(ax, item: TaskComparison, evolved_steps: int | None = None) -> None:
    """BLUR and each baseline (at the rate chosen for the last budget) with bands of the 95%
    t interval over seeds; dots mark each budget's test accuracy at the rate chosen for that
    budget."""
    steps = np.arange(1, item.blur.curves.shape[1] + 1)
    curves = {
        "blur": item.blur.curves,
        **{name: s.curve for name, s in item.sweeps.items()},
    }
    for name, curve in curves.items():
        colour = LEARNER_COLOURS.get(name)
        mean, low, high = interval_band(curve)
        rate = None if name == "blur" else item.sweeps[name].rate_at(item.budgets[-1])
        label = name if rate is None or np.isnan(rate) else f"{name} (lr {_rate(rate)})"
        ax.plot(steps, mean, color=colour, label=label, lw=1.6 if name == "blur" else 1.1)
        ax.fill_between(steps, low, high, color=colour, alpha=0.15, lw=0)
        if name in item.sweeps:
            ax.plot(item.budgets, item.sweeps[name].test.mean(axis=0), "o", ms=3, color=colour)
    if evolved_steps and evolved_steps < steps[-1]:
        ax.axvline(evolved_steps, color="grey", ls="--", lw=0.8)
        ax.text(evolved_steps, 0.97, " evolved unroll", fontsize=7, color="grey", va="top")
    if len(steps) >= 20:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    else:
        integer_ticks(ax)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_xlabel("learning step")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, loc="best")


def plot_comparison(
    results: list[TaskComparison], path: Path, evolved_steps: int | None, title: str
) -> Path:
    """One panel per task."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, item in zip(axes[0], results, strict=True):
        plot_panel(ax, item, evolved_steps)
        sizes = item.network_label
        ax.set_title(f"{item.task} ({sizes})", fontsize=9)
    fig.suptitle(f"{title}; bands: 95% t interval; dots: test accuracy at each step's own best "
                 "rate", fontsize=9)
    return save_figure(fig, path)
