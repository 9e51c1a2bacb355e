"""Genome × task draws -> fitness (SPEC §6). Knows nothing of CMA-ES or processes.

For generation g, task i and replica r, the task seed, the synapse seed and the batch seed
are ``derive_seed(run_seed, g, i, r, purpose)``, so every genome of a generation sees the
same tasks, synapses and batches (common random numbers) and any worker can redraw them from
a few integers. The draws of the last generations are memoized per process: a worker scoring
several chunks of one generation draws its data once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from blgnn_es.config.settings import FitnessSettings
from blgnn_es.errors import BlgnnError
from blgnn_es.evaluation import DrawPlan, Sample, draw_samples, unroll_population, unroll_sample
from blgnn_es.learner import PopulationResult, UnrollResult


class EvaluationError(BlgnnError):
    """A genome evaluation that failed for a reason other than divergence."""


@dataclass(frozen=True)
class GenomeScore:
    """The fitness of one genome and what it is made of."""

    fitness: float
    accuracy: float  # mean over samples that did not diverge (NaN if all did)
    diverged: int
    samples: int
    task_accuracy: tuple[float, ...]  # per task, mean over replicas (diverged count as 0)
    sample_accuracy: tuple[float, ...] = ()  # per sample in draw order (diverged count as 0)


def sample_fitness(accuracy: float, l2: float, ce: float, diverged: bool,
                   fitness: FitnessSettings) -> float:
    """One sample's fitness: 1 - accuracy, or the loss capped at ``loss_cap``; a diverged or
    non-finite sample gets the worst value (1.0, or the cap)."""
    if fitness.metric == "accuracy":
        if diverged or not math.isfinite(accuracy):
            return 1.0
        return 1.0 - accuracy
    value = l2 if fitness.metric == "l2" else ce
    if diverged or not math.isfinite(value):
        return fitness.loss_cap
    return min(value, fitness.loss_cap)


def combine(values: list[float], average: str, weights: Sequence[float] | None = None
            ) -> float:
    """Mean (weighted by ``weights`` when given), median or worst (largest) of the sample
    fitnesses."""
    if average == "median":
        return float(np.median(values))
    if average == "worst":
        return float(np.max(values))
    if weights is not None:
        return float(np.average(values, weights=weights))
    return float(np.mean(values))


def sample_weights(plan_weights: Sequence[float] | None, samples: Sequence[Sample]
                   ) -> np.ndarray | None:
    """Each sample's weight in the mean: its task's (tasks.weights), None when unweighted."""
    if plan_weights is None:
        return None
    return np.array([plan_weights[sample.task_index] for sample in samples], dtype=float)


@dataclass(frozen=True)
class Learner:
    """The inner learner a fitness runs on: every genome on one sample in one call, and one
    genome on one sample (to find the genome to blame when a population call fails). The
    numba kernel by default; the JAX learner through the jax backend (parallel/jax_backend.py)."""

    population: Callable[[np.ndarray, Sample], PopulationResult] = unroll_population
    sample: Callable[[np.ndarray, Sample], UnrollResult] = unroll_sample


NUMBA_LEARNER = Learner()


def _run_sample(genomes: np.ndarray, sample: Sample, where: str, first_index: int,
                learner: Learner = NUMBA_LEARNER) -> PopulationResult:
    """All genomes on one sample in one learner call; on failure, find the genome to blame."""
    try:
        return learner.population(genomes, sample)
    except Exception as population_error:
        for offset, genome in enumerate(genomes):
            try:
                learner.sample(genome, sample)
            except Exception as err:
                raise EvaluationError(
                    f"{where}genome {first_index + offset}, task {sample.task_name} (index "
                    f"{sample.task_index}, replica {sample.replica}): "
                    f"{type(err).__name__}: {err}") from None
        raise EvaluationError(
            f"{where}genomes {first_index}..{first_index + len(genomes) - 1}, task "
            f"{sample.task_name}: {type(population_error).__name__}: {population_error}"
        ) from None


def score_genomes(genomes: np.ndarray, samples: Sequence[Sample], fitness: FitnessSettings,
                  where: str = "", first_index: int = 0,
                  learner: Learner = NUMBA_LEARNER,
                  weights: Sequence[float] | None = None) -> list[GenomeScore]:
    """Run every sample with every genome and combine each genome's samples (``weights``:
    one per sample, in the mean)."""
    genomes = np.atleast_2d(genomes)
    count = len(genomes)
    values = np.zeros((count, len(samples)))
    accuracy = np.full((count, len(samples)), np.nan)
    diverged = np.zeros((count, len(samples)), dtype=bool)
    task_of = np.array([sample.task_index for sample in samples])
    for column, sample in enumerate(samples):
        result = _run_sample(genomes, sample, where, first_index, learner)
        for row in range(count):
            acc = float(result.accuracy[row])
            failed = bool(result.diverged[row])
            values[row, column] = sample_fitness(acc, float(result.l2[row]),
                                                 float(result.ce[row]), failed, fitness)
            diverged[row, column] = failed
            if not failed and math.isfinite(acc):
                accuracy[row, column] = acc
    scores = []
    for row in range(count):
        finite = accuracy[row][np.isfinite(accuracy[row])]
        per_task = np.nan_to_num(accuracy[row], nan=0.0)
        scores.append(GenomeScore(
            fitness=combine(list(values[row]), fitness.average, weights),
            accuracy=float(finite.mean()) if finite.size else float("nan"),
            diverged=int(diverged[row].sum()), samples=len(samples),
            task_accuracy=tuple(float(per_task[task_of == i].mean())
                                for i in sorted(set(task_of.tolist()))),
            sample_accuracy=tuple(float(a) for a in per_task)))
    return scores


def score_chunk(genomes: np.ndarray, plan: DrawPlan, fitness: FitnessSettings,
                generation: int, first_index: int,
                learner: Learner = NUMBA_LEARNER) -> list[GenomeScore]:
    """Score consecutive genomes of a generation; a worker's job.

    ``first_index`` is the population index of ``genomes[0]``, for error messages.
    """
    try:
        samples = draw_samples(plan, generation)
    except BlgnnError:
        raise
    except Exception as err:
        raise EvaluationError(f"generation {generation}: drawing task data failed: "
                              f"{type(err).__name__}: {err}") from None
    return score_genomes(np.asarray(genomes, dtype=np.float64), samples, fitness,
                         where=f"generation {generation}, ", first_index=first_index,
                         learner=learner, weights=sample_weights(plan.weights, samples))
