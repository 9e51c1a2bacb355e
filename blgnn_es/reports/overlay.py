"""Several runs in one figure set: fitness, sigma and validation, run by run.

Runs that are seeds of one config (the same config.toml apart from run.seed, run.name and
the limits a resume may change) form a group: the figures add each group's median and
min-max range across its seeds, so a seed sweep reads as one result with its spread, and
several sweeps (CMA-ES against gradient meta-training, say) as several. The x-axis is the
generation (an Adam step for gradient runs), the unrolls spent so far (a CMA-ES generation
spends popsize x tasks x replicas, a gradient step its meta-batch) or the wall time, so
that meta-optimizers of different cost per generation compare fairly.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blgnn_es.config.settings import validate
from blgnn_es.errors import BlgnnError, ConfigError, FileError, os_error_text
from blgnn_es.es.records import MetricsLine
from blgnn_es.es.resume import resumable
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import atomic_write_text, read_text
from blgnn_es.reports.figures import integer_ticks, plural, pyplot, save_figure
from blgnn_es.tables import markdown_table

OVERLAY_FILES = ("overlay.png", "overlay.md")
SEED_KEYS = ("seed", "name")  # [run] keys that may differ between seeds of one config
X_AXES = ("generation", "unrolls", "seconds")
X_LABELS = {"generation": "generation (gradient runs: Adam step)",
            "unrolls": "unrolls so far (network trainings of T steps)",
            "seconds": "wall time in generations (s)"}


@dataclass(frozen=True)
class RunCurves:
    """One run's per-generation numbers (generations 1-based, as every figure shows them)."""

    name: str
    generations: np.ndarray
    best_so_far: np.ndarray
    median: np.ndarray
    sigma: np.ndarray
    validation_generations: np.ndarray
    validation: np.ndarray  # mean validation accuracy of the distribution mean
    unrolls: np.ndarray | None = None  # per generation, so far (None: not known)
    elapsed: np.ndarray | None = None  # per generation, seconds so far

    def x(self, axis: str, validation: bool = False) -> np.ndarray:
        """The x values of the generations (or of the validated ones) on ``axis``."""
        gens = self.validation_generations if validation else self.generations
        if axis == "generation":
            return gens
        values = self.unrolls if axis == "unrolls" else self.elapsed
        if values is None:
            raise ConfigError(f"{self.name}: no {axis} in its metrics")
        return values[np.searchsorted(self.generations, gens)]


def read_curves(path: Path) -> RunCurves:
    """A run directory's metrics as arrays (ConfigError when it has none yet)."""
    run = RunDir.open(path)
    metrics = run.read_metrics()
    if not metrics:
        raise ConfigError(f"{run.path}: metrics.jsonl is empty (no generation finished yet)")
    return curves_of(run.path.name, metrics, _samples_per_evaluation(run.path))


def _samples_per_evaluation(path: Path) -> int | None:
    """Unrolls one CMA-ES genome evaluation spends: train tasks x replicas (None when
    config.toml cannot be read)."""
    config = config_without_seed(path)
    if config is None:
        return None
    tasks = config.get("tasks", {}).get("train", [])
    return max(len(tasks), 1) * int(config.get("unroll", {}).get("replicas", 1))


def curves_of(name: str, metrics: list[MetricsLine], samples: int | None = None
              ) -> RunCurves:
    """A run's curves; ``samples`` (unrolls per genome evaluation) gives a CMA-ES run its
    unrolls, a gradient run's lines carry theirs."""
    validated = [r for r in metrics if r.validation is not None]
    if all(r.unrolls is not None for r in metrics):
        unrolls = np.array([r.unrolls for r in metrics], dtype=float)
    elif samples is not None:
        unrolls = np.array([r.evaluations * samples for r in metrics], dtype=float)
    else:
        unrolls = None
    return RunCurves(
        name,
        np.array([r.generation + 1 for r in metrics]),
        np.array([r.best_so_far for r in metrics], dtype=float),
        np.array([r.median for r in metrics], dtype=float),
        np.array([math.nan if r.sigma is None else r.sigma for r in metrics], dtype=float),
        np.array([r.generation + 1 for r in validated]),
        np.array([math.nan if r.validation.accuracy is None else r.validation.accuracy
                  for r in validated], dtype=float),
        unrolls, np.array([r.elapsed for r in metrics], dtype=float))


def config_without_seed(path: Path) -> dict[str, Any] | None:
    """config.toml, resolved (keys a later release added read as their defaults), minus
    [run] seed and name (None when it cannot be read)."""
    try:
        config = tomllib.loads(read_text(Path(path) / "config.toml", "config file"))
    except (BlgnnError, OSError, tomllib.TOMLDecodeError):
        return None
    try:
        config = validate(config, str(Path(path) / "config.toml")).to_dict()
    except BlgnnError:
        pass  # a config this release cannot validate: compared as written
    run = dict(config.get("run") or {})
    for key in SEED_KEYS:
        run.pop(key, None)
    config["run"] = run
    return config


def _config_of_group(path: Path) -> dict[str, Any] | None:
    """config_without_seed minus the keys a resume may change (limits, where it runs)."""
    config = config_without_seed(path)
    if config is None:
        return None
    return {section: {key: value for key, value in table.items()
                      if not resumable(f"{section}.{key}")}
            for section, table in config.items() if isinstance(table, dict)}


def group_runs(paths: list[Path]) -> list[list[int]]:
    """Indices of the runs that are seeds of one config, group by group in first-seen
    order (a run whose config.toml cannot be read is a group of its own)."""
    groups: list[tuple[dict[str, Any] | None, list[int]]] = []
    for index, path in enumerate(paths):
        config = _config_of_group(path)
        for known, members in groups:
            if config is not None and known == config:
                members.append(index)
                break
        else:
            groups.append((config, [index]))
    return [members for _, members in groups]


def same_config(paths: list[Path]) -> bool:
    """Whether the runs are seeds of one config (two or more, configs equal but the seed)."""
    return len(paths) > 1 and len(group_runs(paths)) == 1


def group_label(runs: list[RunCurves]) -> str:
    """A group's name: its runs' common name prefix without a trailing "-seed"."""
    prefix = os.path.commonprefix([r.name for r in runs]).rstrip("-_.")
    for tail in ("-seed", "_seed", "seed"):
        if prefix.endswith(tail):
            prefix = prefix[: -len(tail)].rstrip("-_.")
    return prefix or runs[0].name


def across(runs: list[RunCurves], field: str, generations: str = "generations"
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(generations, median, min, max) over runs of ``field``, at the generations every run
    reached (a shorter run ends the band where it ends)."""
    common = sorted(set.intersection(*(set(getattr(r, generations).tolist()) for r in runs)))
    table = np.array([[getattr(r, field)[list(getattr(r, generations)).index(g)]
                       for g in common] for r in runs], dtype=float)
    if not common:
        empty = np.array([])
        return empty, empty, empty, empty
    return (np.array(common), np.nanmedian(table, axis=0), np.nanmin(table, axis=0),
            np.nanmax(table, axis=0))


def plot_overlay(runs: list[RunCurves], path: Path, title: str, seeds_of_one: bool = False,
                 groups: list[list[int]] | None = None, x: str = "generation"
                 ) -> dict[str, list[str]]:
    """Best so far, median fitness, sigma and validation accuracy of every run, one line per
    run per panel, against ``x`` (X_AXES); each group of two or more seeds (``groups``, or
    all runs with ``seeds_of_one``) also gets its median and min-max band. Returns each
    panel's line labels (what the figure shows, for tests and the summary)."""
    if x not in X_AXES:
        raise ConfigError(f"--x {x!r}: choose one of {', '.join(X_AXES)}")
    if groups is None:
        groups = [list(range(len(runs)))] if seeds_of_one else [[i] for i in range(len(runs))]
    plt = pyplot()
    validated = [r for r in runs if r.validation.size]
    with_sigma = [r for r in runs if np.isfinite(r.sigma).any()]
    fields = [("best_so_far", "best so far fitness", False),
              ("median", "median fitness of the generation", False)]
    if with_sigma:
        fields.append(("sigma", "sigma (CMA-ES step size)", True))
    if validated:
        fields.append(("validation", "validation accuracy (mean genome)", False))
    fig, axes = plt.subplots(len(fields), 1, figsize=(7.5, 2.6 * len(fields)), sharex=True)
    axes = np.atleast_1d(axes)
    colours = plt.get_cmap("tab10")
    banded = [members for members in groups if len(members) > 1]
    by_group = len(banded) > 1 or (banded and len(groups) > 1)
    colour_of = {}
    for g, members in enumerate(groups):
        for index in members:
            colour_of[index] = colours((g if by_group else index) % 10)
    shown: dict[str, list[str]] = {}
    for ax, (field, label, log) in zip(axes, fields, strict=True):
        is_validation = field == "validation"
        keep = {id(r) for r in (validated if is_validation else
                                with_sigma if field == "sigma" else runs)}
        for index, run in enumerate(runs):
            if id(run) not in keep:
                continue
            ax.plot(run.x(x, is_validation), getattr(run, field), lw=0.9,
                    alpha=0.45 if by_group else 0.8, color=colour_of[index], label=run.name)
        for g, members in enumerate(groups):
            group = [runs[i] for i in members if id(runs[i]) in keep]
            if len(group) < 2:
                continue
            gens = "validation_generations" if is_validation else "generations"
            at, mid, low, high = across(group, field, gens)
            where = np.array([np.median([r.x(x, is_validation)[list(getattr(r, gens)).index(a)]
                                         for r in group]) for a in at]) if at.size else at
            colour = colours(g % 10) if by_group else "black"
            name = f"{group_label(group)}: " if len(groups) > 1 else ""
            ax.fill_between(where, low, high, color=colour if by_group else "grey",
                            alpha=0.2, lw=0, label=f"{name}range over "
                            f"{plural(len(group), 'seed')}")
            ax.plot(where, mid, color=colour, lw=2, label=f"{name}median over seeds")
        values = np.concatenate([getattr(r, field) for r in runs if id(r) in keep])
        values = values[np.isfinite(values) & (values > 0)]
        if log and values.size and values.max() > 10 * values.min():
            ax.set_yscale("log")
        if is_validation:
            ax.set_ylim(0, 1)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        shown[field] = [line.get_label() for line in ax.get_lines()]
    axes[0].legend(fontsize=6 if by_group else 7, ncol=2)
    axes[-1].set_xlabel(X_LABELS[x])
    if x == "generation":
        integer_ticks(axes[-1])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return shown


def overlay_title(runs: list[RunCurves], seeds_of_one: bool,
                  groups: list[list[int]] | None = None) -> str:
    names = ", ".join(r.name for r in runs)
    if groups is not None and len(groups) > 1 and len(groups) < len(runs):
        names = ", ".join(group_label([runs[i] for i in members]) for members in groups)
    if len(names) > 80:
        names = names[:77] + "..."
    what = (f"{plural(len(runs), 'seed')} of one config" if seeds_of_one
            else f"{plural(len(runs), 'run')} in {plural(len(groups), 'group')}"
            if groups is not None and len(groups) < len(runs) else plural(len(runs), "run"))
    return f"{names}: fitness (lower is better), sigma, validation; {what}"


def default_out(paths: list[Path]) -> Path:
    """``<parent>/report-<names>``: the runs' common name prefix, or their names joined."""
    names = [Path(p).resolve().name for p in paths]
    prefix = os.path.commonprefix(names).rstrip("-_.")
    stem = prefix if len(prefix) >= 3 else "+".join(names)
    return Path(paths[0]).parent / f"report-{stem[:60]}"


def write_overlay(paths: list[Path], out: Path, force: bool = False,
                  png_name: str = "overlay.png", summary: bool = True,
                  x: str = "generation") -> list[Path]:
    """overlay.png (and overlay.md, a short table) of several runs in ``out``, against
    ``x`` (X_AXES)."""
    target = Path(out)
    files = [png_name, "overlay.md"] if summary else [png_name]
    earlier = [target / name for name in files if (target / name).exists()]
    if earlier and not force:
        raise ConfigError(f"{earlier[0]} exists (an earlier report); pass --force to replace "
                          "it, or --out DIR for a new one")
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target}: is a file, not a folder")
    runs = [read_curves(Path(path)) for path in paths]
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FileError(f"cannot make the report folder {os_error_text(err, target)}"
                        ) from None
    groups = group_runs([Path(p) for p in paths])
    seeds_of_one = len(paths) > 1 and len(groups) == 1
    png = target / png_name
    plot_overlay(runs, png, overlay_title(runs, seeds_of_one, groups), seeds_of_one, groups,
                 x)
    written = [png]
    if summary:
        written.append(target / "overlay.md")
        atomic_write_text(written[-1], overlay_markdown(runs, seeds_of_one, groups))
    return written


def overlay_markdown(runs: list[RunCurves], seeds_of_one: bool,
                     groups: list[list[int]] | None = None) -> str:
    lines = [f"# {plural(len(runs), 'run')} side by side", "",
             "seeds of one config (same config.toml apart from run.seed and run.name): "
             + ("yes; the figure shows their median and min-max range" if seeds_of_one
                else "no"), ""]
    header = ["run", "generations", "unrolls", "wall time (s)", "best so far", "last median",
              "last sigma", "last validation"]
    rows = [[run.name, str(run.generations[-1]),
             "—" if run.unrolls is None else f"{run.unrolls[-1]:.0f}",
             "—" if run.elapsed is None else f"{run.elapsed[-1]:.0f}",
             f"{run.best_so_far[-1]:.4f}", f"{run.median[-1]:.4f}",
             f"{run.sigma[-1]:.4g}" if math.isfinite(run.sigma[-1]) else "—",
             f"{run.validation[-1]:.4f}" if run.validation.size else "—"] for run in runs]
    lines += [markdown_table(header, rows), ""]
    if groups is not None and len(groups) < len(runs) and not seeds_of_one:
        lines += ["Groups (seeds of one config): last validation accuracy of the mean "
                  "genome, median and range over seeds:", ""]
        for members in groups:
            group = [runs[i] for i in members]
            last = [r.validation[-1] for r in group if r.validation.size]
            text = (f"{np.median(last):.4f} [{min(last):.4f}, {max(last):.4f}]" if last
                    else "—")
            lines.append(f"- `{group_label(group)}` ({plural(len(group), 'seed')}): {text}")
        lines.append("")
    return "\n".join([*lines, "Picture: `overlay.png`.", ""])
