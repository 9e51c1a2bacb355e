"""What may change when a run is continued: the one rule shared by ``--resume``,
``--resume auto`` and :func:`blgnn_es.es.driver.evolve` called with ``resume=True``.

A checkpoint only continues the run that wrote it, so the config may differ from the run
directory's config.toml only in limits and in where the work runs; and config.toml itself
may differ from the config the run started with (run.json) only there too, so that a hand
edit of config.toml is caught as well as a ``--set``.
"""

from __future__ import annotations

from typing import Any

from blgnn_es.config.settings import Config, load_config
from blgnn_es.errors import ConfigError, RunDirError
from blgnn_es.es.rundir import RunDir, config_sha256

# Keys that may change when a run is resumed: limits, where the work runs (parallel.*) and
# where a copy of the metrics goes.
RESUMABLE_KEYS = ("cmaes.max_generations", "cmaes.max_evaluations", "cmaes.time_budget",
                  "cmaes.target_fitness", "gradient.max_steps", "gradient.time_budget",
                  "tasks.data_dir", "report.tensorboard", "parallel.*")
# They name the run directory, which is already chosen when a run is resumed.
RUN_PATH_KEYS = ("run.out_dir", "run.name")


def resumable(key: str) -> bool:
    """Whether ``section.key`` may change on resume."""
    return key in RESUMABLE_KEYS or key.startswith("parallel.")


def changed_keys(before: Config | dict, after: Config | dict) -> list[tuple[str, Any, Any]]:
    """Every ``(section.key, old, new)`` that differs between two configs (or their
    ``to_dict`` forms)."""
    old_dict = before.to_dict() if isinstance(before, Config) else before
    new_dict = after.to_dict() if isinstance(after, Config) else after
    changes = []
    for section in dict.fromkeys([*new_dict, *old_dict]):
        old_table, new_table = old_dict.get(section, {}), new_dict.get(section, {})
        for key in sorted(set(old_table) | set(new_table)):
            if old_table.get(key) != new_table.get(key):
                changes.append((f"{section}.{key}", old_table.get(key), new_table.get(key)))
    return changes


def check_same_run(config: Config, run: RunDir, prefix: str = "resume") -> None:
    """Refuse to continue ``run`` under ``config`` if they differ outside RESUMABLE_KEYS."""
    if not run.config.is_file():
        return
    before = load_config(run.config)
    for dotted, old, new in changed_keys(before, config):
        if not resumable(dotted) and dotted not in RUN_PATH_KEYS:
            raise ConfigError(f"{prefix}: {run.path} holds a run with {dotted} = {old!r}, "
                              f"this config asks for {new!r}; only "
                              f"{', '.join(RESUMABLE_KEYS)} may change on resume (or start "
                              "another run)")


def check_unedited(run: RunDir) -> None:
    """Refuse a run directory whose config.toml was edited, outside the resumable keys,
    since the run started (as run.json records it). Run directories of the previous
    release have no run.json and are not checked."""
    info = run.read_info()
    if info is None or config_sha256(run) == info.config_sha256:
        return
    current = load_config(run.config)
    for dotted, old, new in changed_keys(info.config, current.to_dict()):
        if not resumable(dotted) and dotted not in RUN_PATH_KEYS:
            raise RunDirError(f"{run.config}: edited since the run started: {dotted} = "
                              f"{new!r}, the run started with {old!r}; only "
                              f"{', '.join(RESUMABLE_KEYS)} may change on resume (with --set). "
                              "Put it back, or start another run")
