"""Generation time of configs/paper-mnist-cmaes.toml with 1 and 2 workers.

Runs a few generations with one worker (the serial backend: joblib runs n_jobs=1 in the
main process anyway) with BLAS held to one thread, i.e. one core; the same with BLAS free
to use both cores (numba's matrix products call OpenBLAS); and loky with 2 workers (one
BLAS thread each, loky's default). Takes the median generation time of each (the first
generation, which loads data and starts workers, is left out), and projects the wall time
of the full 400-generation R2 run. Not a test: it prints its figures.

    python bench/bench_generation.py --data-dir /work/shared/data [--generations 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from blgnn_es.config.settings import load_config
from blgnn_es.es.driver import evolve
from blgnn_es.es.rundir import RunDir
from blgnn_es.parallel.backends import make_backend

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "paper-mnist-cmaes.toml"


def generation_times(backend: str, workers: int, generations: int,
                     data_dir: str | None) -> list[float]:
    overrides = [f"cmaes.max_generations={generations + 1}", f"parallel.backend=\"{backend}\"",
                 f"parallel.workers={workers}", "report.validate_every=0",
                 "tasks.validate=[]"]
    config = load_config(CONFIG, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.create(Path(tmp) / "bench", config.to_toml())
        evolve(config, run, make_backend(config.parallel), data_dir=data_dir)
        return [record.seconds for record in run.read_metrics()][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--generations", type=int, default=4)
    args = parser.parse_args()
    config = load_config(CONFIG)
    total = config.cmaes.max_generations
    print(f"{CONFIG.name}: popsize {config.cmaes.popsize}, hidden {list(config.network.hidden)}"
          f", {config.unroll.steps} steps x batch {config.unroll.batch}, "
          f"{config.unroll.eval_batches} eval batches")
    medians = {}
    for label, backend, workers, blas in (("1 worker, 1 BLAS thread", "serial", 1, 1),
                                          ("1 worker, BLAS on 2 threads", "serial", 1, None),
                                          ("2 workers (loky)", "loky", 2, None)):
        began = time.perf_counter()
        with threadpool_limits(blas):
            times = generation_times(backend, workers, args.generations, args.data_dir)
        medians[label] = statistics.median(times)
        print(f"{label}: generation times {[round(t, 2) for t in times]} s, "
              f"median {medians[label]:.2f} s (bench {time.perf_counter() - began:.0f} s)")
    for label in ("1 worker, 1 BLAS thread", "1 worker, BLAS on 2 threads"):
        print(f"speed-up of 2 workers over {label}: "
              f"{medians[label] / medians['2 workers (loky)']:.2f}x")
    for label, median in medians.items():
        hours = median * total / 3600
        print(f"projected {total} generations, {label}: {hours:.2f} h "
              f"(+ validation of the mean every {config.report.validate_every} generations)")


if __name__ == "__main__":
    main()
