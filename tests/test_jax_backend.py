"""The jax backend: CMA-ES scored on the JAX learner gives the numba backends' fitness within
float32 tolerance, and asking for it without JAX says how to install it."""

from __future__ import annotations

import numpy as np
import pytest

from blgnn_es import jax_learner
from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import evolve
from blgnn_es.es.rundir import RunDir
from blgnn_es.parallel.backends import make_backend

TINY = """
[run]
name = "tiny"
seed = 3
[network]
hidden = [8]
[tasks]
train = ["xor", "and"]
[unroll]
steps = 5
batch = 32
eval_batches = 2
[cmaes]
popsize = 6
max_generations = 1
[parallel]
backend = "{backend}"
[report]
validate_every = 0
"""


def _first_generation(tmp_path, backend: str):
    config = load_config_text(TINY.format(backend=backend))
    run = RunDir.create(tmp_path / backend, config.to_toml())
    evolve(config, run, make_backend(config.parallel))
    return run.read_metrics()[0]


@pytest.mark.slow
def test_jax_backend_scores_like_the_numba_kernel(tmp_path):
    pytest.importorskip("jax")
    serial, jax = _first_generation(tmp_path, "serial"), _first_generation(tmp_path, "jax")
    examples = 2 * 2 * 32  # two tasks, two eval batches of 32: one example is 1/128 of accuracy
    for field in ("best", "median", "worst"):
        assert abs(getattr(serial, field) - getattr(jax, field)) <= 2 / examples
    assert serial.initial.fitness == pytest.approx(jax.initial.fitness, abs=2 / examples)


def test_jax_backend_without_jax_says_how_to_install(monkeypatch):
    monkeypatch.setattr(jax_learner, "jax", None)
    config = load_config_text(TINY.format(backend="jax"))
    with pytest.raises(ConfigError, match=r"pip install -e '.\[jax\]'"):
        make_backend(config.parallel)
    assert np.isfinite(config.parallel.n_workers)
