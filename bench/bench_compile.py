"""Numba compile time of a first quickstart run, against a baseline checkout in the same run.

    python bench/bench_compile.py [--baseline DIR] [--runs 3]

Each run is a fresh process with an empty ``NUMBA_CACHE_DIR`` that does what
``blgnn-es evolve --config configs/quickstart.toml`` does before its first generation:
:func:`blgnn_es.parallel.warmup.warm_up` on the quickstart network (float32, 2-20-1). A
second process on the now filled cache gives the load time every later run pays. Runs
alternate between the trees (baseline, current, ...); prints medians and the per-pair ratio.
Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SCRIPT = """
import time
began = time.perf_counter()
from blgnn_es.model.network import NetworkSpec
from blgnn_es.parallel.warmup import warm_up
seconds = warm_up([NetworkSpec(layer_sizes=(2, 20, 1), states=2, normalization=True)])
print(seconds, time.perf_counter() - began)
"""


def timed(tree: Path, cache: str) -> tuple[float, float]:
    """(seconds in warm_up, seconds of the whole process after start-up)."""
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=cache)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    warm, total = (float(v) for v in done.stdout.split())
    return warm, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    trees = {"current": HERE} | ({"baseline": args.baseline} if args.baseline else {})
    cold: dict[str, list[float]] = {label: [] for label in trees}
    warm: dict[str, list[float]] = {label: [] for label in trees}
    for i in range(args.runs):
        for label in sorted(trees, reverse=i % 2 == 1):
            with tempfile.TemporaryDirectory() as cache:
                cold[label].append(timed(trees[label], cache)[0])
                warm[label].append(timed(trees[label], cache)[0])
            print(f"run {i + 1} {label}: cold {cold[label][-1]:.1f} s, from the cache "
                  f"{warm[label][-1]:.2f} s", flush=True)
    for label in trees:
        print(f"{label}: first run compiles in {statistics.median(cold[label]):.1f} s, later "
              f"runs load the cache in {statistics.median(warm[label]):.2f} s (medians of "
              f"{args.runs})")
    if args.baseline:
        ratios = [b / c for b, c in zip(cold["baseline"], cold["current"], strict=True)]
        print(f"compile time baseline/current: median {statistics.median(ratios):.2f}x "
              f"(runs {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
