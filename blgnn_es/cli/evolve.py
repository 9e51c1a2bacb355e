"""The ``evolve``, ``evaluate`` and ``report`` commands: parse, call, print."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click

from blgnn_es.cli.errors import friendly_errors
from blgnn_es.errors import ConfigError

# Keys that may change when a run is resumed: limits and where the work runs (parallel.*).
RESUMABLE_KEYS = ("cmaes.max_generations", "cmaes.max_evaluations", "cmaes.time_budget",
                  "cmaes.target_fitness", "tasks.data_dir", "parallel.*")


def _resumable(key: str) -> bool:
    return key in RESUMABLE_KEYS or key.startswith("parallel.")


def _named_overrides(name, seed, workers, max_generations, out_dir, backend=None,
                     scheduler=None, cluster=None) -> list[str]:
    pairs = [("run.name", name and json.dumps(name)), ("run.seed", seed),
             ("parallel.workers", workers), ("cmaes.max_generations", max_generations),
             ("run.out_dir", out_dir and json.dumps(str(out_dir))),
             ("parallel.backend", backend and json.dumps(backend)),
             ("parallel.scheduler", scheduler and json.dumps(scheduler)),
             ("parallel.cluster", cluster and json.dumps(cluster))]
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _seed_from_env(variable: str, config_path: Path | None, overrides: list[str]) -> list[str]:
    """run.seed from an environment variable (an array job's task id) and run.name
    ``<name>-seed<N>``, so that every array task writes its own run directory."""
    import os

    from blgnn_es.config.settings import load_config

    if config_path is None:
        raise ConfigError(f"--seed-from-env {variable} needs --config FILE.toml")
    text = os.environ.get(variable)
    if text is None:
        raise ConfigError(f"--seed-from-env {variable}: ${variable} is not set (in a SLURM "
                          "array job use SLURM_ARRAY_TASK_ID)")
    if not text.strip().isdigit():
        raise ConfigError(f"--seed-from-env {variable}: ${variable} = {text!r} is not an "
                          "integer >= 0")
    seed = int(text)
    name = load_config(config_path, overrides).run.name
    return [f"run.seed={seed}", f"run.name={json.dumps(f'{name}-seed{seed}')}"]


_RUN_PATH_KEYS = ("run.out_dir", "run.name")  # they found the directory: already agreed


def _auto_resume(config, config_path: Path):
    """``--resume auto``: the run directory of this config if it exists (it must hold the
    same run: only RESUMABLE_KEYS may differ), else a new one. Returns (run, resuming)."""
    from blgnn_es.config.settings import load_config
    from blgnn_es.es.rundir import RunDir
    from blgnn_es.fileio import atomic_write_text

    path = Path(config.run.out_dir) / config.run.name
    if not (path / "config.toml").is_file():
        preflight(config)
        run = RunDir.create(path, config.to_toml())
        run.log(f"new run from {config_path} (--resume auto)")
        return run, False
    run = RunDir.open(path)
    before = load_config(run.config).to_dict()
    for section, table in config.to_dict().items():
        for key in sorted(set(table) | set(before[section])):
            old, new = before[section].get(key), table.get(key)
            dotted = f"{section}.{key}"
            if old != new and not _resumable(dotted) and dotted not in _RUN_PATH_KEYS:
                raise ConfigError(f"--resume auto: {path} holds a run with {section}.{key} = "
                                  f"{old!r}, this command asks for {new!r}; only "
                                  f"{', '.join(RESUMABLE_KEYS)} may change (or pick another "
                                  "--name)")
    if config.to_toml() != run.config.read_text():
        atomic_write_text(run.config, config.to_toml())
        run.log(f"config changed on resume from {config_path}")
    return run, True


@click.command()
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML config (see README.md).")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path),
              help="Continue the run in this run directory; 'auto' (with --config): continue "
                   "<out_dir>/<name> if it exists, else start it.")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a config key, e.g. --set unroll.steps=20 (repeatable).")
@click.option("--name", help="Run name (run.name).")
@click.option("--seed", type=int, help="Run seed (run.seed).")
@click.option("--workers", type=int, help="Worker processes (parallel.workers; 0 = all cores).")
@click.option("--max-generations", type=int, help="cmaes.max_generations.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of run directories (run.out_dir).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where MNIST-like data lives (tasks.data_dir).")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--backend", type=click.Choice(["loky", "serial", "dask"]),
              help="parallel.backend.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="A running dask scheduler (parallel.scheduler; implies --backend dask).")
@click.option("--cluster", type=click.Choice(["local", "slurm"]),
              help="parallel.cluster: the dask cluster to start (implies --backend dask).")
@click.option("--seed-from-env", metavar="VAR",
              help="Seed from $VAR (e.g. SLURM_ARRAY_TASK_ID); the run is <name>-seed<N>.")
@friendly_errors
def evolve(config_path, resume, overrides, name, seed, workers, max_generations, out_dir,
           data_dir, force, backend, scheduler, cluster, seed_from_env) -> None:
    """Meta-learn a genome with CMA-ES; writes the run directory <out_dir>/<name>/.

    \b
    Examples:
      blgnn-es evolve --config configs/quickstart.toml
      blgnn-es evolve -c configs/paper-mnist-cmaes.toml --data-dir /data --name r2
      blgnn-es evolve -c configs/paper-toy.toml --set unroll.steps=20 --seed 1
      blgnn-es evolve --resume runs/r2                 # after a crash or kill
      blgnn-es evolve --resume runs/r2 --max-generations 800
      blgnn-es evolve -c C.toml --seed-from-env SLURM_ARRAY_TASK_ID --resume auto
      blgnn-es evolve -c C.toml --backend dask --scheduler tcp://10.0.0.5:8786

    \b
    SIGTERM or SIGUSR1 (a batch job's end) finishes the current generation, writes the
    checkpoint and exits with code 75; continue with --resume (docs/cluster.md).
    """
    from blgnn_es.config.settings import load_config
    from blgnn_es.es.driver import PREEMPTED
    from blgnn_es.es.driver import evolve as run_evolution
    from blgnn_es.es.preemption import PREEMPTED_EXIT_CODE, Preempted, Preemption
    from blgnn_es.es.rundir import RunDir
    from blgnn_es.parallel.backends import make_backend

    if (scheduler or cluster) and backend in ("loky", "serial"):
        raise ConfigError(f"--scheduler and --cluster are for --backend dask, not {backend}")
    if scheduler or cluster:
        backend = "dask"
    named = _named_overrides(name, seed, workers, max_generations, out_dir, backend,
                             scheduler, cluster)
    if data_dir is not None:
        named.append(f"tasks.data_dir={json.dumps(str(data_dir))}")
    all_overrides = list(overrides) + named
    if seed_from_env is not None:
        if seed is not None:
            raise ConfigError(f"--seed {seed} and --seed-from-env {seed_from_env}: give one")
        all_overrides += _seed_from_env(seed_from_env, config_path, all_overrides)
    resuming = resume is not None
    if resume is not None and str(resume) == "auto":
        if config_path is None:
            raise ConfigError("--resume auto needs --config FILE.toml (it continues "
                              "<out_dir>/<name> if that exists, else starts it)")
        if force:
            raise ConfigError("--resume auto and --force: give one")
        config = load_config(config_path, all_overrides)
        run, resuming = _auto_resume(config, config_path)
    elif resume is not None:
        if config_path is not None:
            raise ConfigError("--resume continues a run with its own config.toml; "
                              "drop --config")
        run = RunDir.open(resume)
        for override in all_overrides:
            key = override.partition("=")[0].strip()
            if not _resumable(key):
                raise ConfigError(f"--resume: {key} cannot change in a running run; allowed: "
                                  f"{', '.join(RESUMABLE_KEYS)}")
        config = load_config(run.config, all_overrides)
        if all_overrides:
            from blgnn_es.fileio import atomic_write_text

            atomic_write_text(run.config, config.to_toml())
            run.log("config changed on resume: " + " ".join(all_overrides))
    else:
        if config_path is None:
            raise ConfigError("give --config FILE.toml (or --resume RUN_DIR)")
        config = load_config(config_path, all_overrides)
        preflight(config)
        run = RunDir.create(Path(config.run.out_dir) / config.run.name, config.to_toml(),
                            force=force)
        run.log(f"new run from {config_path}" + (" with " + " ".join(all_overrides)
                                                 if all_overrides else ""))

    progress = Progress(config, sys.stdout.isatty())
    backend = make_backend(config.parallel, log=lambda line: (run.log(line), progress.note(line)))
    click.echo(f"run directory: {run.path}  ({config.parallel.backend}, "
               f"{backend.workers} worker(s))")
    try:
        with Preemption() as preemption:
            state = run_evolution(config, run, backend, resume=resuming,
                                  on_generation=progress.update, preempted=preemption)
    except KeyboardInterrupt:
        progress.finish()
        run.log("interrupted")
        click.echo(f"interrupted; the last complete generation is checkpointed. Continue with:"
                   f"\n  blgnn-es evolve --resume {run.path}", err=True)
        sys.exit(130)
    except Preempted as signals:
        progress.finish()
        run.log(f"preempted ({signals}): stopped inside a generation; the one before it is "
                "checkpointed")
        click.echo(f"preempted ({signals}); continue with: blgnn-es evolve --resume {run.path}",
                   err=True)
        sys.exit(PREEMPTED_EXIT_CODE)
    finally:
        backend.close()
        progress.finish()
    if state.stop_reason == PREEMPTED:
        click.echo(f"preempted ({preemption.received}) after {state.generation} generations; "
                   f"checkpoint written. Continue with: blgnn-es evolve --resume {run.path}",
                   err=True)
        sys.exit(PREEMPTED_EXIT_CODE)
    click.echo(f"stopped: {state.stop_reason} after {state.generation} generations, "
               f"{state.evaluations} evaluations; best fitness {state.best_fitness:.4f}")
    click.echo(f"run directory: {run.path}")
    tasks = " ".join(f"--task {shlex.quote(str(t))}" for t in
                     (config.tasks.validate or config.tasks.train))
    click.echo(f"evaluate the mean genome:  blgnn-es evaluate {run.mean_genome} {tasks}")
    click.echo(f"report:                    blgnn-es report {run.path}")


def preflight(config) -> None:
    """Errors that need the tasks or the genome file, raised before a run directory exists."""
    from blgnn_es.es.driver import check_tasks, initial_genome, make_plans

    initial_genome(config.genome, config.network.states)
    check_tasks(config, make_plans(config))


class Progress:
    """One line per generation, redrawn in place on a terminal (with a bar and an ETA)."""

    def __init__(self, config, tty: bool) -> None:
        self.config = config
        self.tty = tty
        self.started = time.monotonic()
        self.first_generation: int | None = None
        self.drawn = False

    def update(self, record: dict[str, Any], state) -> None:
        from blgnn_es.es.driver import progress_line

        if not self.tty:
            click.echo(progress_line(record, self.config))
            return
        total = self.config.cmaes.max_generations
        done = state.generation
        if self.first_generation is None:
            self.first_generation = done - 1
            self.started = time.monotonic() - record["seconds"]
        rate = (time.monotonic() - self.started) / max(done - self.first_generation, 1)
        eta = _duration(rate * (total - done))
        width = 20
        filled = int(width * done / total)
        bar = "#" * filled + "-" * (width - filled)
        line = (f"[{bar}] gen {done}/{total}  evals {state.evaluations}  "
                f"best {state.best_fitness:.4f}  median {record['median']:.4f}  "
                f"sigma {record['sigma']:.3g}  ETA {eta}")
        click.echo("\r" + line.ljust(110)[:110], nl=False)
        self.drawn = True

    def note(self, line: str) -> None:
        if self.drawn:
            click.echo("")
            self.drawn = False
        click.echo(line, err=True)

    def finish(self) -> None:
        if self.drawn:
            click.echo("")


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
