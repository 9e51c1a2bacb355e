"""The one evaluation path: a sample (task, synapses, batches) drawn from seeds, then unrolled.

Every consumer (the CMA-ES fitness and validation, ``blgnn-es evaluate``, the baselines and
studies) draws its samples through :func:`draw_sample` and unrolls them through
:func:`unroll_sample` or :func:`unroll_population`, so equal draws hold by construction:
sample (task i, replica r) uses the task, batch and synapse seeds
``derive_seed(base, generation, i, r, prefix + purpose)``. The CMA-ES fitness uses the run
seed, the generation and the prefix "" (training) or "validate-"; ``evaluate``, the baselines
and studies use generation 0 and the prefix "evaluate-".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from blgnn_es.config.baselines import EVALUATION
from blgnn_es.config.settings import NetworkSettings, UnrollSettings
from blgnn_es.errors import ConfigError
from blgnn_es.learner import PopulationResult, UnrollResult, run_population, run_unroll
from blgnn_es.model.genome import read_genome, states_from_length
from blgnn_es.model.network import NetworkSpec
from blgnn_es.model.sidecar import Provenance
from blgnn_es.tasks import (
    ArrayTask,
    Task,
    TaskSpec,
    UnrollData,
    derive_seed,
    draw_unroll,
    load_task,
    parse_task_spec,
    small_split_notes,
)
from blgnn_es.tasks.arrays import LabelledArrays, stratified_split
from blgnn_es.tasks.task import TWO_CLASS_CODINGS, output_size

EVALUATE_PREFIX = "evaluate-"


class NetworkBuilder(Protocol):
    """Anything that builds the network for a task's input and output sizes."""

    def spec(self, n_inputs: int, n_outputs: int) -> NetworkSpec: ...

    def outputs(self, n_classes: int) -> int: ...


@dataclass(frozen=True)
class SampleSeeds:
    """The seeds of one sample, one per purpose ("task", "batches", "synapses", ...)."""

    base: int
    generation: int
    task_index: int
    replica: int
    prefix: str = ""

    def __call__(self, purpose: str) -> int:
        return derive_seed(self.base, self.generation, self.task_index, self.replica,
                           self.prefix + purpose)


Validation = Callable[[np.random.Generator, int | None], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Sample:
    """One sample's inputs: a task's network, its batches and the seeds they came from.

    ``validation`` draws examples held out from the task's training data (only when the
    sample was drawn with a hold-out, for the baselines' learning-rate choice).
    """

    task_name: str
    net: NetworkSpec
    data: UnrollData
    seeds: SampleSeeds
    validation: Validation | None = None
    notes: tuple[str, ...] = ()  # warnings about the draws (splits too small for a batch)
    held_out: int = 0  # distinct examples ``validation`` draws from (0: fresh toy draws)

    @property
    def task_index(self) -> int:
        return self.seeds.task_index

    @property
    def replica(self) -> int:
        return self.seeds.replica

    @property
    def synapse_seed(self) -> int:
        return self.seeds("synapses")


def draw_sample(spec: TaskSpec, seeds: SampleSeeds, network: NetworkBuilder, *, steps: int,
                batch: int, eval_batches: int | None, data_dir: str | None = None,
                holdout: tuple[float, int] | None = None) -> Sample:
    """Load task ``seeds("task")``, build its network, draw its batches from
    ``seeds("batches")``. With ``holdout = (fraction, seed)`` a stored dataset first gives up
    that stratified fraction of its training split (see :func:`split_training`)."""
    task = load_task(spec, seeds("task"), data_dir=data_dir)
    validation, held_out = None, 0
    notes = small_split_notes(task, batch, eval_batches)
    if holdout is not None:
        whole = task
        task, validation = split_training(task, *holdout)
        held_out = _split_size(whole) - _split_size(task)
        if held_out and held_out < SMALL_VALIDATION:
            notes.append(f"{spec}: the baselines' learning rates are chosen on {held_out} "
                         f"held-out examples (fewer than {SMALL_VALIDATION}): the choice is "
                         f"noisy; raise --validation-fraction (now {holdout[0]:g})")
    data = draw_unroll(task, seeds("batches"), steps=steps, batch=batch,
                       eval_batches=eval_batches)
    net = network.spec(task.n_inputs, network.outputs(task.n_classes))
    return Sample(str(spec), net, data, seeds, validation, tuple(notes), held_out)


# Fewer held-out examples than this make the baselines' learning-rate choice a coin toss
# between neighbouring rates (issue 12 item 5).
SMALL_VALIDATION = 50


def _split_size(task: Task) -> int:
    """Training examples of a stored task (0 for a toy task, which has no fixed split)."""
    arrays = getattr(task, "arrays", None)
    return 0 if arrays is None else len(arrays.y_train)


def unroll_sample(genome: np.ndarray, sample: Sample, record_curve: bool = False
                  ) -> UnrollResult:
    """One genome trained on one sample from its initial synapses (SPEC §3, §6)."""
    data = sample.data
    return run_unroll(genome, sample.net, data.x_train, data.y_train, data.x_eval, data.y_eval,
                      seed=sample.synapse_seed, record_curve=record_curve)


def unroll_population(genomes: np.ndarray, sample: Sample) -> PopulationResult:
    """Every genome on one sample, in one kernel call (common random numbers)."""
    data = sample.data
    return run_population(genomes, sample.net, data.x_train, data.y_train, data.x_eval,
                          data.y_eval, seed=sample.synapse_seed)


@functools.lru_cache(maxsize=2)
def _split(arrays: LabelledArrays, fraction: float, seed: int) -> LabelledArrays:
    return stratified_split(arrays.x_train, arrays.y_train, fraction, seed)


def split_training(task: Task, fraction: float, seed: int) -> tuple[Task, Validation]:
    """(the task minus its validation examples, a validation sampler ``f(rng, n | None)``).

    Stored datasets hold out a stratified ``fraction`` of the training split (one split per
    dataset and seed); toy tasks have unlimited training samples and draw fresh ones.
    """
    if not isinstance(task, ArrayTask):
        test_size = len(task.test_split()[1])
        return task, lambda rng, n: task.sample_train(rng, test_size if n is None else n)
    arrays = task.arrays
    parts = _split(arrays, fraction, seed)
    rest = LabelledArrays(parts.x_train, parts.y_train, arrays.x_test, arrays.y_test,
                          arrays.n_classes)
    trained_on = ArrayTask(task.name, task.kind, rest, task.label_map, task.image_side,
                           task.transform)

    def validation(rng: np.random.Generator, n: int | None) -> tuple[np.ndarray, np.ndarray]:
        held_out = len(parts.y_test)
        index = np.arange(held_out) if n is None else rng.choice(held_out, size=n,
                                                                 replace=n > held_out)
        labels = parts.y_test[index]
        if task.label_map is not None:
            labels = task.label_map[labels]
        return np.ascontiguousarray(task.inputs(parts.x_test[index], rng)), labels

    return trained_on, validation


# ---- the CMA-ES fitness draws --------------------------------------------------------------

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
    weights: tuple[float, ...] | None = None  # per task, in the fitness mean (tasks.weights)


@functools.lru_cache(maxsize=4)
def draw_samples(plan: DrawPlan, generation: int) -> tuple[Sample, ...]:
    """The draws of one generation (cached per process: a worker scoring several chunks of
    one generation draws its data once): task by task, each architecture of the generation,
    each replica. Architectures share the task's seeds: the same task draw and batches, on
    networks of their own shapes."""
    networks = generation_networks(plan, generation)
    return tuple(
        draw_sample(spec, SampleSeeds(plan.run_seed, generation, index, replica, plan.purpose),
                    network, steps=plan.unroll.steps, batch=plan.unroll.batch,
                    eval_batches=plan.unroll.eval_batches, data_dir=plan.data_dir)
        for index, spec in enumerate(plan.tasks) for network in networks
        for replica in range(plan.replicas))


def generation_networks(plan: DrawPlan, generation: int) -> tuple[NetworkSettings, ...]:
    """The network settings of one generation, one per architecture in use: all of
    ``network.hidden``'s, or ``network.sample`` of them drawn from the run seed (the same on
    every worker)."""
    architectures = plan.network.architectures
    if len(architectures) == 1:
        return (plan.network,)
    chosen: Any = range(len(architectures))
    if plan.network.sample is not None:
        rng = np.random.default_rng(derive_seed(plan.run_seed, generation, 0, 0,
                                                plan.purpose + "architectures"))
        chosen = sorted(rng.choice(len(architectures), size=plan.network.sample,
                                   replace=False).tolist())
    return tuple(plan.network.with_hidden(architectures[i]) for i in chosen)


# ---- evaluating one genome (evaluate, baselines, studies) ----------------------------------

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
    two_class: str = "sign"  # outputs of a two-class task (tasks.TWO_CLASS_CODINGS)
    provenance: Provenance | None = None  # where the genome came from (its training tasks)

    @classmethod
    def build(cls, genome_path, *, tasks=(), hidden=None, steps=None, batch=None,
              eval_batches=None, seeds=EVALUATION.seeds, seed=EVALUATION.seed, at_steps=None,
              data_dir=None, two_class=None) -> EvaluationRequest:
        """Fill what the command line leaves open from the genome's sidecar, then the
        paper's protocol (:data:`blgnn_es.config.baselines.EVALUATION`)."""
        values, sidecar = read_genome(genome_path)
        return cls.from_genome(
            genome_path, values, network=dict(sidecar.network) if sidecar else {},
            provenance=sidecar.provenance if sidecar else Provenance(),
            recorded_hidden=sidecar.hidden if sidecar else None, tasks=tasks, hidden=hidden,
            steps=steps, batch=batch, eval_batches=eval_batches, seeds=seeds, seed=seed,
            at_steps=at_steps, data_dir=data_dir, two_class=two_class)

    @classmethod
    def from_genome(cls, genome_path, values: np.ndarray, *, network: dict[str, Any],
                    provenance: Provenance, recorded_hidden=None, tasks=(), hidden=None,
                    steps=None, batch=None, eval_batches=None, seeds=EVALUATION.seeds,
                    seed=EVALUATION.seed, at_steps=None, data_dir=None, two_class=None
                    ) -> EvaluationRequest:
        """A request for genome ``values`` with what its sidecar (or a run's history) says:
        ``network`` settings, ``provenance`` (tasks, unroll) and the hidden sizes."""
        network = dict(network)
        network.pop("layer_sizes", None)
        network.setdefault("states", states_from_length(values.size))
        if hidden is None:
            hidden = recorded_hidden
        if hidden is None:
            raise ConfigError(f"{genome_path}: the sidecar does not say the hidden layer sizes; "
                              "give --layers (for example --layers 20 or --layers 256,128)")
        if not tasks:
            tasks = tuple(provenance.tasks or ())
        if not tasks:
            raise ConfigError(f"{genome_path}: the sidecar names no tasks; give --task SPEC")
        unroll = provenance.unroll
        steps = steps or (unroll and unroll.steps) or EVALUATION.steps
        batch = batch or (unroll and unroll.batch) or EVALUATION.batch
        if eval_batches is None and unroll is not None:
            eval_batches = unroll.eval_batches
        if eval_batches is None:
            eval_batches = EVALUATION.eval_batches
        if eval_batches == "all":
            eval_batches = None
        if at_steps is None:
            at_steps = tuple(sorted({max(1, round(steps * f)) for f in (0.25, 0.5, 0.75)}
                                    - {steps}))
        bad = [t for t in at_steps if not 1 <= t <= steps]
        if bad:
            raise ConfigError(f"--at {bad[0]}: steps must lie in 1..{steps}")
        if two_class is None:
            two_class = default_two_class(provenance)
        elif two_class not in TWO_CLASS_CODINGS:
            raise ConfigError(f"--two-class {two_class!r}: use one of "
                              f"{', '.join(TWO_CLASS_CODINGS)}")
        return cls(str(genome_path), values, network, tuple(int(h) for h in hidden),
                   tuple(parse_task_spec(t) for t in tasks), int(steps), int(batch),
                   eval_batches, int(seeds), int(seed), tuple(at_steps),
                   None if data_dir is None else str(data_dir), two_class, provenance)

    def spec(self, n_inputs: int, n_outputs: int) -> NetworkSpec:
        """The genome's network on a task with these input and output sizes."""
        return NetworkSpec.from_dict({**self.network,
                                      "layer_sizes": (n_inputs, *self.hidden, n_outputs)})

    def outputs(self, n_classes: int) -> int:
        return output_size(n_classes, self.two_class)


def default_two_class(provenance: Provenance) -> str:
    """The two-class coding evaluate uses unless told: the run's own where it met two-class
    tasks; "argmax" (two outputs) for a genome evolved only on tasks of three or more
    classes, which never learned to drive one output by its sign (issue 12: such genomes
    answered one class for every example); "sign" when the sidecar cannot say."""
    classes = provenance.train_classes
    if classes is None and provenance.tasks:
        classes = [_spec_classes(spec) for spec in provenance.tasks]
    if classes and all(c is not None and c >= 3 for c in classes):
        return "argmax"
    return provenance.two_class or "sign"


def _spec_classes(spec: str) -> int | None:
    try:
        return parse_task_spec(spec).n_classes
    except ConfigError:
        return None


@dataclass
class TaskEvaluation:
    """One task's fresh networks trained with a genome."""

    task: str
    layer_sizes: tuple[int, ...]  # the first seed's network
    accuracies: np.ndarray  # (seeds,) final accuracy; a diverged network counts as 0
    curves: np.ndarray  # (seeds, steps) accuracy after each step
    diverged: int
    notes: tuple[str, ...] = ()  # warnings about the draws (Sample.notes)
    seed_layer_sizes: tuple[tuple[int, ...], ...] = ()  # every seed's, where they differ

    @property
    def network_label(self) -> str:
        """The sizes as tables show them: a size that differs over seeds as its range."""
        return sizes_label(self.seed_layer_sizes or (self.layer_sizes,))


def sizes_label(seed_sizes: Sequence[Sequence[int]]) -> str:
    """'100-32-10'; a family that draws its shape per seed reads '4..25-32-2..5' (its least
    and greatest size at each layer), so no one seed's network stands for all of them."""
    depths = {len(sizes) for sizes in seed_sizes}
    if len(depths) != 1:
        return " | ".join(dict.fromkeys("-".join(map(str, s)) for s in seed_sizes))
    cells = []
    for layer in zip(*seed_sizes, strict=True):
        low, high = min(layer), max(layer)
        cells.append(str(low) if low == high else f"{low}..{high}")
    return "-".join(cells)


def evaluate_task(request: EvaluationRequest, index: int,
                  holdout: tuple[float, int] | None = None
                  ) -> tuple[TaskEvaluation, list[Sample]]:
    """Train ``request.seeds`` fresh networks on task ``index``, recording learning curves;
    returns the samples too (the baselines train on exactly these)."""
    spec = request.tasks[index]
    samples = [
        draw_sample(spec, SampleSeeds(request.seed, 0, index, replica, EVALUATE_PREFIX),
                    request, steps=request.steps, batch=request.batch,
                    eval_batches=request.eval_batches, data_dir=request.data_dir,
                    holdout=holdout)
        for replica in range(request.seeds)]
    accuracies, curves, diverged = [], [], 0
    for sample in samples:
        result = unroll_sample(request.genome, sample, record_curve=True)
        diverged += bool(result.diverged)
        accuracies.append(0.0 if result.diverged or not math.isfinite(result.accuracy)
                          else result.accuracy)
        curves.append(np.nan_to_num(result.curve, nan=0.0))
    shapes = tuple(dict.fromkeys(sample.net.layer_sizes for sample in samples))
    evaluation = TaskEvaluation(str(spec), samples[0].net.layer_sizes, np.array(accuracies),
                                np.array(curves), diverged, samples[0].notes,
                                tuple(s.net.layer_sizes for s in samples)
                                if len(shapes) > 1 else ())
    return evaluation, samples


def run_evaluation(request: EvaluationRequest) -> list[TaskEvaluation]:
    """Every task of the request (:func:`evaluate_task`)."""
    return [evaluate_task(request, index)[0] for index in range(len(request.tasks))]


def several_requests(genome_paths, build=EvaluationRequest.build, **options
                     ) -> list[EvaluationRequest]:
    """One request per genome (``build(path, **options)``), all on the first genome's tasks,
    unroll, seeds and steps (its sidecar fills what ``options`` leaves open), so that seed r
    is one draw (task, synapses, batches) for every genome and their results pair by seed."""
    first = build(genome_paths[0], **options)
    shared = {**options, "tasks": first.tasks, "steps": first.steps, "batch": first.batch,
              "eval_batches": "all" if first.eval_batches is None else first.eval_batches,
              "at_steps": first.at_steps}
    return [first, *(build(path, **shared) for path in genome_paths[1:])]
