"""The one evaluation path: task draws from seeds, then genomes unrolled on them.

Every consumer (the CMA-ES fitness, validation, ``blgnn-es evaluate``, the baselines and
studies) gets its task, synapse and batch draws here, so common random numbers hold by
construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from blgnn_es.config.settings import NetworkSettings, UnrollSettings
from blgnn_es.learner import run_unroll
from blgnn_es.model.network import NetworkSpec


@dataclass(frozen=True)
class DrawPlan:
    """Which draws a set of fitness samples uses (small and picklable: sent to workers).

    ``purpose`` prefixes the seed purposes, so that validation ("validate-") and training
    draws of one run are independent streams.
    """

    tasks: tuple[Any, ...]  # TaskSpec
    network: NetworkSettings
    unroll: UnrollSettings
    replicas: int
    run_seed: int
    data_dir: str | None = None
    purpose: str = ""


@dataclass(frozen=True)
class Sample:
    """One fitness sample's inputs: a task, its network, its batches and synapse seed."""

    task_index: int
    replica: int
    task_name: str
    net: NetworkSpec
    data: Any  # tasks.UnrollData
    synapse_seed: int


_DRAW_MEMO: dict[tuple, list[Sample]] = {}
_MEMO_SIZE = 4


def draw_samples(plan: DrawPlan, generation: int) -> list[Sample]:
    """The draws of one generation (memoized per process)."""
    key = (plan, generation)
    if key not in _DRAW_MEMO:
        if len(_DRAW_MEMO) >= _MEMO_SIZE:
            _DRAW_MEMO.pop(next(iter(_DRAW_MEMO)))
        _DRAW_MEMO[key] = _draw(plan, generation)
    return _DRAW_MEMO[key]


def _draw(plan: DrawPlan, generation: int) -> list[Sample]:
    from blgnn_es.tasks import derive_seed, draw_unroll, load_task

    samples = []
    for index, spec in enumerate(plan.tasks):
        for replica in range(plan.replicas):
            def seed(purpose: str, index=index, replica=replica) -> int:
                return derive_seed(plan.run_seed, generation, index, replica,
                                   plan.purpose + purpose)

            task = load_task(spec, seed("task"), data_dir=plan.data_dir)
            data = draw_unroll(task, seed("batches"), steps=plan.unroll.steps,
                               batch=plan.unroll.batch, eval_batches=plan.unroll.eval_batches)
            net = plan.network.spec(task.n_inputs, task.n_outputs)
            samples.append(Sample(index, replica, str(spec), net, data, seed("synapses")))
    return samples



@dataclass(frozen=True)
class EvaluationRequest:
    """What `blgnn-es evaluate` runs: a genome, its network settings, tasks and draws."""

    genome_path: str
    genome: np.ndarray
    network: dict[str, Any]  # NetworkSpec settings without layer_sizes
    hidden: tuple[int, ...]
    tasks: tuple[Any, ...]  # TaskSpec
    steps: int
    batch: int
    eval_batches: int | None
    seeds: int
    seed: int
    at_steps: tuple[int, ...]
    data_dir: str | None

    @classmethod
    def build(cls, genome_path, *, tasks=(), hidden=None, steps=None, batch=None,
              eval_batches=None, seeds=5, seed=0, at_steps=None,
              data_dir=None) -> EvaluationRequest:
        """Fill what the command line leaves open from the genome's sidecar, then defaults
        (15 steps, batch 128, 20 evaluation batches: the paper's protocol)."""
        from blgnn_es.errors import ConfigError
        from blgnn_es.model.genome import load_genome, states_from_length
        from blgnn_es.tasks import parse_task_spec

        values, meta = load_genome(genome_path)
        network = dict(meta.get("network") or {})
        sizes = network.pop("layer_sizes", None)
        network.setdefault("states", states_from_length(values.size))
        provenance = meta.get("provenance") or {}
        if hidden is None:
            hidden = provenance.get("hidden") or (sizes[1:-1] if sizes and len(sizes) > 2
                                                  else None)
        if hidden is None:
            raise ConfigError(f"{genome_path}: the sidecar does not say the hidden layer sizes; "
                              "give --layers (for example --layers 20 or --layers 256,128)")
        if not tasks:
            tasks = tuple(provenance.get("tasks") or ())
        if not tasks:
            raise ConfigError(f"{genome_path}: the sidecar names no tasks; give --task SPEC")
        unroll = provenance.get("unroll") or {}
        steps = steps or unroll.get("steps") or 15
        batch = batch or unroll.get("batch") or 128
        if eval_batches is None:
            eval_batches = unroll.get("eval_batches", 20) if unroll else 20
        if eval_batches == "all":
            eval_batches = None
        if at_steps is None:
            at_steps = tuple(sorted({max(1, round(steps * f)) for f in (0.25, 0.5, 0.75)}
                                    - {steps}))
        bad = [t for t in at_steps if not 1 <= t <= steps]
        if bad:
            raise ConfigError(f"--at {bad[0]}: steps must lie in 1..{steps}")
        return cls(str(genome_path), values, network, tuple(int(h) for h in hidden),
                   tuple(parse_task_spec(t) for t in tasks), int(steps), int(batch),
                   eval_batches, int(seeds), int(seed), tuple(at_steps),
                   None if data_dir is None else str(data_dir))


@dataclass
class TaskEvaluation:
    task: str
    layer_sizes: tuple[int, ...]
    accuracies: np.ndarray  # (seeds,) final accuracy; a diverged network counts as 0
    curves: np.ndarray  # (seeds, steps) accuracy after each step
    diverged: int


def run_evaluation(request: EvaluationRequest) -> list[TaskEvaluation]:
    """Train ``seeds`` fresh networks per task with the genome, recording learning curves.

    Draw seeds are ``derive_seed(seed, 0, task index, replica, "evaluate-" + purpose)``.
    """
    from blgnn_es.tasks import derive_seed, draw_unroll, load_task

    results = []
    for index, spec in enumerate(request.tasks):
        accuracies, curves, diverged, sizes = [], [], 0, ()
        for replica in range(request.seeds):
            def seed(purpose: str, replica=replica, index=index) -> int:
                return derive_seed(request.seed, 0, index, replica, "evaluate-" + purpose)

            task = load_task(spec, seed("task"), data_dir=request.data_dir)
            sizes = (task.n_inputs, *request.hidden, task.n_outputs)
            net = NetworkSpec.from_dict({**request.network, "layer_sizes": sizes})
            data = draw_unroll(task, seed("batches"), steps=request.steps, batch=request.batch,
                               eval_batches=request.eval_batches)
            result = run_unroll(request.genome, net, data.x_train, data.y_train, data.x_eval,
                                data.y_eval, seed=seed("synapses"), record_curve=True)
            diverged += bool(result.diverged)
            accuracies.append(0.0 if result.diverged or not math.isfinite(result.accuracy)
                              else result.accuracy)
            curves.append(np.nan_to_num(result.curve, nan=0.0))
        results.append(TaskEvaluation(str(spec), sizes, np.array(accuracies), np.array(curves),
                                      diverged))
    return results
