"""Genome history: every generation's distribution mean, sigma and best sample, in one file.

``history.npz`` in the run directory holds one row per generation (``generation`` 0-based,
as in metrics.jsonl), rewritten atomically by the driver after the genomes and the metrics
line and before the checkpoint, so that any generation's genome can be evaluated later
(``evaluate RUN --generation N``). A resume drops the rows after the checkpoint's
generation, like metrics.jsonl. Generations a person reads or types are 1-based:
``genome_at(run, N)`` is the genome after N generations, the one a run stopped at N writes
as mean_genome.npy (metrics.jsonl line ``"generation": N-1``).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from blgnn_es.config.settings import Config, load_config
from blgnn_es.errors import ConfigError, RunDirError
from blgnn_es.fileio import atomic_write
from blgnn_es.model.sidecar import Provenance, UnrollProvenance

HISTORY_FILE = "history.npz"
HISTORY_FORMAT = 1
_FIELDS = ("generation", "mean", "best", "best_fitness", "sigma")
KINDS = ("mean", "best")


@dataclass
class History:
    """The rows of history.npz: ``mean`` and ``best`` are (generations, genome length)."""

    generation: np.ndarray  # int64, 0-based as metrics.jsonl
    mean: np.ndarray  # pycma's distribution mean after the generation, as a full genome
    best: np.ndarray  # the generation's best sample
    best_fitness: np.ndarray  # the fitness of that sample
    sigma: np.ndarray  # pycma's step size after the generation

    @classmethod
    def empty(cls, length: int) -> History:
        return cls(np.zeros(0, np.int64), np.zeros((0, length)), np.zeros((0, length)),
                   np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return int(self.generation.size)

    def append(self, generation: int, mean: np.ndarray, best: np.ndarray, best_fitness: float,
               sigma: float) -> None:
        self.generation = np.append(self.generation, np.int64(generation))
        self.mean = np.vstack([self.mean, np.asarray(mean, float)[None]])
        self.best = np.vstack([self.best, np.asarray(best, float)[None]])
        self.best_fitness = np.append(self.best_fitness, float(best_fitness))
        self.sigma = np.append(self.sigma, float(sigma))

    def truncated(self, generations: int) -> History:
        """Only the rows of generations already in a checkpoint at ``generations``."""
        keep = self.generation < generations
        return History(*(getattr(self, name)[keep] for name in _FIELDS))


def history_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / HISTORY_FILE


def write_history(run_dir: str | os.PathLike, history: History) -> None:
    """Replace history.npz atomically (a reader sees the old rows or the new, whole)."""
    arrays = {name: getattr(history, name) for name in _FIELDS}
    atomic_write(history_path(run_dir),
                 lambda fh: np.savez(fh, format=np.int64(HISTORY_FORMAT), **arrays),
                 binary=True)


def read_history(run_dir: str | os.PathLike) -> History:
    """history.npz of a run directory; RunDirError when it is missing or damaged."""
    path = history_path(run_dir)
    if not path.is_file():
        raise RunDirError(f"{path}: missing (a run of an earlier release, or one that has not "
                          "finished a generation yet, keeps no genome history)")
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format"])
            if version > HISTORY_FORMAT:
                raise RunDirError(f"{path}: format {version}; this release reads up to "
                                  f"{HISTORY_FORMAT}: upgrade blgnn-es")
            history = History(*(np.asarray(data[name]) for name in _FIELDS))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise RunDirError(f"{path}: damaged ({type(err).__name__}: {err})") from None
    rows = len(history)
    if history.mean.shape[0] != rows or history.best.shape != history.mean.shape:
        raise RunDirError(f"{path}: damaged (arrays of different lengths)")
    return history


def load_for_resume(run_dir: str | os.PathLike, generations: int, length: int) -> History:
    """The history a resumed run continues: the rows before its checkpoint's generation
    (none when the run began before history was kept, or the file is damaged: the rows
    from now on are still kept, and genome_at names the ones that are not)."""
    try:
        history = read_history(run_dir)
    except RunDirError:
        return History.empty(length)
    if history.mean.shape[1:] != (length,):
        return History.empty(length)
    return history.truncated(generations)


def genome_provenance(config: Config, generation: int, inputs: dict[str, str] | None = None
                      ) -> dict[str, Any]:
    """The provenance fields every genome of a run shares (its sidecar's)."""
    return {"run": config.run.name, "generation": generation, "inputs": inputs or None,
            "tasks": [str(t) for t in config.tasks.train],
            "unroll": UnrollProvenance(steps=config.unroll.steps, batch=config.unroll.batch,
                                       eval_batches=config.unroll.eval_batches or "all"),
            "hidden": list(config.network.architectures[0]),
            "architectures": [list(arch) for arch in config.network.architectures]
            if len(config.network.architectures) > 1 else None,
            "two_class": config.network.two_class,
            "train_classes": [spec.n_classes for spec in config.tasks.train]}


@dataclass(frozen=True)
class GenomeAt:
    """One recorded genome with what evaluating it needs: the network it was evolved in
    (NetworkSpec.to_dict) and its provenance (tasks, unroll, hidden, 0-based generation)."""

    values: np.ndarray
    network: dict[str, Any]
    provenance: Provenance
    generation: int  # 1-based, as asked
    kind: str
    sigma: float

    @property
    def tasks(self) -> list[str]:
        return list(self.provenance.tasks or [])

    @property
    def unroll(self) -> UnrollProvenance | None:
        return self.provenance.unroll

    @property
    def hidden(self) -> list[int]:
        return list(self.provenance.hidden or [])


def genome_at(run_dir: str | os.PathLike, generation: int,
              kind: Literal["mean", "best"] = "mean") -> GenomeAt:
    """The distribution mean (or the generation's best sample) recorded after ``generation``
    generations (1-based: 1 is the first generation; N the last of a run stopped at N)."""
    if kind not in KINDS:
        raise ConfigError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    history = read_history(run_dir)
    index = generation - 1
    rows = np.flatnonzero(history.generation == index)
    if generation < 1 or rows.size == 0:
        have = (f"generations {int(history.generation.min()) + 1}-"
                f"{int(history.generation.max()) + 1}" if len(history) else "no generations")
        raise ConfigError(f"{history_path(run_dir)}: no generation {generation} (generations "
                          f"count from 1; this run's history holds {have})")
    row = int(rows[-1])
    config = load_config(Path(run_dir) / "config.toml")
    values = (history.mean if kind == "mean" else history.best)[row].copy()
    common = genome_provenance(config, index)
    if kind == "mean":
        provenance = Provenance(**common, kind="distribution mean")
    else:
        provenance = Provenance(**common, kind="best of generation",
                                fitness=float(history.best_fitness[row]),
                                found_at_generation=index)
    return GenomeAt(values=values, network=config.network.spec(1, 1).to_dict(),
                    provenance=provenance, generation=generation, kind=kind,
                    sigma=float(history.sigma[row]))
