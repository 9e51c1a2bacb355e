"""What a run will cost, estimated before it starts: the checkpoint's size and a
generation's time, from the config and the networks of its tasks.

The config declares hard upper bounds (config/settings.py); within them a run can still be
far bigger than intended, so ``evolve`` warns above :data:`WARN_CHECKPOINT_BYTES` or
:data:`WARN_GENERATION_SECONDS`, and ``evolve --check`` prints these numbers. The time is
a rough figure (a fixed rate of multiply-adds per worker), meant to tell minutes from days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from blgnn_es.config.settings import Config
from blgnn_es.model.genome import GenomeLayout
from blgnn_es.model.network import NetworkSpec

WARN_CHECKPOINT_BYTES = 1 << 30
WARN_GENERATION_SECONDS = 600.0
# One worker, the numba kernel, in the units estimate() counts; order of magnitude,
# calibrated on R2 (configs/paper-mnist-cmaes.toml: 0.13 s per evaluation on a slow 2-core
# AMD machine, estimated 0.23 s). It was 2e8 before, which put a 10 s R2 generation at 76 min.
MULTIPLY_ADDS_PER_SECOND = 5e10
# A sample of gradient meta-training (JAX: the unroll and its backward pass) costs about
# this many numba unrolls (R2: 1.9 s against 0.32 s, bench/bench_jax.py --only grad).
GRADIENT_SAMPLE_COST = 6.0


@dataclass(frozen=True)
class Estimates:
    """Sizes of a run before it starts."""

    evolved: int  # genome entries CMA-ES changes (its dimension n)
    popsize: int
    samples: int  # per generation: popsize x train tasks x replicas x architectures
    checkpoint_bytes: int
    generation_seconds: float
    workers: int

    def warnings(self) -> list[str]:
        """What is worth saying before the run starts."""
        found = []
        if self.checkpoint_bytes > WARN_CHECKPOINT_BYTES:
            found.append(f"each checkpoint will take about {human_bytes(self.checkpoint_bytes)} "
                         f"(popsize {self.popsize}, {self.evolved} evolved entries)")
        if self.generation_seconds > WARN_GENERATION_SECONDS:
            found.append(f"a generation will take about {human_seconds(self.generation_seconds)}"
                         f" on {self.workers} worker(s) ({self.samples} fitness samples)")
        return found

    def lines(self) -> list[str]:
        return [f"evolved entries: {self.evolved}, popsize {self.popsize}, "
                f"{self.samples} fitness samples per generation",
                f"checkpoint: about {human_bytes(self.checkpoint_bytes)}",
                f"generation: about {human_seconds(self.generation_seconds)} on "
                f"{self.workers} worker(s) (rough)"]


def default_popsize(dimension: int) -> int:
    """pycma's default population size, 4 + floor(3 ln n)."""
    return 4 + int(3 * math.log(dimension))


def estimate(config: Config, nets: Sequence[NetworkSpec]) -> Estimates:
    """The estimates for ``config`` whose train tasks use ``nets`` (check_tasks' networks;
    the first len(train) are the train tasks')."""
    evolved = int(GenomeLayout(config.network.states).mask(config.genome.evolve).sum())
    train = len(config.tasks.train)
    architectures = len(config.network.architectures)
    per_generation = config.network.sample or architectures
    cost = 1.0
    if config.meta.method == "gradient":  # one genome per step, on a meta-batch
        popsize = 1
        samples = train * config.gradient.meta_batch * per_generation
        cost = GRADIENT_SAMPLE_COST
        checkpoint = 8 * 8 * evolved + 64 * 1024  # Adam's moments and a few genomes
    else:
        popsize = config.cmaes.popsize or default_popsize(evolved)
        samples = popsize * train * config.unroll.replicas * per_generation
        # pycma keeps a few n x n matrices and the population; the run state a few genomes
        checkpoint = 8 * (3 * evolved * evolved + 4 * popsize * evolved) + 64 * 1024
    k2 = config.network.states ** 2
    per_example = 0
    train_nets = max(train, 1) * architectures  # check_tasks: each train task's architectures
    for net in list(nets)[:train_nets]:
        sizes = net.layer_sizes
        per_example += sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    per_example = per_example * k2 * 6 / train_nets  # forward, backward, updates
    batches = config.unroll.steps + (config.unroll.eval_batches or 20)
    work = samples * batches * config.unroll.batch * per_example * cost
    # a gradient step runs in this process (JAX); the workers only validate
    workers = 1 if config.meta.method == "gradient" else config.parallel.n_workers
    seconds = work / MULTIPLY_ADDS_PER_SECOND / max(workers, 1)
    return Estimates(evolved, popsize, samples, int(checkpoint), float(seconds), workers)


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def human_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
