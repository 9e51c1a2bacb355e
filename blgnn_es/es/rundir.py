"""The run directory ``<out_dir>/<name>/``: what a run leaves behind, written so that a
``kill -9`` at any moment leaves a directory that ``--resume`` can continue.

Files: ``config.toml`` (resolved), ``metrics.jsonl`` (one JSON line per generation),
``best_genome.npy`` / ``mean_genome.npy`` (+ JSON sidecars), ``checkpoint`` (pickled
optimizer and run state, replaced atomically every generation), ``result.json`` (why and
when the run stopped), ``log.txt``. Every file but the two append-only logs is replaced
atomically; metrics.jsonl is cut back to the checkpoint's generation on resume.

Everything is written and read through the records of es/records.py. The checkpoint keeps
the run state as a plain dict (format 2); a format 1 checkpoint of the previous release,
which pickled the ``RunState`` class itself (``blgnn_es.evolve.RunState``), is read with an
unpickler that maps that class to a stand-in, so old runs still resume.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blgnn_es.errors import ConfigError
from blgnn_es.es.records import MetricsLine, RunResult, RunState
from blgnn_es.fileio import atomic_write, atomic_write_text

CHECKPOINT_FORMAT = 2  # 2: the run state as RunState.to_dict(); 1: a pickled RunState
CHECKPOINT_READS = (1, 2)
# where the previous releases' pickles look for RunState
_LEGACY_STATE_CLASSES = {("blgnn_es.evolve", "RunState"), ("blgnn_es.es.driver", "RunState")}
TIMING_FIELDS = ("seconds", "elapsed")  # the only metrics that differ between identical runs
_RUN_FILES = ("config.toml", "metrics.jsonl", "checkpoint", "log.txt")


class RunDir:
    """Paths and safe writes of one run directory."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.toml")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    checkpoint = property(lambda self: self.path / "checkpoint")
    log_file = property(lambda self: self.path / "log.txt")
    best_genome = property(lambda self: self.path / "best_genome.npy")
    mean_genome = property(lambda self: self.path / "mean_genome.npy")
    result = property(lambda self: self.path / "result.json")

    # ---- creating and opening -------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, config_text: str, force: bool = False) -> RunDir:
        """Make a fresh run directory; an existing one is refused unless ``force``."""
        run = cls(path)
        if run.path.exists() and any(run.path.iterdir()):
            if not force:
                raise ConfigError(
                    f"run directory {run.path} exists; continue it with --resume {run.path}, "
                    "or replace it with --force (or pick another --name)")
            if not any((run.path / name).exists() for name in _RUN_FILES):
                raise ConfigError(f"{run.path} is not a run directory (no config.toml, "
                                  "metrics.jsonl or checkpoint); refusing to delete it")
            shutil.rmtree(run.path)
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.config, config_text)
        run.metrics.touch()
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing run directory (for --resume and report)."""
        run = cls(path)
        if not run.config.is_file():
            raise ConfigError(f"{run.path} is not a run directory (no config.toml)")
        return run

    # ---- logs -----------------------------------------------------------------------
    def log(self, message: str) -> None:
        """Append a time-stamped line to log.txt."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.log_file, "a") as fh:
            fh.write(f"{stamp}  {message}\n")

    def append_metrics(self, record: MetricsLine) -> None:
        """Append one generation's line, flushed to disk before the checkpoint is written."""
        with open(self.metrics, "a") as fh:
            fh.write(metrics_text(record))
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[MetricsLine]:
        """All complete lines of metrics.jsonl (a torn last line is skipped)."""
        if not self.metrics.exists():
            return []
        records = []
        for number, line in enumerate(self.metrics.read_text().splitlines(), 1):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                break
            records.append(MetricsLine.from_dict(data, f"{self.metrics}, line {number}"))
        return records

    def truncate_metrics(self, generations: int) -> None:
        """Keep only the lines of generations already in the checkpoint (resume after kill)."""
        kept = [r for r in self.read_metrics() if r.generation < generations]
        atomic_write_text(self.metrics, "".join(metrics_text(r) for r in kept))

    # ---- checkpoint -----------------------------------------------------------------
    def write_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically: a reader sees the old or the new one, whole."""
        payload = {"format": CHECKPOINT_FORMAT, "es": checkpoint.es,
                   "numpy_random": checkpoint.numpy_random, "state": checkpoint.state.to_dict(),
                   "base_popsize": checkpoint.base_popsize}
        atomic_write(self.checkpoint,
                     lambda fh: pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL),
                     binary=True)

    def read_checkpoint(self) -> Checkpoint | None:
        """The last checkpoint, or None when the run stopped before its first generation."""
        if not self.checkpoint.exists():
            return None
        with open(self.checkpoint, "rb") as fh:
            payload = _CheckpointUnpickler(fh).load()
        version = payload.get("format") if isinstance(payload, dict) else None
        if version not in CHECKPOINT_READS:
            raise ConfigError(f"{self.checkpoint}: checkpoint format {version!r} is not one "
                              f"this release reads ({', '.join(map(str, CHECKPOINT_READS))}); "
                              "resume it with the release that wrote it")
        state = payload["state"]
        if isinstance(state, _LegacyRunState):
            state = dict(vars(state))
        return Checkpoint(es=payload["es"], numpy_random=payload["numpy_random"],
                          state=RunState.from_dict(state, f"{self.checkpoint} (run state)"),
                          base_popsize=int(payload["base_popsize"]))

    def write_result(self, result: RunResult) -> None:
        atomic_write_text(self.result, json.dumps(result.to_dict(), indent=2) + "\n")

    def read_result(self) -> RunResult | None:
        if not self.result.exists():
            return None
        return RunResult.from_dict(json.loads(self.result.read_text()), str(self.result))


@dataclass(frozen=True)
class Checkpoint:
    """What a resume needs: pycma's strategy, numpy's global RNG state (pycma samples from
    it), the run state and the first restart's population size."""

    es: Any
    numpy_random: Any
    state: RunState
    base_popsize: int


class _LegacyRunState:
    """Stand-in for the RunState class a format 1 checkpoint pickled: takes its fields."""


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _LEGACY_STATE_CLASSES:
            return _LegacyRunState
        return super().find_class(module, name)


def metrics_text(record: MetricsLine) -> str:
    """One metrics.jsonl line (the format of the previous release: ``json.dumps``)."""
    return json.dumps(record.to_dict()) + "\n"


def strip_timings(record: MetricsLine | dict[str, Any]) -> dict[str, Any]:
    """A metrics line without its wall-clock fields (for comparing runs)."""
    if isinstance(record, MetricsLine):
        record = record.to_dict()
    return {key: value for key, value in record.items() if key not in TIMING_FIELDS}
