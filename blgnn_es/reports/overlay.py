"""Several runs in one figure set: fitness, sigma and validation, run by run.

When the runs are seeds of one config (the same config.toml apart from run.seed and
run.name), the figures add the median and the min-max range across them, generation by
generation, so a seed sweep reads as one result with its spread.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blgnn_es.errors import BlgnnError, ConfigError, FileError, os_error_text
from blgnn_es.es.records import MetricsLine
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import atomic_write_text, read_text
from blgnn_es.reports.figures import integer_ticks, plural, pyplot, save_figure
from blgnn_es.tables import markdown_table

OVERLAY_FILES = ("overlay.png", "overlay.md")
SEED_KEYS = ("seed", "name")  # [run] keys that may differ between seeds of one config


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


def read_curves(path: Path) -> RunCurves:
    """A run directory's metrics as arrays (ConfigError when it has none yet)."""
    run = RunDir.open(path)
    metrics = run.read_metrics()
    if not metrics:
        raise ConfigError(f"{run.path}: metrics.jsonl is empty (no generation finished yet)")
    return curves_of(run.path.name, metrics)


def curves_of(name: str, metrics: list[MetricsLine]) -> RunCurves:
    validated = [r for r in metrics if r.validation is not None]
    return RunCurves(
        name,
        np.array([r.generation + 1 for r in metrics]),
        np.array([r.best_so_far for r in metrics], dtype=float),
        np.array([r.median for r in metrics], dtype=float),
        np.array([r.sigma for r in metrics], dtype=float),
        np.array([r.generation + 1 for r in validated]),
        np.array([math.nan if r.validation.accuracy is None else r.validation.accuracy
                  for r in validated], dtype=float))


def config_without_seed(path: Path) -> dict[str, Any] | None:
    """config.toml minus [run] seed and name (None when it cannot be read)."""
    try:
        config = tomllib.loads(read_text(Path(path) / "config.toml", "config file"))
    except (BlgnnError, OSError, tomllib.TOMLDecodeError):
        return None
    run = dict(config.get("run") or {})
    for key in SEED_KEYS:
        run.pop(key, None)
    config["run"] = run
    return config


def same_config(paths: list[Path]) -> bool:
    """Whether the runs are seeds of one config (two or more, configs equal but the seed)."""
    configs = [config_without_seed(path) for path in paths]
    return len(configs) > 1 and configs[0] is not None and all(c == configs[0]
                                                               for c in configs)


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


def plot_overlay(runs: list[RunCurves], path: Path, title: str, seeds_of_one: bool
                 ) -> dict[str, list[str]]:
    """Best so far, median fitness, sigma and validation accuracy of every run, one line per
    run per panel; with ``seeds_of_one`` also the median and min-max band across runs.
    Returns each panel's line labels (what the figure shows, for tests and the summary)."""
    plt = pyplot()
    validated = [r for r in runs if r.validation.size]
    panels = 4 if validated else 3
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 2.6 * panels), sharex=True)
    colours = plt.get_cmap("tab10")
    fields = [("best_so_far", "best so far fitness", "generations", False),
              ("median", "median fitness of the generation", "generations", False),
              ("sigma", "sigma (step size)", "generations", True)]
    if validated:
        fields.append(("validation", "validation accuracy (mean genome)",
                       "validation_generations", False))
    shown: dict[str, list[str]] = {}
    for ax, (field, label, gens, log) in zip(axes, fields, strict=True):
        members = validated if field == "validation" else runs
        for k, run in enumerate(members):
            ax.plot(getattr(run, gens), getattr(run, field), lw=0.9, alpha=0.8,
                    color=colours(k % 10), label=run.name)
        if seeds_of_one and len(members) > 1:
            x, mid, low, high = across(members, field, gens)
            ax.fill_between(x, low, high, color="grey", alpha=0.25, lw=0,
                            label=f"range over {plural(len(members), 'seed')}")
            ax.plot(x, mid, color="black", lw=2, label="median over seeds")
        values = np.concatenate([getattr(r, field) for r in members])
        values = values[np.isfinite(values) & (values > 0)]
        if log and values.size and values.max() > 10 * values.min():
            ax.set_yscale("log")
        if field == "validation":
            ax.set_ylim(0, 1)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        shown[field] = [line.get_label() for line in ax.get_lines()]
    axes[0].legend(fontsize=7, ncol=2)
    axes[-1].set_xlabel("generation")
    integer_ticks(axes[-1])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return shown


def overlay_title(runs: list[RunCurves], seeds_of_one: bool) -> str:
    names = ", ".join(r.name for r in runs)
    if len(names) > 80:
        names = names[:77] + "..."
    what = (f"{plural(len(runs), 'seed')} of one config" if seeds_of_one
            else plural(len(runs), "run"))
    return f"{names}: fitness (lower is better), sigma, validation; {what}"


def default_out(paths: list[Path]) -> Path:
    """``<parent>/report-<names>``: the runs' common name prefix, or their names joined."""
    names = [Path(p).resolve().name for p in paths]
    prefix = os.path.commonprefix(names).rstrip("-_.")
    stem = prefix if len(prefix) >= 3 else "+".join(names)
    return Path(paths[0]).parent / f"report-{stem[:60]}"


def write_overlay(paths: list[Path], out: Path, force: bool = False,
                  png_name: str = "overlay.png", summary: bool = True) -> list[Path]:
    """overlay.png (and overlay.md, a short table) of several runs in ``out``."""
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
    seeds_of_one = same_config([Path(p) for p in paths])
    png = target / png_name
    plot_overlay(runs, png, overlay_title(runs, seeds_of_one), seeds_of_one)
    written = [png]
    if summary:
        written.append(target / "overlay.md")
        atomic_write_text(written[-1], overlay_markdown(runs, seeds_of_one))
    return written


def overlay_markdown(runs: list[RunCurves], seeds_of_one: bool) -> str:
    lines = [f"# {plural(len(runs), 'run')} side by side", "",
             "seeds of one config (same config.toml apart from run.seed and run.name): "
             + ("yes; the figure shows their median and min-max range" if seeds_of_one
                else "no"), ""]
    header = ["run", "generations", "best so far", "last median", "last sigma",
              "last validation"]
    rows = [[run.name, str(run.generations[-1]), f"{run.best_so_far[-1]:.4f}",
             f"{run.median[-1]:.4f}", f"{run.sigma[-1]:.4g}",
             f"{run.validation[-1]:.4f}" if run.validation.size else "—"] for run in runs]
    return "\n".join([*lines, markdown_table(header, rows), "", "Picture: `overlay.png`.", ""])
