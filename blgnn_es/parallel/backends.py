"""Where genome evaluations run: in this process, in persistent loky worker processes, or
on a dask cluster (parallel_dask.py, imported only when asked for).

A backend maps a top-level function over a list of small jobs and returns the results in
order. Jobs carry genomes and a DrawPlan, never dataset arrays: each worker loads its tasks
once (the tasks layer memoizes datasets per process) and redraws a generation's batches from
seeds.

A broken loky pool (a worker killed) is rebuilt and the whole job list run again, a few
times at most; each rebuild is logged. Loky workers would outlive a driver killed with
``kill -9`` until their idle timeout (minutes); each one runs a watcher thread that ends
it within about a second of its parent's death (:func:`exit_with_parent`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from blgnn_es.config.settings import ParallelSettings
from blgnn_es.errors import ConfigError
from blgnn_es.model.network import NetworkSpec

MAX_POOL_REBUILDS = 3
IDLE_WORKER_SECONDS = 300  # idle loky workers are kept this long between generations
PARENT_POLL_SECONDS = 0.5


def exit_with_parent(poll: float = PARENT_POLL_SECONDS) -> None:
    """Worker initializer: a daemon thread that ends this process as soon as its parent
    (the driver) is gone, so that no worker outlives a killed run."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="blgnn-es-parent-watch", daemon=True).start()


class Backend(Protocol):
    workers: int

    def prepare(self, nets: Sequence[NetworkSpec]) -> None:
        """Get the workers ready for these networks (after :func:`warm_up` in this process)."""

    def map(self, function: Callable, jobs: Sequence[tuple]) -> list[Any]:
        """``[function(*job) for job in jobs]``, possibly in parallel, in order."""

    def close(self) -> None:
        """Release the workers."""


class SerialBackend:
    """Everything in this process (debugging, tests, and the reference for loky)."""

    workers = 1

    def prepare(self, nets: Sequence[NetworkSpec]) -> None:
        pass

    def map(self, function: Callable, jobs: Sequence[tuple]) -> list[Any]:
        return [function(*job) for job in jobs]

    def close(self) -> None:
        pass


class LokyBackend:
    """loky processes (joblib's), kept alive between generations (a reusable executor);
    each worker exits when the driver does."""

    def __init__(self, workers: int, log: Callable[[str], None] = print) -> None:
        self.workers = workers
        self.log = log
        self._executor = self._start()

    def _start(self, kill_workers: bool = False):
        from joblib.externals.loky import get_reusable_executor

        return get_reusable_executor(max_workers=self.workers, timeout=IDLE_WORKER_SECONDS,
                                     kill_workers=kill_workers, initializer=exit_with_parent)

    def prepare(self, nets: Sequence[NetworkSpec]) -> None:
        pass  # workers load the kernel from the numba cache warm_up wrote

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        return sorted(getattr(self._executor, "_processes", {}) or {})

    def map(self, function: Callable, jobs: Sequence[tuple]) -> list[Any]:
        from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

        for attempt in range(MAX_POOL_REBUILDS + 1):
            try:
                futures = [self._executor.submit(function, *job) for job in jobs]
                return [future.result() for future in futures]
            except (BrokenProcessPool, TerminatedWorkerError) as err:
                if attempt == MAX_POOL_REBUILDS:
                    raise
                self.log(
                    f"worker pool broke ({type(err).__name__}: {err}); rebuilding it and "
                    f"evaluating the generation again (attempt {attempt + 2})"
                )
                self._rebuild()
        raise AssertionError("unreachable")

    def _rebuild(self) -> None:
        self._executor.shutdown(wait=True, kill_workers=True)
        self._executor = self._start(kill_workers=True)

    def close(self) -> None:
        pass  # the reusable executor shuts its idle workers down by itself


def make_backend(settings: ParallelSettings, log: Callable[[str], None] = print) -> Backend:
    """The backend a config asks for."""
    if settings.backend == "serial":
        return SerialBackend()
    if settings.backend == "loky":
        return LokyBackend(settings.n_workers, log)
    if settings.backend == "dask":
        try:
            from blgnn_es.parallel.dask_cluster import make_dask_backend
        except ImportError as err:
            raise ConfigError(
                f'parallel.backend = "dask" needs dask.distributed ({err}): '
                "pip install 'blgnn-es[dask]'"
            ) from None
        return make_dask_backend(settings, log)
    if settings.backend == "jax":
        from blgnn_es.parallel.jax_backend import JaxBackend  # JAX loads in about a second

        return JaxBackend()
    raise ConfigError(f"parallel.backend = {settings.backend!r}; allowed: loky, serial, dask, "
                      "jax")


def chunk_bounds(count: int, chunks: int) -> list[tuple[int, int]]:
    """Split range(count) into at most ``chunks`` contiguous, near-equal (start, stop) parts."""
    chunks = max(1, min(chunks, count))
    edges = np.linspace(0, count, chunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def default_workers() -> int:
    return os.cpu_count() or 1
