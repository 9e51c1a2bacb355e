"""Kernel speed on the paper's two workloads, against a baseline checkout and NumPy, one thread.

    python bench/bench_kernel.py [--baseline DIR] [--runs 5] [--repeats 9]

Each run is a fresh process that times one implementation (this tree, or with --baseline
the blgnn_es of another checkout, e.g. ``git worktree add /tmp/base <commit>``); runs
alternate (baseline, current, baseline, ...) so both see the same machine load, and every
run also times NumPy on the same products and one 2048×2048 float32 product (sgemm).

1. R2's CMA-ES unroll: 196-512-10, k = 2, batch 128, 15 steps, then 20 evaluation batches
   of 128, float32: evaluations/s, and the GFLOP/s of the products SPEC.md requires against
   NumPy's on the same shapes and against the 2048² sgemm.
2. The toy unroll: 2-20-1, k = 2, batch 128, 10 steps, one evaluation batch, float32:
   evaluations/s one genome per call and in a population of 100 (``run_population``).

Prints the medians over runs and the median of the per-pair ratios current/baseline.
Not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parents[1]


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm (compile, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def required_products(net, steps: int, batch: int, eval_batches: int):
    """(m, inner, n, count) of every matrix product SPEC.md §3 and §6 require.

    Forward: k per layer, but only state 0 of the output under label feedback (its other
    states are overwritten). Backward: k per hidden layer. Hebbian: ΔW for every layer,
    ΔV for layers 1..L-1 (V_0 is never read); one channel when states are shared.
    """
    k, sizes, n_layers = net.states, net.layer_sizes, net.n_layers
    hebb_channels = 1 if net.shared_states else k
    products = []
    for layer in range(n_layers):
        n_in, n_out = sizes[layer] + 1, sizes[layer + 1]
        fwd_channels = 1 if layer == n_layers - 1 and net.feedback == "label" else k
        products.append((batch, n_in, n_out, fwd_channels * steps))
        products.append((n_in, batch, n_out, hebb_channels * steps))
        eval_channels = 1 if layer == n_layers - 1 else k
        products.append((batch, n_in, n_out, eval_channels * eval_batches))
    for layer in range(1, n_layers):
        products.append((batch, sizes[layer + 1], sizes[layer], k * steps))  # backward
        if not net.tied:
            products.append((sizes[layer + 1], batch, sizes[layer], hebb_channels * steps))
    return products


def numpy_matmul_seconds(products, repeats: int) -> float:
    """NumPy float32 time for the same list of products (each shape timed on its own)."""
    rng = np.random.default_rng(0)
    total = 0.0
    for m, inner, n, count in products:
        a = rng.standard_normal((m, inner)).astype(np.float32)
        b = rng.standard_normal((inner, n)).astype(np.float32)
        out = np.empty((m, n), dtype=np.float32)
        reps = max(1, 2000 // max(count, 1))
        per_call = median_seconds(
            lambda a=a, b=b, out=out, reps=reps: [np.matmul(a, b, out=out) for _ in range(reps)],
            repeats) / reps
        total += per_call * count
    return total


def sgemm_gflops(repeats: int, size: int = 2048) -> float:
    """NumPy's GFLOP/s on one size×size float32 product: the machine's BLAS limit."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((size, size)).astype(np.float32) for _ in range(2))
    out = np.empty_like(a)
    seconds = median_seconds(lambda: np.matmul(a, b, out=out), max(3, repeats // 3))
    return 2 * size**3 / seconds / 1e9


def workload(sizes, steps, batch, eval_batches, seed=0):
    from blgnn_es.model.genome import hebbian_genome
    from blgnn_es.model.network import NetworkSpec

    net = NetworkSpec(layer_sizes=sizes, states=2)
    rng = np.random.default_rng(seed)
    n_classes = max(sizes[-1], 2)
    x = rng.uniform(0, 1, (steps, batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, n_classes, (steps, batch))
    xe = rng.uniform(0, 1, (eval_batches, batch, sizes[0])).astype(np.float32)
    ye = rng.integers(0, n_classes, (eval_batches, batch))
    return net, hebbian_genome(2, 0.01), x, y, xe, ye


def measure(repeats: int) -> dict[str, float]:
    """One run's figures for the blgnn_es on sys.path (seconds per evaluation, GFLOP/s)."""
    from blgnn_es.learner import run_population, run_unroll

    figures = {}
    net, genome, x, y, xe, ye = workload((196, 512, 10), 15, 128, 20)
    weights = net.init_weights(0)
    figures["r2_s"] = median_seconds(
        lambda: run_unroll(genome, net, x, y, xe, ye, weights=weights), repeats)
    products = required_products(net, 15, 128, 20)
    figures["r2_gflop"] = sum(2 * m * inner * n * count for m, inner, n, count in products) / 1e9
    figures["numpy_s"] = numpy_matmul_seconds(products, repeats)
    figures["sgemm_gflops"] = sgemm_gflops(repeats)
    tnet, tgenome, tx, ty, txe, tye = workload((2, 20, 1), 10, 128, 1)
    tweights = tnet.init_weights(0)
    figures["toy_single_s"] = median_seconds(
        lambda: run_unroll(tgenome, tnet, tx, ty, txe, tye, weights=tweights), repeats * 20)
    rng = np.random.default_rng(2)
    population = tgenome[None] + 0.01 * rng.standard_normal((100, tgenome.size))
    figures["toy_population_s"] = median_seconds(
        lambda: run_population(population, tnet, tx, ty, txe, tye, weights=tweights),
        repeats) / 100
    return figures


def run_one(tree: Path, repeats: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(repeats)],
                          env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(label: str, runs: list[dict[str, float]]) -> dict[str, float]:
    med = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
    rate = med["r2_gflop"] / med["r2_s"]
    print(f"{label}: R2 {med['r2_s'] * 1e3:.1f} ms ({1 / med['r2_s']:.1f} evals/s, "
          f"{rate:.1f} GFLOP/s; NumPy on the same products "
          f"{med['r2_gflop'] / med['numpy_s']:.1f} GFLOP/s, sgemm 2048² "
          f"{med['sgemm_gflops']:.1f} GFLOP/s: kernel at {med['numpy_s'] / med['r2_s']:.0%} "
          f"of NumPy, {rate / med['sgemm_gflops']:.0%} of sgemm)")
    print(f"{label}: toy one genome per call {1 / med['toy_single_s']:,.0f}/s, population of "
          f"100 {1 / med['toy_population_s']:,.0f}/s")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of the previous kernel, timed in the same run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.repeats)))
        return
    trees = {"current": HERE} | ({"baseline": args.baseline} if args.baseline else {})
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for i in range(args.runs):
        for label in sorted(trees, reverse=i % 2 == 1):
            runs[label].append(run_one(trees[label], args.repeats))
            print(f"run {i + 1} {label}: " + ", ".join(
                f"{key} {value:.4g}" for key, value in runs[label][-1].items()), flush=True)
    print("one thread, float32, medians of", args.runs, "runs")
    for label in trees:
        report(label, runs[label])
    if args.baseline:
        for key, name in (("r2_s", "R2"), ("toy_single_s", "toy one per call"),
                          ("toy_population_s", "toy population of 100")):
            ratios = [b[key] / c[key] for b, c in zip(runs["baseline"], runs["current"],
                                                     strict=True)]
            print(f"speed-up current/baseline, {name}: median {np.median(ratios):.2f}x "
                  f"(runs {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
