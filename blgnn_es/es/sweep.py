"""Seed sweeps on one machine: one evolution per seed, several at once when they fit.

Each seed runs as its own ``python -m blgnn_es.cli evolve -c C --resume auto`` process with
``run.seed = N`` and ``run.name = <name>-seed<N>`` (the naming of ``--seed-from-env``), so
every seed is a plain run directory, resumable on its own, and a sweep started again
continues its unfinished seeds and leaves its finished ones as they are (a folder holding
another config is refused, for that seed only). As many seeds run at once as the cores hold
(cores // workers per run); their output lines are prefixed with ``[seed N]``; a failed
seed is reported and the others go on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from blgnn_es.config.settings import Config, load_config
from blgnn_es.errors import ConfigError
from blgnn_es.es.preemption import PREEMPTED_EXIT_CODE
from blgnn_es.es.session import seed_overrides

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
MAX_SEEDS = 10_000
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1")
                   if hasattr(signal, name))


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ranges and lists mix
    (``"0-2,9"``). Duplicates are dropped, the order kept; ConfigError names a bad part."""
    seeds: list[int] = []
    for part in str(text).split(","):
        match = _RANGE.match(part)
        if match:
            first, last = int(match[1]), int(match[2])
            if last < first:
                raise ConfigError(f"--seeds {text!r}: range {part.strip()!r} runs backwards")
            if last - first >= MAX_SEEDS:
                raise ConfigError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
            seeds.extend(range(first, last + 1))
        elif part.strip().isdigit():
            seeds.append(int(part))
        else:
            raise ConfigError(f"--seeds {text!r}: {part.strip()!r} is not a seed (an integer "
                              ">= 0) or a range such as 0-4; e.g. --seeds 0-4 or --seeds 0,3,7")
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: no seeds")
    return list(dict.fromkeys(seeds))


def runs_at_once(config: Config, cores: int | None = None) -> int:
    """How many seeds run side by side: the machine's cores over each run's workers (one at
    a time for a dask cluster, whose workers are not this machine's cores)."""
    if config.parallel.backend == "dask" and (config.parallel.scheduler is not None
                                              or config.parallel.cluster == "slurm"):
        return 1
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, config.parallel.n_workers))


@dataclass(frozen=True)
class SeedRun:
    """One seed of a sweep: its overrides, its run directory, how its process ended."""

    seed: int
    run_dir: Path
    overrides: tuple[str, ...]
    returncode: int | None = None
    last_lines: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return {None: "not run", 0: "ok", PREEMPTED_EXIT_CODE: "preempted",
                130: "interrupted", 2: "refused"}.get(self.returncode, "failed")

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class SweepPlan:
    config_path: Path
    seeds: tuple[SeedRun, ...]
    at_once: int


def plan_sweep(config_path: str | os.PathLike, seeds: Sequence[int],
               overrides: Sequence[str] = (), at_once: int | None = None) -> SweepPlan:
    """Check the config once and name every seed's run directory (nothing is written)."""
    config = load_config(config_path, list(overrides))
    runs = []
    for seed in seeds:
        extra = seed_overrides(seed, config_path, overrides)
        seeded = load_config(config_path, [*overrides, *extra])
        runs.append(SeedRun(seed, Path(seeded.run.out_dir) / str(seeded.run.name),
                            (*overrides, *extra)))
    if at_once is not None and at_once < 1:
        raise ConfigError(f"--seeds-at-once {at_once}: must be >= 1")
    return SweepPlan(Path(config_path), tuple(runs), at_once or runs_at_once(config))


def seed_command(plan: SweepPlan, run: SeedRun, python: str = sys.executable) -> list[str]:
    """The ``evolve`` command line of one seed (``--resume auto``: continue or start)."""
    command = [python, "-m", "blgnn_es.cli", "evolve", "-c", str(plan.config_path),
               "--resume", "auto"]
    for override in run.overrides:
        command += ["--set", override]
    return command


def run_sweep(plan: SweepPlan, echo: Callable[[str], None] = print,
              python: str = sys.executable) -> list[SeedRun]:
    """Run every seed (``plan.at_once`` at a time); returns them with their exit codes.
    SIGTERM and SIGUSR1 are passed on to the running seeds (each checkpoints and exits 75),
    and no further seed starts."""
    lock = threading.Lock()
    live: set[subprocess.Popen] = set()
    stopping = threading.Event()

    def say(line: str) -> None:
        with lock:
            echo(line)

    def one(run: SeedRun) -> SeedRun:
        if stopping.is_set():
            return run
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        say(f"[seed {run.seed}] {run.run_dir}: starting (or continuing)")
        with subprocess.Popen(seed_command(plan, run, python), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, bufsize=1, env=env) as proc:
            with lock:
                live.add(proc)
            tail: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail = [*tail[-4:], line]
                say(f"[seed {run.seed}] {line}")
            code = proc.wait()
            with lock:
                live.discard(proc)
        done = SeedRun(run.seed, run.run_dir, run.overrides, code, tuple(tail))
        say(f"[seed {run.seed}] {done.status}" + (f" (exit code {code})" if code else ""))
        return done

    def forward(signum, frame) -> None:
        stopping.set()
        with lock:
            for proc in live:
                proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        with ThreadPoolExecutor(max_workers=plan.at_once) as pool:
            return list(pool.map(one, plan.seeds))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def sweep_summary(runs: Sequence[SeedRun]) -> list[str]:
    """One line per seed that did not finish its run, with its last output line."""
    lines = []
    for run in runs:
        if not run.ok:
            last = next((line for line in reversed(run.last_lines) if line.strip()), "")
            lines.append(f"seed {run.seed}: {run.status}" + (f": {last}" if last else "")
                         + f" ({run.run_dir})")
    return lines
