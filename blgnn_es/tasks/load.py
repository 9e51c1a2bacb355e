"""load_task: a spec and a seed in, one concrete task out."""

import os
from collections.abc import Mapping
from typing import Any

from .files import build_file_task
from .images import build_image_task
from .spec import TaskSpec, parse_task_spec
from .tabular import build_tabular_task
from .task import Task
from .toy import build_toy_task

__all__ = ["load_task"]


def load_task(spec: "str | Mapping[str, Any] | TaskSpec", seed: int = 0,
              data_dir: str | os.PathLike | None = None) -> Task:
    """Task `seed` of the family named by `spec` (a string, a TOML table or a TaskSpec).

    The seed picks the rotation, position and size of a toy rule and the relabelling of
    permute_labels. Image tasks share their arrays across seeds and tasks, so rebuilding a
    task in a worker process is cheap after the first time: send specs and seeds to
    workers, not Task objects.

    >>> task = load_task("xor", seed=3)
    >>> task.n_inputs, task.n_classes, task.n_outputs
    (2, 2, 1)
    """
    parsed = parse_task_spec(spec)
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"a task seed is a non-negative int, not {seed!r}")
    if parsed.kind == "toy":
        return build_toy_task(parsed, int(seed))
    if parsed.kind == "image":
        return build_image_task(parsed, int(seed), data_dir)
    if parsed.kind == "tabular":
        return build_tabular_task(parsed, int(seed))
    return build_file_task(parsed, int(seed))
