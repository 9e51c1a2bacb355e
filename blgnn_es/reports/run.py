"""Pictures and a summary of one run directory (matplotlib, Agg: no display needed).

``write_report(run_dir)`` reads only the files of a run directory (metrics.jsonl,
config.toml, the genomes, result.json) through their records (es/records.py), so it works
on a finished run, a running one, a copy from a cluster, or a run of the previous release.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import numpy as np

from blgnn_es.config.settings import load_config
from blgnn_es.errors import ConfigError, FileError, os_error_text
from blgnn_es.es.final import label as final_label
from blgnn_es.es.records import FinalChoice, MetricsLine
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import atomic_write_text
from blgnn_es.model.genome import (
    MATRIX_SLOTS,
    SCALAR_SLOTS,
    Genome,
    backprop_genome,
    read_genome,
)
from blgnn_es.reports.figures import accuracy_axes, integer_ticks, pyplot, save_figure
from blgnn_es.tables import markdown_table

# ---- run reports -----------------------------------------------------------------------

REPORT_FILES = ("fitness.png", "validation.png", "genome.png", "summary.md", "report.html")


def write_report(run_dir: str | Path, out: str | Path | None = None,
                 force: bool = False) -> list[Path]:
    """fitness.png, validation.png (when validated), genome.png and summary.md, in ``out``
    (default: the run directory). An earlier report there is kept unless ``force``."""
    run = RunDir.open(run_dir)
    target = run.path if out is None else Path(out)
    earlier = [target / name for name in REPORT_FILES if (target / name).exists()]
    if earlier and not force:
        raise ConfigError(f"{earlier[0]} exists (an earlier report); pass --force to replace "
                          "it, or --out DIR for a new one")
    metrics = run.read_metrics()
    if not metrics:
        raise ConfigError(f"{run.path}: metrics.jsonl is empty (no generation finished yet)")
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target}: is a file, not a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileError(f"cannot make the report folder {os_error_text(err, target)}"
                        ) from None
    summary_text = summary_markdown(run, metrics)
    name = run.path.name
    written = [plot_fitness(metrics, target / "fitness.png", name)]
    if any(record.validation is not None for record in metrics):
        written.append(plot_validation(metrics, target / "validation.png", name))
    genome_file = run.mean_genome if run.mean_genome.exists() else run.best_genome
    if genome_file.exists():
        values, _ = read_genome(genome_file)
        written.append(plot_genome(values, target / "genome.png",
                                   title=f"{name}: {genome_file.stem}"))
    summary = target / "summary.md"
    atomic_write_text(summary, summary_text)
    written.append(summary)
    return written


def plot_fitness(metrics: list[MetricsLine], path: Path, name: str = "run") -> Path:
    """Best, median and worst fitness per generation, best so far, and sigma below."""
    plt = pyplot()
    gens = [r.generation + 1 for r in metrics]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1.4]})
    top.fill_between(gens, [r.best for r in metrics], [r.worst for r in metrics],
                     color="tab:blue", alpha=0.15, label="population range")
    top.plot(gens, [r.median for r in metrics], color="tab:blue", label="median")
    top.plot(gens, [r.best for r in metrics], color="tab:green", lw=0.8, label="gen best")
    top.plot(gens, [r.best_so_far for r in metrics], color="black", ls="--", lw=1,
             label="best so far")
    initial = metrics[0].initial
    if initial is not None:
        top.axhline(initial.fitness, color="tab:red", ls=":", lw=1, label="initial genome")
    for record in metrics:
        if record.event is not None and "restart" in record.event:
            top.axvline(record.generation + 1, color="gray", lw=0.6)
    top.set_ylabel("fitness (lower is better)")
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    gradient = metrics[0].sigma is None  # a gradient meta-training run: loss below
    if gradient:
        bottom.plot(gens, [math.nan if r.loss is None else r.loss for r in metrics],
                    color="tab:purple", label="meta-loss")
        bottom.set_ylabel("meta-loss")
        norm = bottom.twinx()
        norm.semilogy(gens, [math.nan if r.grad_norm is None else r.grad_norm
                             for r in metrics], color="tab:orange", lw=0.7)
        norm.set_ylabel("gradient norm", color="tab:orange", fontsize=8)
        bottom.set_xlabel("Adam step")
        title = "fitness of each step's genome (lower is better), meta-loss below"
    else:
        bottom.semilogy(gens, [r.sigma for r in metrics], color="tab:purple")
        bottom.set_ylabel("sigma")
        bottom.set_xlabel("generation")
        title = "fitness of each generation's samples (lower is better), sigma below"
    bottom.grid(alpha=0.3)
    integer_ticks(bottom)
    top.set_title(f"{name}: {title}", fontsize=9)
    return save_figure(fig, path)


def plot_validation(metrics: list[MetricsLine], path: Path, name: str = "run") -> Path:
    """Validation accuracy of the distribution mean, per task and averaged."""
    plt = pyplot()
    rows = [r.validation for r in metrics if r.validation is not None]
    gens = [r.generation + 1 for r in metrics if r.validation is not None]
    fig, ax = plt.subplots(figsize=(7, 4))
    for task in rows[0].tasks:
        means = [_nan(v.tasks.get(task)) for v in rows]
        bounds = [(v.intervals or {}).get(task) for v in rows]
        errors = None
        if any(bounds):  # the 95% t interval over the validation seeds, where recorded
            errors = [[m - b[0] if b else 0.0 for m, b in zip(means, bounds, strict=True)],
                      [b[1] - m if b else 0.0 for m, b in zip(means, bounds, strict=True)]]
        ax.errorbar(gens, means, yerr=errors, lw=0.9, marker=".", capsize=2, label=task)
    ax.plot(gens, [_nan(v.accuracy) for v in rows], color="black", lw=2, label="mean")
    initial = metrics[0].initial
    if initial is not None and initial.validation is not None:
        ax.axhline(_nan(initial.validation.accuracy), color="tab:red", ls=":",
                   label="initial genome")
    accuracy_axes(ax, "generation", "validation accuracy")
    bars = any(v.intervals for v in rows)
    ax.set_title(f"{name}: validation accuracy of the distribution mean, per task and "
                 "averaged" + ("; bars: 95% t interval over the validation seeds" if bars
                              else ""), fontsize=9)
    return save_figure(fig, path)


def genome_scales(genomes: list[Genome]) -> tuple[float, float]:
    """One colour scale for the matrices and one for the scalars, shared by every row, so
    that a colour means the same number in the evolved genome and in backprop's."""
    matrices = max(float(np.max(np.abs(np.asarray(g[name])))) for g in genomes
                   for name in MATRIX_SLOTS)
    scalars = max(abs(float(g[name])) for g in genomes for name in SCALAR_SLOTS)
    return max(matrices, 1e-9), max(scalars, 1e-9)


def plot_genome(values: np.ndarray, path: Path, title: str = "genome") -> Path:
    """The genome's four matrices and its scalars, next to the backprop genome's (SPEC §4),
    on shared colour scales (one for the matrices, one for the scalars, each labelled)."""
    plt = pyplot()
    rows = [(title.rpartition(": ")[2] or title, Genome(values)),
            ("backprop (SPEC §4, lr 0.1)", Genome(backprop_genome(0.1)))]
    matrix_scale, scalar_scale = genome_scales([genome for _, genome in rows])
    fig, axes = plt.subplots(2, 5, figsize=(13.5, 5.4),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.5]})
    for row, (label, genome) in enumerate(rows):
        for col, name in enumerate(MATRIX_SLOTS):
            ax = axes[row, col]
            matrix = np.asarray(genome[name])
            image = ax.imshow(matrix, cmap="RdBu_r", vmin=-matrix_scale, vmax=matrix_scale)
            for (i, j), value in np.ndenumerate(matrix):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name if row == 0 else "", fontsize=9)
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
        scalars = np.array([[genome[name]] for name in SCALAR_SLOTS])
        ax = axes[row, 4]
        scalar_image = ax.imshow(scalars, cmap="PuOr_r", vmin=-scalar_scale, vmax=scalar_scale,
                                 aspect="auto")
        for i, value in enumerate(scalars[:, 0]):
            ax.text(0, i, f"{value:.3g}", ha="center", va="center", fontsize=7)
        ax.set_yticks(range(len(SCALAR_SLOTS)), SCALAR_SLOTS, fontsize=7)
        ax.set_xticks([])
        ax.set_title("scalars" if row == 0 else "", fontsize=9)
    fig.colorbar(image, ax=axes[:, :4].ravel().tolist(), shrink=0.8,
                 label="matrix entry (one scale, both rows)")
    fig.colorbar(scalar_image, ax=axes[:, 4].tolist(), shrink=0.8,
                 label="scalar (one scale, both rows)")
    fig.suptitle(f"{title}: the learning rule's matrices and scalars (top) beside the "
                 "backprop genome's (bottom)", fontsize=10)
    return save_figure(fig, path)


def summary_markdown(run: RunDir, metrics: list[MetricsLine]) -> str:
    """The run's key numbers as Markdown."""
    config = load_config(run.config).to_dict()
    result = run.read_result()
    info = run.read_info()
    last = metrics[-1]
    best = min(metrics, key=lambda r: r.best)
    initial = metrics[0].initial
    validated = [(r.generation, r.validation) for r in metrics if r.validation is not None]
    lines = [f"# Run {run.path.name}", ""]
    status = (result and result.stop_reason) or "running (or killed; resume with --resume)"
    facts = [
        ("status", status),
        ("generations", f"{last.generation + 1}"),
        ("evaluations", f"{last.evaluations}"),
        ("wall time in generations", f"{last.elapsed:.1f} s"),
        ("train tasks", ", ".join(config["tasks"]["train"])),
        ("validation tasks", ", ".join(config["tasks"].get("validate", [])) or "—"),
        ("network", f"hidden {config['network']['hidden']}, k = {config['network']['states']}"),
        ("unroll", f"{config['unroll']['steps']} steps, batch {config['unroll']['batch']}, "
                   f"{config['unroll']['eval_batches']} eval batches, "
                   f"{config['unroll']['replicas']} replica(s)"),
        ("fitness", f"{config['fitness']['metric']} ({config['fitness']['average']})"),
        ("initial genome", f"{config['genome']['initial']}: fitness "
                           f"{_fmt(initial and initial.fitness)}"),
        ("best fitness", f"{best.best:.4f} (generation {best.generation + 1})"),
        ("last generation: median fitness", f"{last.median:.4f}"),
        (("last sigma", f"{last.sigma:.4g}") if last.sigma is not None else
         ("last meta-loss; steps skipped", f"{_fmt(last.loss)}; {last.skipped}")),
        ("diverged samples (all generations)", f"{sum(r.diverged for r in metrics)}"),
    ]
    if validated:
        first_val = initial.validation.accuracy if initial and initial.validation else None
        top_generation, top = max(validated, key=lambda gv: _nan(gv[1].accuracy))
        facts += [
            ("validation accuracy, initial genome", _fmt(first_val)),
            ("validation accuracy, last mean genome", _fmt(validated[-1][1].accuracy)),
            ("validation accuracy, best",
             f"{_fmt(top.accuracy)} (generation {top_generation + 1})"),
        ]
    lines.append(markdown_table(["", ""], facts))
    if validated:
        lines += ["", "Last validation per task:", ""]
        intervals = validated[-1][1].intervals or {}
        for task, acc in validated[-1][1].tasks.items():
            bounds = intervals.get(task)
            spread = f" [{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else ""
            lines.append(f"- `{task}`: {_fmt(acc)}{spread}")
    choice = run.read_final()
    if choice is not None:
        lines += ["", *final_lines(choice)]
    if info is not None and info.sessions:
        lines += ["", "Provenance:", ""]
        first = info.sessions[0].environment
        lines += [f"- blgnn-es {first.package}" + (f", commit `{first.git_commit}`"
                                                    if first.git_commit else ""),
                  f"- Python {first.python}, numpy {first.numpy}, numba {first.numba}, "
                  f"pycma {first.cma}",
                  f"- CPU: {first.cpu} ({first.cpu_count} cores), {first.platform}"]
        for entry in info.sessions:
            lines.append(f"- {entry.action} {entry.started}: `{shlex.join(entry.command)}` "
                         f"(in {entry.cwd})")
        for path, digest in info.inputs.items():
            lines.append(f"- input `{path}`: sha256 {digest[:16]}...")
    events = [r for r in metrics if r.event is not None]
    if events:
        lines += ["", "Events:", ""]
        lines += [f"- generation {r.generation + 1}: {r.event}" for r in events]
    tasks = " ".join(f"--task {t}" for t in config["tasks"].get("validate") or
                     config["tasks"]["train"])
    lines += ["", "Pictures: `fitness.png`, `validation.png`, `genome.png`.", ""]
    if choice is not None and run.final_genome.exists():
        lines += ["Evaluate the final genome (chosen on validation, scored on test draws):", "",
                  f"    blgnn-es evaluate {run.final_genome} {tasks}", ""]
    else:
        lines += ["Evaluate the distribution mean (the better answer under noise):", "",
                  f"    blgnn-es evaluate {run.mean_genome} {tasks}", ""]
    return "\n".join(lines)


def final_lines(choice: FinalChoice) -> list[str]:
    """summary.md's account of final_genome.npy: which candidate, why, its intervals."""
    chosen = choice.chosen
    lines = ["Final genome (`final_genome.npy`, details in `final.json`):", "",
             f"- chosen: {final_label(chosen)}; {choice.reason}"]
    if chosen.validation is not None:
        spread = (f" [{chosen.low:.4f}, {chosen.high:.4f}]" if chosen.low is not None
                  else " (one seed: no interval)")
        lines.append(f"- validation accuracy {chosen.validation:.4f}{spread} "
                     f"({choice.interval})")
    if choice.test is not None:
        test = choice.test
        lines.append(f"- test accuracy {test.accuracy:.4f} [{test.low:.4f}, {test.high:.4f}] "
                     f"over {test.seeds} fresh seeds of the validation tasks")
    return lines


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


