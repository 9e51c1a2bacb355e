"""The dask backend: genome evaluations on a dask cluster (this machine, SLURM, or one that is
already running).

Kept apart from parallel.py because importing ``distributed`` takes a second and is an
optional dependency (``pip install 'blgnn-es[dask]'``). Jobs are the same small tuples the
loky backend sends (genomes and a DrawPlan, never data): each worker loads its tasks and
redraws a generation's batches from seeds, memoized per process (fitness.py). A worker
plugin compiles the numba kernel once per worker process, including workers that join
later (a restarted nanny, a new SLURM job).

A worker that dies mid-generation is not an error: the scheduler gives its unfinished jobs to
the other workers (up to ``distributed.scheduler.allowed-failures`` deaths per job), the
nanny or jobqueue replaces it, and the loss is logged. Jobs are pure, so the results do not
depend on where or how often they ran.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin

from blgnn_es.config.settings import ParallelSettings
from blgnn_es.errors import ConfigError
from blgnn_es.model.network import NetworkSpec
from blgnn_es.parallel.warmup import warm_up

WORKER_WAIT = "120s"  # how long a running scheduler may take to show its first worker


class KernelWarmUp(WorkerPlugin):
    """Compile (or load from numba's cache) the kernel when a worker starts."""

    name = "blgnn-es-kernel-warm-up"

    def __init__(self, nets: Sequence[NetworkSpec]) -> None:
        self.nets = tuple(nets)

    def setup(self, worker) -> None:
        warm_up(self.nets)


class DaskBackend:
    """Map jobs over a dask cluster; the client (and a cluster it started) live until close."""

    def __init__(
        self, client: Client, cluster: Any | None, workers: int, log: Callable[[str], None] = print
    ) -> None:
        self.client = client
        self.cluster = cluster  # None for a scheduler someone else runs
        self.workers = max(1, workers)
        self.log = log
        self.lost_workers = 0
        self._removals_seen = self._unexpected_removals()

    def prepare(self, nets: Sequence[NetworkSpec]) -> None:
        """Have every worker, present and future, compile the kernel for these networks."""
        self.client.register_plugin(KernelWarmUp(nets))

    def map(self, function: Callable, jobs: Sequence[tuple]) -> list[Any]:
        futures = [self.client.submit(function, *job, pure=False) for job in jobs]
        try:
            results = self.client.gather(futures)
        except BaseException:
            self.client.cancel(futures)  # the other jobs of a failed generation are moot
            raise
        self._count_losses(len(jobs))
        return results

    def _unexpected_removals(self) -> int:
        events = self.client.get_events("all")
        return sum(
            1
            for _, event in events
            if isinstance(event, dict)
            and event.get("action") == "remove-worker"
            and not event.get("expected")
        )

    def _count_losses(self, jobs: int) -> None:
        removals = self._unexpected_removals()
        lost = removals - self._removals_seen
        self._removals_seen = removals
        if lost > 0:
            self.lost_workers += lost
            self.log(
                f"dask: {lost} worker(s) lost while scoring {jobs} jobs; their jobs ran "
                f"again on the others ({self.lost_workers} lost in this session)"
            )

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def local_cluster(settings: ParallelSettings) -> LocalCluster:
    """Single-threaded worker processes on this machine, reachable on loopback only."""
    return LocalCluster(
        n_workers=settings.n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


def slurm_cluster(settings: ParallelSettings, scheduler_options: dict | None = None):
    """dask-jobqueue's SLURMCluster: each job runs ``cores`` single-threaded workers. No job
    is submitted until the cluster is scaled."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ConfigError(
            "parallel.cluster = \"slurm\" needs dask-jobqueue: pip install 'blgnn-es[dask]'"
        ) from None
    options: dict[str, Any] = {
        "cores": settings.cores,
        "processes": settings.cores,
        "memory": settings.memory,
        "walltime": settings.walltime,
        "queue": settings.queue,
        "account": settings.account,
        "job_extra_directives": list(settings.job_extra_directives),
        "job_script_prologue": list(settings.job_script_prologue),
        "interface": settings.interface,
        "job_name": "blgnn-es-worker",
    }
    if scheduler_options is not None:
        options["scheduler_options"] = scheduler_options
    return SLURMCluster(**{key: value for key, value in options.items() if value is not None})


def make_dask_backend(
    settings: ParallelSettings, log: Callable[[str], None] = print
) -> DaskBackend:
    """Connect to ``scheduler``, or start the configured cluster and connect to it."""
    if settings.scheduler is not None:
        try:
            client = Client(settings.scheduler, timeout="30s")
        except OSError as err:
            raise ConfigError(
                f"parallel.scheduler = {settings.scheduler!r}: cannot connect ({err})"
            ) from None
        workers = settings.workers
        if not workers:  # as many jobs per generation as there are worker threads
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT)
            except TimeoutError:
                client.close()
                raise ConfigError(
                    f"parallel.scheduler = {settings.scheduler!r} has no workers "
                    f"(waited {WORKER_WAIT}); start some, or set "
                    "parallel.workers"
                ) from None
            workers = sum(client.nthreads().values())
        return DaskBackend(client, None, workers, log)
    if settings.cluster == "slurm":
        if shutil.which("sbatch") is None:
            raise ConfigError(
                'parallel.cluster = "slurm": no sbatch on PATH; start the run '
                "where SLURM jobs can be submitted (a login node or a job)"
            )
        cluster = slurm_cluster(settings)
        cluster.adapt(minimum_jobs=settings.jobs, maximum_jobs=settings.jobs)
        log(
            f"dask: SLURM cluster at {cluster.scheduler_address}; {settings.jobs} job(s) of "
            f"{settings.cores} worker(s) submitted"
        )
    else:
        cluster = local_cluster(settings)
    return DaskBackend(Client(cluster), cluster, settings.n_workers, log)
