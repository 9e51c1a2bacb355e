"""An optional TensorBoard copy of a run's per-generation numbers (``report.tensorboard``).

The run directory stays the record: the event files are written from the same MetricsLine
the driver appends to metrics.jsonl, to ``<report.tensorboard>/<run name>/``, so the runs of
a sweep sit side by side in one TensorBoard. Steps are metrics.jsonl's 0-based generation;
a resumed run purges the steps after its checkpoint. tensorboardX is an extra
(``pip install 'blgnn-es[tensorboard]'``); asking for it without it is a ConfigError.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from blgnn_es.config.settings import Config
from blgnn_es.errors import ConfigError
from blgnn_es.es.records import MetricsLine, RunState

INSTALL = "pip install 'blgnn-es[tensorboard]'  (or: pip install tensorboardX)"


def require_tensorboardx() -> None:
    """ConfigError (exit 2) with the install line when tensorboardX is not installed."""
    if importlib.util.find_spec("tensorboardX") is None:
        raise ConfigError(f"report.tensorboard (--tensorboard) needs tensorboardX: {INSTALL}")


def tensorboard_dir(config: Config) -> Path | None:
    """Where this run's event files go, or None when TensorBoard is off."""
    if config.report.tensorboard is None:
        return None
    return Path(config.report.tensorboard) / (config.run.name or "run")


def genome_image(genome: np.ndarray, rows: int = 8) -> np.ndarray:
    """A genome as a (rows, length) image in [0, 1]: 0.5 is zero, the ends ±max|entry|."""
    values = np.asarray(genome, float)
    scale = float(np.max(np.abs(values))) or 1.0
    return np.tile(0.5 + 0.5 * values / scale, (rows, 1)).clip(0.0, 1.0)


class TensorBoardWriter:
    """Per-generation scalars (gen best, median, sigma, best so far, validation accuracy per
    task) and the distribution mean as an image."""

    def __init__(self, logdir: Path, purge_step: int | None = None) -> None:
        require_tensorboardx()
        from tensorboardX import SummaryWriter  # an optional extra: imported only when asked

        self.logdir = Path(logdir)
        self.writer = SummaryWriter(str(self.logdir), purge_step=purge_step or None)

    def generation(self, record: MetricsLine, state: RunState) -> None:
        step = record.generation
        scalars = {"fitness/gen_best": record.best, "fitness/median": record.median,
                   "fitness/worst": record.worst, "fitness/best_so_far": record.best_so_far,
                   "cmaes/sigma": record.sigma, "cmaes/popsize": record.popsize,
                   "cmaes/evaluations": record.evaluations, "diverged": record.diverged}
        scalars.update({"accuracy/median": record.accuracy_median,
                        "gradient/loss": record.loss, "gradient/grad_norm": record.grad_norm,
                        "gradient/skipped": record.skipped, "gradient/unrolls": record.unrolls})
        scalars = {tag: value for tag, value in scalars.items() if value is not None}
        validation = record.validation
        if validation is not None:
            if validation.accuracy is not None:
                scalars["validation/accuracy"] = validation.accuracy
            for task, accuracy in validation.tasks.items():
                if accuracy is not None:
                    scalars[f"validation/{task}"] = accuracy
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, float(value), step)
        if state.mean_genome is not None:
            self.writer.add_image("genome/mean", genome_image(state.mean_genome), step,
                                  dataformats="HW")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_writer(config: Config, state_generation: int = 0) -> TensorBoardWriter | None:
    """The writer a run with this config asks for (None when off)."""
    logdir = tensorboard_dir(config)
    if logdir is None:
        return None
    return TensorBoardWriter(logdir, purge_step=state_generation)
