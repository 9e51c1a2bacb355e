"""The run directory ``<out_dir>/<name>/``: what a run leaves behind, written so that a
``kill -9`` at any moment leaves a directory that ``--resume`` can continue.

Files: ``config.toml`` (resolved), ``metrics.jsonl`` (one JSON line per generation),
``best_genome.npy`` / ``mean_genome.npy`` (+ JSON sidecars), ``checkpoint`` (pickled
optimizer and run state, replaced atomically every generation), ``result.json`` (why and
when the run stopped), ``log.txt``. Every file but the two append-only logs is replaced
atomically; metrics.jsonl is cut back to the checkpoint's generation on resume.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

from blgnn_es.errors import ConfigError
from blgnn_es.fileio import atomic_write, atomic_write_text

CHECKPOINT_FORMAT = 1
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

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one generation's line, flushed to disk before the checkpoint is written."""
        with open(self.metrics, "a") as fh:
            fh.write(json.dumps(record, sort_keys=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete lines of metrics.jsonl (a torn last line is skipped)."""
        if not self.metrics.exists():
            return []
        records = []
        for line in self.metrics.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return records

    def truncate_metrics(self, generations: int) -> None:
        """Keep only the lines of generations already in the checkpoint (resume after kill)."""
        kept = [r for r in self.read_metrics() if r["generation"] < generations]
        atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in kept))

    # ---- checkpoint -----------------------------------------------------------------
    def write_checkpoint(self, payload: dict[str, Any]) -> None:
        """Replace the checkpoint atomically: a reader sees the old or the new one, whole."""
        payload = {"format": CHECKPOINT_FORMAT, **payload}
        atomic_write(self.checkpoint,
                     lambda fh: pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL),
                     binary=True)

    def read_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint, or None when the run stopped before its first generation."""
        if not self.checkpoint.exists():
            return None
        with open(self.checkpoint, "rb") as fh:
            payload = pickle.load(fh)
        if payload.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{self.checkpoint}: checkpoint format {payload.get('format')} "
                              f"is not {CHECKPOINT_FORMAT}; this version cannot resume it")
        return payload

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_text(self.result, json.dumps(result, indent=2) + "\n")

    def read_result(self) -> dict[str, Any] | None:
        if not self.result.exists():
            return None
        return json.loads(self.result.read_text())


def strip_timings(record: dict[str, Any]) -> dict[str, Any]:
    """A metrics line without its wall-clock fields (for comparing runs)."""
    return {key: value for key, value in record.items() if key not in TIMING_FIELDS}
