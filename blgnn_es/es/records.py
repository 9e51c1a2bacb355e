"""The records a run writes, each declared once and read back through the same class.

``MetricsLine`` (one line of metrics.jsonl per generation), ``RunResult`` (result.json) and
``RunState`` (the driver's state inside the checkpoint). Every record carries a schema
version; files of the previous release have none and read as version 1. A metrics line of
version 1 is written without the key, so that metrics.jsonl stays byte-for-byte what the
previous release wrote (a later version will write it). An unknown version is refused with
one line naming the file and the versions this release reads.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ConfigDict

from blgnn_es.model.sidecar import Record, RecordError, check_version

__all__ = ["InitialScores", "MetricsLine", "Record", "RecordError", "RunResult", "RunState",
           "Validation", "check_version"]


# ---- metrics.jsonl ---------------------------------------------------------------------

class Validation(Record):
    """Accuracy of the distribution mean on the validation tasks (fixed draws)."""

    VERSION_IN_FILE: ClassVar[bool] = False

    accuracy: float | None
    fitness: float | None
    diverged: int
    tasks: dict[str, float | None]


class InitialScores(Record):
    """The initial genome's scores on generation 0's draws (and on the validation tasks)."""

    VERSION_IN_FILE: ClassVar[bool] = False
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("validation",)

    fitness: float
    accuracy: float | None
    validation: Validation | None = None


class MetricsLine(Record):
    """One generation of metrics.jsonl; keys in this order (the order of the file)."""

    VERSION_IN_FILE: ClassVar[bool] = False  # version 1 lines carry no key (see module doc)
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("initial", "validation", "event")

    generation: int
    restart: int
    popsize: int
    evaluations: int
    best: float
    median: float
    worst: float
    best_so_far: float
    accuracy_median: float | None
    sigma: float
    diverged: int
    diverged_genomes: int
    initial: InitialScores | None = None  # generation 0 only
    validation: Validation | None = None  # every report.validate_every and the last
    event: str | None = None  # a pycma stop or a restart
    seconds: float
    elapsed: float


# ---- result.json -----------------------------------------------------------------------

class RunResult(Record):
    """Why and when a run stopped (result.json)."""

    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("initial",)

    stop_reason: str | None
    generations: int
    evaluations: int
    restarts: int
    best_fitness: float | None
    best_generation: int
    elapsed_seconds: float
    initial: InitialScores | None = None

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if data.get("initial") == {}:  # a run that never scored its initial genome
            data["initial"] = None
        return data


# ---- the checkpoint's run state --------------------------------------------------------

class RunState(Record):
    """What the driver carries between generations (pycma's own state is pickled apart).

    Stored in the checkpoint as :meth:`to_dict` (plain values and arrays), never as a
    pickled class, so that moving this class does not orphan checkpoints.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    initial_genome: np.ndarray
    mask: np.ndarray
    popsize: int
    sigma0: float
    generation: int = 0  # generations completed, over all restarts
    evaluations: int = 0
    restart: int = 0  # restarts done
    best_fitness: float = math.inf
    best_genome: np.ndarray | None = None
    best_generation: int = -1
    elapsed: float = 0.0  # seconds spent in generations, over all sessions
    stop_reason: str | None = None
    initial: InitialScores | None = None
    # BIPOP bookkeeping (Hansen 2009): evaluations per regime and large restarts so far
    large_evaluations: int = 0
    small_evaluations: int = 0
    large_restarts: int = 0
    regime: Literal["large", "small"] = "large"
    mean_genome: np.ndarray | None = None  # pycma's distribution mean, as a full genome

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        if data.get("initial") == {}:  # the previous release kept {} before scoring
            data["initial"] = None
        return data


# ---- run.json --------------------------------------------------------------------------

class Environment(Record):
    """What computed a session of a run: versions, the checkout's commit, the machine."""

    VERSION_IN_FILE: ClassVar[bool] = False

    package: str
    git_commit: str | None = None  # "<sha>" or "<sha>-dirty" when run from a checkout
    python: str
    numpy: str | None = None
    numba: str | None = None
    cma: str | None = None
    platform: str
    cpu: str
    cpu_count: int | None = None


class Session(Record):
    """One start or resume of a run: when, the full command line, from where, on what."""

    VERSION_IN_FILE: ClassVar[bool] = False

    started: str
    action: Literal["start", "resume", "adopt"]
    command: list[str]
    cwd: str
    environment: Environment


class RunInfo(Record):
    """run.json: what a run directory needs to check itself before it is continued (the
    resolved config as it started, and the hash of config.toml now; the input files and
    their hashes) and where its numbers came from (the sessions)."""

    config_sha256: str  # of config.toml as last written by blgnn-es
    config: dict[str, dict[str, Any]]  # the resolved config (Config.to_dict) at the start
    inputs: dict[str, str] = {}  # absolute path -> sha256 of every file the run reads
    sessions: list[Session] = []
