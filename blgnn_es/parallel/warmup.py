"""Kernel warm-up: compile (or load from numba's cache) before workers start."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blgnn_es.learner import run_population, run_unroll
from blgnn_es.model.genome import genome_length
from blgnn_es.model.network import NetworkSpec


def warm_up(nets: Sequence[NetworkSpec]) -> None:
    """Compile (or load from numba's cache) the kernel for every dtype in use, in this
    process, before any worker starts: workers then load the cached machine code instead of
    each compiling it at the same time."""

    seen = set()
    for net in nets:
        if net.dtype in seen:
            continue
        seen.add(net.dtype)
        tiny = net.with_sizes((2, 3, 1))
        x = np.zeros((1, 2, 2), dtype=net.dtype)
        y = np.zeros((1, 2), dtype=np.int32)
        genome = np.zeros(genome_length(net.states))
        run_population(genome[None], tiny, x, y, x, y, seed=0)  # the fitness path
        run_unroll(genome, tiny, x, y, x, y, seed=0)  # evaluate and error reports
