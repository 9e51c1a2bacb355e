"""Kernel warm-up: compile (or load from numba's cache) before workers start.

Loading the cached kernel takes well under a second; compiling it (a first run, or a new
numba) takes tens of seconds, which would otherwise pass in silence: after
``COMPILE_NOTICE_AFTER`` seconds the warm-up says it is compiling, and how long it took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from blgnn_es.learner import run_population, run_unroll
from blgnn_es.model.genome import genome_length
from blgnn_es.model.network import NetworkSpec

COMPILE_NOTICE_AFTER = 2.0  # seconds: more than loading the cache takes on a busy machine
COMPILING = "compiling the kernel, first run only (numba caches it for later runs) ..."


def warm_up(nets: Sequence[NetworkSpec], note: Callable[[str], None] | None = None,
            notice_after: float = COMPILE_NOTICE_AFTER) -> float:
    """Compile (or load from numba's cache) the kernel for every dtype in use, in this
    process, before any worker starts: workers then load the cached machine code instead of
    each compiling it at the same time. When it takes over ``notice_after`` seconds (a cold
    cache), ``note`` gets a line saying so, then one with the elapsed time. Returns seconds."""
    began = time.perf_counter()
    told = threading.Event()

    def tell() -> None:
        told.set()
        if note is not None:
            note(COMPILING)

    timer = threading.Timer(notice_after, tell)
    timer.daemon = True
    timer.start()
    try:
        _compile(nets)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - began
    if told.is_set() and note is not None:
        note(f"kernel compiled in {seconds:.1f} s")
    return seconds


def _compile(nets: Sequence[NetworkSpec]) -> None:
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
