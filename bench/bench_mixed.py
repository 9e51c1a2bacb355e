"""What a mixed-shape fitness costs against the same tasks scored separately, same run.

    python bench/bench_mixed.py [--repeats 7] [--popsize 24]

One generation's fitness (``fitness.score_chunk``) of a population on train tasks of three
shapes at once (xor: 2 -> 1, digits: 64 -> 10, blobs5: 2 -> 5; hidden 20, k = 2, 10 steps of
128, 2 evaluation batches, 2 replicas), against the sum of three runs that score the same
genomes on one task each, with the same draws (task index and seeds as in the mix). Draws
are made before timing (as a worker's cache holds them). Prints medians and their ratio;
one thread. Not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from blgnn_es.config.settings import load_config_text  # noqa: E402
from blgnn_es.es.driver import make_plans  # noqa: E402
from blgnn_es.evaluation import draw_samples  # noqa: E402
from blgnn_es.fitness import score_genomes  # noqa: E402
from blgnn_es.model.genome import hebbian_genome  # noqa: E402

CONFIG = """
[network]
hidden = [20]
[tasks]
train = ["xor", "digits", "blobs5"]
[unroll]
steps = 10
batch = 128
eval_batches = 2
replicas = 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--popsize", type=int, default=24)
    args = parser.parse_args()
    config = load_config_text(CONFIG)
    samples = draw_samples(make_plans(config).train, 1)
    genomes = hebbian_genome(2)[None] + np.random.default_rng(0).normal(
        0, 0.05, (args.popsize, 23))
    parts = [[s for s in samples if s.task_name == name] for name in ("xor", "digits",
                                                                       "blobs5")]
    score_genomes(genomes, samples, config.fitness)  # compile / load the kernel
    mixed, separate = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        score_genomes(genomes, samples, config.fitness)
        mixed.append(time.perf_counter() - began)
        began = time.perf_counter()
        for part in parts:
            score_genomes(genomes, part, config.fitness)
        separate.append(time.perf_counter() - began)
    per_eval = 1e3 / args.popsize
    m, s = statistics.median(mixed), statistics.median(separate)
    print(f"population {args.popsize}, {len(samples)} samples of 3 shapes, one thread, "
          f"medians of {args.repeats}")
    print(f"mixed fitness:        {m * per_eval:.3f} ms per genome evaluation")
    print(f"tasks one at a time:  {s * per_eval:.3f} ms per genome evaluation")
    print(f"mixed / separate: {m / s:.3f}x (runs: "
          f"{', '.join(f'{a / b:.2f}' for a, b in zip(mixed, separate, strict=True))})")


if __name__ == "__main__":
    main()
