"""Kernel speed on the paper's two workloads, against NumPy on the same shapes, one thread.

    python bench/bench_kernel.py [--repeats 15]

1. The CMA-ES workload of R2: 196-512-10, k = 2, batch 128, 15 learning steps, then 20
   evaluation batches of 128, float32. Prints evaluations/s and the GFLOP/s of the products
   SPEC.md requires, beside NumPy's float32 matmul GFLOP/s timed in this run on the same
   list of product shapes.
2. The toy workload: 2-20-1, k = 2, batch 128, 10 learning steps, one evaluation batch:
   evaluations/s, one genome per call and a population of 100 per call.
3. The kernel against the plain-NumPy oracle (blgnn_es/model/reference.py) on both workloads.

All figures are medians over repeats; the ratios come from this one run. Not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from blgnn_es.learner import run_population, run_unroll  # noqa: E402
from blgnn_es.model import reference  # noqa: E402
from blgnn_es.model.genome import hebbian_genome  # noqa: E402
from blgnn_es.model.network import NetworkSpec, encode_targets  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm (compile, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def required_products(net: NetworkSpec, steps: int, batch: int, eval_batches: int):
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
        per_call = (
            median_seconds(
                lambda a=a, b=b, out=out, reps=reps: [
                    np.matmul(a, b, out=out) for _ in range(reps)
                ],
                repeats,
            )
            / reps
        )
        total += per_call * count
    return total


def workload(sizes, steps, batch, eval_batches, seed=0):
    net = NetworkSpec(layer_sizes=sizes, states=2)
    rng = np.random.default_rng(seed)
    n_classes = max(sizes[-1], 2)
    x = rng.uniform(0, 1, (steps, batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, n_classes, (steps, batch))
    xe = rng.uniform(0, 1, (eval_batches, batch, sizes[0])).astype(np.float32)
    ye = rng.integers(0, n_classes, (eval_batches, batch))
    return net, hebbian_genome(2, 0.01), x, y, xe, ye


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rep = args.repeats

    # 1. the paper's CMA-ES workload
    net, genome, x, y, xe, ye = workload((196, 512, 10), 15, 128, 20)
    weights = net.init_weights(0)
    kernel_s = median_seconds(lambda: run_unroll(genome, net, x, y, xe, ye, weights=weights), rep)
    products = required_products(net, 15, 128, 20)
    flops = sum(2 * m * inner * n * count for m, inner, n, count in products)
    numpy_s = numpy_matmul_seconds(products, rep)
    print("workload 1: 196-512-10, k=2, B=128, T=15, 20 eval batches, float32, one thread")
    print(
        f"  kernel        {kernel_s * 1e3:8.1f} ms/evaluation  {1 / kernel_s:7.1f} evals/s  "
        f"{flops / kernel_s / 1e9:6.1f} GFLOP/s ({flops / 1e9:.2f} GFLOP required)"
    )
    print(
        f"  numpy matmul  {numpy_s * 1e3:8.1f} ms for the same products  "
        f"{flops / numpy_s / 1e9:6.1f} GFLOP/s"
    )
    print(f"  kernel / numpy matmul rate: {numpy_s / kernel_s:.0%}")

    # 2. the toy workload
    tnet, tgenome, tx, ty, txe, tye = workload((2, 20, 1), 10, 128, 1)
    tweights = tnet.init_weights(0)
    single_s = median_seconds(
        lambda: run_unroll(tgenome, tnet, tx, ty, txe, tye, weights=tweights), rep * 20
    )
    population = np.repeat(tgenome[None], 100, axis=0)
    pop_s = (
        median_seconds(
            lambda: run_population(population, tnet, tx, ty, txe, tye, weights=tweights), rep
        )
        / 100
    )
    print("workload 2: 2-20-1, k=2, B=128, T=10, 1 eval batch, float32, one thread")
    print(
        f"  run_unroll (one genome per call)   {single_s * 1e6:7.0f} us  {1 / single_s:7.0f} "
        "evals/s"
    )
    print(f"  run_population (100 per call)      {pop_s * 1e6:7.0f} us  {1 / pop_s:7.0f} evals/s")

    # 3. against the NumPy oracle
    for name, (n, g, xs, ys, xes, yes, w) in {
        "workload 1": (net, genome, x, y, xe, ye, weights),
        "workload 2": (tnet, tgenome, tx, ty, txe, tye, tweights),
    }.items():
        targets = encode_targets(ys, n.n_outputs)
        oracle_s = median_seconds(
            lambda n=n, g=g, xs=xs, t=targets, xes=xes, yes=yes, w=w: reference.unroll(
                n, g, w[0], w[1], xs, t, xes, yes
            ),
            max(3, rep // 3),
        )
        ours = kernel_s if name == "workload 1" else single_s
        print(
            f"{name}: numpy oracle {oracle_s * 1e3:8.1f} ms, kernel {ours * 1e3:7.2f} ms: "
            f"kernel {oracle_s / ours:5.1f}x faster"
        )


if __name__ == "__main__":
    main()
