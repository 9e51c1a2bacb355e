"""Time one meta-training generation of the ``hebbian`` baseline (baselines/hebbian.py).

A generation scores 64 candidate rules on every training task × 4 draws: T learning steps
of batch B and one test probe each. The limit beside it: NumPy's float32 batched matmul on
the same products (forward, and the pre × post correlation of every layer), timed in the
same run. Medians of process CPU time over repeats. Run from the repository root:

    BLGNN_ES_DATA=../shared/data python bench/bench_hebbian.py [--repeats 3] [--mnist]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from blgnn_es.baselines import hebbian
from blgnn_es.config.baselines import BaselineSettings
from blgnn_es.evaluation import EvaluationRequest, SampleSeeds, draw_sample
from blgnn_es.tasks import parse_task_spec

SETTINGS = {
    "R3 toy (2-20-1, 3 tasks, 10 steps)": ("genomes/r3-toy-k2-mult-pop64-seed0.npy", "circles"),
    "R2 MNIST 14x14 (196-512-10, 15 steps)": ("genomes/r2-mnist14-k2-signed.npy",
                                              "mnist:resolution=14"),
}
POPSIZE = 64


def matmul_limit(samples, popsize: int) -> float:
    """CPU seconds of the batched float32 products one generation needs on these samples."""
    rng = np.random.default_rng(0)
    began = time.process_time()
    for sample in samples:
        sizes = sample.net.layer_sizes
        steps, batch = sample.data.x_train.shape[:2]
        probe = sample.data.x_eval.reshape(-1, sizes[0]).shape[0]
        for n, m in zip(sizes, sizes[1:], strict=False):
            w = rng.standard_normal((popsize, n, m), dtype=np.float32)
            a = rng.standard_normal((popsize, batch, n), dtype=np.float32)
            y = rng.standard_normal((popsize, batch, m), dtype=np.float32)
            p = rng.standard_normal((popsize, probe, n), dtype=np.float32)
            for _ in range(steps):
                np.matmul(a, w)
                np.matmul(a.transpose(0, 2, 1), y)
            np.matmul(p, w)
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mnist", action="store_true", help="also time R2's MNIST setting")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    settings = BaselineSettings(optimizers=("hebbian",))
    for label, (genome, task) in SETTINGS.items():
        if "MNIST" in label and not args.mnist:
            continue
        request = EvaluationRequest.build(genome, tasks=(task,), data_dir=args.data_dir)
        tasks, builder, (steps, batch, eval_batches) = hebbian.training_plan(request, settings)
        samples = [draw_sample(parse_task_spec(spec), SampleSeeds(0, 0, i, r, "bench-"),
                               builder, steps=steps, batch=batch, eval_batches=eval_batches,
                               data_dir=args.data_dir)
                   for i, spec in enumerate(tasks) for r in range(settings.hebbian_replicas)]
        rules = np.random.default_rng(1).normal(0, 0.1, (POPSIZE, hebbian.rule_size(
            len(builder.hidden) + 1)))
        times, limits = [], []
        with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
            for _ in range(args.repeats):
                began = time.process_time()
                hebbian._score(rules, samples, settings)
                times.append(time.process_time() - began)
                limits.append(matmul_limit(samples, POPSIZE))
        t, limit = statistics.median(times), statistics.median(limits)
        print(f"{label}: {t:.3f} CPU-s a generation of {POPSIZE} "
              f"({len(samples)} draws); the same products in NumPy {limit:.3f} s: "
              f"{limit / t:.0%} of the time is the products")


if __name__ == "__main__":
    main()
