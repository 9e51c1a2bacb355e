"""The ``evolve`` command: parse the flags, open the run (es/session.py), evolve, print."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from blgnn_es.cli.errors import CommandError, error_message, friendly_errors
from blgnn_es.config.settings import BACKENDS, Config
from blgnn_es.errors import BlgnnError, ConfigError
from blgnn_es.es import gradient, session, sweep
from blgnn_es.es.driver import PREEMPTED, progress_line
from blgnn_es.es.driver import evolve as run_evolution
from blgnn_es.es.preemption import PREEMPTED_EXIT_CODE, Preempted, Preemption
from blgnn_es.es.records import MetricsLine, RunState
from blgnn_es.es.rundir import RunDir
from blgnn_es.es.tensorboard import require_tensorboardx
from blgnn_es.parallel.backends import make_backend
from blgnn_es.reports.collect import collect_markdown, run_row


def _named_overrides(name, seed, workers, max_generations, out_dir, backend=None,
                     scheduler=None, cluster=None) -> list[str]:
    pairs = [("run.name", name and json.dumps(name)), ("run.seed", seed),
             ("parallel.workers", workers), ("cmaes.max_generations", max_generations),
             ("run.out_dir", out_dir and json.dumps(str(out_dir))),
             ("parallel.backend", backend and json.dumps(backend)),
             ("parallel.scheduler", scheduler and json.dumps(scheduler)),
             ("parallel.cluster", cluster and json.dumps(cluster))]
    return [f"{key}={value}" for key, value in pairs if value is not None]


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
@click.option("--force", is_flag=True, help="Replace an existing run directory (with --resume: "
              "start that run again from generation 0).")
@click.option("--check", "check_only", is_flag=True,
              help="Print the resolved config and the estimated checkpoint size and "
                   "generation time, then exit (writes nothing).")
@click.option("--backend", type=click.Choice(BACKENDS),
              help="parallel.backend.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="A running dask scheduler (parallel.scheduler; implies --backend dask).")
@click.option("--cluster", type=click.Choice(["local", "slurm"]),
              help="parallel.cluster: the dask cluster to start (implies --backend dask).")
@click.option("--seed-from-env", metavar="VAR",
              help="Seed from $VAR (e.g. SLURM_ARRAY_TASK_ID); the run is <name>-seed<N>.")
@click.option("--seeds", "seeds_text", metavar="0-4|0,3,7",
              help="A seed sweep: one run per seed, <out_dir>/<name>-seed<N>, each continued "
                   "if it exists (--resume auto); as many at once as the cores hold; ends "
                   "with the collect table.")
@click.option("--seeds-at-once", type=int,
              help="With --seeds: runs side by side (default: cores // workers per run).")
@click.option("--tensorboard", "tensorboard_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write TensorBoard event files to DIR/<name>/ (report.tensorboard; "
                   "needs pip install 'blgnn-es[tensorboard]').")
@friendly_errors
def evolve(config_path, resume, overrides, name, seed, workers, max_generations, out_dir,
           data_dir, force, check_only, backend, scheduler, cluster, seed_from_env,
           seeds_text, seeds_at_once, tensorboard_dir) -> None:
    """Meta-learn a genome with CMA-ES (or by gradient descent: meta.method = "gradient");
    writes the run directory <out_dir>/<name>/.

    \b
    Examples:
      blgnn-es evolve --config configs/quickstart.toml
      blgnn-es evolve -c configs/paper-mnist-cmaes.toml --data-dir /data --name r2
      blgnn-es evolve -c configs/paper-toy.toml --set unroll.steps=20 --seed 1
      blgnn-es evolve --resume runs/r2                 # after a crash or kill
      blgnn-es evolve --resume runs/r2 --max-generations 800
      blgnn-es evolve -c C.toml --seed-from-env SLURM_ARRAY_TASK_ID --resume auto
      blgnn-es evolve -c C.toml --seeds 0-4            # a seed sweep on this machine
      blgnn-es evolve -c C.toml --tensorboard tb/      # then: tensorboard --logdir tb/
      blgnn-es evolve -c C.toml --backend dask --scheduler tcp://10.0.0.5:8786

    \b
    SIGTERM or SIGUSR1 (a batch job's end) finishes the current generation, writes the
    checkpoint and exits with code 75; continue with --resume (docs/cluster.md).
    """
    if (scheduler or cluster) and backend not in (None, "dask"):
        raise ConfigError(f"--scheduler and --cluster are for --backend dask, not {backend}")
    if scheduler or cluster:
        backend = "dask"
    named = _named_overrides(name, seed, workers, max_generations, out_dir, backend,
                             scheduler, cluster)
    if data_dir is not None:
        named.append(f"tasks.data_dir={json.dumps(str(data_dir))}")
    if tensorboard_dir is not None:
        require_tensorboardx()
        named.append(f"report.tensorboard={json.dumps(str(tensorboard_dir))}")
    all_overrides = list(overrides) + named
    if seeds_text is not None:
        _sweep(config_path, all_overrides, seeds_text, seeds_at_once, check_only,
               resume=resume, force=force, seed=seed, seed_from_env=seed_from_env)
        return
    if seeds_at_once is not None:
        raise ConfigError("--seeds-at-once is for a sweep: add --seeds")
    if seed_from_env is not None:
        if seed is not None:
            raise ConfigError(f"--seed {seed} and --seed-from-env {seed_from_env}: give one")
        all_overrides += session.seed_from_env(seed_from_env, config_path, all_overrides)
    if check_only:
        if config_path is None:
            raise ConfigError("--check needs --config FILE.toml")
        session.check_run(config_path, all_overrides, echo=click.echo)
        return
    opened = session.open_run(config_path, all_overrides, resume, force, command=sys.argv)
    config, run = opened.config, opened.run
    for line in opened.warnings:
        click.echo(f"warning: {line}", err=True)
    try:
        state = _run(config, run, opened)
    except (BlgnnError, OSError) as err:
        message, _ = error_message(err)
        if opened.abandon():
            message += f" (nothing was kept: {run.path} is removed)"
        elif run.try_log(f"error: {message}"):
            message += f" (see {run.log_file}; continue with: blgnn-es evolve --resume {run.path})"
        raise type(err)(message) if isinstance(err, BlgnnError) else CommandError(message
                                                                                  ) from None
    if state.stop_reason == PREEMPTED:
        sys.exit(PREEMPTED_EXIT_CODE)
    done = (f"{state.generation} steps ({state.skipped} skipped)"
            if config.meta.method == "gradient" else
            f"{state.generation} generations, {state.evaluations} evaluations")
    click.echo(f"stopped: {state.stop_reason} after {done}; best fitness "
               f"{state.best_fitness:.4f}")
    click.echo(f"run directory: {run.path}")
    tasks = " ".join(f"--task {shlex.quote(str(t))}" for t in
                     (config.tasks.validate or config.tasks.train))
    click.echo(f"evaluate the final genome: blgnn-es evaluate {run.final_genome} {tasks}"
               if run.final_genome.exists() else
               f"evaluate the mean genome:  blgnn-es evaluate {run.mean_genome} {tasks}")
    click.echo(f"report:                    blgnn-es report {run.path}")


def _sweep(config_path, overrides: list[str], seeds_text: str, at_once: int | None,
           check_only: bool, **refused) -> None:
    """``evolve --seeds``: every seed (es/sweep.py), then the collect table of the sweep;
    exit code 1 when a seed failed (75 when the only ones left are preempted)."""
    for flag, value in refused.items():
        if value:
            raise ConfigError(f"--seeds and --{flag.replace('_', '-')}: a sweep names its run "
                              "directories <name>-seed<N> and continues each that exists "
                              "(--resume auto); drop one")
    if config_path is None:
        raise ConfigError("--seeds needs --config FILE.toml")
    seeds = sweep.parse_seeds(seeds_text)
    if check_only:
        session.check_run(config_path, overrides, echo=click.echo)
        return
    plan = sweep.plan_sweep(config_path, seeds, overrides, at_once)
    click.echo(f"seed sweep: {len(seeds)} seed(s) ({', '.join(map(str, seeds))}), "
               f"{plan.at_once} at a time")
    runs = sweep.run_sweep(plan, echo=click.echo)
    click.echo("")
    click.echo(collect_markdown([run_row(run.run_dir) for run in runs]), nl=False)
    failed = sweep.sweep_summary(runs)
    for line in failed:
        click.echo(f"error: {line}", err=True)
    if failed:
        preempted = all(run.status == "preempted" for run in runs if not run.ok)
        click.echo(f"{len(failed)} of {len(runs)} seed(s) did not finish (above); the same "
                   "command continues them, and leaves the finished ones as they are", err=True)
        sys.exit(PREEMPTED_EXIT_CODE if preempted else 1)


def _run(config: Config, run: RunDir, opened: session.OpenedRun) -> RunState:
    """Start the workers and evolve; signals and Ctrl-C exit with their codes."""
    meta_train = run_evolution
    if config.meta.method == "gradient":
        gradient.require_gradient()
        meta_train = gradient.train
    progress = GenerationProgress(config, sys.stdout.isatty())
    backend = make_backend(config.parallel, log=lambda line: (run.log(line), progress.note(line)))
    click.echo(f"run directory: {run.path}  ({config.parallel.backend}, "
               f"{backend.workers} worker(s))")
    progress.start()
    try:
        with Preemption() as preemption:
            state = meta_train(config, run, backend, resume=opened.resuming,
                                  on_generation=progress.update, preempted=preemption,
                                  warn=lambda line: click.echo(line, err=True),
                                  note=progress.note)
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
    return state


class GenerationProgress:
    """A rich progress bar on a terminal; one plain line per generation (the line log.txt
    gets) anywhere else. Both say "gen best" and "best so far" for the same numbers."""

    def __init__(self, config: Config, tty: bool) -> None:
        self.config = config
        self.gradient = config.meta.method == "gradient"
        self.bar: Progress | None = None
        if tty:
            word, total = (("step", config.gradient.max_steps) if self.gradient else
                           ("gen", config.cmaes.max_generations))
            self.bar = Progress(TextColumn(word + " {task.completed}/{task.total}"),
                                BarColumn(20), TextColumn("{task.fields[stats]}"),
                                TimeRemainingColumn(), console=Console(), transient=False)
            self.task = self.bar.add_task("evolve", total=total, start=False, stats="")

    def start(self) -> None:
        if self.bar is not None:
            self.bar.start()

    def update(self, record: MetricsLine, state: RunState) -> None:
        if self.bar is None:
            line = (gradient.progress_line if self.gradient else progress_line)
            click.echo(line(record, self.config))
            return
        if not self.bar.tasks[0].started:  # a resumed run: the bar starts where it is
            self.bar.reset(self.task, completed=state.generation - 1)
            self.bar.start_task(self.task)
        if self.gradient:
            loss = "nan" if record.loss is None else f"{record.loss:.4f}"
            stats = (f"unrolls {record.unrolls}  loss {loss}  fitness {record.best:.4f}  "
                     f"best so far {record.best_so_far:.4f}  skipped {record.skipped}")
        else:
            stats = (f"evals {state.evaluations}  gen best {record.best:.4f}  "
                     f"best so far {record.best_so_far:.4f}  median {record.median:.4f}  "
                     f"sigma {record.sigma:.3g}")
        self.bar.update(self.task, completed=state.generation, stats=stats)

    def note(self, line: str) -> None:
        if self.bar is None:
            click.echo(line, err=True)
        else:
            self.bar.console.print(line, markup=False, highlight=False)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.stop()
