"""The jax backend: a generation scored in this process on the JAX learner, one vmapped call
per sample (on a GPU when JAX sees one), with the same draws as every other backend.

Imported only when ``parallel.backend = "jax"`` is asked for (JAX is an optional extra:
``pip install -e '.[jax]'``). Fitness agrees with the numba backends within float32
tolerance, not to the last bit: XLA's tanh and summation order differ from the kernel's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from blgnn_es import jax_learner
from blgnn_es.fitness import Learner
from blgnn_es.model.network import NetworkSpec

JAX_LEARNER = Learner(population=jax_learner.unroll_population, sample=jax_learner.unroll_sample)


class JaxBackend:
    """Fitness jobs run here, each with the JAX learner instead of the numba kernel."""

    workers = 1

    def __init__(self) -> None:
        jax_learner.require_jax()

    def prepare(self, nets: Sequence[NetworkSpec]) -> None:
        pass  # jitted functions compile on first use, per network shape

    def map(self, function: Callable, jobs: Sequence[tuple]) -> list[Any]:
        """``function`` is a fitness job (:func:`blgnn_es.fitness.score_chunk`)."""
        return [function(*job, learner=JAX_LEARNER) for job in jobs]

    def close(self) -> None:
        pass
