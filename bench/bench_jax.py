"""The JAX learner's speed against the numba learner on the paper's two workloads, same run.

    python bench/bench_jax.py [--repeats 5] [--r2-population 20] [--threads 1]

1. R2's CMA-ES workload: 196-512-10, k = 2, batch 128, 15 learning steps, then 20
   evaluation batches of 128, float32; one population per call.
2. The toy workload: 2-20-1, k = 2, batch 128, 10 learning steps, one evaluation batch,
   float32; a population of 100 per call.
3. Gradient meta-training on R2 (``--only grad``, or with the others): one meta-batch of
   ``--meta-batch`` samples (default 4) through ``jax_learner.meta_gradient`` (the unroll
   and its backward pass, CE loss), in seconds per sample and in numba unrolls of the same
   sample (the cost a gradient step has against a CMA-ES evaluation).

Both learners score the same genomes (the Hebbian start plus noise) with ``run_population``
on the same batches and synapse seed. Prints population evaluations per second (medians over
repeats, after a warm call) and, separately, JAX's compile time (first call minus a warm
one). ``--threads 1`` (the default) runs XLA on one thread, as the kernel runs (parallelism
in blgnn-es is across processes); ``--threads 0`` leaves XLA its default thread pool.
Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys


def _threads_from_argv() -> int:
    """--threads must act before JAX is imported (XLA reads its flags once)."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return 1


if _threads_from_argv() == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

from blgnn_es import jax_learner, learner  # noqa: E402
from blgnn_es.model.genome import hebbian_genome  # noqa: E402
from blgnn_es.model.network import NetworkSpec  # noqa: E402


def workload(sizes, steps, batch, eval_batches, population, seed=0):
    rng = np.random.default_rng(seed)
    net = NetworkSpec(layer_sizes=sizes, states=2, dtype="float32")
    n_in, n_out = sizes[0], sizes[-1]
    classes = 2 if n_out == 1 else n_out
    x = rng.uniform(0, 1, (steps, batch, n_in)).astype(np.float32)
    y = rng.integers(0, classes, (steps, batch))
    x_eval = rng.uniform(0, 1, (eval_batches, batch, n_in)).astype(np.float32)
    y_eval = rng.integers(0, classes, (eval_batches, batch))
    genomes = hebbian_genome(2) + rng.normal(0, 0.05, (population, 23))
    return net, genomes, (x, y, x_eval, y_eval)


def timed(fn, repeats: int) -> tuple[float, float]:
    """(first call's seconds, median of ``repeats`` warm calls)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def bench(name, net, genomes, data, repeats):
    population = len(genomes)
    run = {
        "numba": lambda: learner.run_population(genomes, net, *data, seed=1),
        "jax": lambda: jax_learner.run_population(genomes, net, *data, seed=1),
    }
    rows = {}
    for learner_name, fn in run.items():
        first, median = timed(fn, repeats)
        rows[learner_name] = (first, median)
        print(f"{name:5s} {learner_name:5s} P={population:4d}: {median * 1e3:9.1f} ms per call, "
              f"{population / median:9.1f} evaluations/s"
              + (f", compile {first - median:5.2f} s" if learner_name == "jax" else ""),
              flush=True)
    ratio = rows["numba"][1] / rows["jax"][1]
    print(f"{name:5s} jax / numba throughput: {ratio:.2f}x", flush=True)
    # same genomes, same data: the two learners agree (float32 tolerance)
    a, b = (fn() for fn in run.values())
    assert (a.diverged == b.diverged).all(), "learners disagree on divergence"
    ok = ~a.diverged
    gap = float(np.abs(a.accuracy[ok] - b.accuracy[ok]).max()) if ok.any() else 0.0
    print(f"{name:5s} max accuracy gap numba vs jax: {gap:.4f}", flush=True)


class _Sample:
    """What meta_gradient reads of an evaluation.Sample."""

    def __init__(self, net, data, seed):
        from types import SimpleNamespace

        self.net, self.synapse_seed, self.task_name = net, seed, "synthetic"
        self.data = SimpleNamespace(x_train=data[0], y_train=data[1], x_eval=data[2],
                                    y_eval=data[3])


def bench_gradient(meta_batch: int, repeats: int) -> None:
    net, genomes, _ = workload((196, 512, 10), 15, 128, 20, 1)
    samples = [_Sample(net, workload((196, 512, 10), 15, 128, 20, 1, seed=s)[2], s)
               for s in range(meta_batch)]
    genome = genomes[0]
    first, median = timed(lambda: jax_learner.meta_gradient(genome, samples), repeats)
    data = samples[0].data
    _, unroll = timed(lambda: learner.run_population(
        genome[None], net, data.x_train, data.y_train, data.x_eval, data.y_eval, seed=0),
        repeats)
    per_sample = median / meta_batch
    print(f"grad  jax   meta-batch {meta_batch}: {median:6.2f} s per step, {per_sample:6.3f} s "
          f"per sample, compile {first - median:5.2f} s", flush=True)
    print(f"grad  numba one unroll of a sample: {unroll:6.3f} s; a sample's gradient costs "
          f"{per_sample / unroll:.1f} numba unrolls", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--r2-population", type=int, default=20)
    parser.add_argument("--toy-population", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="1: one XLA thread; 0: default")
    parser.add_argument("--only", choices=("r2", "toy", "grad"), default=None)
    parser.add_argument("--meta-batch", type=int, default=4)
    args = parser.parse_args()
    import jax

    print(f"jax {jax.__version__} on {jax.devices()}; XLA threads: "
          f"{'1' if args.threads == 1 else 'default'}; cores: {os.cpu_count()}", flush=True)
    if args.only in (None, "toy"):
        bench("toy", *workload((2, 20, 1), 10, 128, 1, args.toy_population), args.repeats)
    if args.only in (None, "r2"):
        bench("r2", *workload((196, 512, 10), 15, 128, 20, args.r2_population), args.repeats)
    if args.only in (None, "grad"):
        bench_gradient(args.meta_batch, args.repeats)


if __name__ == "__main__":
    main()
