"""Time a learning-rate sweep of each baseline on MNIST 14x14 (196-512-10).

13 rates x 5 seeds x 100 steps of batch 128, validation probes of 2560 held-out training
examples at steps 1, 5, 10, 20, 50, 100 (the sweep, pass 1), then the chosen rates with a
test curve (2560 test examples after every step, pass 2). Run from the repository root:

    BLGNN_ES_DATA=../shared/data python bench/bench_baselines.py
"""

from __future__ import annotations

import time

from blgnn_es.baselines.gradient import (
    Probe,
    SeedDraw,
    default_rates,
    initial_weights,
    mlp_for,
    sweep,
    train_rates,
)
from blgnn_es.model.network import NetworkSpec
from blgnn_es.tasks import draw_unroll, load_task

SEEDS, STEPS, BATCH, EVAL = 5, 100, 128, 20
BUDGETS = (1, 5, 10, 20, 50, 100)


def main() -> None:
    task = load_task("mnist:resolution=14", seed=0)
    net = NetworkSpec((196, 512, 10), states=2)
    mlp = mlp_for(net)
    rates = default_rates()
    draws = []
    for seed in range(SEEDS):
        data = draw_unroll(task, seed, STEPS, BATCH, EVAL)
        val = draw_unroll(task, 1000 + seed, 0, BATCH, EVAL)  # stand-in held-out examples
        draws.append(
            SeedDraw(
                initial_weights(net, seed),
                data.x_train,
                data.y_train,
                val.x_eval,
                val.y_eval,
                data.x_eval,
                data.y_eval,
            )
        )
    print(
        f"MNIST 14x14 {net.layer_sizes}, {len(rates)} rates x {SEEDS} seeds x {STEPS} steps, "
        f"batch {BATCH}, float32"
    )
    for optimizer in ("sgd", "momentum", "adam"):
        start = time.perf_counter()
        for draw in draws:
            train_rates(
                mlp,
                optimizer,
                rates,
                draw.start,
                draw.x_train,
                draw.y_train,
                [Probe(draw.x_validation, draw.y_validation, BUDGETS)],
            )
        sweep_seconds = time.perf_counter() - start
        start = time.perf_counter()
        result = sweep(mlp, optimizer, rates, draws, BUDGETS)
        total = time.perf_counter() - start
        best = result.test[:, -1].mean()
        print(
            f"{optimizer:>9}: sweep {sweep_seconds:5.1f} s; with chosen-rate test curves "
            f"{total:5.1f} s; step-100 test accuracy {best:.3f} at lr "
            f"{result.rate_at(STEPS):.3g}"
        )


if __name__ == "__main__":
    main()
