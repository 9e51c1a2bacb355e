"""Train tasks of different shapes in one fitness (issue 12 item 1): each sample builds its
network from its task, common random numbers hold, tasks.weights weigh the mean, and the
same config and seed give the same metrics on any backend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import evolve, make_plans
from blgnn_es.es.rundir import RunDir, strip_timings
from blgnn_es.evaluation import draw_samples, unroll_population
from blgnn_es.fitness import sample_fitness, score_chunk
from blgnn_es.model.genome import hebbian_genome
from blgnn_es.parallel.backends import SerialBackend, make_backend

MIXED = """
[run]
name = "mixed"
[network]
hidden = [6]
[genome]
initial = "hebbian"
[tasks]
train = ["xor", "digits", "blobs5"]
validate = ["circles", "digits:classes=0-4"]
[unroll]
steps = 3
batch = 16
eval_batches = 1
replicas = 2
[cmaes]
popsize = 6
max_generations = 3
[parallel]
backend = "serial"
[report]
validate_every = 2
validate_seeds = 2
test_seeds = 2
"""


def _metrics(run: RunDir) -> list[dict]:
    return [strip_timings(json.loads(line)) for line in run.metrics.read_text().splitlines()]


def test_each_sample_gets_the_network_of_its_task():
    config = load_config_text(MIXED)
    samples = draw_samples(make_plans(config).train, 0)
    shapes = [(s.task_name, s.net.layer_sizes) for s in samples]
    assert shapes == [("xor", (2, 6, 1))] * 2 + [("digits", (64, 6, 10))] * 2 + [
        ("blobs5", (2, 6, 5))] * 2


def _weighted(weights: str, extra: str = "") -> str:
    train = 'train = ["xor", "digits", "blobs5"]'
    return MIXED.replace(train, f"{train}\nweights = {weights}") + extra


def test_weights_weigh_the_mean_of_the_samples():
    weighted = load_config_text(_weighted("[1.0, 3.0, 0.5]"))
    plain = load_config_text(MIXED)
    genomes = hebbian_genome(2)[None] + np.random.default_rng(0).normal(0, 0.05, (3, 23))
    plan = make_plans(weighted).train
    samples = draw_samples(plan, 1)
    results = [unroll_population(genomes, s) for s in samples]
    per_sample = np.array([[sample_fitness(a, l2, ce, d, weighted.fitness)
                            for a, l2, ce, d in zip(r.accuracy, r.l2, r.ce, r.diverged,
                                                    strict=True)] for r in results]).T
    weights = np.repeat([1.0, 3.0, 0.5], 2)
    scores = score_chunk(genomes, plan, weighted.fitness, 1, 0)
    np.testing.assert_allclose([s.fitness for s in scores],
                               per_sample @ weights / weights.sum(), rtol=1e-12)
    unweighted = score_chunk(genomes, make_plans(plain).train, plain.fitness, 1, 0)
    np.testing.assert_allclose([s.fitness for s in unweighted], per_sample.mean(axis=1),
                               rtol=1e-12)
    assert not np.allclose([s.fitness for s in scores], [s.fitness for s in unweighted])


@pytest.mark.parametrize(("weights", "extra", "message"), [
    ("[1.0, 2.0]", "", r"tasks\.weights has 2 entries; tasks\.train has 3"),
    ("[1.0, 0.0, 2.0]", "", r"tasks\.weights"),
    ("[1.0, 1.0, 2.0]", '[fitness]\naverage = "median"\n', r"fitness\.average"),
])
def test_bad_weights_are_refused_with_the_key(weights, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config_text(_weighted(weights, extra))


# Mixed shapes and several architectures, two of three drawn per generation (issue 12 item 2)
MIXED_ARCHITECTURES = MIXED.replace("hidden = [6]", "hidden = [[6], [4, 3], [5]]\nsample = 2")


@pytest.mark.slow
def test_a_mixed_run_gives_the_same_metrics_serial_and_on_two_loky_workers(tmp_path):
    config = load_config_text(MIXED_ARCHITECTURES)
    serial = RunDir.create(tmp_path / "serial", config.to_toml())
    evolve(config, serial, SerialBackend())
    loky_config = load_config_text(MIXED_ARCHITECTURES.replace(
        'backend = "serial"', 'backend = "loky"\nworkers = 2'))
    loky = RunDir.create(tmp_path / "loky", loky_config.to_toml())
    backend = make_backend(loky_config.parallel)
    try:
        evolve(loky_config, loky, backend)
    finally:
        backend.close()
    lines = _metrics(serial)
    assert len(lines) == 3 and lines == _metrics(loky)
    assert set(lines[1]["validation"]["tasks"]) == {"circles", "digits:classes=0-4"}
    assert lines[0]["initial"]["fitness"] < 1.0
    sidecar = json.loads(serial.mean_genome.with_suffix(".json").read_text())["provenance"]
    assert sidecar["architectures"] == [[6], [4, 3], [5]] and sidecar["hidden"] == [6]


def test_the_meta_gradient_of_a_mix_is_the_weighted_sum_of_its_parts():
    jax_learner = pytest.importorskip("blgnn_es.jax_learner")
    pytest.importorskip("jax")
    config = load_config_text(MIXED.replace('train = ["xor", "digits", "blobs5"]',
                                            'train = ["xor", "digits"]').replace(
        "[network]", '[network]\ndtype = "float64"'))
    samples = draw_samples(make_plans(config).train, 0)
    genome = hebbian_genome(2, 0.05)
    weights = [1.0, 1.0, 3.0, 3.0]
    mixed = jax_learner.meta_gradient(genome, samples, weights=weights)
    xor = jax_learner.meta_gradient(genome, samples[:2])
    digits = jax_learner.meta_gradient(genome, samples[2:])
    assert mixed.loss == pytest.approx(0.25 * xor.loss + 0.75 * digits.loss, rel=1e-12)
    np.testing.assert_allclose(mixed.gradient, 0.25 * xor.gradient + 0.75 * digits.gradient,
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(mixed.accuracy, np.concatenate([xor.accuracy,
                                                                  digits.accuracy]))
