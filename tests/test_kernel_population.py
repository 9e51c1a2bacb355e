"""The population entry of the kernel against one call per genome (issue 14).

The population call reuses its work arrays from genome to genome; a genome that diverges
(NaN synapses) must be flagged on its own and leave the genomes after it exactly as they
are when unrolled alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from blgnn_es import NetworkSpec, run_population, run_unroll
from blgnn_es.model.genome import GenomeLayout, random_genome


def _task(steps, batch, seed, n_in=3, classes=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, (steps, batch))
    centres = rng.normal(size=(classes, n_in))
    return centres[labels] + 0.4 * rng.normal(size=(steps, batch, n_in)), labels


def _diverging(genome):
    layout = GenomeLayout(2)
    bad = genome.copy()
    bad[layout.slot("f_syn")] = 1e100
    bad[layout.slot("eta_syn")] = 1e100
    return bad


@pytest.mark.parametrize("settings", [
    {},
    {"feedback": "error", "backward": "multiplicative_second", "oja": True},
    {"tied": True, "shared_states": True, "read_normalization": True},
])
def test_population_equals_one_genome_per_call_float64(settings):
    net = NetworkSpec(layer_sizes=(3, 7, 5, 3), states=2, dtype="float64", **settings)
    genomes = [random_genome(2, seed, scale=0.35) for seed in range(4)]
    genomes.insert(0, _diverging(genomes[0]))  # first: its NaNs must not reach the others
    genomes.insert(3, _diverging(genomes[2]))
    genomes = np.stack(genomes)
    x, y = _task(5, 16, 0)
    xe, ye = _task(3, 16, 1)
    population = run_population(genomes, net, x, y, xe, ye, seed=3)
    assert population.diverged[0] and population.diverged[3]
    assert np.isnan(population.accuracy[[0, 3]]).all()
    for p, genome in enumerate(genomes):
        single = run_unroll(genome, net, x, y, xe, ye, seed=3)
        assert population.diverged[p] == single.diverged
        assert population.steps_done[p] == single.steps_done
        np.testing.assert_array_equal(
            [population.accuracy[p], population.l2[p], population.ce[p]],
            [single.accuracy, single.l2, single.ce])
    assert np.isfinite(population.l2[[1, 2, 4, 5]]).all()


def test_population_order_does_not_change_results():
    net = NetworkSpec(layer_sizes=(3, 6, 3), states=2, dtype="float64")
    genomes = np.stack([random_genome(2, seed, scale=0.35) for seed in range(5)])
    x, y = _task(4, 8, 2)
    xe, ye = _task(2, 8, 3)
    forward = run_population(genomes, net, x, y, xe, ye, seed=1)
    backward = run_population(genomes[::-1], net, x, y, xe, ye, seed=1)
    np.testing.assert_array_equal(forward.l2, backward.l2[::-1])
    np.testing.assert_array_equal(forward.ce, backward.ce[::-1])
