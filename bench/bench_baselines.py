"""Time the learning-rate sweep of each baseline on MNIST 14x14 (196-512-10).

The sweep (pass 1 of ``sweep``): 13 rates x 5 seeds x 100 steps of batch 128, validation
probes of 2560 held-out training examples at steps 1, 5, 10, 20, 50, 100. Each repeat times
the sweep with this checkout's ``blgnn_es/baselines/gradient.py`` and, with ``--baseline``,
with that file from another checkout (an earlier commit, loaded beside this one), in the
same process one after the other, and checks both give the same validation accuracies. The
limit: NumPy's float32 matmul timed on the same products, as many as the sweep needs.
Times are medians over repeats of process CPU time (on one thread the same as wall time on
an idle machine, and less disturbed by other jobs on a shared one) and of wall time.
Run from the repository root:

    git worktree add /tmp/base <commit>
    BLGNN_ES_DATA=../shared/data python bench/bench_baselines.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from blgnn_es.baselines import gradient
from blgnn_es.model.network import NetworkSpec
from blgnn_es.tasks import draw_unroll, load_task

SEEDS, STEPS, BATCH, EVAL = 5, 100, 128, 20
BUDGETS = (1, 5, 10, 20, 50, 100)
SIZES = (196, 512, 10)


def load_baseline(checkout: Path, threads: int):
    """That checkout's gradient.py as a module of its own (it imports the rest of the
    package from this checkout), its BLAS thread limit set to ``threads``."""
    path = checkout / "blgnn_es" / "baselines" / "gradient.py"
    spec = importlib.util.spec_from_file_location("baseline_gradient", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.threadpool_limits = lambda limits, user_api: threadpool_limits(threads, user_api)
    module.BLAS_THREADS = threads
    return module


def draws_for(net: NetworkSpec) -> list[dict]:
    task = load_task("mnist:resolution=14", seed=0)
    draws = []
    for seed in range(SEEDS):
        data = draw_unroll(task, seed, STEPS, BATCH, EVAL)
        val = draw_unroll(task, 1000 + seed, 0, BATCH, EVAL)  # stand-in held-out examples
        draws.append(
            {
                "start": gradient.initial_weights(net, seed),
                "feedback": gradient.feedback_weights(net, seed),
                "x": data.x_train,
                "y": data.y_train,
                "x_val": val.x_eval,
                "y_val": val.y_eval,
            }
        )
    return draws


def run_sweep(module, mlp, optimizer: str, rates, draws: list[dict]) -> tuple:
    """CPU and wall seconds of the sweep, and its validation accuracy (seeds, rates, budgets)."""
    cpu, wall = time.process_time(), time.perf_counter()
    validation = [
        module.train_rates(
            mlp,
            optimizer,
            rates,
            d["start"],
            d["x"],
            d["y"],
            [module.Probe(d["x_val"], d["y_val"], BUDGETS)],
            d["feedback"],
        ).accuracy[0]
        for d in draws
    ]
    return time.process_time() - cpu, time.perf_counter() - wall, np.array(validation)


def sgemm_limit(rates: int, threads: int, repeats: int = 30) -> tuple[float, float]:
    """Seconds NumPy's float32 matmul takes for the sweep's products (per network and step:
    two forward, two weight-gradient and one backward product; per network and budget: the
    forward on the validation examples), and their GFLOP."""
    n0, n1, n2 = SIZES
    val = EVAL * BATCH
    per_step = [((BATCH, n0), (n0, n1)), ((BATCH, n1), (n1, n2)), ((n0, BATCH), (BATCH, n1)),
                ((n1, BATCH), (BATCH, n2)), ((BATCH, n2), (n2, n1))]
    per_probe = [((val, n0), (n0, n1)), ((val, n1), (n1, n2))]
    counts = [(shape, SEEDS * rates * STEPS) for shape in per_step]
    counts += [(shape, SEEDS * rates * len(BUDGETS)) for shape in per_probe]
    rng = np.random.default_rng(0)
    seconds = flops = 0.0
    with threadpool_limits(threads, "blas"):
        for (a_shape, b_shape), count in counts:
            a = rng.uniform(-1, 1, a_shape).astype(np.float32)
            b = rng.uniform(-1, 1, b_shape).astype(np.float32)
            out = np.empty((a_shape[0], b_shape[1]), np.float32)
            taken = []
            for _ in range(repeats):
                start = time.process_time() if threads == 1 else time.perf_counter()
                np.matmul(a, b, out=out)
                taken.append((time.process_time() if threads == 1 else time.perf_counter()) - start)
            seconds += count * float(np.median(taken))
            flops += count * 2.0 * a_shape[0] * a_shape[1] * b_shape[1]
    return seconds, flops / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout to compare against")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "momentum", "adam", "fa"])
    args = parser.parse_args()

    gradient.BLAS_THREADS = args.threads
    baseline = load_baseline(args.baseline, args.threads) if args.baseline else None
    net = NetworkSpec(SIZES, states=2)
    mlp = gradient.mlp_for(net)
    rates = gradient.default_rates()
    draws = draws_for(net)
    limit, gflop = sgemm_limit(len(rates), args.threads)
    clock = "CPU" if args.threads == 1 else "wall"
    print(
        f"MNIST 14x14 {SIZES}, {len(rates)} rates x {SEEDS} seeds x {STEPS} steps, batch "
        f"{BATCH}, float32, {args.threads} BLAS thread(s), medians of {args.repeats}; "
        f"sgemm limit {limit:.2f} s {clock} ({gflop:.0f} GFLOP, {gflop / limit:.0f} GFLOP/s)"
    )
    for optimizer in args.optimizers:
        times: dict[str, list[tuple[float, float]]] = {"new": [], "old": []}
        gap = 0.0
        for _ in range(args.repeats):
            *taken, new = run_sweep(gradient, mlp, optimizer, rates, draws)
            times["new"].append(taken)
            if baseline is not None:
                baseline_mlp = baseline.mlp_for(net)
                *taken, old = run_sweep(baseline, baseline_mlp, optimizer, rates, draws)
                times["old"].append(taken)
                gap = max(gap, float(np.abs(new - old).max()))
        cpu, wall = np.median(times["new"], axis=0)
        line = f"{optimizer:>9}: {cpu:5.2f} s CPU, {wall:5.2f} s wall"
        if baseline is not None:
            old_cpu, old_wall = np.median(times["old"], axis=0)
            line += (
                f"; baseline {old_cpu:5.2f} s CPU, {old_wall:5.2f} s wall: "
                f"{old_cpu / cpu:4.2f}x CPU, {old_wall / wall:4.2f}x wall; "
                f"largest validation accuracy gap {gap:.4f}"
            )
        mine = cpu if args.threads == 1 else wall
        print(f"{line}; {mine / limit:4.2f}x the sgemm limit", flush=True)


if __name__ == "__main__":
    main()
