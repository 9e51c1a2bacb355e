"""The one evaluation path: fitness, validation and evaluate draw and unroll the same way."""

from __future__ import annotations

import numpy as np

from blgnn_es.config.settings import load_config_text
from blgnn_es.evaluation import (
    EVALUATE_PREFIX,
    DrawPlan,
    SampleSeeds,
    draw_sample,
    draw_samples,
    unroll_sample,
)
from blgnn_es.fitness import score_chunk
from blgnn_es.model.genome import hebbian_genome, random_genome

CONFIG = load_config_text('[tasks]\ntrain = ["xor", "two-moons"]\n[network]\nhidden = [6]\n'
                          '[unroll]\nsteps = 4\nbatch = 16\neval_batches = 2\nreplicas = 2\n')


def _plan(purpose: str = "") -> DrawPlan:
    return DrawPlan(CONFIG.tasks.train, CONFIG.network, CONFIG.unroll, 2, run_seed=3,
                    purpose=purpose)


def test_population_fitness_equals_one_genome_unrolls_on_the_same_draws():
    genomes = np.stack([hebbian_genome(2, 0.05), random_genome(2, 1, 0.3)])
    scores = score_chunk(genomes, _plan(), CONFIG.fitness, generation=5, first_index=0)
    for genome, score in zip(genomes, scores, strict=True):
        accuracies = []
        for index, spec in enumerate(CONFIG.tasks.train):
            for replica in range(2):
                sample = draw_sample(spec, SampleSeeds(3, 5, index, replica), CONFIG.network,
                                     steps=4, batch=16, eval_batches=2)
                accuracies.append(unroll_sample(genome, sample).accuracy)
        assert score.fitness == np.float64(1.0 - np.mean(accuracies))


def test_draws_depend_on_generation_and_purpose_only_through_the_seeds():
    first, again = draw_samples(_plan(), 2), draw_samples(_plan(), 2)
    assert first is again  # cached per process
    other = draw_samples(_plan("validate-"), 2)
    evaluate = draw_sample(CONFIG.tasks.train[0], SampleSeeds(3, 2, 0, 0, EVALUATE_PREFIX),
                           CONFIG.network, steps=4, batch=16, eval_batches=2)
    assert not np.array_equal(first[0].data.x_train, other[0].data.x_train)
    assert not np.array_equal(first[0].data.x_train, evaluate.data.x_train)
    assert first[0].seeds == SampleSeeds(3, 2, 0, 0, "")
    assert [s.task_index for s in first] == [0, 0, 1, 1]
