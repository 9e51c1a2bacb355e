"""Which genome a run hands over (final_genome.npy), chosen so that noise does not pick it.

Training fitness is a handful of draws per generation, so the best sample is the luckiest
and the last mean is not always the best one. The driver therefore keeps the
``report.final_candidates`` samples of best training fitness since the last validation
(:func:`offer`), and at every validation scores them beside the mean on the validation draws
(:func:`add_candidates`). At the end :func:`choose` picks the candidate of best validation
accuracy, looking at nothing but the candidates, and :func:`final_choice` scores that one
genome on test draws: the validation tasks under the seed purpose ``test-``, so their seeds
differ from every train (``""``) and validation (``validate-``) seed and took no part in the
choice. A run without validation tasks hands over its last mean. Everything the choice needs
is in the checkpointed :class:`RunState`, so a resumed run ends with the same choice.
"""

from __future__ import annotations

import math

import numpy as np

from blgnn_es.baselines.stats import CONFIDENCE, mean_interval, mean_intervals
from blgnn_es.config.settings import Config, NetworkSettings
from blgnn_es.es.records import Candidate, FinalChoice, RunState, TestScore, Validation
from blgnn_es.evaluation import DrawPlan
from blgnn_es.fitness import GenomeScore

TEST_PURPOSE = "test-"
INTERVAL = f"{CONFIDENCE:.0%} Student t over validation seeds"
NO_VALIDATION = "no validation tasks: the last distribution mean"


def first_architecture(config: Config) -> NetworkSettings:
    """The network validation and the test draws use: the first of network.hidden's
    architectures (evaluate's default too)."""
    return config.network.with_hidden(config.network.architectures[0])


def final_test_plan(config: Config, data_dir: str | None = None) -> DrawPlan | None:
    """The test draws: the validation tasks, ``report.test_seeds`` replicas, purpose test-."""
    if not config.tasks.validate:
        return None
    return DrawPlan(config.tasks.validate, first_architecture(config), config.unroll,
                    config.report.test_seeds, config.run.seed,
                    data_dir or config.tasks.data_dir, purpose=TEST_PURPOSE)


def replica_table(score: GenomeScore, plan: DrawPlan) -> np.ndarray:
    """One genome's accuracies as a (replicas, tasks) table (draws are task-major)."""
    return np.asarray(score.sample_accuracy, dtype=np.float64).reshape(
        len(plan.tasks), plan.replicas).T


def validation_record(score: GenomeScore, plan: DrawPlan) -> Validation:
    """A validation's record, with each task's t interval over the replicas."""
    names = [str(spec) for spec in plan.tasks]
    intervals = None
    if plan.replicas > 1:
        intervals = {name: (iv.low, iv.high) for name, iv in
                     zip(names, mean_intervals(replica_table(score, plan)), strict=True)}
    return Validation(accuracy=_finite(float(np.mean(score.task_accuracy))),
                      fitness=_finite(score.fitness), diverged=score.diverged,
                      tasks={name: _finite(acc) for name, acc in
                             zip(names, score.task_accuracy, strict=True)},
                      intervals=intervals)


def candidate(kind: str, generation: int, score: GenomeScore, plan: DrawPlan) -> Candidate:
    """A candidate's record: validation accuracy (mean over tasks and seeds) and its t
    interval over the seeds of the per-seed mean over tasks."""
    interval = mean_interval(replica_table(score, plan).mean(axis=1))
    return Candidate(kind=kind, generation=generation, validation=_finite(interval.mean),
                     low=_finite(interval.low), high=_finite(interval.high))


# ---- during the run --------------------------------------------------------------------

def offer(state: RunState, genomes: np.ndarray, fitnesses: list[float], generation: int,
          keep: int) -> None:
    """Keep the ``keep`` samples of best (lowest) training fitness since the last
    validation; ``generation`` counts from 1. Ties keep the earlier sample."""
    if keep <= 0:
        return
    entries = list(zip(state.pool_fitness, state.pool_generations, state.pool, strict=True))
    entries += [(float(f), generation, g.copy()) for f, g in zip(fitnesses, genomes,
                                                                strict=True)]
    order = sorted(range(len(entries)), key=lambda i: (entries[i][0], i))[:keep]
    state.pool_fitness = [entries[i][0] for i in order]
    state.pool_generations = [entries[i][1] for i in order]
    state.pool = [entries[i][2] for i in order]


def waiting(state: RunState) -> list[np.ndarray]:
    """The samples to validate beside the mean at the next validation."""
    return list(state.pool)


def add_candidates(state: RunState, mean: np.ndarray, generation: int,
                   scores: list[GenomeScore], plan: DrawPlan) -> None:
    """Record the mean (``scores[0]``) and the waiting samples (the rest, in
    :func:`waiting`'s order) as candidates; empty the pool; keep the best genome."""
    genomes = [mean, *state.pool]
    kinds = [("mean", generation), *(("sample", g) for g in state.pool_generations)]
    if len(scores) != len(genomes):
        raise ValueError(f"{len(scores)} validation scores for {len(genomes)} candidates")
    for (kind, at), genome, score in zip(kinds, genomes, scores, strict=True):
        state.candidates.append(candidate(kind, at, score, plan))
        if choose(state.candidates) == len(state.candidates) - 1:
            state.chosen_genome = np.array(genome, dtype=np.float64)
    state.pool, state.pool_fitness, state.pool_generations = [], [], []


def choose(candidates: list[Candidate]) -> int:
    """Index of the candidate of best validation accuracy (the earliest among equals; one
    without a finite score only when none has one). Sees nothing but the candidates."""
    def key(i: int) -> tuple[float, int]:
        value = candidates[i].validation
        return (-math.inf if value is None else value, -i)
    return max(range(len(candidates)), key=key)


# ---- at the end ------------------------------------------------------------------------

def final_choice(state: RunState, test: GenomeScore | None, plan: DrawPlan | None
                 ) -> FinalChoice:
    """final.json of the chosen genome and its score on the test draws (None without
    validation tasks: then the chosen genome is the last mean)."""
    if not state.candidates:
        chosen = Candidate(kind="mean", generation=state.generation, validation=None,
                           low=None, high=None)
        return FinalChoice(chosen=chosen, test=None, candidates=[], interval=INTERVAL,
                           reason=NO_VALIDATION)
    index = choose(state.candidates)
    chosen = state.candidates[index]
    score = None
    if test is not None and plan is not None:
        interval = mean_interval(replica_table(test, plan).mean(axis=1))
        score = TestScore(accuracy=interval.mean, low=interval.low, high=interval.high,
                          seeds=plan.replicas)
    reason = (f"best validation accuracy of {len(state.candidates)} candidates (means and "
              "re-validated samples); the test draws took no part in the choice")
    return FinalChoice(chosen=chosen, test=score, candidates=list(state.candidates),
                       interval=INTERVAL, reason=reason)


def final_genome(state: RunState) -> np.ndarray | None:
    """The genome final.json names: the chosen candidate's, else the last mean."""
    if state.candidates and state.chosen_genome is not None:
        return state.chosen_genome
    return state.mean_genome


def label(chosen: Candidate) -> str:
    """``the mean of generation 40`` / ``a sample of generation 12`` (0: the initial)."""
    if chosen.generation == 0:
        return "the initial genome"
    what = "the mean" if chosen.kind == "mean" else "a sample"
    return f"{what} of generation {chosen.generation}"


def sidecar_kind(choice: FinalChoice) -> str:
    """The ``kind`` in final_genome.json's provenance (final.json has the rest)."""
    return f"final genome: {label(choice.chosen)} (see final.json)"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
