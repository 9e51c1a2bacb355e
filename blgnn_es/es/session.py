"""Which run directory an ``evolve`` works in, and whether it starts or continues a run.

:func:`open_run` holds the rules of the command line's ``--config``, ``--resume DIR``,
``--resume auto`` and ``--force``, so that a script gets the same answers as the CLI:
a new run is checked (tasks, start genome, sizes) before its directory exists, and its
``file:`` datasets are recorded with absolute paths and sha256 (so it resumes from any
folder, and a changed file is named); a resumed run is checked (run.json, checkpoint,
metrics, config.toml) before anything in it is written, and may change only the resumable
keys (resume.py). ``--resume DIR --force`` starts DIR again under its own config.toml.
A start that fails before its first checkpoint leaves nothing behind
(:meth:`OpenedRun.abandon`), and a stub left by a killed start is started again without
``--force``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blgnn_es.config.settings import GENOME_PRESETS, Config, load_config
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import check_tasks, initial_genome, make_plans
from blgnn_es.es.provenance import session
from blgnn_es.es.records import RunInfo
from blgnn_es.es.resume import RESUMABLE_KEYS, check_same_run, check_unedited, resumable
from blgnn_es.es.rundir import RunDir
from blgnn_es.es.sizes import Estimates, estimate
from blgnn_es.fileio import sha256_file
from blgnn_es.tasks.files import resolve_file_spec


@dataclass(frozen=True)
class OpenedRun:
    """The config to run under, its run directory, and whether a checkpoint is continued."""

    config: Config
    run: RunDir
    resuming: bool
    created: bool = False  # this call made the directory (abandon() may remove it)
    warnings: list[str] = field(default_factory=list)

    def abandon(self) -> bool:
        """Remove the run directory after a failed start, if this call made it and no
        checkpoint was written yet; whether it was removed."""
        return self.created and self.run.remove_unstarted()


def open_run(config_path: str | os.PathLike | None, overrides: Sequence[str] = (),
             resume: str | os.PathLike | None = None, force: bool = False,
             command: Sequence[str] | None = None) -> OpenedRun:
    """Open the run an ``evolve`` works on.

    ``resume=None``: a new run from ``config_path`` (an existing directory is refused unless
    ``force``). ``resume="auto"``: continue ``<out_dir>/<name>`` of ``config_path`` if it
    exists, else start it. ``resume=DIR``: continue DIR under its own config.toml, with
    ``overrides`` limited to the resumable keys (with ``force``: start DIR again).
    ``command``: the command line recorded in run.json (default sys.argv).
    """
    overrides = list(overrides)
    if resume is not None and str(resume) == "auto":
        if config_path is None:
            raise ConfigError("--resume auto needs --config FILE.toml (it continues "
                              "<out_dir>/<name> if that exists, else starts it)")
        if force:
            raise ConfigError("--resume auto and --force: give one")
        return _auto_resume(load_config(config_path, overrides), Path(config_path), command)
    if resume is not None:
        if config_path is not None:
            raise ConfigError("--resume continues a run with its own config.toml; "
                              "drop --config")
        run = RunDir.open(resume)
        for override in overrides:
            key = override.partition("=")[0].strip()
            if not resumable(key):
                raise ConfigError(f"--resume: {key} cannot change in a running run; allowed: "
                                  f"{', '.join(RESUMABLE_KEYS)}")
        config = load_config(run.config, overrides)
        if force:
            return _start(config, run.path, f"{run.path} started again (--resume --force)",
                          command, force=True)
        check_resumable(run)
        if overrides:
            run.write_config(config.to_toml())
            run.log("config changed on resume: " + " ".join(overrides))
        _add_session(run, config, "resume", command)
        return OpenedRun(config, run, True)
    if config_path is None:
        raise ConfigError("give --config FILE.toml (or --resume RUN_DIR)")
    config = load_config(config_path, overrides)
    note = f"new run from {config_path}" + (" with " + " ".join(overrides) if overrides else "")
    return _start(config, Path(config.run.out_dir) / config.run.name, note, command, force)


def check_resumable(run: RunDir) -> None:
    """Everything a resume checks before it writes anything: config.toml against run.json,
    the checkpoint (or checkpoint.prev), and metrics.jsonl up to the checkpoint."""
    check_unedited(run)
    point = run.resume_point()
    if point.checkpoint is not None:
        run.check_metrics(point.checkpoint.state.generation)


def resolve_inputs(config: Config) -> Config:
    """The config with every ``file:`` task given by absolute path and sha256."""
    tasks = config.tasks.model_copy(update={
        "train": tuple(resolve_file_spec(spec) for spec in config.tasks.train),
        "validate": tuple(resolve_file_spec(spec) for spec in config.tasks.validate)})
    return config.model_copy(update={"tasks": tasks})


def input_files(config: Config) -> dict[str, str]:
    """Absolute path -> sha256 of every file a (resolved) config reads."""
    found = {}
    for spec in (*config.tasks.train, *config.tasks.validate):
        if spec.kind == "file":
            found[spec.options["path"]] = spec.options["sha256"]
    if config.genome.initial not in GENOME_PRESETS:
        found[config.genome.initial] = sha256_file(config.genome.initial)
    return found


def _start(config: Config, path: Path, note: str, command: Sequence[str] | None,
           force: bool = False) -> OpenedRun:
    config = resolve_inputs(config)
    sizes = preflight(config)
    info = RunInfo(config_sha256="", config=config.to_dict(), inputs=input_files(config),
                   sessions=[session("start", command)])
    run = RunDir.create(path, config.to_toml(), force=force, info=info)
    try:
        run.log(note)
        warnings = sizes.warnings()
        for line in warnings:
            run.log(f"warning: {line}")
    except BaseException:
        run.remove_unstarted()  # made just now: a failed start leaves nothing behind
        raise
    return OpenedRun(config, run, False, created=True, warnings=warnings)


def _add_session(run: RunDir, config: Config, action: str,
                 command: Sequence[str] | None) -> None:
    """Record this session in run.json (a run of the previous release gets one now)."""
    info = run.read_info()
    entry = session(action, command)
    if info is None:
        info = RunInfo(config_sha256="", config=config.to_dict(), sessions=[])
        entry = entry.model_copy(update={"action": "adopt"})
    run.write_info(info.model_copy(update={"sessions": [*info.sessions, entry]}))
    if not info.config_sha256:
        run.write_config(run.config.read_text())


def _auto_resume(config: Config, config_path: Path,
                 command: Sequence[str] | None) -> OpenedRun:
    """The run directory of this config if it exists (it must hold the same run: only
    RESUMABLE_KEYS may differ), else a new one."""
    path = Path(config.run.out_dir) / config.run.name
    run = RunDir(path)
    if not run.config.is_file() or (run.path.is_dir() and run.unstarted()):
        return _start(config, path, f"new run from {config_path} (--resume auto)", command)
    run = RunDir.open(path)
    config = resolve_inputs(config)
    check_same_run(config, run, prefix="--resume auto")
    check_resumable(run)
    if config.to_toml() != run.config.read_text():
        run.write_config(config.to_toml())
        run.log(f"config changed on resume from {config_path}")
    _add_session(run, config, "resume", command)
    return OpenedRun(config, run, True)


def seed_from_env(variable: str, config_path: str | os.PathLike | None,
                  overrides: Sequence[str], environ: Mapping[str, str] = os.environ
                  ) -> list[str]:
    """Overrides for run.seed from an environment variable (an array job's task id) and
    run.name ``<name>-seed<N>``, so that every array task writes its own run directory."""
    if config_path is None:
        raise ConfigError(f"--seed-from-env {variable} needs --config FILE.toml")
    text = environ.get(variable)
    if text is None:
        raise ConfigError(f"--seed-from-env {variable}: ${variable} is not set (in a SLURM "
                          "array job use SLURM_ARRAY_TASK_ID)")
    if not text.strip().isdigit():
        raise ConfigError(f"--seed-from-env {variable}: ${variable} = {text!r} is not an "
                          "integer >= 0")
    return seed_overrides(int(text), config_path, overrides)


def seed_overrides(seed: int, config_path: str | os.PathLike,
                   overrides: Sequence[str] = ()) -> list[str]:
    """run.seed = ``seed`` and run.name = ``<name>-seed<N>``: one run directory per seed
    (array jobs and ``evolve --seeds`` alike)."""
    name = load_config(config_path, list(overrides)).run.name
    return [f"run.seed={seed}", f"run.name={json.dumps(f'{name}-seed{seed}')}"]


def preflight(config: Config, warn: Callable[[str], None] = lambda line: None) -> Estimates:
    """Errors that need the tasks or the genome file, raised before a run directory
    exists; returns the run's estimated sizes. Warnings about the tasks go to ``warn``
    (none by default: the session that follows says them once)."""
    initial_genome(config.genome, config.network.states)
    nets = check_tasks(config, make_plans(config), warn)
    return estimate(config, nets)


def check_run(config_path: str | os.PathLike, overrides: Sequence[str] = (),
              echo: Callable[[str], None] = print) -> Estimates:
    """``evolve --check``: the resolved config and its estimated sizes; writes nothing."""
    config = resolve_inputs(load_config(config_path, list(overrides)))
    notes: list[str] = []
    sizes = preflight(config, notes.append)
    echo(config.to_toml().rstrip())
    echo("")
    for line in sizes.lines():
        echo(f"# {line}")
    for line in sizes.warnings():
        echo(f"# warning: {line}")
    for line in notes:
        echo(f"# {line}")
    return sizes
