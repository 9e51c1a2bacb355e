"""Generation time of configs/paper-mnist-cmaes.toml with 1 and 2 workers.

Runs a few generations with loky and 1 worker, loky and 2 workers, and (for reference) the
serial backend in this process, takes the median generation time of each (the first
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

from blgnn_es.config import load_config
from blgnn_es.evolve import evolve
from blgnn_es.parallel import make_backend
from blgnn_es.rundir import RunDir

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
        return [record["seconds"] for record in run.read_metrics()][1:]


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
    for label, backend, workers in (("loky, 1 worker", "loky", 1),
                                    ("loky, 2 workers", "loky", 2),
                                    ("serial (main process)", "serial", 1)):
        began = time.perf_counter()
        times = generation_times(backend, workers, args.generations, args.data_dir)
        medians[label] = statistics.median(times)
        print(f"{label}: generation times {[round(t, 2) for t in times]} s, "
              f"median {medians[label]:.2f} s (bench {time.perf_counter() - began:.0f} s)")
    speedup = medians["loky, 1 worker"] / medians["loky, 2 workers"]
    print(f"speed-up, 2 workers over 1: {speedup:.2f}x")
    for label, median in medians.items():
        hours = median * total / 3600
        print(f"projected {total} generations, {label}: {hours:.2f} h "
              f"(+ validation of the mean every {config.report.validate_every} generations)")


if __name__ == "__main__":
    main()
