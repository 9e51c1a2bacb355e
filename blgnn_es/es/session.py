"""Which run directory an ``evolve`` works in, and whether it starts or continues a run.

:func:`open_run` holds the rules of the command line's ``--config``, ``--resume DIR``,
``--resume auto`` and ``--force``, so that a script gets the same answers as the CLI:
a new run is checked (tasks, start genome) before its directory exists; a resumed run may
change only the resumable keys (resume.py), and its config.toml is rewritten to say so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from blgnn_es.config.settings import Config, load_config
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import check_tasks, initial_genome, make_plans
from blgnn_es.es.resume import RESUMABLE_KEYS, check_same_run, resumable
from blgnn_es.es.rundir import RunDir
from blgnn_es.fileio import atomic_write_text


@dataclass(frozen=True)
class OpenedRun:
    """The config to run under, its run directory, and whether a checkpoint is continued."""

    config: Config
    run: RunDir
    resuming: bool


def open_run(config_path: str | os.PathLike | None, overrides: Sequence[str] = (),
             resume: str | os.PathLike | None = None, force: bool = False) -> OpenedRun:
    """Open the run an ``evolve`` works on.

    ``resume=None``: a new run from ``config_path`` (an existing directory is refused unless
    ``force``). ``resume="auto"``: continue ``<out_dir>/<name>`` of ``config_path`` if it
    exists, else start it. ``resume=DIR``: continue DIR under its own config.toml, with
    ``overrides`` limited to the resumable keys.
    """
    overrides = list(overrides)
    if resume is not None and str(resume) == "auto":
        if config_path is None:
            raise ConfigError("--resume auto needs --config FILE.toml (it continues "
                              "<out_dir>/<name> if that exists, else starts it)")
        if force:
            raise ConfigError("--resume auto and --force: give one")
        return _auto_resume(load_config(config_path, overrides), Path(config_path))
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
        if overrides:
            atomic_write_text(run.config, config.to_toml())
            run.log("config changed on resume: " + " ".join(overrides))
        return OpenedRun(config, run, True)
    if config_path is None:
        raise ConfigError("give --config FILE.toml (or --resume RUN_DIR)")
    config = load_config(config_path, overrides)
    preflight(config)
    run = RunDir.create(Path(config.run.out_dir) / config.run.name, config.to_toml(),
                        force=force)
    run.log(f"new run from {config_path}" + (" with " + " ".join(overrides)
                                             if overrides else ""))
    return OpenedRun(config, run, False)


def _auto_resume(config: Config, config_path: Path) -> OpenedRun:
    """The run directory of this config if it exists (it must hold the same run: only
    RESUMABLE_KEYS may differ), else a new one."""
    path = Path(config.run.out_dir) / config.run.name
    if not (path / "config.toml").is_file():
        preflight(config)
        run = RunDir.create(path, config.to_toml())
        run.log(f"new run from {config_path} (--resume auto)")
        return OpenedRun(config, run, False)
    run = RunDir.open(path)
    check_same_run(config, run, prefix="--resume auto")
    if config.to_toml() != run.config.read_text():
        atomic_write_text(run.config, config.to_toml())
        run.log(f"config changed on resume from {config_path}")
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
    seed = int(text)
    name = load_config(config_path, list(overrides)).run.name
    return [f"run.seed={seed}", f"run.name={json.dumps(f'{name}-seed{seed}')}"]


def preflight(config: Config) -> None:
    """Errors that need the tasks or the genome file, raised before a run directory exists."""
    initial_genome(config.genome, config.network.states)
    check_tasks(config, make_plans(config))
